"""Request and response bodies of the intake API (msgspec)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import msgspec
from msgspec import UNSET, UnsetType

from shared.limits import Int4, Items, Text


class EventIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: Text
    title: Text
    starts_at: datetime
    ends_at: datetime | None = None
    location: Text | None = None
    description: Text | None = None
    programme_id: uuid.UUID | None = None


class EventPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: Text | UnsetType = UNSET
    title: Text | UnsetType = UNSET
    starts_at: datetime | UnsetType = UNSET
    ends_at: datetime | UnsetType | None = UNSET
    location: Text | UnsetType | None = UNSET
    description: Text | UnsetType | None = UNSET
    programme_id: uuid.UUID | UnsetType | None = UNSET


class Counts(msgspec.Struct):
    """By current status; ``total`` is everyone on the list."""

    total: int = 0
    invited: int = 0
    confirmed: int = 0
    present: int = 0
    absent: int = 0


class EventOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime | None
    location: str | None
    description: str | None
    programme_id: uuid.UUID | None
    counts: Counts


class AttendeeOut(msgspec.Struct):
    contact_id: uuid.UUID
    name: str
    status: str
    invited_at: datetime | None
    has_email: bool


class InviteIn(msgspec.Struct, forbid_unknown_fields=True):
    contact_ids: Items[uuid.UUID]


class InviteOut(msgspec.Struct):
    invited: list[uuid.UUID]
    already_invited: list[uuid.UUID]
    without_email: list[uuid.UUID]


class AttendanceItem(msgspec.Struct, forbid_unknown_fields=True):
    contact_id: uuid.UUID
    status: Text


class AttendanceIn(msgspec.Struct, forbid_unknown_fields=True):
    items: Items[AttendanceItem]


class PersonEvent(msgspec.Struct):
    event_id: uuid.UUID
    title: str
    kind: str
    starts_at: datetime
    status: str


class PersonAttendance(msgspec.Struct):
    contact_id: uuid.UUID
    counts: Counts
    events: list[PersonEvent]


class Candidate(msgspec.Struct):
    id: uuid.UUID
    name: str
    has_email: bool


class KindSummary(msgspec.Struct):
    kind: str
    events: int
    counts: Counts


class FormField(msgspec.Struct, forbid_unknown_fields=True):
    """A standard field by name (phone, birth_date, ...) or a custom field as ``custom.<key>``."""

    key: Text
    required: bool = False


class ConsentText(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    purpose: Text
    version: Text
    text_de: Text
    text_en: Text
    required: bool = True


class FormIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    slug: Text
    programme_id: uuid.UUID
    audience: Text
    title_de: Text
    title_en: Text
    intro_de: Text = ""
    intro_en: Text = ""
    fields: Items[FormField] = []
    consents: Items[ConsentText] = []
    coordinator_id: uuid.UUID | None = None
    active: bool = True
    confirm_within_hours: Int4 = 48


class FormPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    slug: Text | UnsetType = UNSET
    programme_id: uuid.UUID | UnsetType = UNSET
    audience: Text | UnsetType = UNSET
    title_de: Text | UnsetType = UNSET
    title_en: Text | UnsetType = UNSET
    intro_de: Text | UnsetType = UNSET
    intro_en: Text | UnsetType = UNSET
    fields: Items[FormField] | UnsetType = UNSET
    consents: Items[ConsentText] | UnsetType = UNSET
    coordinator_id: uuid.UUID | UnsetType | None = UNSET
    active: bool | UnsetType = UNSET
    confirm_within_hours: Int4 | UnsetType = UNSET


class FormOut(msgspec.Struct):
    id: uuid.UUID
    slug: str
    programme_id: uuid.UUID
    audience: str
    title_de: str
    title_en: str
    intro_de: str
    intro_en: str
    fields: list[FormField]
    consents: list[ConsentText]
    coordinator_id: uuid.UUID | None
    active: bool
    confirm_within_hours: int
    url: str
    embed_html: str
    pending: int
    confirmed: int


class StepIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    programme_id: uuid.UUID
    kind: Text
    key: Text | None = None
    label_de: Text | None = None
    label_en: Text | None = None
    required: bool = True
    applies_to: Items[Text] = msgspec.field(default_factory=lambda: ["mentor"])
    valid_months: Int4 | None = None
    position: Int4 = 0


class StepPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    label_de: Text | UnsetType = UNSET
    label_en: Text | UnsetType = UNSET
    required: bool | UnsetType = UNSET
    applies_to: Items[Text] | UnsetType = UNSET
    valid_months: Int4 | UnsetType | None = UNSET
    position: Int4 | UnsetType = UNSET


class StepOut(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID
    key: str
    kind: str
    label_de: str
    label_en: str
    required: bool
    applies_to: list[str]
    valid_months: int | None
    position: int


class RecordIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    contact_id: uuid.UUID
    step_id: uuid.UUID
    outcome: Text
    done_on: date | None = None
    done_by: Text | None = None
    note: Text | None = None


class RecordOut(msgspec.Struct):
    id: uuid.UUID
    contact_id: uuid.UUID
    step_id: uuid.UUID
    done_on: date
    done_by: str
    outcome: str
    note: str | None
    created_at: datetime


class CertificateIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Exactly what § 72a SGB VIII allows to keep; any other field (a file, its text) is refused."""

    contact_id: uuid.UUID
    seen: bool
    issued_on: date
    has_relevant_entries: bool
    inspected_on: date | None = None
    inspected_by: Text | None = None


class CertificateOut(msgspec.Struct):
    id: uuid.UUID
    contact_id: uuid.UUID
    seen: bool
    issued_on: date
    inspected_on: date
    inspected_by: str
    has_relevant_entries: bool
    reinspect_on: date | None


class ProfilePatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    form_of_address: Text | UnsetType = UNSET
    # Sets the contact's own status ("new", "declined_child_protection"; null: back to "interested").
    intake_status: Text | UnsetType | None = UNSET
    protection_notes: Text | UnsetType | None = UNSET
    # Why a child-protection decision was made or lifted (else the protection notes are the reason).
    status_reason: Text | UnsetType = UNSET


class ChecklistStep(msgspec.Struct):
    step_id: uuid.UUID
    programme_id: uuid.UUID
    programme: str
    key: str
    kind: str
    label_de: str
    label_en: str
    required: bool
    # done | missing | failed | due | blocked
    state: str
    done_on: date | None = None
    done_by: str | None = None
    outcome: str | None = None
    note: str | None = None
    due_on: date | None = None


class ChecklistOut(msgspec.Struct):
    contact_id: uuid.UUID
    name: str
    kinds: list[str]
    ready: bool
    reasons: list[str]
    reasons_en: list[str]
    form_of_address: str
    intake_status: str | None
    steps: list[ChecklistStep]
    certificate: CertificateOut | None
    # Only for admins; everyone else gets null.
    protection_notes: str | None = None
