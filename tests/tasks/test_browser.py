"""A real browser (headless Chromium) against a real server: a weekly task made and done from "my day"."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from shared.db import Database
from tests.conftest import Org
from tests.fixtures.tasks import add_member

pytestmark = pytest.mark.slow


async def test_a_coordinator_makes_a_weekly_task_and_completes_it_from_my_day(
    dev_server: str, chromium_page: object, db: Database, org_a: Org
) -> None:
    live_server, browser_page = dev_server, chromium_page
    from playwright.async_api import Page

    page: Page = browser_page  # type: ignore[assignment]
    ana = await add_member(db, org_a)
    await page.goto(f"{live_server}/o/{org_a.slug}/signin")
    await page.select_option("#dev-member", str(ana.id))
    await (
        page.get_by_role("button", name="Sign in as this member")
        .or_(page.get_by_role("button", name="Als dieses Mitglied anmelden"))
        .click()
    )
    await page.goto(f"{live_server}/o/{org_a.slug}/my-day")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Mein Tag")
    await expect(page.get_by_text("Für heute ist nichts mehr offen.")).to_be_visible()

    await page.get_by_label("Titel").fill("Telefonat mit Frau Berger")
    await page.get_by_label("Uhrzeit (optional)").fill("09:30")
    await page.get_by_label("Wiederholung").select_option("weekly")
    await page.get_by_role("button", name="Aufgabe anlegen").click()

    row = page.locator("li.task", has_text="Telefonat mit Frau Berger")
    await expect(row).to_be_visible()
    await expect(row).to_contain_text("wöchentlich")
    await expect(row).to_contain_text("09:30")
    await row.get_by_role("button", name="Erledigt").click()

    status = page.get_by_role("status")
    await expect(status).to_contain_text("„Telefonat mit Frau Berger“ ist erledigt.")
    await expect(status).to_contain_text("Nächstes Mal:")
    await expect(page.locator("li.task", has_text="Telefonat mit Frau Berger")).to_have_count(0)

    # The next occurrence waits in the task list, a week on, at the same time.
    await page.goto(f"{live_server}/o/{org_a.slug}/tasks")
    next_row = page.locator("tbody tr", has_text="Telefonat mit Frau Berger")
    await expect(next_row).to_have_count(1)
    await expect(next_row).to_contain_text("09:30")
    [done] = await tasks_of(live_server, org_a, ana.id, "done")
    [nxt] = await tasks_of(live_server, org_a, ana.id, "open")
    assert date.fromisoformat(nxt["due_date"]) == date.fromisoformat(done["due_date"]) + timedelta(days=7)
    assert nxt["series_id"] == done["id"] and nxt["due_time"] == "09:30"


async def tasks_of(base: str, org: Org, member_id: object, status: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        r = await http.get(
            f"{base}/api/v1/orgs/{org.slug}/tasks",
            params={"assignee_id": str(member_id), "status": status},
            headers=org.auth(),
        )
    assert r.status_code == 200, r.text
    return list(r.json()["items"])
