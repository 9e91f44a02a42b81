"""Report pages (/o/{slug}/reports), their downloads, and the dashboard that is the organisation's
home page (/o/{slug}/, delegated here by the organisation pages)."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.response import Template
from sqlalchemy import text

from services.api.reporting.common import (
    MEDIA_TYPES,
    By,
    From,
    Interval,
    ProgrammeParam,
    TableKey,
    To,
    document,
    filename,
    render,
)
from services.api.web.context import PageContext, provide_page
from shared.errors import DomainError
from shared.permissions import Permission
from shared.reporting import dashboard as board
from shared.reporting import exports, figures, service
from shared.reporting.exports import series_table

# The figures of the trend chart on the reports page.
TREND = ("tandems_active", "tandems_started", "tandems_ended", "meetings")


def _suppressed(page: PageContext) -> bool:
    return not page.can(Permission.DATA_READ)


def _helpers(page: PageContext) -> dict[str, Any]:
    return {
        "num": lambda v: exports.number(v, page.locale),
        # Labels that come with the data (figures, options of custom fields): translated, never formatted.
        "tr": page._,
        "day": lambda d: exports.day(d, page.locale),
        "suppressed": _suppressed(page),
    }


async def _choices(page: PageContext) -> dict[str, Any]:
    """Programmes and what a report can be broken down by, for the form."""
    programmes = list(
        await page.session.execute(text("SELECT id, name FROM contact_programmes ORDER BY name"))
    )
    label = "label_de" if page.locale == "de" else "label_en"
    fields = []
    for prefix, table in (("contact", "contact_fields"), ("match", "match_fields")):
        fields += [
            (f"{prefix}.{r.key}", r.label)
            for r in await page.session.execute(
                text(
                    f"SELECT key, {label} AS label FROM {table} "  # noqa: S608
                    "WHERE type = 'choice' AND archived_at IS NULL ORDER BY position, key"
                )
            )
        ]
    by = [("programme", page._("Programme")), ("gender", page._("Gender")), ("age_band", page._("Age band"))]
    return {"programmes": programmes, "by_choices": by + fields}


class ReportPages(Controller):
    path = "/o/{slug:str}/reports"
    include_in_schema = False
    dependencies = {"page": Provide(provide_page)}

    @get("")
    async def index(
        self,
        page: NamedDependency[PageContext],
        start: From = None,
        end: To = None,
        programme: ProgrammeParam = None,
        interval: Interval = None,
        by: By = None,
    ) -> Template:
        page.require(Permission.REPORTS_READ)
        error = None
        try:
            q = service.parse(start, end, programme, interval, by)
            if q.programme_id:
                await figures.programme_of(page.session, q.programme_id)
            if q.by:
                await figures.dimension(page.session, q.by)
        except DomainError as exc:
            error = (exc.field, page._(exc.detail))
            q = service.parse()
        suppressed = _suppressed(page)
        report = await service.report(page.session, q, suppressed=suppressed, locale=page.locale)
        trend = await service.series(
            page.session,
            service.Query(q.start, q.end, q.programme_id, q.interval, None, TREND),
            suppressed=suppressed,
        )
        breakdown = (
            await service.breakdown(page.session, q, suppressed=suppressed, locale=page.locale)
            if q.by
            else None
        )
        return page.render(
            "reporting/index.html",
            nav="reports",
            q=q,
            params=q.params(),
            report=report,
            trend=series_table(trend),
            breakdown=breakdown,
            error=error,
            **_helpers(page),
            **await _choices(page),
        )

    @get(["/export/xlsx", "/export/pdf", "/export/csv"])
    async def download(
        self,
        page: NamedDependency[PageContext],
        request: Request[Any, Any, Any],
        start: From = None,
        end: To = None,
        programme: ProgrammeParam = None,
        interval: Interval = None,
        by: By = None,
        table: TableKey = None,
    ) -> Response[bytes]:
        page.require(Permission.REPORTS_READ)
        fmt = request.url.path.rsplit("/", 1)[-1]
        q = service.parse(start, end, programme, interval, by)
        doc = await document(page.session, q, page.org.name, suppressed=_suppressed(page), locale=page.locale)
        content = render(doc, fmt, page._, page.locale, table)
        return Response(
            content,
            media_type=MEDIA_TYPES[fmt],
            headers={"Content-Disposition": f'attachment; filename="{filename(doc, fmt, table)}"'},
        )


async def dashboard_page(page: PageContext) -> Template:
    """The organisation's home page: today's numbers, each linking to its list, and a small trend."""
    page.require(Permission.ORG_READ)
    today = figures.today()
    suppressed = _suppressed(page)
    tiles = None
    trend = None
    if page.can(Permission.REPORTS_READ):
        tiles = await board.dashboard(
            page.session, today, page.membership_id if not suppressed else None, suppressed=suppressed
        )
        start = date(today.year - 1, today.month, 1)
        series = await service.series(
            page.session,
            service.Query(start, today, None, "month", None, ("tandems_active", "tandems_started")),
            suppressed=suppressed,
        )
        trend = series_table(series)
    return page.render("reporting/dashboard.html", nav="home", board=tiles, trend=trend, **_helpers(page))


ROUTES = [ReportPages]
