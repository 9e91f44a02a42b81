"""The history takes over the audit log: an organisation's earlier entries stay readable."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import asyncpg

from services.localstack import provision_database
from shared import migrate
from shared.db import plain_url
from tests.conftest import Servers


async def test_upgrading_moves_the_audit_log_into_the_history_and_back(servers: Servers) -> None:
    owner_url, _ = await provision_database(
        servers.superuser_url, f"codo_hist_{secrets.token_hex(4)}", servers.password
    )
    await asyncio.to_thread(migrate.upgrade, owner_url, "0002_identity")
    await asyncio.to_thread(migrate.upgrade, owner_url, "0007_intake")
    org, entry = uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(plain_url(owner_url))
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('codo.system', 'on', true)")
            await conn.execute(
                "INSERT INTO organizations (id, slug, name) VALUES ($1, 'alt', 'Alt e. V.')", org
            )
            await conn.execute(
                "INSERT INTO audit_log (organization_id, id, actor, action, target, details) "
                "VALUES ($1, $2, 'ada@alt.example', 'member.role_changed', 'bo@alt.example', "
                """'{"old": "viewer", "new": "admin"}')""",
                org,
                entry,
            )
        await asyncio.to_thread(migrate.upgrade, owner_url)
        async with conn.transaction():
            await conn.execute("SELECT set_config('codo.system', 'on', true)")
            row = await conn.fetchrow("SELECT * FROM history WHERE id = $1", entry)
            tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables")}
        assert (row["entity"], row["action"], row["actor"], row["target"]) == (
            "member",
            "role_changed",
            "ada@alt.example",
            "bo@alt.example",
        )
        assert row["actor_kind"] == "system" and "audit_log" not in tables
        await asyncio.to_thread(migrate.downgrade, owner_url, "0007_intake")
        async with conn.transaction():
            await conn.execute("SELECT set_config('codo.system', 'on', true)")
            back = await conn.fetchrow("SELECT action, target FROM audit_log WHERE id = $1", entry)
        assert (back["action"], back["target"]) == ("member.role_changed", "bo@alt.example")
    finally:
        await conn.close()
