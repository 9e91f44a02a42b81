"""Pages of an organisation: the cross-organisation matrix, roles, members and invitations, catalogs."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from litestar.testing import AsyncTestClient
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from services.api.app import create_app
from services.api.web import i18n
from shared.db import Database
from shared.identity.models import Invitation
from shared.models import Membership
from tests.conftest import REPO, Org, Servers, make_settings
from tests.fixtures.identity import add_person
from tests.web.test_shell import csrf_of, dev_sign_in


@pytest.fixture(scope="module")
def dev_app(servers: Servers, smtp_port: int) -> Any:
    return create_app(make_settings(servers, smtp_port, env="development", dev_signin=True))


@pytest.fixture
async def browser(dev_app: Any) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=dev_app) as client:
        yield client


def org_pages(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) of a page under /o/{slug}, read from the app (sign-in pages are public)."""
    found = []
    for route in app.routes:
        if not route.path.startswith("/o/{slug") or route.path.endswith("/signin"):
            continue
        for method in sorted(getattr(route, "methods", [])):
            if method not in ("HEAD", "OPTIONS"):
                found.append((method, route.path))
    return found


def fill(template: str, slug: str, any_id: uuid.UUID) -> str:
    path = re.sub(r"\{slug(:\w+)?\}", slug, template)
    return re.sub(r"\{\w+(:\w+)?\}", str(any_id), path)


async def test_every_page_of_another_organisation_is_not_found(
    browser: AsyncTestClient[Any], db: Database, org_a: Org, org_b: Org
) -> None:
    await dev_sign_in(browser, org_a, f"owner@{org_a.slug}.example")
    csrf = csrf_of((await browser.get(f"/o/{org_a.slug}")).text)
    async with db.tenant(org_b.id) as session:
        b_member = (await session.execute(select(Membership.id).limit(1))).scalar_one()
    pages = org_pages(browser.app)
    assert len(pages) >= 12, pages
    for method, template in pages:
        for slug in (org_b.slug, "no-such-org"):
            r = await browser.request(
                method,
                fill(template, slug, b_member),
                data={"_csrf": csrf} if method == "POST" else None,
                follow_redirects=False,
            )
            assert r.status_code == 404, (method, template, slug, r.status_code)
            assert "text/html" in r.headers["content-type"]
        # B's ids inside A's pages: not found either.
        if "{" in template.replace("{slug:str}", ""):
            r = await browser.request(
                method,
                fill(template, org_a.slug, b_member),
                data={"_csrf": csrf} if method == "POST" else None,
                follow_redirects=False,
            )
            assert r.status_code in (404, 405), (method, template, r.status_code)
    # B's owner is still there and still owner.
    async with db.tenant(org_b.id) as session:
        assert (await session.get(Membership, (org_b.id, b_member))) is not None


