"""What a page knows about its visitor: the signed-in person, the organisation, the CSRF token.

Pages of one organisation live under ``/o/{slug}/...``. A controller for them declares::

    from services.api.web.context import PageContext, PageController

    class ContactPages(PageController):
        path = "/o/{slug:str}/contacts"

        @get("")
        async def index(self, page: NamedDependency[PageContext]) -> Template:
            page.require(Permission.DATA_READ)
            rows = await contacts.list_contacts(page.session, ...)
            return page.render("contacts/index.html", contacts=rows, nav="contacts")

``page.session`` is the request's database transaction in the organisation (row-level security
applies), ``page.org``, ``page.user``, ``page.role`` and ``page.membership_id`` say who acts where,
``page.actor`` is that as a :class:`shared.actor.Actor`, ``await page.form()`` gives the
posted form fields. ``page.render`` returns a Litestar ``Template`` whose context already holds
what ``base.html`` needs. A visitor who is not signed in is sent to the sign-in page; a signed-in
person who is not a member gets the same 404 as for an organisation that does not exist.

Templates extend ``base.html`` and fill the blocks ``title`` and ``content``; ``nav`` names the
highlighted navigation entry (contacts, matching, tasks, reports, members, settings). Every
``<form method="post">`` includes ``{{ csrf_field() }}``; htmx requests send the token in the
``X-CSRF-Token`` header by themselves (``hx-headers`` on ``<body>``). Put UI text in
``{{ _("English text") }}`` and its German translation in ``locale/de/LC_MESSAGES/<domain>.po``
(every ``.po`` file there is loaded). A domain keeps its templates in ``services/api/<domain>/templates/``
and names them ``<domain>/<name>.html``.

Pages outside an organisation (sign-in, the organisation chooser) use :func:`provide_visitor`.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request
from litestar.datastructures import Cookie
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.params import FromPath
from litestar.response import Template
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.limits import refuse_nul
from services.api.scope import app_settings, database, find_organisation, member_scope, require
from shared import history
from shared.actor import Actor
from shared.errors import DomainError, Forbidden
from shared.identity import signin
from shared.identity.sessions import COOKIE, SessionStore, WebSession
from shared.identity.signin import OrgChoice
from shared.models import User
from shared.organizations import MemberOut, OrgRef, members_with_roles
from shared.permissions import Permission, Role, can
from shared.settings import Settings

from . import i18n

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LANG_COOKIE = "codo_lang"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "_csrf"
_COOKIES = "codo.cookies"
_WEB_SESSION = "codo.web_session"


class SignInRequired(Exception):
    """The page needs a signed-in visitor; the app answers with a redirect to ``target``."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


class CsrfRejected(Forbidden):
    def __init__(self) -> None:
        super().__init__("This form has expired. Please reload the page and try again.")


def sessions(request: Request[Any, Any, Any]) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


def session_cookie(settings: Settings, value: str | None) -> Cookie:
    """HttpOnly, SameSite=Lax, Secure except in development; an empty value deletes it."""
    return Cookie(
        key=COOKIE,
        value=value or "",
        path="/",
        httponly=True,
        secure=not settings.is_development,
        samesite="lax",
        max_age=None if value else 0,
    )


def queue_cookie(request: Request[Any, Any, Any], cookie: Cookie) -> None:
    """Set ``cookie`` on whatever response this request ends with (a page, a redirect, an error)."""
    scope: dict[str, Any] = request.scope  # type: ignore[assignment]
    scope.setdefault(_COOKIES, []).append(cookie)


def cookie_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        raw: dict[str, Any] = scope  # type: ignore[assignment]

        async def send_wrapper(message: Message) -> None:
            cookies: list[Cookie] = raw.get(_COOKIES, [])
            if message["type"] == "http.response.start" and cookies:
                headers = list(message.get("headers", []))
                headers += [c.to_encoded_header() for c in cookies]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_wrapper)

    return middleware


async def web_session(request: Request[Any, Any, Any]) -> WebSession | None:
    """The visitor's session from the cookie, if it exists and has not timed out (cached per request)."""
    if _WEB_SESSION not in request.scope:
        loaded = await sessions(request).load(request.cookies.get(COOKIE))
        request.scope[_WEB_SESSION] = loaded  # type: ignore[literal-required]
    found: WebSession | None = request.scope[_WEB_SESSION]  # type: ignore[literal-required]
    return found


async def replace_session(request: Request[Any, Any, Any], **values: Any) -> WebSession:
    """Start a new session (new id, new CSRF token), ending the current one: at sign-in and sign-out."""
    new = await sessions(request).rotate(await web_session(request), **values)
    request.scope[_WEB_SESSION] = new  # type: ignore[literal-required]
    queue_cookie(request, session_cookie(app_settings(request), new.id))
    return new


async def ensure_session(request: Request[Any, Any, Any]) -> WebSession:
    current = await web_session(request)
    if current is not None:
        return current
    new = await sessions(request).create()
    request.scope[_WEB_SESSION] = new  # type: ignore[literal-required]
    queue_cookie(request, session_cookie(app_settings(request), new.id))
    return new


async def posted_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    if not request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        return {}
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    refuse_nul(fields.items())
    return fields


