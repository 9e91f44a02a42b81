"""Questionnaires, their versions, the schedules that send them, invitations (personal links) and
the answers that come back. Every table is a tenant table under row-level security.

A questionnaire's questions live in its versions: a version that has answers is never changed
again (editing makes the next one), and each answer keeps the wording it was given, so a report
or an export always says what a person was actually asked.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    Numeric,
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

KINDS = ("checkin", "closing", "impact", "custom")
AUDIENCES = ("mentor", "mentee", "guardian")
# start: once, N days after the tandem started; during: N days after the start, then every M days
# while it is active; end: once, N days after it ended.
TRIGGERS = ("start", "during", "end")
PHASES = ("before", "after")
QUESTION_TYPES = ("scale", "single", "multiple", "yes_no", "number", "short_text", "long_text")


REMINDER_OPEN = "submitted_at IS NULL AND revoked_at IS NULL AND reminded_at IS NULL AND skipped IS NULL"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class QuestionnaireSettings(TenantBase):
    """The organisation's rules for questionnaires; one row, or the defaults without one."""

    __tablename__ = "questionnaire_settings"
    __table_args__ = (
        UniqueConstraint("organization_id", name="uq_questionnaire_settings_org"),
        CheckConstraint("low_rating_threshold BETWEEN 1 AND 4", name="threshold"),
        CheckConstraint("link_valid_days BETWEEN 1 AND 365", name="valid_days"),
        CheckConstraint("reminder_after_days BETWEEN 0 AND 90", name="reminder_days"),
    )

    # A scale answer at or below this value is a signal for the coordinator.
    low_rating_threshold: Mapped[int] = mapped_column(Integer, server_default="2")
    link_valid_days: Mapped[int] = mapped_column(Integer, server_default="21")
    # 0: no reminder.
    reminder_after_days: Mapped[int] = mapped_column(Integer, server_default="7")
    # Only people with a given "questionnaires" consent are asked.
    consent_required: Mapped[bool] = mapped_column(Boolean, server_default="false")
    updated_at: Mapped[datetime] = _now()


class Questionnaire(TenantBase):
    __tablename__ = "questionnaires"
    __table_args__ = (
        _fk(["programme_id"], "contact_programmes", "fk_questionnaires_programme", "SET NULL (programme_id)"),
        CheckConstraint(_in("kind", KINDS), name="kind"),
    )

    # None: for every programme of the organisation.
    programme_id: Mapped[uuid.UUID | None] = mapped_column()
    kind: Mapped[str] = mapped_column(String(10), server_default="custom")
    # The shipped template it was copied from, if any.
    template: Mapped[str | None] = mapped_column(String(30))
    archived_at: Mapped[datetime | None] = mapped_column(TZ)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class QuestionnaireVersion(TenantBase):
    """Title, introduction and questions as people see them; frozen once answered."""

    __tablename__ = "questionnaire_versions"
    __table_args__ = (
        _fk(["questionnaire_id"], "questionnaires", "fk_questionnaire_versions_questionnaire"),
        UniqueConstraint(
            "organization_id", "questionnaire_id", "number", name="uq_questionnaire_versions_number"
        ),
    )

    questionnaire_id: Mapped[uuid.UUID] = mapped_column()
    number: Mapped[int] = mapped_column(Integer)
    # A shared.questionnaires.schemas.Content as JSON.
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(200), server_default="")
    created_at: Mapped[datetime] = _now()


