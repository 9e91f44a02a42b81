"""Limits every request meets before a handler sees it: body size, JSON depth and NUL characters.

A body is checked as bytes, before anything is decoded into Python objects, so an oversized or
deeply nested body costs a few regular-expression passes instead of the event loop. What a
field may hold (length, number of entries, integer range) is declared in the msgspec schemas
(see :mod:`shared.limits`) and checked while decoding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.types import ASGIApp, HTTPReceiveMessage, Receive, Scope, Send

from shared.errors import ValidationFailed

# JSON and form bodies; the spreadsheet upload declares its own, larger limit on its handler.
BODY_MAX_BYTES = 512 * 1024
UPLOAD_MAX_BYTES = 21 * 1024 * 1024
MAX_DEPTH = 32

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A JSON string literal (unrolled, so long strings cost one pass); removing them leaves only
# structure, numbers and literals.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
# An innermost array or object: removing these MAX_DEPTH times empties any document that is
# nested at most MAX_DEPTH levels deep.
_INNERMOST = re.compile(rb"\[[^\[\]{}]*\]|\{[^\[\]{}]*\}")


class TooDeep(ValidationFailed):
    pass


def _has_nul_escape(body: bytes) -> bool:
    """A \\u0000 escape, unless its backslash is itself escaped ("\\\\u0000" is text)."""
    at = body.find(b"\\u0000")
    while at != -1:
        start = at
        while start > 0 and body[start - 1] == 0x5C:
            start -= 1
        if (at - start) % 2 == 0:
            return True
        at = body.find(b"\\u0000", at + 1)
    return False


def check_json(body: bytes) -> None:
    """Refuse NUL characters (PostgreSQL text cannot hold them) and nesting beyond MAX_DEPTH."""
    if b"\x00" in body or _has_nul_escape(body):
        raise ValidationFailed("text must not contain NUL characters (\\u0000)", field="body")
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return
    structure = _STRING.sub(b"", body)
    for _ in range(MAX_DEPTH):
        stripped = _INNERMOST.sub(b"", structure)
        if stripped == structure:
            # Fully reduced, or unbalanced: the JSON decoder names what is malformed.
            return
        structure = stripped
    if _INNERMOST.search(structure):
        raise TooDeep(f"JSON may be nested at most {MAX_DEPTH} levels deep", field="body")


def check_query(raw: bytes) -> None:
    """A NUL anywhere in the query string is refused, naming the parameter."""
    if b"%00" not in raw and b"\x00" not in raw:
        return
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            raise ValidationFailed("must not contain NUL characters", field=key.replace("\x00", ""))
    raise ValidationFailed("the query must not contain NUL characters", field="query")


def check_form(body: bytes) -> None:
    for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            raise ValidationFailed("must not contain NUL characters", field=key.replace("\x00", ""))


def refuse_nul(fields: Iterable[tuple[str, object]]) -> None:
    """The text fields of a multipart form, which the body check above does not parse."""
    for key, value in fields:
        if isinstance(value, str) and "\x00" in value:
            raise ValidationFailed("must not contain NUL characters", field=key)


def _content_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return ""


def _max_body(scope: Scope) -> int:
    handler: Any = scope.get("route_handler")
    limit = handler.resolve_request_max_body_size() if handler is not None else None
    return int(limit) if limit else BODY_MAX_BYTES


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """Answer through the app's exception handlers (problem+json, or an error page), from inside the
    middleware stack so request logging and metrics see the real status."""
    request: Request[Any, Any, Any] = Request(scope, receive)
    handlers = scope["route_handler"].resolve_exception_handlers()
    for kind in type(exc).__mro__:
        if kind in handlers:
            response = handlers[kind](request, exc)
            await response.to_asgi_response(app=None, request=request)(scope, receive, send)
            return
    raise exc


def request_limits_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        try:
            receive = await _checked(scope, receive)
        except (ValidationFailed, HTTPException) as exc:
            await _refuse(scope, receive, send, exc)
            return
        await app(scope, receive, send)

    return middleware


async def _checked(scope: Scope, receive: Receive) -> Receive:
    """Check the query and the body; answer a ``receive`` that replays the body read."""
    check_query(scope.get("query_string", b""))
    if "\x00" in scope["path"] or b"%00" in scope.get("raw_path", b""):
        raise ValidationFailed("the address must not contain NUL characters", field="path")
    limit = _max_body(scope)
    announced = _content_length(scope)
    if announced is not None and announced > limit:
        raise RequestEntityTooLarge(f"the body may be at most {limit // 1024} KiB")
    kind = _content_type(scope)
    if scope.get("method") not in _BODY_METHODS or kind == "multipart/form-data":
        # Multipart bodies (uploads) are streamed by Litestar, which enforces the same limit.
        return receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Any = await receive()
        if message["type"] == "http.disconnect":

            async def disconnected(gone: HTTPReceiveMessage = message) -> HTTPReceiveMessage:
                return gone

            return disconnected
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestEntityTooLarge(f"the body may be at most {limit // 1024} KiB")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    if kind == "application/x-www-form-urlencoded":
        check_form(body)
    elif body.strip():
        check_json(body)
    replayed = False

    async def replay() -> HTTPReceiveMessage:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: Any = await receive()
        return message  # type: ignore[no-any-return]

    return replay


__all__ = [
    "BODY_MAX_BYTES",
    "MAX_DEPTH",
    "UPLOAD_MAX_BYTES",
    "check_form",
    "check_json",
    "check_query",
    "refuse_nul",
    "request_limits_middleware",
]
