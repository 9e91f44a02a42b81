"""Importing contacts from Excel and CSV: read, map columns, dry run, commit in batches, undo.

A dry run plans every row (create, update or reject, with reasons) without writing a contact.
The commit runs in the worker, batch by batch: each batch writes its contacts, the record of
what it did (for undo) and the import's progress in one transaction, so a crash leaves either
the whole batch or nothing, and a rerun continues after the last saved batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import re
import uuid
import zipfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import history, queue
from shared.actor import Actor
from shared.contacts import fields as custom_fields
from shared.contacts.models import (
    Contact,
    CustomField,
    Import,
    ImportMapping,
    ImportRow,
    Programme,
    ProgrammeMembership,
    SearchTerm,
)
from shared.contacts.parsing import parse_date, parse_language, split_list, split_name
from shared.contacts.service import (
    HISTORY_FIELDS,
    PROFILE_FIELDS,
    clean_values,
    delete_terms,
    derive,
    similar_names,
    sync_terms,
    term_rows,
)
from shared.contacts.vocab import fold, normalize_email
from shared.db import Database
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.ids import new_id
from shared.logs import get_logger
from shared.permissions import Role
from shared.spreadsheets import csv_row

log = get_logger(__name__)

MAX_ROWS = 50_000
MAX_BYTES = 20 * 1024 * 1024
STALE_AFTER = timedelta(minutes=2)

# Target fields a column can map to ("" ignores a column; custom fields are "custom.<key>").
TARGETS = (
    "full_name",
    "first_name",
    "last_name",
    "preferred_name",
    "organisation_name",
    "kinds",
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
    "interests",
    "availability",
    "capacity",
    "support_kinds",
    "notes",
    "programmes",
)

_ALIASES: dict[str, tuple[str, ...]] = {
    "full_name": ("name", "vollername", "vollstaendigername", "vorundnachname", "namevorname",
                  "nachnamevorname", "fullname", "firstandlastname"),
    "first_name": ("vorname", "vornamen", "firstname", "givenname", "forename"),
    "last_name": ("nachname", "familienname", "zuname", "lastname", "surname", "familyname"),
    "preferred_name": ("rufname", "spitzname", "preferredname", "nickname"),
    "organisation_name": ("organisation", "organization", "firma", "einrichtung", "institution", "company"),
    "kinds": ("rolle", "rollen", "art", "typ", "kontaktart", "role", "roles", "kind", "type"),
    "birth_date": ("geburtsdatum", "geburtstag", "geb", "geboren", "geboren am", "dateofbirth",
                   "birthdate", "birthday", "dob"),
    "age_group": ("altersgruppe", "agegroup"),
    "gender": ("geschlecht", "gender", "sex"),
    "languages": ("sprachen", "sprache", "languages", "language", "spokenlanguages"),
    "postal_code": ("plz", "postleitzahl", "postalcode", "postcode", "zip", "zipcode"),
    "city": ("ort", "stadt", "wohnort", "city", "town"),
    "phone": ("telefon", "tel", "telefonnummer", "handy", "mobil", "mobilnummer", "handynummer", "phone",
              "phonenumber", "mobile", "telephone"),
    "email": ("email", "emailadresse", "mail", "mailadresse", "emailaddress"),
    "preferred_channel": ("kontaktweg", "bevorzugterkontaktweg", "preferredchannel", "contactchannel"),
    "status": ("status", "stand"),
    "tags": ("tags", "schlagworte", "stichworte", "labels"),
    "interests": ("interessen", "hobbys", "hobbies", "interests"),
    "availability": ("verfuegbarkeit", "zeiten", "availability"),
    "capacity": ("kapazitaet", "capacity"),
    "support_kinds": ("unterstuetzung", "unterstuetzungsbedarf", "supportkinds", "support"),
    "notes": ("notizen", "notiz", "bemerkung", "bemerkungen", "anmerkungen", "kommentar", "notes",
              "comments"),
    "programmes": ("programm", "programme", "projekt", "projekte", "program", "programs", "programmes"),
}  # fmt: skip

_KIND_WORDS = {
    "mentor": ("mentor", "mentorin", "pate", "patin", "paten", "ehrenamtlich", "ehrenamtliche", "volunteer"),
    "mentee": ("mentee", "kind", "schueler", "schuelerin", "jugendlicher", "jugendliche", "patenkind"),
    "guardian": ("guardian", "elternteil", "eltern", "mutter", "vater", "erziehungsberechtigt",
                 "erziehungsberechtigte", "erziehungsberechtigter", "familie", "parent", "family"),
    "partner": ("partner", "partnerin", "partnerorganisation", "organisation", "kooperationspartner"),
}  # fmt: skip
_GENDER_WORDS = {
    "female": ("w", "weiblich", "f", "female", "frau", "woman"),
    "male": ("m", "maennlich", "male", "mann", "man"),
    "diverse": ("d", "divers", "diverse", "x", "nonbinary"),
    "not_stated": ("keineangabe", "ka", "notstated", "unknown", "unbekannt", "-", ""),
}
_STATUS_WORDS = {
    "interested": ("interessiert", "interessent", "interessentin", "neu", "interested", "new"),
    "screening": ("inpruefung", "pruefung", "screening", "kennenlernen"),
    "ready": ("bereit", "wartend", "wartet", "ready", "waiting"),
    "matched": ("vermittelt", "gematcht", "matched", "aktiv", "active"),
    "paused": ("pausiert", "pause", "paused"),
    "alumni": ("alumni", "ehemalig", "ehemalige", "beendet"),
    "declined": ("abgelehnt", "abgesagt", "declined", "rejected"),
}


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(text))


def _lookup(words: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {_key(w): target for target, ws in words.items() for w in ws}


HEADER_INDEX = _lookup(_ALIASES)
KIND_INDEX = _lookup(_KIND_WORDS)
GENDER_INDEX = {**_lookup(_GENDER_WORDS), "": "not_stated"}
STATUS_INDEX = _lookup(_STATUS_WORDS)


# ---------------------------------------------------------------- reading files


@dataclass
class Sheet:
    headers: list[str]
    # (row number as the spreadsheet shows it, cells); empty rows are left out.
    rows: list[tuple[int, list[Any]]]


# What a sheet may hold. They are checked while the file is read, row by row, whatever size the
# file claims for itself, so an upload costs memory in proportion to its real content.
MAX_COLUMNS = 200
# Excel's own limit for the text of one cell.
MAX_CELL_CHARS = 32_767
MAX_HEADER_CHARS = 200
# Empty rows are skipped but still counted: a file of nothing but line breaks ends here.
MAX_LINES = 2 * MAX_ROWS
# The unpacked parts of an .xlsx: a small archive must not unpack into gigabytes.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _Collector:
    """Keeps the header and the non-empty rows of a sheet, refusing what is over a limit."""

    def __init__(self) -> None:
        self.headers: list[str] | None = None
        self.header_line = 0
        self.rows: list[tuple[int, list[Any]]] = []
        self.lines = 0

    def add(self, cells: Sequence[Any]) -> None:
        self.lines += 1
        if self.lines > MAX_LINES:
            raise ValidationFailed(f"at most {MAX_LINES} lines per file (empty ones included)", field="file")
        width = len(cells)
        while width and _blank(cells[width - 1]):
            width -= 1
        if not width:
            return
        if width > MAX_COLUMNS:
            raise ValidationFailed(f"at most {MAX_COLUMNS} columns per sheet", field="file")
        kept: list[Any] = []
        for value in cells[:width]:
            if isinstance(value, str):
                if len(value) > MAX_CELL_CHARS:
                    raise ValidationFailed(
                        f"row {self.lines}: a cell holds more than {MAX_CELL_CHARS} characters", field="file"
                    )
                # PostgreSQL text cannot hold NUL; no spreadsheet means one.
                value = value.replace("\x00", "")
            kept.append(value)
        if self.headers is None:
            self.headers = [("" if c is None else str(c)).strip() for c in kept]
            if any(len(h) > MAX_HEADER_CHARS for h in self.headers):
                raise ValidationFailed(
                    f"a column header is longer than {MAX_HEADER_CHARS} characters", field="file"
                )
            self.header_line = self.lines
            return
        if len(self.rows) >= MAX_ROWS:
            raise ValidationFailed(f"at most {MAX_ROWS} rows per import", field="file")
        self.rows.append((self.lines, kept))


def _unreadable(exc: BaseException) -> ValidationFailed:
    # openpyxl wraps what the XML parser refused in its own ValueError.
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, DefusedXmlException):
            return ValidationFailed(
                "the .xlsx file defines XML entities, which codo does not read; save it again from Excel",
                field="file",
            )
        cause = cause.__cause__ or cause.__context__
    return ValidationFailed("not a readable .xlsx file", field="file")


def _read_xlsx(content: bytes) -> _Collector:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise ValidationFailed("not a readable .xlsx file", field="file") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise ValidationFailed("the .xlsx file unpacks to more than codo reads", field="file")
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:
        raise _unreadable(exc) from None
    try:
        sheet = book.worksheets[0]
        # The size a file states for itself ("A1:XFD1048576") would pad every row to its width.
        sheet.reset_dimensions()
        collector = _Collector()
        for cells in sheet.iter_rows(values_only=True):
            collector.add(cells)
    except ValidationFailed:
        raise
    except Exception as exc:
        raise _unreadable(exc) from None
    finally:
        book.close()
    return collector


def _read_csv(content: bytes) -> _Collector:
    # Counting line breaks costs milliseconds; parsing a file of millions of them would not. The
    # bound leaves room for cells that span several lines.
    if content.count(b"\n") > 2 * MAX_LINES:
        raise ValidationFailed(f"at most {MAX_LINES} lines per file (empty ones included)", field="file")
    head = content[:65536]
    # A file that is not UTF-8 is read again as Windows-1252; latin-1 decodes any byte.
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            first = head.decode(encoding, errors="ignore").split("\n", 1)[0]
            delimiter = ";" if first.count(";") >= first.count(",") and ";" in first else ","
            if "\t" in first and first.count("\t") > first.count(delimiter):
                delimiter = "\t"
            text = io.TextIOWrapper(io.BytesIO(content), encoding=encoding, newline="")
            reader = csv.reader(text, delimiter=delimiter)
            collector = _Collector()
            for cells in reader:
                collector.add(cells)
        except UnicodeDecodeError:
            continue
        except csv.Error:
            raise ValidationFailed(
                f"not a readable CSV file (a cell may hold at most {MAX_CELL_CHARS} characters)", field="file"
            ) from None
        return collector
    raise ValidationFailed("not a readable CSV file", field="file")


def read_sheet(content: bytes, filename: str) -> Sheet:
    """Rows of the first worksheet of an .xlsx, or of a CSV (UTF-8 or Windows-1252, ; or ,)."""
    if len(content) > MAX_BYTES:
        raise ValidationFailed(
            "the file is larger than %(value)s MB", field="file", value=MAX_BYTES // 1024 // 1024
        )
    if content[:2] == b"PK" or filename.lower().endswith((".xlsx", ".xlsm")):
        collector = _read_xlsx(content)
    elif filename.lower().endswith((".csv", ".txt")) or b"\0" not in content[:1000]:
        collector = _read_csv(content)
    else:
        raise ValidationFailed("upload an .xlsx or .csv file", field="file")
    if collector.headers is None:
        raise ValidationFailed("the file has no rows", field="file")
    return Sheet(collector.headers, collector.rows)


def suggest_mapping(headers: list[str], fields: list[CustomField]) -> dict[str, str]:
    """Header -> target, from German and English names and the custom fields' keys and labels."""
    custom = {}
    for f in fields:
        if f.archived_at is None:
            for name in (f.key, f.label_de, f.label_en):
                custom[_key(name)] = f"custom.{f.key}"
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        target = custom.get(_key(header)) or HEADER_INDEX.get(_key(header), "")
        if target and target not in taken:
            mapping[header] = target
            taken.add(target)
        else:
            mapping[header] = ""
    return mapping


