"""Personal views over tasks and appointments: my day and the calendar range."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import ValidationFailed
from shared.tasks import appointments, recurrence
from shared.tasks.models import DEFAULT_TIMEZONE, Task
from shared.tasks.schemas import CalendarOut, MyDay
from shared.tasks.tasks import task_out

MAX_RANGE = timedelta(days=62)


def day_span(day: date, tz: str) -> tuple[datetime, datetime]:
    return (
        recurrence.to_utc(datetime.combine(day, time(0)), tz),
        recurrence.to_utc(datetime.combine(day + timedelta(days=1), time(0)), tz),
    )


async def my_day(
    session: AsyncSession,
    member_id: uuid.UUID,
    now: datetime,
    *,
    day: date | None = None,
    tz: str = DEFAULT_TIMEZONE,
) -> MyDay:
    today = recurrence.local_now(now, tz).date()
    day = day or today
    rows = list(
        (
            await session.execute(
                select(Task)
                .where(Task.assignee_id == member_id, Task.status == "open", Task.due_date <= day)
                .order_by(Task.due_at, Task.id)
                .limit(500)
            )
        ).scalars()
    )
    start, end = day_span(day, tz)
    return MyDay(
        day=day,
        timezone=tz,
        member_id=member_id,
        overdue=[task_out(t, now) for t in rows if t.due_date < day],
        tasks=[task_out(t, now) for t in rows if t.due_date == day],
        appointments=await appointments.list_between(session, start, end, member_id=member_id),
    )


async def calendar(
    session: AsyncSession,
    start: date,
    end: date,
    now: datetime,
    *,
    member_id: uuid.UUID | None = None,
    tz: str = DEFAULT_TIMEZONE,
) -> CalendarOut:
    """Tasks due and appointments in [start, end) (local days), for a week or month view."""
    if end <= start:
        raise ValidationFailed("the range must end after it starts", field="end")
    if end - start > MAX_RANGE:
        raise ValidationFailed("a calendar range is at most 62 days", field="end")
    query = (
        select(Task)
        .where(Task.due_date >= start, Task.due_date < end, Task.status != "cancelled")
        .order_by(Task.due_at, Task.id)
        .limit(2000)
    )
    if member_id is not None:
        query = query.where(Task.assignee_id == member_id)
    tasks = [task_out(t, now) for t in (await session.execute(query)).scalars()]
    span_start, _ = day_span(start, tz)
    span_end, _ = day_span(end, tz)
    return CalendarOut(
        start=start,
        end=end,
        timezone=tz,
        tasks=tasks,
        appointments=await appointments.list_between(
            session, span_start, span_end, member_id=member_id, limit=2000
        ),
    )
