"""Tables of tasks, appointments, reminders, notifications and calendar feeds.

Times a person chose on a wall clock (a task's due date and time, an appointment's time zone)
are kept as they were given; every instant the worker compares with "now" (``due_at``,
``remind_at``, ``starts_at``) is stored in UTC so the reminder scan is one index range.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models import TenantBase

DEFAULT_TIMEZONE = "Europe/Berlin"
TASK_REMINDER_DUE = "status = 'open' AND assignee_id IS NOT NULL AND reminded_at IS NULL"
APPOINTMENT_REMINDER_DUE = "status <> 'cancelled' AND reminded_at IS NULL"


def _member_fk(column: str, name: str, ondelete: str | None = None) -> ForeignKeyConstraint:
    if ondelete == "SET NULL":
        # Only the member column: organization_id is part of the key and must stay.
        ondelete = f"SET NULL ({column})"
    return ForeignKeyConstraint(
        ["organization_id", column],
        ["memberships.organization_id", "memberships.id"],
        name=name,
        ondelete=ondelete,
    )


def _link_fk(column: str, target: str, name: str, ondelete: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["organization_id", column],
        [f"{target}.organization_id", f"{target}.id"],
        name=name,
        ondelete=ondelete,
    )


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Task(TenantBase):
    __tablename__ = "tasks"
    __table_args__ = (
        _member_fk("assignee_id", "fk_tasks_assignee", "SET NULL"),
        _member_fk("created_by_membership_id", "fk_tasks_created_by", "SET NULL"),
        _member_fk("completed_by_membership_id", "fk_tasks_completed_by", "SET NULL"),
        Index("ix_tasks_assignee_due", "organization_id", "assignee_id", "due_at"),
        # The list's order, all tasks and the open ones (migration 0034): a page reads the index and stops.
        Index("ix_tasks_due", "organization_id", "due_at", "id"),
        Index(
            "ix_tasks_open_due", "organization_id", "due_at", "id", postgresql_where=text("status = 'open'")
        ),
        # The reminder scan: a range on remind_at among the reminders still to send, across
        # organisations (first) and within one (second).
        Index("ix_tasks_reminder_due", "remind_at", postgresql_where=text(TASK_REMINDER_DUE)),
        Index(
            "ix_tasks_org_reminder_due",
            "organization_id",
            "remind_at",
            postgresql_where=text(TASK_REMINDER_DUE),
        ),
        # Only tasks of a series (migration 0029): a lookup by one implies it is not NULL.
        Index(
            "ix_tasks_series", "organization_id", "series_id", postgresql_where=text("series_id IS NOT NULL")
        ),
        # Links (migration 0006): a task about a person or a match outlives neither silently.
        _link_fk("contact_id", "contacts", "fk_tasks_contact", "SET NULL (contact_id)"),
        _link_fk("match_id", "matches", "fk_tasks_match", "SET NULL (match_id)"),
        Index("ix_tasks_contact", "organization_id", "contact_id"),
        Index("ix_tasks_match", "organization_id", "match_id"),
        # Automatic rules: never two open tasks for one subject, never two for one occurrence.
        Index(
            "uq_tasks_rule_open",
            "organization_id",
            "rule",
            "rule_subject",
            unique=True,
            postgresql_where=text("rule IS NOT NULL AND status = 'open'"),
        ),
        Index(
            "uq_tasks_rule_occurrence",
            "organization_id",
            "rule",
            "rule_subject",
            "rule_occurrence",
            unique=True,
            postgresql_where=text("rule IS NOT NULL"),
        ),
    )

    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, server_default="")
    assignee_id: Mapped[uuid.UUID | None] = mapped_column()
    due_date: Mapped[date] = mapped_column(Date)
    due_time: Mapped[time | None] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64), server_default=DEFAULT_TIMEZONE)
    # The instant the task becomes overdue (end of the due day when it has no time), in UTC.
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    remind_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set once the reminder for the current remind_at went out (cleared when remind_at moves).
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    priority: Mapped[str] = mapped_column(String(10), server_default="normal")
    status: Mapped[str] = mapped_column(String(10), server_default="open")
    # RFC 5545 RRULE without DTSTART; the series starts at recurrence_start (local wall time).
    recurrence: Mapped[str | None] = mapped_column(String(500))
    recurrence_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))
    series_id: Mapped[uuid.UUID | None] = mapped_column()
    contact_id: Mapped[uuid.UUID | None] = mapped_column()
    match_id: Mapped[uuid.UUID | None] = mapped_column()
    rule: Mapped[str | None] = mapped_column(String(40))
    rule_subject: Mapped[str | None] = mapped_column(String(100))
    rule_occurrence: Mapped[str | None] = mapped_column(String(100))
    created_by_membership_id: Mapped[uuid.UUID | None] = mapped_column()
    completed_by_membership_id: Mapped[uuid.UUID | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class TaskComment(TenantBase):
    __tablename__ = "task_comments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "task_id"],
            ["tasks.organization_id", "tasks.id"],
            name="fk_task_comments_task",
            ondelete="CASCADE",
        ),
        _member_fk("author_membership_id", "fk_task_comments_author", "SET NULL"),
        Index("ix_task_comments_task", "organization_id", "task_id"),
    )

    task_id: Mapped[uuid.UUID] = mapped_column()
    author_membership_id: Mapped[uuid.UUID | None] = mapped_column()
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class Appointment(TenantBase):
    __tablename__ = "appointments"
    __table_args__ = (
        _member_fk("organizer_membership_id", "fk_appointments_organizer", "SET NULL"),
        Index("ix_appointments_starts_at", "organization_id", "starts_at"),
        _link_fk("match_id", "matches", "fk_appointments_match", "SET NULL (match_id)"),
        Index("ix_appointments_match", "organization_id", "match_id"),
        Index("ix_appointments_reminder_due", "remind_at", postgresql_where=text(APPOINTMENT_REMINDER_DUE)),
        Index(
            "ix_appointments_org_reminder_due",
            "organization_id",
            "remind_at",
            postgresql_where=text(APPOINTMENT_REMINDER_DUE),
        ),
    )

    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, server_default="")
    # introduction: the first meeting of a match; confirming it moves the match on.
    kind: Mapped[str] = mapped_column(String(20), server_default="meeting")
    match_id: Mapped[uuid.UUID | None] = mapped_column()
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(64), server_default=DEFAULT_TIMEZONE)
    location: Mapped[str] = mapped_column(String(300), server_default="")
    video_url: Mapped[str] = mapped_column(String(500), server_default="")
    # planned -> confirmed; either -> cancelled
    status: Mapped[str] = mapped_column(String(10), server_default="planned")
    reminder_minutes: Mapped[int] = mapped_column(Integer, server_default="60")
    remind_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # iCalendar SEQUENCE: calendars replace an invitation only when it grows.
    sequence: Mapped[int] = mapped_column(Integer, server_default="0")
    organizer_membership_id: Mapped[uuid.UUID | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str] = mapped_column(Text, server_default="")
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class AppointmentParticipant(TenantBase):
    __tablename__ = "appointment_participants"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "appointment_id"],
            ["appointments.organization_id", "appointments.id"],
            name="fk_appointment_participants_appointment",
            ondelete="CASCADE",
        ),
        _member_fk("membership_id", "fk_appointment_participants_membership", "CASCADE"),
        Index("ix_appointment_participants_appointment", "organization_id", "appointment_id"),
        Index("ix_appointment_participants_membership", "organization_id", "membership_id"),
        _link_fk("contact_id", "contacts", "fk_appointment_participants_contact", "CASCADE"),
        Index("ix_appointment_participants_contact", "organization_id", "contact_id"),
    )

    appointment_id: Mapped[uuid.UUID] = mapped_column()
    # Exactly one of the two: a member of the organisation or a contact (a mentor, a family).
    membership_id: Mapped[uuid.UUID | None] = mapped_column()
    contact_id: Mapped[uuid.UUID | None] = mapped_column()
    # A contact's reminder ledger (members have reminders_sent): the reminder instant (epoch
    # seconds) this contact was last reminded of, so moving the appointment reminds them again.
    reminded_period: Mapped[str | None] = mapped_column(String(40))


class NotificationPreference(TenantBase):
    """One member's choice for one kind; a kind without a row uses the defaults in shared.tasks.notify."""

    __tablename__ = "notification_preferences"
    __table_args__ = (
        _member_fk("membership_id", "fk_notification_preferences_membership", "CASCADE"),
        UniqueConstraint("organization_id", "membership_id", "kind"),
    )

    membership_id: Mapped[uuid.UUID] = mapped_column()
    kind: Mapped[str] = mapped_column(String(20))
    email: Mapped[bool] = mapped_column(Boolean)
    in_app: Mapped[bool] = mapped_column(Boolean)


