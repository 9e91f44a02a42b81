"""Errors on pages are pages: the JSON API keeps its problem+json, a browser gets HTML."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect, Template
from litestar.types import ExceptionHandler, ExceptionHandlersMap

from shared.errors import DomainError, Forbidden
from shared.logs import get_logger

from . import i18n
from .context import REFUSAL, Refusal, SignInRequired, locale_of

log = get_logger(__name__)

CHECK_VALUES = i18n._("Please check the values you entered.")
_MACHINE_PATHS = ("/api/", "/schema", "/health", "/ready", "/static/", "/metrics")
_PAGE_PATHS = ("/o/", "/f/", "/signin", "/auth/", "/invite/", "/lang", "/switch")


def is_page(request: Request[Any, Any, Any]) -> bool:
    """Pages answer errors in HTML; so does any other address a browser asks for HTML."""
    path = request.url.path
    if path.startswith(_MACHINE_PATHS):
        return False
    return path == "/" or path.startswith(_PAGE_PATHS) or "text/html" in request.headers.get("accept", "")


def error_page(request: Request[Any, Any, Any], status: int, detail: str) -> Response[Any]:
    locale = locale_of(request)
    return Template(
        template_name="error.html",
        context={"locale": locale, "status": status, "detail": detail, "org": None, "user": None, "orgs": []},
        status_code=status,
    )


def refused_page(refusal: Refusal, exc: Forbidden) -> Response[Any]:
    """A page the member's role does not open: which roles do, and whom to ask for one."""
    page = refusal.page
    quote = "„{}“" if page.locale == "de" else "“{}”"
    needed = [quote.format(page._(role.value)) for role in refusal.roles]
    detail = i18n.message(page.locale, exc)
    return page.render(
        "forbidden.html", status_code=403, detail=detail, needed=needed, ask=refusal.ask, nav=None
    )


def _wrap(api_handler: ExceptionHandler[Any]) -> ExceptionHandler[Any]:
    def handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        if not is_page(request):
            return api_handler(request, exc)
        refusal: Refusal | None = request.scope.get(REFUSAL)  # type: ignore[assignment]
        if isinstance(exc, Forbidden) and refusal is not None:
            return refused_page(refusal, exc)
        if isinstance(exc, DomainError):
            return error_page(request, exc.status, i18n.message(locale_of(request), exc))
        if isinstance(exc, ValidationException):
            # Litestar words a refused form for programmers; the person is told to look again.
            return error_page(request, 400, i18n.gettext(locale_of(request), CHECK_VALUES))
        if isinstance(exc, HTTPException):
            return error_page(request, exc.status_code, i18n.gettext(locale_of(request), exc.detail))
        log.exception("unhandled error on a page", error=type(exc).__name__)
        return error_page(request, 500, "Something went wrong on our side; the change was not saved.")

    return handler


def _sign_in(request: Request[Any, Any, Any], exc: SignInRequired) -> Response[Any]:
    if request.headers.get("hx-request"):
        return Response(content="", status_code=401, headers={"HX-Redirect": exc.target})
    return Redirect(exc.target, status_code=303)


def exception_handlers(api: ExceptionHandlersMap) -> ExceptionHandlersMap:
    handlers: ExceptionHandlersMap = {key: _wrap(value) for key, value in api.items()}
    handlers[SignInRequired] = _sign_in
    return handlers
