"""A mentor notes a meeting on a phone (Chromium at 390 x 844) from the link in their e-mail, with
no JavaScript: a mistake is shown next to its field, the second try counts on the match page."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from playwright.async_api import Page, async_playwright, expect
from sqlalchemy import select

from services.localstack import free_port
from shared.db import Database
from shared.matching.models import MatchConcern
from shared.settings import Settings
from tests.conftest import Mailbox, Org, settings_env
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.mail import deliver_all
from tests.fixtures.matching import MatchingApi
from tests.matching.test_meeting_log import LINK, tandem

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_server(settings: Settings) -> Iterator[tuple[str, Settings]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    served = msgspec.structs.replace(settings, public_url=base)
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "api", "--host", "127.0.0.1", "--port", str(port)],
        env=settings_env(served),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode() if process.stderr else "the server died")
            time.sleep(0.1)
        yield base, served
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
async def phone() -> AsyncIterator[Page]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True,
                locale="de-DE", java_script_enabled=False,
            )  # fmt: skip
            yield await context.new_page()
        finally:
            await browser.close()


async def test_a_mentor_logs_a_worrying_meeting_from_the_phone(
    live_server: tuple[str, Settings],
    phone: Page,
    db: Database,
    mailbox: Mailbox,
    client: AsyncTestClient[Any],
    org_a: Org,
) -> None:
    base, served = live_server
    t = await tandem(db, org_a)
    # The coordinator starts the tandem through the live server: its address goes into the link.
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.post(
            f"/api/v1/orgs/{org_a.slug}/matches/{t.match_id}/transitions",
            json={"to": "active"},
            headers=org_a.auth(),
        )
        assert r.status_code == 201, r.text
    await deliver_all(db, served)
    [mail] = await mailbox.wait_for(t.mentor_email)
    body = mail.get_payload(decode=True).decode()
    found = LINK.search(body)
    assert found and found.group(0).startswith(base)

    await phone.goto(found.group(0))
    await expect(phone.get_by_role("heading", level=1)).to_have_text("Treffen eintragen")
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await phone.get_by_label("Dauer in Minuten").fill("")
    await phone.get_by_label("Lernen, Hausaufgaben").check()
    await phone.get_by_label("nicht so gut (2)").check()
    await phone.get_by_label("Ja", exact=True).check()
    await phone.get_by_role("button", name="Treffen speichern").tap()

    # Two mistakes, each said next to its field; what was chosen stays chosen.
    await expect(phone.locator("#f-duration_minutes-error")).to_have_text("Bitte ausfüllen.")
    await expect(phone.locator("#f-worry_text-error")).to_contain_text("was Ihnen Sorgen macht")
    assert await phone.get_by_label("Dauer in Minuten").get_attribute("aria-invalid") == "true"
    await expect(phone.get_by_label("Lernen, Hausaufgaben")).to_be_checked()
    await expect(phone.get_by_label("nicht so gut (2)")).to_be_checked()
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    await phone.get_by_label("Dauer in Minuten").fill("75")
    await phone.get_by_label("Was mir Sorgen macht (nur bei Ja)").fill("Sie wirkt sehr traurig")
    await phone.get_by_role("button", name="Treffen speichern").tap()
    await expect(phone.locator("#saved")).to_have_text("Danke! Das Treffen ist eingetragen.")

    matching = MatchingApi(client, org_a)
    match = await matching.call("GET", f"/matches/{t.match_id}")
    assert (match["meetings"], match["meeting_hours"]) == (1, 1.25)
    async with db.tenant(org_a.id) as session:
        [concern] = (await session.execute(select(MatchConcern))).scalars().all()
    assert concern.confidential_text == "Sie wirkt sehr traurig"

    # The same page in English, from the language switch.
    await phone.get_by_role("link", name="English").tap()
    await expect(phone.get_by_role("heading", level=1)).to_have_text("Note a meeting")
    await expect(phone.get_by_label("Duration in minutes")).to_be_visible()
