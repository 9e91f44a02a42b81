"""Tasks (to-dos): create, change, complete (recurring ones roll on), comment, list and bulk actions."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import msgspec
from msgspec import UnsetType
from sqlalchemy import Select, column, func, select, table, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.contacts.models import Contact
from shared.db import current_org
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.ids import new_id
from shared.tasks import messages, notify, recurrence
from shared.tasks.models import DEFAULT_TIMEZONE, Task, TaskComment
from shared.tasks.schemas import BulkResult, CommentOut, Completed, TaskCreate, TaskOut, TaskPage, TaskPatch

Status = Literal["open", "done", "cancelled"]
View = Literal["today", "overdue", "week", "upcoming"]

# A timed task is reminded this long before it is due; one without a time at the start of its day.
TIMED_LEAD = timedelta(minutes=60)
DAY_START = time(7, 0)
MAX_BULK = 500
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


class TaskDetail(TaskOut):
    comments: list[CommentOut] = []


@dataclass(frozen=True)
class TaskFilter:
    status: str | None = None
    assignee_id: uuid.UUID | None = None
    due_before: date | None = None
    due_after: date | None = None
    view: str | None = None
    q: str | None = None
    contact_id: uuid.UUID | None = None
    match_id: uuid.UUID | None = None


def parse_time(value: str | None, field: str = "due_time") -> time | None:
    if value is None or value == "":
        return None
    match = _TIME.match(value.strip())
    if not match:
        raise ValidationFailed("a time reads HH:MM (24-hour clock)", field=field)
    return time(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def _title(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 300:
        raise ValidationFailed("the title must be 1 to 300 characters", field="title")
    return value


def _description(value: str) -> str:
    if len(value) > 20_000:
        raise ValidationFailed("the description may be at most 20,000 characters", field="description")
    return value


def schedule(due_date: date, due_time: time | None, tz: str) -> tuple[datetime, datetime]:
    """(due_at, remind_at) in UTC for a due date and optional time on the wall clock of ``tz``."""
    if due_time is None:
        due_at = recurrence.to_utc(datetime.combine(due_date + timedelta(days=1), time(0)), tz)
        remind_at = recurrence.to_utc(datetime.combine(due_date, DAY_START), tz)
    else:
        due_at = recurrence.to_utc(datetime.combine(due_date, due_time), tz)
        remind_at = due_at - TIMED_LEAD
    return due_at, remind_at


def _set_schedule(task: Task) -> None:
    before = task.remind_at
    task.due_at, task.remind_at = schedule(task.due_date, task.due_time, task.timezone)
    if before != task.remind_at:
        task.reminded_at = None


def task_out(task: Task, now: datetime) -> TaskOut:
    return TaskOut(
        id=task.id,
        title=task.title,
        description=task.description,
        assignee_id=task.assignee_id,
        due_date=task.due_date,
        due_time=task.due_time.strftime("%H:%M") if task.due_time else None,
        timezone=task.timezone,
        due_at=task.due_at,
        overdue=task.status == "open" and task.due_at <= now,
        priority=task.priority,
        status=task.status,
        recurrence=task.recurrence,
        series_id=task.series_id,
        rule=task.rule,
        contact_id=task.contact_id,
        match_id=task.match_id,
        created_at=task.created_at,
        completed_at=task.completed_at,
    )


async def _get(session: AsyncSession, task_id: uuid.UUID, *, lock: bool = False) -> Task:
    query = select(Task).where(Task.id == task_id)
    if lock:
        query = query.with_for_update()
    task = (await session.execute(query)).scalar_one_or_none()
    if task is None:
        raise NotFound("no such task")
    return task


def _apply_recurrence(task: Task, rule: str | None) -> None:
    """Attach (or drop) a recurrence; the due date moves to the rule's first occurrence on or after it."""
    if rule is None:
        task.recurrence = task.recurrence_start = None
        return
    rule = recurrence.normalize(rule)
    start = recurrence.local_due(task.due_date, task.due_time)
    recurrence.check_yields(rule, start)
    first = recurrence.first_occurrence(rule, start) or start
    task.due_date = first.date()
    task.recurrence = rule
    task.recurrence_start = first
    task.series_id = task.series_id or task.id


