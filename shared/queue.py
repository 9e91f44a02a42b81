"""Waking the worker after a commit. Best effort: the worker's sweep finds the work anyway."""

from __future__ import annotations

from arq import create_pool
from arq.connections import RedisSettings

from shared.logs import get_logger
from shared.settings import Settings

log = get_logger(__name__)


async def wake_outbox(settings: Settings) -> bool:
    """Ask a worker to deliver the outbox now; only ever call this after the transaction committed."""
    try:
        pool = await create_pool(RedisSettings.from_dsn(settings.redis_dsn), retry=0)
    except Exception as exc:  # Redis down: the periodic sweep will deliver
        log.warning("could not wake the worker", error=type(exc).__name__)
        return False
    try:
        await pool.enqueue_job("deliver_outbox", _job_id="deliver-outbox")
        return True
    finally:
        await pool.aclose()
