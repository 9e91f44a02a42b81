"""Report pages (/o/{slug}/reports), their downloads, and the dashboard that is the organisation's
home page (/o/{slug}/, delegated here by the organisation pages)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import text

from services.api.reporting import benchmark_pages, export_pages, match_field_settings
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
from services.api.web.context import PageContext, PageController
from shared.contacts import fields
from shared.errors import DomainError
from shared.matching import matches
from shared.matching.models import MatchField
from shared.permissions import Permission
from shared.reporting import dashboard as board
from shared.reporting import export_jobs, exports, figures, service
from shared.reporting.exports import series_table

# The figures of the trend chart on the reports page.
TREND = ("tandems_active", "tandems_started", "tandems_ended", "meetings")
# The dashboard's two small charts of the last twelve months (board.CHART_KEYS).
DASHBOARD_TANDEMS = board.CHART_KEYS[:2]
DASHBOARD_CHECKINS = board.CHART_KEYS[2:]


def _suppressed(page: PageContext) -> bool:
    return not page.can(Permission.DATA_READ)


def _helpers(page: PageContext) -> dict[str, Any]:
    return {
        "num": lambda v: exports.number(v, page.locale),
        # Labels that come with the data (figures, options of custom fields): translated, never formatted.
        "tr": exports.with_periods(page._, page.locale),
        "day": lambda d: exports.day(d, page.locale),
        "suppressed": _suppressed(page),
    }


async def _choices(page: PageContext) -> dict[str, Any]:
    """Programmes and what a report can be broken down by, for the form (one statement)."""
    label = "label_de" if page.locale == "de" else "coalesce(nullif(label_en, ''), label_de)"
    rows = await page.session.execute(
        text(
            f"""
SELECT 0 AS kind, id::text AS key, name AS label, 0 AS position, name AS sort FROM contact_programmes
WHERE organization_id = :org
UNION ALL
SELECT 1, 'contact.' || key, {label}, position, key FROM contact_fields
WHERE organization_id = :org AND type = 'choice' AND archived_at IS NULL
UNION ALL
SELECT 2, 'match.' || key, {label}, position, key FROM match_fields
WHERE organization_id = :org AND type = 'choice' AND archived_at IS NULL
ORDER BY 1, 4, 5"""  # noqa: S608
        ),
        {"org": page.org.id},
    )
    programmes: list[dict[str, Any]] = []
    fields: list[tuple[str, str]] = []
    for r in rows:
        if r.kind == 0:
            programmes.append({"id": uuid.UUID(r.key), "name": r.label})
        else:
            fields.append((r.key, r.label))
    by = [("programme", page._("Programme")), ("gender", page._("Gender")), ("age_band", page._("Age band"))]
    return {"programmes": programmes, "by_choices": by + fields}


class ReportPages(PageController):
    path = "/o/{slug:str}/reports"

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
        given = {"from": start, "to": end, "programme": programme, "interval": interval, "by": by}
        q = service.parse()
        for _ in given:
            try:
                q = service.parse(
                    given["from"], given["to"], given["programme"], given["interval"], given["by"]
                )
                if q.programme_id:
                    await figures.programme_of(page.session, q.programme_id)
                if q.by:
                    await figures.dimension(page.session, q.by)
                break
            except DomainError as exc:
                error = error or (exc.field, page.message(exc))
                # Only the parameter the problem names falls back to its default: a period chosen
                # with care is not lost to a breakdown that does not exist (an unknown programme
                # is a plain "not found").
                field = exc.field if exc.field in given else "programme"
                if given[field] is None:
                    q = service.parse()
                    break
                given[field] = None
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
            large=export_jobs.is_large(q),
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


class MatchFieldPages(PageController):
    """The organisation's fields of one match: shown and edited on the match page."""

    path = "/o/{slug:str}/matches/{match_id:uuid}/fields"

    async def _show(
        self, page: PageContext, match_id: uuid.UUID, *, error: str | None = None, status_code: int = 200
    ) -> Template:
        match = await matches.read_match(page.session, match_id, figures.today())
        defined = await fields.list_fields(page.session, model=MatchField)
        fragment = page.request.headers.get("hx-request") == "true" and error is None
        return page.render(
            "reporting/match_fields.html",
            status_code=status_code,
            nav="matching",
            m=match,
            fields=defined,
            error=error,
            fragment=fragment,
            label=lambda f: f.label_de if page.locale == "de" else (f.label_en or f.label_de),
            **_helpers(page),
        )

    @get("")
    async def show(self, page: NamedDependency[PageContext], match_id: FromPath[uuid.UUID]) -> Template:
        page.require(Permission.DATA_READ)
        return await self._show(page, match_id)

    @post("", status_code=303)
    async def save(
        self, page: NamedDependency[PageContext], match_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        await matches.read_match(page.session, match_id, figures.today())
        page.require(Permission.DATA_WRITE)
        posted = await page.request.form()
        changes: dict[str, Any] = {}
        for f in await fields.list_fields(page.session, model=MatchField):
            if f.type == "multi_choice":
                changes[f.key] = [v for v in posted.getall(f"custom.{f.key}") if v]
            else:
                changes[f.key] = posted.get(f"custom.{f.key}", "")
        try:
            async with page.session.begin_nested():
                await matches.set_custom(page.session, match_id, changes, lenient=True)
        except DomainError as exc:
            return await self._show(page, match_id, error=page.message(exc), status_code=exc.status)
        return Redirect(f"/o/{page.org.slug}/matches/{match_id}", status_code=303)


async def dashboard_page(page: PageContext) -> Template:
    """The organisation's home page: today's numbers, each linking to its list, and a small trend."""
    page.require(Permission.ORG_READ)
    today = figures.today()
    suppressed = _suppressed(page)
    tiles = None
    trend = checkins = None
    if page.can(Permission.REPORTS_READ):
        tiles = await board.dashboard(
            page.session, today, page.membership_id if not suppressed else None, suppressed=suppressed
        )
        # One series for both charts: check-ins held and due but missed per month are the
        # series' own figures (the report's definitions), not a second count of their own.
        trend = series_table(tiles.charts, DASHBOARD_TANDEMS)
        checkins = series_table(tiles.charts, DASHBOARD_CHECKINS, "checkins", "Check-ins", "bar")
    return page.render(
        "reporting/dashboard.html", nav="home", board=tiles, trend=trend, checkins=checkins, **_helpers(page)
    )


class DashboardPage(PageController):
    """The organisation's home page is its dashboard."""

    path = "/o/{slug:str}"

    @get("")
    async def home(self, page: NamedDependency[PageContext]) -> Template:
        return await dashboard_page(page)


ROUTES = [
    DashboardPage,
    ReportPages,
    MatchFieldPages,
    *export_pages.ROUTES,
    *benchmark_pages.ROUTES,
    *match_field_settings.ROUTES,
]
