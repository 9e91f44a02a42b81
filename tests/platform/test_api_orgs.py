"""The organisation API over HTTP: authentication, roles, the cross-organisation matrix, problems."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import update

from shared import organizations
from shared.db import Database
from shared.models import ApiToken
from shared.permissions import Role
from shared.tokens import digest
from tests.conftest import Org

API = "/api/v1/orgs"


def org_routes(client: AsyncTestClient[Any]) -> list[tuple[str, str]]:
    """Every (method, path template) under /api/v1/orgs/{slug}, read from the app itself."""
    routes = []
    for route in client.app.routes:
        if not route.path.startswith(API + "/{slug"):
            continue
        for method in sorted(getattr(route, "methods", [])):
            if method not in ("HEAD", "OPTIONS"):
                routes.append((method, route.path))
    return routes


def fill(template: str, slug: str, any_id: uuid.UUID) -> str:
    path = re.sub(r"\{slug(:\w+)?\}", slug, template)
    return re.sub(r"\{\w+(:\w+)?\}", str(any_id), path)


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


async def test_the_organisation_and_its_members(client: AsyncTestClient[Any], org_a: Org) -> None:
    r = await client.get(f"{API}/{org_a.slug}", headers=org_a.auth(Role.VIEWER))
    assert r.status_code == 200
    assert r.json()["slug"] == org_a.slug and r.json()["id"] == str(org_a.id)
    r = await client.get(f"{API}/{org_a.slug}/members", headers=org_a.auth(Role.VIEWER))
    assert r.status_code == 200
    assert [m["email"] for m in r.json()["items"]] == [f"owner@{org_a.slug}.example"]


async def test_members_are_paginated_without_gaps_or_repeats(
    client: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    async with db.tenant(org_a.id) as session:
        for i in range(6):
            await organizations.add_member(session, org_a.id, f"m{i}@{org_a.slug}.example", "coordinator")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        r = await client.get(f"{API}/{org_a.slug}/members", params=params, headers=org_a.auth())
        assert r.status_code == 200
        seen += [m["email"] for m in r.json()["items"]]
        pages += 1
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7
    r = await client.get(
        f"{API}/{org_a.slug}/members", params={"cursor": "not-a-cursor!"}, headers=org_a.auth()
    )
    assert r.status_code == 422 and r.json()["field"] == "cursor"
    r = await client.get(f"{API}/{org_a.slug}/members", params={"limit": 1000}, headers=org_a.auth())
    assert r.status_code == 400 and r.json()["field"] == "limit"


async def test_cross_organisation_matrix_answers_404_like_a_missing_organisation(
    client: AsyncTestClient[Any], db: Database, org_a: Org, org_b: Org
) -> None:
    async with db.tenant(org_b.id) as session:
        b_token_id = (await session.execute(ApiToken.__table__.select().limit(1))).first().id  # type: ignore[union-attr]
    routes = org_routes(client)
    assert len(routes) >= 5, routes
    for method, template in routes:
        # An empty body: the organisation is checked before the body, so this must still be a 404.
        body = {} if method in ("POST", "PATCH", "PUT") else None
        foreign = await client.request(
            method, fill(template, org_b.slug, b_token_id), json=body, headers=org_a.auth(Role.OWNER)
        )
        missing = await client.request(
            method, fill(template, "no-such-org", b_token_id), json=body, headers=org_a.auth(Role.OWNER)
        )
        assert foreign.status_code == 404, (method, template, foreign.text)
        assert foreign.headers["content-type"] == "application/problem+json"
        assert without_request_id(foreign.json()) == without_request_id(missing.json()) | {
            "detail": f"no organisation '{org_b.slug}'",
            "params": {"slug": org_b.slug},
        }
        # The slug appears only as the caller's own input echoed back (in detail and params).
        echoed = foreign.text.replace(f"'{org_b.slug}'", "").replace(f'"slug":"{org_b.slug}"', "")
        assert org_b.slug not in echoed
    # B's token ids inside A's URLs: not found either, and B's token still works.
    r = await client.delete(f"{API}/{org_a.slug}/tokens/{b_token_id}", headers=org_a.auth())
    assert r.status_code == 404
    assert (await client.get(f"{API}/{org_b.slug}", headers=org_b.auth())).status_code == 200


async def test_roles_are_checked_after_the_organisation_is_found(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    for role in (Role.VIEWER, Role.COORDINATOR):
        r = await client.get(f"{API}/{org_a.slug}/tokens", headers=org_a.auth(role))
        assert r.status_code == 403, role
        assert r.json()["type"] == "urn:codo:problem:forbidden"
        r = await client.post(
            f"{API}/{org_a.slug}/tokens", json={"name": "x", "role": "viewer"}, headers=org_a.auth(role)
        )
        assert r.status_code == 403
    r = await client.post(
        f"{API}/{org_a.slug}/tokens", json={"name": "x", "role": "owner"}, headers=org_a.auth()
    )
    assert r.status_code == 403, "an admin must not mint an owner token"
    r = await client.post(
        f"{API}/{org_a.slug}/tokens", json={"name": "x", "role": "owner"}, headers=org_a.auth(Role.OWNER)
    )
    assert r.status_code == 201


async def test_a_token_is_shown_once_works_and_can_be_revoked(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    r = await client.post(
        f"{API}/{org_a.slug}/tokens", json={"name": "CRM sync", "role": "viewer"}, headers=org_a.auth()
    )
    assert r.status_code == 201
    created = r.json()
    secret = created["token"]
    assert secret.startswith("codo_") and created["role"] == "viewer"
    listed = (await client.get(f"{API}/{org_a.slug}/tokens", headers=org_a.auth())).json()["items"]
    assert created["id"] in [t["id"] for t in listed]
    assert secret not in str(listed)
    viewer = {"Authorization": f"Bearer {secret}"}
    assert (await client.get(f"{API}/{org_a.slug}", headers=viewer)).status_code == 200
    items = (await client.get(f"{API}/{org_a.slug}/tokens", headers=org_a.auth())).json()["items"]
    used = next(t for t in items if t["id"] == created["id"])
    assert used["last_used_at"] is not None
    # First used on a read that runs without a session (the contacts list): stamped all the same.
    other = (
        await client.post(
            f"{API}/{org_a.slug}/tokens", json={"name": "Export", "role": "viewer"}, headers=org_a.auth()
        )
    ).json()
    listing = await client.get(
        f"{API}/{org_a.slug}/contacts", headers={"Authorization": f"Bearer {other['token']}"}
    )
    assert listing.status_code == 200
    items = (await client.get(f"{API}/{org_a.slug}/tokens", headers=org_a.auth())).json()["items"]
    assert next(t for t in items if t["id"] == other["id"])["last_used_at"] is not None
    r = await client.delete(f"{API}/{org_a.slug}/tokens/{created['id']}", headers=org_a.auth())
    assert r.status_code == 204
    r = await client.get(f"{API}/{org_a.slug}", headers=viewer)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


async def test_expired_missing_and_forged_tokens_get_401(
    client: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    async with db.tenant(org_a.id) as session:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == digest(org_a.tokens[Role.VIEWER]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    r = await client.get(f"{API}/{org_a.slug}", headers=org_a.auth(Role.VIEWER))
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    r = await client.get(f"{API}/{org_a.slug}")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.headers["content-type"] == "application/problem+json"
    forged = org_a.tokens[Role.ADMIN][:-4] + "AAAA"
    r = await client.get(f"{API}/{org_a.slug}", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401
    r = await client.get(f"{API}/no-such-org", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401, "without a valid token nothing tells whether an organisation exists"


async def test_bad_input_gets_a_problem_naming_the_field(client: AsyncTestClient[Any], org_a: Org) -> None:
    url = f"{API}/{org_a.slug}/tokens"
    cases: list[tuple[Any, str]] = [
        ({"name": "x", "role": "boss"}, "role"),
        ({"role": "viewer"}, "name"),
        ({"name": "", "role": "viewer"}, "name"),
        ({"name": "x", "role": "viewer", "expires_at": "yesterday"}, "expires_at"),
        ({"name": "x", "role": "viewer", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ]
    for body, field in cases:
        r = await client.post(url, json=body, headers=org_a.auth())
        assert r.status_code in (400, 422), (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == field, (body, r.json())
    r = await client.post(
        url, content=b"{not json", headers={**org_a.auth(), "content-type": "application/json"}
    )
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    r = await client.delete(f"{url}/not-a-uuid", headers=org_a.auth())
    assert r.status_code in (400, 404) and r.headers["content-type"] == "application/problem+json"


async def test_health_and_openapi(client: AsyncTestClient[Any]) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    r = await client.get("/ready")
    assert r.status_code == 200 and r.json()["checks"] == {"postgres": "ok", "redis": "ok"}
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/orgs/{slug}/tokens" in schema["paths"]
    r = await client.get("/nowhere")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_an_unknown_field_is_named(client: AsyncTestClient[Any], org_a: Org) -> None:
    r = await client.post(
        f"{API}/{org_a.slug}/tokens",
        json={"name": "x", "role": "viewer", "colour": "red"},
        headers=org_a.auth(),
    )
    assert r.status_code == 400 and r.json()["field"] == "colour"


async def test_an_admin_cannot_revoke_an_owners_token_but_an_owner_can(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    url = f"{API}/{org_a.slug}/tokens"
    r = await client.post(url, json={"name": "Vorstand", "role": "owner"}, headers=org_a.auth(Role.OWNER))
    assert r.status_code == 201
    created = r.json()
    owner_token = {"Authorization": f"Bearer {created['token']}"}
    r = await client.delete(f"{url}/{created['id']}", headers=org_a.auth(Role.ADMIN))
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"{API}/{org_a.slug}", headers=owner_token)).status_code == 200
    r = await client.post(url, json={"name": "Admin", "role": "admin"}, headers=org_a.auth(Role.OWNER))
    assert (await client.delete(f"{url}/{r.json()['id']}", headers=org_a.auth(Role.ADMIN))).status_code == 204
    assert (await client.delete(f"{url}/{created['id']}", headers=org_a.auth(Role.OWNER))).status_code == 204
    assert (await client.get(f"{API}/{org_a.slug}", headers=owner_token)).status_code == 401