class QuestionnaireSchedule(TenantBase):
    __tablename__ = "questionnaire_schedules"
    __table_args__ = (
        _fk(["questionnaire_id"], "questionnaires", "fk_questionnaire_schedules_questionnaire"),
        _fk(["programme_id"], "contact_programmes", "fk_questionnaire_schedules_programme"),
        CheckConstraint(_in("audience", AUDIENCES), name="audience"),
        CheckConstraint(_in("trigger", TRIGGERS), name="trigger"),
        CheckConstraint("phase IS NULL OR " + _in("phase", PHASES), name="phase"),
        CheckConstraint("after_days BETWEEN 0 AND 3650", name="after_days"),
        CheckConstraint("every_days IS NULL OR every_days BETWEEN 1 AND 3650", name="every_days"),
        Index("ix_questionnaire_schedules_active", "organization_id", postgresql_where=text("active")),
    )

    questionnaire_id: Mapped[uuid.UUID] = mapped_column()
    # None: tandems of every programme.
    programme_id: Mapped[uuid.UUID | None] = mapped_column()
    audience: Mapped[str] = mapped_column(String(10))
    trigger: Mapped[str] = mapped_column(String(10))
    after_days: Mapped[int] = mapped_column(Integer, server_default="0")
    every_days: Mapped[int | None] = mapped_column(Integer)
    # For impact measurement: answers of "before" are compared with those of "after".
    phase: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = _now()


class QuestionnaireInvitation(TenantBase):
    """One person's personal link to one questionnaire for one tandem.

    The unique key on (schedule, match, contact, occurrence) is the ledger of scheduled sending:
    two workers that find the same occurrence due both try to insert it, and one of them wins.
    """

    __tablename__ = "questionnaire_invitations"
    __table_args__ = (
        _fk(["questionnaire_id"], "questionnaires", "fk_questionnaire_invitations_questionnaire"),
        _fk(["version_id"], "questionnaire_versions", "fk_questionnaire_invitations_version"),
        _fk(
            ["schedule_id"],
            "questionnaire_schedules",
            "fk_questionnaire_invitations_schedule",
            "SET NULL (schedule_id)",
        ),
        _fk(["match_id"], "matches", "fk_questionnaire_invitations_match"),
        _fk(["contact_id"], "contacts", "fk_questionnaire_invitations_contact"),
        CheckConstraint(_in("audience", AUDIENCES), name="audience"),
        CheckConstraint("phase IS NULL OR " + _in("phase", PHASES), name="phase"),
        UniqueConstraint(
            "organization_id", "schedule_id", "match_id", "contact_id", "occurrence",
            name="uq_questionnaire_invitations_once",
        ),
        UniqueConstraint("organization_id", "token_hash", name="uq_questionnaire_invitations_token"),
        Index(
            "ix_questionnaire_invitations_reminder_token",
            "organization_id",
            "reminder_token_hash",
            unique=True,
            postgresql_where=text("reminder_token_hash IS NOT NULL"),
        ),
        Index("ix_questionnaire_invitations_match", "organization_id", "match_id"),
        Index("ix_questionnaire_invitations_contact", "organization_id", "contact_id"),
        Index(
            "ix_questionnaire_invitations_reminder_due",
            "sent_at",
            postgresql_where=text(REMINDER_OPEN),
        ),
    )  # fmt: skip

    questionnaire_id: Mapped[uuid.UUID] = mapped_column()
    version_id: Mapped[uuid.UUID] = mapped_column()
    schedule_id: Mapped[uuid.UUID | None] = mapped_column()
    match_id: Mapped[uuid.UUID] = mapped_column()
    contact_id: Mapped[uuid.UUID] = mapped_column()
    audience: Mapped[str] = mapped_column(String(10))
    # Which sending of a repeating schedule (0 for the first; always 0 for one-off and manual ones).
    occurrence: Mapped[int] = mapped_column(Integer, server_default="0")
    phase: Mapped[str | None] = mapped_column(String(10))
    lang: Mapped[str] = mapped_column(String(2), server_default="de")
    form_of_address: Mapped[str] = mapped_column(String(3), server_default="sie")
    # SHA-256 of the link's secret; the reminder carries a second link to the same invitation.
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    reminder_token_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    expires_at: Mapped[datetime] = mapped_column(TZ)
    sent_at: Mapped[datetime] = mapped_column(TZ)
    reminded_at: Mapped[datetime | None] = mapped_column(TZ)
    submitted_at: Mapped[datetime | None] = mapped_column(TZ)
    revoked_at: Mapped[datetime | None] = mapped_column(TZ)
    # Why nobody was asked (no_email, no_consent): the occurrence is done, no link went out.
    skipped: Mapped[str | None] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(200), server_default="")
    created_at: Mapped[datetime] = _now()


