"""Questionnaires by schedule, and their reminders.

A cron tick asks the database which organisations have invitations or reminders due (system
context), writes the due invitations of all of them many organisations per transaction, and
enqueues one job per organisation and tick for the reminders. All of it is idempotent (the
invitations' unique key is the ledger; reminders lock and mark their rows), so a tick that runs
twice, overlaps another or follows a lost Redis sends nothing twice and misses nothing still due.
``ctx["clock"]``, when set, replaces the wall clock (tests move time with it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from arq import cron
from arq.worker import func

from shared import queue
from shared.db import Database
from shared.questionnaires import sending
from shared.settings import Settings

SEND = queue.SEND_QUESTIONNAIRES
# Schedules count in days: a scan every few seconds would only repeat the same idle query.
SCAN_SECONDS = 15


def now_of(ctx: dict[str, Any]) -> datetime:
    clock: Callable[[], datetime] = ctx.get("clock") or (lambda: datetime.now(UTC))
    return clock()


async def scan_questionnaires(ctx: dict[str, Any]) -> int:
    db: Database = ctx["db"]
    settings: Settings = ctx["settings"]
    now = now_of(ctx)
    found = await sending.scan(db, now)
    swept = await sending.send_invitations(db, found.invitations, now, settings.public_url)
    if swept.invited:
        # The messages are committed: deliver them now rather than at the next outbox sweep.
        await ctx["redis"].enqueue_job(queue.DELIVER_OUTBOX, _job_id=queue.DELIVER_OUTBOX_ID)
    due = found.reminders
    tick = int(now.timestamp()) // SCAN_SECONDS
    for org_id in due:
        # One job per organisation and tick: a job lost with a killed worker never blocks the next tick.
        await ctx["redis"].enqueue_job(SEND, str(org_id), _job_id=f"questionnaires:{org_id}:{tick}")
    return len(due)


async def send_questionnaires(ctx: dict[str, Any], org_id: str) -> int:
    db: Database = ctx["db"]
    settings: Settings = ctx["settings"]
    report = await sending.send_due(db, uuid.UUID(org_id), now_of(ctx), settings.public_url)
    if report.total:
        # The messages are committed: deliver them now rather than at the next outbox sweep.
        await ctx["redis"].enqueue_job(queue.DELIVER_OUTBOX, _job_id=queue.DELIVER_OUTBOX_ID)
    return report.total


FUNCTIONS = [func(send_questionnaires, name=SEND, keep_result=0, max_tries=5)]

CRON_JOBS = [
    cron(
        scan_questionnaires,
        name="scan_questionnaires",
        second=set(range(0, 60, SCAN_SECONDS)),
        run_at_startup=True,
        keep_result=0,
    )
]
