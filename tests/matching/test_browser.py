"""A real browser (headless Chromium) against a real server: a match proposed from the board, then
introduced and ended with a reason on its page, after codo's dialog asked."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Page, expect

from shared.db import Database
from tests.conftest import Org
from tests.fixtures.tasks import add_member

pytestmark = pytest.mark.slow


async def person(base: str, org: Org, kind: str, name: str, **profile: object) -> str:
    body = {"kinds": [kind], "first_name": name, "last_name": "Beispiel", "status": "ready", **profile}
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{base}/api/v1/orgs/{org.slug}/contacts", json=body, headers=org.auth())
    assert r.status_code == 201, r.text
    contact_id: str = r.json()["id"]
    return contact_id


async def test_a_coordinator_proposes_a_match_from_the_board_and_ends_it_with_a_reason(
    dev_server: str, chromium_page: Page, db: Database, org_a: Org
) -> None:
    live_server, page = dev_server, chromium_page
    base = live_server
    samira = await person(
        base, org_a, "mentee", "Samira", languages=["ar"], interests=["Malen"], postal_code="10115"
    )
    hanna = await person(
        base, org_a, "mentor", "Hanna", languages=["ar", "de"], interests=["malen"], postal_code="12043"
    )
    await person(base, org_a, "mentor", "Jonas", languages=["de"])
    coordinator = await add_member(db, org_a)

    await page.goto(f"{base}/o/{org_a.slug}/signin")
    await page.select_option("#dev-member", str(coordinator.id))
    await page.get_by_role("button", name="Als dieses Mitglied anmelden").click()
    await page.goto(f"{base}/o/{org_a.slug}/matching")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Matching-Übersicht")

    await page.get_by_role("link", name="Samira Beispiel").click()
    await expect(page.get_by_role("heading", name="Vorschläge für Samira Beispiel")).to_be_visible()
    first = page.locator("li.suggestion").first
    await expect(first).to_contain_text("Hanna Beispiel")
    await expect(first).to_contain_text("beide sprechen Arabisch")
    await expect(first).to_contain_text("7 km entfernt")
    await first.get_by_role("button", name="Hanna Beispiel vorschlagen").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Samira Beispiel & Hanna Beispiel")
    await expect(page.locator("#match-status")).to_have_text("vorgeschlagen")
    await page.get_by_label("Neuer Stand").select_option("introduced")
    await page.get_by_role("button", name="Schritt speichern").click()
    await expect(page.locator("#match-status")).to_have_text("vorgestellt")

    # Ending asks first, in codo's dialog naming the two people; "Abbrechen" leaves the tandem as it was.
    await expect(page.get_by_label("Neuer Stand").locator("option[value=ended]")).to_have_count(0)
    await page.get_by_label("Grund").select_option(label="Umzug")
    await page.get_by_role("button", name="Tandem beenden").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Samira Beispiel und Hanna Beispiel sind dann kein Tandem mehr")
    await dialog.get_by_role("button", name="Abbrechen").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#match-status")).to_have_text("vorgestellt")
    await page.get_by_role("button", name="Tandem beenden").click()
    await dialog.get_by_role("button", name="Tandem beenden").click()
    await expect(page.locator("#match-status")).to_have_text("beendet")
    await expect(page.locator("#match-end")).to_contain_text("Umzug")
    await expect(page.locator("#match-end")).to_contain_text("vorzeitig beendet")
    await expect(page.locator("ol.timeline li").first).to_contain_text("beendet: Umzug")

    async with httpx.AsyncClient() as http:
        r = await http.get(
            f"{base}/api/v1/orgs/{org_a.slug}/matches", params={"contact_id": samira}, headers=org_a.auth()
        )
        [match] = r.json()["items"]
        assert (match["mentor_id"], match["status"], match["end_reason"]["key"]) == (
            hanna,
            "ended",
            "moved_away",
        )
        r = await http.get(f"{base}/api/v1/orgs/{org_a.slug}/contacts/{samira}", headers=org_a.auth())
        assert r.json()["status"] == "alumni"
