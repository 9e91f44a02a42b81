"""What the reports API and pages share: the query parameters and building an export."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import ValidationFailed
from shared.reporting import exports, service
from shared.reporting.exports import Document

# Taken as text and parsed by the domain, so every mistake is reported under the name callers use.
From = Annotated[str | None, QueryParameter(name="from", description="first day, YYYY-MM-DD")]
To = Annotated[str | None, QueryParameter(name="to", description="last day, YYYY-MM-DD (at most 10 years)")]
ProgrammeParam = Annotated[
    str | None, QueryParameter(name="programme", description="a programme's id; all programmes if absent")
]
Interval = Annotated[str | None, QueryParameter(name="interval", description="month (default) or quarter")]
By = Annotated[
    str | None,
    QueryParameter(
        name="by",
        description="programme, gender, age_band, contact.<choice field key> or match.<choice field key>",
    ),
]
Figures = Annotated[
    str | None, QueryParameter(name="figures", description="comma-separated figure keys; all if absent")
]
TableKey = Annotated[str | None, QueryParameter(name="table", description="the table a CSV holds")]

MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
}


async def document(
    session: AsyncSession, q: service.Query, organisation: str, *, suppressed: bool, locale: str
) -> Document:
    report = await service.report(session, q, suppressed=suppressed, locale=locale)
    series = await service.series(session, q, suppressed=suppressed)
    breakdown = await service.breakdown(session, q, suppressed=suppressed, locale=locale) if q.by else None
    return Document(organisation, report, series, breakdown)


def render(doc: Document, fmt: str, t: exports.Translate, locale: str, table: str | None) -> bytes:
    t = exports.with_periods(t, locale)
    if fmt == "xlsx":
        return exports.to_xlsx(doc, t, locale)
    if fmt == "pdf":
        return exports.to_pdf(doc, t, locale)
    if fmt == "csv":
        found = exports.find_table(doc, table or "")
        if found is None:
            raise ValidationFailed("name one of the report's tables", field="table")
        return exports.to_csv(found, t, locale)
    raise ValidationFailed("the format is xlsx, pdf or csv", field="format")


def filename(doc: Document, fmt: str, table: str | None) -> str:
    stem = f"report-{doc.report.period_from.isoformat()}-{doc.report.period_to.isoformat()}"
    return f"{stem}-{table}.{fmt}" if fmt == "csv" and table else f"{stem}.{fmt}"
