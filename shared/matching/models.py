"""Matching tables: settings per programme, cohort runs and their pairs, matches with their
transitions, the organisation's end reasons, check-ins and meetings. All tenant tables."""

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
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.contacts.models import FieldDefinition
from shared.models import TenantBase
from shared.models import now_column as _now
from shared.models import tenant_fk as _fk

TZ = DateTime(timezone=True)

MATCH_STATUSES = ("proposed", "introduced", "active", "paused", "ended")
OPEN_STATUSES = ("proposed", "introduced", "active", "paused")
RUN_STATUSES = ("queued", "running", "done", "failed")
CHECKIN_CHANNELS = ("phone", "in_person", "video", "email", "messenger", "other")
REPORTERS = ("mentor", "mentee", "both", "coordinator")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class MatchingSettings(TenantBase):
    """Rules and weights of one programme, or of the whole organisation (no programme)."""

    __tablename__ = "matching_settings"
    __table_args__ = (
        UniqueConstraint("organization_id", "programme_id"),
        # NULL programmes are distinct to a unique constraint: one default row per organisation.
        Index(
            "uq_matching_settings_default",
            "organization_id",
            unique=True,
            postgresql_where=text("programme_id IS NULL"),
        ),
        _fk(["programme_id"], "contact_programmes", "fk_matching_settings_programme"),
        CheckConstraint("checkin_interval_days BETWEEN 1 AND 365", name="checkin_interval"),
    )

    programme_id: Mapped[uuid.UUID | None] = mapped_column()
    # A shared.matching.config.MatchingConfig as JSON.
    config: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    checkin_interval_days: Mapped[int] = mapped_column(Integer, server_default="30")
    updated_at: Mapped[datetime] = _now()


class EndReason(TenantBase):
    """Why matches end, as the organisation words it; ``early`` marks endings before the goal."""

    __tablename__ = "match_end_reasons"
    __table_args__ = (UniqueConstraint("organization_id", "key"),)

    key: Mapped[str] = mapped_column(String(50))
    label_de: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    early: Mapped[bool] = mapped_column(Boolean, server_default="true")
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    archived_at: Mapped[datetime | None] = mapped_column(TZ)
    created_at: Mapped[datetime] = _now()


