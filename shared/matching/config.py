"""A programme's matching settings: hard rules that exclude a pair, weights that rank the rest."""

from __future__ import annotations

from typing import Annotated

import msgspec

from shared.limits import Items

Weight = Annotated[float, msgspec.Meta(ge=0, le=1000)]
PositiveKm = Annotated[float, msgspec.Meta(gt=0, le=2000)]


class HardRules(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Rules only exclude on known facts: a missing postal code or birth date excludes nobody."""

    common_language: bool = True
    max_distance_km: PositiveKm | None = None
    # Gender and age wishes of both sides.
    preferences: bool = True
    # The mentor has a free place.
    capacity: bool = True
    # The mentor offers at least one kind of support the mentee wants.
    support_kinds: bool = False


class Weights(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The most points each criterion can give; a pair's score is the sum of its points."""

    languages: Weight = 10
    interests: Weight = 25
    availability: Weight = 25
    distance: Weight = 20
    age_gap: Weight = 5
    waiting_time: Weight = 10
    support_kinds: Weight = 5


class CustomCriterion(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A criterion from one of the programme's custom fields: both sides share a value."""

    key: Annotated[str, msgspec.Meta(min_length=1, max_length=63, pattern=r"^[a-z0-9_]+$")]
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    weight: Weight = 0
    required: bool = False


class MeetingLogConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The mentors' meeting log of a programme (shared.matching.meeting_log)."""

    # Weeks without any meeting before the mentor is reminded and the coordinator gets a task.
    quiet_weeks: Annotated[int, msgspec.Meta(ge=1, le=52)] = 4
    # A rating at or below this reaches the coordinator as a signal.
    low_rating: Annotated[int, msgspec.Meta(ge=1, le=4)] = 2


class MatchingConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    rules: HardRules = msgspec.field(default_factory=HardRules)
    weights: Weights = msgspec.field(default_factory=Weights)
    custom: Items[CustomCriterion] = msgspec.field(default_factory=list)
    # Full distance points at 0 km, none from this distance on.
    distance_scale_km: PositiveKm = 30
    # Full age points at the ideal gap, none this many years away from it.
    ideal_age_gap_years: Annotated[float, msgspec.Meta(ge=0, le=100)] = 0
    age_gap_scale_years: Annotated[float, msgspec.Meta(gt=0, le=100)] = 40
    # Full waiting points after this many days.
    waiting_scale_days: Annotated[int, msgspec.Meta(gt=0, le=3650)] = 180
    meeting_log: MeetingLogConfig = msgspec.field(default_factory=MeetingLogConfig)

    def __post_init__(self) -> None:
        keys = [c.key for c in self.custom]
        if len(keys) != len(set(keys)):
            raise ValueError("each custom criterion key may appear only once")


STANDARD_CRITERIA = (
    "languages",
    "interests",
    "availability",
    "distance",
    "age_gap",
    "waiting_time",
    "support_kinds",
)
