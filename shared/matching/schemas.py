"""Request and response bodies of the matching and matches API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

from shared.limits import Fields, Int4, Items, Text
from shared.matching.config import MatchingConfig
from shared.matching.scoring import CriterionScore, RuleViolation

Text200 = Annotated[str, msgspec.Meta(max_length=200)]
Note = Annotated[str, msgspec.Meta(max_length=10_000)]


class SuggestionOut(msgspec.Struct, kw_only=True):
    candidate_id: uuid.UUID
    candidate_name: str
    score: float
    criteria: list[CriterionScore]


class SuggestionsOut(msgspec.Struct, kw_only=True):
    contact_id: uuid.UUID
    role: Literal["mentor", "mentee"]
    candidates: int
    items: list[SuggestionOut]


class PersonOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    waiting_since: date | None
    capacity: int
    free_places: int


class PairScoreOut(msgspec.Struct, kw_only=True):
    mentor_id: uuid.UUID
    mentee_id: uuid.UUID
    score: float
    excluded: bool
    criteria: list[CriterionScore]
    excluded_by: list[RuleViolation]


class SettingsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    config: MatchingConfig = msgspec.field(default_factory=MatchingConfig)
    checkin_interval_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 30


class SettingsOut(msgspec.Struct, kw_only=True):
    programme_id: uuid.UUID | None
    config: MatchingConfig
    checkin_interval_days: int
    # False while the programme uses the organisation's (or the built-in) settings.
    own: bool


class EndReasonIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=r"^[a-z0-9_]+$")]
    label_de: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    label_en: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    early: bool = True
    position: Int4 = 0


class EndReasonPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    label_de: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    label_en: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    early: bool | None = None
    position: Int4 | None = None


class EndReasonOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    key: str
    label_de: str
    label_en: str
    early: bool
    position: int
    archived: bool


class PairRef(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mentee_id: uuid.UUID
    mentor_id: uuid.UUID


class RunIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mentee_ids: Items[uuid.UUID] | None = None
    mentor_ids: Items[uuid.UUID] | None = None
    programme_id: uuid.UUID | None = None
    pins: Items[PairRef] = msgspec.field(default_factory=list)
    exclusions: Items[PairRef] = msgspec.field(default_factory=list)


class RerunIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Pins and exclusions to add to those of the run re-run (and ones to drop)."""

    pins: Items[PairRef] = msgspec.field(default_factory=list)
    exclusions: Items[PairRef] = msgspec.field(default_factory=list)
    unpin: Items[PairRef] = msgspec.field(default_factory=list)
    unexclude: Items[PairRef] = msgspec.field(default_factory=list)


class AcceptIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # Mentees whose proposed pair to accept; none given: every pair not accepted yet.
    mentee_ids: Items[uuid.UUID] | None = None


class RunPairOut(msgspec.Struct, kw_only=True):
    mentee_id: uuid.UUID
    mentee_name: str
    mentor_id: uuid.UUID
    mentor_name: str
    score: float
    pinned: bool
    match_id: uuid.UUID | None


class RunOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    status: str
    stage: str
    progress: float
    programme_id: uuid.UUID | None
    previous_run_id: uuid.UUID | None
    mentee_count: int
    mentor_count: int
    pins: list[PairRef]
    exclusions: list[PairRef]
    total_score: float | None
    pairs: list[RunPairOut] | None
    unmatched_mentee_ids: list[uuid.UUID] | None
    error: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunSummary(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    status: str
    progress: float
    mentee_count: int
    mentor_count: int
    total_score: float | None
    created_at: datetime


class MatchIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mentor_id: uuid.UUID
    mentee_id: uuid.UUID
    programme_id: uuid.UUID | None = None
    # When the pair was proposed, for matches recorded afterwards; today if not given.
    on: date | None = None
    # Values of the organisation's match fields (funder, kind of tandem, ...) by key.
    custom: Fields[Text, Any] = {}


class TransitionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    to: Literal["introduced", "active", "paused", "ended"]
    # For "ended" the key of one of the organisation's end reasons; otherwise a free note.
    reason: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    on: date | None = None
    first_meeting_on: date | None = None
    ended_early: bool | None = None
    # After the end: the mentee waits for a new mentor ("ready") or leaves the programme ("alumni").
    mentee_next: Literal["alumni", "ready"] = "alumni"


class EndReasonRef(msgspec.Struct, kw_only=True):
    key: str
    label: str
    early: bool


class EventOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    from_status: str | None
    to_status: str
    on: date
    reason: str | None
    actor: str
    created_at: datetime


class MatchOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    mentor_id: uuid.UUID
    mentor_name: str
    mentee_id: uuid.UUID
    mentee_name: str
    programme_id: uuid.UUID | None
    status: str
    score: float | None
    proposed_on: date
    introduced_on: date | None
    first_meeting_on: date | None
    started_on: date | None
    paused_on: date | None
    ended_on: date | None
    end_reason: EndReasonRef | None
    ended_early: bool | None
    last_checkin_on: date | None
    checkin_due_on: date | None
    checkin_overdue: bool
    meetings: int
    meeting_hours: float
    volunteer_hours: float
    created_at: datetime
    updated_at: datetime
    events: list[EventOut] | None = None
    custom: Fields[Text, Any] = {}


class CheckInIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    on: date | None = None
    channel: Literal["phone", "in_person", "video", "email", "messenger", "other"]
    rating: Annotated[int, msgspec.Meta(ge=1, le=5)]
    notes: Note = ""
    follow_up: bool = False


class CheckInOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    match_id: uuid.UUID
    on: date
    channel: str
    rating: int
    notes: str
    follow_up: bool
    created_by: str
    created_at: datetime


class MeetingIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    on: date | None = None
    duration_minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)]
    volunteer_minutes: Annotated[int, msgspec.Meta(ge=0, le=1440)] | None = None
    activity: Text200 = ""
    reported_by: Literal["mentor", "mentee", "both", "coordinator"] = "mentor"
    notes: Note = ""


class MeetingOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    match_id: uuid.UUID
    on: date
    duration_minutes: int
    volunteer_minutes: int
    activity: str
    reported_by: str
    notes: str
    created_at: datetime