class MatchingRun(TenantBase):
    """One cohort assignment: who takes part, what is pinned or excluded, and how far it got."""

    __tablename__ = "matching_runs"
    __table_args__ = (
        _fk(["programme_id"], "contact_programmes", "fk_matching_runs_programme", "SET NULL (programme_id)"),
        _fk(["previous_run_id"], "matching_runs", "fk_matching_runs_previous", "SET NULL (previous_run_id)"),
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        CheckConstraint("progress BETWEEN 0 AND 1", name="progress"),
        Index("ix_matching_runs_status", "organization_id", "status"),
    )

    programme_id: Mapped[uuid.UUID | None] = mapped_column()
    previous_run_id: Mapped[uuid.UUID | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(10), server_default="queued")
    stage: Mapped[str] = mapped_column(String(20), server_default="queued")
    progress: Mapped[float] = mapped_column(Float, server_default="0")
    # The people asked for; empty lists mean everyone waiting / available when the run starts.
    mentee_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()), server_default=text("'{}'"))
    mentor_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()), server_default=text("'{}'"))
    # [[mentee_id, mentor_id], ...]
    pins: Mapped[list[list[str]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    exclusions: Mapped[list[list[str]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    mentee_count: Mapped[int] = mapped_column(Integer, server_default="0")
    mentor_count: Mapped[int] = mapped_column(Integer, server_default="0")
    total_score: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200), server_default="")
    created_at: Mapped[datetime] = _now()
    started_at: Mapped[datetime | None] = mapped_column(TZ)
    # Written with every step: a running run whose heartbeat is old lost its worker.
    heartbeat_at: Mapped[datetime | None] = mapped_column(TZ)
    finished_at: Mapped[datetime | None] = mapped_column(TZ)


class MatchingRunPair(TenantBase):
    __tablename__ = "matching_run_pairs"
    __table_args__ = (
        _fk(["run_id"], "matching_runs", "fk_matching_run_pairs_run"),
        _fk(["mentee_id"], "contacts", "fk_matching_run_pairs_mentee"),
        _fk(["mentor_id"], "contacts", "fk_matching_run_pairs_mentor"),
        _fk(["match_id"], "matches", "fk_matching_run_pairs_match", "SET NULL (match_id)"),
        UniqueConstraint("organization_id", "run_id", "mentee_id", name="uq_matching_run_pairs_mentee"),
    )

    run_id: Mapped[uuid.UUID] = mapped_column()
    mentee_id: Mapped[uuid.UUID] = mapped_column()
    mentor_id: Mapped[uuid.UUID] = mapped_column()
    score: Mapped[float] = mapped_column(Float)
    pinned: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # The proposed match this pair became when it was accepted.
    match_id: Mapped[uuid.UUID | None] = mapped_column()


class Match(TenantBase):
    __tablename__ = "matches"
    __table_args__ = (
        _fk(["mentor_id"], "contacts", "fk_matches_mentor"),
        _fk(["mentee_id"], "contacts", "fk_matches_mentee"),
        _fk(["programme_id"], "contact_programmes", "fk_matches_programme", "SET NULL (programme_id)"),
        _fk(["end_reason_id"], "match_end_reasons", "fk_matches_end_reason", None),
        CheckConstraint(_in("status", MATCH_STATUSES), name="status"),
        CheckConstraint("mentor_id <> mentee_id", name="two_people"),
        CheckConstraint("(status = 'ended') = (ended_on IS NOT NULL)", name="ended_on"),
        # A mentee has at most one match that has not ended.
        Index(
            "uq_matches_open_mentee",
            "organization_id",
            "mentee_id",
            unique=True,
            postgresql_where=text("status <> 'ended'"),
        ),
        Index("ix_matches_mentor", "organization_id", "mentor_id"),
        Index("ix_matches_status", "organization_id", "status"),
    )

    mentor_id: Mapped[uuid.UUID] = mapped_column()
    mentee_id: Mapped[uuid.UUID] = mapped_column()
    programme_id: Mapped[uuid.UUID | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(12), server_default="proposed")
    # The score when proposed, for the record.
    score: Mapped[float | None] = mapped_column(Float)
    proposed_on: Mapped[date] = mapped_column(Date, server_default=func.current_date())
    introduced_on: Mapped[date | None] = mapped_column(Date)
    first_meeting_on: Mapped[date | None] = mapped_column(Date)
    started_on: Mapped[date | None] = mapped_column(Date)
    paused_on: Mapped[date | None] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    end_reason_id: Mapped[uuid.UUID | None] = mapped_column()
    ended_early: Mapped[bool | None] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(200), server_default="")
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    # Values of the organisation's match fields (MatchField), by key.
    custom: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # Set when a signal from the tandem (a worry, a low rating) asks the coordinator to look at it.
    follow_up_since: Mapped[datetime | None] = mapped_column(TZ)


class MatchField(FieldDefinition, TenantBase):
    """A field the organisation defined on matches (funder, kind of tandem): the types of contacts."""

    __tablename__ = "match_fields"
    __table_args__ = (UniqueConstraint("organization_id", "key"),)


class MatchEvent(TenantBase):
    """The log of a match: its proposal and every transition, who made it and why."""

    __tablename__ = "match_events"
    __table_args__ = (
        _fk(["match_id"], "matches", "fk_match_events_match"),
        Index("ix_match_events_match", "organization_id", "match_id", "created_at"),
    )

    match_id: Mapped[uuid.UUID] = mapped_column()
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    occurred_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200), server_default="")
    created_at: Mapped[datetime] = _now()


class CheckIn(TenantBase):
    """A coordinator asking how the match goes."""

    __tablename__ = "match_checkins"
    __table_args__ = (
        _fk(["match_id"], "matches", "fk_match_checkins_match"),
        CheckConstraint(_in("channel", CHECKIN_CHANNELS), name="channel"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
        Index("ix_match_checkins_match", "organization_id", "match_id", "occurred_on"),
        # Reports read the days at a period's cut edges (migration 0025).
        Index("ix_match_checkins_day", "organization_id", "occurred_on"),
    )

    match_id: Mapped[uuid.UUID] = mapped_column()
    occurred_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(12))
    # 1 (difficult) .. 5 (very good)
    rating: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, server_default="")
    follow_up: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_by: Mapped[str] = mapped_column(String(200), server_default="")
    created_at: Mapped[datetime] = _now()


class Meeting(TenantBase):
    """A meeting the pair reported, and the volunteer time it took."""

    __tablename__ = "match_meetings"
    __table_args__ = (
        _fk(["match_id"], "matches", "fk_match_meetings_match"),
        CheckConstraint(_in("reported_by", REPORTERS), name="reported_by"),
        CheckConstraint("duration_minutes BETWEEN 1 AND 1440", name="duration"),
        CheckConstraint("volunteer_minutes BETWEEN 0 AND 1440", name="volunteer"),
        Index("ix_match_meetings_match", "organization_id", "match_id", "occurred_on"),
        Index("ix_match_meetings_day", "organization_id", "occurred_on"),
    )

    match_id: Mapped[uuid.UUID] = mapped_column()
    occurred_on: Mapped[date] = mapped_column(Date)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    # The mentor's time including travel and preparation; the meeting's length when not given.
    volunteer_minutes: Mapped[int] = mapped_column(Integer)
    activity: Mapped[str] = mapped_column(String(200), server_default="")
    reported_by: Mapped[str] = mapped_column(String(12), server_default="mentor")
    notes: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = _now()


