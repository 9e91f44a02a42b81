"""Contacts jobs: imports (resumable), list exports, and the retention rule per organisation."""

from __future__ import annotations

import uuid
from typing import Any

from arq import cron
from arq.worker import func

from shared.contacts import imports
from shared.contacts.queue import RUN_IMPORT
from shared.db import Database
from shared.logs import get_logger

log = get_logger(__name__)


async def run_import(ctx: dict[str, Any], org_id: str, import_id: str) -> str:
    db: Database = ctx["db"]
    try:
        outcome = await imports.run(db, uuid.UUID(org_id), uuid.UUID(import_id))
    except Exception as exc:
        # Saved batches stay; the import can be resumed (commit again) or undone.
        log.exception("import failed", import_id=import_id, org_id=org_id)
        await imports.fail(db, uuid.UUID(org_id), uuid.UUID(import_id), f"{type(exc).__name__}: {exc}")
        return "failed"
    log.info("import finished", import_id=import_id, org_id=org_id, outcome=outcome)
    return outcome


async def resume_imports(ctx: dict[str, Any]) -> int:
    """Imports still marked running whose worker died: run them again from the last saved batch."""
    stale = await imports.stale_imports(ctx["db"])
    redis = ctx.get("redis")
    for org_id, import_id in stale:
        if redis is not None:
            await redis.enqueue_job(RUN_IMPORT, str(org_id), str(import_id))
    return len(stale)


FUNCTIONS = [func(run_import, name=RUN_IMPORT, keep_result=0, max_tries=3)]
CRON_JOBS = [cron(resume_imports, name="contacts_resume_imports", second={30}, keep_result=0)]