def check_mapping(mapping: dict[str, str], headers: list[str], fields: list[CustomField]) -> dict[str, str]:
    known = {f"custom.{f.key}" for f in fields if f.archived_at is None}
    for header, target in mapping.items():
        if target and target not in TARGETS and target not in known:
            raise ValidationFailed(
                "column %(header)r: unknown field %(target)r", field="mapping", header=header, target=target
            )
    targets = [t for t in mapping.values() if t]
    if len(targets) != len(set(targets)):
        raise ValidationFailed("two columns map to the same field", field="mapping")
    if not {"full_name", "last_name", "first_name", "organisation_name"} & set(targets):
        raise ValidationFailed("map a column to a name (Vorname/Nachname or Name)", field="mapping")
    return {h: mapping.get(h, "") for h in headers}


# ---------------------------------------------------------------- planning rows


@dataclass
class Planned:
    row: int
    action: str  # create | update | reject
    reasons: list[str] = field(default_factory=list)
    name: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    programmes: list[uuid.UUID] = field(default_factory=list)
    contact_id: uuid.UUID | None = None
    changes: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "action": self.action,
            "reasons": self.reasons,
            "name": self.name,
            "contact_id": str(self.contact_id) if self.contact_id else None,
            "changes": self.changes,
        }


def _cell_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value).strip()


