"""The anonymised comparison across organisations in the pages (/o/{slug}/reports/benchmarks): an
opted-in organisation sees its own figures next to the median and quartiles of the others; admins
opt in or out and say what kind of programme each of theirs is."""

from __future__ import annotations

import uuid

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import text

from services.api.web.context import PageContext, PageController
from shared.errors import DomainError
from shared.i18n import N_
from shared.permissions import Permission
from shared.reporting import benchmarks, exports, figures

KIND_LABELS = {
    "reading": N_("Reading mentoring"),
    "school": N_("School and learning"),
    "job": N_("Work and training"),
    "family": N_("Families"),
    "refugees": N_("Refugees"),
    "seniors": N_("Older people"),
    "other": N_("Other programmes"),
}
# (label, what it means, unit)
METRIC_LABELS = {
    "days_to_match": (
        N_("Days from ready to match (median)"), N_("over matches proposed in the last 365 days"), "days"),
    "tandem_days": (
        N_("Days an ended tandem lasted (median)"), N_("over tandems ended in the last 365 days"), "days"),
    "early_end_share": (
        N_("Share of tandems ended early"), N_("of the tandems ended in the last 365 days"), "share"),
    "active_per_coordinator": (
        N_("Active tandems per coordinator"), N_("today, per owner, admin and coordinator"), "count"),
}  # fmt: skip


class BenchmarkPages(PageController):
    path = "/o/{slug:str}/reports/benchmarks"

    async def _show(self, page: PageContext, error: DomainError | None = None) -> Template:
        found = await benchmarks.for_organisation(page.request.app.state.db, page.org.id, figures.today())
        programmes = list(
            await page.session.execute(text("SELECT id, name, kind FROM contact_programmes ORDER BY name"))
        )

        def value(v: float | None, unit: str) -> str:
            if v is None:
                return exports.number(None, page.locale)
            if unit == "share":
                return f"{exports.number(round(v * 100, 1), page.locale)} %"
            return exports.number(round(v, 1), page.locale)

        return page.render(
            "reporting/benchmarks.html",
            status_code=error.status if error else 200,
            nav="reports",
            result=found,
            programmes=programmes,
            kinds=benchmarks.PROGRAMME_KINDS,
            kind_labels=KIND_LABELS,
            metric_labels=METRIC_LABELS,
            value=value,
            error=page.message(error) if error else None,
        )

    @get("")
    async def show(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.REPORTS_READ)
        return await self._show(page)

    @post("/opt-in", status_code=303)
    async def opt_in(self, page: NamedDependency[PageContext]) -> Redirect:
        page.require(Permission.SETTINGS_MANAGE)
        form = await page.form()
        await benchmarks.set_opt_in(page.session, page.org.id, form.get("opt_in") == "yes")
        return Redirect(f"/o/{page.org.slug}/reports/benchmarks", status_code=303)

    @post("/programmes/{programme_id:uuid}", status_code=303)
    async def programme_kind(
        self, page: NamedDependency[PageContext], programme_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        await figures.programme_of(page.session, programme_id)
        page.require(Permission.SETTINGS_MANAGE)
        form = await page.form()
        try:
            async with page.session.begin_nested():
                await benchmarks.set_programme_kind(page.session, programme_id, form.get("kind") or None)
        except DomainError as exc:
            return await self._show(page, exc)
        return Redirect(f"/o/{page.org.slug}/reports/benchmarks", status_code=303)


ROUTES = [BenchmarkPages]
