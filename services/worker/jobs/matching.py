"""Cohort matching runs: one job per run, and a sweep for runs whose job was lost.

The run's row is the source of truth: the job claims it, writes its progress there and its
result; running the job twice leaves a finished run alone and a live one to its worker.

The meeting log's reminders for quiet tandems: a cron tick fans out one job per organisation
with active tandems; each job is idempotent (a task's unique key per quiet spell), so ticks that
overlap, repeat or come after a flushed queue remind nobody twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from arq import cron
from arq.worker import func

from shared import queue
from shared.db import Database
from shared.matching import meeting_log, runs
from shared.settings import Settings
from shared.tasks import recurrence
from shared.tasks.models import DEFAULT_TIMEZONE

RUN_MATCHING = queue.RUN_MATCHING
MEETING_LOG_REMINDERS = queue.MEETING_LOG_REMINDERS
QUIET_EVERY_MINUTES = 15


async def run_matching(ctx: dict[str, Any], org_id: str, run_id: str) -> str:
    db: Database = ctx["db"]
    return await runs.execute(db, uuid.UUID(org_id), uuid.UUID(run_id))


async def sweep_matching_runs(ctx: dict[str, Any]) -> int:
    """Enqueue runs that were asked for while Redis was away, or whose worker died."""
    waiting = await runs.runs_waiting(ctx["db"])
    for org_id, run_id in waiting:
        await ctx["redis"].enqueue_job(RUN_MATCHING, str(org_id), str(run_id), _job_id=runs.job_id(run_id))
    return len(waiting)


async def scan_quiet_tandems(ctx: dict[str, Any]) -> int:
    now = datetime.now(UTC)
    orgs = await meeting_log.organisations_with_active_tandems(ctx["db"])
    tick = int(now.timestamp()) // (QUIET_EVERY_MINUTES * 60)
    for org_id in orgs:
        await ctx["redis"].enqueue_job(
            MEETING_LOG_REMINDERS, str(org_id), _job_id=f"meeting-log-reminders:{org_id}:{tick}"
        )
    return len(orgs)


async def remind_quiet_tandems(ctx: dict[str, Any], org_id: str) -> int:
    db: Database = ctx["db"]
    settings: Settings = ctx["settings"]
    today = recurrence.local_now(datetime.now(UTC), DEFAULT_TIMEZONE).date()
    done = await meeting_log.remind_for(db, uuid.UUID(org_id), today, settings.public_url)
    if done:
        # The messages are committed: deliver them now rather than at the next outbox sweep.
        await ctx["redis"].enqueue_job(queue.DELIVER_OUTBOX, _job_id=queue.DELIVER_OUTBOX_ID)
    return len(done)


FUNCTIONS = [
    func(run_matching, name=RUN_MATCHING, keep_result=0, max_tries=3, timeout=600),
    func(remind_quiet_tandems, name=MEETING_LOG_REMINDERS, keep_result=0, max_tries=5),
]

CRON_JOBS = [
    cron(sweep_matching_runs, name="sweep_matching_runs", second={7, 37}, keep_result=0),
    cron(
        scan_quiet_tandems,
        name="scan_quiet_tandems",
        # Quiet spells are counted in weeks; a restart looks at once (run_at_startup).
        minute=set(range(0, 60, QUIET_EVERY_MINUTES)),
        second={20},
        run_at_startup=True,
        keep_result=0,
    ),
]
