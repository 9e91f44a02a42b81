"""Migrations: up to head and down to base on an empty database, and in step with the models."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from services.localstack import provision_database
from shared import migrate
from shared.db import async_url, plain_url
from shared.models import Base
from tests.conftest import Servers


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(plain_url(url))
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


async def test_upgrade_to_head_and_downgrade_to_base(servers: Servers) -> None:
    owner_url, _ = await provision_database(
        servers.superuser_url, f"codo_mig_{secrets.token_hex(4)}", servers.password
    )
    await asyncio.to_thread(migrate.upgrade, owner_url)
    assert {
        "organizations",
        "users",
        "memberships",
        "api_tokens",
        "outbox",
        "outbox_attempts",
    } <= await _tables(owner_url)
    await asyncio.to_thread(migrate.downgrade, owner_url, "base")
    assert await _tables(owner_url) == {"alembic_version"}
    await asyncio.to_thread(migrate.upgrade, owner_url)
    assert "outbox" in await _tables(owner_url)


async def test_the_models_match_the_migrated_schema(servers: Servers) -> None:
    engine = create_async_engine(async_url(servers.migrations_url))
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == [], diff
