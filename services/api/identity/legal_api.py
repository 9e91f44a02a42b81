"""An organisation's legal pages (privacy policy, imprint): /api/v1/orgs/{slug}/settings/legal."""

from __future__ import annotations

from litestar import get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from services.api.context import ApiController, OrgContext
from shared import organizations
from shared.organizations import LegalPages
from shared.permissions import Permission


class LegalPagesController(ApiController):
    path = "/api/v1/orgs/{slug:str}/settings/legal"
    tags = ["organisations"]

    @get("", summary="Where the organisation's privacy policy and imprint are")
    async def read(self, ctx: NamedDependency[OrgContext]) -> LegalPages:
        ctx.require(Permission.DATA_READ)
        return await organizations.legal_pages(ctx.session, ctx.org.id)

    @put("", summary="Set the privacy-policy and imprint addresses (public forms need both)")
    async def write(self, ctx: NamedDependency[OrgContext], data: JSONBody[LegalPages]) -> LegalPages:
        ctx.require(Permission.SETTINGS_MANAGE)
        return await organizations.set_legal_pages(ctx.session, ctx.org.id, data)


ROUTES = [LegalPagesController]
