"""The connection pool hands out working connections without a round trip to check them."""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy import text

from shared.db import Database, plain_url
from shared.settings import Settings
from tests.conftest import Org, Servers


async def _backend_pid(db: Database, org: Org) -> int:
    async with db.tenant(org.id) as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_the_server_closed_is_replaced_not_handed_out(
    settings: Settings, servers: Servers, org_a: Org
) -> None:
    db = Database.from_settings(settings)
    try:
        pid = await _backend_pid(db, org_a)
        superuser = await asyncpg.connect(plain_url(servers.superuser_url))
        try:
            assert await superuser.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await superuser.close()
        await asyncio.sleep(0.3)
        # The next unit of work gets a new connection instead of an error about the old one.
        assert await _backend_pid(db, org_a) != pid
    finally:
        await db.dispose()
