"""Liveness and readiness for load balancers and Kubernetes probes."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get
from sqlalchemy import text

from shared.logs import get_logger

log = get_logger(__name__)

CHECK_TIMEOUT = 2.0


@get("/health", tags=["operations"], summary="The process is alive")
async def health() -> dict[str, str]:
    return {"status": "ok"}


async def _check_postgres(request: Request[Any, Any, Any]) -> None:
    async with request.app.state.db.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _check_redis(request: Request[Any, Any, Any]) -> None:
    await request.app.state.redis.ping()


@get("/ready", tags=["operations"], summary="PostgreSQL and Redis are reachable")
async def ready(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    checks: dict[str, str] = {}
    for name, check in (("postgres", _check_postgres), ("redis", _check_redis)):
        try:
            await asyncio.wait_for(check(request), CHECK_TIMEOUT)
            checks[name] = "ok"
        except Exception as exc:  # any failure means "not ready", whatever its kind
            log.warning("readiness check failed", check=name, error=type(exc).__name__)
            checks[name] = "unreachable"
    ok = all(v == "ok" for v in checks.values())
    failed = [k for k, v in checks.items() if v != "ok"]
    body: dict[str, Any] = {"status": "ready" if ok else "unavailable", "checks": checks}
    if failed:
        body["detail"] = f"not reachable: {', '.join(failed)}"
    return Response(body, status_code=200 if ok else 503)


ROUTES = [health, ready]
