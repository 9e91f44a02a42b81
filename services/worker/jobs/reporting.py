"""Reporting jobs: long report exports, built in steps with their progress."""

from __future__ import annotations

import uuid
from typing import Any

from arq.worker import func

from shared.db import Database
from shared.logs import get_logger
from shared.queue import REPORTING_RUN_EXPORT as RUN_REPORT_EXPORT
from shared.reporting import export_jobs

log = get_logger(__name__)


async def run_report_export(ctx: dict[str, Any], org_id: str, export_id: str) -> str:
    db: Database = ctx["db"]
    try:
        return await export_jobs.build(db, uuid.UUID(org_id), uuid.UUID(export_id))
    except Exception:
        log.exception("report export failed", export_id=export_id, org_id=org_id)
        return "failed"


FUNCTIONS = [func(run_report_export, name=RUN_REPORT_EXPORT, keep_result=0, max_tries=3)]
