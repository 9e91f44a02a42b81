"""Static files with a content hash in their address, so browsers may keep them for a year.

Templates write ``{{ static_url("codo.css") }}``, which gives ``/static/codo.css?v=<hash>``. A changed
file gets a new hash and so a new address: no one keeps a stale stylesheet after a release. Only an
address whose hash matches the file's current content is marked immutable; any other request for a
static file may be cached briefly and revalidated.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/static/"
FAVICON_PATH = "/favicon.ico"
VERSION_PARAM = "v"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=300, must-revalidate"


@cache
def static_version(name: str) -> str | None:
    """The first 12 hex digits of the file's SHA-256, or None for a file that does not exist."""
    path = (STATIC / name).resolve()
    if STATIC not in path.parents or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    version = static_version(name)
    if version is None:
        raise LookupError(f"no static file {name!r}")
    return f"{PREFIX}{name}?{VERSION_PARAM}={version}"


def cache_control(path: str, query: str) -> str:
    """The Cache-Control of a response to ``/static/<name>?<query>``."""
    name = path[len(PREFIX) :]
    wanted = [p.partition("=")[2] for p in query.split("&") if p.startswith(f"{VERSION_PARAM}=")]
    if wanted and wanted[0] == static_version(name):
        return IMMUTABLE
    return REVALIDATE
