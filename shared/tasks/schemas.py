"""Request and response bodies of the tasks API (msgspec)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from shared.limits import Fields, Int4, Items, Text
from shared.tasks.models import DEFAULT_TIMEZONE

Priority = Literal["low", "normal", "high"]


class TaskCreate(msgspec.Struct, forbid_unknown_fields=True):
    title: Text
    due_date: date
    due_time: Text | None = None
    assignee_id: uuid.UUID | None = None
    description: Text = ""
    priority: Priority = "normal"
    recurrence: Text | None = None
    timezone: Text = DEFAULT_TIMEZONE
    contact_id: uuid.UUID | None = None
    match_id: uuid.UUID | None = None


class TaskPatch(msgspec.Struct, forbid_unknown_fields=True):
    title: Text | UnsetType = UNSET
    description: Text | UnsetType = UNSET
    due_date: date | UnsetType = UNSET
    due_time: Text | UnsetType | None = UNSET
    assignee_id: uuid.UUID | UnsetType | None = UNSET
    priority: Priority | UnsetType = UNSET
    status: Literal["open", "cancelled"] | UnsetType = UNSET
    recurrence: Text | UnsetType | None = UNSET
    contact_id: uuid.UUID | UnsetType | None = UNSET
    match_id: uuid.UUID | UnsetType | None = UNSET


class TaskOut(msgspec.Struct):
    id: uuid.UUID
    title: str
    description: str
    assignee_id: uuid.UUID | None
    due_date: date
    due_time: str | None
    timezone: str
    due_at: datetime
    overdue: bool
    priority: str
    status: str
    recurrence: str | None
    series_id: uuid.UUID | None
    rule: str | None
    contact_id: uuid.UUID | None
    match_id: uuid.UUID | None
    created_at: datetime
    completed_at: datetime | None


class CommentOut(msgspec.Struct):
    id: uuid.UUID
    author_id: uuid.UUID | None
    body: str
    created_at: datetime


class Completed(msgspec.Struct):
    task: TaskOut
    next: TaskOut | None


class BulkResult(msgspec.Struct):
    updated: list[uuid.UUID]
    skipped: list[uuid.UUID]
    next: list[TaskOut]


class TaskPage(msgspec.Struct):
    items: list[TaskOut]
    next_cursor: str | None


class AppointmentCreate(msgspec.Struct, forbid_unknown_fields=True):
    title: Text
    starts_at: datetime
    ends_at: datetime
    timezone: Text = DEFAULT_TIMEZONE
    description: Text = ""
    kind: Literal["meeting", "introduction"] = "meeting"
    location: Text = ""
    video_url: Text = ""
    member_ids: Items[uuid.UUID] = []
    contact_ids: Items[uuid.UUID] = []
    match_id: uuid.UUID | None = None
    reminder_minutes: Int4 = 60


class AppointmentPatch(msgspec.Struct, forbid_unknown_fields=True):
    title: Text | UnsetType = UNSET
    starts_at: datetime | UnsetType = UNSET
    ends_at: datetime | UnsetType = UNSET
    timezone: Text | UnsetType = UNSET
    description: Text | UnsetType = UNSET
    location: Text | UnsetType = UNSET
    video_url: Text | UnsetType = UNSET
    member_ids: Items[uuid.UUID] | UnsetType = UNSET
    contact_ids: Items[uuid.UUID] | UnsetType = UNSET
    match_id: uuid.UUID | UnsetType | None = UNSET
    reminder_minutes: Int4 | UnsetType = UNSET


class CancelBody(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text = ""


class AppointmentOut(msgspec.Struct):
    id: uuid.UUID
    title: str
    description: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    local_start: str
    local_end: str
    location: str
    video_url: str
    status: str
    member_ids: list[uuid.UUID]
    contact_ids: list[uuid.UUID]
    match_id: uuid.UUID | None
    organizer_id: uuid.UUID | None
    reminder_minutes: int
    sequence: int
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str


class AppointmentPage(msgspec.Struct):
    items: list[AppointmentOut]


class Channels(msgspec.Struct):
    email: bool
    in_app: bool


class PreferencesOut(msgspec.Struct):
    member_id: uuid.UUID
    language: str
    kinds: dict[str, Channels]


class NotificationOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    title: str
    body: str
    link: str
    created_at: datetime
    read_at: datetime | None


class NotificationPage(msgspec.Struct):
    items: list[NotificationOut]
    unread_count: int
    next_cursor: str | None


class RuleOut(msgspec.Struct):
    rule: str
    enabled: bool
    params: dict[str, int]
    assignee_id: uuid.UUID | None


class RuleIn(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool
    params: Fields[Text, Int4] = {}
    assignee_id: uuid.UUID | None = None


class ErasureRequestIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text = ""


class FeedOut(msgspec.Struct):
    url: str
    member_id: uuid.UUID
    created_at: datetime


class MyDay(msgspec.Struct):
    day: date
    timezone: str
    member_id: uuid.UUID
    overdue: list[TaskOut]
    tasks: list[TaskOut]
    appointments: list[AppointmentOut]


class CalendarOut(msgspec.Struct):
    start: date
    end: date
    timezone: str
    tasks: list[TaskOut]
    appointments: list[AppointmentOut]
