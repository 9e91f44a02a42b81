"""What the API, the pages and the exports ask reporting for: a query, parsed once, and its answer
as the caller may see it (small numbers hidden from those who may not see personal data)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import ValidationFailed
from shared.reporting import figures
from shared.reporting.schemas import (
    Breakdown,
    Report,
    Series,
    suppress_breakdown,
    suppress_report,
    suppress_series,
)


@dataclass(frozen=True)
class Query:
    start: date
    end: date
    programme_id: uuid.UUID | None = None
    interval: str = "month"
    by: str | None = None
    figures: tuple[str, ...] | None = None

    def params(self) -> dict[str, str]:
        """As query parameters again, for links and for the worker."""
        out = {"from": self.start.isoformat(), "to": self.end.isoformat(), "interval": self.interval}
        if self.programme_id:
            out["programme"] = str(self.programme_id)
        if self.by:
            out["by"] = self.by
        if self.figures:
            out["figures"] = ",".join(self.figures)
        return out


def parse(
    first: str | None = None,
    last: str | None = None,
    programme: str | None = None,
    interval: str | None = None,
    by: str | None = None,
    wanted: str | None = None,
    *,
    today: date | None = None,
) -> Query:
    """A query from what a caller typed; every mistake is a problem naming its parameter."""
    start, end = figures.period(first, last, today)
    programme_id = None
    if programme:
        try:
            programme_id = uuid.UUID(programme)
        except ValueError:
            raise ValidationFailed("a programme is given by its id", field="programme") from None
    interval = interval or "month"
    if interval not in figures.INTERVALS:
        raise ValidationFailed("the interval is month or quarter", field="interval")
    keys = figures.figure_keys(wanted) if wanted else None
    return Query(start, end, programme_id, interval, by or None, keys)


def from_params(params: dict[str, Any]) -> Query:
    return parse(
        params.get("from"),
        params.get("to"),
        params.get("programme"),
        params.get("interval"),
        params.get("by"),
        params.get("figures"),
    )


async def report(session: AsyncSession, q: Query, *, suppressed: bool, locale: str = "en") -> Report:
    found = await figures.report(session, q.start, q.end, q.programme_id, locale)
    return suppress_report(found) if suppressed else found


async def series(session: AsyncSession, q: Query, *, suppressed: bool) -> Series:
    found = await figures.series(session, q.start, q.end, q.interval, q.programme_id, q.figures)
    return suppress_series(found, figures.SERIES_BASES) if suppressed else found


async def breakdown(session: AsyncSession, q: Query, *, suppressed: bool, locale: str = "en") -> Breakdown:
    if not q.by:
        raise ValidationFailed("say what to break down by", field="by")
    found = await figures.breakdown(session, q.start, q.end, q.by, q.programme_id, locale)
    return suppress_breakdown(found) if suppressed else found
