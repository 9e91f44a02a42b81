"""Intake and preparation: sign-up forms, screening steps, certificate inspections, events.

Every table is a tenant table under row-level security, keyed ``(organization_id, id)``, and
refers to other tenant tables only through composite foreign keys that include the organisation.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models import TenantBase
from shared.models import now_column as _now
from shared.models import tenant_fk as _fk

TZ = DateTime(timezone=True)


class IntakeProfile(TenantBase):
    """What intake knows about a contact beyond the contact record itself.

    Intake's statuses ("new" after a sign-up, "declined_child_protection") are the contact's own
    status since migration 0012; ``protection_notes`` are for admins only.
    """

    __tablename__ = "intake_profiles"
    __table_args__ = (
        UniqueConstraint("organization_id", "contact_id"),
        _fk(["contact_id"], "contacts", "fk_intake_profiles_contact"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column()
    # "du" or "sie": how every e-mail to this person addresses them.
    form_of_address: Mapped[str] = mapped_column(String(3), server_default="sie")
    protection_notes: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = _now()


class ScreeningStep(TenantBase):
    """One step of a programme's preparation (first interview, seminar, certificate, ...)."""

    __tablename__ = "screening_steps"
    __table_args__ = (
        UniqueConstraint("organization_id", "programme_id", "key"),
        _fk(["programme_id"], "contact_programmes", "fk_screening_steps_programme"),
    )

    programme_id: Mapped[uuid.UUID] = mapped_column()
    key: Mapped[str] = mapped_column(String(40))
    # interview | seminar | certificate | references | agreement | other
    kind: Mapped[str] = mapped_column(String(20))
    label_de: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    required: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # The contact kinds (mentor, mentee, guardian) that must go through this step.
    applies_to: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default=text("'{mentor}'"))
    # For the certificate: months after its issue date until it must be inspected again.
    valid_months: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = _now()


