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

from litestar.enums import ScopeType
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.types import ASGIApp, HTTPReceiveMessage, Receive, Scope, Send

from shared.errors import ValidationFailed

# JSON and form bodies; the spreadsheet upload declares its own, larger limit on its handler.
BODY_MAX_BYTES = 1024 * 1024
UPLOAD_MAX_BYTES = 21 * 1024 * 1024
MAX_DEPTH = 32

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A JSON string literal; removing them leaves only structure, numbers and literals.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
# A \u0000 escape that is not itself an escaped backslash followed by "u0000".
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# An innermost array or object: removing these MAX_DEPTH times empties any document that is
# nested at most MAX_DEPTH levels deep.
_INNERMOST = re.compile(rb"\[[^\[\]{}]*\]|\{[^\[\]{}]*\}")


class TooDeep(ValidationFailed):
    pass


def check_json(body: bytes) -> None:
    """Refuse NUL characters (PostgreSQL text cannot hold them) and nesting beyond MAX_DEPTH."""
    if _NUL_ESCAPE.search(body) or b"\x00" in body:
        raise ValidationFailed("text must not contain NUL characters (\\u0000)", field="body")
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


def request_limits_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
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
            await app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message: Any = await receive()
            if message["type"] == "http.disconnect":
                return
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

        await app(scope, replay, send)

    return middleware


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
