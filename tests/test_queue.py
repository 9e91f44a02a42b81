"""Work reaches the worker only for committed transactions, once, over one pool per process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis

from services.worker.main import worker_settings
from shared import queue
from shared.db import Database
from shared.settings import Settings
from tests.conftest import Org


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    queue.configure(settings.redis_dsn)
    pool = await queue._get_pool()
    assert pool is not None
    yield pool


async def _queued(redis: ArqRedis, run: str) -> int:
    """How many jobs for this run wait in the queue."""
    jobs = await redis.queued_jobs()
    return sum(1 for job in jobs if job.function == queue.RUN_MATCHING and run in job.args)


async def _forget(redis: ArqRedis, *runs: str) -> None:
    for job in await redis.queued_jobs():
        if job.function == queue.RUN_MATCHING and set(runs) & set(job.args):
            await redis.delete(f"arq:job:{job.job_id}")
            await redis.zrem("arq:queue", job.job_id)


def _run_job(org: Org) -> tuple[str, str, str]:
    run_id = str(uuid.uuid4())
    return str(org.id), run_id, f"matching-run:{run_id}"


async def test_a_rolled_back_transaction_queues_nothing(db: Database, org_a: Org, redis: ArqRedis) -> None:
    org, run, job_id = _run_job(org_a)
    with pytest.raises(RuntimeError):
        async with db.tenant(org_a.id) as session:
            queue.after_commit(session, queue.RUN_MATCHING, org, run, job_id=job_id)
            raise RuntimeError("the request failed after preparing the run")
    assert await _queued(redis, run) == 0, "a job was queued for a run that was rolled back"


async def test_a_committed_transaction_queues_exactly_once(db: Database, org_a: Org, redis: ArqRedis) -> None:
    org, run, _ = _run_job(org_a)
    async with db.tenant(org_a.id) as session:
        # Without a job id arq would keep both: the queue itself must not send twice.
        queue.after_commit(session, queue.RUN_MATCHING, org, run)
        queue.after_commit(session, queue.RUN_MATCHING, org, run)
        await session.flush()
        assert await _queued(redis, run) == 0, "sent before the transaction committed"
    try:
        assert await _queued(redis, run) == 1
    finally:
        await _forget(redis, run)


async def test_a_rolled_back_savepoint_takes_only_its_own_jobs(
    db: Database, org_a: Org, redis: ArqRedis
) -> None:
    org, kept_run, kept = _run_job(org_a)
    _, dropped_run, dropped = _run_job(org_a)
    async with db.tenant(org_a.id) as session:
        queue.after_commit(session, queue.RUN_MATCHING, org, kept_run, job_id=kept)
        with pytest.raises(RuntimeError):
            async with session.begin_nested():
                queue.after_commit(session, queue.RUN_MATCHING, org, dropped_run, job_id=dropped)
                raise RuntimeError("one row of a batch was refused")
    try:
        assert await _queued(redis, kept_run) == 1
        assert await _queued(redis, dropped_run) == 0
    finally:
        await _forget(redis, kept_run, dropped_run)


async def test_one_pool_serves_every_transaction_of_the_process(
    db: Database, org_a: Org, redis: ArqRedis
) -> None:
    opened = queue.pools_opened()
    ids = []
    for _ in range(5):
        org, run, job_id = _run_job(org_a)
        ids.append(run)
        async with db.tenant(org_a.id) as session:
            queue.after_commit(session, queue.RUN_MATCHING, org, run, job_id=job_id)
    try:
        assert [await _queued(redis, i) for i in ids] == [1] * 5
        assert queue.pools_opened() == opened, "a transaction opened a pool of its own"
    finally:
        await _forget(redis, *ids)


def test_every_job_the_worker_runs_is_listed_in_the_queue(settings: Settings) -> None:
    functions = worker_settings(settings).functions  # type: ignore[attr-defined]
    assert {f.name for f in functions} == queue.JOBS
    with pytest.raises(ValueError, match="no job of the worker"):
        queue.after_commit(None, "run_matchnig")  # type: ignore[arg-type]