class QuestionnaireResponse(TenantBase):
    __tablename__ = "questionnaire_responses"
    __table_args__ = (
        _fk(["invitation_id"], "questionnaire_invitations", "fk_questionnaire_responses_invitation"),
        _fk(["questionnaire_id"], "questionnaires", "fk_questionnaire_responses_questionnaire"),
        _fk(["version_id"], "questionnaire_versions", "fk_questionnaire_responses_version"),
        _fk(["match_id"], "matches", "fk_questionnaire_responses_match"),
        _fk(["contact_id"], "contacts", "fk_questionnaire_responses_contact"),
        UniqueConstraint("organization_id", "invitation_id", name="uq_questionnaire_responses_invitation"),
        Index("ix_questionnaire_responses_match", "organization_id", "match_id", "submitted_at"),
        Index("ix_questionnaire_responses_version", "organization_id", "version_id"),
    )

    invitation_id: Mapped[uuid.UUID] = mapped_column()
    questionnaire_id: Mapped[uuid.UUID] = mapped_column()
    version_id: Mapped[uuid.UUID] = mapped_column()
    match_id: Mapped[uuid.UUID] = mapped_column()
    contact_id: Mapped[uuid.UUID] = mapped_column()
    audience: Mapped[str] = mapped_column(String(10))
    phase: Mapped[str | None] = mapped_column(String(10))
    lang: Mapped[str] = mapped_column(String(2))
    # Which signals the answers gave (worry, low_rating, would_not_continue).
    signals: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default=text("'{}'"))
    # The answer to the questionnaire's rating question (the scale question with the low-rating
    # signal), for the match page's "latest ratings of both sides".
    rating: Mapped[int | None] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = _now()
    # Set by erasure: free text is gone, the rest no longer points at the person.
    anonymised_at: Mapped[datetime | None] = mapped_column(TZ)


class QuestionnaireAnswer(TenantBase):
    """One answer, with the question's key, type and the exact wording the person saw."""

    __tablename__ = "questionnaire_answers"
    __table_args__ = (
        _fk(["response_id"], "questionnaire_responses", "fk_questionnaire_answers_response"),
        CheckConstraint(_in("question_type", QUESTION_TYPES), name="question_type"),
        Index("ix_questionnaire_answers_response", "organization_id", "response_id"),
    )

    response_id: Mapped[uuid.UUID] = mapped_column()
    question_key: Mapped[str] = mapped_column(String(50))
    question_type: Mapped[str] = mapped_column(String(12))
    wording: Mapped[str] = mapped_column(Text)
    number: Mapped[float | None] = mapped_column(Numeric(14, 4, asdecimal=False))
    choices: Mapped[list[str]] = mapped_column(ARRAY(String(50)), server_default=text("'{}'"))
    # Free text; confidential answers (a worry) are shown to admins and the tandem's coordinator only.
    text_value: Mapped[str | None] = mapped_column(Text)
    confidential: Mapped[bool] = mapped_column(Boolean, server_default="false")


# The one row per organisation of ``questionnaire_scans`` (migration 0023_scheduled_sends).
SCAN_ROW = uuid.UUID("4d3801b4-601d-570c-af61-6f9e7c4cf77a")


class QuestionnaireScan(TenantBase):
    """Whether an organisation can have questionnaires newly due: ``revision`` is bumped by
    triggers in every transaction that writes what schedules are computed from (tandems,
    guardians, schedules, questionnaires, deleted invitations); the sender records the day and
    revision up to which it has written everything due. The scan skips an organisation checked
    today at its current revision."""

    __tablename__ = "questionnaire_scans"

    revision: Mapped[int] = mapped_column(BigInteger, server_default="0")
    checked_on: Mapped[date | None] = mapped_column(Date)
    checked_revision: Mapped[int | None] = mapped_column(BigInteger)
