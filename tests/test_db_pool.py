"""The connection pool hands out working connections without a round trip to check them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.db import Database, plain_url
from shared.settings import Settings
from tests.conftest import Org, Servers


async def _backend_pid(db: Database, org: Org) -> int:
    async with db.tenant(org.id) as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _server_closes(servers: Servers, pid: int) -> None:
    """The server ends the connection of backend ``pid`` while it sits in the pool."""
    superuser = await asyncpg.connect(plain_url(servers.superuser_url))
    try:
        assert await superuser.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await superuser.close()
    await asyncio.sleep(0.3)


async def _cancelled_midway(work: Callable[[], Awaitable[None]]) -> None:
    """Run ``work`` and cancel it while its statement runs, as a request whose client went away."""
    task = asyncio.create_task(work())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_connection_the_server_closed_is_replaced_not_handed_out(
    settings: Settings, servers: Servers, org_a: Org
) -> None:
    db = Database.from_settings(settings)
    try:
        pid = await _backend_pid(db, org_a)
        await _server_closes(servers, pid)
        # The next unit of work gets a new connection instead of an error about the old one.
        assert await _backend_pid(db, org_a) != pid
    finally:
        await db.dispose()


async def test_every_unit_of_work_gives_its_connection_back_committed_failed_or_cancelled(
    settings: Settings, servers: Servers, org_a: Org
) -> None:
    db = Database.from_settings(settings)
    pool = db.engine.sync_engine.pool
    try:
        async with db.tenant(org_a.id) as session:
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
        assert pool.checkedout() == 0  # type: ignore[attr-defined]

        with pytest.raises(DBAPIError):
            async with db.tenant(org_a.id) as session:
                await session.execute(text("SELECT 1/0"))
        assert pool.checkedout() == 0  # type: ignore[attr-defined]

        async def slow() -> None:
            async with db.tenant(org_a.id) as session:
                await session.execute(text("SELECT pg_sleep(5)"))

        await _cancelled_midway(slow)
        assert pool.checkedout() == 0  # type: ignore[attr-defined]

        # The commit itself fails: the server ended the connection during the work.
        superuser = await asyncpg.connect(plain_url(servers.superuser_url))
        try:
            with pytest.raises(DBAPIError):
                async with db.tenant(org_a.id) as session:
                    pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                    assert await superuser.fetchval("SELECT pg_terminate_backend($1)", pid)
                    await asyncio.sleep(0.3)
        finally:
            await superuser.close()
        assert pool.checkedout() == 0  # type: ignore[attr-defined]
        # Whatever connection comes next is outside any transaction and scoped anew.
        for _ in range(3):
            async with db.tenant(org_a.id) as session:
                scope = (await session.execute(text("SELECT current_setting('codo.org_id', true)"))).scalar()
                assert scope == str(org_a.id)
    finally:
        await db.dispose()


async def test_a_bare_driver_transaction_commits_rolls_back_and_never_hands_on_a_broken_connection(
    settings: Settings, servers: Servers, org_a: Org
) -> None:
    """``Database.tenant_driver``: what it wrote is kept on success and gone on error; a cancelled
    request's connection, still mid-statement, is closed rather than pooled; a connection the
    server closed while pooled is replaced; every way out gives the connection back."""
    db = Database.from_settings(settings)
    pool = db.engine.sync_engine.pool
    note = "SELECT count(*) FROM outbox WHERE subject = 'driver test'"
    write = (
        "INSERT INTO outbox (organization_id, id, kind, to_address, subject, body_text) "
        "VALUES ($1, gen_random_uuid(), 'x', 'x@y.example', 'driver test', 'b')"
    )
    try:
        async with db.tenant_driver(org_a.id) as tx:
            await tx.connection.execute(write, org_a.id)
            pid = await tx.connection.fetchval("SELECT pg_backend_pid()")
        assert pool.checkedout() == 0  # type: ignore[attr-defined]
        # Committed early (a request going on in a session): the connection is back at once.
        async with db.tenant_driver(org_a.id) as tx:
            await tx.connection.execute(write, org_a.id)
            await tx.commit()
            assert not tx.open and pool.checkedout() == 0  # type: ignore[attr-defined]
        with pytest.raises(asyncpg.DivisionByZeroError):
            async with db.tenant_driver(org_a.id) as tx:
                await tx.connection.execute(write, org_a.id)
                await tx.connection.fetchval("SELECT 1/0")
        assert pool.checkedout() == 0  # type: ignore[attr-defined]
        async with db.tenant_driver(org_a.id) as tx:
            assert await tx.connection.fetchval(note) == 2, "two committed, the failed one rolled back"
            assert await tx.connection.fetchval("SELECT pg_backend_pid()") == pid, (
                "a clean connection is reused"
            )

        async def slow_driver() -> None:
            async with db.tenant_driver(org_a.id) as tx:
                await tx.connection.execute("SELECT pg_sleep(5)")

        await _cancelled_midway(slow_driver)
        assert pool.checkedout() == 0  # type: ignore[attr-defined]

        async with db.tenant_driver(org_a.id) as tx:
            pid = await tx.connection.fetchval("SELECT pg_backend_pid()")
        await _server_closes(servers, pid)
        for _ in range(3):
            async with db.tenant_driver(org_a.id) as tx:
                assert await tx.connection.fetchval("SELECT pg_backend_pid()") != pid
                assert await tx.connection.fetchval("SELECT current_setting('codo.org_id')") == str(org_a.id)
                assert await tx.connection.fetchval(note) == 2
        assert pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await db.dispose()
