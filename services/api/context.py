"""Who is calling, in which organisation: one transaction per request under row-level security."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
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
from shared.db import Database, DriverTransaction, driver_connection
from shared.errors import Forbidden, NotFound
from shared.identity import members
from shared.identity.sessions import COOKIE, SessionStore
from shared.organizations import OrgRef
from shared.permissions import Permission, Role

# A route whose every statement is driver SQL says so with ``opt=DRIVER_READS`` (always) or with a
# predicate of the request (for example: a list without filters). Its requests, by API token or
# by a browser's session, run in a bare driver transaction (``Database.tenant_driver``) instead
# of a session: the handler reads through ``await ctx.connection()``, ``ctx.session`` refuses, and
# ``await ctx.open_session()`` commits the driver transaction and goes on in a session.
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
    # The request's session, or (DRIVER_READS) its bare driver transaction until it needs one.
    db_session: AsyncSession | None = None
    driver_tx: DriverTransaction | None = None
    _db: Database | None = field(default=None, repr=False)
    _opened: AbstractAsyncContextManager[AsyncSession] | None = field(default=None, repr=False)

    @property
    def session(self) -> AsyncSession:
        if self.db_session is None:
            raise RuntimeError(
                "this request began without a session (DRIVER_READS): use ctx.connection() "
                "or await ctx.open_session()"
            )
        return self.db_session

    async def connection(self) -> Any:
        """The driver connection of the request's transaction, scoped to the organisation."""
        if self.db_session is not None:
            return await driver_connection(self.db_session)
        if self.driver_tx is not None and self.driver_tx.open:
            return self.driver_tx.connection
        raise RuntimeError("the request's transaction has ended")

    async def open_session(self) -> AsyncSession:
        """The request's session. A request begun on the bare driver (DRIVER_READS) commits that
        transaction and goes on in a session's, so that it never holds two connections: for
        the reads the driver SQL does not cover, such as filling a cache."""
        if self.db_session is None:
            if self.driver_tx is None or self._db is None:
                raise RuntimeError("this request has no transaction")
            await self.driver_tx.commit()
            self._opened = self._db.tenant(self.org.id)
            self.db_session = await self._opened.__aenter__()
            history.bind(self.db_session, self.actor)
        return self.db_session

    async def _close_opened(self, error: BaseException | None) -> None:
        """End the session :meth:`open_session` began, with the handler's error if there was one."""
        opened, self._opened = self._opened, None
        if opened is not None:
            await opened.__aexit__(
                type(error) if error else None, error, error.__traceback__ if error else None
            )

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
        # A context manager, not a loop over a generator: the handler's exception reaches it.
        async with _session_context(request, slug) as ctx:
            yield ctx
        return
    raw = bearer_token(request)
    try:
        token_org = tokens.parse_organization(raw)
    except tokens.TokenRejected as exc:
        raise NotAuthorizedException(str(exc)) from None
    db = database(request)
    if _driver_reads(request):

        async def by_token(connection: Any) -> OrgContext:
            caller = tokens.cached(token_org, raw)
            if caller is None:
                caller = await _authenticate(tokens.authenticate_on(connection, token_org, raw))
            org = await organizations.cached_by_slug_on(connection, slug)
            return _token_context(org, token_org, slug, caller)

        async with _DriverContext(db, token_org, by_token) as ctx:
            yield ctx
        return
    async with db.tenant(token_org) as session:
        caller = await _authenticate(tokens.authenticate(session, raw))
        org = await organizations.cached_by_slug(session, slug)
        ctx = _token_context(org, token_org, slug, caller)
        ctx.db_session = session
        history.bind(session, ctx.actor)
        yield ctx


class _DriverContext:
    """The context of a DRIVER_READS request: a bare driver transaction, and a session's once
    the handler asks for one (``ctx.open_session``). A class, not nested generators: it is on
    the path of every such request."""

    __slots__ = ("_build", "_ctx", "_db", "_transaction")

    def __init__(
        self, db: Database, org_id: uuid.UUID, build: Callable[[Any], Awaitable[OrgContext]]
    ) -> None:
        self._db = db
        self._transaction = db.tenant_driver(org_id)
        self._build = build
        self._ctx: OrgContext | None = None

    async def __aenter__(self) -> OrgContext:
        transaction = await self._transaction.__aenter__()
        try:
            ctx = await self._build(transaction.connection)
        except BaseException as error:
            await transaction.__aexit__(type(error), error, error.__traceback__)
            raise
        ctx.driver_tx, ctx._db = transaction, self._db
        self._ctx = ctx
        return ctx

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        try:
            if self._ctx is not None:
                await self._ctx._close_opened(error)
        finally:
            await self._transaction.__aexit__(kind, error, tb)


def _driver_reads(request: Request[Any, Any, Any]) -> bool:
    reads: Any = request.route_handler.opt.get(DRIVER_READS_KEY)
    return reads is not None and bool(reads(request))


async def _authenticate(found: Awaitable[tokens.Caller]) -> tokens.Caller:
    try:
        return await found
    except tokens.TokenRejected as exc:
        raise NotAuthorizedException(str(exc)) from None


def _token_context(org: OrgRef | None, token_org: uuid.UUID, slug: str, caller: tokens.Caller) -> OrgContext:
    # Another organisation's slug looks exactly like one that does not exist.
    if org is None or org.id != token_org:
        raise NotFound("no organisation %(slug)r", slug=slug)
    structlog.contextvars.bind_contextvars(org=org.slug)
    return OrgContext(org=org, role=Role(caller.role), token_id=caller.id, label=f"API token {caller.name}")


@asynccontextmanager
async def _session_context(request: Request[Any, Any, Any], slug: str) -> AsyncIterator[OrgContext]:
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
    if _driver_reads(request):
        user_id = web.user_id

        async def by_session(connection: Any) -> OrgContext:
            member = await members.member_on(connection, org.id, user_id)
            if member is None:
                raise NotFound("no organisation %(slug)r", slug=org.slug)
            structlog.contextvars.bind_contextvars(org=org.slug)
            return OrgContext(
                org=org,
                role=Role(member.role),
                membership_id=member.membership_id,
                user_id=member.user_id,
                label=member.email,
            )

        async with _DriverContext(db, org.id, by_session) as ctx:
            yield ctx
        return
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