class MatchConcern(TenantBase):
    """A signal from a tandem that asks its coordinator to look: a worry, a low rating.

    ``summary`` is what anyone who may read the match sees; ``confidential_text`` is the
    reporter's own words, for admins and the tandem's coordinator only.
    """

    __tablename__ = "match_concerns"
    __table_args__ = (
        _fk(["match_id"], "matches", "fk_match_concerns_match"),
        _fk(["task_id"], "tasks", "fk_match_concerns_task", "SET NULL (task_id)"),
        Index("ix_match_concerns_match", "organization_id", "match_id", "created_at"),
    )

    match_id: Mapped[uuid.UUID] = mapped_column()
    # Where the signal came from: "meeting_log", "questionnaire", ...
    source: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(300))
    confidential_text: Mapped[str] = mapped_column(Text, server_default="")
    # The coordinator's task; repeated signals of one source share it while it is open.
    task_id: Mapped[uuid.UUID | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(200), server_default="")
    created_at: Mapped[datetime] = _now()


class MeetingLogLink(TenantBase):
    """A mentor's personal link to log the meetings of one tandem; only its secret's hash is kept.

    A reminder adds a link (the token cannot be read back to send it again); renewing or
    revoking ends every link of the tandem. A link of an ended tandem opens nothing.
    """

    __tablename__ = "meeting_log_links"
    __table_args__ = (
        _fk(["match_id"], "matches", "fk_meeting_log_links_match"),
        UniqueConstraint("organization_id", "token_hash"),
        Index("ix_meeting_log_links_match", "organization_id", "match_id"),
    )

    match_id: Mapped[uuid.UUID] = mapped_column()
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # Why it was made: "start", "renew", "reminder".
    reason: Mapped[str] = mapped_column(String(12), server_default="start")
    # Whether the e-mail with the link went to the outbox (no address or no consent: it did not).
    sent: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_by: Mapped[str] = mapped_column(String(200), server_default="")
    created_at: Mapped[datetime] = _now()
    last_used_at: Mapped[datetime | None] = mapped_column(TZ)
    revoked_at: Mapped[datetime | None] = mapped_column(TZ)


class MeetingLogEntry(TenantBase):
    """What a mentor added to a meeting they logged through their link: how it went, what they did."""

    __tablename__ = "meeting_log_entries"
    __table_args__ = (
        _fk(["meeting_id"], "match_meetings", "fk_meeting_log_entries_meeting"),
        _fk(["match_id"], "matches", "fk_meeting_log_entries_match"),
        _fk(["link_id"], "meeting_log_links", "fk_meeting_log_entries_link", "SET NULL (link_id)"),
        _fk(["concern_id"], "match_concerns", "fk_meeting_log_entries_concern", "SET NULL (concern_id)"),
        UniqueConstraint("organization_id", "meeting_id"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
        Index("ix_meeting_log_entries_match", "organization_id", "match_id"),
    )

    meeting_id: Mapped[uuid.UUID] = mapped_column()
    match_id: Mapped[uuid.UUID] = mapped_column()
    link_id: Mapped[uuid.UUID | None] = mapped_column()
    rating: Mapped[int] = mapped_column(Integer)
    # Keys of shared.matching.meeting_log.ACTIVITIES.
    activities: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default=text("'{}'"))
    worried: Mapped[bool] = mapped_column(Boolean, server_default="false")
    concern_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = _now()


class MatchingStamp(TenantBase):
    """The matching revision at which a person last changed in anything a candidate pool reads.

    ``id`` is the contact's id, or :data:`EVERYONE` when something every person's preparation
    depends on changed (field definitions, preparation steps, settings). Written only by the
    triggers of migration 0028 in the writing transaction, so a pool built at revision ``r``
    reads exactly the people stamped after ``r`` to catch up.
    """

    __tablename__ = "matching_stamps"
    __table_args__ = (Index("ix_matching_stamps_revision", "organization_id", "revision"),)

    revision: Mapped[int] = mapped_column(BigInteger)


# The stamp that stands for every person of the organisation (migration 0028 writes the same id).
EVERYONE = uuid.UUID("00000000-0000-0000-0000-000000000000")
