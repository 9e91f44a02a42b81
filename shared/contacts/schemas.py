"""Request and response bodies of the contacts API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType


class ContactIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kinds: list[str]
    first_name: str = ""
    last_name: str = ""
    preferred_name: str | None = None
    organisation_name: str | None = None
    birth_date: date | None = None
    age_group: str | None = None
    gender: str | None = None
    languages: list[str] = []
    postal_code: str | None = None
    city: str | None = None
    phone: str | None = None
    email: str | None = None
    preferred_channel: str | None = None
    status: str = "interested"
    tags: list[str] = []
    owner_membership_id: uuid.UUID | None = None
    interests: list[str] = []
    availability: list[str] = []
    capacity: int = 1
    preferences: dict[str, Any] = {}
    support_kinds: list[str] = []
    notes: str | None = None
    waiting_since: date | None = None
    last_match_ended_on: date | None = None
    custom: dict[str, Any] = {}
    programme_ids: list[uuid.UUID] = []


class ContactPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Only the fields sent are changed; ``null`` clears a field."""

    kinds: list[str] | UnsetType = UNSET
    first_name: str | UnsetType = UNSET
    last_name: str | UnsetType = UNSET
    preferred_name: str | UnsetType | None = UNSET
    organisation_name: str | UnsetType | None = UNSET
    birth_date: date | UnsetType | None = UNSET
    age_group: str | UnsetType | None = UNSET
    gender: str | UnsetType | None = UNSET
    languages: list[str] | UnsetType = UNSET
    postal_code: str | UnsetType | None = UNSET
    city: str | UnsetType | None = UNSET
    phone: str | UnsetType | None = UNSET
    email: str | UnsetType | None = UNSET
    preferred_channel: str | UnsetType | None = UNSET
    status: str | UnsetType = UNSET
    # Required with a change to or from "declined_child_protection" (admins only).
    status_reason: str | UnsetType = UNSET
    tags: list[str] | UnsetType = UNSET
    owner_membership_id: uuid.UUID | UnsetType | None = UNSET
    interests: list[str] | UnsetType = UNSET
    availability: list[str] | UnsetType = UNSET
    capacity: int | UnsetType = UNSET
    preferences: dict[str, Any] | UnsetType = UNSET
    support_kinds: list[str] | UnsetType = UNSET
    notes: str | UnsetType | None = UNSET
    waiting_since: date | UnsetType | None = UNSET
    last_match_ended_on: date | UnsetType | None = UNSET
    custom: dict[str, Any] | UnsetType = UNSET
    programme_ids: list[uuid.UUID] | UnsetType = UNSET
    legal_hold: bool | UnsetType = UNSET
    legal_hold_reason: str | UnsetType | None = UNSET


class ProgrammeRef(msgspec.Struct):
    id: uuid.UUID
    name: str


class ContactOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    kinds: list[str]
    first_name: str
    last_name: str
    preferred_name: str | None
    organisation_name: str | None
    display_name: str
    birth_date: date | None
    age_group: str | None
    gender: str | None
    languages: list[str]
    postal_code: str | None
    city: str | None
    phone: str | None
    email: str | None
    preferred_channel: str | None
    status: str
    status_changed_at: datetime
    tags: list[str]
    owner_membership_id: uuid.UUID | None
    interests: list[str]
    availability: list[str]
    capacity: int
    preferences: dict[str, Any]
    support_kinds: list[str]
    notes: str | None
    waiting_since: date | None
    last_match_ended_on: date | None
    custom: dict[str, Any]
    programmes: list[ProgrammeRef]
    # Purposes the organisation requires for which this contact has no current consent.
    missing_consents: list[str]
    legal_hold: bool
    legal_hold_reason: str | None
    erased: bool
    created_at: datetime
    updated_at: datetime
    # Filled only in the answer to a create: contacts that look like the same person.
    possible_duplicates: list[uuid.UUID] = []


class DuplicateOut(msgspec.Struct):
    id: uuid.UUID
    display_name: str
    email: str | None
    birth_date: date | None
    reason: str


class MergeIn(msgspec.Struct, forbid_unknown_fields=True):
    other_id: uuid.UUID


class LinkIn(msgspec.Struct, forbid_unknown_fields=True):
    related_id: uuid.UUID
    kind: str


class LinkOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    contact_id: uuid.UUID
    contact_name: str
    related_id: uuid.UUID
    related_name: str


class ProgrammeIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str


class ProgrammeOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    contact_count: int


class ActivityIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: str = "note"
    body: str
    occurred_at: datetime | None = None
    confidential: bool = False


class ActivityOut(msgspec.Struct):
    id: uuid.UUID
    contact_id: uuid.UUID
    kind: str
    occurred_at: datetime
    author_name: str
    body: str
    confidential: bool
    created_at: datetime


class ConsentIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    purpose: str
    status: str
    effective_on: date | None = None
    given_by: str | None = None
    evidence: str | None = None


class ConsentOut(msgspec.Struct):
    id: uuid.UUID
    contact_id: uuid.UUID
    purpose: str
    status: str
    effective_on: date
    given_by: str | None
    evidence: str | None
    recorded_by: str
    created_at: datetime


class ConsentSummary(msgspec.Struct):
    records: list[ConsentOut]
    current: dict[str, str]
    missing: list[str]


class SettingsIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    required_consents: list[str] | UnsetType = UNSET
    retention_months: int | UnsetType | None = UNSET
    retention_statuses: list[str] | UnsetType = UNSET


class SettingsOut(msgspec.Struct):
    required_consents: list[str]
    retention_months: int | None
    retention_statuses: list[str]
