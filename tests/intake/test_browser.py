"""A real browser (headless Chromium, phone-sized) fills a public sign-up form; the confirmation
e-mail reaches the test SMTP server; its link confirms; the contact and the coordinator's task exist."""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from playwright.async_api import Page, async_playwright, expect

from services.localstack import free_port
from services.worker.main import deliver_outbox
from shared.db import Database
from shared.settings import Settings
from tests.conftest import Mailbox, Org, settings_env
from tests.fixtures.intake import IntakeApi
from tests.intake.test_public_forms import make_form

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


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
        browser = await p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True,
                locale="de-DE",
            )  # fmt: skip
            yield await context.new_page()
        finally:
            await browser.close()


async def test_a_mentor_signs_up_on_a_phone_and_confirms_by_e_mail(
    live_server: tuple[str, Settings],
    phone: Page,
    intake: IntakeApi,
    org_a: Org,
    db: Database,
    mailbox: Mailbox,
) -> None:
    base, served = live_server
    form = await make_form(intake)
    email = f"jonas-{secrets.token_hex(3)}@example.org"

    await phone.goto(f"{base}/f/{org_a.slug}/mentoren")
    await expect(phone.get_by_role("heading", level=1)).to_have_text("Pate oder Patin werden")
    fits = await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, "the form fits a phone's width without sideways scrolling"
    await phone.get_by_label("Vorname").fill("Jonas")
    await phone.get_by_label("Nachname").fill("Krüger")
    await phone.get_by_label("E-Mail-Adresse").fill(email)
    await phone.get_by_label("Telefon").fill("0171 2345678")
    await phone.get_by_label("Mit „du“").check()
    await phone.get_by_label(
        "Ich willige ein, dass der Verein meine Angaben zur Vermittlung speichert."
    ).check()
    # A person needs a few seconds for a form; faster is treated as a bot.
    await asyncio.sleep(3.2)
    await phone.get_by_role("button", name="Anmelden").tap()
    await expect(phone.get_by_role("heading", level=1)).to_contain_text("Fast geschafft")
    assert (await intake.call("GET", "/contacts", params={"q": email}))["items"] == []

    await deliver_outbox({"db": db, "settings": served, "worker_name": "test"})
    [message] = await mailbox.wait_for(email)
    body = message.get_payload(decode=True).decode()
    assert body.startswith("Hallo Jonas,")
    link = re.search(r"http://\S+/confirm/\S+", body)
    assert link and link.group(0).startswith(base)
    await phone.goto(link.group(0))
    await phone.get_by_role("button", name="Anmeldung bestätigen").tap()
    await expect(phone.get_by_role("heading", level=1)).to_have_text("Danke, Ihre Anmeldung ist bestätigt")

    [contact] = (await intake.call("GET", "/contacts", params={"q": email}))["items"]
    assert (contact["first_name"], contact["last_name"], contact["phone"]) == (
        "Jonas",
        "Krüger",
        "0171 2345678",
    )
    checklist: dict[str, Any] = await intake.call("GET", f"/screening/people/{contact['id']}")
    assert checklist["intake_status"] == "new" and checklist["form_of_address"] == "du"
    tasks = await intake.call("GET", "/tasks", params={"assignee_id": form["coordinator_id"]})
    assert [t["title"] for t in tasks["items"]] == ["Neue Anmeldung: Jonas Krüger"]


async def test_the_form_can_be_embedded_and_switches_to_english(
    live_server: tuple[str, Settings], phone: Page, intake: IntakeApi, org_a: Org
) -> None:
    base, _ = live_server
    await make_form(intake)
    await phone.set_content(
        f'<html><body><iframe src="{base}/f/{org_a.slug}/mentoren?embed=1&lang=en" title="sign-up" '
        'style="width:100%;height:800px"></iframe></body></html>'
    )
    frame = phone.frame_locator("iframe")
    await expect(frame.get_by_role("heading", level=1)).to_have_text("Become a mentor")
    await expect(frame.get_by_label("First name")).to_be_visible()
    await expect(
        frame.get_by_label("I agree that the association keeps my details to find a match.")
    ).to_be_visible()
