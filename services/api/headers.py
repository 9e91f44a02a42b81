"""Security headers on every response, added as the response leaves the app.

This runs as the application's ``before_send`` hook, outside routing and error handling, so 404s,
413s and error pages carry the same headers as everything else.
"""

from __future__ import annotations

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


def _encoded(path: str) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-security-policy", content_security_policy(path).encode())]
    if not path.startswith(EMBEDDABLE):
        headers.append((b"x-frame-options", b"DENY"))
    headers += [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
    return headers


# Built once per kind of path instead of for every response.
_API_HEADERS = _encoded("/api/")
_OURS = frozenset(name for name, _ in _encoded("/f/") + _API_HEADERS)


async def security_headers(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    path: str = scope.get("path", "")
    ours = _API_HEADERS if path.startswith("/api/") else _encoded(path)
    # Ours replace any a handler set; every other header stays as it was. One pass: this runs
    # for every response.
    headers = []
    cache_control = None
    for header in message.get("headers") or ():
        name = header[0].lower()
        if name in _OURS:
            continue
        if name == b"cache-control":
            cache_control = header
            continue
        headers.append(header)
    headers += ours
    # Pages and API answers hold personal data: no browser or proxy keeps a copy. A handler
    # that chose its own policy (the calendar feed) keeps it.
    if path.startswith(_CACHEABLE):
        query = scope.get("query_string", b"")
        headers.append((b"cache-control", assets.cache_control(path, query.decode("latin-1")).encode()))
    elif path == assets.FAVICON_PATH:
        headers.append((b"cache-control", assets.REVALIDATE.encode()))
    else:
        headers.append(cache_control or (b"cache-control", b"no-store"))
    message["headers"] = headers
