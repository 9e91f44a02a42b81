"""Handing contacts work to the worker. Only after the transaction that prepared it committed."""

from __future__ import annotations

from typing import Any

from arq import create_pool
from arq.connections import RedisSettings

from shared.logs import get_logger
from shared.settings import Settings

log = get_logger(__name__)

RUN_IMPORT = "contacts_run_import"
RUN_EXPORT = "contacts_run_export"
APPLY_RETENTION = "contacts_apply_retention"


async def enqueue(settings: Settings, function: str, *args: Any) -> bool:
    """Best effort: if Redis is down, the worker's periodic sweep resumes running imports."""
    try:
        pool = await create_pool(RedisSettings.from_dsn(settings.redis_dsn), retry=0)
    except Exception as exc:
        log.warning("could not reach the queue", job=function, error=type(exc).__name__)
        return False
    try:
        await pool.enqueue_job(function, *args)
        return True
    finally:
        await pool.aclose()
