"""Scheduled questionnaires through real worker processes: two at once, Redis flushed in the
middle; every person gets each questionnaire exactly once, by real SMTP."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message
from typing import Any

import pytest
import redis.asyncio as aioredis
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from shared.db import Database
from shared.questionnaires.models import QuestionnaireInvitation
from shared.settings import Settings
from tests.conftest import Mailbox, Org
from tests.fixtures.questionnaires import make_tandem
from tests.tasks.test_reminder_workers import start_worker, stop, wait_until

pytestmark = pytest.mark.slow


async def _schedule(client: AsyncTestClient[Any], org: Org) -> None:
    base = f"/api/v1/orgs/{org.slug}/questionnaires"
    qid = (
        await client.post(f"{base}/from-template", json={"template": "checkin"}, headers=org.auth())
    ).json()["id"]
    for audience in ("mentor", "guardian"):
        r = await client.post(
            f"{base}/schedules",
            json={
                "questionnaire_id": qid,
                "audience": audience,
                "trigger": "during",
                "after_days": 28,
                "every_days": 60,
            },
            headers=org.auth(),
        )
        assert r.status_code == 201, r.text


def _count(box: Mailbox, addresses: set[str]) -> Counter[str]:
    # Questionnaires only: a mentor also gets the meeting-log link when the tandem starts.
    return Counter(m["To"] for m in box.messages if m["To"] in addresses and _asks(m))


def _asks(message: Message) -> bool:
    subject = str(make_header(decode_header(message["Subject"] or "")))
    return "Fragen zu" in subject or "questions about" in subject


async def test_two_workers_send_each_questionnaire_exactly_once_even_after_redis_is_flushed(
    db: Database, client: AsyncTestClient[Any], settings: Settings, mailbox: Mailbox, org_a: Org, org_b: Org
) -> None:
    started = (datetime.now(UTC) - timedelta(days=28)).date()
    for org in (org_a, org_b):
        await _schedule(client, org)
    first = [await make_tandem(db, org, started_on=started) for org in (org_a, org_b) for _ in range(3)]
    addresses = {a for t in first for a in (t.mentor_email, t.guardian_email)}
    workers = [start_worker(settings, "quest-1"), start_worker(settings, "quest-2")]
    try:
        await wait_until(lambda: _got(mailbox, addresses), timeout=60)
        r = aioredis.from_url(settings.redis_dsn)
        await r.flushall()  # the queue is gone; the database still knows what is due
        await r.aclose()
        later = [await make_tandem(db, org_a, started_on=started) for _ in range(2)]
        addresses |= {a for t in later for a in (t.mentor_email, t.guardian_email)}
        await wait_until(lambda: _got(mailbox, addresses), timeout=60)
        await asyncio.sleep(16)  # more than one scan interval: time for a duplicate to show up
    finally:
        stop(workers)
    assert _count(mailbox, addresses) == dict.fromkeys(addresses, 1)
    async with db.system_context("test: questionnaire ledger") as session:
        per = (
            await session.execute(
                select(QuestionnaireInvitation.contact_id, func.count()).group_by(
                    QuestionnaireInvitation.contact_id
                )
            )
        ).all()
    ids = {t.mentor_id for t in first + later} | {t.guardian_id for t in first + later}
    assert {cid: n for cid, n in per if cid in ids} == dict.fromkeys(ids, 1)


async def _got(box: Mailbox, addresses: set[str]) -> bool:
    return set(_count(box, addresses)) == addresses
