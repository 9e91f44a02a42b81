"""Key figures: /api/v1/orgs/{slug}/reports and the page /o/{slug}/reports."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Template

from services.api.context import OrgContext, provide_org_context
from services.api.web.context import PageContext, provide_page
from shared.errors import DomainError
from shared.permissions import Permission
from shared.reporting import figures

# Taken as text and parsed by the domain, so a bad date is reported as `from`/`to`, the names callers use.
From = Annotated[str | None, QueryParameter(name="from", description="first day, YYYY-MM-DD")]
To = Annotated[str | None, QueryParameter(name="to", description="last day, YYYY-MM-DD")]


class ReportsApi(Controller):
    path = "/api/v1/orgs/{slug:str}/reports"
    tags = ["reports"]
    dependencies = {"ctx": Provide(provide_org_context)}

    @get("/key-figures", summary="Key figures of a period: matches, accompaniment, waiting people, events")
    async def key_figures(
        self, ctx: NamedDependency[OrgContext], start: From = None, end: To = None
    ) -> figures.KeyFigures:
        ctx.require(Permission.DATA_READ)
        first, last = figures.period(start, end)
        return await figures.key_figures(ctx.session, first, last)


class ReportPages(Controller):
    path = "/o/{slug:str}/reports"
    dependencies = {"page": Provide(provide_page)}

    @get("")
    async def index(self, page: NamedDependency[PageContext], start: From = None, end: To = None) -> Template:
        page.require(Permission.DATA_READ)
        error = None
        try:
            first, last = figures.period(start, end)
        except DomainError as exc:
            error = page.message(exc)
            first, last = figures.period(None, None)
        data = await figures.key_figures(page.session, first, last)
        return page.render("reports/index.html", figures=data, error=error, nav="reports")


ROUTES = [ReportsApi, ReportPages]
