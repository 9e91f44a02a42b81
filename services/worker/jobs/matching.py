"""Cohort matching runs: one job per run, and a sweep for runs whose job was lost.

The run's row is the source of truth: the job claims it, writes its progress there and its
result; running the job twice leaves a finished run alone and a live one to its worker.
"""

from __future__ import annotations

import uuid
from typing import Any

from arq import cron
from arq.worker import func

from shared import queue
from shared.db import Database
from shared.matching import runs

RUN_MATCHING = queue.RUN_MATCHING


async def run_matching(ctx: dict[str, Any], org_id: str, run_id: str) -> str:
    db: Database = ctx["db"]
    return await runs.execute(db, uuid.UUID(org_id), uuid.UUID(run_id))


async def sweep_matching_runs(ctx: dict[str, Any]) -> int:
    """Enqueue runs that were asked for while Redis was away, or whose worker died."""
    waiting = await runs.runs_waiting(ctx["db"])
    for org_id, run_id in waiting:
        await ctx["redis"].enqueue_job(RUN_MATCHING, str(org_id), str(run_id), _job_id=runs.job_id(run_id))
    return len(waiting)


FUNCTIONS = [func(run_matching, name=RUN_MATCHING, keep_result=0, max_tries=3, timeout=600)]

CRON_JOBS = [cron(sweep_matching_runs, name="sweep_matching_runs", second={7, 37}, keep_result=0)]
