"""The organisation and its members: /api/v1/orgs/{slug}; and the health probes."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency

from services.api.context import ApiController, OrgContext
from services.api.pagination import Cursor, Limit
from services.api.platform import health
from shared import organizations
from shared.organizations import MemberOut, OrganizationOut
from shared.pagination import Page, check_limit
from shared.permissions import Permission


class OrgController(ApiController):
    path = "/api/v1/orgs/{slug:str}"
    tags = ["organisation"]

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


ROUTES = [OrgController, *health.ROUTES]
