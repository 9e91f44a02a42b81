"""RFC 9457 problem+json for every error the API answers with."""

from __future__ import annotations

import re
from typing import Any

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from shared.errors import DomainError
from shared.logs import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:codo:problem:"

_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("too-large", "Request too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation", "Invalid input"),
    429: ("rate-limited", "Too many requests"),
    503: ("unavailable", "Service unavailable"),
}


def problem(
    status: int,
    detail: str,
    *,
    type_: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    default_type, default_title = _TITLES.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": TYPE_BASE + (type_ or default_type),
        "title": title or default_title,
        "status": status,
        "detail": detail,
    }
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id:
        body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _json(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def _domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    """The English ``detail`` as always, plus the stable ``message_id`` and its ``params``: a client
    tells errors apart (or translates them) without parsing English."""
    errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
    return problem(
        exc.status,
        exc.detail,
        type_=exc.type,
        title=exc.title,
        field=exc.field,
        errors=errors,
        message_id=exc.message_id,
        params={k: _json(v) for k, v in exc.params.items()} or None,
    )


_MISSING = re.compile(r"(?:missing required|contains unknown) field `([^`]+)`")
_AT = re.compile(r" - at `\$\.([^`]+)`")


def _field_of(key: str | None, message: str) -> str | None:
    """The field a body error is about: msgspec names it in the message, Litestar only says 'data'."""
    if match := _MISSING.search(message):
        return match.group(1)
    if match := _AT.search(message):
        return match.group(1)
    return key


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            message = str(item.get("message", ""))
            errors.append(
                {
                    "field": _field_of(item.get("key"), message),
                    "message": _AT.sub("", message),
                    "in": item.get("source"),
                }
            )
    field = errors[0]["field"] if errors else None
    detail = (
        "; ".join(f"{e['field']}: {e['message']}" if e["field"] else str(e["message"]) for e in errors)
        if errors
        else exc.detail
    )
    return problem(400, detail, type_="validation", title="Invalid input", field=field, errors=errors or None)


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    headers = dict(exc.headers or {})
    if isinstance(exc, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="codo"')
    return problem(exc.status_code, exc.detail, headers=headers or None)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error", path=request.scope.get("route_handler").__class__.__name__)
    return problem(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "something went wrong on our side; the change was not saved",
        type_="internal",
        title="Internal error",
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: _domain_error,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "MediaType", "problem"]
