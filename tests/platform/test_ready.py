"""/ready follows PostgreSQL and Redis going away and coming back (servers of this test's own)."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from services.api.app import create_app
from services.localstack import EmbeddedPostgres, EmbeddedRedis, free_port, provision_database
from tests.conftest import Servers, make_settings


async def _ready(client: AsyncTestClient[Any]) -> tuple[int, dict[str, Any]]:
    r = await client.get("/ready")
    return r.status_code, r.json()


async def test_ready_reports_which_backend_is_down_and_recovers(
    tmp_path: Path, servers: Servers, smtp_port: int
) -> None:
    pg = EmbeddedPostgres(tmp_path / "pg", free_port())
    redis = EmbeddedRedis(tmp_path / "redis", free_port(), persist=False)
    pg.init()
    pg.start()
    redis.start()
    try:
        _, app_url = await provision_database(pg.superuser_url, "codo", secrets.token_urlsafe(8))
        settings = make_settings(
            servers, smtp_port, database_url=app_url, redis_url=redis.url, db_connect_timeout=1.0
        )
        async with AsyncTestClient(app=create_app(settings)) as client:
            assert await _ready(client) == (
                200,
                {"status": "ready", "checks": {"postgres": "ok", "redis": "ok"}},
            )

            await asyncio.to_thread(pg.stop)
            status, body = await _ready(client)
            assert status == 503
            assert body["checks"] == {"postgres": "unreachable", "redis": "ok"}
            assert "postgres" in body["detail"]
            assert (await client.get("/health")).status_code == 200, "liveness must not follow the database"

            await asyncio.to_thread(pg.start)
            assert (await _ready(client))[0] == 200

            await asyncio.to_thread(redis.stop)
            status, body = await _ready(client)
            assert status == 503 and body["checks"] == {"postgres": "ok", "redis": "unreachable"}
            await asyncio.to_thread(redis.start)
            assert (await _ready(client))[0] == 200
    finally:
        redis.stop()
        pg.stop()
