"""A coordinator in Chromium, on a phone and on a laptop: a task is changed and deleted, an
appointment gets a contact found by typing and is cancelled; no page of tasks and appointments
scrolls sideways or shows a stored key."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from shared.actor import Actor
from shared.contacts.service import sync_terms
from shared.db import Database
from shared.permissions import Role
from shared.tasks import appointments, tasks
from tests.conftest import Org
from tests.fixtures.tasks import add_member, make_contact, make_match
from tests.tasks.test_pages import today

pytestmark = pytest.mark.slow

SIZES = ((390, 844), (1366, 900))
# What only a stored value or an untranslated text would put on a German page.
LEAKS = re.compile(r"\b(FREQ=|in_person|cancelled|planned|confirmed|None|Delete|Cancel|Save|Edit)\b")


async def signed_in(page: Page, base: str, org: Org, member_id: object) -> None:
    await page.goto(f"{base}/o/{org.slug}/signin")
    await page.select_option("#dev-member", str(member_id))
    await (
        page.get_by_role("button", name="Sign in as this member")
        .or_(page.get_by_role("button", name="Als dieses Mitglied anmelden"))
        .click()
    )
    await page.wait_for_load_state()


async def looked_at(page: Page, shots: Path, name: str) -> None:
    """Each page at both sizes: a screenshot to look at, nothing wider than the screen, no raw keys."""
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        await page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
        scroll = await page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{name} is {scroll}px wide at {width}px"
        words = await page.locator("main").inner_text()
        assert not LEAKS.search(words), (name, LEAKS.search(words))


async def test_a_coordinator_changes_tasks_and_appointments_in_the_browser(
    dev_server: str, chromium_page: object, db: Database, org_a: Org, tmp_path: Path
) -> None:
    page: Page = chromium_page  # type: ignore[assignment]
    shots = Path(os.environ.get("CODO_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    base = dev_server
    ana, ben = await add_member(db, org_a), await add_member(db, org_a)
    async with db.tenant(org_a.id) as session:
        berger = await make_contact(session, org_a.id, kind="guardian")
        berger.last_name = "Berger-Schönfeld"
        others = [await make_contact(session, org_a.id) for _ in range(3)]
        await sync_terms(session, [berger, *others])
        match = await make_match(session, org_a.id, owner=ana.id)
        actor = Actor(role=Role.COORDINATOR, membership_id=ana.id, org_id=org_a.id, slug=org_a.slug)
        now = datetime.now().astimezone()
        weekly = await tasks.create_task(
            session,
            actor,
            tasks.TaskCreate(
                title="Wochenbericht an die Stiftung schreiben und verschicken",
                due_date=today(),
                assignee_id=ana.id,
                recurrence="weekly",
                contact_id=others[0].id,
                match_id=match.id,
                description="Zahlen aus dem Bericht übernehmen.",
            ),
            now,
        )
        monday = today() - timedelta(days=today().weekday())
        meeting = await appointments.create(
            session,
            actor,
            appointments.AppointmentCreate(
                title="Elternabend",
                starts_at=datetime.combine(monday + timedelta(days=2), datetime.min.time()).replace(hour=18),
                ends_at=datetime.combine(monday + timedelta(days=2), datetime.min.time()).replace(hour=20),
                location="Aula der Grundschule",
                member_ids=[ana.id, ben.id],
                contact_ids=[others[1].id],
                match_id=match.id,
            ),
        )
    page.on("dialog", lambda dialog: dialog.accept())
    await signed_in(page, base, org_a, ana.id)

    # A task: everything it is linked to, then changed from its page.
    await page.goto(f"{base}/o/{org_a.slug}/tasks/{weekly.id}")
    await page.get_by_text("Aufgabe bearbeiten").click()
    await looked_at(page, shots, "task")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.get_by_label("Titel").fill("Wochenbericht an die Stiftung")
    await page.get_by_label("Wiederholung").select_option("every 2 weeks")
    await page.get_by_label("Kontakte nach Namen suchen").fill("Berger")
    option = page.get_by_label(re.compile("Berger-Schönfeld"))
    await expect(option).to_be_visible()
    await option.check()
    await page.get_by_role("button", name="Änderungen speichern").click()
    await expect(page.get_by_role("status")).to_contain_text("Gespeichert.")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Wochenbericht an die Stiftung")
    await expect(page.locator("dl.facts")).to_contain_text("alle 2 Wochen")
    await expect(page.locator("dl.facts")).to_contain_text("Berger-Schönfeld")
    async with db.tenant(org_a.id) as session:
        stored = await tasks.get_task(session, weekly.id, datetime.now().astimezone())
    assert stored.contact_id == berger.id and stored.recurrence == "FREQ=WEEKLY;INTERVAL=2"

    # A new appointment with a contact found by typing, then opened from the calendar.
    await page.goto(f"{base}/o/{org_a.slug}/calendar")
    await looked_at(page, shots, "calendar-week")
    await page.set_viewport_size({"width": 390, "height": 844})
    await (
        page.get_by_role("button", name="Neuer Termin")
        .or_(page.get_by_role("link", name="Neuer Termin"))
        .click()
    )
    await page.get_by_label("Titel").fill("Gespräch mit Frau Berger-Schönfeld")
    await page.get_by_label("Tag", exact=True).fill((monday + timedelta(days=3)).isoformat())
    await page.get_by_label("Von").fill("16:00")
    await page.get_by_label("Bis").fill("17:00")
    await page.get_by_label("Kontakte nach Namen suchen").fill("Berger")
    option = page.get_by_label(re.compile("Berger-Schönfeld"))
    await expect(option).to_be_visible()
    await option.check()
    await page.get_by_label("Tandem", exact=True).select_option(str(match.id))
    await looked_at(page, shots, "appointment-new")
    await page.get_by_role("button", name="Termin anlegen").click()
    await expect(page.get_by_role("status")).to_contain_text("Der Termin wurde angelegt.")
    await expect(page.locator(".appointment-contacts")).to_contain_text("Berger-Schönfeld")
    await page.get_by_text("Termin bearbeiten").click()
    await expect(page.get_by_label(re.compile("Berger-Schönfeld"))).to_be_checked()
    await looked_at(page, shots, "appointment")

    await page.goto(f"{base}/o/{org_a.slug}/calendar?view=month")
    await looked_at(page, shots, "calendar-month")
    await page.get_by_role("link", name="Elternabend").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Elternabend")
    await page.get_by_label("Grund der Absage (optional)").fill("Die Aula ist belegt.")
    await page.get_by_role("button", name="Termin absagen").click()
    # Cancelling asks first in codo's dialog, which names what happens.
    await page.get_by_role("dialog").get_by_role("button", name="Termin absagen").click()
    await expect(page.get_by_role("status")).to_contain_text("Der Termin wurde abgesagt.")
    async with db.tenant(org_a.id) as session:
        assert (await appointments.get_out(session, meeting.id)).status == "cancelled"

    await page.goto(f"{base}/o/{org_a.slug}/my-day")
    await looked_at(page, shots, "my-day")
    await page.goto(f"{base}/o/{org_a.slug}/tasks")
    await looked_at(page, shots, "task-list")

    # Deleting asks first, in codo's dialog, and says what happened.
    await page.goto(f"{base}/o/{org_a.slug}/tasks/{weekly.id}")
    await page.get_by_role("button", name="Aufgabe löschen").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Wochenbericht an die Stiftung")
    await dialog.get_by_role("button", name="Aufgabe löschen").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "„Wochenbericht an die Stiftung“ wurde gelöscht."
    )
    async with db.tenant(org_a.id) as session:
        left = await tasks.list_tasks(
            session,
            tasks.TaskFilter(assignee_id=ana.id),
            now=datetime.now().astimezone(),
            limit=5,
            cursor=None,
        )
    assert left.items == []
