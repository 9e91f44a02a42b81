"""A real browser (the machine's Chromium, headless) signs in through the provider, switches the
language, invites a member and changes a role, on a real server over loopback."""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from sqlalchemy import select

from services.api.app import create_app
from shared.db import Database
from shared.identity import members
from shared.identity.models import Invitation
from shared.models import Membership, Organization
from shared.settings import Settings
from tests.conftest import Org, Servers, make_settings
from tests.fixtures.identity import OidcProvider, add_person, platform_providers_json

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def server_settings(servers: Servers, smtp_port: int, web_port: int, oidc_provider: OidcProvider) -> Settings:
    return make_settings(
        servers,
        smtp_port,
        public_url=f"http://127.0.0.1:{web_port}",
        oidc_providers=platform_providers_json(oidc_provider.issuer),
        # The test provider listens on loopback, which sign-in refuses unless allowed.
        oidc_allow_private_networks=True,
        signin_attempts_per_minute=1000,
    )


@pytest.fixture(scope="module")
def live_server(server_settings: Settings, web_port: int) -> Iterator[str]:
    config = uvicorn.Config(
        create_app(server_settings), host="127.0.0.1", port=web_port, log_config=None, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.05)
    assert server.started, "the server did not start"
    yield f"http://127.0.0.1:{web_port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
async def page(live_server: str) -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("the browser test needs Chromium at /usr/bin/chromium", pytrace=False)
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="de-DE")

        async def loopback_only(route: Any) -> None:
            # Only this machine: the provider's dev pages would fetch web fonts from the internet.
            host = urlsplit(route.request.url).hostname
            await (route.continue_() if host in ("127.0.0.1", "localhost") else route.abort())

        await context.route("**/*", loopback_only)
        tab = await context.new_page()
        tab.set_default_timeout(15_000)
        yield tab
        await context.close()
        await browser.close()


async def test_sign_in_switch_language_invite_and_change_a_role(
    page: Any, live_server: str, db: Database, server_settings: Settings, org_a: Org, tmp_path: Path
) -> None:
    shots = tmp_path
    boss = f"boss-{uuid.uuid4().hex[:6]}@example.org"
    async with db.tenant(org_a.id) as session:
        org = await session.get(Organization, org_a.id)
        assert org is not None
        invitation = await members.invite(
            session, server_settings, org, members.SYSTEM_ACTOR, email=boss, role="admin"
        )
    kim_email = f"kim-{uuid.uuid4().hex[:6]}@example.org"
    kim = await add_person(db, org_a.id, kim_email, "viewer")

    # The invitation link, the provider's login form, and back: signed in, in German.
    await page.goto(invitation.link)
    await page.get_by_role("link", name="Anmelden mit Test-IdP").click()
    await page.locator('input[name="login"]').fill(boss)
    await page.locator('input[name="password"]').fill("any")
    await page.locator('button[type="submit"], [type="submit"]').first.click()
    await page.wait_for_url(f"{live_server}/o/{org_a.slug}")
    assert await page.locator("html").get_attribute("lang") == "de"
    nav = page.get_by_role("navigation", name="Hauptnavigation")
    assert await nav.get_by_role("link", name="Mitglieder").is_visible()

    # Switch to English with the keyboard-usable form in the header.
    await page.get_by_label("Sprache").select_option("en")
    await page.get_by_role("button", name="Sprache ändern").click()
    await page.wait_for_load_state()
    assert await page.locator("html").get_attribute("lang") == "en"
    await page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Members").click()
    await page.wait_for_url(f"{live_server}/o/{org_a.slug}/members")

    # Invite a member.
    invitee = f"neu-{uuid.uuid4().hex[:6]}@example.org"
    await page.get_by_label("E-mail address").fill(invitee)
    await page.get_by_label("Role", exact=True).select_option("coordinator")
    await page.get_by_role("button", name="Send invitation").click()
    await page.wait_for_url(f"{live_server}/o/{org_a.slug}/members?sent=1")
    assert await page.get_by_role("cell", name=invitee).is_visible()

    # Change Kim's role in place (htmx swaps the row).
    await page.get_by_label(f"Role of {kim_email}").select_option("coordinator")
    row = page.locator(f"#member-{kim}")
    await row.get_by_role("button", name="Change role").click()
    await row.get_by_text("Saved.").wait_for()
    # The owner outranks this admin: shown, but not offered for change.
    owner_row = page.locator("tr", has_text=f"owner@{org_a.slug}.example")
    assert await owner_row.get_by_role("button").count() == 0
    await page.screenshot(path=str(shots / "members-1366.png"))
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(shots / "members-phone.png"), full_page=True)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "nothing overflows sideways on a phone"

    async with db.tenant(org_a.id) as session:
        role = (await session.execute(select(Membership.role).where(Membership.id == kim))).scalar_one()
        invited = (
            await session.execute(select(Invitation.role).where(Invitation.email == invitee))
        ).scalar_one()
    assert role == "coordinator" and invited == "coordinator"
