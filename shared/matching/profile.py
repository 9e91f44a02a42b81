"""What the engine knows about a person: the matching profile, free of any database.

The same shape serves both sides. For a mentee, ``support_kinds`` is the support wanted; for a
mentor, the support offered. ``capacity`` and ``load`` only matter for mentors.
"""

from __future__ import annotations

import uuid
from datetime import date

import msgspec


class Preferences(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The person's wishes about the other side; empty means no wish."""

    genders: list[str] = msgspec.field(default_factory=list)
    age_min: int | None = None
    age_max: int | None = None


class Profile(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    languages: list[str] = msgspec.field(default_factory=list)
    interests: list[str] = msgspec.field(default_factory=list)
    availability: list[str] = msgspec.field(default_factory=list)
    postal_code: str | None = None
    gender: str | None = None
    birth_date: date | None = None
    preferences: Preferences = msgspec.field(default_factory=Preferences)
    support_kinds: list[str] = msgspec.field(default_factory=list)
    capacity: int = 1
    # Matches already counted against the capacity (mentors).
    load: int = 0
    waiting_since: date | None = None
    # Values of the programme's custom criteria, by custom-field key.
    custom: dict[str, list[str]] = msgspec.field(default_factory=dict)
    name: str = ""

    @property
    def capacity_left(self) -> int:
        return max(self.capacity - self.load, 0)


def age_on(birth_date: date | None, today: date) -> int | None:
    if birth_date is None:
        return None
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - int(before_birthday)


def norm(value: str) -> str:
    """Interests and other free words match regardless of case and surrounding spaces."""
    return " ".join(value.split()).casefold()