def _convert(target: str, value: Any) -> Any:
    """A spreadsheet cell as the API would take it; ValueError says what is wrong."""
    if target in ("kinds",):
        kinds = []
        for word in split_list(value):
            kind = KIND_INDEX.get(_key(word))
            if kind is None:
                raise ValueError(f"unknown role {word!r}")
            kinds.append(kind)
        return kinds
    if target == "birth_date":
        return parse_date(value)
    if target == "gender":
        gender = GENDER_INDEX.get(_key(_cell_text(value)))
        if gender is None:
            raise ValueError(f"unknown gender {value!r}")
        return gender
    if target == "status":
        status = STATUS_INDEX.get(_key(_cell_text(value)))
        if status is None:
            raise ValueError(f"unknown status {value!r}")
        return status
    if target == "languages":
        return [parse_language(v) for v in split_list(value)]
    if target in ("tags", "interests", "support_kinds", "programmes"):
        return split_list(value)
    if target == "availability":
        return [v.lower() for v in split_list(value)]
    if target == "capacity":
        try:
            return int(float(_cell_text(value).replace(",", ".")))
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    if target == "postal_code":
        text = _cell_text(value)
        # Excel drops the leading zero of Saxon and Thuringian postal codes (01067 -> 1067).
        return text.zfill(5) if text.isdigit() and len(text) == 4 else text
    if target == "phone":
        text = _cell_text(value)
        return "0" + text if isinstance(value, int | float) and not text.startswith("0") else text
    return _cell_text(value)


