"""The web app's shell: development sign-in, the layout, language, CSRF and the organisation switcher."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from services.api.app import create_app
from shared.db import Database
from shared.identity.members import SYSTEM_ACTOR, add_membership
from shared.identity.sessions import COOKIE
from shared.models import Membership
from shared.permissions import Role
from shared.settings import SettingsError
from tests.conftest import Org, Servers, make_settings
from tests.fixtures.identity import add_person


def csrf_of(html: str) -> str:
    match = re.search(r'name="_csrf" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


@pytest.fixture(scope="module")
def dev_app(servers: Servers, smtp_port: int) -> Any:
    return create_app(make_settings(servers, smtp_port, env="development", dev_signin=True))


@pytest.fixture
async def dev(dev_app: Any) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=dev_app) as client:
        yield client


async def dev_sign_in(client: AsyncTestClient[Any], org: Org, email: str) -> None:
    page = await client.get(f"/o/{org.slug}/signin")
    assert page.status_code == 200
    option = re.search(r'<option value="([0-9a-f-]{36})">[^<]*' + re.escape(email), page.text)
    assert option, page.text
    r = await client.post(
        "/auth/dev",
        data={"_csrf": csrf_of(page.text), "org": org.slug, "member": option.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/o/{org.slug}"


def test_development_sign_in_is_refused_outside_development(servers: Servers, smtp_port: int) -> None:
    for env in ("test", "production"):
        with pytest.raises(SettingsError, match="CODO_DEV_SIGNIN"):
            create_app(make_settings(servers, smtp_port, env=env, dev_signin=True, secret_key="x" * 40))


async def test_production_refuses_to_start_without_a_secret_key(servers: Servers, smtp_port: int) -> None:
    with pytest.raises(SettingsError, match="CODO_SECRET_KEY"):
        create_app(make_settings(servers, smtp_port, env="production"))


async def test_a_member_signs_in_sees_the_layout_in_german_and_switches_to_english(
    dev: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    await add_person(db, org_a.id, f"kim@{org_a.slug}.example", "coordinator")
    r = await dev.get(f"/o/{org_a.slug}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/o/{org_a.slug}/signin")
    before = dev.cookies.get(COOKIE)
    await dev_sign_in(dev, org_a, f"kim@{org_a.slug}.example")
    assert dev.cookies.get(COOKIE) != before, "signing in must give the session a new id"
    home = await dev.get(f"/o/{org_a.slug}")
    assert home.status_code == 200
    assert f"Verein {org_a.slug}" in home.text
    for german in ("Kontakte", "Vermittlung", "Aufgaben", "Berichte", "Mitglieder"):
        assert german in home.text
    # Settings are for admins: a coordinator is not shown a door that refuses them.
    assert "Einstellungen" not in home.text
    assert f'href="/o/{org_a.slug}/contacts"' in home.text
    assert '<html lang="de"' in home.text
    r = await dev.post(
        "/lang",
        data={"_csrf": csrf_of(home.text), "locale": "en", "next": f"/o/{org_a.slug}"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/o/{org_a.slug}"
    home = await dev.get(f"/o/{org_a.slug}")
    assert '<html lang="en"' in home.text and "Contacts" in home.text and "Kontakte" not in home.text


async def test_a_form_post_without_the_csrf_token_is_refused(
    dev: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    page = await dev.get(f"/o/{org_a.slug}/signin")
    member = re.search(r'<option value="([0-9a-f-]{36})"', page.text)
    assert member
    r = await dev.post("/auth/dev", data={"org": org_a.slug, "member": member.group(1)})
    assert r.status_code == 403
    assert "text/html" in r.headers["content-type"]
    r = await dev.post("/auth/dev", data={"_csrf": "forged", "org": org_a.slug, "member": member.group(1)})
    assert r.status_code == 403
    assert (await dev.get(f"/o/{org_a.slug}", follow_redirects=False)).status_code == 303, "not signed in"


async def test_a_person_in_two_organisations_switches_and_each_request_acts_in_one(
    dev: AsyncTestClient[Any], db: Database, org_a: Org, org_b: Org
) -> None:
    email = f"both-{org_a.slug}@example.org"
    membership_id = await add_person(db, org_a.id, email, "admin")
    async with db.tenant(org_a.id) as session:
        user_id = (await session.get(Membership, (org_a.id, membership_id))).user_id  # type: ignore[union-attr]
    async with db.tenant(org_b.id) as session:
        await add_membership(
            session,
            org_b.id,
            user_id,
            Role.VIEWER,
            SYSTEM_ACTOR,
            email,
        )
    await dev_sign_in(dev, org_a, email)
    home = await dev.get(f"/o/{org_a.slug}")
    assert f"Verein {org_b.slug}" in home.text, "the switcher lists the other organisation"
    r = await dev.get("/switch", params={"org": org_b.slug}, follow_redirects=False)
    assert r.headers["location"] == f"/o/{org_b.slug}"
    other = await dev.get(f"/o/{org_b.slug}/members")
    assert other.status_code == 200 and "Lesezugriff" in other.text
    # In B the same person is a viewer: no invitation form there, but there is one in A.
    assert 'name="email"' not in other.text
    assert 'name="email"' in (await dev.get(f"/o/{org_a.slug}/members")).text


async def test_signing_out_ends_the_session(dev: AsyncTestClient[Any], org_a: Org) -> None:
    await dev_sign_in(dev, org_a, f"owner@{org_a.slug}.example")
    old = dev.cookies.get(COOKIE)
    home = await dev.get(f"/o/{org_a.slug}")
    assert "Abmelden" in home.text
    r = await dev.post("/auth/signout", data={"_csrf": csrf_of(home.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    assert "codo_session=" in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
    # Even the old cookie, replayed, no longer opens anything.
    dev.cookies.set(COOKIE, old or "")
    assert (await dev.get(f"/o/{org_a.slug}", follow_redirects=False)).status_code == 303
    assert (await dev.get(f"/api/v1/orgs/{org_a.slug}/members")).status_code == 401
