"""Contacts and everything kept about them. Every table is a tenant table under row-level security."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
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
EMPTY_ARRAY = text("'{}'")
EMPTY_OBJECT = text("'{}'::jsonb")


class Contact(TenantBase):
    __tablename__ = "contacts"
    __table_args__ = (
        # Removing a member leaves their contacts without an owner rather than blocking the removal.
        _fk(["owner_membership_id"], "memberships", "fk_contacts_owner", "SET NULL (owner_membership_id)"),
        # One per sort order of the list, so a page is read in order and stops after 50 rows.
        Index("ix_contacts_sort_name", "organization_id", "sort_name", "id"),
        Index("ix_contacts_created", "organization_id", "created_at", "id"),
        Index("ix_contacts_updated", "organization_id", "updated_at", "id"),
        Index("ix_contacts_email", "organization_id", "email"),
        Index("ix_contacts_owner", "organization_id", "owner_membership_id", "id"),
        Index("ix_contacts_status", "organization_id", "status"),
        Index("ix_contacts_consent_missing", "organization_id", "consent_missing", "sort_name", "id"),
    )

    kinds: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default=EMPTY_ARRAY)
    first_name: Mapped[str] = mapped_column(String(100), server_default="")
    last_name: Mapped[str] = mapped_column(String(100), server_default="")
    preferred_name: Mapped[str | None] = mapped_column(String(100))
    organisation_name: Mapped[str | None] = mapped_column(String(200))
    birth_date: Mapped[date | None] = mapped_column(Date)
    age_group: Mapped[str | None] = mapped_column(String(10))
    gender: Mapped[str | None] = mapped_column(String(20))
    languages: Mapped[list[str]] = mapped_column(ARRAY(String(2)), server_default=EMPTY_ARRAY)
    postal_code: Mapped[str | None] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(320))
    preferred_channel: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30), server_default="interested")
    status_changed_at: Mapped[datetime] = _now()
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), server_default=EMPTY_ARRAY)
    owner_membership_id: Mapped[uuid.UUID | None] = mapped_column()
    # The matching profile.
    interests: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default=EMPTY_ARRAY)
    availability: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default=EMPTY_ARRAY)
    capacity: Mapped[int] = mapped_column(Integer, server_default="1")
    preferences: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    support_kinds: Mapped[list[str]] = mapped_column(ARRAY(String(50)), server_default=EMPTY_ARRAY)
    notes: Mapped[str | None] = mapped_column(Text)
    waiting_since: Mapped[date | None] = mapped_column(Date)
    # Set by matching when a person's last match ended; the retention rule counts from it.
    last_match_ended_on: Mapped[date | None] = mapped_column(Date)
    custom: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    legal_hold: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # Kept by the database (migration 0020) from consents and the required purposes, so that the
    # list can find the people who lack one without deciding it row by row.
    consent_missing: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    legal_hold_reason: Mapped[str | None] = mapped_column(Text)
    erased_at: Mapped[datetime | None] = mapped_column(TZ)
    # Folded words (see vocab.fold) of names, e-mail, phone and tags; contact_search_terms indexes them.
    search_text: Mapped[str] = mapped_column(Text, server_default="")
    sort_name: Mapped[str] = mapped_column(String(250), server_default="")
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class SearchTerm(TenantBase):
    """One searchable word of a contact: an inverted index that works under row-level security.

    PostgreSQL applies a query's conditions below a row-level security policy only if their
    operators are leakproof. Full-text (@@), trigram and array (@>) operators are not, so their
    GIN indexes go unused for the runtime role and every search scans the organisation's rows.
    Comparisons of text are leakproof: a prefix search here is a B-tree range scan
    (term >= 'muell' AND term < 'muell~'), with byte order ("C") so the range is exact.
    Tags are stored as '#' + the folded tag, for exact tag filters.

    No foreign key to contacts, on purpose: checking one for each of the ten-odd terms of every
    contact made a 10,000-row import ten times slower (each check locks the contact row). The
    domain services delete a contact's terms with it (service.delete_terms); searches only ever
    return ids that are looked up in contacts, so a stray term could not show anything.
    No foreign key to organizations either (migration 0027): checked for every term it was a
    third of the database's work for an import's terms; a trigger on organizations deletes the
    terms of a deleted organisation instead, and the policy's WITH CHECK pins each term to one.
    """

    __tablename__ = "contact_search_terms"
    __table_args__ = (
        Index("ix_contact_search_terms_term", "organization_id", "term", "contact_id"),
        Index("ix_contact_search_terms_contact", "organization_id", "contact_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column()
    term: Mapped[str] = mapped_column(String(100, collation="C"))


class FieldValue(TenantBase):
    """One custom value of a contact, each element of a multi-choice value on its own row.

    Written only by the database (migration 0020) from ``contacts.custom``: equality on these
    rows is what an index can answer under row-level security, JSONB containment is not.
    """

    __tablename__ = "contact_field_values"
    __table_args__ = (
        _fk(["contact_id"], "contacts", "fk_contact_field_values_contact"),
        Index("ix_contact_field_values_value", "organization_id", "key", "value", "contact_id"),
        Index("ix_contact_field_values_contact", "organization_id", "contact_id"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column()
    key: Mapped[str] = mapped_column(String(50))
    value: Mapped[str] = mapped_column(String(200))


class Programme(TenantBase):
    __tablename__ = "contact_programmes"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    # What the programme is, for anonymised benchmarks (shared.reporting.benchmarks.PROGRAMME_KINDS).
    kind: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime] = _now()


class ProgrammeMembership(TenantBase):
    __tablename__ = "contact_programme_members"
    __table_args__ = (
        UniqueConstraint(
            "organization_id", "contact_id", "programme_id", name="uq_contact_programme_members_contact"
        ),
        _fk(["contact_id"], "contacts", "fk_contact_programme_members_contact"),
        _fk(["programme_id"], "contact_programmes", "fk_contact_programme_members_programme"),
        Index("ix_contact_programme_members_programme", "organization_id", "programme_id"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column()
    programme_id: Mapped[uuid.UUID] = mapped_column()
    created_at: Mapped[datetime] = _now()


class ContactLink(TenantBase):
    """``contact`` is ``kind`` of ``related``: a guardian of a mentee, a contact person of a partner."""

    __tablename__ = "contact_links"
    __table_args__ = (
        UniqueConstraint("organization_id", "contact_id", "related_id", "kind", name="uq_contact_links_pair"),
        _fk(["contact_id"], "contacts", "fk_contact_links_contact"),
        _fk(["related_id"], "contacts", "fk_contact_links_related"),
        Index("ix_contact_links_related", "organization_id", "related_id"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column()
    related_id: Mapped[uuid.UUID] = mapped_column()
    kind: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = _now()


class FieldDefinition:
    """The columns of a custom field, on contacts (``contact_fields``) and on matches (``match_fields``)."""

    key: Mapped[str] = mapped_column(String(50))
    label_de: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    # [{"value": "...", "label_de": "...", "label_en": "..."}] for choice fields.
    options: Mapped[list[dict[str, str]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    required_for: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default=EMPTY_ARRAY)
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    archived_at: Mapped[datetime | None] = mapped_column(TZ)
    created_at: Mapped[datetime] = _now()


class CustomField(FieldDefinition, TenantBase):
    """A field an organisation's admins defined. Archived fields keep their values out of sight."""

    __tablename__ = "contact_fields"
    __table_args__ = (UniqueConstraint("organization_id", "key"),)