@dataclass
class Context:
    fields: list[CustomField]
    programmes: dict[str, uuid.UUID]
    by_email: dict[str, Contact]
    by_birth: dict[date, list[Contact]]


async def load_context(session: AsyncSession, planned_emails: set[str], births: set[date]) -> Context:
    fields = await custom_fields.list_fields(session)
    programmes = {fold(p.name): p.id for p in (await session.execute(select(Programme))).scalars()}
    by_email: dict[str, Contact] = {}
    by_birth: dict[date, list[Contact]] = {}
    conditions = []
    if planned_emails:
        conditions.append(Contact.email.in_(planned_emails))
    if births:
        conditions.append(Contact.birth_date.in_(births))
    if conditions:
        found = (
            await session.execute(select(Contact).where(or_(*conditions), Contact.erased_at.is_(None)))
        ).scalars()
        for c in found:
            if c.email:
                by_email.setdefault(c.email, c)
            if c.birth_date:
                by_birth.setdefault(c.birth_date, []).append(c)
    return Context(fields, programmes, by_email, by_birth)


def _first_pass(sheet: Sheet, mapping: dict[str, str]) -> tuple[set[str], set[date]]:
    """The e-mails and birth dates of the file, to load only the contacts they could match."""
    emails: set[str] = set()
    births: set[date] = set()
    columns = {t: sheet.headers.index(h) for h, t in mapping.items() if t in ("email", "birth_date")}
    for _, cells in sheet.rows:
        if "email" in columns and columns["email"] < len(cells) and not _blank(cells[columns["email"]]):
            emails.add(normalize_email(str(cells[columns["email"]])))
        if "birth_date" in columns and columns["birth_date"] < len(cells):
            with contextlib.suppress(ValueError, TypeError):
                births.add(parse_date(cells[columns["birth_date"]]))
    return emails, births


def plan_rows(sheet: Sheet, mapping: dict[str, str], ctx: Context, default_kinds: list[str]) -> list[Planned]:
    index = {h: i for i, h in enumerate(sheet.headers)}
    seen_email: dict[str, int] = {}
    seen_person: dict[date, list[tuple[str, int]]] = {}
    plans: list[Planned] = []
    for number, cells in sheet.rows:
        plan = Planned(row=number, action="create")
        raw: dict[str, Any] = {}
        custom_raw: dict[str, Any] = {}
        for header, target in mapping.items():
            if not target:
                continue
            position = index[header]
            value = cells[position] if position < len(cells) else None
            if _blank(value):
                continue
            try:
                converted = _convert(target, value) if not target.startswith("custom.") else value
            except (ValueError, TypeError) as exc:
                plan.reasons.append(f"{header}: {exc}")
                continue
            if target.startswith("custom."):
                custom_raw[target.removeprefix("custom.")] = converted
            elif target == "full_name":
                first, last = split_name(str(converted))
                raw.setdefault("first_name", first)
                raw.setdefault("last_name", last)
            else:
                raw[target] = converted
        plan.name = " ".join(str(raw.get(k, "")) for k in ("first_name", "last_name")).strip() or str(
            raw.get("organisation_name", "")
        )
        programme_names = raw.pop("programmes", [])
        for name in programme_names:
            programme_id = ctx.programmes.get(fold(name))
            if programme_id is None:
                plan.reasons.append(f"unknown programme {name!r}")
            else:
                plan.programmes.append(programme_id)
        if not raw.get("kinds"):
            if default_kinds:
                raw["kinds"] = list(default_kinds)
            elif "kinds" not in raw:
                plan.reasons.append("no role (Rolle): mentor, mentee, guardian or partner")
        if not (raw.get("first_name") or raw.get("last_name") or raw.get("organisation_name")):
            plan.reasons.append("no name")
        try:
            values = clean_values(raw)
        except ValidationFailed as exc:
            plan.reasons.append(f"{_header_of(mapping, exc.field)}: {exc.detail}")
            values = {}
        if plan.reasons:
            plan.action = "reject"
            plans.append(plan)
            continue
        email = values.get("email")
        if email and email in seen_email:
            plan.action = "reject"
            plan.reasons.append(f"duplicate of row {seen_email[email]} (same e-mail)")
            plans.append(plan)
            continue
        person = fold(f"{values.get('first_name', '')} {values.get('last_name', '')}")
        birth = values.get("birth_date")
        if birth:
            twin = next((r for n, r in seen_person.get(birth, []) if similar_names(n, person)), None)
            if twin is not None:
                plan.action = "reject"
                plan.reasons.append(f"duplicate of row {twin} (similar name, same date of birth)")
                plans.append(plan)
                continue
        existing = ctx.by_email.get(email) if email else None
        if existing is not None:
            plan.reasons.append("same e-mail as an existing contact")
        elif birth:
            existing = next(
                (
                    c
                    for c in ctx.by_birth.get(birth, [])
                    if similar_names(fold(f"{c.first_name} {c.last_name}"), person)
                ),
                None,
            )
            if existing is not None:
                plan.reasons.append("similar name and same date of birth as an existing contact")
        kinds = list(dict.fromkeys([*(existing.kinds if existing else []), *values.get("kinds", [])]))
        try:
            plan.custom = custom_fields.apply_custom(
                ctx.fields, dict(existing.custom) if existing else {}, custom_raw, kinds, lenient=True
            )
        except ValidationFailed as exc:
            plan.action = "reject"
            plan.reasons = [f"{_header_of(mapping, exc.field)}: {exc.detail}"]
            plans.append(plan)
            continue
        if email:
            seen_email[email] = number
        if birth:
            seen_person.setdefault(birth, []).append((person, number))
        plan.values = values
        if existing is not None:
            plan.action = "update"
            plan.contact_id = existing.id
            plan.changes = _changes(existing, values, plan.custom)
        plans.append(plan)
    return plans


