"""End to end on a phone (headless Chromium, 390 by 844): a tandem starts; when the clock reaches the
scheduled day the worker's jobs send the mentor (German, "du") and the family (English) their
links through real SMTP; they answer on the phone; the answers are on the tandem and in the
figures; the worry makes exactly one task for the tandem's coordinator; the reminder goes once;
a used link shows the friendly page.

The API runs as its own process; the worker's job functions run here with a controllable clock
(``ctx["clock"]``), as the housekeeping tests do; real worker processes are in test_workers.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from typing import Any

import httpx
import msgspec
import pytest
from arq import create_pool
from arq.connections import RedisSettings
from litestar.testing import AsyncTestClient
from playwright.async_api import Page, async_playwright, expect
from sqlalchemy import select

from services.localstack import free_port
from services.worker.jobs.questionnaires import send_questionnaires
from services.worker.main import deliver_outbox
from shared.db import Database
from shared.questionnaires import sending
from shared.settings import Settings
from shared.tasks.models import Task
from tests.conftest import Mailbox, Org, settings_env
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.questionnaires import body_of, link_in, make_tandem

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
        for _ in range(300):
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
async def phone() -> AsyncIterator[Any]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def _page(browser: Any, locale: str) -> Page:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale=locale,
    )
    page: Page = await context.new_page()
    return page


async def _fits(page: Page) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        "no sideways scrolling"
    )


async def test_a_tandem_answers_its_questionnaires_on_the_phone(
    live_server: tuple[str, Settings],
    phone: Any,
    client: AsyncTestClient[Any],
    db: Database,
    mailbox: Mailbox,
    org_a: Org,
) -> None:
    base, served = live_server
    start = datetime.now(UTC)
    tandem = await make_tandem(db, org_a, started_on=start.date())
    api = f"/api/v1/orgs/{org_a.slug}/questionnaires"
    qid = (
        await client.post(f"{api}/from-template", json={"template": "checkin"}, headers=org_a.auth())
    ).json()["id"]
    for audience in ("mentor", "guardian", "mentee"):
        r = await client.post(
            f"{api}/schedules",
            json={
                "questionnaire_id": qid,
                "audience": audience,
                "trigger": "during",
                "after_days": 30,
                "every_days": 60,
            },
            headers=org_a.auth(),
        )
        assert r.status_code == 201
    pool = await create_pool(RedisSettings.from_dsn(served.redis_dsn))
    ctx: dict[str, Any] = {
        "db": db,
        "settings": served,
        "redis": pool,
        "worker_name": "test",
        "clock": lambda: start,
    }
    try:
        # The tandem has just started: nothing is due for it.
        assert org_a.id not in await sending.organisations_due(db, start)
        day30 = start + timedelta(days=30, hours=1)
        ctx["clock"] = lambda: day30
        assert org_a.id in await sending.organisations_due(db, day30)
        assert await send_questionnaires(ctx, str(org_a.id)) == 3
        await deliver_outbox(ctx)
        [to_mentor] = await mailbox.wait_for(tandem.mentor_email)
        [to_family] = await mailbox.wait_for(tandem.guardian_email)
        await mailbox.wait_for(tandem.mentee_email)
        mentor_body, family_body = body_of(to_mentor), body_of(to_family)
        assert mentor_body.startswith("Hallo Mara,") and "deinem Tandem" in mentor_body
        assert family_body.startswith("Dear Grace") and "your tandem" in family_body
        assert link_in(mentor_body) and f"{base}/q/" in mentor_body

        # The mentor answers in German with "du", and is worried.
        mentor = await _page(phone, "de-DE")
        await mentor.goto(f"{base}/q/{link_in(mentor_body)}")
        await expect(mentor.get_by_role("heading", level=1)).to_have_text("Wie läuft dein Tandem?")
        await _fits(mentor)
        await expect(mentor.locator("#readers")).to_contain_text(
            "Deine Antworten lesen die Koordinator:innen"
        )
        await (
            mentor.get_by_role("group", name="Wie zufrieden bist du mit dem Tandem?")
            .get_by_text("eher schlecht")
            .tap()
        )
        await (
            mentor.get_by_role("group", name="Wie oft habt ihr euch im letzten Monat getroffen?")
            .get_by_text("einmal")
            .tap()
        )
        await mentor.get_by_role("group", name="Gibt es etwas, das dir Sorgen macht?").get_by_text("ja").tap()
        await mentor.get_by_label("Wenn ja: Was macht dir Sorgen?").fill("Kemal wirkt bedrückt.")
        await mentor.get_by_role("button", name="Antworten senden").tap()
        await expect(mentor.get_by_role("heading", level=1)).to_have_text("Danke für Ihre Antworten")

        # The family answers in English; a forgotten required answer is shown next to its question.
        family = await _page(phone, "en-GB")
        family_link = f"{base}/q/{link_in(family_body)}"
        await family.goto(family_link)
        await expect(family.get_by_role("heading", level=1)).to_have_text("How is your tandem going?")
        await _fits(family)
        await (
            family.get_by_role("group", name="How satisfied are you with the tandem?")
            .get_by_text("very good")
            .tap()
        )
        await family.get_by_role("button", name="Send answers").tap()
        await expect(family.locator("#q-meetings-error")).to_have_text("Please answer this question.")
        await expect(family.locator("#q-satisfaction-5")).to_be_checked()  # what was given stays
        await (
            family.get_by_role("group", name="How often did you meet in the last month?")
            .get_by_text("every week")
            .tap()
        )
        await family.get_by_role("group", name="Is there something that worries you?").get_by_text("no").tap()
        await family.get_by_role("button", name="Send answers").tap()
        await expect(family.get_by_role("heading", level=1)).to_have_text("Thank you for your answers")

        # A used link: the same friendly page, nothing written.
        await family.goto(family_link)
        await expect(family.get_by_role("heading", level=1)).to_have_text(
            "This link does not work (any more)"
        )

        # A week later the mentee, who has not answered, is reminded once; the others are not.
        day38 = day30 + timedelta(days=8)
        ctx["clock"] = lambda: day38
        assert await send_questionnaires(ctx, str(org_a.id)) == 1
        assert await send_questionnaires(ctx, str(org_a.id)) == 0
        await deliver_outbox(ctx)
        mails = await mailbox.wait_for(tandem.mentee_email, 2)
        assert "Erinnerung" in str(make_header(decode_header(mails[1]["Subject"])))
        assert len(mailbox.to(tandem.mentor_email)) == 1 and len(mailbox.to(tandem.guardian_email)) == 1
        mentee_token = link_in(body_of(mails[1]))
        r = await client.post(
            f"/api/v1/q/{mentee_token}",
            json={"answers": {"satisfaction": 4, "meetings": "few", "worry": False}},
        )
        assert r.status_code == 201, r.text

        # The worry made exactly one task, for the tandem's coordinator, who is told by e-mail.
        async with db.tenant(org_a.id) as session:
            tasks = (
                (await session.execute(select(Task).where(Task.match_id == tandem.match_id))).scalars().all()
            )
        assert [t.assignee_id for t in tasks] == [tandem.coordinator.id]
        [told] = await mailbox.wait_for(tandem.coordinator.email)
        assert "Kemal wirkt bedrückt." not in body_of(told)
    finally:
        await pool.aclose()

    # On the tandem and in the figures.
    answers = (
        await client.get(
            f"/api/v1/orgs/{org_a.slug}/matches/{tandem.match_id}/questionnaire-answers", headers=org_a.auth()
        )
    ).json()["items"]
    assert sorted(a["audience"] for a in answers) == ["guardian", "mentee", "mentor"]
    report = (await client.get(f"{api}/{qid}/report", headers=org_a.auth())).json()
    [v1] = report["versions"]
    satisfaction = next(f for f in v1["questions"] if f["question_key"] == "satisfaction")
    assert (v1["invited"], v1["responded"], satisfaction["answers"], satisfaction["average"]) == (
        3,
        3,
        3,
        round(11 / 3, 2),
    )
    assert re.match(r"^\d", str(v1["response_rate"]))
