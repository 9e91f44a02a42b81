"""Key figures of a programme for the board and funders: matches, accompaniment, waiting people, events.

Everything is counted inside the session's organisation (row-level security) for one period.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contacts.models import Contact
from shared.errors import ValidationFailed
from shared.intake import events
from shared.matching.models import CheckIn, Match, Meeting

BERLIN = ZoneInfo("Europe/Berlin")
LIVE = ("introduced", "active", "paused")


class EventFigures(msgspec.Struct):
    kind: str
    events: int
    present: int


class KeyFigures(msgspec.Struct):
    period_from: date
    period_to: date
    mentees_waiting: int
    mentors_available: int
    matches_live: int
    matches_active: int
    matches_paused: int
    matches_new: int
    matches_started: int
    matches_ended: int
    matches_ended_early: int
    average_days_to_start: float | None
    average_duration_days: float | None
    meetings: int
    meeting_hours: float
    volunteer_hours: float
    check_ins: int
    events: list[EventFigures]


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed("a day is written YYYY-MM-DD", field=field) from None


def period(first: str | None, last: str | None, today: date | None = None) -> tuple[date, date]:
    """The period asked for, by default the last twelve months up to today (both days included)."""
    today = today or datetime.now(BERLIN).date()
    end = _day(last, "to") or today
    start = _day(first, "from") or end - timedelta(days=365)
    if start > end:
        raise ValidationFailed("the period must start before it ends", field="from")
    if (end - start).days > 3660:
        raise ValidationFailed("a period is at most ten years", field="from")
    return start, end


async def key_figures(session: AsyncSession, start: date, end: date) -> KeyFigures:
    async def scalar(query: object) -> int:
        return int((await session.execute(query)).scalar_one() or 0)  # type: ignore[call-overload]

    in_period = Match.ended_on.between(start, end)
    mentees_waiting = await scalar(
        select(func.count())
        .select_from(Contact)
        .where(Contact.kinds.contains(["mentee"]), Contact.status == "ready", Contact.erased_at.is_(None))
    )
    mentors_available = await scalar(
        select(func.count())
        .select_from(Contact)
        .where(
            Contact.kinds.contains(["mentor"]),
            Contact.status.in_(("ready", "matched")),
            Contact.erased_at.is_(None),
        )
    )
    by_status: dict[str, int] = {
        status: n
        for status, n in await session.execute(select(Match.status, func.count()).group_by(Match.status))
    }
    matches_new = await scalar(
        select(func.count()).select_from(Match).where(Match.proposed_on.between(start, end))
    )
    matches_started = await scalar(
        select(func.count()).select_from(Match).where(Match.started_on.between(start, end))
    )
    ended = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Match.ended_early.is_(True)),
                func.avg(Match.ended_on - func.coalesce(Match.started_on, Match.proposed_on)).filter(
                    Match.started_on.is_not(None)
                ),
            ).where(in_period, Match.status == "ended")
        )
    ).one()
    to_start = (
        await session.execute(
            select(func.avg(Match.started_on - Match.proposed_on)).where(Match.started_on.between(start, end))
        )
    ).scalar_one()
    meetings = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(Meeting.duration_minutes), 0),
                func.coalesce(func.sum(Meeting.volunteer_minutes), 0),
            ).where(Meeting.occurred_on.between(start, end))
        )
    ).one()
    check_ins = await scalar(
        select(func.count()).select_from(CheckIn).where(CheckIn.occurred_on.between(start, end))
    )
    after = datetime.combine(start, time.min, BERLIN)
    before = datetime.combine(end + timedelta(days=1), time.min, BERLIN)
    event_rows = [
        EventFigures(kind=s.kind, events=s.events, present=s.counts.present)
        for s in await events.summary(session, after=after, before=before)
    ]
    return KeyFigures(
        period_from=start,
        period_to=end,
        mentees_waiting=mentees_waiting,
        mentors_available=mentors_available,
        matches_live=sum(by_status.get(s, 0) for s in LIVE),
        matches_active=by_status.get("active", 0),
        matches_paused=by_status.get("paused", 0),
        matches_new=matches_new,
        matches_started=matches_started,
        matches_ended=ended[0],
        matches_ended_early=ended[1],
        average_days_to_start=None if to_start is None else round(float(to_start), 1),
        average_duration_days=None if ended[2] is None else round(float(ended[2]), 1),
        meetings=meetings[0],
        meeting_hours=round(meetings[1] / 60, 1),
        volunteer_hours=round(meetings[2] / 60, 1),
        check_ins=check_ins,
        events=event_rows,
    )
