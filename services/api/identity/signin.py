"""Sign-in pages and the OpenID Connect round trip, sign-out, language and organisation switching."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from services.api.scope import database
from services.api.web import i18n
from services.api.web.context import (
    LANG_COOKIE,
    Visitor,
    provide_visitor,
    queue_cookie,
    replace_session,
    session_cookie,
    sessions,
)
from services.api.web.i18n import _
from shared.errors import NotFound
from shared.identity import flow, members, providers, signin
from shared.identity.oidc import OidcClient, OidcError
from shared.identity.sessions import allow_attempt
from shared.identity.signin import SignInRefused
from shared.models import Organization
from shared.organizations import SLUG_RE, MemberOut, get_by_slug

REFUSALS = {
    "state-invalid": _("This sign-in is no longer valid. Please start again."),
    "provider-error": _("The sign-in was cancelled at the identity provider."),
    "code-rejected": _("The identity provider did not confirm this sign-in. Please start again."),
    "nonce-mismatch": _("The identity provider's answer could not be verified."),
    "id-token-invalid": _("The identity provider's answer could not be verified."),
    "id-token-expired": _("The identity provider's answer has expired. Please start again."),
    "issuer-mismatch": _("The identity provider's answer could not be verified."),
    "provider-unreachable": _("The identity provider cannot be reached right now. Please try again later."),
    "unknown-provider": _("This sign-in option does not exist."),
    "unknown-organisation": _("This organisation does not exist."),
    "wrong-provider": _("This sign-in option does not exist."),
    "no-email": _("Your identity provider did not tell us your e-mail address."),
    "email-unverified": _("Your identity provider has not confirmed your e-mail address."),
    "domain-not-allowed": _("People with your e-mail domain cannot sign in to this organisation."),
    "not-invited": _(
        "You have no access to this organisation. Ask one of its administrators for an invitation."
    ),
    "unknown-user": _(
        "We do not know you yet. Sign in through your organisation's page or the link in your invitation."
    ),
    "invitation-invalid": _("This invitation has expired, was revoked or has already been used."),
    "invitation-other-email": _("This invitation was sent to another e-mail address."),
    "rate-limited": _("Too many sign-in attempts. Please wait a minute and try again."),
}
_STATUS = {"rate-limited": 429, "provider-unreachable": 502, "unknown-organisation": 404}


def refused(visitor: Visitor, reason: str) -> Template:
    message = visitor._(REFUSALS.get(reason, REFUSALS["state-invalid"]))
    return visitor.render(
        "refused.html", status_code=_STATUS.get(reason, 403), reason=reason, message=message
    )


async def _allowed(request: Request[Any, Any, Any], visitor: Visitor) -> bool:
    client = request.client.host if request.client else "unknown"
    return await allow_attempt(
        request.app.state.redis, f"signin:{client}", visitor.settings.signin_attempts_per_minute
    )


def _oidc(request: Request[Any, Any, Any]) -> OidcClient:
    client: OidcClient = request.app.state.oidc
    return client


class SignInPages(Controller):
    tags = ["web"]
    include_in_schema = False
    dependencies = {"visitor": Provide(provide_visitor)}

    @get("/")
    async def start_page(self, visitor: NamedDependency[Visitor]) -> Template | Redirect:
        if visitor.user is None:
            return Redirect("/signin")
        if len(visitor.orgs) == 1:
            return Redirect(f"/o/{visitor.orgs[0].slug}")
        return visitor.render("orgs.html")

    @get("/signin")
    async def signin_page(
        self, visitor: NamedDependency[Visitor], next: FromQuery[str | None] = None
    ) -> Template:
        dev_org: Organization | None = None
        dev: list[MemberOut] = []
        if visitor.settings.dev_signin and visitor.settings.is_development:
            dev_org, dev = await signin.dev_members(database(visitor.request), signin.DEV_ORG)
        return visitor.render(
            "signin.html",
            providers=providers.platform_providers(visitor.settings),
            next=flow.safe_next(next),
            dev_org=dev_org,
            dev_members=dev,
            target_org=None,
        )

    @get("/signin/org")
    async def org_lookup(self, visitor: NamedDependency[Visitor], slug: FromQuery[str] = "") -> Redirect:
        slug = slug.strip().lower()
        if not SLUG_RE.match(slug):
            raise NotFound("This organisation does not exist.")
        return Redirect(f"/o/{slug}/signin")

    @get("/o/{slug:str}/signin")
    async def org_signin_page(
        self, visitor: NamedDependency[Visitor], slug: FromPath[str], next: FromQuery[str | None] = None
    ) -> Template:
        db = database(visitor.request)
        async with db.platform() as session:
            org = await get_by_slug(session, slug)
        if org is None:
            raise NotFound("This organisation does not exist.")
        options = await providers.sign_in_options(db, visitor.settings, org.id)
        dev_org: Organization | None = None
        dev: list[MemberOut] = []
        if visitor.settings.dev_signin and visitor.settings.is_development:
            dev_org, dev = await signin.dev_members(db, org.slug)
        return visitor.render(
            "signin.html",
            providers=options,
            next=flow.safe_next(next),
            target_org=org,
            dev_org=dev_org,
            dev_members=dev,
        )

    @get("/invite/{token:str}")
    async def invitation_page(self, visitor: NamedDependency[Visitor], token: FromPath[str]) -> Template:
        found = await members.invitation_for_link(database(visitor.request), token)
        if found is None:
            return refused(visitor, "invitation-invalid")
        org, invitation = found
        return visitor.render(
            "signin.html",
            providers=await providers.sign_in_options(database(visitor.request), visitor.settings, org.id),
            target_org=org,
            invitation=invitation,
            invitation_token=token,
            next=None,
            dev_members=[],
        )

    @get("/auth/start")
    async def begin(
        self,
        request: Request[Any, Any, Any],
        visitor: NamedDependency[Visitor],
        provider: FromQuery[str],
        org: FromQuery[str | None] = None,
        invitation: FromQuery[str | None] = None,
        next: FromQuery[str | None] = None,
    ) -> Template | Redirect:
        if not await _allowed(request, visitor):
            return refused(visitor, "rate-limited")
        try:
            url = await flow.begin(
                database(request),
                request.app.state.redis,
                _oidc(request),
                visitor.settings,
                provider_key=provider,
                org_slug=org,
                invitation=invitation,
                next_path=next,
                session_id=visitor.web.id,
            )
        except SignInRefused as exc:
            return refused(visitor, exc.reason)
        except OidcError as exc:
            return refused(visitor, exc.reason)
        return Redirect(url)

    @get("/auth/callback")
    async def callback(
        self,
        request: Request[Any, Any, Any],
        visitor: NamedDependency[Visitor],
        oauth_state: Annotated[str | None, QueryParameter(name="state")] = None,
        code: FromQuery[str | None] = None,
        error: FromQuery[str | None] = None,
    ) -> Template | Redirect:
        if not await _allowed(request, visitor):
            return refused(visitor, "rate-limited")
        try:
            done, provider, id_token, next_path = await flow.finish(
                database(request),
                request.app.state.redis,
                _oidc(request),
                visitor.settings,
                state=oauth_state,
                code=code,
                error=error,
                session_id=visitor.web.id,
            )
        except SignInRefused as exc:
            return refused(visitor, exc.reason)
        await replace_session(
            request,
            user_id=done.user_id,
            only_org=done.only_org,
            provider=flow.session_provider_key(provider),
            id_token=id_token,
        )
        return Redirect(next_path or (f"/o/{done.org_slug}" if done.org_slug else "/"), status_code=303)

    @post("/auth/signout", status_code=303)
    async def signout(self, request: Request[Any, Any, Any], visitor: NamedDependency[Visitor]) -> Redirect:
        settings = visitor.settings
        provider = await flow.provider_of_session(database(request), settings, visitor.web.provider)
        await sessions(request).destroy(visitor.web.id)
        queue_cookie(request, session_cookie(settings, None))
        back = settings.public_url.rstrip("/") + "/signin"
        if provider is not None:
            url = await _oidc(request).end_session_url(
                provider, id_token=visitor.web.id_token, post_logout=back
            )
            if url:
                return Redirect(url, status_code=303)
        return Redirect("/signin", status_code=303)

    @post("/auth/dev", status_code=303)
    async def dev_signin(
        self, request: Request[Any, Any, Any], visitor: NamedDependency[Visitor]
    ) -> Redirect | Template:
        # Development only, so no rate limit: tests and demos sign in as often as they like.
        if not (visitor.settings.dev_signin and visitor.settings.is_development):
            raise NotFound("Not found.")
        form = await visitor.form()
        try:
            member_id = uuid.UUID(form.get("member", ""))
        except ValueError:
            raise NotFound("no such member") from None
        found = await signin.dev_user(database(request), form.get("org", ""), member_id)
        if found is None:
            raise NotFound("no such member")
        user_id, slug = found
        await replace_session(request, user_id=user_id, provider="development")
        return Redirect(f"/o/{slug}", status_code=303)

    @post("/lang", status_code=303)
    async def language(self, request: Request[Any, Any, Any], visitor: NamedDependency[Visitor]) -> Redirect:
        form = await visitor.form()
        locale = i18n.pick(form.get("locale")) or i18n.DEFAULT_LOCALE
        queue_cookie(
            request,
            Cookie(
                key=LANG_COOKIE,
                value=locale,
                path="/",
                max_age=365 * 24 * 3600,
                samesite="lax",
                secure=not visitor.settings.is_development,
                httponly=True,
            ),
        )
        if visitor.user is not None:
            await signin.set_locale(database(request), visitor.user.id, locale)
        return Redirect(flow.safe_next(form.get("next")) or "/", status_code=303)

    @get("/switch")
    async def switch(self, visitor: NamedDependency[Visitor], org: FromQuery[str] = "") -> Redirect:
        if not any(o.slug == org for o in visitor.orgs):
            raise NotFound("This organisation does not exist.")
        return Redirect(f"/o/{org}")


ROUTES = [SignInPages]