class Consent(TenantBase):
    __tablename__ = "contact_consents"
    __table_args__ = (
        _fk(["contact_id"], "contacts", "fk_contact_consents_contact"),
        Index("ix_contact_consents_contact", "organization_id", "contact_id", "purpose"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column()
    purpose: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(10))
    effective_on: Mapped[date] = mapped_column(Date)
    # Who gave or withdrew it (the person, a parent, a guardian), as written down.
    given_by: Mapped[str | None] = mapped_column(String(200))
    evidence: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200), server_default="")
    created_at: Mapped[datetime] = _now()


class Activity(TenantBase):
    """An entry of a contact's timeline: a note, call, meeting or e-mail."""

    __tablename__ = "contact_activities"
    __table_args__ = (
        _fk(["contact_id"], "contacts", "fk_contact_activities_contact"),
        _fk(["author_membership_id"], "memberships", "fk_contact_activities_author", None),
        Index("ix_contact_activities_contact", "organization_id", "contact_id", "occurred_at"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column()
    kind: Mapped[str] = mapped_column(String(10))
    occurred_at: Mapped[datetime] = mapped_column(TZ)
    author_membership_id: Mapped[uuid.UUID | None] = mapped_column()
    author_token_id: Mapped[uuid.UUID | None] = mapped_column()
    author_name: Mapped[str] = mapped_column(String(200), server_default="")
    body: Mapped[str] = mapped_column(Text, server_default="")
    confidential: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[datetime] = _now()


class ContactSettings(TenantBase):
    """One row per organisation: the consents every contact needs and the retention rule."""

    __tablename__ = "contact_settings"
    __table_args__ = (UniqueConstraint("organization_id"),)

    required_consents: Mapped[list[str]] = mapped_column(
        ARRAY(String(50)), server_default=text("'{data_processing}'")
    )
    retention_months: Mapped[int | None] = mapped_column(Integer)
    retention_statuses: Mapped[list[str]] = mapped_column(
        ARRAY(String(20)), server_default=text("'{alumni}'")
    )
    updated_at: Mapped[datetime] = _now()


class Import(TenantBase):
    __tablename__ = "contact_imports"

    # dry_run -> running -> done | failed; done/failed -> undone
    status: Mapped[str] = mapped_column(String(10), server_default="dry_run")
    filename: Mapped[str] = mapped_column(String(300))
    # The uploaded file, kept only until the import is finished (it holds personal data).
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The rows the dry run checked, in the form the commit writes them (imports.pack_plan), and
    # the organisation's change counter they were checked at; dropped with the file.
    plan: Mapped[bytes | None] = mapped_column(LargeBinary)
    plan_revision: Mapped[int | None] = mapped_column(BigInteger)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    # The file's columns in the file's order, each with up to three sample values.
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    # {"overwrite": [field, ...]}: the fields whose existing values this import may replace.
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    # "batch": each batch of batch_size rows is saved or not at all; "all": one batch for the sheet.
    atomicity: Mapped[str] = mapped_column(String(10), server_default="batch")
    batch_size: Mapped[int] = mapped_column(Integer, server_default="2000")  # imports.BATCH_SIZE
    total_rows: Mapped[int] = mapped_column(Integer, server_default="0")
    processed_rows: Mapped[int] = mapped_column(Integer, server_default="0")
    created_count: Mapped[int] = mapped_column(Integer, server_default="0")
    updated_count: Mapped[int] = mapped_column(Integer, server_default="0")
    rejected_count: Mapped[int] = mapped_column(Integer, server_default="0")
    report: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200), server_default="")
    created_at: Mapped[datetime] = _now()
    started_at: Mapped[datetime | None] = mapped_column(TZ)
    # Written with every batch: a running import whose heartbeat is old lost its worker.
    heartbeat_at: Mapped[datetime | None] = mapped_column(TZ)
    finished_at: Mapped[datetime | None] = mapped_column(TZ)
    undone_at: Mapped[datetime | None] = mapped_column(TZ)


