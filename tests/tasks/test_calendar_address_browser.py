"""A coordinator in Chromium replaces their private calendar address: codo's dialog says that the
address in use stops working, "Abbrechen" keeps it, confirming makes the old one dead."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Page, expect

from shared.db import Database
from tests.conftest import Org
from tests.fixtures.tasks import add_member

pytestmark = pytest.mark.slow


async def test_replacing_the_calendar_address_asks_first_and_the_old_one_stops(
    dev_server: str, chromium_page: Page, db: Database, org_a: Org
) -> None:
    page, base = chromium_page, dev_server
    coordinator = await add_member(db, org_a)
    await page.goto(f"{base}/o/{org_a.slug}/signin")
    await page.select_option("#dev-member", str(coordinator.id))
    await page.get_by_role("button", name="Als dieses Mitglied anmelden").click()
    await page.goto(f"{base}/o/{org_a.slug}/notifications")

    # Nothing to lose yet: the first address is made without a question.
    await expect(page.get_by_role("button", name="Kalenderadresse ersetzen")).to_have_count(0)
    await page.get_by_role("button", name="Kalenderadresse erzeugen").click()
    first = (await page.locator("#feed-url").inner_text()).strip()

    async def opens(url: str) -> int:
        async with httpx.AsyncClient() as http:
            return (await http.get(base + url[url.index("/calendar/") :])).status_code

    assert await opens(first) == 200

    await page.get_by_role("button", name="Kalenderadresse ersetzen").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Die bisherige Adresse funktioniert dann nicht mehr")
    await dialog.get_by_role("button", name="Abbrechen").click()
    await expect(dialog).to_be_hidden()
    assert await opens(first) == 200

    await page.get_by_role("button", name="Kalenderadresse ersetzen").click()
    await dialog.get_by_role("button", name="Kalenderadresse ersetzen").click()
    await expect(page.locator("#feed-url")).not_to_have_text(first)
    second = (await page.locator("#feed-url").inner_text()).strip()
    assert await opens(first) == 404
    assert await opens(second) == 200