def _header_of(mapping: dict[str, str], field_name: str | None) -> str:
    if field_name is None:
        return "row"
    target = field_name
    for header, t in mapping.items():
        if t == target or (target in ("first_name", "last_name") and t == "full_name"):
            return header
    return target


_MERGED_LISTS = ("kinds", "languages", "tags", "interests", "availability", "support_kinds")


def _merged(existing: Contact, values: dict[str, Any]) -> dict[str, Any]:
    """An update fills in what the sheet says; lists are joined, not replaced."""
    out = dict(values)
    for name in _MERGED_LISTS:
        if name in out:
            out[name] = list(dict.fromkeys([*getattr(existing, name), *out[name]]))
    return out


def _changes(existing: Contact, values: dict[str, Any], custom: dict[str, Any]) -> list[str]:
    changed = [k for k, v in _merged(existing, values).items() if getattr(existing, k) != v]
    if custom != existing.custom:
        changed.append("custom")
    return changed


# ---------------------------------------------------------------- dry run and API


class ImportOut(msgspec.Struct):
    id: uuid.UUID
    status: str
    filename: str
    atomicity: str
    batch_size: int
    mapping: dict[str, str]
    total_rows: int
    processed_rows: int
    counts: dict[str, int]
    created_count: int
    updated_count: int
    rejected_count: int
    error: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    undone_at: datetime | None
    rows: list[dict[str, Any]]


def import_out(imp: Import, *, rows: str = "all") -> ImportOut:
    report = imp.report
    counts = {a: sum(1 for r in report if r["action"] == a) for a in ("create", "update", "reject")}
    if rows == "rejected":
        report = [r for r in report if r["action"] == "reject"]
    elif rows == "none":
        report = []
    return ImportOut(
        id=imp.id,
        status=imp.status,
        filename=imp.filename,
        atomicity=imp.atomicity,
        batch_size=imp.batch_size,
        mapping={k: v for k, v in imp.mapping.items() if k != "__default_kinds__"},
        total_rows=imp.total_rows,
        processed_rows=imp.processed_rows,
        counts=counts,
        created_count=imp.created_count,
        updated_count=imp.updated_count,
        rejected_count=imp.rejected_count,
        error=imp.error,
        created_by=imp.created_by,
        created_at=imp.created_at,
        started_at=imp.started_at,
        finished_at=imp.finished_at,
        undone_at=imp.undone_at,
        rows=report,
    )


async def _saved_mapping(session: AsyncSession, name: str) -> dict[str, str]:
    found = (
        await session.execute(select(ImportMapping).where(ImportMapping.name == name))
    ).scalar_one_or_none()
    if found is None:
        raise ValidationFailed("no saved mapping with this name", field="mapping_name")
    return dict(found.columns)


def _parse_kinds(value: str | None) -> list[str]:
    if not value:
        return []
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    clean_values({"kinds": kinds})
    return kinds


