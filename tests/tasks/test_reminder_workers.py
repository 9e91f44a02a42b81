"""Reminders through real worker processes: two at once, one killed mid-batch, Redis flushed.

The workers run on the real clock, so the tasks here fall due a few seconds after they are
written; the controllable-clock tests of the same code are in test_reminders.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis
from aiosmtpd.controller import Controller
from sqlalchemy import select

from services.localstack import free_port
from shared import clock
from shared.actor import Actor
from shared.db import Database
from shared.models import OutboxMessage
from shared.permissions import Role
from shared.settings import Settings
from shared.tasks import recurrence, rules, tasks
from shared.tasks.models import ReminderSent, Task
from shared.tasks.schemas import RuleIn, TaskCreate
from tests.conftest import Mailbox, Org, settings_env
from tests.fixtures.tasks import Member, add_member, make_contact

pytestmark = pytest.mark.slow


def start_worker(settings: Settings, name: str, **changes: Any) -> subprocess.Popen[bytes]:
    env = settings_env(msgspec.structs.replace(settings, worker_name=name, **changes))
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        if w.poll() is None:
            w.terminate()
    for w in workers:
        try:
            w.wait(15)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait(5)


async def due_soon(db: Database, org: Org, member: Member, titles: list[str], seconds: float) -> list[Any]:
    """Tasks whose reminder (an hour before the due time) falls ``seconds`` from now."""
    due = recurrence.local_now(datetime.now(UTC) + timedelta(hours=1, seconds=seconds), "Europe/Berlin")
    made = []
    async with db.tenant(org.id) as session:
        for title in titles:
            out = await tasks.create_task(
                session,
                Actor(role=Role.COORDINATOR, membership_id=member.id, org_id=org.id, slug=org.slug),
                TaskCreate(
                    title=title, due_date=due.date(), due_time=due.strftime("%H:%M:%S"), assignee_id=member.id
                ),
                datetime.now(UTC),
            )
            made.append(out.id)
    return made


def titles_in(box: Mailbox, addresses: set[str]) -> Counter[str]:
    subjects = [str(make_header(decode_header(m["Subject"]))) for m in box.messages if m["To"] in addresses]
    return Counter(
        s.split("Erinnerung: ", 1)[1].split(" ist fällig")[0] for s in subjects if "Erinnerung" in s
    )


async def wait_until(check: Any, timeout: float = 40) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("timed out")


async def _rule_tasks(db: Database, org: Org, contact_id: Any) -> int:
    async with db.tenant(org.id) as session:
        found = (await session.execute(select(Task.id).where(Task.contact_id == contact_id))).all()
        return len(found)


async def ledger(db: Database, ids: list[Any]) -> Counter[Any]:
    async with db.system_context("test: reminder check") as session:
        rows = (
            await session.execute(select(ReminderSent.subject_id).where(ReminderSent.subject_id.in_(ids)))
        ).all()
        return Counter(r[0] for r in rows)


async def test_two_workers_send_each_reminder_exactly_once_even_after_redis_is_flushed(
    db: Database, settings: Settings, mailbox: Mailbox, org_a: Org, org_b: Org
) -> None:
    ana, ben = await add_member(db, org_a), await add_member(db, org_b)
    addresses = {ana.email, ben.email}
    # A rule switched on before the workers start: both run it at start-up, one task comes of it.
    async with db.tenant(org_b.id) as session:
        waiting = await make_contact(session, org_b.id, waiting_since=clock.today() - timedelta(days=100))
        await rules.set_rule(session, org_b.id, "waiting_followup", RuleIn(enabled=True), datetime.now(UTC))
    first = [f"vor-{i}" for i in range(12)]
    ids = await due_soon(db, org_a, ana, first[:6], 2) + await due_soon(db, org_b, ben, first[6:], 2)
    workers = [start_worker(settings, "tasks-1"), start_worker(settings, "tasks-2")]
    try:
        await wait_until(lambda: _all(mailbox, addresses, first))
        # Start-up queues the rules of every organisation in the test database; wait for this one's
        # before the flush below empties the queue (the next tick would bring it, minutes later).
        await wait_until(lambda: _rule_tasks(db, org_b, waiting.id), timeout=60)
        r = aioredis.from_url(settings.redis_dsn)
        await r.flushall()  # the queue is gone; the database still knows what is due
        await r.aclose()
        later = [f"nach-{i}" for i in range(6)]
        ids += await due_soon(db, org_a, ana, later, 1)
        await wait_until(lambda: _all(mailbox, addresses, first + later))
        await asyncio.sleep(6)  # more than one scan interval: time for a duplicate to show up
    finally:
        stop(workers)
    assert titles_in(mailbox, addresses) == dict.fromkeys(first + later, 1)
    assert await ledger(db, ids) == dict.fromkeys(ids, 1)
    assert all(w.returncode in (0, -signal.SIGTERM) for w in workers)
    async with db.tenant(org_b.id) as session:
        made = (await session.execute(select(Task.rule).where(Task.contact_id == waiting.id))).scalars().all()
    assert made == ["waiting_followup"]


async def _all(box: Mailbox, addresses: set[str], titles: list[str]) -> bool:
    got = titles_in(box, addresses)
    return all(got[t] >= 1 for t in titles)


class SlowMailbox(Mailbox):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.15)
        return await super().handle_DATA(server, session, envelope)


async def test_a_worker_killed_mid_batch_loses_nothing_and_reminders_due_meanwhile_follow_after_restart(
    db: Database, settings: Settings, org_a: Org
) -> None:
    port = free_port()
    box = SlowMailbox()
    server = Controller(box, hostname="127.0.0.1", port=port)
    server.start()
    try:
        ana = await add_member(db, org_a)
        titles = [f"batch-{i}" for i in range(40)]
        ids = await due_soon(db, org_a, ana, titles, 1)
        # A short lease: the restarted worker may take over what the killed one had claimed.
        worker = start_worker(
            settings, "tasks-doomed", smtp_port=port, outbox_lease_seconds=2, outbox_batch_size=40
        )
        try:
            await wait_until(lambda: _some(box, ana.email, 3))
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(5)
        finally:
            stop([worker])
        delivered_before = sum(titles_in(box, {ana.email}).values())
        assert delivered_before < len(titles), "the kill should land in the middle of the batch"
        # While no worker runs, more reminders fall due: the next worker must find them.
        meanwhile = [f"waehrenddessen-{i}" for i in range(5)]
        ids += await due_soon(db, org_a, ana, meanwhile, 0)
        await asyncio.sleep(1)
        restarted = start_worker(settings, "tasks-restarted", smtp_port=port, outbox_lease_seconds=2)
        try:
            await wait_until(lambda: _all(box, {ana.email}, titles + meanwhile), timeout=60)
            await wait_until(lambda: _all_recorded(db, org_a, ana.email, len(titles + meanwhile)))
        finally:
            stop([restarted])
    finally:
        server.stop()
    got = titles_in(box, {ana.email})
    assert set(got) == set(titles + meanwhile)
    # The ledger made every reminder once; only a message cut off between SMTP and its record may
    # go out twice, and then with the same Message-ID, so mail systems drop the copy.
    assert await ledger(db, ids) == dict.fromkeys(ids, 1)
    async with db.tenant(org_a.id) as session:
        rows = (
            await session.execute(select(OutboxMessage.status).where(OutboxMessage.to_address == ana.email))
        ).all()
    assert Counter(r[0] for r in rows) == {"sent": len(titles + meanwhile)}
    ids_per_title: dict[str, set[str]] = {}
    # The workers also send what other organisations in the test database have due; only this
    # member's mail is this test's.
    for m in (m for m in box.messages if m["To"] == ana.email):
        s = str(make_header(decode_header(m["Subject"])))
        ids_per_title.setdefault(s, set()).add(m["Message-ID"])
    assert all(len(v) == 1 for v in ids_per_title.values())


async def _all_recorded(db: Database, org: Org, address: str, n: int) -> bool:
    async with db.tenant(org.id) as session:
        rows = (
            await session.execute(select(OutboxMessage.status).where(OutboxMessage.to_address == address))
        ).all()
    return Counter(r[0] for r in rows) == {"sent": n}


async def _some(box: Mailbox, address: str, n: int) -> bool:
    return sum(titles_in(box, {address}).values()) >= n