class ImportRow(TenantBase):
    """What one committed row did, so the whole import can be undone.

    No foreign key to contacts, on purpose (as for SearchTerm): checking it locked every imported
    contact row once more and cost more than writing the contacts. Deleting a contact deletes its
    rows here (service.delete_contact); undo passes over a contact that is gone.
    No foreign key of its own to organizations (migration 0027): the one to its import names the
    organisation already, whose key cascades, and each was one more check per imported row.
    """

    __tablename__ = "contact_import_rows"
    __table_args__ = (
        _fk(["import_id"], "contact_imports", "fk_contact_import_rows_import"),
        Index("ix_contact_import_rows_import", "organization_id", "import_id", "row_number"),
        Index("ix_contact_import_rows_contact", "organization_id", "contact_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    import_id: Mapped[uuid.UUID] = mapped_column()
    row_number: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))  # created | updated
    contact_id: Mapped[uuid.UUID] = mapped_column()
    # The contact's values before an update, to restore on undo.
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class ImportMapping(TenantBase):
    """A saved column mapping (header -> field), reusable for the next sheet of the same shape."""

    __tablename__ = "contact_import_mappings"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    columns: Mapped[dict[str, str]] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    created_at: Mapped[datetime] = _now()


class Export(TenantBase):
    __tablename__ = "contact_exports"

    status: Mapped[str] = mapped_column(
        String(10), server_default="pending"
    )  # pending|running|done|failed|expired
    format: Mapped[str] = mapped_column(String(4))
    query: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    columns: Mapped[list[str]] = mapped_column(ARRAY(String(60)), server_default=EMPTY_ARRAY)
    row_count: Mapped[int] = mapped_column(Integer, server_default="0")
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200), server_default="")
    created_at: Mapped[datetime] = _now()
    finished_at: Mapped[datetime | None] = mapped_column(TZ)