async def check_csrf(request: Request[Any, Any, Any], current: WebSession | None) -> None:
    """Every state-changing request from a browser carries the session's token (form field or header)."""
    if request.method in SAFE_METHODS:
        return
    token = request.headers.get(CSRF_HEADER) or (await posted_form(request)).get(CSRF_FIELD, "")
    if current is None or not token or not hmac.compare_digest(token.encode(), current.csrf.encode()):
        raise CsrfRejected()


def locale_of(request: Request[Any, Any, Any], user: User | None = None) -> str:
    if user is None:
        # An error page of a request whose visitor was already known speaks that person's language.
        known: str | None = request.state.get("locale")
        if known:
            return known
    locale = (
        i18n.pick(request.cookies.get(LANG_COOKIE))
        or (i18n.pick(user.locale) if user is not None else None)
        or i18n.DEFAULT_LOCALE
    )
    if user is not None:
        request.state["locale"] = locale
    return locale


@dataclass
class Visitor:
    request: Request[Any, Any, Any]
    settings: Settings
    web: WebSession
    user: User | None
    locale: str
    orgs: list[OrgChoice] = field(default_factory=list)

    @property
    def csrf_token(self) -> str:
        return self.web.csrf

    def _(self, message: str) -> str:
        return i18n.gettext(self.locale, message)

    def message(self, error: DomainError) -> str:
        """A domain error in this person's language."""
        return i18n.message(self.locale, error)

    async def form(self) -> dict[str, str]:
        return await posted_form(self.request)

    def context(self) -> dict[str, Any]:
        return {
            "page": self,
            "locale": self.locale,
            "csrf_token": self.csrf_token,
            "user": self.user,
            "orgs": self.orgs,
            "org": None,
            "role": None,
            "dev_signin": self.settings.dev_signin and self.settings.is_development,
        }

    def render(self, template: str, *, status_code: int = 200, **values: Any) -> Template:
        return Template(template_name=template, context={**self.context(), **values}, status_code=status_code)


async def provide_visitor(request: Request[Any, Any, Any]) -> Visitor:
    current = await ensure_session(request)
    await check_csrf(request, current)
    user = await signin.user(database(request), current.user_id) if current.user_id else None
    orgs = await signin.organisations_of(database(request), user.id) if user else []
    if current.only_org is not None:
        # A sign-in through an organisation's own provider vouches for that organisation only.
        orgs = [o for o in orgs if o.id == current.only_org]
    return Visitor(
        request=request,
        settings=app_settings(request),
        web=current,
        user=user,
        locale=locale_of(request, user),
        orgs=orgs,
    )


@dataclass
class PageContext(Visitor):
    org: OrgRef = field(default=None)  # type: ignore[assignment]
    role: Role = Role.VIEWER
    membership_id: uuid.UUID = field(default=None)  # type: ignore[assignment]
    session: AsyncSession = field(default=None)  # type: ignore[assignment]

    def require(self, permission: Permission) -> None:
        require(self.role, permission)

    def can(self, permission: Permission) -> bool:
        return can(self.role, permission)

    @property
    def actor(self) -> Actor:
        assert self.user is not None
        return Actor(
            label=self.user.email, role=self.role, user_id=self.user.id, membership_id=self.membership_id
        )

    def context(self) -> dict[str, Any]:
        return {
            **super().context(),
            "org": self.org,
            "role": self.role,
            "can": self.can,
            "Permission": Permission,
        }


async def provide_page(
    request: Request[Any, Any, Any], slug: FromPath[str]
) -> AsyncGenerator[PageContext, None]:
    current = await web_session(request)
    if current is None or current.user_id is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(f"/o/{quote(slug)}/signin?next={quote(target)}")
    await check_csrf(request, current)
    db = database(request)
    org = await find_organisation(db, slug, current.only_org)
    orgs = await signin.organisations_of(db, current.user_id, cached=True)
    async with member_scope(db, org, current.user_id) as scope:
        user = scope.user
        page = PageContext(
            request=request,
            settings=app_settings(request),
            web=current,
            user=user,
            locale=locale_of(request, user),
            orgs=[o for o in orgs if current.only_org is None or o.id == current.only_org],
            org=org,
            role=scope.role,
            membership_id=scope.membership.id,
            session=scope.session,
        )
        history.bind(scope.session, page.actor)
        try:
            yield page
        except Forbidden as exc:
            if "permission" in exc.params:
                await remember_refusal(page, Permission(exc.params["permission"]))
            raise


REFUSAL = "codo.refusal"


@dataclass
class Refusal:
    """What the forbidden page tells a member a page refused: the roles that may open it and the
    members who can give them one."""

    page: PageContext
    roles: list[Role]
    ask: list[MemberOut]


async def remember_refusal(page: PageContext, permission: Permission) -> None:
    managers = [r.value for r in Role if can(r, Permission.MEMBERS_MANAGE)]
    try:
        ask = await members_with_roles(page.session, managers)
    except SQLAlchemyError:  # the refusal still shows, only without names
        ask = []
    # Owners may do everything; naming them too says nothing more.
    roles: list[Role] = [r for r in Role if can(r, permission) and r != Role.OWNER] or [Role.OWNER]
    page.request.scope[REFUSAL] = Refusal(page=page, roles=roles, ask=ask)  # type: ignore[literal-required]


class PageController(Controller):
    """A controller of the pages of one organisation: its handlers take ``page: PageContext``."""

    tags = ["web"]
    include_in_schema = False
    dependencies = {"page": Provide(provide_page)}
