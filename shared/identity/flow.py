"""The sign-in flow around the provider round trip.

``begin`` resolves the provider, creates state, nonce and PKCE verifier and keeps them in Redis
for ten minutes, bound to the browser's session, the organisation, the provider and the
invitation. ``finish`` takes the state back exactly once (a replayed or foreign state is
refused), redeems the code, verifies the id_token and completes the sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

import msgspec

from shared.db import Database
from shared.identity import members, providers, signin
from shared.identity.oidc import OidcClient, OidcError, Provider
from shared.identity.signin import SignedIn, SignInRefused
from shared.logs import get_logger
from shared.organizations import get_by_slug
from shared.settings import Settings

log = get_logger(__name__)

STATE_SECONDS = 600
_PREFIX = "codo:oidc-state:"


class PendingSignIn(msgspec.Struct):
    provider: str
    org_id: uuid.UUID | None
    invitation: str | None
    nonce: str
    code_verifier: str
    browser: str
    next: str | None


def _browser(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def safe_next(value: str | None) -> str | None:
    """Only a path on this site: never an open redirect."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")) and len(value) < 500:
        return value
    return None


async def resolve_provider(db: Database, settings: Settings, key: str, org_id: uuid.UUID | None) -> Provider:
    if key.startswith("platform:"):
        found = providers.platform_provider(settings, key)
        if found is None:
            raise SignInRefused("unknown-provider")
        return found
    if key == providers.ORG_KEY and org_id is not None:
        async with db.tenant(org_id) as session:
            own = await providers.org_provider(session, settings, org_id)
        if own is None:
            raise SignInRefused("unknown-provider")
        return own
    raise SignInRefused("unknown-provider")


def session_provider_key(provider: Provider) -> str:
    return provider.key if provider.org_id is None else f"{providers.ORG_KEY}:{provider.org_id.hex}"


async def provider_of_session(db: Database, settings: Settings, key: str | None) -> Provider | None:
    """The provider a session signed in with, for RP-initiated logout."""
    if not key:
        return None
    org_id: uuid.UUID | None = None
    if key.startswith(f"{providers.ORG_KEY}:"):
        try:
            org_id = uuid.UUID(hex=key.partition(":")[2])
        except ValueError:
            return None
        key = providers.ORG_KEY
    try:
        return await resolve_provider(db, settings, key, org_id)
    except SignInRefused:
        return None


async def begin(
    db: Database,
    redis: Any,
    oidc: OidcClient,
    settings: Settings,
    *,
    provider_key: str,
    org_slug: str | None,
    invitation: str | None,
    next_path: str | None,
    session_id: str,
) -> str:
    """The provider's authorization URL to send the browser to."""
    org_id: uuid.UUID | None = None
    if invitation:
        org_id = members.invitation_org(invitation)
        if org_id is None:
            raise SignInRefused("invitation-invalid")
    elif org_slug:
        async with db.platform() as session:
            org = await get_by_slug(session, org_slug)
        if org is None:
            raise SignInRefused("unknown-organisation")
        org_id = org.id
    provider = await resolve_provider(db, settings, provider_key, org_id)
    try:
        auth = await oidc.authorize(provider, providers.redirect_uri(settings))
    except OidcError as exc:
        _log_refusal(provider, exc)
        raise
    pending = PendingSignIn(
        provider=provider_key,
        org_id=org_id,
        invitation=invitation,
        nonce=auth.nonce,
        code_verifier=auth.code_verifier,
        browser=_browser(session_id),
        next=safe_next(next_path),
    )
    await redis.set(_PREFIX + auth.state, msgspec.json.encode(pending), ex=STATE_SECONDS)
    return auth.url


async def finish(
    db: Database,
    redis: Any,
    oidc: OidcClient,
    settings: Settings,
    *,
    state: str | None,
    code: str | None,
    error: str | None,
    session_id: str | None,
) -> tuple[SignedIn, Provider, str, str | None]:
    """Complete the sign-in; returns who signed in, through which provider, their id_token and where to go."""
    if not state or len(state) > 200:
        raise SignInRefused("state-invalid")
    # GETDEL: a state is good for one callback, whatever its outcome.
    raw = await redis.getdel(_PREFIX + state)
    if raw is None:
        raise SignInRefused("state-invalid")
    pending = msgspec.json.decode(raw, type=PendingSignIn)
    if session_id is None or not hmac.compare_digest(pending.browser, _browser(session_id)):
        raise SignInRefused("state-invalid")
    if error:
        raise SignInRefused("provider-error")
    if not code:
        raise SignInRefused("state-invalid")
    provider = await resolve_provider(db, settings, pending.provider, pending.org_id)
    try:
        claims, id_token = await oidc.redeem(
            provider,
            code=code,
            code_verifier=pending.code_verifier,
            redirect_uri=providers.redirect_uri(settings),
            nonce=pending.nonce,
        )
    except OidcError as exc:
        _log_refusal(provider, exc)
        raise SignInRefused(exc.reason) from None
    signed_in = await signin.complete(
        db, provider, claims, org_id=pending.org_id, invitation=pending.invitation
    )
    return signed_in, provider, id_token, pending.next


def _log_refusal(provider: Provider, exc: OidcError) -> None:
    # The visitor sees only the reason; the operator needs the detail (e.g. a refused address).
    log.warning("sign-in provider failed", provider=provider.key, reason=exc.reason, detail=exc.detail)
