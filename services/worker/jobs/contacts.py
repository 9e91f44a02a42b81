"""Contacts jobs: imports (resumable), list exports, and the retention rule per organisation."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from arq import cron
from arq.worker import func

from shared import i18n, queue
from shared.contacts import exports, imports, privacy
from shared.db import Database
from shared.logs import get_logger

log = get_logger(__name__)

# The page catalogues label the vocabularies (kinds, statuses, days of the week) and an import
# reads those labels back, so the worker plans a sheet as the dry run did. Found by folder: the
# worker imports nothing of the API.
_API = Path(__file__).resolve().parents[2] / "api"
i18n.add_catalogue_roots([_API / "web", *sorted(p for p in _API.iterdir() if (p / "locale").is_dir())])

RUN_IMPORT = queue.CONTACTS_RUN_IMPORT
RUN_EXPORT = queue.CONTACTS_RUN_EXPORT
APPLY_RETENTION = queue.CONTACTS_APPLY_RETENTION


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


async def run_export(ctx: dict[str, Any], org_id: str, export_id: str) -> str:
    db: Database = ctx["db"]
    async with db.tenant(uuid.UUID(org_id)) as session:
        export = await exports.build(session, uuid.UUID(export_id))
        return export.status


async def apply_retention(ctx: dict[str, Any], org_id: str) -> int:
    db: Database = ctx["db"]
    async with db.tenant(uuid.UUID(org_id)) as session:
        erased = await privacy.apply_retention(session)
    log.info("retention applied", org_id=org_id, erased=erased)
    return erased


async def retention_fan_out(ctx: dict[str, Any]) -> int:
    """Daily: one retention job per organisation that set a rule."""
    orgs = await privacy.organisations_with_retention(ctx["db"])
    for org_id in orgs:
        await ctx["redis"].enqueue_job(APPLY_RETENTION, str(org_id), _job_id=f"contacts-retention-{org_id}")
    return len(orgs)


FUNCTIONS = [
    func(run_import, name=RUN_IMPORT, keep_result=0, max_tries=3),
    func(apply_retention, name=APPLY_RETENTION, keep_result=0),
    func(run_export, name=RUN_EXPORT, keep_result=0, max_tries=3),
]
CRON_JOBS = [
    cron(resume_imports, name="contacts_resume_imports", second={30}, keep_result=0),
    cron(retention_fan_out, name="contacts_retention", hour={2}, minute={30}, keep_result=0),
]
