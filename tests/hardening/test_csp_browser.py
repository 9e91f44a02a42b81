"""Under the Content-Security-Policy (no inline script or style) the pages still behave: a real
Chromium reports no blocked resource, the timeline form empties itself after saving and removing
a member still asks first."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import ConsoleMessage, Page, expect

from shared.db import Database
from tests.conftest import Org
from tests.fixtures.tasks import add_member

pytestmark = pytest.mark.slow


async def test_pages_work_under_the_content_security_policy(
    dev_server: str, chromium_page: Page, db: Database, org_a: Org
) -> None:
    base, page = dev_server, chromium_page
    blocked: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            blocked.append(message.text)

    page.on("console", on_console)
    async with httpx.AsyncClient() as http:
        r = await http.post(
            f"{base}/api/v1/orgs/{org_a.slug}/contacts",
            json={"kinds": ["mentee"], "first_name": "Clara", "last_name": "Sicher"},
            headers=org_a.auth(),
        )
    contact_id = r.json()["id"]
    admin = await add_member(db, org_a, role="admin")
    other = await add_member(db, org_a)

    await page.goto(f"{base}/o/{org_a.slug}/signin")
    await page.select_option("#dev-member", str(admin.id))
    await page.get_by_role("button", name="Als dieses Mitglied anmelden").click()

    await page.goto(f"{base}/o/{org_a.slug}/contacts/{contact_id}")
    await expect(page.locator("#timeline-empty")).to_be_visible()
    await page.locator("#activity-body").fill("Erstes Gespräch geführt")
    await page.get_by_role("button", name="Eintragen").click()
    await expect(page.locator("#timeline-entries")).to_contain_text("Erstes Gespräch geführt")
    await expect(page.locator("#activity-body")).to_have_value("")
    await expect(page.locator("#timeline-empty")).to_have_count(0)

    await page.goto(f"{base}/o/{org_a.slug}/members")
    remove = page.get_by_role("button", name=f"{other.email} entfernen")
    await remove.click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text(f"{other.email} verliert sofort den Zugang")
    await dialog.get_by_role("button", name="Abbrechen").click()
    await expect(dialog).to_be_hidden()
    await expect(remove).to_be_visible()

    for path in ("matching", "calendar", "contacts"):
        await page.goto(f"{base}/o/{org_a.slug}/{path}")
        await expect(page.locator("main")).to_be_visible()
    assert blocked == []


async def test_the_api_reference_comes_from_codo_itself(dev_server: str, chromium_page: Page) -> None:
    base, page = dev_server, chromium_page
    blocked: list[str] = []
    foreign: list[str] = []
    page.on(
        "console",
        lambda m: (
            blocked.append(m.text) if "Content Security Policy" in m.text or "Refused to" in m.text else None
        ),
    )
    page.on(
        "request",
        lambda r: None if r.url.startswith(base) or r.url.startswith("data:") else foreign.append(r.url),
    )
    await page.goto(f"{base}/schema")
    # The viewer drew the document: the API's title and an operation of it are on the page.
    await expect(page.get_by_text("codo API").first).to_be_visible(timeout=20_000)
    await expect(page.get_by_text("/api/v1/orgs/{slug}/contacts").first).to_be_attached(timeout=20_000)
    assert blocked == [] and foreign == []
