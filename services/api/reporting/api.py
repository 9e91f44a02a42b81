"""Reports in the JSON API: /api/v1/orgs/{slug}/reports/...

Every figure, series and breakdown, and the report as XLSX, PDF or CSV. Members without access to
personal data (the reporter role) get the same answers with counts below 3 shown as "< 3".
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery

from services.api.context import OrgContext, provide_org_context
from services.api.reporting.common import (
    MEDIA_TYPES,
    By,
    Figures,
    From,
    Interval,
    ProgrammeParam,
    TableKey,
    To,
    document,
    filename,
    render,
)
from shared.errors import ValidationFailed
from shared.permissions import Permission, can
from shared.reporting import service
from shared.reporting.model import Breakdown, Report, Series


def _suppressed(ctx: OrgContext) -> bool:
    return not can(ctx.role, Permission.DATA_READ)


class ReportsApi(Controller):
    path = "/api/v1/orgs/{slug:str}/reports"
    tags = ["reports"]
    dependencies = {"ctx": Provide(provide_org_context)}

    @get(
        "/figures",
        summary="Every standard figure of a period, in sections (README: the figures, exactly)",
    )
    async def figures(
        self,
        ctx: NamedDependency[OrgContext],
        start: From = None,
        end: To = None,
        programme: ProgrammeParam = None,
    ) -> Report:
        ctx.require(Permission.REPORTS_READ)
        q = service.parse(start, end, programme)
        return await service.report(ctx.session, q, suppressed=_suppressed(ctx))

    @get("/series", summary="Each figure per month or quarter of a period (up to 10 years)")
    async def series(
        self,
        ctx: NamedDependency[OrgContext],
        start: From = None,
        end: To = None,
        programme: ProgrammeParam = None,
        interval: Interval = None,
        wanted: Figures = None,
    ) -> Series:
        ctx.require(Permission.REPORTS_READ)
        q = service.parse(start, end, programme, interval, wanted=wanted)
        return await service.series(ctx.session, q, suppressed=_suppressed(ctx))

    @get(
        "/breakdown",
        summary="The tandem figures of a period by programme, gender, age band or a choice field",
    )
    async def breakdown(
        self,
        ctx: NamedDependency[OrgContext],
        by: By = None,
        start: From = None,
        end: To = None,
        programme: ProgrammeParam = None,
    ) -> Breakdown:
        ctx.require(Permission.REPORTS_READ)
        q = service.parse(start, end, programme, by=by)
        return await service.breakdown(ctx.session, q, suppressed=_suppressed(ctx))

    @get(
        ["/export/xlsx", "/export/pdf", "/export/csv"],
        summary="The report of a period as xlsx, pdf or csv (one table, named by `table`)",
        media_type="application/octet-stream",
    )
    async def export(
        self,
        ctx: NamedDependency[OrgContext],
        request: Request[Any, Any, Any],
        start: From = None,
        end: To = None,
        programme: ProgrammeParam = None,
        interval: Interval = None,
        by: By = None,
        table: TableKey = None,
        locale: FromQuery[str] = "en",
    ) -> Response[bytes]:
        ctx.require(Permission.REPORTS_READ)
        fmt = request.url.path.rsplit("/", 1)[-1]
        if locale not in ("de", "en"):
            raise ValidationFailed("the locale is de or en", field="locale")
        q = service.parse(start, end, programme, interval, by)
        doc = await document(ctx.session, q, ctx.org.name, suppressed=_suppressed(ctx), locale=locale)
        from services.api.web.i18n import gettext

        content = render(doc, fmt, lambda m: gettext(locale, m), locale, table)
        return Response(
            content,
            media_type=MEDIA_TYPES[fmt],
            headers={"Content-Disposition": f'attachment; filename="{filename(doc, fmt, table)}"'},
        )


ROUTES = [ReportsApi]
