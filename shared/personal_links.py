"""Personal links: a URL that opens one person's page without an account.

A link token reads ``<organisation id>.<secret>``. The organisation id lets a public
page enter that organisation's row-level security scope before any lookup, so a link
never causes a cross-organisation query; the secret carries 256 bits of randomness and
only its SHA-256 is stored, so a leaked database cannot be turned into working links.

A malformed token, an unknown one and a foreign one are indistinguishable to callers:
``parse`` answers ``None`` for each, and pages answer the same friendly page.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

SECRET_BYTES = 32
# urlsafe base64 of 32 bytes without padding
_SECRET_LENGTH = 43


@dataclass(frozen=True)
class LinkToken:
    organization_id: uuid.UUID
    digest: bytes


def issue(organization_id: uuid.UUID) -> tuple[str, bytes]:
    """A new token for a link and the digest to store; the token is shown only in the link."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return f"{organization_id.hex}.{secret}", digest(secret)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse(token: str) -> LinkToken | None:
    """The organisation and stored digest a token names, or None for anything malformed."""
    org_part, dot, secret = token.partition(".")
    if not dot or len(org_part) != 32 or len(secret) != _SECRET_LENGTH:
        return None
    if not all(c.isalnum() or c in "-_" for c in secret):
        return None
    try:
        org_id = uuid.UUID(hex=org_part)
    except ValueError:
        return None
    return LinkToken(organization_id=org_id, digest=digest(secret))


async def within_rate(redis: Any, scope: str, key: str, *, limit: int, seconds: int) -> bool:
    """Count one use of ``key`` in a fixed window; False once ``limit`` uses are exceeded.

    Keys are hashed so that no token or address is kept in Redis in the clear.
    """
    name = "codo:rate:" + scope + ":" + hashlib.sha256(key.encode()).hexdigest()
    count = int(await redis.incr(name))
    if count == 1:
        await redis.expire(name, seconds)
    return count <= limit
