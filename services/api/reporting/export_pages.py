"""Report exports as jobs in the pages: a long report is prepared by the worker while the person
watches its progress, then downloads it (/o/{slug}/reports/exports/...)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from services.api.reporting.common import MEDIA_TYPES
from services.api.web.context import PageContext, PageController
from shared import queue
from shared.errors import DomainError
from shared.permissions import Permission
from shared.reporting import export_jobs, exports, service
from shared.reporting.models import ReportExport


def _period(export: ReportExport, page: PageContext) -> dict[str, Any]:
    q = service.from_params({k: v for k, v in export.query.items() if k not in ("labels", "table")})
    return {"start": exports.day(q.start, page.locale), "end": exports.day(q.end, page.locale)}


class ReportExportPages(PageController):
    path = "/o/{slug:str}/reports/exports"

    def _show(self, page: PageContext, export: ReportExport) -> Template:
        fragment = page.request.headers.get("hx-request") == "true"
        return page.render(
            "reporting/_export_status.html" if fragment else "reporting/export.html",
            nav="reports",
            export=export,
            percent=exports.number(round(export.progress * 100), page.locale),
            period=_period(export, page),
        )

    @post("", status_code=303)
    async def create(self, page: NamedDependency[PageContext]) -> Redirect | Template:
        page.require(Permission.REPORTS_READ)
        form = await page.form()
        try:
            q = service.parse(
                form.get("from") or None,
                form.get("to") or None,
                form.get("programme") or None,
                form.get("interval") or None,
                form.get("by") or None,
            )
            export = await export_jobs.create(
                page.session, q, form.get("format", ""), table=form.get("table") or None, locale=page.locale,
                suppressed=not page.can(Permission.DATA_READ),
                labels={w: page._(w) for w in export_jobs.words()}, created_by=page.actor.label,
            )  # fmt: skip
        except DomainError as exc:
            return page.render(
                "reporting/export.html", status_code=exc.status, nav="reports", export=None,
                error=page.message(exc),
            )  # fmt: skip
        if export_jobs.is_large(q):
            # The worker gets the export once this request's transaction committed.
            queue.after_commit(page.session, queue.REPORTING_RUN_EXPORT, str(page.org.id), str(export.id))
        else:
            await export_jobs.build_now(page.session, export, page.org.name)
        return Redirect(f"/o/{page.org.slug}/reports/exports/{export.id}", status_code=303)

    @get("/{export_id:uuid}")
    async def status(self, page: NamedDependency[PageContext], export_id: FromPath[uuid.UUID]) -> Template:
        export = await export_jobs.get(page.session, export_id)
        page.require(Permission.REPORTS_READ)
        return self._show(page, export)

    @get("/{export_id:uuid}/download")
    async def download(
        self, page: NamedDependency[PageContext], export_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        export = await export_jobs.get(page.session, export_id)
        page.require(Permission.REPORTS_READ)
        name = f"report-{export.query.get('from')}-{export.query.get('to')}.{export.format}"
        return Response(
            export_jobs.content(export),
            media_type=MEDIA_TYPES[export.format],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


ROUTES = [ReportExportPages]