async def notify_assignment(session: AsyncSession, actor: Actor, task: Task) -> None:
    if task.assignee_id is None or task.assignee_id == actor.membership_id:
        return
    found = await notify.recipients(session, {task.assignee_id})
    recipient = found.get(task.assignee_id)
    if recipient is None:
        return
    lang = messages.language(recipient.locale)
    message = messages.render(
        lang,
        "assignment",
        intro_params={"title": task.title, "due": messages.day_text(task.due_date, lang)},
        details=[task.description] if task.description else None,
        link=actor.link(f"/tasks/{task.id}"),
    )
    await notify.deliver(session, actor.organization_id, recipient, "assignment", message)


async def require_contact(session: AsyncSession, contact_id: uuid.UUID, field: str = "contact_id") -> None:
    found = (
        await session.execute(select(Contact.id).where(Contact.id == contact_id, Contact.erased_at.is_(None)))
    ).scalar_one_or_none()
    if found is None:
        raise ValidationFailed("no such contact in this organisation", field=field)


# Tasks sit below matching: a task names its match by id and checks it like the foreign key that
# holds it, by table, without reaching into the matching domain.
_MATCHES = table("matches", column("id"))


async def require_match(session: AsyncSession, match_id: uuid.UUID, field: str = "match_id") -> None:
    found = select(_MATCHES.c.id).where(_MATCHES.c.id == match_id)
    if (await session.execute(found)).scalar_one_or_none() is None:
        raise ValidationFailed("no such match in this organisation", field=field)


async def create_task(session: AsyncSession, actor: Actor, data: TaskCreate, now: datetime) -> TaskOut:
    recurrence.zone(data.timezone)
    if data.assignee_id is not None:
        await notify.require_member(session, data.assignee_id, "assignee_id")
    if data.contact_id is not None:
        await require_contact(session, data.contact_id)
    if data.match_id is not None:
        await require_match(session, data.match_id)
    task = Task(
        organization_id=actor.organization_id,
        id=new_id(),
        title=_title(data.title),
        description=_description(data.description),
        assignee_id=data.assignee_id,
        due_date=data.due_date,
        due_time=parse_time(data.due_time),
        timezone=data.timezone,
        priority=data.priority,
        status="open",
        contact_id=data.contact_id,
        match_id=data.match_id,
        created_by_membership_id=actor.membership_id,
    )
    if data.recurrence is not None and data.recurrence.strip():
        _apply_recurrence(task, data.recurrence)
    _set_schedule(task)
    session.add(task)
    await session.flush()
    await notify_assignment(session, actor, task)
    await session.refresh(task)
    return task_out(task, now)


async def get_task(session: AsyncSession, task_id: uuid.UUID, now: datetime) -> TaskDetail:
    task = await _get(session, task_id)
    comments = (
        await session.execute(
            select(TaskComment).where(TaskComment.task_id == task.id).order_by(TaskComment.id)
        )
    ).scalars()
    return TaskDetail(
        **msgspec.structs.asdict(task_out(task, now)),
        comments=[
            CommentOut(id=c.id, author_id=c.author_membership_id, body=c.body, created_at=c.created_at)
            for c in comments
        ],
    )


async def update_task(
    session: AsyncSession, actor: Actor, task_id: uuid.UUID, patch: TaskPatch, now: datetime
) -> TaskOut:
    task = await _get(session, task_id, lock=True)
    reassigned = False
    if not isinstance(patch.title, UnsetType):
        task.title = _title(patch.title)
    if not isinstance(patch.description, UnsetType):
        task.description = _description(patch.description)
    if not isinstance(patch.priority, UnsetType):
        task.priority = patch.priority
    if not isinstance(patch.due_date, UnsetType):
        task.due_date = patch.due_date
    if not isinstance(patch.due_time, UnsetType):
        task.due_time = parse_time(patch.due_time)
    if not isinstance(patch.assignee_id, UnsetType) and patch.assignee_id != task.assignee_id:
        if patch.assignee_id is not None:
            await notify.require_member(session, patch.assignee_id, "assignee_id")
        task.assignee_id = patch.assignee_id
        task.reminded_at = None  # the new assignee has not been reminded
        reassigned = True
    if not isinstance(patch.contact_id, UnsetType):
        if patch.contact_id is not None:
            await require_contact(session, patch.contact_id)
        task.contact_id = patch.contact_id
    if not isinstance(patch.match_id, UnsetType):
        if patch.match_id is not None:
            await require_match(session, patch.match_id)
        task.match_id = patch.match_id
    if not isinstance(patch.status, UnsetType) and patch.status != task.status:
        if task.status == "done":
            raise Conflict("a completed task cannot be reopened or cancelled", field="status")
        task.status = patch.status
    if not isinstance(patch.recurrence, UnsetType):
        _apply_recurrence(task, patch.recurrence if patch.recurrence and patch.recurrence.strip() else None)
    elif task.recurrence and not (
        isinstance(patch.due_date, UnsetType) and isinstance(patch.due_time, UnsetType)
    ):
        # A moved occurrence moves the series with it.
        _apply_recurrence(task, task.recurrence)
    _set_schedule(task)
    task.updated_at = now
    await session.flush()
    if reassigned:
        await notify_assignment(session, actor, task)
    return task_out(task, now)


