"""API tokens: hashed at rest, shown once, scoped to one organisation and a role, revocable.

A token reads ``codo_<organisation id>_<secret>``. The organisation id lets the API
look the token up inside that organisation's row-level security scope without any
cross-organisation query; the secret carries 256 bits of randomness.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.cache import TtlCache
from shared.db import current_org, driver_connection
from shared.errors import Forbidden, NotFound, ValidationFailed
from shared.models import ApiToken
from shared.pagination import Page, decode_cursor, encode_cursor
from shared.permissions import Role, can_grant

PREFIX = "codo_"
# Writing last_used_at on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    role: str
    hint: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    created_by_membership_id: uuid.UUID | None
    created_by_token_id: uuid.UUID | None


class NewToken(TokenOut):
    """A token as created: the only time its secret is shown."""

    token: str


class TokenRejected(Exception):
    """The presented token is malformed, unknown, revoked or expired (the message says which)."""


def token_out(t: ApiToken) -> TokenOut:
    return TokenOut(
        id=t.id,
        name=t.name,
        role=t.role,
        hint=t.hint,
        created_at=t.created_at,
        last_used_at=t.last_used_at,
        expires_at=t.expires_at,
        revoked_at=t.revoked_at,
        created_by_membership_id=t.created_by_membership_id,
        created_by_token_id=t.created_by_token_id,
    )


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def parse_organization(token: str) -> uuid.UUID:
    """The organisation a token claims to belong to (not yet verified)."""
    if not token.startswith(PREFIX):
        raise TokenRejected("not a codo API token")
    org_hex, _, secret = token[len(PREFIX) :].partition("_")
    if len(org_hex) != 32 or len(secret) < 32:
        raise TokenRejected("not a codo API token")
    try:
        return uuid.UUID(hex=org_hex)
    except ValueError:
        raise TokenRejected("not a codo API token") from None


async def create_token(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    name: str,
    role: Role,
    expires_at: datetime | None = None,
    granted_by: Role | None = None,
    created_by_membership_id: uuid.UUID | None = None,
    created_by_token_id: uuid.UUID | None = None,
) -> NewToken:
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed("the name must be 1 to 100 characters", field="name")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise ValidationFailed("expires_at must lie in the future", field="expires_at")
    if granted_by is not None and not can_grant(granted_by, role):
        raise Forbidden(
            "a token with the role %(granted_by)s cannot create one with the role %(role)s",
            granted_by=granted_by.value,
            role=role.value,
        )
    secret = secrets.token_urlsafe(32)
    raw = f"{PREFIX}{org_id.hex}_{secret}"
    token = ApiToken(
        organization_id=org_id,
        name=name,
        role=role.value,
        token_hash=digest(raw),
        hint=secret[:6],
        expires_at=expires_at,
        created_by_membership_id=created_by_membership_id,
        created_by_token_id=created_by_token_id,
    )
    session.add(token)
    await session.flush()
    await session.refresh(token)
    return NewToken(token=raw, **msgspec.structs.asdict(token_out(token)))


class Caller(msgspec.Struct, frozen=True):
    """The token a request presented, as far as answering the request needs it."""

    id: uuid.UUID
    name: str
    role: str


# Plain SQL on the transaction's connection, no ORM instance. The organisation is named so that
# its unique index (organization_id, token_hash) finds the row: the policy is no index condition.
_BY_HASH = (
    "SELECT id, name, role, revoked_at, expires_at, last_used_at FROM api_tokens"
    " WHERE organization_id = $1 AND token_hash = $2"
)
_STAMP = "UPDATE api_tokens SET last_used_at = $3 WHERE organization_id = $1 AND id = $2"


# A token found usable, per process, keyed by its organisation and hash: an integrator's every
# request skips the lookup. Revoking drops the entry in the revoking process at once; another
# process or replica may accept the token for at most this long afterwards. A lookup is one round
# trip that a per-organisation revision check would cost as well, so the bound is a short TTL, not
# an invalidation message. Unknown, revoked and expired tokens are never cached.
TOKEN_CACHE_SECONDS = 5.0
_USABLE: TtlCache[tuple[Caller, datetime | None]] = TtlCache(ttl_seconds=TOKEN_CACHE_SECONDS)


async def authenticate(session: AsyncSession, raw: str, now: datetime | None = None) -> Caller:
    """Find the token in the session's organisation; raise :class:`TokenRejected` if it may not be used."""
    org = current_org(session)
    hit = cached(org, raw, now)
    if hit is not None:
        return hit
    return await authenticate_on(await driver_connection(session), org, raw, now)


def cached(org: uuid.UUID, raw: str, now: datetime | None = None) -> Caller | None:
    """The token's caller if this process found it usable a moment ago, without a round trip."""
    hit = _USABLE.get((org, digest(raw)))
    if hit is not None and (hit[1] is None or hit[1] > (now or datetime.now(UTC))):
        return hit[0]
    return None


async def authenticate_on(connection: Any, org: uuid.UUID, raw: str, now: datetime | None = None) -> Caller:
    """:func:`authenticate` on a driver connection scoped to ``org`` (see ``Database.tenant_driver``)."""
    now = now or datetime.now(UTC)
    key = (org, digest(raw))
    row = await connection.fetchrow(_BY_HASH, *key)
    if row is None:
        raise TokenRejected("unknown token")
    token_id, name, role, revoked_at, expires_at, last_used_at = row
    if revoked_at is not None:
        raise TokenRejected("this token has been revoked")
    if expires_at is not None and expires_at <= now:
        raise TokenRejected("this token has expired")
    # Stamped at most once a minute, and only when the cache misses (every few seconds at most).
    if last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION:
        await connection.execute(_STAMP, org, token_id, now)
    caller = Caller(id=token_id, name=name, role=role)
    _USABLE.put(key, (caller, expires_at))
    return caller


def forget_token(session: AsyncSession, token_id: uuid.UUID) -> None:
    """Drop a token from this process's cache now and again when the session commits.

    Again after the commit: a request that looked the token up while the revocation was not yet
    committed could otherwise have put it back.
    """

    def drop(*_: object) -> None:
        _USABLE.drop_where(lambda value: value[0].id == token_id)

    drop()
    event.listen(session.sync_session, "after_commit", drop, once=True)


async def list_tokens(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[TokenOut]:
    query = select(ApiToken).order_by(ApiToken.id).limit(limit + 1)
    if cursor:
        query = query.where(ApiToken.id > decode_cursor(cursor))
    rows = list((await session.execute(query)).scalars())
    items = [token_out(t) for t in rows[:limit]]
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)


async def revoke_token(
    session: AsyncSession, token_id: uuid.UUID, *, revoked_by: Role | None = None
) -> TokenOut:
    """Revoke a token; ``revoked_by`` (the caller's role) may only act on tokens at or below it."""
    token = (await session.execute(select(ApiToken).where(ApiToken.id == token_id))).scalar_one_or_none()
    if token is None:
        raise NotFound("no such token")
    if revoked_by is not None and not can_grant(revoked_by, Role(token.role)):
        raise Forbidden(
            "the role %(role)s cannot revoke a token with the role %(role2)s",
            role=revoked_by.value,
            role2=token.role,
        )
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        await session.flush()
        forget_token(session, token.id)
    return token_out(token)
