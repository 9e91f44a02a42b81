"""Quiet tandems: after the programme's weeks without a meeting the mentor gets one friendly
reminder (with a link that works) and the coordinator one task, once per quiet spell, however
often and from however many workers the scan runs; paused tandems are left in peace."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from email.header import decode_header, make_header
from typing import Any

import pytest
import redis.asyncio as aioredis
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from shared import clock
from shared.db import Database
from shared.matching import meeting_log
from shared.matching.models import Match, MatchingSettings, Meeting
from shared.settings import Settings
from shared.tasks.models import Task
from tests.conftest import Mailbox, Org
from tests.fixtures.mail import deliver_all
from tests.matching.test_meeting_log import LINK, tandem
from tests.tasks.test_reminder_workers import start_worker, stop, wait_until

TODAY = clock.today()


async def _activate(db: Database, org: Org, match_id: Any, started: date, status: str = "active") -> None:
    async with db.tenant(org.id) as session:
        match = (await session.execute(select(Match).where(Match.id == match_id))).scalar_one()
        match.status, match.started_on = status, started
        if status == "paused":
            match.paused_on = started + timedelta(days=3)


async def _tasks(db: Database, org: Org) -> list[Task]:
    async with db.tenant(org.id) as session:
        query = select(Task).where(Task.rule == meeting_log.QUIET_RULE).order_by(Task.created_at)
        return list((await session.execute(query)).scalars())


async def test_one_reminder_and_one_task_per_quiet_spell(
    db: Database, settings: Settings, mailbox: Mailbox, client: AsyncTestClient[Any], org_a: Org
) -> None:
    quiet = await tandem(db, org_a, address="du")
    paused = await tandem(db, org_a)
    met = await tandem(db, org_a)
    await _activate(db, org_a, quiet.match_id, TODAY - timedelta(weeks=5))
    await _activate(db, org_a, paused.match_id, TODAY - timedelta(weeks=10), status="paused")
    await _activate(db, org_a, met.match_id, TODAY - timedelta(weeks=10))
    async with db.tenant(org_a.id) as session:
        session.add(
            Meeting(
                organization_id=org_a.id,
                match_id=met.match_id,
                occurred_on=TODAY - timedelta(days=6),
                duration_minutes=60,
                volunteer_minutes=60,
            )
        )

    async def scan(day: date) -> list[meeting_log.Reminded]:
        return await meeting_log.remind_for(db, org_a.id, day, settings.public_url)

    first = await asyncio.gather(scan(TODAY), scan(TODAY), scan(TODAY))
    assert sorted(len(x) for x in first) == [0, 0, 1]
    assert [r.match_id for x in first for r in x] == [quiet.match_id]
    assert await scan(TODAY) == []
    [task] = await _tasks(db, org_a)
    assert (task.match_id, task.assignee_id) == (quiet.match_id, quiet.coordinator.id)
    assert task.title.startswith("Seit 4 Wochen kein Treffen eingetragen")

    await deliver_all(db, settings)
    [mail] = await mailbox.wait_for(quiet.mentor_email)
    assert str(make_header(decode_header(mail["Subject"]))) == "Wie läuft es mit Yusuf?"
    body = mail.get_payload(decode=True).decode()
    assert "Wenn ihr euch getroffen habt" in body
    found = LINK.search(body)
    assert found and (await client.get(found.group(1))).status_code == 200
    assert mailbox.to(paused.mentor_email) == mailbox.to(met.mentor_email) == []

    # The mentor logs a meeting: a new spell starts, and only its end brings the next reminder.
    r = await client.post(
        found.group(1),
        data={"on": TODAY.isoformat(), "duration_minutes": "45", "rating": "5", "worried": "no"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert await scan(TODAY + timedelta(weeks=3)) == []
    again = await scan(TODAY + timedelta(weeks=4))
    # (the tandem that met six days ago is quiet by then too)
    assert {x.match_id for x in again} == {quiet.match_id, met.match_id}
    assert len(await _tasks(db, org_a)) == 3


async def test_a_programme_can_wait_longer(db: Database, org_a: Org, settings: Settings) -> None:
    t = await tandem(db, org_a)
    await _activate(db, org_a, t.match_id, TODAY - timedelta(weeks=5))
    async with db.tenant(org_a.id) as session:
        session.add(MatchingSettings(organization_id=org_a.id, config={"meeting_log": {"quiet_weeks": 6}}))
    assert await meeting_log.remind_for(db, org_a.id, TODAY, settings.public_url) == []
    later = await meeting_log.remind_for(db, org_a.id, TODAY + timedelta(weeks=1), settings.public_url)
    assert [x.match_id for x in later] == [t.match_id]


@pytest.mark.slow
async def test_two_workers_remind_once_even_after_redis_is_flushed(
    db: Database, settings: Settings, mailbox: Mailbox, org_a: Org
) -> None:
    t = await tandem(db, org_a)
    await _activate(db, org_a, t.match_id, TODAY - timedelta(weeks=6))
    # Both workers scan at start-up, at the same moment.
    workers = [start_worker(settings, "mlog-1"), start_worker(settings, "mlog-2")]
    try:
        await wait_until(lambda: _got(mailbox, t.mentor_email))
        r = aioredis.from_url(settings.redis_dsn)
        await r.flushall()
        await r.aclose()
        stop(workers)
        # Restarted on an empty queue: they scan again and find the spell reminded already.
        workers = [start_worker(settings, "mlog-3"), start_worker(settings, "mlog-4")]
        await asyncio.sleep(8)
    finally:
        stop(workers)
    assert len(mailbox.to(t.mentor_email)) == 1
    assert [x.match_id for x in await _tasks(db, org_a)] == [t.match_id]


async def _got(box: Mailbox, address: str) -> bool:
    return len(box.to(address)) >= 1
