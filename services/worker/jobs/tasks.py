"""Reminders, digests and automatic task rules.

A cron tick (one worker runs each tick: arq makes cron jobs unique per tick) first sweeps the
task reminders of every organisation, many organisations per transaction, then asks the
database which organisations still have something due (appointments, digests) and enqueues
one job per organisation.
Each job is idempotent (the reminder ledger and the rules' unique keys), so a tick that
runs twice, overlaps another, or comes after a restart sends nothing twice and misses
nothing that is still due.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from arq import cron
from arq.worker import func

from shared import queue
from shared.db import Database
from shared.settings import Settings
from shared.tasks import recurrence, reminders, rules
from shared.tasks.models import DEFAULT_TIMEZONE

SEND_REMINDERS = queue.SEND_TASK_REMINDERS
DELIVER_OUTBOX = queue.DELIVER_OUTBOX
SCAN_SECONDS = 5


RUN_RULES = queue.RUN_TASK_RULES
RULES_EVERY_MINUTES = 15


def _tick(now: datetime, seconds: int) -> int:
    return int(now.timestamp()) // max(seconds, 1)


async def scan_reminders(ctx: dict[str, Any]) -> int:
    db: Database = ctx["db"]
    settings: Settings = ctx["settings"]
    now = datetime.now(UTC)
    swept = await reminders.sweep_tasks(db, now, settings.public_url)
    if swept.total:
        # The messages are committed: deliver them now rather than at the next outbox sweep.
        await ctx["redis"].enqueue_job(DELIVER_OUTBOX, _job_id=queue.DELIVER_OUTBOX_ID)
    due = await reminders.organisations_due(db, now)
    tick = _tick(now, SCAN_SECONDS)
    for org_id in due:
        # One job per organisation and tick: a job lost with a killed worker never blocks the next tick.
        await ctx["redis"].enqueue_job(SEND_REMINDERS, str(org_id), _job_id=f"task-reminders:{org_id}:{tick}")
    return len(due)


async def send_reminders(ctx: dict[str, Any], org_id: str) -> int:
    db: Database = ctx["db"]
    settings: Settings = ctx["settings"]
    report = await reminders.send_due(db, uuid.UUID(org_id), datetime.now(UTC), settings.public_url)
    if report.total:
        # The messages are committed: deliver them now rather than at the next outbox sweep.
        await ctx["redis"].enqueue_job(DELIVER_OUTBOX, _job_id=queue.DELIVER_OUTBOX_ID)
    return report.total


async def scan_rules(ctx: dict[str, Any]) -> int:
    db: Database = ctx["db"]
    now = datetime.now(UTC)
    orgs = await rules.organisations_with_rules(db)
    tick = _tick(now, RULES_EVERY_MINUTES * 60)
    for org_id in orgs:
        await ctx["redis"].enqueue_job(RUN_RULES, str(org_id), _job_id=f"task-rules:{org_id}:{tick}")
    return len(orgs)


async def run_rules(ctx: dict[str, Any], org_id: str) -> int:
    db: Database = ctx["db"]
    today = recurrence.local_now(datetime.now(UTC), DEFAULT_TIMEZONE).date()
    created = await rules.run_for(db, uuid.UUID(org_id), today)
    return sum(created.values())


FUNCTIONS = [
    func(send_reminders, name=SEND_REMINDERS, keep_result=0, max_tries=5),
    func(run_rules, name=RUN_RULES, keep_result=0, max_tries=5),
]

CRON_JOBS = [
    cron(
        scan_reminders,
        name="scan_task_reminders",
        # Every few seconds: a reminder is at most this late; the scan is one index range when idle.
        second=set(range(0, 60, SCAN_SECONDS)),
        run_at_startup=True,
        keep_result=0,
    ),
    cron(
        scan_rules,
        name="scan_task_rules",
        # Rules look at dates, not minutes; a restart runs them at once (run_at_startup).
        minute=set(range(0, 60, RULES_EVERY_MINUTES)),
        second={0},
        run_at_startup=True,
        keep_result=0,
    ),
]
