"""Database access and tenancy.

Every unit of work runs in one transaction that first sets ``codo.org_id`` (and
``codo.system``) with ``set_config(..., true)``: transaction-local, so a pooled
connection can never carry one organisation's context into the next request. The
values are set in an ``after_begin`` event from ``session.info`` so that a
mid-request commit followed by new work is scoped again, not silently unscoped.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, with_loader_criteria
from sqlalchemy.util import await_

from shared import queue
from shared.models import TenantBase
from shared.settings import Settings

ORG_SETTING = "codo.org_id"
SYSTEM_SETTING = "codo.system"
_DRIVER = "codo.driver_connection"


class NoOrganisation(RuntimeError):
    """Tenant work was attempted in a session that belongs to no organisation."""


def current_org(session: AsyncSession) -> uuid.UUID:
    """The organisation a tenant session works in: the ``organization_id`` new rows carry."""
    org: uuid.UUID | None = session.info.get("org_id")
    if org is None:
        raise NoOrganisation("this needs a session of one organisation (Database.tenant)")
    return org


def async_url(url: str) -> str:
    """Accept ``postgresql://``, ``postgres://`` and ``postgresql+asyncpg://``."""
    parsed = make_url(
        url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url
    )
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def plain_url(url: str) -> str:
    """The same URL as asyncpg or psql take it (no SQLAlchemy driver suffix)."""
    return make_url(async_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(settings: Settings, url: str | None = None, *, pool_size: int | None = None) -> AsyncEngine:
    connect_args: dict[str, Any] = {
        "timeout": settings.db_connect_timeout,
        "server_settings": {
            "application_name": "codo",
            "statement_timeout": str(settings.db_statement_timeout_ms),
        },
    }
    if not settings.db_statement_cache:
        # PgBouncer in transaction mode hands each transaction another server connection. It also
        # refuses startup parameters it does not know: set statement_timeout on the role instead.
        connect_args["statement_cache_size"] = 0
        connect_args["prepared_statement_cache_size"] = 0
        del connect_args["server_settings"]["statement_timeout"]
    engine = create_async_engine(
        async_url(url or settings.database_dsn),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        # No pre-ping: it costs a round trip (BEGIN; ROLLBACK) on every checkout. A connection the
        # server or a pooler closed is noticed by asyncpg itself and replaced at checkout (below);
        # recycling retires connections before idle timeouts of firewalls and poolers cut them.
        pool_pre_ping=False,
        pool_recycle=POOL_RECYCLE_SECONDS,
        # jsonb columns (custom fields, preferences) are decoded on every read of a contact.
        json_deserializer=msgspec.json.decode,
        connect_args=connect_args,
        # A statement's values are personal data; errors must not carry them into the logs.
        hide_parameters=True,
    )
    event.listen(engine.sync_engine, "checkout", _replace_closed)
    event.listen(engine.sync_engine, "connect", _plain_jsonb)
    return engine


def _plain_jsonb(dbapi_connection: Any, record: Any) -> None:
    """jsonb as text, decoded by msgspec itself: no Python frame per value.

    SQLAlchemy's codec takes jsonb in binary form and strips its version byte in Python before
    decoding: three calls for each value, a twentieth of a page of contacts (three jsonb values a
    row). SQLAlchemy hands the codec values it has already serialised, so text goes out as it is.
    """
    driver = dbapi_connection.driver_connection
    await_(
        driver.set_type_codec(
            "jsonb", encoder=str, decoder=msgspec.json.decode, schema="pg_catalog", format="text"
        )
    )


POOL_RECYCLE_SECONDS = 1800


def _replace_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Hand out no connection whose socket is already closed: the pool connects anew instead."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the connection was closed by the server")


class CodoSession(Session):
    """Session whose every transaction is scoped to one organisation (or the system context)."""


