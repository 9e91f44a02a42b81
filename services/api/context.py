"""Who is calling, in which organisation: one transaction per request under row-level security."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import AsyncGenerator, Awaitable
from dataclasses import dataclass
from typing import Any

import structlog
from litestar import Controller, Request
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.scope import database, find_organisation, member_scope, require
from shared import history, organizations, tokens
from shared.actor import Actor
from shared.db import driver_connection
from shared.errors import Forbidden, NotFound
from shared.identity.sessions import COOKIE, SessionStore
from shared.organizations import OrgRef
from shared.permissions import Permission, Role

# A route whose every statement is driver SQL says so with ``opt=DRIVER_READS`` (always) or with a
# predicate of the request (for example: a list without filters). An API token's request to it
# runs in a bare driver transaction (``Database.tenant_driver``) instead of a session: the
# handler reads through ``await ctx.connection()``, and ``ctx.session`` refuses.
DRIVER_READS_KEY = "codo.driver_reads"


def _always(request: Request[Any, Any, Any]) -> bool:
    return True


DRIVER_READS: dict[str, Any] = {DRIVER_READS_KEY: _always}


@dataclass
class OrgContext:
    org: OrgRef
    role: Role
    token_id: uuid.UUID | None = None
    membership_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    # Who acts, as the audit log names them: a member's e-mail address or a token's name.
    label: str = ""
    # One of the two: the request's session, or the driver connection of its transaction.
    db_session: AsyncSession | None = None
    driver: Any = None

    @property
    def session(self) -> AsyncSession:
        if self.db_session is None:
            raise RuntimeError("this request runs without a session (DRIVER_READS): use ctx.connection()")
        return self.db_session

    async def connection(self) -> Any:
        """The driver connection of the request's transaction, scoped to the organisation."""
        if self.driver is not None:
            return self.driver
        return await driver_connection(self.session)

    @property
    def actor(self) -> Actor:
        return Actor(
            label=self.label,
            role=self.role,
            user_id=self.user_id,
            membership_id=self.membership_id,
            token_id=self.token_id,
        )

    def require(self, permission: Permission) -> None:
        require(self.role, permission)


def bearer_token(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthorizedException("send an API token as 'Authorization: Bearer <token>'")
    return value.strip()


async def provide_org_context(
    request: Request[Any, Any, Any], slug: FromPath[str]
) -> AsyncGenerator[OrgContext, None]:
    """Authenticated by an API token (``Authorization: Bearer``) or by a signed-in browser's session.

    A session acts with the role of the person's membership in this organisation; without one the
    organisation looks exactly like one that does not exist. State-changing requests of a session
    must carry its CSRF token in ``X-CSRF-Token``.
    """
    if not request.headers.get("authorization") and request.cookies.get(COOKIE):
        async for ctx in _session_context(request, slug):
            yield ctx
        return
    raw = bearer_token(request)
    try:
        token_org = tokens.parse_organization(raw)
    except tokens.TokenRejected as exc:
        raise NotAuthorizedException(str(exc)) from None
    db = database(request)
    driver_reads = request.route_handler.opt.get(DRIVER_READS_KEY)
    if driver_reads is not None and driver_reads(request):
        async with db.tenant_driver(token_org) as connection:
            caller = tokens.cached(token_org, raw)
            if caller is None:
                caller = await _authenticate(tokens.authenticate_on(connection, token_org, raw))
            org = await organizations.cached_by_slug_on(connection, slug)
            yield _token_context(org, token_org, slug, caller, driver=connection)
        return
    async with db.tenant(token_org) as session:
        caller = await _authenticate(tokens.authenticate(session, raw))
        org = await organizations.cached_by_slug(session, slug)
        ctx = _token_context(org, token_org, slug, caller, db_session=session)
        history.bind(session, ctx.actor)
        yield ctx


async def _authenticate(found: Awaitable[tokens.Caller]) -> tokens.Caller:
    try:
        return await found
    except tokens.TokenRejected as exc:
        raise NotAuthorizedException(str(exc)) from None


def _token_context(
    org: OrgRef | None, token_org: uuid.UUID, slug: str, caller: tokens.Caller, **transaction: Any
) -> OrgContext:
    # Another organisation's slug looks exactly like one that does not exist.
    if org is None or org.id != token_org:
        raise NotFound("no organisation %(slug)r", slug=slug)
    structlog.contextvars.bind_contextvars(org=org.slug)
    return OrgContext(
        org=org, role=Role(caller.role), token_id=caller.id, label=f"API token {caller.name}", **transaction
    )


async def _session_context(request: Request[Any, Any, Any], slug: str) -> AsyncGenerator[OrgContext, None]:
    store: SessionStore = request.app.state.sessions
    web = await store.load(request.cookies.get(COOKIE))
    if web is None or web.user_id is None:
        raise NotAuthorizedException("sign in again: the session has ended")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        token = request.headers.get("x-csrf-token", "")
        if not token or not hmac.compare_digest(token.encode(), web.csrf.encode()):
            raise Forbidden("send the session's CSRF token in the X-CSRF-Token header")
    db = database(request)
    org = await find_organisation(db, slug, web.only_org)
    async with member_scope(db, org, web.user_id) as scope:
        user = scope.user
        ctx = OrgContext(
            org=org,
            db_session=scope.session,
            role=scope.role,
            membership_id=scope.membership.id,
            user_id=user.id,
            label=user.email,
        )
        history.bind(scope.session, ctx.actor)
        yield ctx


class ApiController(Controller):
    """A controller of the JSON API of one organisation: its handlers take ``ctx: OrgContext``."""

    dependencies = {"ctx": Provide(provide_org_context)}
