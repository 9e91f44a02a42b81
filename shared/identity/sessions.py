"""Server-side web sessions in Redis.

The browser holds only a random id (cookie ``codo_session``); Redis holds the session under the
sha256 of that id, so a copy of Redis yields no usable cookie. Idle timeout is the key's TTL,
renewed on use; the absolute timeout is checked against the sign-in time. Every session carries
its own CSRF token; signing in replaces the session with a new id.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from typing import Any

import msgspec

from shared.settings import Settings

COOKIE = "codo_session"
_PREFIX = "codo:session:"


class WebSession(msgspec.Struct, kw_only=True):
    id: str = ""
    csrf: str
    created_at: float
    user_id: uuid.UUID | None = None
    # Set when signed in through an organisation's own provider: that sign-in vouches for that
    # organisation only, so the session acts in no other.
    only_org: uuid.UUID | None = None
    provider: str | None = None
    id_token: str | None = None
    org_slug: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.user_id is not None


def _key(session_id: str) -> str:
    return _PREFIX + hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(self, redis: Any, settings: Settings) -> None:
        self.redis = redis
        self.idle = settings.session_idle_minutes * 60
        self.absolute = settings.session_absolute_hours * 3600

    async def create(self, **values: Any) -> WebSession:
        session = WebSession(csrf=secrets.token_urlsafe(32), created_at=time.time(), **values)
        session.id = secrets.token_urlsafe(32)
        await self.save(session)
        return session

    async def save(self, session: WebSession) -> None:
        data = msgspec.json.encode(msgspec.structs.replace(session, id=""))
        remaining = int(session.created_at + self.absolute - time.time())
        await self.redis.set(_key(session.id), data, ex=max(1, min(self.idle, remaining)))

    async def load(self, session_id: str | None) -> WebSession | None:
        if not session_id or len(session_id) > 100:
            return None
        # Each use restarts the idle timeout: read and restarted in one round trip (GETEX, Redis 6.2).
        raw = await self.redis.getex(_key(session_id), ex=self.idle)
        if raw is None:
            return None
        session = msgspec.json.decode(raw, type=WebSession)
        session.id = session_id
        if time.time() - session.created_at >= self.absolute:
            await self.destroy(session_id)
            return None
        # Near its absolute end a session gets no more than the time it has left.
        remaining = int(session.created_at + self.absolute - time.time())
        if remaining < self.idle:
            await self.redis.expire(_key(session_id), max(1, remaining))
        return session

    async def destroy(self, session_id: str) -> None:
        await self.redis.delete(_key(session_id))

    async def rotate(self, old: WebSession | None, **values: Any) -> WebSession:
        """A fresh session (new id, new CSRF token) replacing ``old``: done at every sign-in."""
        if old is not None:
            await self.destroy(old.id)
        return await self.create(**values)


async def allow_attempt(redis: Any, bucket: str, limit: int, window: int = 60) -> bool:
    """A fixed-window counter: False once ``bucket`` saw more than ``limit`` attempts in the window."""
    key = f"codo:ratelimit:{bucket}:{int(time.time() // window)}"
    count = await redis.incr(key)
    if count == 1:
        await redis.expire(key, window + 1)
    return bool(count <= limit)