@event.listens_for(CodoSession, "after_begin")
def _scope_transaction(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    org = session.info.get("org_id")
    system = session.info.get("system")
    session.info[_DRIVER] = connection.connection.driver_connection
    if _begin_scoped(connection, org, bool(system)):
        return
    # Driver SQL: sent on every transaction, so without compiling a statement each time.
    connection.exec_driver_sql(
        f"SELECT set_config('{ORG_SETTING}', $1, true), set_config('{SYSTEM_SETTING}', $2, true)",
        (str(org) if org else "", "on" if system else ""),
    )


@event.listens_for(CodoSession, "after_transaction_end")
def _forget_driver(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_DRIVER, None)


@event.listens_for(CodoSession, "do_orm_execute")
def _name_organisation(state: ORMExecuteState) -> None:
    """Name the session's organisation in every ORM statement on tenant tables (SELECT, UPDATE, DELETE).

    It narrows nothing: row-level security already limits the statement to the organisation. It is
    for the planner. PostgreSQL ORs a table's two policies (the organisation's, the system context's),
    so the policy is no index condition, and a lookup by ``id`` alone walks the whole primary key
    ``(organization_id, id)`` across every organisation: one contact at 1,000 organisations of 1,000
    contacts read 8,000 index pages (120 ms) instead of 4. Statements of the system context and the
    platform name none; driver SQL names its organisation itself.
    """
    org = state.session.info.get("org_id")
    if org is None or not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the criteria travel with the objects the statement loaded (propagate_to_loaders)
    criteria = state.session.info.get(_CRITERIA)
    if criteria is None:
        criteria = state.session.info[_CRITERIA] = _tenant_criteria(org)
    state.statement = state.statement.options(criteria)


_CRITERIA = "codo.tenant_criteria"


def _tenant_criteria(org: uuid.UUID) -> Any:
    # A lambda, so that SQLAlchemy caches the statement once and binds ``org`` as a parameter.
    return with_loader_criteria(TenantBase, lambda cls: cls.organization_id == org, include_aliases=True)


class _ScopedTransaction:
    """The driver's side of a transaction begun together with its scope (see _begin_scoped)."""

    __slots__ = ("_driver",)

    def __init__(self, driver: Any) -> None:
        self._driver = driver

    async def commit(self) -> None:
        await self._driver.execute("COMMIT")

    async def rollback(self) -> None:
        await self._driver.execute("ROLLBACK")


def _begin_scoped(connection: Connection, org: object, system: bool) -> bool:
    """BEGIN and the scope in one round trip instead of two, on asyncpg's default transaction.

    SQLAlchemy's asyncpg adapter sends BEGIN by itself before the first statement, and the scope
    would follow as a statement of its own. Both go here as one simple query, whose values are
    no input: a UUID's text form and a constant. The adapter then commits or rolls back through
    a transaction object of ours. Anything else (another isolation level, a read-only
    transaction, an organisation that is not a UUID) takes the ordinary way.
    """
    adapted = connection.connection.dbapi_connection
    if (
        getattr(adapted, "_transaction", True) is not None
        or getattr(adapted, "isolation_level", "") is not None
        or adapted.readonly  # type: ignore[union-attr]
        or adapted.deferrable  # type: ignore[union-attr]
        or not (org is None or isinstance(org, uuid.UUID))
    ):
        return False
    driver = connection.connection.driver_connection
    if driver is None:
        return False
    scope = _begin_statement(org, system)
    try:
        await_(driver.execute(scope))
    except Exception as error:
        # As for any statement of SQLAlchemy's own: the driver's error becomes a DBAPIError, and a
        # connection found dead is invalidated (the unit of work then tries a fresh one).
        try:
            adapted._handle_exception(error)  # type: ignore[union-attr]
        except Exception as translated:
            connection._handle_dbapi_exception(translated, scope, (), None, None)
        raise
    adapted._transaction = _ScopedTransaction(driver)  # type: ignore[union-attr]
    return True


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection of the session's transaction (scoped like every statement of it).

    For the few statements on every request's path, where building and compiling them through
    SQLAlchemy costs more than running them.
    """
    # The transaction's connection, kept from its start: asking the session for it again costs
    # more than most statements on this path.
    driver = session.info.get(_DRIVER)
    if driver is not None and session.in_transaction():
        return driver
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


def _begin_statement(org: object, system: bool) -> str:
    """BEGIN and the scope as one simple query, for a session's transaction and a bare driver's.

    Only for an organisation that is a UUID (or none): its text form is no input and can go into
    the statement as it is; the system context is a constant.
    """
    return (
        f"BEGIN; SELECT set_config('{ORG_SETTING}', '{org or ''}', true), "
        f"set_config('{SYSTEM_SETTING}', '{'on' if system else ''}', true)"
    )


class Database:
    """The engine and the three ways of opening a unit of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, sync_session_class=CodoSession, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(create_engine(settings))

    async def dispose(self) -> None:
        await self.engine.dispose()

    def session(self, org_id: uuid.UUID | None = None) -> AsyncSession:
        """A session scoped to ``org_id``; without one, tenant tables show nothing."""
        session = self._sessions()
        if org_id is not None:
            session.info["org_id"] = org_id
        return session

    @asynccontextmanager
    async def tenant(self, org_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
        """One transaction in one organisation: committed on success, rolled back on error."""
        async with _unit_of_work(self.session(org_id)) as session:
            yield session

    def tenant_driver(self, org_id: uuid.UUID) -> DriverTransaction:
        """One transaction in one organisation on a bare driver connection from the same pool
        (``async with db.tenant_driver(org) as transaction``: see :class:`DriverTransaction`).

        For requests whose every statement is driver SQL (the API's reads of contacts): a
        session's begin and commit alone (its transaction objects, events and greenlet switches)
        cost more than reading one contact. Scoped exactly as a session's transaction is: BEGIN
        and ``set_config(..., true)`` in one round trip, so nothing outlives the transaction.
        """
        if not isinstance(org_id, uuid.UUID):
            raise TypeError("an organisation id is a UUID")
        return DriverTransaction(self.engine, _begin_statement(org_id, False))

    @asynccontextmanager
    async def platform(self) -> AsyncIterator[AsyncSession]:
        """One transaction on platform tables (organizations, users) with no organisation set."""
        async with _unit_of_work(self.session()) as session:
            yield session

    @asynccontextmanager
    async def system_context(self, reason: str) -> AsyncIterator[AsyncSession]:
        """SYSTEM CONTEXT: sees every organisation's rows.

        Only for the few cross-organisation jobs (outbox delivery, scans that fan out
        per organisation). ``reason`` names the caller so each use is easy to find.
        """
        session = self._sessions()
        session.info["system"] = reason
        async with _unit_of_work(session) as scoped:
            yield scoped


@asynccontextmanager
async def _unit_of_work(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Connect and begin, run the caller's work, commit (or roll back), then send queued jobs."""
    try:
        await _connect(session)
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
    finally:
        try:
            await queue.flush(session)
        finally:
            await _close(session)


async def _close(session: AsyncSession) -> None:
    """Close the session; at once when its transaction has ended and nothing is left to give back.

    After a commit or a rollback the connection is back in the pool, and closing only forgets the
    loaded objects: no round trip. ``AsyncSession.close`` would still run it in a task of its own
    (so that a cancelled request cannot abandon it halfway), and that task was a tenth of the
    database layer's cost on every request. A session still in a transaction (its commit or
    rollback failed) closes that way, to completion.
    """
    sync = session.sync_session
    if sync.in_transaction():
        await session.close()
    else:
        sync.close()


class DriverTransaction:
    """The transaction of :meth:`Database.tenant_driver` and its connection (``connection``).

    Committed when the ``async with`` block ends (or earlier, by :meth:`commit`), rolled back
    on error. A connection that failed or was left mid-statement (a cancelled request) is closed
    instead of going back to the pool. A class, not a generator: it is on every request's path.
    """

    __slots__ = ("_begin", "_engine", "_pooled", "connection")

    def __init__(self, engine: AsyncEngine, begin: str) -> None:
        self._engine = engine
        self._begin = begin
        self._pooled: Any = None
        self.connection: Any = None

    @property
    def open(self) -> bool:
        return self._pooled is not None

    async def __aenter__(self) -> DriverTransaction:
        # Once more on a fresh connection if the pooled one turns out dead (as _connect does).
        for attempt in (1, 2):
            pooled = await self._engine.raw_connection()
            driver: Any = pooled.driver_connection
            try:
                await driver.execute(self._begin)
            except BaseException:
                dead = driver.is_closed()
                _end_driver(pooled, driver, False)
                if dead and attempt == 1:
                    continue
                raise
            self._pooled, self.connection = pooled, driver
            return self
        raise AssertionError("unreachable")

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        if kind is None:
            await self.commit()
        else:
            await self.rollback()

    async def commit(self) -> None:
        """Commit and give the connection back now; the block's end then has nothing left to do."""
        pooled, self._pooled = self._pooled, None
        if pooled is None:
            return
        try:
            await self.connection.execute("COMMIT")
        except BaseException:
            _end_driver(pooled, self.connection, False)
            raise
        _end_driver(pooled, self.connection, True)

    async def rollback(self) -> None:
        pooled, self._pooled = self._pooled, None
        if pooled is None:
            return
        clean = False
        try:
            clean = await _rollback(self.connection)
        finally:
            _end_driver(pooled, self.connection, clean)


async def _rollback(driver: Any) -> bool:
    """Roll back; False if the connection cannot be trusted with the next transaction."""
    if driver.is_closed():
        return False
    try:
        await driver.execute("ROLLBACK")
    except Exception:
        # A statement cancelled halfway may still be running, or the connection broke: its state
        # is unknown. (A cancellation of the rollback itself propagates; the caller closes.)
        return False
    return True


def _end_driver(pooled: Any, driver: Any, clean: bool) -> None:
    """Give the connection back to the pool, or close it there if its transaction did not end cleanly.

    Both without waiting: closing here terminates the socket (no greenlet, nothing a cancellation
    could interrupt), and the pool opens a new connection when one is next needed.
    """
    if clean and not driver.is_closed():
        pooled.close()
    else:
        pooled.invalidate()


async def _connect(session: AsyncSession) -> None:
    """Begin the transaction on a working connection, once more on a fresh one if it was dead.

    Without a pre-ping a connection the server closed while it sat in the pool is found dead by
    its first statement (BEGIN, then the scope). Nothing has been done in the transaction yet,
    so trying once more on a new connection is safe; the pool has already dropped the old one.
    """
    try:
        await session.connection()
    except DBAPIError as exc:
        await session.rollback()
        if not exc.connection_invalidated:
            raise
        await session.connection()
