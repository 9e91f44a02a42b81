"""The arq worker: outbox delivery now, and every long or periodic job later.

Jobs may run more than once (arq retries, several workers): each is idempotent.
Job data is plain JSON-able values; Redis only wakes the worker, PostgreSQL holds the work.
"""

from __future__ import annotations

import dataclasses
import functools
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.constants import default_queue_name
from arq.worker import Function, func

from shared import metrics, queue
from shared.db import Database
from shared.logs import configure_logging, get_logger
from shared.outbox import deliver_due, deliver_platform_due, outbox_stats
from shared.settings import Settings, load_settings

log = get_logger(__name__)

DELIVER_OUTBOX = queue.DELIVER_OUTBOX


async def deliver_outbox(ctx: dict[str, Any]) -> dict[str, int]:
    """Send every due outbox message, batch after batch, until none is left."""
    db: Database = ctx["db"]
    settings: Settings = ctx["settings"]
    totals = {"sent": 0, "retried": 0, "failed": 0}
    while (
        await deliver_platform_due(db, settings, worker=ctx["worker_name"])
    ).claimed >= settings.outbox_batch_size:
        pass
    while True:
        report = await deliver_due(db, settings, worker=ctx["worker_name"])
        totals["sent"] += report.sent
        totals["retried"] += report.retried
        totals["failed"] += report.failed
        if report.claimed < settings.outbox_batch_size:
            return totals


def instrumented(fn: Callable[..., Awaitable[Any]], name: str) -> Any:
    """Count each job's outcome and duration for the metrics endpoint."""

    @functools.wraps(fn)
    async def wrapper(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            result = await fn(ctx, *args, **kwargs)
        except Exception:
            metrics.JOBS.labels(name, "failed").inc()
            raise
        finally:
            metrics.JOB_DURATION.labels(name).observe(time.perf_counter() - started)
        metrics.JOBS.labels(name, "succeeded").inc()
        return result

    return wrapper


async def observe_queues(ctx: dict[str, Any]) -> None:
    """Refresh the gauges that describe waiting work: arq's queue and the outbox."""
    metrics.QUEUE_DEPTH.set(await ctx["redis"].zcard(default_queue_name))
    stats = await outbox_stats(ctx["db"])
    metrics.OUTBOX_PENDING.set(stats.pending)
    metrics.OUTBOX_FAILED.set(stats.failed)
    metrics.OUTBOX_OLDEST_AGE.set(stats.oldest_pending_age or 0)


async def _startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    ctx["db"] = Database.from_settings(settings)
    # Jobs that queue follow-up work send it through the worker's own connection.
    queue.use(ctx["redis"])
    log.info("worker started", worker=ctx["worker_name"])


async def _shutdown(ctx: dict[str, Any]) -> None:
    db: Database | None = ctx.get("db")
    if db is not None:
        await db.dispose()


def worker_name(settings: Settings) -> str:
    # In Kubernetes the host name is the pod's name, so `codo worker check` in the same pod finds it.
    return settings.worker_name or socket.gethostname()


def health_check_key(name: str) -> str:
    # arq's default key is shared by every worker; one key each makes it usable as a probe.
    return f"codo:worker:{name}:health-check"


def worker_settings(settings: Settings) -> type:
    """Build arq's WorkerSettings class from our settings."""
    name = worker_name(settings)
    poll = settings.outbox_poll_seconds
    from services.worker.jobs import collect

    domain_functions, domain_cron_jobs = collect()
    functions: list[Function] = [
        dataclasses.replace(f, coroutine=instrumented(f.coroutine, f.name))
        for f in (func(deliver_outbox, name=DELIVER_OUTBOX, keep_result=0), *domain_functions)
    ]
    cron_jobs = [
        cron(
            deliver_outbox,
            name="sweep_outbox",
            second=set(range(0, 60, poll)),
            run_at_startup=True,
            keep_result=0,
        ),
        *domain_cron_jobs,
    ]
    if settings.metrics_enabled:
        cron_jobs.append(
            cron(
                observe_queues,
                name="observe_queues",
                second={0, 15, 30, 45},
                run_at_startup=True,
                keep_result=0,
            )
        )
    cron_jobs = [dataclasses.replace(c, coroutine=instrumented(c.coroutine, c.name)) for c in cron_jobs]

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["settings"] = settings
        ctx["worker_name"] = name
        await _startup(ctx)

    return type(
        "WorkerSettings",
        (),
        {
            "functions": functions,
            "cron_jobs": cron_jobs,
            "redis_settings": RedisSettings.from_dsn(settings.redis_dsn),
            "on_startup": on_startup,
            "on_shutdown": _shutdown,
            "max_jobs": settings.worker_max_jobs,
            "job_timeout": settings.worker_job_timeout,
            "health_check_interval": settings.worker_health_check_interval,
            "health_check_key": health_check_key(name),
            "handle_signals": True,
        },
    )


def run(settings: Settings | None = None) -> None:
    from arq.worker import run_worker

    settings = settings or load_settings()
    configure_logging(settings)
    if settings.metrics_enabled:
        metrics.serve(settings.metrics_port)
    run_worker(worker_settings(settings))