async def dry_run(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    content: bytes,
    filename: str,
    mapping: dict[str, str] | None,
    mapping_name: str | None = None,
    save_mapping_as: str | None = None,
    default_kinds: str | None = None,
    atomicity: str = "batch",
    batch_size: int = 500,
    created_by: str = "",
) -> Import:
    if atomicity not in ("batch", "all"):
        raise ValidationFailed("atomicity is 'batch' or 'all'", field="atomicity")
    if not 1 <= batch_size <= 5000:
        raise ValidationFailed("batch_size between 1 and 5000", field="batch_size")
    kinds = _parse_kinds(default_kinds)
    # Reading a large sheet takes a while; in a thread it does not hold up other requests.
    sheet = await asyncio.to_thread(read_sheet, content, filename)
    fields = await custom_fields.list_fields(session)
    if mapping is None and mapping_name:
        mapping = await _saved_mapping(session, mapping_name)
    chosen = suggest_mapping(sheet.headers, fields) | (mapping or {})
    chosen = check_mapping(chosen, sheet.headers, fields)
    emails, births = _first_pass(sheet, chosen)
    ctx = await load_context(session, emails, births)
    plans = plan_rows(sheet, chosen, ctx, kinds)
    if save_mapping_as:
        await save_mapping(session, org_id, save_mapping_as, chosen)
    imp = Import(
        organization_id=org_id,
        status="dry_run",
        filename=filename.replace("\x00", "")[:300],
        content=content,
        mapping={**chosen, "__default_kinds__": ",".join(kinds)} if kinds else chosen,
        atomicity=atomicity,
        batch_size=batch_size,
        total_rows=len(plans),
        report=[p.report() for p in plans],
        created_by=created_by,
    )
    session.add(imp)
    await session.flush()
    await session.refresh(imp)
    return imp


async def replan(session: AsyncSession, import_id: uuid.UUID, mapping: dict[str, str]) -> Import:
    """Run the dry run again on the kept file with a changed mapping (the wizard's second step)."""
    imp = await get_import(session, import_id, for_update=True)
    if imp.status != "dry_run" or imp.content is None:
        raise Conflict("only a dry run can be checked again", field="status")
    sheet = await asyncio.to_thread(read_sheet, imp.content, imp.filename)
    fields = await custom_fields.list_fields(session)
    previous = dict(imp.mapping)
    kinds = [k for k in previous.pop("__default_kinds__", "").split(",") if k]
    chosen = check_mapping({**previous, **mapping}, sheet.headers, fields)
    emails, births = _first_pass(sheet, chosen)
    plans = plan_rows(sheet, chosen, await load_context(session, emails, births), kinds)
    imp.mapping = {**chosen, "__default_kinds__": ",".join(kinds)} if kinds else chosen
    imp.report = [p.report() for p in plans]
    imp.total_rows = len(plans)
    await session.flush()
    return imp


def mapping_targets(fields: list[CustomField]) -> list[str]:
    return [*TARGETS, *(f"custom.{f.key}" for f in fields if f.archived_at is None)]


async def save_mapping(
    session: AsyncSession, org_id: uuid.UUID, name: str, columns: dict[str, str]
) -> ImportMapping:
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed("a name of 1 to 100 characters", field="save_mapping_as")
    found = (
        await session.execute(select(ImportMapping).where(ImportMapping.name == name))
    ).scalar_one_or_none()
    if found is None:
        found = ImportMapping(organization_id=org_id, name=name, columns=columns)
        session.add(found)
    else:
        found.columns = columns
    await session.flush()
    return found


class MappingOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    columns: dict[str, str]


async def list_mappings(session: AsyncSession) -> list[MappingOut]:
    found = (await session.execute(select(ImportMapping).order_by(ImportMapping.name))).scalars()
    return [MappingOut(m.id, m.name, dict(m.columns)) for m in found]


async def get_import(session: AsyncSession, import_id: uuid.UUID, *, for_update: bool = False) -> Import:
    query = select(Import).where(Import.id == import_id)
    if for_update:
        query = query.with_for_update()
    imp = (await session.execute(query)).scalar_one_or_none()
    if imp is None:
        raise NotFound("no such import")
    return imp


class ImportSummary(msgspec.Struct):
    id: uuid.UUID
    status: str
    filename: str
    total_rows: int
    processed_rows: int
    created_count: int
    updated_count: int
    rejected_count: int
    created_at: datetime


async def list_imports(session: AsyncSession) -> list[ImportSummary]:
    found = (await session.execute(select(Import).order_by(Import.created_at.desc()).limit(100))).scalars()
    return [
        ImportSummary(
            i.id, i.status, i.filename, i.total_rows, i.processed_rows, i.created_count, i.updated_count,
            i.rejected_count, i.created_at,
        )
        for i in found
    ]  # fmt: skip


async def start(session: AsyncSession, import_id: uuid.UUID) -> Import:
    """Mark an import to run (or to resume after a failure); its job is queued once this commits."""
    imp = await get_import(session, import_id, for_update=True)
    if imp.status in ("done", "undone"):
        raise Conflict("this import is %(status)s", field="status", status=imp.status)
    if imp.content is None:
        raise Conflict("the uploaded file is no longer kept; upload it again", field="file")
    queue.after_commit(session, queue.CONTACTS_RUN_IMPORT, str(imp.organization_id), str(imp.id))
    if imp.status == "running" and imp.heartbeat_at and datetime.now(UTC) - imp.heartbeat_at < STALE_AFTER:
        return imp
    imp.status = "running"
    imp.error = None
    imp.started_at = imp.started_at or datetime.now(UTC)
    imp.heartbeat_at = datetime.now(UTC)
    await session.flush()
    return imp


