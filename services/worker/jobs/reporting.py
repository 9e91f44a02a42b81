"""Reporting jobs: long report exports, built in steps with their progress, and the dashboards'
charts kept current after writes."""

from __future__ import annotations

import time
import uuid
from datetime import date
from typing import Any

from arq.cron import cron
from arq.worker import func

from shared.clock import today
from shared.db import Database
from shared.logs import get_logger
from shared.queue import REPORTING_REFRESH_DASHBOARD as REFRESH_DASHBOARD
from shared.queue import REPORTING_RUN_EXPORT as RUN_REPORT_EXPORT
from shared.reporting import dashboard, export_jobs

log = get_logger(__name__)


async def run_report_export(ctx: dict[str, Any], org_id: str, export_id: str) -> str:
    db: Database = ctx["db"]
    try:
        return await export_jobs.build(db, uuid.UUID(org_id), uuid.UUID(export_id))
    except Exception:
        log.exception("report export failed", export_id=export_id, org_id=org_id)
        return "failed"


async def scan_stale_dashboards(ctx: dict[str, Any]) -> int:
    """Each minute: the dashboards a write made old are computed again in the background, so the
    coordinator's next visit finds them stored instead of waiting for them."""
    day = today()
    orgs = await dashboard.stale_dashboards(ctx["db"], day)
    tick = int(time.time()) // 60
    for org_id in orgs:
        # One job per organisation and minute however many workers scan.
        await ctx["redis"].enqueue_job(
            REFRESH_DASHBOARD, str(org_id), day.isoformat(), _job_id=f"dashboard:{org_id}:{tick}"
        )
    return len(orgs)


async def refresh_dashboard(ctx: dict[str, Any], org_id: str, day: str) -> bool:
    return await dashboard.refresh(ctx["db"], uuid.UUID(org_id), date.fromisoformat(day))


FUNCTIONS = [
    func(run_report_export, name=RUN_REPORT_EXPORT, keep_result=0, max_tries=3),
    func(refresh_dashboard, name=REFRESH_DASHBOARD, keep_result=0, max_tries=2),
]

CRON_JOBS = [cron(scan_stale_dashboards, name="scan_stale_dashboards", second={50}, keep_result=0)]
