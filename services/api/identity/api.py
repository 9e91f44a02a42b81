"""Members, invitations, API tokens, the audit log and the organisation's own sign-in provider
(JSON API).

Listing members stays with the organisation (services/api/platform/api.py); changing them lives here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import msgspec
from litestar import Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from services.api.context import ApiController, OrgContext
from services.api.identity import legal_api
from services.api.pagination import Cursor, Limit
from shared import tokens
from shared.errors import NotFound
from shared.identity import members, providers
from shared.identity import tokens as admin_tokens
from shared.identity.members import AuditOut, InvitationOut, NewInvitation
from shared.identity.providers import ProviderIn, ProviderOut
from shared.limits import Text
from shared.organizations import MemberOut
from shared.pagination import Page, check_limit
from shared.permissions import Permission, Role
from shared.settings import Settings
from shared.tokens import NewToken, TokenOut

RoleName = Literal["owner", "admin", "coordinator", "viewer", "reporter"]


class RoleChange(msgspec.Struct, forbid_unknown_fields=True):
    role: RoleName


class InvitationCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: Text
    role: RoleName


class TokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Text = msgspec.field()
    role: RoleName
    expires_at: datetime | None = None


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _with_wake(request: Request[Any, Any, Any], body: NewInvitation, status: int) -> Response[NewInvitation]:
    # The outbox wakes the worker once the request's transaction commits.
    return Response(body, status_code=status)


class MemberController(ApiController):
    path = "/api/v1/orgs/{slug:str}"
    tags = ["members"]

    @patch("/members/{member_id:uuid}", summary="Change a member's role (the last owner stays owner)")
    async def change_role(
        self, ctx: NamedDependency[OrgContext], member_id: FromPath[uuid.UUID], data: JSONBody[RoleChange]
    ) -> MemberOut:
        await members.get_member(ctx.session, member_id)
        ctx.require(Permission.MEMBERS_MANAGE)
        return await members.change_role(ctx.session, ctx.org.id, ctx.actor, member_id, data.role)

    @delete("/members/{member_id:uuid}", summary="Remove a member (not the last owner)", status_code=204)
    async def remove(self, ctx: NamedDependency[OrgContext], member_id: FromPath[uuid.UUID]) -> None:
        await members.get_member(ctx.session, member_id)
        ctx.require(Permission.MEMBERS_MANAGE)
        await members.remove_member(ctx.session, ctx.org.id, ctx.actor, member_id)

    @get("/invitations", summary="Invitations, newest first")
    async def list_invitations(
        self,
        ctx: NamedDependency[OrgContext],
        limit: int = Limit,
        cursor: str | None = Cursor,
        pending: FromQuery[bool] = False,
    ) -> Page[InvitationOut]:
        ctx.require(Permission.MEMBERS_MANAGE)
        return await members.list_invitations(
            ctx.session, limit=check_limit(limit), cursor=cursor, pending_only=pending
        )

    @post("/invitations", summary="Invite by e-mail; the e-mail goes out through the outbox")
    async def invite(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        data: JSONBody[InvitationCreate],
    ) -> Response[NewInvitation]:
        ctx.require(Permission.MEMBERS_MANAGE)
        created = await members.invite(
            ctx.session, _settings(request), ctx.org, ctx.actor, email=data.email, role=data.role
        )
        return _with_wake(request, created, 201)

    @post("/invitations/{invitation_id:uuid}/resend", summary="Send a new link (the old one stops working)")
    async def resend(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        invitation_id: FromPath[uuid.UUID],
    ) -> Response[NewInvitation]:
        ctx.require(Permission.MEMBERS_MANAGE)
        sent = await members.resend(ctx.session, _settings(request), ctx.org, ctx.actor, invitation_id)
        return _with_wake(request, sent, 200)

    @delete("/invitations/{invitation_id:uuid}", summary="Revoke an invitation", status_code=204)
    async def revoke(self, ctx: NamedDependency[OrgContext], invitation_id: FromPath[uuid.UUID]) -> None:
        ctx.require(Permission.MEMBERS_MANAGE)
        await members.revoke(ctx.session, ctx.org.id, ctx.actor, invitation_id)

    @get("/audit-log", summary="Who changed what, newest first (admins)")
    async def audit_log(
        self, ctx: NamedDependency[OrgContext], limit: int = Limit, cursor: str | None = Cursor
    ) -> Page[AuditOut]:
        ctx.require(Permission.MEMBERS_MANAGE)
        return await members.list_audit(ctx.session, limit=check_limit(limit), cursor=cursor)

    @get("/signin-provider", summary="The organisation's own OpenID Connect provider (never its secret)")
    async def get_provider(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext]
    ) -> ProviderOut:
        ctx.require(Permission.SETTINGS_MANAGE)
        found = await providers.get_settings(ctx.session, _settings(request))
        if found is None:
            raise NotFound("this organisation has no own identity provider")
        return found

    @put("/signin-provider", summary="Set the organisation's own OpenID Connect provider")
    async def put_provider(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext], data: JSONBody[ProviderIn]
    ) -> ProviderOut:
        ctx.require(Permission.SETTINGS_MANAGE)
        return await providers.put_settings(ctx.session, _settings(request), ctx.org.id, ctx.actor, data)

    @delete("/signin-provider", summary="Remove the organisation's own provider", status_code=204)
    async def delete_provider(self, ctx: NamedDependency[OrgContext]) -> None:
        ctx.require(Permission.SETTINGS_MANAGE)
        await providers.delete_settings(ctx.session, ctx.org.id, ctx.actor)


class TokenController(ApiController):
    path = "/api/v1/orgs/{slug:str}"
    tags = ["organisation"]

    @get("/tokens", summary="API tokens (admins)")
    async def list_tokens(
        self, ctx: NamedDependency[OrgContext], limit: int = Limit, cursor: str | None = Cursor
    ) -> Page[TokenOut]:
        ctx.require(Permission.TOKENS_MANAGE)
        return await tokens.list_tokens(ctx.session, limit=check_limit(limit), cursor=cursor)

    @post("/tokens", summary="Create an API token; its secret is shown only in this answer")
    async def create_token(self, ctx: NamedDependency[OrgContext], data: JSONBody[TokenCreate]) -> NewToken:
        ctx.require(Permission.TOKENS_MANAGE)
        return await admin_tokens.create(
            ctx.session,
            ctx.org.id,
            ctx.actor,
            name=data.name,
            role=Role(data.role),
            expires_at=data.expires_at,
        )

    @delete("/tokens/{token_id:uuid}", summary="Revoke an API token", status_code=204)
    async def revoke_token(self, ctx: NamedDependency[OrgContext], token_id: FromPath[uuid.UUID]) -> None:
        ctx.require(Permission.TOKENS_MANAGE)
        await admin_tokens.revoke(ctx.session, ctx.org.id, ctx.actor, token_id)


ROUTES = [MemberController, TokenController, *legal_api.ROUTES]
