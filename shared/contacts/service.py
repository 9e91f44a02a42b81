"""Contacts: create, read, update, delete, search, duplicates, merge, programmes and links."""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import msgspec
from sqlalchemy import (
    JSON,
    ColumnClause,
    Select,
    Uuid,
    and_,
    any_,
    bindparam,
    delete,
    func,
    intersect,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import get_history, set_committed_value

from shared import clock, history
from shared.contacts import fields as custom_fields
from shared.contacts import notes
from shared.contacts.models import (
    Activity,
    Consent,
    Contact,
    ContactLink,
    ContactSettings,
    CustomField,
    FieldValue,
    ImportRow,
    Programme,
    ProgrammeMembership,
    SearchTerm,
)
from shared.contacts.parsing import parse_language
from shared.contacts.schemas import (
    ContactIn,
    ContactOut,
    ContactPatch,
    DuplicateOut,
    LinkOut,
    ProgrammeOut,
    ProgrammeRef,
)
from shared.contacts.vocab import (
    AGE_GROUPS,
    AVAILABILITY,
    CHANNELS,
    EMAIL_RE,
    GENDERS,
    KINDS,
    LINK_KINDS,
    PHONE_RE,
    POSTAL_RE,
    PROTECTED_STATUS,
    STATUSES,
    digits,
    fold,
    fold_plain,
    normalize_email,
    search_terms,
)
from shared.db import current_org, driver_connection
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.ids import new_id
from shared.models import Membership
from shared.pagination import Page

PROFILE_FIELDS = (
    "kinds",
    "first_name",
    "last_name",
    "preferred_name",
    "organisation_name",
    "birth_date",
    "age_group",
    "gender",
    "languages",
    "postal_code",
    "city",
    "phone",
    "email",
    "preferred_channel",
    "status",
    "tags",
    "owner_membership_id",
    "interests",
    "availability",
    "capacity",
    "preferences",
    "support_kinds",
    "notes",
    "waiting_since",
    "last_match_ended_on",
)
SORTS = {
    "name": ("sort_name", False),
    "-name": ("sort_name", True),
    "created": ("created_at", False),
    "-created": ("created_at", True),
    "updated": ("updated_at", False),
    "-updated": ("updated_at", True),
}
_WORD = re.compile(r"[a-z0-9]+")


# What the change history records of a contact.
HISTORY_FIELDS = (*PROFILE_FIELDS, "custom", "legal_hold", "legal_hold_reason")


async def _programme_ids(session: AsyncSession, contact_id: uuid.UUID) -> list[str]:
    rows = await session.execute(
        select(ProgrammeMembership.programme_id).where(ProgrammeMembership.contact_id == contact_id)
    )
    return sorted(str(r) for r in rows.scalars())


# ---------------------------------------------------------------- validation


def _text(value: Any, name: str, limit: int, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise ValidationFailed("is required", field=name)
        return None
    text_value = " ".join(str(value).split())
    if len(text_value) > limit:
        raise ValidationFailed("at most %(limit)s characters", field=name, limit=limit)
    return text_value or None


def _choice(value: Any, name: str, allowed: Sequence[str]) -> str | None:
    if value is None or value == "":
        return None
    if value not in allowed:
        raise ValidationFailed(
            "%(value)r is not one of %(allowed)s", field=name, value=value, allowed=", ".join(allowed)
        )
    return str(value)


def _strings(value: list[str], name: str, limit: int, *, max_items: int = 50) -> list[str]:
    # The schema caps the list already; an import row reaches this without it, so the count is
    # checked before any entry is looked at, and duplicates are found through a set.
    if len(value) > max_items:
        raise ValidationFailed("at most %(max_items)s entries", field=name, max_items=max_items)
    seen: set[str] = set()
    out: list[str] = []
    for item in value:
        cleaned = " ".join(str(item).split())
        if not cleaned:
            continue
        if len(cleaned) > limit:
            raise ValidationFailed("each entry at most %(limit)s characters", field=name, limit=limit)
        if cleaned not in seen:
            seen.add(cleaned)
            out.append(cleaned)
    return out


def clean_values(values: dict[str, Any], *, protected_status: bool = False) -> dict[str, Any]:
    """Check and normalise profile values; a bad one raises ValidationFailed naming its field.

    "declined_child_protection" only with ``protected_status``: an admin's decision on an existing
    person, with a reason (:func:`protect_status`), never by creating or importing someone."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name == "kinds":
            kinds = list(dict.fromkeys(value))
            if not kinds:
                raise ValidationFailed("at least one kind: %(kinds)s", field=name, kinds=", ".join(KINDS))
            for kind in kinds:
                _choice(kind, name, KINDS)
            out[name] = kinds
        elif name in ("first_name", "last_name"):
            out[name] = _text(value, name, 100) or ""
        elif name == "preferred_name":
            out[name] = _text(value, name, 100)
        elif name == "organisation_name":
            out[name] = _text(value, name, 200)
        elif name == "city":
            out[name] = _text(value, name, 100)
        elif name == "birth_date":
            if value is not None and not (date(1900, 1, 1) <= value <= clock.today()):
                raise ValidationFailed("a birth date between 1900 and today", field=name)
            out[name] = value
        elif name == "age_group":
            out[name] = _choice(value, name, AGE_GROUPS)
        elif name == "gender":
            out[name] = _choice(value, name, GENDERS)
        elif name == "preferred_channel":
            out[name] = _choice(value, name, CHANNELS)
        elif name == "status":
            if value not in STATUSES:
                raise ValidationFailed(
                    "%(value)r is not one of %(statuses)s",
                    field=name,
                    value=value,
                    statuses=", ".join(STATUSES),
                )
            if value == PROTECTED_STATUS and not protected_status:
                raise ValidationFailed(
                    "declined for child protection is an admin's decision on an existing person", field=name
                )
            out[name] = value
        elif name == "languages":
            codes: list[str] = []
            for item in value:
                if not isinstance(item, str) or item.lower() != item or len(item) != 2:
                    raise ValidationFailed(
                        "%(item)r is not an ISO 639-1 code such as de or ar", field=name, item=item
                    )
                try:
                    code = parse_language(item)
                except ValueError as exc:
                    raise ValidationFailed.refusing(exc, field=name) from None
                if code not in codes:
                    codes.append(code)
            out[name] = codes
        elif name == "postal_code":
            cleaned = _text(value, name, 10)
            if cleaned is not None and not POSTAL_RE.match(cleaned):
                raise ValidationFailed("%(cleaned)r is not a postal code", field=name, cleaned=cleaned)
            out[name] = cleaned
        elif name == "phone":
            cleaned = _text(value, name, 40)
            if cleaned is not None and (not PHONE_RE.match(cleaned) or len(digits(cleaned)) < 4):
                raise ValidationFailed("%(cleaned)r is not a phone number", field=name, cleaned=cleaned)
            out[name] = cleaned
        elif name == "email":
            cleaned = _text(value, name, 320)
            if cleaned is not None:
                cleaned = normalize_email(cleaned)
                if not EMAIL_RE.match(cleaned):
                    raise ValidationFailed(
                        "%(cleaned)r is not an e-mail address", field=name, cleaned=cleaned
                    )
            out[name] = cleaned
        elif name == "tags":
            out[name] = _strings(value, name, 50)
        elif name == "interests":
            out[name] = _strings(value, name, 100)
        elif name == "support_kinds":
            out[name] = _strings(value, name, 50)
        elif name == "availability":
            slots = list(dict.fromkeys(value))
            for slot in slots:
                if slot not in AVAILABILITY:
                    raise ValidationFailed(
                        "%(slot)r is not a time slot: mon…sun + morning/afternoon/evening, e.g. tue-evening",
                        field=name,
                        slot=slot,
                    )
            out[name] = slots
        elif name == "capacity":
            if not 0 <= value <= 50:
                raise ValidationFailed("between 0 and 50", field=name)
            out[name] = value
        elif name == "preferences":
            if len(json.dumps(value)) > 10_000:
                raise ValidationFailed("at most 10,000 characters of JSON", field=name)
            out[name] = value
        elif name == "notes":
            out[name] = value if value is None or len(value) <= 10_000 else None
            if value is not None and len(value) > 10_000:
                raise ValidationFailed("at most 10,000 characters", field=name)
        elif name == "legal_hold_reason":
            out[name] = _text(value, name, 1000)
        else:
            out[name] = value
    return out


def contact_name(c: Contact) -> str:
    return display_name(c.preferred_name, c.first_name, c.last_name, c.organisation_name)


def display_name(preferred: str | None, first: str, last: str, organisation: str | None) -> str:
    given = preferred or first
    person = f"{given} {last}" if given and last else (given or last or "")
    if organisation:
        return f"{organisation} ({person})" if person else organisation
    return person or "—"


def derive(contact: Contact) -> None:
    """Refresh the search words and the sort key from the contact's current values."""
    words: list[str] = []
    for part in (
        contact.first_name,
        contact.last_name,
        contact.preferred_name,
        contact.organisation_name,
        contact.email,
        " ".join(contact.tags or []),
    ):
        if part:
            words.extend(_WORD.findall(fold(part)))
            if not part.isascii():  # "ü" typed as "u" too; plain ASCII folds the same both ways
                words.extend(_WORD.findall(fold_plain(part)))
    if contact.phone:
        number = digits(contact.phone)
        words.append(number)
        if contact.phone.strip().startswith("+49") or number.startswith("0049"):
            words.append("0" + number.removeprefix("00").removeprefix("49"))
    contact.search_text = " ".join(dict.fromkeys(words))
    contact.sort_name = fold(
        f"{contact.last_name or contact.organisation_name or ''} {contact.first_name}".strip()
    )[:250]


def query_terms(query: str) -> list[str]:
    """The words of a query as the index holds them; a phone number counts as one word."""
    raw = query.strip()
    if re.fullmatch(r"\+?[0-9 ()/.\-]{5,}", raw):
        number = digits(raw)
        return [number if not raw.startswith("+49") else "0" + number.removeprefix("49")]
    return list(dict.fromkeys(w for t in search_terms(raw) for w in _WORD.findall(t)))[:10]


def tag_term(tag: str) -> str:
    return "#" + fold(" ".join(tag.split()))[:99]


def terms_of(contact: Contact) -> list[str]:
    words = [w[:100] for w in contact.search_text.split()]
    return list(dict.fromkeys([*words, *(tag_term(t) for t in contact.tags or [])]))


async def delete_terms(session: AsyncSession, contact_ids: Sequence[uuid.UUID]) -> None:
    """Whoever deletes contacts deletes their terms (there is no foreign key to cascade).

    The organisation is named and the ids are joined as rows: the policy's condition (its
    organisation or the system context) is no index condition, and without the first the
    database read every term of the organisation (EXPLAIN as the runtime role: a sequential
    scan of 200,000 terms for 50 contacts, against 50 lookups in ix_contact_search_terms_contact).
    """
    if not contact_ids:
        return
    org = session.info.get("org_id")
    if org is None:  # the system context names no organisation; its policy reads them all
        await session.execute(
            delete(SearchTerm).where(SearchTerm.contact_id == any_(literal(list(contact_ids), ARRAY(Uuid()))))
        )
        return
    await session.execute(
        text(
            "DELETE FROM contact_search_terms t USING unnest(CAST(:ids AS uuid[])) AS u(id) "
            "WHERE t.organization_id = :org AND t.contact_id = u.id"
        ),
        {"ids": list(contact_ids), "org": org},
    )


async def insert_terms(session: AsyncSession, contacts: Sequence[Contact]) -> None:
    """Write the search terms of ``contacts`` (after derive()) in one statement."""
    orgs: list[uuid.UUID] = []
    ids: list[uuid.UUID] = []
    owners: list[uuid.UUID] = []
    terms: list[str] = []
    for contact in contacts:
        found = terms_of(contact)
        orgs += [contact.organization_id] * len(found)
        ids += [new_id() for _ in found]
        owners += [contact.id] * len(found)
        terms += found
    if terms:
        await session.execute(
            text(
                "INSERT INTO contact_search_terms (organization_id, id, contact_id, term) "
                "SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[]), CAST(:owners AS uuid[]), "
                "CAST(:terms AS text[]))"
            ),
            {"orgs": orgs, "ids": ids, "owners": owners, "terms": terms},
        )


async def sync_terms(session: AsyncSession, contacts: Sequence[Contact]) -> None:
    """Rewrite the search terms of ``contacts`` (after derive())."""
    if not contacts:
        return
    await delete_terms(session, [c.id for c in contacts])
    await insert_terms(session, [c for c in contacts if c.erased_at is None])


# ---------------------------------------------------------------- output


@dataclass
class Extras:
    programmes: dict[uuid.UUID, list[ProgrammeRef]] = field(default_factory=dict)
    missing: dict[uuid.UUID, list[str]] = field(default_factory=dict)
    fields: list[CustomField] = field(default_factory=list)


async def required_consents(session: AsyncSession) -> list[str]:
    row = (await session.execute(select(ContactSettings.required_consents))).scalar_one_or_none()
    return list(row) if row is not None else ["data_processing"]


async def current_consents(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, str]]:
    """The latest status per contact and purpose (by effective date, then by when it was recorded)."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Consent.contact_id, Consent.purpose, Consent.status)
        .where(Consent.contact_id.in_(ids))
        .ext(distinct_on(Consent.contact_id, Consent.purpose))
        .order_by(Consent.contact_id, Consent.purpose, Consent.effective_on.desc(), Consent.created_at.desc())
    )
    out: dict[uuid.UUID, dict[str, str]] = {}
    for contact_id, purpose, status in rows:
        out.setdefault(contact_id, {})[purpose] = status
    return out


async def load_extras(session: AsyncSession, contacts: Sequence[Contact]) -> Extras:
    ids = [c.id for c in contacts]
    extras = Extras(fields=await custom_fields.list_fields(session))
    if not ids:
        return extras
    rows = await session.execute(
        select(ProgrammeMembership.contact_id, Programme.id, Programme.name)
        .join(Programme, Programme.id == ProgrammeMembership.programme_id)
        .where(ProgrammeMembership.contact_id.in_(ids))
        .order_by(Programme.name)
    )
    for contact_id, programme_id, name in rows:
        extras.programmes.setdefault(contact_id, []).append(ProgrammeRef(id=programme_id, name=name))
    required = await required_consents(session)
    current = await current_consents(session, ids)
    for c in contacts:
        given = current.get(c.id, {})
        extras.missing[c.id] = [] if c.erased_at else [p for p in required if given.get(p) != "given"]
    return extras


def contact_out(c: Contact, extras: Extras) -> ContactOut:
    return ContactOut(
        id=c.id,
        kinds=list(c.kinds),
        first_name=c.first_name,
        last_name=c.last_name,
        preferred_name=c.preferred_name,
        organisation_name=c.organisation_name,
        display_name=contact_name(c),
        birth_date=c.birth_date,
        age_group=c.age_group,
        gender=c.gender,
        languages=list(c.languages),
        postal_code=c.postal_code,
        city=c.city,
        phone=c.phone,
        email=c.email,
        preferred_channel=c.preferred_channel,
        status=c.status,
        status_changed_at=c.status_changed_at,
        tags=list(c.tags),
        owner_membership_id=c.owner_membership_id,
        interests=list(c.interests),
        availability=list(c.availability),
        capacity=c.capacity,
        preferences=dict(c.preferences),
        support_kinds=list(c.support_kinds),
        notes=c.notes,
        waiting_since=c.waiting_since,
        last_match_ended_on=c.last_match_ended_on,
        custom=custom_fields.visible_custom(extras.fields, c.custom),
        programmes=extras.programmes.get(c.id, []),
        missing_consents=extras.missing.get(c.id, []),
        legal_hold=c.legal_hold,
        legal_hold_reason=c.legal_hold_reason,
        erased=c.erased_at is not None,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


async def outputs(session: AsyncSession, contacts: Sequence[Contact]) -> list[ContactOut]:
    extras = await load_extras(session, contacts)
    return [contact_out(c, extras) for c in contacts]


# ---------------------------------------------------------------- read

# The hot read paths (the list, one contact, the answer to a change) build ContactOut from the
# selected columns in one statement instead of loading ORM instances and then their programmes,
# consents and field definitions one query each: that was most of a request's time.
_OUT_NAMES = [
    "id", "kinds", "first_name", "last_name", "preferred_name", "organisation_name", "birth_date",
    "age_group", "gender", "languages", "postal_code", "city", "phone", "email", "preferred_channel",
    "status", "status_changed_at", "tags", "owner_membership_id", "interests", "availability", "capacity",
    "preferences", "support_kinds", "notes", "waiting_since", "last_match_ended_on", "legal_hold",
    "legal_hold_reason", "erased_at", "created_at", "updated_at",
]  # fmt: skip
# Untyped columns: asyncpg's values are what ContactOut takes, so no result processing per value.
_OUT_COLUMNS: list[ColumnClause[Any]] = [literal_column(f"contacts.{name}") for name in _OUT_NAMES]
# Only the values of fields that are defined and not archived are shown (as visible_custom does).
# Each subquery names the organisation: row-level security alone is no index condition, and
# without it the statement would read every organisation's field definitions and settings.
_VISIBLE_CUSTOM: ColumnClause[Any] = literal_column(
    "(SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb) FROM jsonb_each(contacts.custom) AS e"
    " WHERE e.key IN (SELECT f.key FROM contact_fields AS f"
    " WHERE f.organization_id = contacts.organization_id AND f.archived_at IS NULL))"
)
_PROGRAMMES: ColumnClause[Any] = literal_column(
    "(SELECT coalesce(jsonb_agg(jsonb_build_object('id', p.id, 'name', p.name) ORDER BY p.name), '[]'::jsonb)"
    " FROM contact_programme_members AS m JOIN contact_programmes AS p"
    " ON p.organization_id = m.organization_id AND p.id = m.programme_id"
    " WHERE m.organization_id = contacts.organization_id AND m.contact_id = contacts.id)"
)
# The purposes whose latest record (by effective date, then by when it was recorded) is 'given'.
_GIVEN: ColumnClause[Any] = literal_column(
    "ARRAY(SELECT l.purpose FROM (SELECT DISTINCT ON (c.purpose) c.purpose, c.status"
    " FROM contact_consents AS c"
    " WHERE c.organization_id = contacts.organization_id AND c.contact_id = contacts.id"
    " ORDER BY c.purpose, c.effective_on DESC, c.created_at DESC) AS l WHERE l.status = 'given')"
)
_REQUIRED: ColumnClause[Any] = literal_column(
    "(SELECT s.required_consents FROM contact_settings AS s"
    " WHERE s.organization_id = contacts.organization_id)"
)


# Built once: constructing a statement of this many columns costs more than running it.
_OUT_SELECT = select(*_OUT_COLUMNS, _VISIBLE_CUSTOM, _PROGRAMMES, _GIVEN, _REQUIRED)
# One contact, as the SQL the driver takes (compiled once; $1 the organisation, $2 the contact's
# id). The primary key is (organization_id, id): without the organisation named, the policy being
# no index condition, finding one contact would read every organisation's contacts.
_ONE_OUT = str(
    _OUT_SELECT.where(
        Contact.organization_id == bindparam("org", type_=Uuid()), Contact.id == bindparam("contact_id")
    ).compile(dialect=asyncpg_dialect.dialect())  # type: ignore[no-untyped-call]
)


# _row_out reads the row by position (building keyword arguments by name for every row of a
# page was a tenth of the list's time): it is written for exactly this order.
assert _OUT_NAMES[0] == "id" and _OUT_NAMES[27:] == [
    "legal_hold", "legal_hold_reason", "erased_at", "created_at", "updated_at",
] and len(_OUT_NAMES) == 32  # fmt: skip


# _row_out also builds the answer by position: by keyword, msgspec matches 37 names for every
# contact (4.5 against 0.1 us), a fifth of a page of 50's time. It is written for this order.
assert ContactOut.__struct_fields__ == (
    "id", "kinds", "first_name", "last_name", "preferred_name", "organisation_name", "display_name",
    "birth_date", "age_group", "gender", "languages", "postal_code", "city", "phone", "email",
    "preferred_channel", "status", "status_changed_at", "tags", "owner_membership_id", "interests",
    "availability", "capacity", "preferences", "support_kinds", "notes", "waiting_since",
    "last_match_ended_on", "custom", "programmes", "missing_consents", "legal_hold",
    "legal_hold_reason", "erased", "created_at", "updated_at", "possible_duplicates",
)  # fmt: skip


def _row_out(row: Sequence[Any]) -> ContactOut:
    programmes, given, required = row[33], row[34], row[35]
    erased_at = row[29]
    if required is None:
        required = ["data_processing"]
    return ContactOut(
        row[0], row[1], row[2], row[3], row[4], row[5],
        display_name(row[4], row[2], row[3], row[5]),
        row[6], row[7], row[8], row[9], row[10], row[11], row[12], row[13], row[14], row[15], row[16],
        row[17], row[18], row[19], row[20], row[21], row[22], row[23], row[24], row[25], row[26],
        row[32],
        [ProgrammeRef(id=uuid.UUID(p["id"]), name=p["name"]) for p in programmes],
        [] if erased_at else [p for p in required if p not in given],
        row[27], row[28], erased_at is not None, row[30], row[31],
    )  # fmt: skip


# The same columns as the RETURNING list of a change (literal columns: the statement has no FROM).
_OUT_LIST = str(_OUT_SELECT.compile(dialect=asyncpg_dialect.dialect())).removeprefix("SELECT ")  # type: ignore[no-untyped-call]
assert "FROM contacts" not in _OUT_LIST.split("(SELECT", 1)[0], _OUT_LIST
_JSON_COLUMNS = frozenset(c.name for c in Contact.__table__.columns if isinstance(c.type, JSON))


def _unflushed(contact: Contact) -> dict[str, Any]:
    """The columns of ``contact`` set to new values that are not written yet (as the ORM compares)."""
    state = sa_inspect(contact)
    out: dict[str, Any] = {}
    # Only attributes set since the load have a committed value kept (``state.attrs`` would build
    # an object for each of the model's columns first).
    for key in sorted(state.committed_state, key=lambda k: _COLUMN_ORDER.get(k, len(_COLUMN_ORDER))):
        added = get_history(contact, key).added
        if added:
            out[key] = added[0]
    return out


# The model's order, so that the same columns changed always make the same statement.
_COLUMN_ORDER = {column.key: i for i, column in enumerate(Contact.__mapper__.column_attrs)}


async def _write_out(session: AsyncSession, contact_id: uuid.UUID, values: dict[str, Any]) -> ContactOut:
    """Write ``values`` into the contact's row and answer with the row as written: one statement.

    Writing a contact bumps the organisation's matching revision (a trigger), whose row lock every
    writer of the organisation then waits for until this transaction commits. As the last
    statement before the commit, answering included, the lock is held for one round trip.
    """
    names = list(values)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=3))
    # Column names of the model (from _unflushed); every value is a parameter.
    sql = f"UPDATE contacts SET {assignments} WHERE organization_id = $1 AND id = $2 RETURNING {_OUT_LIST}"  # noqa: S608
    # The driver's jsonb codec (SQLAlchemy's) takes JSON text.
    args = [msgspec.json.encode(values[n]).decode() if n in _JSON_COLUMNS else values[n] for n in names]
    row = await (await driver_connection(session)).fetchrow(sql, current_org(session), contact_id, *args)
    if row is None:
        raise NotFound("no such contact")
    return _row_out(row)


async def read_out(session: AsyncSession, contact_id: uuid.UUID) -> ContactOut:
    """One contact as the API shows it, in one statement."""
    return await read_out_on(await driver_connection(session), current_org(session), contact_id)


async def read_out_on(connection: Any, org: uuid.UUID, contact_id: uuid.UUID) -> ContactOut:
    """:func:`read_out` on a driver connection scoped to ``org`` (see ``Database.tenant_driver``)."""
    row = await connection.fetchrow(_ONE_OUT, org, contact_id)
    if row is None:
        raise NotFound("no such contact")
    return _row_out(row)


# Built once (constructing the statement cost as much as running it): $org and $contact_id.
_ONE_CONTACT = select(Contact).where(
    Contact.organization_id == bindparam("org", type_=Uuid()),
    Contact.id == bindparam("contact_id", type_=Uuid()),
)
_ONE_CONTACT_LOCKED = _ONE_CONTACT.with_for_update()


async def get_contact(session: AsyncSession, contact_id: uuid.UUID, *, for_update: bool = False) -> Contact:
    query = _ONE_CONTACT_LOCKED if for_update else _ONE_CONTACT
    params = {"org": current_org(session), "contact_id": contact_id}
    contact = (await session.execute(query, params)).scalar_one_or_none()
    if contact is None:
        raise NotFound("no such contact")
    return contact


async def read_contact(session: AsyncSession, contact_id: uuid.UUID) -> ContactOut:
    return await read_out(session, contact_id)


class ContactQuery(msgspec.Struct, kw_only=True):
    """A filtered, sorted list: what the list page, the API and exports share."""

    q: str | None = None
    kind: str | None = None
    status: str | None = None
    programme: uuid.UUID | None = None
    tag: str | None = None
    owner: uuid.UUID | None = None
    field: list[str] = []
    missing_consent: bool | None = None
    include_erased: bool = False
    sort: str = "name"

    def is_plain(self) -> bool:
        """No filter: only a sort order (a list any page of which one statement can read)."""
        return self == ContactQuery(sort=self.sort, include_erased=self.include_erased)


# Fetching by primary key costs per id, reading in sort order costs per row skipped: past about
# sqrt(51 x contacts) matches (2,300 at 100,000) the ordered read wins.
MAX_MATCHED_IDS = 2_000


async def _matching_ids(session: AsyncSession, term_sets: list[Any], narrowing: list[Any]) -> list[Any]:
    """The contacts every set matches, as ``id = ANY(:ids)``.

    Looked up first, on their own: asked as a sub-select, the planner joins them to a full scan
    of the organisation's contacts, checking the row-level security policy on every row. A list
    of ids is fetched by the primary key instead. Past MAX_MATCHED_IDS the list is read in its
    sort order and filtered: the search term sets become sub-selects; the ``narrowing`` sets
    (owner, programme, custom values, missing consent) are already conditions of their own.
    """
    sets = [*term_sets, *narrowing]
    matched = intersect(*sets).subquery() if len(sets) > 1 else sets[0].distinct().subquery()
    ids = list((await session.execute(select(matched.c.contact_id).limit(MAX_MATCHED_IDS + 1))).scalars())
    if len(ids) > MAX_MATCHED_IDS:
        return [Contact.id.in_(t) for t in term_sets]
    return [Contact.id == any_(literal(ids, ARRAY(Uuid())))]


def _field_value_text(value: Any) -> list[str] | None:
    """What contact_field_values holds for a filter value, or None where only JSONB can tell."""
    if isinstance(value, str):
        return [value[:200]]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v[:200] for v in value]
    return None


async def _filters(session: AsyncSession, query: ContactQuery) -> list[Any]:
    # Row-level security filters by organisation anyway; saying it lets the planner use the
    # (organization_id, ...) indexes instead of checking the policy on every row.
    conditions: list[Any] = [Contact.organization_id == current_org(session)]
    org = current_org(session)
    term_sets: list[Any] = []
    # Sets of ids that also stand as conditions below: used to fetch by primary key when few.
    narrowing: list[Any] = []
    if query.q and query.q.strip():
        words = query_terms(query.q)
        if not words:
            conditions.append(text("false"))
        # Every word must start a word of the contact: 'Müll ann' finds Anna Müller.
        term_sets += [
            select(SearchTerm.contact_id).where(
                SearchTerm.organization_id == org, SearchTerm.term >= word, SearchTerm.term < word + "~"
            )
            for word in words
        ]
    if query.tag:
        term_sets.append(
            select(SearchTerm.contact_id).where(
                SearchTerm.organization_id == org, SearchTerm.term == tag_term(query.tag)
            )
        )
    if query.kind:
        _choice(query.kind, "kind", KINDS)
        conditions.append(Contact.kinds.contains([query.kind]))
    if query.status:
        statuses = [s for s in query.status.split(",") if s]
        for s in statuses:
            _choice(s, "status", STATUSES)
        conditions.append(Contact.status.in_(statuses))
    if query.programme:
        members = select(ProgrammeMembership.contact_id).where(
            ProgrammeMembership.organization_id == org, ProgrammeMembership.programme_id == query.programme
        )
        conditions.append(Contact.id.in_(members))
        narrowing.append(members)
    if query.owner:
        conditions.append(Contact.owner_membership_id == query.owner)
        narrowing.append(
            select(Contact.id.label("contact_id")).where(
                Contact.organization_id == org, Contact.owner_membership_id == query.owner
            )
        )
    if query.field:
        defined = {f.key: f for f in await custom_fields.list_fields(session)}
        for item in query.field:
            key, sep, raw = item.partition(":")
            definition = defined.get(key)
            if not sep or definition is None:
                raise ValidationFailed("use field=<key>:<value> with a defined field's key", field="field")
            try:
                value = custom_fields.coerce_value(definition, raw, lenient=True)
            except ValueError as exc:
                raise ValidationFailed("%(key)s: %(exc)s", field="field", key=key, exc=exc) from None
            # Containment decides exactly (types included); the value rows find the candidates.
            conditions.append(Contact.custom.contains({key: value}))
            for one in _field_value_text(value) or []:
                narrowing.append(
                    select(FieldValue.contact_id).where(
                        FieldValue.organization_id == org, FieldValue.key == key, FieldValue.value == one
                    )
                )
    if query.missing_consent is not None:
        if await required_consents(session):
            # contacts.consent_missing is kept by the database from the latest record of each
            # required purpose (migration 0020), the same rule current_consents() shows.
            # The bare column (or its negation) is what the index on it answers.
            conditions.append(Contact.consent_missing if query.missing_consent else ~Contact.consent_missing)
            if query.missing_consent:
                narrowing.append(
                    select(Contact.id.label("contact_id")).where(
                        Contact.organization_id == org, Contact.consent_missing
                    )
                )
        elif query.missing_consent:
            conditions.append(text("false"))
    if term_sets or narrowing:
        conditions += await _matching_ids(session, term_sets, narrowing)
    if not query.include_erased:
        conditions.append(Contact.erased_at.is_(None))
    return conditions


def _encode(value: Any, last_id: uuid.UUID) -> str:
    raw = json.dumps([value.isoformat() if isinstance(value, datetime) else value, str(last_id)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, column: str) -> tuple[Any, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, last = json.loads(raw)
        if column.endswith("_at"):
            value = datetime.fromisoformat(value)
        elif not isinstance(value, str):
            raise ValueError
        return value, uuid.UUID(last)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ValidationFailed("the cursor is not one this API handed out", field="cursor") from None


async def filtered_select(session: AsyncSession, query: ContactQuery) -> Select[Contact]:
    if query.sort not in SORTS:
        raise ValidationFailed("sort by one of %(sorts)s", field="sort", sorts=", ".join(SORTS))
    return select(Contact).where(*await _filters(session, query))


def _sorted(stmt: Select[Any], column: Any, descending: bool, after: tuple[Any, Any] | None) -> Select[Any]:
    if after is not None:
        key = tuple_(column, Contact.id)
        stmt = stmt.where(key < tuple_(*after) if descending else key > tuple_(*after))
    order = (column.desc(), Contact.id.desc()) if descending else (column, Contact.id)
    return stmt.order_by(*order)


# The unfiltered list (an integrator paging through all contacts, the list page's first look), as
# driver SQL compiled once per sort, page and limit: $1 the organisation, $2/$3 the cursor. The limit
# is written into the SQL: as a parameter, PostgreSQL prices a prepared statement's generic plan for
# an unknown limit (a tenth of the rows) and, where one organisation holds most rows, keeps planning
# every execution anew (about half a millisecond each); with the limit known it keeps one plan.
_PLAIN_LISTS: dict[tuple[str, bool, bool, int], str] = {}


def _plain_list_sql(sort: str, paged: bool, include_erased: bool, limit: int) -> str:
    key = (sort, paged, include_erased, limit)
    if key not in _PLAIN_LISTS:
        column_name, descending = SORTS[sort]
        column = getattr(Contact, column_name)
        org = bindparam("org", type_=Uuid())
        stmt = _OUT_SELECT.add_columns(column).where(Contact.organization_id == org)
        if not include_erased:
            stmt = stmt.where(Contact.erased_at.is_(None))
        after = (bindparam("value", type_=column.type), bindparam("last_id", type_=Uuid())) if paged else None
        stmt = _sorted(stmt, column, descending, after)
        compiled = stmt.compile(dialect=asyncpg_dialect.dialect())  # type: ignore[no-untyped-call]
        expected = ["org", "value", "last_id"] if paged else ["org"]
        assert list(compiled.positiontup or []) == expected, compiled.positiontup
        # A checked int (check_limit), so the text is no input.
        _PLAIN_LISTS[key] = f"{compiled} LIMIT {int(limit)}"
    return _PLAIN_LISTS[key]


async def list_contacts(
    session: AsyncSession, query: ContactQuery, *, limit: int, cursor: str | None
) -> Page[ContactOut]:
    if query.is_plain():
        return await plain_list_on(await driver_connection(session), current_org(session), query,
                                   limit=limit, cursor=cursor)  # fmt: skip
    if query.sort not in SORTS:
        raise ValidationFailed("sort by one of %(sorts)s", field="sort", sorts=", ".join(SORTS))
    column_name, descending = SORTS[query.sort]
    column = getattr(Contact, column_name)
    after = _decode(cursor, column_name) if cursor else None
    stmt = _sorted(_OUT_SELECT.add_columns(column).where(*await _filters(session, query)), column,
                   descending, after).limit(limit + 1)  # fmt: skip
    return _page(list((await (await session.connection()).execute(stmt)).all()), limit)


async def plain_list_on(
    connection: Any, org: uuid.UUID, query: ContactQuery, *, limit: int, cursor: str | None
) -> Page[ContactOut]:
    """A list without filters (``query.is_plain()``) on a driver connection scoped to ``org``."""
    if query.sort not in SORTS:
        raise ValidationFailed("sort by one of %(sorts)s", field="sort", sorts=", ".join(SORTS))
    after = _decode(cursor, SORTS[query.sort][0]) if cursor else None
    sql = _plain_list_sql(query.sort, after is not None, query.include_erased, limit + 1)
    return _page(await connection.fetch(sql, org, *(after or ())), limit)


def _page(rows: Sequence[Any], limit: int) -> Page[ContactOut]:
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode(rows[-1][-1], rows[-1][0]) if more else None
    return Page(items=[_row_out(r) for r in rows], next_cursor=next_cursor)


async def count_contacts(session: AsyncSession, query: ContactQuery) -> int:
    stmt = await filtered_select(session, query)
    return int((await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one())


# ---------------------------------------------------------------- write


async def _check_owner(session: AsyncSession, membership_id: uuid.UUID | None) -> None:
    if membership_id is None:
        return
    found = (
        await session.execute(
            select(Membership.id).where(
                Membership.organization_id == current_org(session), Membership.id == membership_id
            )
        )
    ).scalar_one_or_none()
    if found is None:
        raise ValidationFailed("no member with this id", field="owner_membership_id")


async def _set_programmes(session: AsyncSession, contact: Contact, programme_ids: list[uuid.UUID]) -> None:
    wanted = list(dict.fromkeys(programme_ids))
    if wanted:
        known = set((await session.execute(select(Programme.id).where(Programme.id.in_(wanted)))).scalars())
        if missing := [p for p in wanted if p not in known]:
            raise ValidationFailed("no programme %(missing)s", field="programme_ids", missing=missing[0])
    await session.execute(
        delete(ProgrammeMembership).where(
            ProgrammeMembership.contact_id == contact.id, ProgrammeMembership.programme_id.not_in(wanted)
        )
    )
    have = set(
        (
            await session.execute(
                select(ProgrammeMembership.programme_id).where(ProgrammeMembership.contact_id == contact.id)
            )
        ).scalars()
    )
    for programme_id in wanted:
        if programme_id not in have:
            session.add(
                ProgrammeMembership(
                    organization_id=contact.organization_id, contact_id=contact.id, programme_id=programme_id
                )
            )


async def protect_status(
    session: AsyncSession,
    contact: Contact,
    status: str | None,
    reason: str | msgspec.UnsetType,
    *,
    admin: bool,
    actor: str,
) -> None:
    """Declined for child protection is set and lifted only by an admin, with a reason that the
    person's timeline keeps."""
    if PROTECTED_STATUS not in (status, contact.status):
        return
    if not admin:
        raise Forbidden("only admins decide on child protection")
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationFailed("give a reason for a child-protection decision", field="status_reason")
    session.add(
        Activity(
            organization_id=contact.organization_id,
            contact_id=contact.id,
            kind="note",
            occurred_at=datetime.now(UTC),
            author_name=actor,
            body=notes.system_note(
                notes.PROTECTION, before=contact.status, after=status or "", reason=text[:2000]
            ),
            confidential=True,
        )
    )


def _apply(contact: Contact, values: dict[str, Any], *, stamp: bool = True) -> None:
    now = datetime.now(UTC)
    for name, value in values.items():
        if name == "status" and value != contact.status:
            contact.status_changed_at = now
            # Matching counts waiting time from when a mentee became ready.
            if value == "ready" and "waiting_since" not in values:
                contact.waiting_since = now.date()
        setattr(contact, name, value)
    if stamp:
        contact.updated_at = now


def _require_name(contact: Contact) -> None:
    if not (contact.first_name or contact.last_name or contact.organisation_name):
        raise ValidationFailed(
            "a name is needed (last_name, first_name or organisation_name)", field="last_name"
        )


async def find_duplicates(
    session: AsyncSession,
    *,
    email: str | None,
    first_name: str,
    last_name: str,
    birth_date: date | None,
    exclude: uuid.UUID | None = None,
) -> list[DuplicateOut]:
    """Same e-mail, or a similar name with the same date of birth."""
    conditions = []
    if email:
        conditions.append(Contact.email == normalize_email(email))
    if birth_date:
        conditions.append(Contact.birth_date == birth_date)
    if not conditions:
        return []
    query = select(Contact).where(or_(*conditions), Contact.erased_at.is_(None)).limit(50)
    if exclude is not None:
        query = query.where(Contact.id != exclude)
    name = fold(f"{first_name} {last_name}")
    found: list[DuplicateOut] = []
    for c in (await session.execute(query)).scalars():
        reason = None
        if email and c.email == normalize_email(email):
            reason = "same e-mail"
        elif birth_date and similar_names(name, fold(f"{c.first_name} {c.last_name}")):
            reason = "similar name and same date of birth"
        if reason:
            found.append(DuplicateOut(c.id, contact_name(c), c.email, c.birth_date, reason))
    return found


def similar_names(a: str, b: str) -> bool:
    if not a.strip() or not b.strip():
        return False
    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.8 or sorted(a.split()) == sorted(b.split())


async def create_contact(
    session: AsyncSession, org_id: uuid.UUID, data: ContactIn, *, reject_duplicates: bool = False
) -> ContactOut:
    raw = {name: getattr(data, name) for name in PROFILE_FIELDS}
    values = clean_values(raw)
    await _check_owner(session, values.get("owner_membership_id"))
    fields = await custom_fields.active_definitions(session)
    custom = custom_fields.apply_custom(fields, {}, data.custom, values["kinds"])
    duplicates = await find_duplicates(
        session,
        email=values.get("email"),
        first_name=values["first_name"],
        last_name=values["last_name"],
        birth_date=values.get("birth_date"),
    )
    if duplicates and reject_duplicates:
        raise Conflict(
            "looks like an existing contact (%(reason)s)", field="email", reason=duplicates[0].reason
        )
    contact = Contact(organization_id=org_id, custom=custom, status="interested")
    _apply(contact, values)
    if values["status"] == "ready" and "mentee" in values["kinds"] and values.get("waiting_since") is None:
        contact.waiting_since = clock.today()
    _require_name(contact)
    derive(contact)
    session.add(contact)
    await session.flush()
    await sync_terms(session, [contact])
    await _set_programmes(session, contact, data.programme_ids)
    await session.flush()
    await session.refresh(contact)
    after = {
        **history.snapshot(contact, HISTORY_FIELDS),
        "programmes": await _programme_ids(session, contact.id),
    }
    await history.record(
        session, "contact", contact.id, "created", history.created(after), contact_ids=[contact.id]
    )
    out = (await outputs(session, [contact]))[0]
    out.possible_duplicates = [d.id for d in duplicates]
    return out


async def update_contact(
    session: AsyncSession,
    contact_id: uuid.UUID,
    data: ContactPatch,
    *,
    admin: bool = False,
    actor_label: str = "",
    locked: Contact | None = None,
) -> ContactOut:
    """Change the fields sent. ``locked`` is the contact if the caller already read it FOR UPDATE.

    A change that changes nothing writes nothing: no row version, no history entry, no new
    ``updated_at``, and no bump of the organisation's matching revision (whose row lock would
    make every writer of the organisation queue behind it until commit).
    """
    contact = locked if locked is not None else await get_contact(session, contact_id, for_update=True)
    if contact.erased_at is not None:
        raise Conflict("this contact was erased and cannot be changed")
    before = history.snapshot(contact, HISTORY_FIELDS)
    if not isinstance(data.status, msgspec.UnsetType) and data.status != contact.status:
        await protect_status(
            session, contact, data.status, data.status_reason, admin=admin, actor=actor_label
        )
    sent = {
        name: getattr(data, name)
        for name in (*PROFILE_FIELDS, "legal_hold", "legal_hold_reason")
        if getattr(data, name) is not msgspec.UNSET
    }
    for required in ("kinds", "first_name", "last_name", "status", "capacity", "legal_hold"):
        if required in sent and sent[required] is None:
            raise ValidationFailed("cannot be empty", field=required)
    for listed in ("languages", "tags", "interests", "availability", "support_kinds"):
        if listed in sent and sent[listed] is None:
            sent[listed] = []
    if "preferences" in sent and sent["preferences"] is None:
        sent["preferences"] = {}
    values = clean_values(sent, protected_status=True)
    if "owner_membership_id" in values:
        await _check_owner(session, values["owner_membership_id"])
    fields = await custom_fields.active_definitions(session)
    kinds = values.get("kinds", contact.kinds)
    changes = data.custom if not isinstance(data.custom, msgspec.UnsetType) else {}
    contact.custom = custom_fields.apply_custom(fields, contact.custom, changes, kinds)
    terms_before = terms_of(contact)
    _apply(contact, values, stamp=False)
    _require_name(contact)
    derive(contact)
    # Most changes (a city, a status) leave the searchable words alone: keep their rows then.
    if terms_of(contact) != terms_before:
        await sync_terms(session, [contact])
    after = history.snapshot(contact, HISTORY_FIELDS)
    if not isinstance(data.programme_ids, msgspec.UnsetType):
        before["programmes"] = await _programme_ids(session, contact.id)
        await _set_programmes(session, contact, data.programme_ids)
        after["programmes"] = await _programme_ids(session, contact.id)
    changes = history.diff(before, after)
    # Values set to what they were leave the row unmodified (compared as the ORM compares them).
    written = _unflushed(contact)
    if changes or written:
        written["updated_at"] = datetime.now(UTC)
    # The row is written last, by a statement of its own: the ORM takes the values as written.
    for name, value in written.items():
        set_committed_value(contact, name, value)
    # Nothing of the contact is left for the ORM to write: values set to what they were would
    # otherwise keep it "modified", and every flush (the commit's too) would walk the unit of
    # work to find that out, a quarter of a change's Python.
    state = sa_inspect(contact)
    state._commit_all(state.dict, session.sync_session.identity_map)
    await history.record(session, "contact", contact.id, "changed", changes, contact_ids=[contact.id])
    await session.flush()
    if written:
        return await _write_out(session, contact.id, written)
    return await read_out(session, contact.id)


async def delete_contact(session: AsyncSession, contact_id: uuid.UUID) -> None:
    """Delete a contact and everything kept about them (for mistakes; erasure keeps statistics)."""
    contact = await get_contact(session, contact_id, for_update=True)
    if contact.legal_hold:
        raise Conflict("a legal hold is set on this contact; lift it before deleting", field="legal_hold")
    before = history.snapshot(contact, HISTORY_FIELDS)
    await history.record(
        session, "contact", contact.id, "deleted", history.deleted(before), contact_ids=[contact.id]
    )
    # Nothing of the person stays behind in the history either: which fields changed, and when, do.
    await history.scrub_person(session, contact.id)
    await delete_terms(session, [contact.id])
    # An import's record of what it did (with the values before an update) goes with the person.
    await session.execute(delete(ImportRow).where(ImportRow.contact_id == contact.id))
    await session.delete(contact)
    await session.flush()


async def duplicates_of(session: AsyncSession, contact_id: uuid.UUID) -> list[DuplicateOut]:
    c = await get_contact(session, contact_id)
    return await find_duplicates(
        session,
        email=c.email,
        first_name=c.first_name,
        last_name=c.last_name,
        birth_date=c.birth_date,
        exclude=c.id,
    )


async def merge_contacts(session: AsyncSession, keep_id: uuid.UUID, other_id: uuid.UUID) -> ContactOut:
    """Fold ``other`` into ``keep``: both timelines, consents, programmes and links stay; blanks filled."""
    if keep_id == other_id:
        raise ValidationFailed("a contact cannot be merged with itself", field="other_id")
    keep = await get_contact(session, keep_id, for_update=True)
    try:
        other = await get_contact(session, other_id, for_update=True)
    except NotFound:
        raise NotFound("no such contact to merge", field="other_id") from None
    if keep.erased_at or other.erased_at:
        raise Conflict("erased contacts cannot be merged")
    before = history.snapshot(keep, HISTORY_FIELDS)
    for name in PROFILE_FIELDS:
        mine, theirs = getattr(keep, name), getattr(other, name)
        if isinstance(mine, list):
            setattr(keep, name, list(dict.fromkeys([*mine, *theirs])))
        elif name == "preferences":
            keep.preferences = {**other.preferences, **keep.preferences}
        elif mine in (None, "") and theirs not in (None, ""):
            setattr(keep, name, theirs)
    keep.custom = {**other.custom, **keep.custom}
    keep.legal_hold = keep.legal_hold or other.legal_hold
    keep.legal_hold_reason = keep.legal_hold_reason or other.legal_hold_reason
    for model in (Activity, Consent, ImportRow):
        await session.execute(update(model).where(model.contact_id == other.id).values(contact_id=keep.id))
    theirs_programmes = select(ProgrammeMembership.programme_id).where(
        ProgrammeMembership.contact_id == keep.id
    )
    await session.execute(
        update(ProgrammeMembership)
        .where(
            ProgrammeMembership.contact_id == other.id,
            ProgrammeMembership.programme_id.not_in(theirs_programmes),
        )
        .values(contact_id=keep.id)
    )
    for outgoing in (True, False):
        column = ContactLink.contact_id if outgoing else ContactLink.related_id
        links = (await session.execute(select(ContactLink).where(column == other.id))).scalars().all()
        for link in links:
            target = link.related_id if outgoing else link.contact_id
            pair = (keep.id, target) if outgoing else (target, keep.id)
            exists = (
                await session.execute(
                    select(ContactLink.id).where(
                        ContactLink.contact_id == pair[0],
                        ContactLink.related_id == pair[1],
                        ContactLink.kind == link.kind,
                    )
                )
            ).first()
            if target == keep.id or exists:
                await session.delete(link)
            elif outgoing:
                link.contact_id = keep.id
            else:
                link.related_id = keep.id
        await session.flush()
    await session.flush()
    keep.updated_at = datetime.now(UTC)
    derive(keep)
    await sync_terms(session, [keep])
    session.add(
        Activity(
            organization_id=keep.organization_id,
            contact_id=keep.id,
            kind="note",
            occurred_at=datetime.now(UTC),
            author_name="codo",
            body=notes.system_note(notes.MERGED, id=str(other.id)),
        )
    )
    changes = history.diff(before, history.snapshot(keep, HISTORY_FIELDS))
    # The merged record's own entries now belong to the kept person as well.
    await history.merge_person(session, other.id, keep.id)
    await history.record(
        session, "contact", keep.id, "merged", changes, contact_ids=[keep.id], details={"merged_id": other.id}
    )
    await delete_terms(session, [other.id])
    await session.delete(other)
    await session.flush()
    await session.refresh(keep)
    return (await outputs(session, [keep]))[0]


# ---------------------------------------------------------------- programmes


async def list_programmes(session: AsyncSession) -> list[ProgrammeOut]:
    # On every list page: the organisation named, so its indexes answer instead of every row's policy.
    org = current_org(session)
    rows = await session.execute(
        select(Programme.id, Programme.name, func.count(ProgrammeMembership.id))
        .outerjoin(
            ProgrammeMembership,
            and_(
                ProgrammeMembership.organization_id == org, ProgrammeMembership.programme_id == Programme.id
            ),
        )
        .where(Programme.organization_id == org)
        .group_by(Programme.id, Programme.name)
        .order_by(Programme.name)
    )
    return [ProgrammeOut(id=i, name=n, contact_count=c) for i, n, c in rows]


async def create_programme(session: AsyncSession, org_id: uuid.UUID, name: str) -> ProgrammeOut:
    cleaned = _text(name, "name", 100)
    if not cleaned:
        raise ValidationFailed("a name is needed", field="name")
    exists = (await session.execute(select(Programme.id).where(Programme.name == cleaned))).first()
    if exists:
        raise Conflict("a programme with this name exists", field="name")
    programme = Programme(organization_id=org_id, name=cleaned)
    session.add(programme)
    await session.flush()
    return ProgrammeOut(id=programme.id, name=programme.name, contact_count=0)


async def get_programme(session: AsyncSession, programme_id: uuid.UUID) -> Programme:
    programme = (
        await session.execute(
            select(Programme).where(
                Programme.organization_id == current_org(session), Programme.id == programme_id
            )
        )
    ).scalar_one_or_none()
    if programme is None:
        raise NotFound("no such programme")
    return programme


async def delete_programme(session: AsyncSession, programme_id: uuid.UUID) -> None:
    programme = await get_programme(session, programme_id)
    await session.delete(programme)
    await session.flush()


# ---------------------------------------------------------------- links


async def list_links(session: AsyncSession, contact_id: uuid.UUID) -> list[LinkOut]:
    await get_contact(session, contact_id)
    links = list(
        (
            await session.execute(
                select(ContactLink)
                .where(or_(ContactLink.contact_id == contact_id, ContactLink.related_id == contact_id))
                .order_by(ContactLink.created_at)
            )
        ).scalars()
    )
    ids = {link.contact_id for link in links} | {link.related_id for link in links}
    names = {
        c.id: contact_name(c)
        for c in (await session.execute(select(Contact).where(Contact.id.in_(ids)))).scalars()
    }
    return [
        LinkOut(
            id=link.id,
            kind=link.kind,
            contact_id=link.contact_id,
            contact_name=names.get(link.contact_id, ""),
            related_id=link.related_id,
            related_name=names.get(link.related_id, ""),
        )
        for link in links
    ]


async def add_link(session: AsyncSession, contact_id: uuid.UUID, related_id: uuid.UUID, kind: str) -> LinkOut:
    contact = await get_contact(session, contact_id)
    if kind not in LINK_KINDS:
        raise ValidationFailed(
            "kind must be one of %(link_kinds)s", field="kind", link_kinds=", ".join(LINK_KINDS)
        )
    if related_id == contact_id:
        raise ValidationFailed("a contact cannot be linked to itself", field="related_id")
    try:
        related = await get_contact(session, related_id)
    except NotFound:
        raise ValidationFailed("no such contact", field="related_id") from None
    exists = (
        await session.execute(
            select(ContactLink.id).where(
                and_(
                    ContactLink.contact_id == contact_id,
                    ContactLink.related_id == related_id,
                    ContactLink.kind == kind,
                )
            )
        )
    ).first()
    if exists:
        raise Conflict("these contacts are linked like this already", field="related_id")
    link = ContactLink(
        organization_id=contact.organization_id, contact_id=contact_id, related_id=related_id, kind=kind
    )
    session.add(link)
    await session.flush()
    await history.record(
        session,
        "link",
        link.id,
        "created",
        history.created({"kind": kind, "contact_id": str(contact_id), "related_id": str(related_id)}),
        contact_ids=[contact_id, related_id],
    )
    return LinkOut(link.id, kind, contact_id, contact_name(contact), related_id, contact_name(related))


async def remove_link(session: AsyncSession, contact_id: uuid.UUID, link_id: uuid.UUID) -> None:
    await get_contact(session, contact_id)
    link = (
        await session.execute(
            select(ContactLink).where(
                ContactLink.id == link_id,
                or_(ContactLink.contact_id == contact_id, ContactLink.related_id == contact_id),
            )
        )
    ).scalar_one_or_none()
    if link is None:
        raise NotFound("no such link")
    await history.record(
        session,
        "link",
        link.id,
        "deleted",
        history.deleted(
            {"kind": link.kind, "contact_id": str(link.contact_id), "related_id": str(link.related_id)}
        ),
        contact_ids=[link.contact_id, link.related_id],
    )
    await session.delete(link)
    await session.flush()
