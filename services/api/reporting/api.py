"""Reports in the JSON API: /api/v1/orgs/{slug}/reports/...

Every figure, series and breakdown, and the report as XLSX, PDF or CSV. Members without access to
personal data (the reporter role) get the same answers with counts below 3 shown as "< 3".
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from services.api.context import ApiController, OrgContext
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
from services.api.web.i18n import gettext
from shared import queue
from shared.contacts import fields
from shared.contacts.fields import FieldIn, FieldOut, FieldPatch
from shared.errors import ValidationFailed
from shared.limits import FIELDS_MAX, Short
from shared.matching import matches
from shared.matching.models import MatchField
from shared.matching.schemas import MatchOut
from shared.permissions import Permission, can
from shared.reporting import benchmarks, export_jobs, figures, service
from shared.reporting.schemas import Breakdown, Report, Series


def _suppressed(ctx: OrgContext) -> bool:
    return not can(ctx.role, Permission.DATA_READ)


class ReportsApi(ApiController):
    path = "/api/v1/orgs/{slug:str}/reports"
    tags = ["reports"]

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
        content = render(doc, fmt, lambda m: gettext(locale, m), locale, table)
        return Response(
            content,
            media_type=MEDIA_TYPES[fmt],
            headers={"Content-Disposition": f'attachment; filename="{filename(doc, fmt, table)}"'},
        )


class ExportIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    format: Short
    start: Short | None = msgspec.field(default=None, name="from")
    end: Short | None = msgspec.field(default=None, name="to")
    programme: Short | None = None
    interval: Short | None = None
    by: Short | None = None
    table: Short | None = None
    locale: Short = "en"


class ReportExportsApi(ApiController):
    """Exports the worker prepares: a series of more than two years is built in the background
    (202, with progress at its status URL); anything shorter is ready in the answer (201)."""

    path = "/api/v1/orgs/{slug:str}/reports/exports"
    tags = ["reports"]

    @post("", summary="Export a report (xlsx, pdf or one table as csv); long ones go to the worker")
    async def create(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext], data: JSONBody[ExportIn]
    ) -> Response[export_jobs.ExportOut]:
        ctx.require(Permission.REPORTS_READ)
        if data.locale not in ("de", "en"):
            raise ValidationFailed("the locale is de or en", field="locale")
        q = service.parse(data.start, data.end, data.programme, data.interval, data.by)
        labels = {w: gettext(data.locale, w) for w in export_jobs.words()}
        export = await export_jobs.create(
            ctx.session, q, data.format, table=data.table, locale=data.locale, suppressed=_suppressed(ctx),
            labels=labels, created_by=ctx.label,
        )  # fmt: skip
        base = f"/api/v1/orgs/{ctx.org.slug}/reports/exports"
        if not export_jobs.is_large(q):
            await export_jobs.build_now(ctx.session, export, ctx.org.name)
            return Response(export_jobs.export_out(export, base), status_code=201)
        # The worker gets the export once this request's transaction committed.
        queue.after_commit(ctx.session, queue.REPORTING_RUN_EXPORT, str(ctx.org.id), str(export.id))
        return Response(export_jobs.export_out(export, base), status_code=202)

    @get("/{export_id:uuid}", summary="An export's status and progress")
    async def status(
        self, ctx: NamedDependency[OrgContext], export_id: FromPath[uuid.UUID]
    ) -> export_jobs.ExportOut:
        export = await export_jobs.get(ctx.session, export_id)
        ctx.require(Permission.REPORTS_READ)
        return export_jobs.export_out(export, f"/api/v1/orgs/{ctx.org.slug}/reports/exports")

    @get("/{export_id:uuid}/download", summary="The exported file", media_type="application/octet-stream")
    async def download(
        self, ctx: NamedDependency[OrgContext], export_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        export = await export_jobs.get(ctx.session, export_id)
        ctx.require(Permission.REPORTS_READ)
        name = f"report-{export.query.get('from')}-{export.query.get('to')}.{export.format}"
        return Response(
            export_jobs.content(export),
            media_type=MEDIA_TYPES[export.format],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


class OptIn(msgspec.Struct, forbid_unknown_fields=True):
    opt_in: bool


class BenchmarksApi(ApiController):
    path = "/api/v1/orgs/{slug:str}/reports/benchmarks"
    tags = ["reports"]

    @get(
        "",
        summary="Own figures next to the median and quartiles of at least five other opted-in organisations",
    )
    async def compare(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext]
    ) -> benchmarks.Benchmarks:
        ctx.require(Permission.REPORTS_READ)
        return await benchmarks.for_organisation(request.app.state.db, ctx.org.id, figures.today())

    @put("/opt-in", summary="Contribute anonymised aggregates to benchmarks, or stop (admins)")
    async def opt_in(self, ctx: NamedDependency[OrgContext], data: JSONBody[OptIn]) -> OptIn:
        ctx.require(Permission.SETTINGS_MANAGE)
        await benchmarks.set_opt_in(ctx.session, ctx.org.id, data.opt_in)
        return data


class ProgrammeKind(msgspec.Struct, forbid_unknown_fields=True):
    kind: Short | None


class ProgrammeKindApi(ApiController):
    path = "/api/v1/orgs/{slug:str}/reports/programmes/{programme_id:uuid}/kind"
    tags = ["reports"]

    @put("", summary="What kind of programme this is, for benchmarks (reading, school, job, ...; admins)")
    async def set_kind(
        self,
        ctx: NamedDependency[OrgContext],
        programme_id: FromPath[uuid.UUID],
        data: JSONBody[ProgrammeKind],
    ) -> ProgrammeKind:
        await figures.programme_of(ctx.session, programme_id)
        ctx.require(Permission.SETTINGS_MANAGE)
        await benchmarks.set_programme_kind(ctx.session, programme_id, data.kind)
        return data


class MatchFieldsApi(ApiController):
    """Fields an organisation defines on matches (funder, kind of tandem): the types and labels of
    contact fields, and what reports break down by (``by=match.<key>``)."""

    path = "/api/v1/orgs/{slug:str}"
    tags = ["match fields"]

    @get("/match-fields", summary="Fields on matches")
    async def list_fields(
        self, ctx: NamedDependency[OrgContext], include_archived: FromQuery[bool] = False
    ) -> list[FieldOut]:
        ctx.require(Permission.DATA_READ)
        found = await fields.list_fields(ctx.session, include_archived=include_archived, model=MatchField)
        return [fields.field_out(f) for f in found]

    @post("/match-fields", summary="Define a field on matches (admins)")
    async def create_field(self, ctx: NamedDependency[OrgContext], data: JSONBody[FieldIn]) -> FieldOut:
        ctx.require(Permission.SETTINGS_MANAGE)
        return fields.field_out(await fields.create_field(ctx.session, ctx.org.id, data, model=MatchField))

    @patch("/match-fields/{field_id:uuid}", summary="Change a match field's labels, options or requirement")
    async def update_field(
        self, ctx: NamedDependency[OrgContext], field_id: FromPath[uuid.UUID], data: JSONBody[FieldPatch]
    ) -> FieldOut:
        await fields.get_field(ctx.session, field_id, model=MatchField)
        ctx.require(Permission.SETTINGS_MANAGE)
        return fields.field_out(await fields.update_field(ctx.session, field_id, data, model=MatchField))

    @delete(
        "/match-fields/{field_id:uuid}",
        summary="Archive a match field (values stay, hidden)",
        status_code=204,
    )
    async def archive_field(self, ctx: NamedDependency[OrgContext], field_id: FromPath[uuid.UUID]) -> None:
        await fields.get_field(ctx.session, field_id, model=MatchField)
        ctx.require(Permission.SETTINGS_MANAGE)
        await fields.archive_field(ctx.session, field_id, model=MatchField)

    @patch(
        "/matches/{match_id:uuid}/custom",
        summary="Set values of match fields (an empty value removes one); the match as it is then",
    )
    async def set_values(
        self,
        ctx: NamedDependency[OrgContext],
        match_id: FromPath[uuid.UUID],
        data: JSONBody[dict[str, Any]],
    ) -> MatchOut:
        # A bare object as the body: Litestar decodes it without the schema's bounds, so the count is
        # checked here, before anything looks at the values (each key must name a match field).
        if len(data) > FIELDS_MAX:
            raise ValidationFailed("at most %(max_items)s entries", field="body", max_items=FIELDS_MAX)
        await matches.read_match(ctx.session, match_id, figures.today())
        ctx.require(Permission.DATA_WRITE)
        await matches.set_custom(ctx.session, match_id, data)
        return await matches.read_match(ctx.session, match_id, figures.today())


ROUTES = [ReportsApi, ReportExportsApi, BenchmarksApi, ProgrammeKindApi, MatchFieldsApi]