def error_report(imp: Import) -> str:
    """The rejected rows as CSV (semicolon-separated, as German Excel opens it)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["Zeile / row", "Name", "Gründe / reasons"])
    for r in imp.report:
        if r["action"] == "reject":
            writer.writerow(csv_row([r["row"], r["name"], " | ".join(r["reasons"])]))
    return "\ufeff" + out.getvalue()


# ---------------------------------------------------------------- commit (worker)

BatchHook = Callable[[int], Awaitable[None]]


def _snapshot(c: Contact) -> dict[str, Any]:
    values = {name: getattr(c, name) for name in PROFILE_FIELDS}
    values["custom"] = c.custom
    return msgspec.to_builtins(values)  # type: ignore[no-any-return]


_DATES = ("birth_date", "waiting_since", "last_match_ended_on")


def _restore(c: Contact, before: dict[str, Any]) -> None:
    for name, value in before.items():
        if name in _DATES and value is not None:
            value = date.fromisoformat(value)
        elif name == "owner_membership_id" and value is not None:
            value = uuid.UUID(value)
        setattr(c, name, value)
    derive(c)
    c.updated_at = datetime.now(UTC)


async def run(
    db: Database, org_id: uuid.UUID, import_id: uuid.UUID, *, before_commit: BatchHook | None = None
) -> str:
    """Commit a started import batch by batch; safe to run again (it continues where it stopped)."""
    async with db.tenant(org_id) as session:
        imp = await get_import(session, import_id)
        if imp.status != "running" or imp.content is None:
            return imp.status
        sheet = read_sheet(imp.content, imp.filename)
        mapping = dict(imp.mapping)
        kinds = [k for k in mapping.pop("__default_kinds__", "").split(",") if k]
        emails, births = _first_pass(sheet, mapping)
        ctx = await load_context(session, emails, births)
        plans = plan_rows(sheet, mapping, ctx, kinds)
        batch_size = imp.batch_size if imp.atomicity == "batch" else max(len(plans), 1)
    while True:
        async with db.tenant(org_id) as session:
            # Lock the import's row (only the columns needed: the report and file are large), so two
            # workers running the same import take turns and each batch is read after the last one.
            state = (
                await session.execute(
                    select(Import.status, Import.processed_rows)
                    .where(Import.id == import_id)
                    .with_for_update()
                )
            ).one()
            if state.status != "running":
                return str(state.status)
            start_at = state.processed_rows
            if start_at >= len(plans):
                await session.execute(
                    update(Import)
                    .where(Import.id == import_id)
                    .values(
                        status="done",
                        finished_at=datetime.now(UTC),
                        report=[p.report() for p in plans],
                        total_rows=len(plans),
                        # The file holds personal data: keep it no longer than needed.
                        content=None,
                    )
                )
                return "done"
            batch = plans[start_at : start_at + batch_size]
            counts = await _write_batch(session, org_id, import_id, batch)
            await session.execute(
                update(Import)
                .where(Import.id == import_id)
                .values(
                    processed_rows=start_at + len(batch),
                    created_count=Import.created_count + counts["create"],
                    updated_count=Import.updated_count + counts["update"],
                    rejected_count=Import.rejected_count + counts["reject"],
                    heartbeat_at=datetime.now(UTC),
                )
            )
            if before_commit is not None:
                await before_commit(start_at + len(batch))


async def _write_batch(
    session: AsyncSession, org_id: uuid.UUID, import_id: uuid.UUID, batch: list[Planned]
) -> dict[str, int]:
    counts = {"create": 0, "update": 0, "reject": 0}
    new_rows: list[dict[str, Any]] = []
    import_rows: list[dict[str, Any]] = []
    memberships: list[dict[str, Any]] = []
    terms: list[dict[str, Any]] = []
    touched: list[Contact] = []
    changed: list[tuple[str, uuid.UUID, str, dict[str, list[Any]]]] = []
    now = datetime.now(UTC)
    updates = [p for p in batch if p.action == "update" and p.contact_id]
    existing = {}
    if updates:
        found = await session.execute(
            select(Contact).where(Contact.id.in_([p.contact_id for p in updates])).with_for_update()
        )
        existing = {c.id: c for c in found.scalars()}
    for plan in batch:
        if plan.action == "reject":
            counts["reject"] += 1
            continue
        if plan.action == "update" and plan.contact_id in existing:
            contact = existing[plan.contact_id]
            before = _snapshot(contact)
            was = history.snapshot(contact, HISTORY_FIELDS)
            for name, value in _merged(contact, plan.values).items():
                if name == "status" and value != contact.status:
                    contact.status_changed_at = now
                setattr(contact, name, value)
            contact.custom = plan.custom
            contact.updated_at = now
            derive(contact)
            touched.append(contact)
            changed.append(
                (
                    "contact",
                    contact.id,
                    "changed",
                    history.diff(was, history.snapshot(contact, HISTORY_FIELDS)),
                )
            )
            import_rows.append(
                {"organization_id": org_id, "id": new_id(), "import_id": import_id, "row_number": plan.row,
                 "action": "updated", "contact_id": contact.id, "before": before}
            )  # fmt: skip
            contact_id = contact.id
            counts["update"] += 1
        else:
            contact = Contact(organization_id=org_id, id=new_id(), **plan.values)
            contact.custom = plan.custom
            derive(contact)
            row = {name: getattr(contact, name) for name in plan.values}
            row.update(
                organization_id=org_id, id=contact.id, custom=plan.custom, search_text=contact.search_text,
                sort_name=contact.sort_name, status=plan.values.get("status", "interested"),
            )  # fmt: skip
            if row["status"] == "ready" and "mentee" in row.get("kinds", []) and not row.get("waiting_since"):
                row["waiting_since"] = now.date()
            new_rows.append(row)
            made = {k: v for k, v in row.items() if k in HISTORY_FIELDS}
            changed.append(("contact", contact.id, "created", history.created(history.jsonable(made))))
            terms.extend(term_rows(contact))
            import_rows.append(
                {"organization_id": org_id, "id": new_id(), "import_id": import_id, "row_number": plan.row,
                 "action": "created", "contact_id": contact.id, "before": None}
            )  # fmt: skip
            contact_id = contact.id
            counts["create"] += 1
        for programme_id in plan.programmes:
            memberships.append(
                {
                    "organization_id": org_id,
                    "id": new_id(),
                    "contact_id": contact_id,
                    "programme_id": programme_id,
                }
            )
    # Rows differ in which columns they fill; insert each shape together.
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in new_rows:
        shapes.setdefault(tuple(sorted(row)), []).append(row)
    for rows in shapes.values():
        await session.execute(insert(Contact), rows)
    await session.flush()
    await sync_terms(session, touched)
    if terms:
        await session.execute(insert(SearchTerm), terms)
    if import_rows:
        await session.execute(insert(ImportRow), import_rows)
    started_by = (
        await session.execute(select(Import.created_by, Import.filename).where(Import.id == import_id))
    ).one()
    importer = Actor(
        role=Role.COORDINATOR, label=started_by.created_by, reason=f"import {started_by.filename}"
    )
    await history.record_many(session, importer, org_id, changed)
    if memberships:
        existing_pairs = set(
            (
                await session.execute(
                    select(ProgrammeMembership.contact_id, ProgrammeMembership.programme_id).where(
                        ProgrammeMembership.contact_id.in_({m["contact_id"] for m in memberships})
                    )
                )
            ).tuples()
        )
        fresh = [m for m in memberships if (m["contact_id"], m["programme_id"]) not in existing_pairs]
        if fresh:
            await session.execute(insert(ProgrammeMembership), fresh)
    return counts


async def fail(db: Database, org_id: uuid.UUID, import_id: uuid.UUID, error: str) -> None:
    async with db.tenant(org_id) as session:
        imp = await get_import(session, import_id, for_update=True)
        if imp.status == "running":
            imp.status = "failed"
            imp.error = error[:2000]
            imp.finished_at = datetime.now(UTC)


async def undo(session: AsyncSession, import_id: uuid.UUID) -> Import:
    """Take back every saved batch: created contacts go, updated ones get their old values back."""
    imp = await get_import(session, import_id, for_update=True)
    if imp.status == "undone":
        return imp
    if imp.status == "dry_run":
        raise Conflict("nothing was imported yet", field="status")
    rows = (
        (
            await session.execute(
                select(ImportRow)
                .where(ImportRow.import_id == import_id)
                .order_by(ImportRow.row_number.desc())
            )
        )
        .scalars()
        .all()
    )
    updated = {r.contact_id: r for r in rows if r.action == "updated"}
    if updated:
        found = await session.execute(select(Contact).where(Contact.id.in_(updated)).with_for_update())
        restored = []
        for contact in found.scalars():
            if updated[contact.id].before is not None:
                _restore(contact, updated[contact.id].before or {})
                restored.append(contact)
        await session.flush()
        await sync_terms(session, restored)
    created = [r.contact_id for r in rows if r.action == "created"]
    await delete_terms(session, created)
    for start_at in range(0, len(created), 1000):
        await session.execute(delete(Contact).where(Contact.id.in_(created[start_at : start_at + 1000])))
    await session.execute(delete(ImportRow).where(ImportRow.import_id == import_id))
    imp.status = "undone"
    imp.undone_at = datetime.now(UTC)
    imp.content = None
    await session.flush()
    return imp


async def stale_imports(db: Database) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """SYSTEM CONTEXT: running imports whose worker stopped writing progress (to resume them)."""
    async with db.system_context("contacts: resume imports that lost their worker") as session:
        rows = await session.execute(
            select(Import.organization_id, Import.id).where(
                Import.status == "running",
                func.coalesce(Import.heartbeat_at, Import.created_at) < datetime.now(UTC) - STALE_AFTER,
            )
        )
        return [(o, i) for o, i in rows]
