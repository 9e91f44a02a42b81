"""The organisation, its members and its API tokens: /api/v1/orgs/{slug}."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, Parameter

from services.api.context import OrgContext, provide_org_context
from shared import organizations, tokens
from shared.identity import tokens as admin_tokens
from shared.organizations import MemberOut, OrganizationOut
from shared.pagination import Page, check_limit
from shared.permissions import Permission, Role
from shared.tokens import NewToken, TokenOut

Limit = Parameter(ge=1, le=200, default=50, description="items per page")
Cursor = Parameter(default=None, description="next_cursor of the previous page")


class TokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str = msgspec.field()
    role: Literal["owner", "admin", "coordinator", "viewer", "reporter"]
    expires_at: datetime | None = None


class OrgController(Controller):
    path = "/api/v1/orgs/{slug:str}"
    tags = ["organisation"]
    dependencies = {"ctx": Provide(provide_org_context)}

    @get("", summary="The organisation")
    async def get_org(self, ctx: NamedDependency[OrgContext]) -> OrganizationOut:
        ctx.require(Permission.ORG_READ)
        return organizations.org_out(ctx.org)

    @get("/members", summary="Members, oldest first")
    async def list_members(
        self, ctx: NamedDependency[OrgContext], limit: int = Limit, cursor: str | None = Cursor
    ) -> Page[MemberOut]:
        ctx.require(Permission.MEMBERS_READ)
        return await organizations.list_members(ctx.session, limit=check_limit(limit), cursor=cursor)

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


ROUTES = [OrgController]