class ScreeningRecord(TenantBase):
    """That a person went through a step: when, by whom, with which outcome. The latest counts."""

    __tablename__ = "screening_records"
    __table_args__ = (
        _fk(["contact_id"], "contacts", "fk_screening_records_contact"),
        _fk(["step_id"], "screening_steps", "fk_screening_records_step"),
        _fk(["recorded_by_membership_id"], "memberships", "fk_screening_records_member", None),
        Index("ix_screening_records_contact", "organization_id", "contact_id", "step_id"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column()
    step_id: Mapped[uuid.UUID] = mapped_column()
    done_on: Mapped[date] = mapped_column(Date)
    done_by: Mapped[str] = mapped_column(String(200))
    # passed | failed
    outcome: Mapped[str] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_membership_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = _now()


class CertificateInspection(TenantBase):
    """An inspection of an extended criminal-record certificate, as § 72a SGB VIII allows to keep it.

    Exactly: that it was seen, its issue date, when and by whom it was inspected, and whether it
    holds relevant entries. Never the document, never its content.
    """

    __tablename__ = "certificate_inspections"
    __table_args__ = (
        _fk(["contact_id"], "contacts", "fk_certificate_inspections_contact"),
        _fk(["inspected_by_membership_id"], "memberships", "fk_certificate_inspections_member", None),
        Index("ix_certificate_inspections_contact", "organization_id", "contact_id", "issued_on"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column()
    seen: Mapped[bool] = mapped_column(Boolean)
    issued_on: Mapped[date] = mapped_column(Date)
    inspected_on: Mapped[date] = mapped_column(Date)
    inspected_by: Mapped[str] = mapped_column(String(200))
    inspected_by_membership_id: Mapped[uuid.UUID | None] = mapped_column()
    has_relevant_entries: Mapped[bool] = mapped_column(Boolean)


class CertificateReminder(TenantBase):
    """The ledger of re-inspection reminders: one per inspection, however often the scan runs."""

    __tablename__ = "certificate_reminders"
    __table_args__ = (
        UniqueConstraint("organization_id", "inspection_id"),
        _fk(["inspection_id"], "certificate_inspections", "fk_certificate_reminders_inspection"),
        _fk(["task_id"], "tasks", "fk_certificate_reminders_task", "SET NULL (task_id)"),
    )

    inspection_id: Mapped[uuid.UUID] = mapped_column()
    due_on: Mapped[date] = mapped_column(Date)
    task_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = _now()


class IntakeEvent(TenantBase):
    """A workshop, regulars' meeting, outing or training."""

    __tablename__ = "intake_events"
    __table_args__ = (
        _fk(["programme_id"], "contact_programmes", "fk_intake_events_programme", "SET NULL (programme_id)"),
        Index("ix_intake_events_starts_at", "organization_id", "starts_at"),
    )

    # workshop | regulars | outing | training
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(TZ)
    ends_at: Mapped[datetime | None] = mapped_column(TZ)
    location: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    programme_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = _now()


class EventAttendee(TenantBase):
    __tablename__ = "intake_event_attendees"
    __table_args__ = (
        UniqueConstraint("organization_id", "event_id", "contact_id"),
        _fk(["event_id"], "intake_events", "fk_intake_event_attendees_event"),
        _fk(["contact_id"], "contacts", "fk_intake_event_attendees_contact"),
        Index("ix_intake_event_attendees_contact", "organization_id", "contact_id"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column()
    contact_id: Mapped[uuid.UUID] = mapped_column()
    # invited | confirmed | present | absent
    status: Mapped[str] = mapped_column(String(10), server_default="invited")
    invited_at: Mapped[datetime | None] = mapped_column(TZ)
    updated_at: Mapped[datetime] = _now()


class IntakeForm(TenantBase):
    """A public sign-up form of one programme, for mentors or for mentees and their families."""

    __tablename__ = "intake_forms"
    __table_args__ = (
        UniqueConstraint("organization_id", "slug"),
        _fk(["programme_id"], "contact_programmes", "fk_intake_forms_programme"),
        _fk(
            ["coordinator_membership_id"],
            "memberships",
            "fk_intake_forms_coordinator",
            "SET NULL (coordinator_membership_id)",
        ),
    )

    slug: Mapped[str] = mapped_column(String(60))
    programme_id: Mapped[uuid.UUID] = mapped_column()
    # mentor | mentee
    audience: Mapped[str] = mapped_column(String(10))
    title_de: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    intro_de: Mapped[str] = mapped_column(Text, server_default="")
    intro_en: Mapped[str] = mapped_column(Text, server_default="")
    # [{"key": "phone", "required": false}]: standard fields and custom fields by key.
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    # [{"purpose": "data_processing", "version": "2026-01", "text_de": ..., "text_en": ..., "required": true}]
    consents: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    coordinator_membership_id: Mapped[uuid.UUID | None] = mapped_column()
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # An unconfirmed submission is deleted this long after it was sent.
    confirm_within_hours: Mapped[int] = mapped_column(Integer, server_default="48")
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class IntakeSubmission(TenantBase):
    """A filled-in form, waiting for its e-mail address to be confirmed (double opt-in)."""

    __tablename__ = "intake_submissions"
    __table_args__ = (
        UniqueConstraint("organization_id", "token_hash"),
        _fk(["form_id"], "intake_forms", "fk_intake_submissions_form"),
        _fk(["contact_id"], "contacts", "fk_intake_submissions_contact", "SET NULL (contact_id)"),
        Index("ix_intake_submissions_email", "organization_id", "email", "created_at"),
        Index("ix_intake_submissions_client", "organization_id", "client_hash", "created_at"),
        Index("ix_intake_submissions_pending", "created_at", postgresql_where=text("status = 'pending'")),
    )

    form_id: Mapped[uuid.UUID] = mapped_column()
    email: Mapped[str] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(2))
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The consents as shown: purpose, version and the exact wording the person ticked.
    consents: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # A keyed hash of the sender's network address, only to limit the rate.
    client_hash: Mapped[str] = mapped_column(String(64))
    # pending | confirmed
    status: Mapped[str] = mapped_column(String(10), server_default="pending")
    contact_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = _now()
    confirmed_at: Mapped[datetime | None] = mapped_column(TZ)
