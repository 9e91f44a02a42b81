"""Security headers on every response, added as the response leaves the app.

This runs as the application's ``before_send`` hook, outside routing and error handling, so 404s,
413s and error pages carry the same headers as everything else.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

from services.api.web import assets

# Only what codo serves itself: no inline script or style, no plug-ins, no foreign frames.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
)
# The public sign-up forms are meant to be embedded in an organisation's own website.
EMBEDDABLE = ("/f/",)
# The API reference viewer (vendored Scalar) sets its styles from script at run time.
_VIEWER_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# Static files carry no personal data and may be cached like any asset.
_CACHEABLE = ("/static/",)


def content_security_policy(path: str) -> str:
    if path.startswith("/schema") and not path.endswith((".json", ".yaml")):
        return _VIEWER_CSP
    if path.startswith(EMBEDDABLE):
        # No frame-ancestors at all: "*" would still refuse pages without an origin of their own.
        return _CSP.rstrip("; ")
    return _CSP + "frame-ancestors 'none'"


async def security_headers(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    path: str = scope.get("path", "")
    message["headers"] = list(message.get("headers") or [])
    headers = MutableScopeHeaders.from_message(message)
    headers["Content-Security-Policy"] = content_security_policy(path)
    if not path.startswith(EMBEDDABLE):
        headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    # Pages and API answers hold personal data: no browser or proxy keeps a copy. A handler
    # that chose its own policy (the calendar feed) keeps it.
    if path.startswith(_CACHEABLE):
        query = scope.get("query_string", b"")
        headers["Cache-Control"] = assets.cache_control(path, query.decode("latin-1"))
    elif path == assets.FAVICON_PATH:
        headers["Cache-Control"] = assets.REVALIDATE
    elif "cache-control" not in headers:
        headers["Cache-Control"] = "no-store"
