"""Request ids and one structured log line per request."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from shared.logs import get_logger
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = get_logger("codo.request")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The metrics' series of each method, route template and status, looked up once: finding a
# labelled series checks and joins its labels every time. Route templates are few.
_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            route: Any = scope.get("path_template") or "unmatched"
            elapsed = time.perf_counter() - started
            method = scope.get("method", "")
            series = _SERIES.get((method, route, status))
            if series is None:
                series = _SERIES[(method, route, status)] = (
                    HTTP_REQUESTS.labels(method, route, str(status)),
                    HTTP_LATENCY.labels(method, route),
                )
            series[0].inc()
            series[1].observe(elapsed)
            # The route template, never the raw path or query: those may hold names or e-mail addresses.
            log.info(
                "request",
                method=method,
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 1),
            )
            structlog.contextvars.clear_contextvars()

    return middleware