async def test_a_viewer_sees_members_but_may_change_nothing(
    browser: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    viewer = f"vera-{uuid.uuid4().hex[:6]}@{org_a.slug}.example"
    await add_person(db, org_a.id, viewer, "viewer")
    await dev_sign_in(browser, org_a, viewer)
    page = await browser.get(f"/o/{org_a.slug}/members")
    assert page.status_code == 200 and f"owner@{org_a.slug}.example" in page.text
    assert "Einladung senden" not in page.text and "Rolle ändern" not in page.text
    csrf = csrf_of(page.text)
    async with db.tenant(org_a.id) as session:
        owner = (await session.execute(select(Membership.id).where(Membership.role == "owner"))).scalar_one()
    for path, data in [
        (f"/o/{org_a.slug}/invitations", {"email": "x@example.org", "role": "viewer"}),
        (f"/o/{org_a.slug}/members/{owner}/role", {"role": "viewer"}),
        (f"/o/{org_a.slug}/members/{owner}/remove", {}),
        (f"/o/{org_a.slug}/tokens", {"name": "x", "role": "viewer"}),
        (f"/o/{org_a.slug}/settings/signin", {"issuer": "https://x.example", "client_id": "x"}),
    ]:
        r = await browser.post(path, data={"_csrf": csrf, **data}, follow_redirects=False)
        assert r.status_code == 403, (path, r.status_code)
        assert "Nicht erlaubt" in r.text
    for path in ("tokens", "settings", "settings/signin", "audit"):
        assert (await browser.get(f"/o/{org_a.slug}/{path}")).status_code == 403, path
    async with db.tenant(org_a.id) as session:
        assert (await session.execute(select(Invitation))).all() == []
        assert (await session.get(Membership, (org_a.id, owner))).role == "owner"  # type: ignore[union-attr]


async def test_an_admin_invites_changes_a_role_with_htmx_and_the_last_owner_is_kept(
    browser: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    await dev_sign_in(browser, org_a, f"owner@{org_a.slug}.example")
    page = await browser.get(f"/o/{org_a.slug}/members")
    csrf = csrf_of(page.text)
    invitee = f"nina-{uuid.uuid4().hex[:6]}@example.org"
    r = await browser.post(
        f"/o/{org_a.slug}/invitations",
        data={"_csrf": csrf, "email": invitee, "role": "coordinator"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/o/{org_a.slug}/members?sent=1"
    page = await browser.get(r.headers["location"])
    assert invitee in page.text and "Offene Einladungen" in page.text
    assert "Die Einladung ist unterwegs." in page.text
    r = await browser.post(
        f"/o/{org_a.slug}/invitations", data={"_csrf": csrf, "email": "kaputt", "role": "viewer"}
    )
    assert r.status_code == 422 and "keine gültige E-Mail-Adresse" in r.text

    kim = await add_person(db, org_a.id, f"kim-{uuid.uuid4().hex[:6]}@example.org", "viewer")
    r = await browser.post(
        f"/o/{org_a.slug}/members/{kim}/role",
        data={"role": "admin"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert r.status_code == 200 and r.text.lstrip().startswith(f'<tr id="member-{kim}">')
    assert "Gespeichert." in r.text and '<option value="admin" selected>' in r.text
    async with db.tenant(org_a.id) as session:
        owner = (await session.execute(select(Membership.id).where(Membership.role == "owner"))).scalar_one()
    r = await browser.post(
        f"/o/{org_a.slug}/members/{owner}/role",
        data={"role": "viewer"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert "Die letzte Person mit der Rolle Inhaber:in kann nicht herabgestuft werden" in r.text
    audit = await browser.get(f"/o/{org_a.slug}/audit")
    assert "Rolle geändert" in audit.text and "Einladung gesendet" in audit.text
    assert f"owner@{org_a.slug}.example" in audit.text


async def test_the_json_api_accepts_a_signed_in_browser_with_its_csrf_token(
    browser: AsyncTestClient[Any], org_a: Org, org_b: Org
) -> None:
    await dev_sign_in(browser, org_a, f"owner@{org_a.slug}.example")
    csrf = csrf_of((await browser.get(f"/o/{org_a.slug}")).text)
    r = await browser.get(f"/api/v1/orgs/{org_a.slug}/members")
    assert r.status_code == 200 and r.json()["items"]
    body = {"email": f"api-{uuid.uuid4().hex[:6]}@example.org", "role": "viewer"}
    r = await browser.post(f"/api/v1/orgs/{org_a.slug}/invitations", json=body)
    assert r.status_code == 403, "a session's write without the CSRF header is refused"
    r = await browser.post(
        f"/api/v1/orgs/{org_a.slug}/invitations", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 201
    assert (await browser.get(f"/api/v1/orgs/{org_b.slug}/members")).status_code == 404
    # The same for the reads that run without a session (the unfiltered list, one contact).
    assert (await browser.get(f"/api/v1/orgs/{org_a.slug}/contacts")).status_code == 200
    assert (await browser.get(f"/api/v1/orgs/{org_b.slug}/contacts")).status_code == 404
    assert (await browser.get(f"/api/v1/orgs/{org_b.slug}/contacts/{uuid.uuid4()}")).status_code == 404


async def test_a_browser_request_reads_its_user_with_the_membership_in_one_statement(
    browser: AsyncTestClient[Any], org_a: Org
) -> None:
    """A signed-in request used to read its user in a transaction of its own before the
    organisation's: two transactions and an extra round trip on every page and API call."""
    await dev_sign_in(browser, org_a, f"owner@{org_a.slug}.example")
    assert (await browser.get(f"/api/v1/orgs/{org_a.slug}/contacts")).status_code == 200
    sent: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        sent.append(statement)

    def driver_sql(record: Any) -> None:
        sent.append(record.query)

    # The API's unfiltered list reads on the bare driver (no SQLAlchemy statement): listen there too.
    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(driver_sql)

    def checkin(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.driver_connection.remove_query_logger(driver_sql)

    event.listen(Engine, "before_cursor_execute", capture)
    event.listen(Pool, "checkout", checkout)
    event.listen(Pool, "checkin", checkin)
    try:
        for path in (
            f"/api/v1/orgs/{org_a.slug}/contacts",
            f"/api/v1/orgs/{org_a.slug}/contacts?q=a",
            f"/o/{org_a.slug}/contacts",
        ):
            sent.clear()
            r = await browser.get(path)
            assert r.status_code == 200, path
            users = [s for s in sent if "FROM users" in s or "JOIN users" in s]
            assert len(users) == 1 and "memberships" in users[0], (path, users)
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
        event.remove(Pool, "checkout", checkout)
        event.remove(Pool, "checkin", checkin)


def test_every_ui_text_of_the_shell_has_a_german_translation() -> None:
    """The shell's own templates and messages (each domain's pages bring their own catalog file)."""
    web = REPO / "services" / "api"
    method_map = [
        ("web/templates/*.html", "jinja2"),
        ("web/*.py", "python"),
        ("identity/signin.py", "python"),
        ("identity/pages.py", "python"),
    ]
    options = {"web/templates/*.html": {"extensions": "jinja2.ext.i18n"}}
    messages = {
        m[2] if isinstance(m[2], str) else m[2][0]
        for m in extract_from_dir(web, method_map, options_map=options, keywords={"_": None})
    }
    assert len(messages) > 80
    untranslated = [m for m in messages if i18n.gettext("de", m) == m and m not in {"Name", "Organisation"}]
    assert untranslated == []
    assert i18n.gettext("en", "Sign in") == "Sign in"


async def test_an_admin_creates_and_revokes_an_api_token_and_sets_up_the_organisations_sign_in(
    browser: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    await dev_sign_in(browser, org_a, f"owner@{org_a.slug}.example")
    page = await browser.get(f"/o/{org_a.slug}/tokens")
    assert page.status_code == 200 and "API-Schlüssel" in page.text
    csrf = csrf_of(page.text)
    r = await browser.post(
        f"/o/{org_a.slug}/tokens", data={"_csrf": csrf, "name": "Tabellen-Export", "role": "viewer"}
    )
    assert r.status_code == 200
    token = re.search(r'<code class="secret">(codo_[^<]+)</code>', r.text)
    assert token, "the new token is shown once"
    assert (
        await browser.get(f"/api/v1/orgs/{org_a.slug}", headers={"Authorization": f"Bearer {token.group(1)}"})
    ).status_code == 200
    listed = await browser.get(f"/o/{org_a.slug}/tokens")
    assert token.group(1) not in listed.text and "Tabellen-Export" in listed.text
    token_id = re.search(r"Tabellen-Export</td>.*?/tokens/([0-9a-f-]{36})/revoke", listed.text, re.S)
    assert token_id
    r = await browser.post(
        f"/o/{org_a.slug}/tokens/{token_id.group(1)}/revoke", data={"_csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert (
        await browser.get(f"/api/v1/orgs/{org_a.slug}", headers={"Authorization": f"Bearer {token.group(1)}"})
    ).status_code == 401

    form = {
        "_csrf": csrf,
        "label": "Vereins-Login",
        "issuer": "https://login.example/verein",
        "client_id": "codo",
        "client_secret": "geheim-geheim",
        "allowed_domains": "verein.example, @Partner.example",
        "auto_join_role": "viewer",
        "group_claim": "groups",
        "group_roles": "vorstand = admin\nteam = coordinator\n",
    }
    r = await browser.post(f"/o/{org_a.slug}/settings/signin", data=form, follow_redirects=False)
    assert r.status_code == 303
    page = await browser.get(f"/o/{org_a.slug}/settings/signin")
    assert 'value="verein.example, partner.example"' in page.text
    assert "geheim" not in page.text and "leer lassen" in page.text
    assert "vorstand = admin" in page.text
    assert re.search(r'name="email_verified_optional" value="yes">', page.text), "the claim is required"
    r = await browser.post(
        f"/o/{org_a.slug}/settings/signin",
        data={**form, "email_verified_optional": "yes"},
        follow_redirects=False,
    )
    page = await browser.get(f"/o/{org_a.slug}/settings/signin")
    assert 'name="email_verified_optional" value="yes" checked>' in page.text
    assert "ohne den Claim email_verified annehmen" in page.text
    r = await browser.post(f"/o/{org_a.slug}/settings/signin", data={**form, "issuer": "kein-url"})
    assert r.status_code == 422 and "issuer" in r.text
    signin_page = await browser.get(f"/o/{org_a.slug}/signin")
    assert "Anmelden mit Vereins-Login" in signin_page.text


async def test_every_form_post_of_a_session_without_the_csrf_token_is_refused(
    browser: AsyncTestClient[Any], org_a: Org
) -> None:
    await dev_sign_in(browser, org_a, f"owner@{org_a.slug}.example")
    posts = [
        route.path
        for route in browser.app.routes
        if "POST" in getattr(route, "methods", ()) and route.path.startswith(("/o/", "/auth/", "/lang"))
    ]
    assert {"/auth/signout", "/lang", "/auth/dev", "/o/{slug:str}/invitations"} <= set(posts)
    for template in posts:
        path = fill(template, org_a.slug, uuid.uuid4())
        r = await browser.post(path, data={"anything": "x"}, follow_redirects=False)
        assert r.status_code == 403, (template, r.status_code)
    assert (await browser.get(f"/o/{org_a.slug}")).status_code == 200, "still signed in"
