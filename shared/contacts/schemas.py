"""Request and response bodies of the contacts API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from shared.limits import Entries, Fields, Int4, Items, Short, Text


class ContactIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kinds: Items[Text]
    first_name: Text = ""
    last_name: Text = ""
    preferred_name: Text | None = None
    organisation_name: Text | None = None
    birth_date: date | None = None
    age_group: Text | None = None
    gender: Text | None = None
    languages: Items[Text] = []
    postal_code: Text | None = None
    city: Text | None = None
    phone: Text | None = None
    email: Text | None = None
    preferred_channel: Text | None = None
    status: Text = "interested"
    tags: Entries[Short] = []
    owner_membership_id: uuid.UUID | None = None
    interests: Entries[Short] = []
    availability: Items[Text] = []
    capacity: Int4 = 1
    preferences: Fields[Text, Any] = {}
    support_kinds: Entries[Short] = []
    notes: Text | None = None
    waiting_since: date | None = None
    last_match_ended_on: date | None = None
    custom: Fields[Text, Any] = {}
    programme_ids: Items[uuid.UUID] = []


class ContactPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Only the fields sent are changed; ``null`` clears a field."""

    kinds: Items[Text] | UnsetType = UNSET
    first_name: Text | UnsetType = UNSET
    last_name: Text | UnsetType = UNSET
    preferred_name: Text | UnsetType | None = UNSET
    organisation_name: Text | UnsetType | None = UNSET
    birth_date: date | UnsetType | None = UNSET
    age_group: Text | UnsetType | None = UNSET
    gender: Text | UnsetType | None = UNSET
    languages: Items[Text] | UnsetType = UNSET
    postal_code: Text | UnsetType | None = UNSET
    city: Text | UnsetType | None = UNSET
    phone: Text | UnsetType | None = UNSET
    email: Text | UnsetType | None = UNSET
    preferred_channel: Text | UnsetType | None = UNSET
    status: Text | UnsetType = UNSET
    # Required with a change to or from "declined_child_protection" (admins only).
    status_reason: Text | UnsetType = UNSET
    tags: Entries[Short] | UnsetType = UNSET
    owner_membership_id: uuid.UUID | UnsetType | None = UNSET
    interests: Entries[Short] | UnsetType = UNSET
    availability: Items[Text] | UnsetType = UNSET
    capacity: Int4 | UnsetType = UNSET
    preferences: Fields[Text, Any] | UnsetType = UNSET
    support_kinds: Entries[Short] | UnsetType = UNSET
    notes: Text | UnsetType | None = UNSET
    waiting_since: date | UnsetType | None = UNSET
    last_match_ended_on: date | UnsetType | None = UNSET
    custom: Fields[Text, Any] | UnsetType = UNSET
    programme_ids: Items[uuid.UUID] | UnsetType = UNSET
    legal_hold: bool | UnsetType = UNSET
    legal_hold_reason: Text | UnsetType | None = UNSET


class ProgrammeRef(msgspec.Struct):
    id: uuid.UUID
    name: str


class ContactOut(msgspec.Struct):
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
    kind: Text


class LinkOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    contact_id: uuid.UUID
    contact_name: str
    related_id: uuid.UUID
    related_name: str


class ProgrammeIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Text


class ProgrammeOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    contact_count: int


class ActivityIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: Text = "note"
    body: Text
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
    purpose: Text
    status: Text
    effective_on: date | None = None
    given_by: Text | None = None
    evidence: Text | None = None


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
    required_consents: Items[Text] | UnsetType = UNSET
    retention_months: Int4 | UnsetType | None = UNSET
    retention_statuses: Items[Text] | UnsetType = UNSET


class SettingsOut(msgspec.Struct):
    required_consents: list[str]
    retention_months: int | None
    retention_statuses: list[str]
