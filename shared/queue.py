"""The one way to hand work to the worker: after the transaction that prepared it commits.

Domain code and pages call :func:`after_commit` with the session whose transaction wrote the
work (an import, an export, a run, an outbox message). The job is remembered in
``session.info`` and only sent once that transaction commits; a rollback (also of a savepoint
the job was queued in) forgets it, so no job ever runs for work that does not exist.
:class:`shared.db.Database` sends what committed when its unit of work ends; code that commits
a session of its own calls :func:`flush` afterwards.

Every process keeps one arq pool (per event loop) for all its sends; the worker hands in its
own with :func:`use`. Sending is best effort: if Redis is away, each job's periodic sweep
finds the work in the database, which stays the source of truth.

The worker's job names are listed here, so the sender and the worker cannot drift apart.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from shared.logs import get_logger

log = get_logger(__name__)

# --- the worker's job names --------------------------------------------------------------------

DELIVER_OUTBOX = "deliver_outbox"
CONTACTS_RUN_IMPORT = "contacts_run_import"
CONTACTS_RUN_EXPORT = "contacts_run_export"
CONTACTS_APPLY_RETENTION = "contacts_apply_retention"
RUN_MATCHING = "run_matching"
SEND_TASK_REMINDERS = "send_task_reminders"
RUN_TASK_RULES = "run_task_rules"
INTAKE_CERTIFICATE_REMINDERS = "intake_certificate_reminders"
INTAKE_PURGE_SUBMISSIONS = "intake_purge_submissions"
PURGE_STALE_INVITATIONS = "purge_stale_invitations"
REPORTING_RUN_EXPORT = "reporting_run_export"
REPORTING_REFRESH_DASHBOARD = "reporting_refresh_dashboard"
MEETING_LOG_REMINDERS = "meeting_log_reminders"
SEND_QUESTIONNAIRES = "send_questionnaires"

JOBS = frozenset(
    {
        DELIVER_OUTBOX,
        CONTACTS_RUN_IMPORT,
        CONTACTS_RUN_EXPORT,
        CONTACTS_APPLY_RETENTION,
        RUN_MATCHING,
        SEND_TASK_REMINDERS,
        RUN_TASK_RULES,
        INTAKE_CERTIFICATE_REMINDERS,
        INTAKE_PURGE_SUBMISSIONS,
        PURGE_STALE_INVITATIONS,
        REPORTING_RUN_EXPORT,
        REPORTING_REFRESH_DASHBOARD,
        MEETING_LOG_REMINDERS,
        SEND_QUESTIONNAIRES,
    }
)

# One message wakes the delivery however many were written: arq keeps one job per id.
DELIVER_OUTBOX_ID = "deliver-outbox"

_PENDING = "codo.queue.pending"
_COMMITTED = "codo.queue.committed"


@dataclass(frozen=True)
class Job:
    function: str
    args: tuple[Any, ...] = ()
    job_id: str | None = None


@dataclass
class _Pending:
    job: Job
    # The innermost transaction (a savepoint, or the outer one) the job was queued in.
    transaction: SessionTransaction | None = field(default=None)


def after_commit(
    session: AsyncSession | Session, function: str, *args: Any, job_id: str | None = None
) -> None:
    """Queue ``function(*args)`` once the session's current transaction commits."""
    if function not in JOBS:
        raise ValueError(f"{function!r} is no job of the worker (see shared.queue.JOBS)")
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    pending: list[_Pending] = sync.info.setdefault(_PENDING, [])
    job = Job(function, tuple(args), job_id)
    if any(p.job == job for p in pending):
        return
    pending.append(_Pending(job, sync.get_nested_transaction() or sync.get_transaction()))


def wake_outbox(session: AsyncSession | Session) -> None:
    """Ask a worker to deliver the outbox as soon as this transaction's messages are committed."""
    after_commit(session, DELIVER_OUTBOX, job_id=DELIVER_OUTBOX_ID)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    pending: list[_Pending] = session.info.pop(_PENDING, [])
    if pending:
        committed: list[Job] = session.info.setdefault(_COMMITTED, [])
        committed.extend(p.job for p in pending if p.job not in committed)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending: list[_Pending] = session.info.get(_PENDING, [])
    if not pending:
        return
    if previous_transaction.nested:
        # Only what was queued inside the savepoint (or deeper) goes with it.
        session.info[_PENDING] = [p for p in pending if not _inside(p.transaction, previous_transaction)]
    else:
        session.info.pop(_PENDING, None)


def _inside(transaction: SessionTransaction | None, savepoint: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is savepoint:
            return True
        transaction = transaction.parent
    return False


async def flush(session: AsyncSession | Session) -> int:
    """Send the jobs whose transactions committed; returns how many reached Redis."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    jobs: list[Job] = sync.info.pop(_COMMITTED, [])
    sent = 0
    for job in jobs:
        sent += await send(job.function, *job.args, job_id=job.job_id)
    return sent


# --- the pool ----------------------------------------------------------------------------------

_redis_dsn: str | None = None
# One pool per event loop: a pool's connections belong to the loop that opened them (the API and
# the worker each run one loop; a test server in its own thread runs another).
_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[ArqRedis, bool]] = (
    weakref.WeakKeyDictionary()
)
_pools_opened = 0


def configure(redis_dsn: str) -> None:
    """Where this process's jobs go; called once by the API's and the CLI's start."""
    global _redis_dsn
    _redis_dsn = redis_dsn


def use(pool: ArqRedis) -> None:
    """Send through an existing pool (the worker's own connection)."""
    _pools[asyncio.get_running_loop()] = (pool, False)


def pools_opened() -> int:
    """How many pools this process has opened so far."""
    return _pools_opened


async def _get_pool() -> ArqRedis | None:
    global _pools_opened
    loop = asyncio.get_running_loop()
    if loop in _pools:
        return _pools[loop][0]
    if _redis_dsn is None:
        log.warning("the queue is not configured; jobs wait for the worker's sweep")
        return None
    settings = RedisSettings.from_dsn(_redis_dsn)
    settings.conn_timeout = 2
    pool = await create_pool(settings, retry=0)
    if loop in _pools:  # another task of this loop was quicker
        await pool.aclose()
        return _pools[loop][0]
    _pools[loop] = (pool, True)
    _pools_opened += 1
    return pool


async def send(function: str, *args: Any, job_id: str | None = None) -> bool:
    """Queue a job now, outside any transaction (the CLI after its commit, the worker's fan-out)."""
    if function not in JOBS:
        raise ValueError(f"{function!r} is no job of the worker (see shared.queue.JOBS)")
    try:
        pool = await _get_pool()
        if pool is None:
            return False
        await pool.enqueue_job(function, *args, _job_id=job_id)
        return True
    except Exception as exc:  # Redis away: the periodic sweeps find the work in the database
        log.warning("could not reach the queue", job=function, error=type(exc).__name__)
        return False


async def close() -> None:
    """Close this loop's pool if this module opened it (not one handed in with :func:`use`)."""
    entry = _pools.pop(asyncio.get_running_loop(), None)
    if entry is not None and entry[1]:
        await entry[0].aclose()