async def _complete(session: AsyncSession, actor: Actor, task: Task, now: datetime) -> Task | None:
    task.status = "done"
    task.completed_at = now
    task.completed_by_membership_id = actor.membership_id
    task.updated_at = now
    if not task.recurrence or task.recurrence_start is None:
        return None
    after = recurrence.local_due(task.due_date, task.due_time)
    following = recurrence.next_occurrence(task.recurrence, task.recurrence_start, after)
    if following is None:
        return None
    nxt = Task(
        organization_id=task.organization_id,
        id=new_id(),
        title=task.title,
        description=task.description,
        assignee_id=task.assignee_id,
        due_date=following.date(),
        due_time=task.due_time,
        timezone=task.timezone,
        priority=task.priority,
        status="open",
        recurrence=task.recurrence,
        recurrence_start=task.recurrence_start,
        series_id=task.series_id or task.id,
        contact_id=task.contact_id,
        match_id=task.match_id,
        created_by_membership_id=task.created_by_membership_id,
    )
    _set_schedule(nxt)
    session.add(nxt)
    return nxt


async def complete_task(session: AsyncSession, actor: Actor, task_id: uuid.UUID, now: datetime) -> Completed:
    task = await _get(session, task_id, lock=True)
    if task.status != "open":
        raise Conflict("the task is already %(status)s", field="status", status=task.status)
    nxt = await _complete(session, actor, task, now)
    await session.flush()
    if nxt is not None:
        await session.refresh(nxt)
    return Completed(task=task_out(task, now), next=task_out(nxt, now) if nxt else None)


async def _lock_many(session: AsyncSession, ids: list[uuid.UUID]) -> list[Task]:
    if not ids:
        raise ValidationFailed("name at least one task", field="ids")
    if len(ids) > MAX_BULK:
        raise ValidationFailed("at most %(max_bulk)s tasks at once", field="ids", max_bulk=MAX_BULK)
    unique = list(dict.fromkeys(ids))
    rows = list(
        (
            await session.execute(select(Task).where(Task.id.in_(unique)).order_by(Task.id).with_for_update())
        ).scalars()
    )
    if len(rows) != len(unique):
        # Nothing is changed when one id is unknown: bad input never writes half a change.
        missing = sorted(set(unique) - {t.id for t in rows})
        raise ValidationFailed("no such task: %(map)s", field="ids", map=", ".join(map(str, missing)))
    return rows


async def bulk_complete(
    session: AsyncSession, actor: Actor, ids: list[uuid.UUID], now: datetime
) -> BulkResult:
    result = BulkResult(updated=[], skipped=[], next=[])
    created: list[Task] = []
    for task in await _lock_many(session, ids):
        if task.status != "open":
            result.skipped.append(task.id)
            continue
        nxt = await _complete(session, actor, task, now)
        result.updated.append(task.id)
        if nxt is not None:
            created.append(nxt)
    await session.flush()
    for nxt in created:
        await session.refresh(nxt)
    result.next = [task_out(t, now) for t in created]
    return result


async def bulk_reassign(
    session: AsyncSession, actor: Actor, ids: list[uuid.UUID], assignee_id: uuid.UUID | None, now: datetime
) -> BulkResult:
    if assignee_id is not None:
        await notify.require_member(session, assignee_id, "assignee_id")
    result = BulkResult(updated=[], skipped=[], next=[])
    changed: list[Task] = []
    for task in await _lock_many(session, ids):
        if task.status != "open" or task.assignee_id == assignee_id:
            result.skipped.append(task.id)
            continue
        task.assignee_id = assignee_id
        task.reminded_at = None
        task.updated_at = now
        result.updated.append(task.id)
        changed.append(task)
    await session.flush()
    for task in changed:
        await notify_assignment(session, actor, task)
    return result


