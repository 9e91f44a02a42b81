"""Report exports prepared by the worker, with their progress, as contacts' list exports are.

A small report is built while the caller waits; a long one (a series of more than
``INLINE_MONTHS`` months) is stored as pending and built by the worker step by step, writing its
progress after each step so the caller can watch it. The worker has no catalogues of its own: the
labels it needs are translated when the export is asked for and travel with it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.models import Organization
from shared.reporting import exports, figures, service
from shared.reporting.models import EXPORT_FORMATS, ReportExport

INLINE_MONTHS = 24
# Everything an export may print besides data: the worker translates with these.
EXPORT_WORDS = (
    "Report", "Organisation", "Programme", "All programmes", "From", "To", "Created", "Period", "Trend",
    "Breakdown", "Counts of fewer than three people are shown as < 3.", "Value", "Tandems", "Check-ins",
    "Mentors", "Invitations", "Confirmations", "Present", "Attendance rate in percent", "People",
    "End reasons", "Mentors reached by age band", "Mentors reached by gender", "Check-in ratings",
    "Events by kind", "no reason recorded", "not recorded", "unknown",
)  # fmt: skip


def words() -> list[str]:
    """Every label a report can hold that is not data."""
    found = set(EXPORT_WORDS)
    found |= {f.label for f in figures.FIGURES} | set(figures.SECTIONS.values())
    found |= set(figures.AGE_BAND_LABELS.values()) | set(figures.GENDER_LABELS.values())
    found |= set(figures.EVENT_KIND_LABELS.values()) | {label for _k, label in figures.FUNNEL}
    return sorted(found)


class ExportOut(msgspec.Struct):
    id: uuid.UUID
    status: str
    format: str
    progress: float
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    status_url: str
    download_url: str | None


def export_out(export: ReportExport, base: str) -> ExportOut:
    return ExportOut(
        id=export.id,
        status=export.status,
        format=export.format,
        progress=round(export.progress, 2),
        error=export.error,
        created_at=export.created_at,
        finished_at=export.finished_at,
        status_url=f"{base}/{export.id}",
        download_url=f"{base}/{export.id}/download" if export.status == "done" else None,
    )


async def create(
    session: AsyncSession,
    q: service.Query,
    fmt: str,
    *,
    table: str | None,
    locale: str,
    suppressed: bool,
    labels: dict[str, str],
    created_by: str,
) -> ReportExport:
    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed("the format is xlsx, pdf or csv", field="format")
    if fmt == "csv" and not table:
        raise ValidationFailed("name one of the report's tables", field="table")
    if q.programme_id:
        await figures.programme_of(session, q.programme_id)
    if q.by:
        await figures.dimension(session, q.by)
    export = ReportExport(
        organization_id=session.info["org_id"],
        format=fmt,
        query={**q.params(), **({"table": table} if table else {}), "labels": labels},
        locale=locale,
        suppressed=suppressed,
        created_by=created_by,
    )
    session.add(export)
    await session.flush()
    await session.refresh(export)
    return export


def is_large(q: service.Query) -> bool:
    return (q.end.year - q.start.year) * 12 + q.end.month - q.start.month + 1 > INLINE_MONTHS


async def get(session: AsyncSession, export_id: uuid.UUID) -> ReportExport:
    found = await session.get(ReportExport, {"organization_id": session.info["org_id"], "id": export_id})
    if found is None:
        raise NotFound("no such export")
    return found


def content(export: ReportExport) -> bytes:
    if export.status != "done" or export.content is None:
        if export.status == "failed":
            raise Conflict("the export failed; start a new one", field="status")
        if export.status == "expired":
            raise Conflict("the export has expired; start a new one", field="status")
        raise Conflict("the export is not ready yet", field="status")
    return export.content


async def _step(db: Database, org_id: uuid.UUID, export_id: uuid.UUID, **values: Any) -> None:
    async with db.tenant(org_id) as session:
        export = await get(session, export_id)
        for key, value in values.items():
            setattr(export, key, value)


async def _make(
    export: ReportExport,
    organisation: str,
    sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    progress: Callable[[float], Awaitable[None]],
) -> bytes:
    params = dict(export.query)
    labels: dict[str, str] = params.pop("labels", {})
    table = params.pop("table", None)
    locale, suppressed = export.locale, export.suppressed

    def t(message: str) -> str:
        return labels.get(message, message)

    q = service.from_params(params)
    async with sessions() as session:
        report = await service.report(session, q, suppressed=suppressed, locale=locale)
    await progress(0.4)
    async with sessions() as session:
        series = await service.series(session, q, suppressed=suppressed)
        breakdown = (
            await service.breakdown(session, q, suppressed=suppressed, locale=locale) if q.by else None
        )
    await progress(0.8)
    doc = exports.Document(organisation, report, series, breakdown)
    if export.format == "xlsx":
        return exports.to_xlsx(doc, t, locale)
    if export.format == "pdf":
        return exports.to_pdf(doc, t, locale)
    found = exports.find_table(doc, table or "")
    if found is None:
        raise ValidationFailed("name one of the report's tables", field="table")
    return exports.to_csv(found, t, locale)


async def build_now(session: AsyncSession, export: ReportExport, organisation: str) -> ReportExport:
    """A short export, built in the caller's transaction."""

    @asynccontextmanager
    async def same() -> AsyncIterator[AsyncSession]:
        yield session

    async def ignore(_: float) -> None:
        return None

    export.content = await _make(export, organisation, same, ignore)
    export.status, export.progress, export.finished_at = "done", 1.0, datetime.now(UTC)
    await session.flush()
    return export


async def build(db: Database, org_id: uuid.UUID, export_id: uuid.UUID) -> str:
    """Build a pending export in steps, each committed with its progress. Running it twice does no
    harm: a finished export stays as it is."""
    async with db.tenant(org_id) as session:
        export = await get(session, export_id)
        if export.status == "done":
            return "done"
        export.status, export.progress = "running", 0.05
        org = await session.get(Organization, org_id)
        organisation = org.name if org else ""

    async def progress(value: float) -> None:
        await _step(db, org_id, export_id, progress=value)

    try:
        data = await _make(export, organisation, lambda: db.tenant(org_id), progress)
    except Exception as exc:
        await _step(db, org_id, export_id, status="failed", error=f"{type(exc).__name__}: {exc}",
                    finished_at=datetime.now(UTC))  # fmt: skip
        raise
    finished = datetime.now(UTC)
    await _step(db, org_id, export_id, status="done", progress=1.0, content=data, finished_at=finished)
    return "done"
