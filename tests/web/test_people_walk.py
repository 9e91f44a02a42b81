"""A coordinator's walk through events, preparation, contacts and the matching board in Chromium,
on a phone (390x844) and a laptop (1366x900): nothing scrolls sideways, the board with sixty
waiting mentees stays short, and the irreversible steps ask first. Screenshots of each page go to
$CODO_SCREENSHOTS (or the test's temporary folder) for a person to look at."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from shared.db import Database
from tests.conftest import Org
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.tasks import add_member

pytestmark = pytest.mark.slow

VIEWPORTS = {"phone": (390, 844), "laptop": (1366, 900)}


async def api(base: str, org: Org, method: str, path: str, body: object) -> dict[str, object]:
    async with httpx.AsyncClient() as http:
        r = await http.request(method, f"{base}/api/v1/orgs/{org.slug}{path}", json=body, headers=org.auth())
    assert r.status_code in (200, 201), r.text
    made: dict[str, object] = r.json()
    return made


async def no_sideways_scroll(page: Page, where: str) -> None:
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{where} scrolls sideways by {overflow}px"


async def shot(page: Page, folder: Path, name: str) -> None:
    await page.screenshot(path=folder / f"{name}.png", full_page=True)


async def walk(
    browser: Browser, base: str, org: Org, member: str, ids: dict[str, str], size: str, folder: Path
) -> int:
    width, height = VIEWPORTS[size]
    context = await browser.new_context(viewport={"width": width, "height": height}, locale="de-DE")
    page = await context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    await page.goto(f"{base}/o/{org.slug}/signin")
    await page.select_option("#dev-member", member)
    await page.get_by_role("button", name="Als dieses Mitglied anmelden").click()

    await page.goto(f"{base}/o/{org.slug}/matching")
    await expect(page.get_by_role("heading", name="Wartende Mentees (60)")).to_be_visible()
    await no_sideways_scroll(page, f"board ({size})")
    board_height = int(await page.evaluate("document.documentElement.scrollHeight"))
    await shot(page, folder, f"{size}-board")
    await page.locator("#board-language").select_option("ar")
    await page.get_by_label("PLZ-Bereich").fill("10")
    await page.get_by_role("button", name="Anzeigen").click()
    await expect(page.get_by_role("heading", name="Wartende Mentees (10 von 60)")).to_be_visible()
    await shot(page, folder, f"{size}-board-filtered")

    event = f"{base}/o/{org.slug}/intake/events/{ids['event']}"
    await page.goto(event)
    await page.get_by_label("Suche").fill("Kind0")
    await page.get_by_role("button", name="Suchen", exact=True).click()
    await page.get_by_label("Kind01 Test").check()
    await page.get_by_role("button", name="Angekreuzte Personen einladen").click()
    await expect(page.get_by_role("status")).to_have_text("Die Einladungen sind unterwegs.")
    await expect(page.locator("#counts")).to_contain_text("Eingeladen: 1")
    await no_sideways_scroll(page, f"event ({size})")
    await shot(page, folder, f"{size}-event")
    await page.get_by_role("button", name="Von der Liste nehmen").click()
    # codo's dialog asks first and names who is taken off.
    await page.get_by_role("dialog").get_by_role("button", name="Von der Liste nehmen").click()
    await expect(page.get_by_role("status")).to_have_text("Von der Liste genommen.")

    await page.goto(f"{base}/o/{org.slug}/contacts/{ids['child']}")
    await no_sideways_scroll(page, f"contact ({size})")
    await page.get_by_text("Erziehungsberechtigte, Kind oder Ansprechperson verknüpfen").click()
    await page.get_by_label("Die andere Person suchen").fill("Maria")
    await page.get_by_role("button", name="Suchen", exact=True).click()
    await page.get_by_role("button", name="Verknüpfung speichern").click()
    await expect(page.get_by_text("Die Verknüpfung ist gespeichert.")).to_be_visible()
    await expect(page.locator("#person-links")).to_contain_text("Vorbereitungs-Checkliste")
    await shot(page, folder, f"{size}-contact")
    await page.get_by_role("button", name="Verknüpfung entfernen").click()
    await page.get_by_role("dialog").get_by_role("button", name="Verknüpfung entfernen").click()
    await expect(page.get_by_text("Die Verknüpfung ist entfernt.")).to_be_visible()

    await page.get_by_role("link", name="Vorbereitungs-Checkliste").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Vorbereitung")
    await no_sideways_scroll(page, f"checklist ({size})")
    await shot(page, folder, f"{size}-checklist")

    await page.goto(f"{base}/o/{org.slug}/intake/steps")
    await expect(page.get_by_role("heading", name="Lesepaten")).to_be_visible()
    await no_sideways_scroll(page, f"steps ({size})")
    await shot(page, folder, f"{size}-steps")
    await context.close()
    return board_height


async def test_a_coordinator_walks_events_people_and_the_board_on_a_phone_and_a_laptop(
    dev_server: str, db: Database, org_a: Org, tmp_path: Path
) -> None:
    base = dev_server
    folder = Path(os.environ.get("CODO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    programme = str((await api(base, org_a, "POST", "/contacts/programmes", {"name": "Lesepaten"}))["id"])
    await api(base, org_a, "POST", "/screening/steps/defaults", {"programme_id": programme})
    for i in range(60):
        await api(base, org_a, "POST", "/contacts", {
            "kinds": ["mentee"], "first_name": f"Kind{i:02d}", "last_name": "Test", "status": "ready",
            "languages": [["ar", "uk", "de"][i % 3]], "postal_code": f"1{i % 2}{i:03d}",
        })  # fmt: skip
    await api(base, org_a, "POST", "/contacts", {
        "kinds": ["mentor"], "first_name": "Hanna", "last_name": "Beispiel", "status": "ready",
        "languages": ["ar"],
    })  # fmt: skip
    maria = await api(
        base,
        org_a,
        "POST",
        "/contacts",
        {"kinds": ["guardian"], "first_name": "Maria", "last_name": "Muster"},
    )
    child = await api(base, org_a, "POST", "/contacts", {
        "kinds": ["mentee"], "first_name": "Lina", "last_name": "Muster", "programme_ids": [programme],
    })  # fmt: skip
    event = await api(base, org_a, "POST", "/events", {
        "kind": "workshop", "title": "Auftaktabend mit allen neuen Pat:innen",
        "starts_at": "2026-12-03T18:00:00+01:00",
    })  # fmt: skip
    assert maria["id"]
    ids = {"event": str(event["id"]), "child": str(child["id"])}
    coordinator = str((await add_member(db, org_a)).id)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            heights = {
                size: await walk(browser, base, org_a, coordinator, ids, size, folder) for size in VIEWPORTS
            }
        finally:
            await browser.close()
        admin = str((await add_member(db, org_a, role="admin")).id)
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for size, (width, height) in VIEWPORTS.items():
                context = await browser.new_context(
                    viewport={"width": width, "height": height}, locale="de-DE"
                )
                page = await context.new_page()
                page.on("dialog", lambda dialog: dialog.accept())
                await page.goto(f"{base}/o/{org_a.slug}/signin")
                await page.select_option("#dev-member", admin)
                await page.get_by_role("button", name="Als dieses Mitglied anmelden").click()
                await page.goto(f"{base}/o/{org_a.slug}/intake/steps")
                await page.get_by_text("Ändern", exact=True).first.click()
                await no_sideways_scroll(page, f"steps as admin ({size})")
                await shot(page, folder, f"{size}-steps-admin")
                await context.close()
            # The admin removes the references step; the confirmation is accepted.
            context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="de-DE")
            page = await context.new_page()
            await page.goto(f"{base}/o/{org_a.slug}/signin")
            await page.select_option("#dev-member", admin)
            await page.get_by_role("button", name="Als dieses Mitglied anmelden").click()
            await page.goto(f"{base}/o/{org_a.slug}/intake/steps")
            references = page.locator("article", has=page.locator("header", has_text="Referenzen"))
            await references.get_by_role("button", name="Schritt entfernen").click()
            dialog = page.get_by_role("dialog")
            await expect(dialog).to_contain_text("Referenzen")
            await expect(dialog).to_contain_text("mit allen Einträgen")
            await dialog.get_by_role("button", name="Schritt entfernen").click()
            await expect(page.get_by_text("Gespeichert.")).to_be_visible()
            await expect(page.locator("article header", has_text="Referenzen")).to_have_count(0)
        finally:
            await browser.close()
    print(f"board height with 60 waiting mentees: {heights}")
    assert heights["laptop"] < 2500, "twenty per page keep the board short"
