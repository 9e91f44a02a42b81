"""What the API keeps per process between requests never outlives a change, nor crosses organisations.

Tokens found usable are cached for a few seconds and organisations by slug for longer; a change
made through codo is seen by the very next request, a change made elsewhere (another process,
another replica) once the entry expires, and one organisation's entry never answers another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from shared import tokens
from shared.db import Database, plain_url
from shared.models import ApiToken
from shared.permissions import Role
from tests.conftest import Org, Servers

API = "/api/v1/orgs"


@pytest.fixture
def short_token_cache() -> Iterator[None]:
    ttl = tokens._USABLE.ttl
    tokens._USABLE.ttl = 0.5
    try:
        yield
    finally:
        tokens._USABLE.ttl = ttl


async def test_a_token_revoked_through_the_api_is_refused_by_the_next_request(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    made = await client.post(
        f"{API}/{org_a.slug}/tokens", json={"name": "Sync", "role": "viewer"}, headers=org_a.auth()
    )
    secret, token_id = made.json()["token"], made.json()["id"]
    viewer = {"Authorization": f"Bearer {secret}"}
    for _ in range(3):  # found once, then answered from the cache
        assert (await client.get(f"{API}/{org_a.slug}/contacts", headers=viewer)).status_code == 200
    assert (
        await client.delete(f"{API}/{org_a.slug}/tokens/{token_id}", headers=org_a.auth())
    ).status_code == 204
    r = await client.get(f"{API}/{org_a.slug}/contacts", headers=viewer)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


async def test_a_token_revoked_elsewhere_is_refused_once_its_entry_expires(
    client: AsyncTestClient[Any], db: Database, org_a: Org, short_token_cache: None
) -> None:
    viewer = org_a.auth(Role.VIEWER)
    assert (await client.get(f"{API}/{org_a.slug}/contacts", headers=viewer)).status_code == 200
    # As another process or replica would: straight in the database, this process's cache untold.
    async with db.tenant(org_a.id) as session:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == tokens.digest(org_a.tokens[Role.VIEWER]))
            .values(revoked_at=datetime.now(UTC))
        )
    await asyncio.sleep(0.6)
    r = await client.get(f"{API}/{org_a.slug}/contacts", headers=viewer)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


async def test_a_cached_token_is_refused_the_moment_it_expires(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
    made = await client.post(
        f"{API}/{org_a.slug}/tokens",
        json={"name": "Kurz", "role": "viewer", "expires_at": soon},
        headers=org_a.auth(),
    )
    assert made.status_code == 201
    short = {"Authorization": f"Bearer {made.json()['token']}"}
    assert (await client.get(f"{API}/{org_a.slug}/contacts", headers=short)).status_code == 200
    await asyncio.sleep(1.6)
    r = await client.get(f"{API}/{org_a.slug}/contacts", headers=short)
    assert r.status_code == 401 and "expired" in r.json()["detail"]


async def test_a_cached_token_and_organisation_never_answer_for_another_organisation(
    client: AsyncTestClient[Any], org_a: Org, org_b: Org
) -> None:
    created = await client.post(
        f"{API}/{org_b.slug}/contacts",
        json={"kinds": ["mentor"], "first_name": "Bea", "last_name": "Beispiel"},
        headers=org_b.auth(),
    )
    assert created.status_code == 201
    # Both organisations and both tokens are in the caches now.
    assert (await client.get(f"{API}/{org_a.slug}/contacts", headers=org_a.auth())).status_code == 200
    assert (await client.get(f"{API}/{org_b.slug}/contacts", headers=org_b.auth())).status_code == 200
    for _ in range(2):
        crossed = await client.get(f"{API}/{org_b.slug}/contacts", headers=org_a.auth())
        assert crossed.status_code == 404 and "Bea" not in crossed.text
        theirs = await client.get(f"{API}/{org_a.slug}/contacts/{created.json()['id']}", headers=org_a.auth())
        assert theirs.status_code == 404
    listed = (await client.get(f"{API}/{org_a.slug}/contacts", headers=org_a.auth())).json()["items"]
    assert "Bea" not in [c["first_name"] for c in listed]


async def test_a_new_custom_field_shows_in_the_next_request(client: AsyncTestClient[Any], org_a: Org) -> None:
    person = await client.post(
        f"{API}/{org_a.slug}/contacts",
        json={"kinds": ["mentee"], "first_name": "Ida", "last_name": "Ist"},
        headers=org_a.auth(),
    )
    url = f"{API}/{org_a.slug}/contacts/{person.json()['id']}"
    assert (await client.get(url, headers=org_a.auth())).json()["custom"] == {}
    field = await client.post(
        f"{API}/{org_a.slug}/contacts/fields",
        json={"key": "schuhgroesse", "label_de": "Schuhgröße", "label_en": "Shoe size", "type": "text"},
        headers=org_a.auth(),
    )
    assert field.status_code == 201, field.text
    changed = await client.patch(url, json={"custom": {"schuhgroesse": "38"}}, headers=org_a.auth())
    assert changed.status_code == 200, changed.text
    assert (await client.get(url, headers=org_a.auth())).json()["custom"] == {"schuhgroesse": "38"}
    listed = (await client.get(f"{API}/{org_a.slug}/contacts", headers=org_a.auth())).json()["items"]
    assert [c["custom"] for c in listed] == [{"schuhgroesse": "38"}]


async def test_requests_answer_after_the_server_closed_every_pooled_connection(
    client: AsyncTestClient[Any], servers: Servers, org_a: Org
) -> None:
    url = f"{API}/{org_a.slug}/contacts"
    for _ in range(5):  # fill the pool with idle connections
        assert (await client.get(url, headers=org_a.auth())).status_code == 200
    superuser = await asyncpg.connect(plain_url(servers.superuser_url))
    try:
        killed = await superuser.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'codo' AND pid <> pg_backend_pid()"
        )
    finally:
        await superuser.close()
    assert killed > 0
    # Straight away, before the pool could have noticed: no pre-ping, the first statement finds out.
    for _ in range(5):
        r = await client.get(url, headers=org_a.auth())
        assert r.status_code == 200, r.text