async def delete_task(session: AsyncSession, task_id: uuid.UUID) -> None:
    task = await _get(session, task_id, lock=True)
    await session.delete(task)


async def add_comment(session: AsyncSession, actor: Actor, task_id: uuid.UUID, body: str) -> CommentOut:
    task = await _get(session, task_id)
    body = body.strip()
    if not body or len(body) > 10_000:
        raise ValidationFailed("a comment is 1 to 10,000 characters", field="body")
    comment = TaskComment(
        organization_id=actor.organization_id,
        task_id=task.id,
        author_membership_id=actor.membership_id,
        body=body,
    )
    session.add(comment)
    await session.flush()
    await session.refresh(comment)
    return CommentOut(
        id=comment.id,
        author_id=comment.author_membership_id,
        body=comment.body,
        created_at=comment.created_at,
    )


def _encode(due_at: datetime, task_id: uuid.UUID) -> str:
    raw = f"{due_at.astimezone(UTC).isoformat()}|{task_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        return datetime.fromisoformat(stamp), uuid.UUID(ident)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValidationFailed("the cursor is not one this API handed out", field="cursor") from None


def week_bounds(today: date) -> tuple[date, date]:
    monday = today - timedelta(days=today.weekday())
    return monday, monday + timedelta(days=7)


def _filtered(query: Select[Any], f: TaskFilter, now: datetime, tz: str) -> Select[Any]:
    today = recurrence.local_now(now, tz).date()
    if f.status:
        if f.status not in ("open", "done", "cancelled"):
            raise ValidationFailed("status is open, done or cancelled", field="status")
        query = query.where(Task.status == f.status)
    if f.assignee_id is not None:
        query = query.where(Task.assignee_id == f.assignee_id)
    if f.contact_id is not None:
        query = query.where(Task.contact_id == f.contact_id)
    if f.match_id is not None:
        query = query.where(Task.match_id == f.match_id)
    if f.due_before is not None:
        query = query.where(Task.due_date < f.due_before)
    if f.due_after is not None:
        query = query.where(Task.due_date >= f.due_after)
    if f.q:
        pattern = f.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Task.title.ilike(f"%{pattern}%"))
    if f.view == "overdue":
        query = query.where(Task.status == "open", Task.due_at <= now)
    elif f.view == "today":
        query = query.where(Task.status == "open", Task.due_date <= today)
    elif f.view == "week":
        start, end = week_bounds(today)
        query = query.where(Task.status == "open", Task.due_date >= start, Task.due_date < end)
    elif f.view == "upcoming":
        query = query.where(Task.status == "open", Task.due_at > now)
    elif f.view is not None:
        raise ValidationFailed("view is today, overdue, week or upcoming", field="view")
    return query


async def list_tasks(
    session: AsyncSession,
    f: TaskFilter,
    *,
    now: datetime,
    limit: int,
    cursor: str | None,
    tz: str = DEFAULT_TIMEZONE,
) -> TaskPage:
    """Tasks by due time (then id), keyset-paginated so no task is skipped or repeated."""
    # The organisation named as well as enforced by RLS: the policy is no index condition, so
    # without it the list reads every organisation's tasks.
    scoped = select(Task).where(Task.organization_id == current_org(session))
    query = _filtered(scoped, f, now, tz).order_by(Task.due_at, Task.id).limit(limit + 1)
    if cursor:
        due_at, last = _decode(cursor)
        # As a row comparison, the cursor is a range on the list's index (due_at, id).
        query = query.where(tuple_(Task.due_at, Task.id) > tuple_(due_at, last))
    rows: list[Task] = list((await session.execute(query)).scalars())
    items = [task_out(t, now) for t in rows[:limit]]
    more = len(rows) > limit
    return TaskPage(
        items=items, next_cursor=_encode(rows[limit - 1].due_at, rows[limit - 1].id) if more else None
    )


async def count_open(session: AsyncSession, assignee_id: uuid.UUID, now: datetime) -> tuple[int, int]:
    """(open, overdue) tasks of one member."""
    row = (
        await session.execute(
            select(func.count(), func.count().filter(Task.due_at <= now)).where(
                Task.assignee_id == assignee_id, Task.status == "open"
            )
        )
    ).one()
    return int(row[0]), int(row[1])
