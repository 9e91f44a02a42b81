"""Pages of one organisation: members and invitations, audit log, settings, API tokens; and sign-in."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from services.api.identity import legal_pages, signin
from services.api.web import i18n
from services.api.web.context import PageContext, PageController
from services.api.web.i18n import _
from shared import tokens
from shared.errors import DomainError
from shared.identity import members, providers
from shared.identity import tokens as admin_tokens
from shared.identity.providers import ProviderIn
from shared.organizations import list_members
from shared.pagination import MAX_LIMIT
from shared.permissions import RANK, Permission, Role, parse_role


def _roles(page: PageContext) -> list[str]:
    """The roles this visitor may hand out, highest first."""
    return [r.value for r in sorted(Role, key=lambda r: -RANK[r]) if RANK[r] <= RANK[page.role]]


def _is_htmx(page: PageContext) -> bool:
    return page.request.headers.get("hx-request") == "true"


async def _members_page(page: PageContext, *, status_code: int = 200, **values: Any) -> Template:
    listed = await list_members(page.session, limit=MAX_LIMIT, cursor=None)
    invitations = (
        await members.list_invitations(page.session, limit=MAX_LIMIT, cursor=None, pending_only=True)
        if page.can(Permission.MEMBERS_MANAGE)
        else None
    )
    return page.render(
        "members.html",
        status_code=status_code,
        nav="members",
        members=listed.items,
        invitations=invitations.items if invitations else [],
        roles=_roles(page),
        **values,
    )


class OrgPages(PageController):
    path = "/o/{slug:str}"

    @get("/members")
    async def members_page(
        self, page: NamedDependency[PageContext], sent: FromQuery[bool] = False
    ) -> Template:
        page.require(Permission.MEMBERS_READ)
        return await _members_page(page, message=_("The invitation is on its way.") if sent else None)

    @post("/members/{member_id:uuid}/role", status_code=200)
    async def change_role(
        self, page: NamedDependency[PageContext], member_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        member = await members.get_member(page.session, member_id)
        page.require(Permission.MEMBERS_MANAGE)
        role = (await page.form()).get("role", "")
        try:
            member = await members.change_role(page.session, page.org.id, page.actor, member_id, role)
        except DomainError as exc:
            if _is_htmx(page):
                return page.render(
                    "_member_row.html", m=member, roles=_roles(page), row_error=page.message(exc)
                )
            return await _members_page(page, status_code=exc.status, error=page.message(exc))
        if _is_htmx(page):
            return page.render("_member_row.html", m=member, roles=_roles(page), row_saved=True)
        return Redirect(f"/o/{page.org.slug}/members", status_code=303)

    @post("/members/{member_id:uuid}/remove", status_code=303)
    async def remove(
        self, page: NamedDependency[PageContext], member_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        await members.get_member(page.session, member_id)
        page.require(Permission.MEMBERS_MANAGE)
        try:
            await members.remove_member(page.session, page.org.id, page.actor, member_id)
        except DomainError as exc:
            return await _members_page(page, status_code=exc.status, error=page.message(exc))
        return Redirect(f"/o/{page.org.slug}/members", status_code=303)

    @post("/invitations", status_code=303)
    async def invite(self, page: NamedDependency[PageContext]) -> Template | Redirect:
        page.require(Permission.MEMBERS_MANAGE)
        form = await page.form()
        try:
            await members.invite(
                page.session,
                page.settings,
                page.org,
                page.actor,
                email=form.get("email", ""),
                role=form.get("role", ""),
            )
        except DomainError as exc:
            return await _members_page(
                page, status_code=exc.status, error=page.message(exc), form_email=form.get("email")
            )
        return Redirect(f"/o/{page.org.slug}/members?sent=1", status_code=303)

    @post("/invitations/{invitation_id:uuid}/resend", status_code=303)
    async def resend(
        self, page: NamedDependency[PageContext], invitation_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        page.require(Permission.MEMBERS_MANAGE)
        try:
            await members.resend(page.session, page.settings, page.org, page.actor, invitation_id)
        except DomainError as exc:
            if exc.status == 404:
                raise
            return await _members_page(page, status_code=exc.status, error=page.message(exc))
        return Redirect(f"/o/{page.org.slug}/members", status_code=303)

    @post("/invitations/{invitation_id:uuid}/revoke", status_code=303)
    async def revoke(
        self, page: NamedDependency[PageContext], invitation_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        page.require(Permission.MEMBERS_MANAGE)
        try:
            await members.revoke(page.session, page.org.id, page.actor, invitation_id)
        except DomainError as exc:
            if exc.status == 404:
                raise
            return await _members_page(page, status_code=exc.status, error=page.message(exc))
        return Redirect(f"/o/{page.org.slug}/members", status_code=303)

    @get("/audit")
    async def audit(
        self, page: NamedDependency[PageContext], cursor: FromQuery[str | None] = None
    ) -> Template:
        page.require(Permission.MEMBERS_MANAGE)
        entries = await members.list_audit(page.session, limit=100, cursor=cursor)
        return page.render(
            "audit.html", nav="settings", entries=entries.items, next_cursor=entries.next_cursor
        )

    @get("/settings")
    async def settings_page(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.SETTINGS_MANAGE)
        return page.render("settings.html", nav="settings")

    @get("/settings/signin")
    async def signin_settings(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.SETTINGS_MANAGE)
        return page.render(
            "signin_settings.html",
            nav="settings",
            p=await providers.get_settings(page.session, page.settings),
            redirect_uri=providers.redirect_uri(page.settings),
        )

    @post("/settings/signin", status_code=303)
    async def save_signin_settings(self, page: NamedDependency[PageContext]) -> Template | Redirect:
        page.require(Permission.SETTINGS_MANAGE)
        form = await page.form()
        try:
            data = ProviderIn(
                label=form.get("label", ""),
                issuer=form.get("issuer", ""),
                client_id=form.get("client_id", ""),
                client_secret=form.get("client_secret", ""),
                allowed_domains=form.get("allowed_domains", "").replace(";", ",").split(","),
                auto_join_role=form.get("auto_join_role") or None,
                group_claim=form.get("group_claim") or None,
                group_roles=_group_lines(form.get("group_roles", "")),
                require_email_verified=not form.get("email_verified_optional"),
            )
            await providers.put_settings(page.session, page.settings, page.org.id, page.actor, data)
        except DomainError as exc:
            return page.render(
                "signin_settings.html",
                status_code=exc.status,
                nav="settings",
                p=await providers.get_settings(page.session, page.settings),
                redirect_uri=providers.redirect_uri(page.settings),
                error=page.message(exc),
                error_field=exc.field,
            )
        return Redirect(f"/o/{page.org.slug}/settings/signin", status_code=303)

    @get("/tokens")
    async def tokens_page(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.TOKENS_MANAGE)
        listed = await tokens.list_tokens(page.session, limit=MAX_LIMIT, cursor=None)
        return page.render("tokens.html", nav="settings", tokens=listed.items, roles=_roles(page))

    @post("/tokens", status_code=200)
    async def create_token(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.TOKENS_MANAGE)
        form = await page.form()
        new = None
        error = None
        try:
            role = parse_role(form.get("role", ""))
        except ValueError as exc:
            error, role = i18n.message(page.locale, exc), None
        if role is not None:
            try:
                new = await admin_tokens.create(
                    page.session, page.org.id, page.actor, name=form.get("name", ""), role=role
                )
            except DomainError as exc:
                error = page.message(exc)
        listed = await tokens.list_tokens(page.session, limit=MAX_LIMIT, cursor=None)
        return page.render(
            "tokens.html",
            status_code=200 if error is None else 422,
            nav="settings",
            tokens=listed.items,
            roles=_roles(page),
            new_token=new,
            error=error,
        )

    @post("/tokens/{token_id:uuid}/revoke", status_code=303)
    async def revoke_token(
        self, page: NamedDependency[PageContext], token_id: FromPath[uuid.UUID]
    ) -> Redirect:
        page.require(Permission.TOKENS_MANAGE)
        await admin_tokens.revoke(page.session, page.org.id, page.actor, token_id)
        return Redirect(f"/o/{page.org.slug}/tokens", status_code=303)


def _group_lines(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        group, sep, role = line.partition("=")
        if sep and group.strip():
            out[group.strip()] = role.strip()
    return out


ROUTES = [OrgPages, *signin.ROUTES, *legal_pages.ROUTES]