class Notification(TenantBase):
    """An in-app notification of one member."""

    __tablename__ = "notifications"
    __table_args__ = (
        _member_fk("membership_id", "fk_notifications_membership", "CASCADE"),
        Index("ix_notifications_member", "organization_id", "membership_id", "id"),
        Index(
            "ix_notifications_unread",
            "organization_id",
            "membership_id",
            postgresql_where=text("read_at IS NULL"),
        ),
    )

    # No key of its own to organizations (migration 0029): the member's composite key names the
    # organisation already and removes the row with the member or the organisation.
    organization_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    membership_id: Mapped[uuid.UUID] = mapped_column()
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, server_default="")
    link: Mapped[str] = mapped_column(String(500), server_default="")
    created_at: Mapped[datetime] = _now()
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReminderSent(TenantBase):
    """The ledger that makes each reminder happen once: its unique key is claimed in the
    same transaction that writes the e-mail to the outbox and the in-app notification."""

    __tablename__ = "reminders_sent"
    __table_args__ = (
        _member_fk("membership_id", "fk_reminders_sent_membership", "CASCADE"),
        UniqueConstraint(
            "organization_id", "kind", "subject_id", "membership_id", "period", name="uq_reminders_sent_once"
        ),
    )

    # No key of its own to organizations (migration 0029): the member's composite key names the
    # organisation already and removes the row with the member or the organisation.
    organization_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[uuid.UUID] = mapped_column()
    membership_id: Mapped[uuid.UUID] = mapped_column()
    period: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = _now()


class CalendarFeed(TenantBase):
    """A member's private iCalendar URL; only the hash of its secret is kept."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        _member_fk("membership_id", "fk_calendar_feeds_membership", "CASCADE"),
        UniqueConstraint("organization_id", "token_hash"),
        Index(
            "uq_calendar_feeds_active",
            "organization_id",
            "membership_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    membership_id: Mapped[uuid.UUID] = mapped_column()
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = _now()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TaskRule(TenantBase):
    """An automatic rule an organisation switched on, with its tuning (shared.tasks.rules)."""

    __tablename__ = "task_rules"
    __table_args__ = (
        UniqueConstraint("organization_id", "rule"),
        _member_fk("assignee_id", "fk_task_rules_assignee", "SET NULL"),
    )

    rule: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="false")
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # Who gets the tasks; without one, the contact's owner (else nobody).
    assignee_id: Mapped[uuid.UUID | None] = mapped_column()
    updated_at: Mapped[datetime] = _now()
