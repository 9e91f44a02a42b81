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
import gc
import io
import re
import uuid
import zipfile
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any, Protocol, cast

import msgspec
import uuid_utils
from babel import Locale
from babel.dates import format_date
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy import Table, case, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import bulk, clock, history, i18n, queue
from shared.actor import Actor
from shared.contacts import fields as custom_fields
from shared.contacts.models import (
    Contact,
    CustomField,
    Import,
    ImportMapping,
    ImportRow,
    Programme,
)
from shared.contacts.parsing import parse_date, parse_language, split_list, split_name
from shared.contacts.service import (
    HISTORY_FIELDS,
    PROFILE_FIELDS,
    clean_values,
    derive,
    similar_names,
    sync_terms,
    terms_of,
)
from shared.contacts.vocab import (
    CHANNELS,
    DAYS,
    DAYTIMES,
    GENDERS,
    KINDS,
    LANGUAGE_NAMES,
    LANGUAGES,
    PROTECTED_STATUS,
    STATUSES,
    fold,
    key_label,
    normalize_email,
)
from shared.db import Database
from shared.errors import Conflict, DomainError, InvalidValue, NotFound, ValidationFailed
from shared.history.models import HistoryEntry
from shared.i18n import N_
from shared.ids import new_id
from shared.logs import get_logger
from shared.models import ChangeCounter
from shared.permissions import Role
from shared.spreadsheets import csv_row

log = get_logger(__name__)

MAX_ROWS = 50_000
# Rows per transaction unless the import says otherwise. Each batch costs a few round trips
# and a commit whatever its size; at 2,000 rows a 10,000-row sheet commits 60 % faster on a
# busy machine than at 500, and a crash still loses at most one batch.
BATCH_SIZE = 2_000
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
            raise ValidationFailed(
                "at most %(max)s lines per file (empty ones included)", field="file", max=MAX_LINES
            )
        width = len(cells)
        while width and _blank(cells[width - 1]):
            width -= 1
        if not width:
            return
        if width > MAX_COLUMNS:
            raise ValidationFailed("at most %(max)s columns per sheet", field="file", max=MAX_COLUMNS)
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
            raise ValidationFailed("at most %(max)s rows per import", field="file", max=MAX_ROWS)
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
        raise ValidationFailed(
            "at most %(max)s lines per file (empty ones included)", field="file", max=MAX_LINES
        )
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
    if content.startswith(_PARSED):
        return _unpack_sheet(content)
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


# ---------------------------------------------------------------- reasons and warnings

# A reason or a warning is kept as a message id with its parameters (and the column it is about),
# never as text: the review page shows it in the reader's language, the API in English.
Message = dict[str, Any]

# What an invalid optional value leads to: the field is left as it was (empty for a new contact).
NOT_TAKEN = N_("not taken over")


def _message(message_id: str, column: str | None = None, **params: Any) -> Message:
    out: Message = {"id": message_id, "params": {k: history.jsonable(v) for k, v in params.items()}}
    if column:
        out["column"] = column
    return out


def _refusal(exc: Exception, column: str | None) -> Message:
    message_id = getattr(exc, "message_id", None)
    if message_id is None:
        return _message(str(exc), column)
    return _message(message_id, column, **getattr(exc, "params", {}))


def render(message: Message | str, locale: str, *, warning: bool = False) -> str:
    """One reason or warning in ``locale`` ("en" gives the API's English text)."""
    if isinstance(message, str):  # reports written before reasons were kept as message ids
        return message
    said = i18n.gettext(locale, message["id"], domain="contacts", **message.get("params", {}))
    if message.get("column"):
        said = f"{message['column']}: {said}"
    if warning and message.get("column"):
        said = f"{said} — {i18n.gettext(locale, NOT_TAKEN, domain='contacts')}"
    return said


def redacted_row(row: dict[str, Any], redacted: str) -> dict[str, Any]:
    """A report row without the person in it: no name, no values, no parameters of its reasons."""

    def blank(message: Message | str) -> Message | str:
        if isinstance(message, str):
            return redacted
        return {**message, "params": dict.fromkeys(message.get("params", {}), redacted)}

    def values(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"field": c["field"], "old": redacted, "new": redacted} for c in changes]

    return {
        **row,
        "name": redacted,
        "reasons": [blank(m) for m in row.get("reasons", [])],
        "warnings": [blank(m) for m in row.get("warnings", [])],
        "changes": values(row.get("changes", [])),
        "kept": values(row.get("kept", [])),
    }


def redacted_columns(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The file's columns without their sample values (they may be anyone's)."""
    return [{**c, "samples": []} for c in columns]


# ---------------------------------------------------------------- labels codo shows

# The page catalogues label each vocabulary key ("kind:mentor" -> "Mentor:in", "day:tue" -> "Di");
# an import accepts those labels in both languages, so a sheet exported from or typed after codo's
# own pages reads back. Babel adds the full day names and every language's German and English name.
_DAYTIME_WORDS = {"morning": ("vormittag", "morgens", "morgen"), "afternoon": ("nachmittag",),
                  "evening": ("abend",)}  # fmt: skip


@dataclass
class Labels:
    kinds: dict[str, str]
    statuses: dict[str, str]
    genders: dict[str, str]
    channels: dict[str, str]
    days: dict[str, str]
    daytimes: dict[str, str]
    languages: dict[str, str]


def _labelled(prefix: str, keys: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for key in keys:
        found[_key(key)] = key
        for lang in i18n.LOCALES:
            label = i18n.gettext(lang, f"{prefix}:{key}", domain="contacts")
            if label != f"{prefix}:{key}":
                found[_key(label)] = key
    return found


def labels() -> Labels:
    days = _labelled("day", DAYS)
    for lang in i18n.LOCALES:
        names = Locale.parse(lang).days["format"]
        for width in ("wide", "abbreviated"):
            # babel counts Monday as 0, as DAYS does.
            days.update({_key(name): DAYS[number] for number, name in names[width].items()})
    daytimes = _labelled("daytime", DAYTIMES)
    for key, words in _DAYTIME_WORDS.items():
        daytimes.update({_key(w): key for w in words})
    daytimes.update({k.removesuffix("s"): v for k, v in list(daytimes.items())})
    languages = {code: code for code in LANGUAGES}
    languages.update({_key(name): code for name, code in LANGUAGE_NAMES.items()})
    for lang in i18n.LOCALES:
        languages.update(
            {_key(name): code for code, name in Locale.parse(lang).languages.items() if code in LANGUAGES}
        )
    return Labels(
        kinds={**KIND_INDEX, **_labelled("kind", KINDS)},
        statuses={**STATUS_INDEX, **_labelled("status", STATUSES)},
        genders={**GENDER_INDEX, **_labelled("gender", GENDERS)},
        channels=_labelled("channel", CHANNELS),
        days=days,
        daytimes=daytimes,
        languages=languages,
    )


def _availability(value: Any, known: Labels) -> list[str]:
    """ "Di nachmittags, Do abends", "Mo und Mi vormittags", "tue-evening": time slots."""
    slots: list[str] = []
    last_days: list[str] = []
    for part in split_list(value):
        days: list[str] = []
        times: list[str] = []
        for word in re.split(r"[\s\-]+", part):
            if not _key(word):
                continue
            if _key(word) in known.days:
                days.append(known.days[_key(word)])
            elif _key(word) in known.daytimes:
                times.append(known.daytimes[_key(word)])
            else:
                raise InvalidValue(
                    "%(value)r is not a day and time of day such as Di nachmittags", value=part
                )
        # "Di nachmittags und abends": a time of day alone belongs to the day before it.
        days = days or last_days
        last_days = days
        if days or times:
            slots += [f"{d}-{t}" for d in days or DAYS for t in times or DAYTIMES]
    return list(dict.fromkeys(slots))


# ---------------------------------------------------------------- planning rows

# Without these a row cannot become a contact; any other value that is wrong is left out.
REQUIRED = frozenset({"kinds", "full_name", "first_name", "last_name", "organisation_name"})
# Lists gain the sheet's entries; what was there stays.
_MERGED_LISTS = ("kinds", "languages", "tags", "interests", "availability", "support_kinds")
# Notes gain the sheet's text below what is there; they are never replaced.
_APPENDED = ("notes",)
MAX_NOTES = 10_000


@dataclass
class Planned:
    row: int
    action: str  # create | update | unchanged | reject
    reasons: list[Message] = field(default_factory=list)
    warnings: list[Message] = field(default_factory=list)
    name: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    programmes: list[uuid.UUID] = field(default_factory=list)
    contact_id: uuid.UUID | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "action": self.action,
            "reasons": self.reasons,
            "warnings": self.warnings,
            "name": self.name,
            "contact_id": str(self.contact_id) if self.contact_id else None,
            "changes": self.changes,
            "kept": self.kept,
        }


def _cell_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value).strip()


def _pick(index: dict[str, str], value: Any, message_id: str) -> str:
    found = index.get(_key(_cell_text(value)))
    if found is None:
        raise InvalidValue(message_id, value=_cell_text(value))
    return found


def _convert(target: str, value: Any, known: Labels) -> Any:
    """A spreadsheet cell as the API would take it; InvalidValue says what is wrong."""
    if target == "kinds":
        return [_pick(known.kinds, word, N_("unknown role %(value)r")) for word in split_list(value)]
    if target == "birth_date":
        return parse_date(value)
    if target == "gender":
        return _pick(known.genders, value, N_("unknown gender %(value)r"))
    if target == "status":
        return _pick(known.statuses, value, N_("unknown status %(value)r"))
    if target == "preferred_channel":
        return _pick(known.channels, value, N_("unknown contact channel %(value)r"))
    if target == "languages":
        codes = []
        for word in split_list(value):
            code = known.languages.get(_key(word))
            codes.append(code if code is not None else parse_language(word))
        return codes
    if target in ("tags", "interests", "support_kinds", "programmes"):
        return split_list(value)
    if target == "availability":
        return _availability(value, known)
    if target == "capacity":
        try:
            return int(float(_cell_text(value).replace(",", ".")))
        except ValueError:
            raise InvalidValue("%(value)r is not a number", value=_cell_text(value)) from None
    if target == "postal_code":
        text_value = _cell_text(value)
        # Excel drops the leading zero of Saxon and Thuringian postal codes (01067 -> 1067).
        return text_value.zfill(5) if text_value.isdigit() and len(text_value) == 4 else text_value
    if target == "phone":
        text_value = _cell_text(value)
        return (
            "0" + text_value
            if isinstance(value, int | float) and not text_value.startswith("0")
            else text_value
        )
    if target == "notes":
        return str(value).strip()
    return _cell_text(value)


class Existing(Protocol):
    """A contact as planning and writing read it (a row of ``contacts``)."""

    id: uuid.UUID
    email: str | None
    birth_date: date | None
    first_name: str
    last_name: str
    kinds: list[str]
    custom: dict[str, Any]


@dataclass
class Context:
    fields: list[CustomField]
    programmes: dict[str, uuid.UUID]
    by_email: dict[str, Existing]
    by_birth: dict[date, list[Existing]]
    labels: Labels


async def load_context(session: AsyncSession, planned_emails: set[str], births: set[date]) -> Context:
    fields = await custom_fields.list_fields(session)
    programmes = await _programmes(session)
    by_email: dict[str, Existing] = {}
    by_birth: dict[date, list[Existing]] = {}
    conditions = []
    if planned_emails:
        conditions.append(Contact.email.in_(planned_emails))
    if births:
        conditions.append(Contact.birth_date.in_(births))
    if conditions:
        # Plain rows, not ORM objects: a sheet may match thousands of contacts.
        found = await session.execute(
            select(*CONTACTS.columns).where(or_(*conditions), Contact.erased_at.is_(None))
        )
        for c in found:
            if c.email:
                by_email.setdefault(c.email, c)
            if c.birth_date:
                by_birth.setdefault(c.birth_date, []).append(c)
    return Context(fields, programmes, by_email, by_birth, labels())


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


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def merge(
    existing: Any,
    values: dict[str, Any],
    custom: dict[str, Any],
    overwrite: set[str],
    *,
    describe: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """What an update writes: (new values, changes as field/old/new, values kept from the sheet out).

    A field that is empty takes the sheet's value; one that holds something keeps it unless the
    import may overwrite that field. Lists gain the sheet's entries; notes gain its text below.
    """
    new: dict[str, Any] = {}
    kept: list[dict[str, Any]] = []
    for name, value in values.items():
        old = getattr(existing, name)
        if name in _MERGED_LISTS:
            joined = list(dict.fromkeys([*(old or []), *value]))
            if joined != list(old or []):
                new[name] = joined
        elif name in _APPENDED:
            if _empty(old):
                new[name] = value
            elif value and value not in old:
                combined = f"{old}\n\n{value}"
                if len(combined) <= MAX_NOTES:
                    new[name] = combined
                else:
                    kept.append({"field": name, "old": old, "new": value})
        elif old == value or _empty(value):
            continue
        elif name == "status" and old == PROTECTED_STATUS:
            # Lifted only by an admin, with a reason (service.protect_status), never by a sheet.
            kept.append({"field": name, "old": old, "new": value})
        elif _empty(old) or name in overwrite:
            new[name] = value
        else:
            kept.append({"field": name, "old": history.jsonable(old), "new": history.jsonable(value)})
    # The commit only writes the values; the review shows what changes.
    changes = [
        {"field": name, "old": history.jsonable(getattr(existing, name)), "new": history.jsonable(value)}
        for name, value in (new.items() if describe else ())
    ]
    current = dict(existing.custom or {})
    after = dict(current)
    for key, value in custom.items():
        old = current.get(key)
        if old == value:
            continue
        name = f"custom.{key}"
        if custom_fields.is_empty(old) or name in overwrite:
            after[key] = value
            changes.append({"field": name, "old": old, "new": value})
        else:
            kept.append({"field": name, "old": old, "new": value})
    if after != current:
        new["custom"] = after
    return new, changes, kept


# Targets whose cells are looked up in the label tables; their conversions are remembered per value.
_LOOKED_UP = frozenset({"kinds", "gender", "status", "preferred_channel", "languages", "availability"})
_MISSING = object()


def plan_rows(
    sheet: Sheet,
    mapping: dict[str, str],
    ctx: Context,
    default_kinds: list[str],
    overwrite: set[str] | frozenset[str] = frozenset(),
) -> list[Planned]:
    index = {h: i for i, h in enumerate(sheet.headers)}
    columns = [(h, index[h], t) for h, t in mapping.items() if t]
    header_of = {t: h for h, t in mapping.items() if t}
    active = {f.key: f for f in ctx.fields if f.archived_at is None}
    overwrite = set(overwrite)
    if "full_name" in overwrite:
        overwrite |= {"first_name", "last_name"}
    seen_email: dict[str, int] = {}
    seen_person: dict[date, list[tuple[str, int]]] = {}
    plans: list[Planned] = []
    position_of = {h: i for i, (h, _, _) in enumerate(columns)}
    memo: dict[tuple[str, Any], Any] = {}
    for number, cells in sheet.rows:
        plan = Planned(row=number, action="create")
        custom_values: dict[str, Any] = {}
        programme_names: list[str] = []
        pending: dict[str, tuple[str, Any]] = {}
        named: dict[str, tuple[str, Any]] = {}
        refused: list[tuple[str, str, Exception]] = []
        for header, position, target in columns:
            value = cells[position] if position < len(cells) else None
            if _blank(value):
                continue
            try:
                if target.startswith("custom."):
                    key = target.removeprefix("custom.")
                    custom_values[key] = custom_fields.coerce_value(active[key], value, lenient=True)
                    continue
                if target in _LOOKED_UP:
                    # A handful of values repeat in every row ("Mentee", "Di nachmittags").
                    found = memo.get((target, value), _MISSING)
                    if found is _MISSING:
                        try:
                            found = _convert(target, value, ctx.labels)
                        except (ValueError, TypeError, DomainError) as exc:
                            found = exc
                        memo[(target, value)] = found
                    if isinstance(found, Exception):
                        raise found
                    converted = found
                else:
                    converted = _convert(target, value, ctx.labels)
            except (ValueError, TypeError, DomainError) as exc:
                refused.append((header, target, exc))
                continue
            if target == "programmes":
                programme_names = converted
            elif target == "full_name":
                first, last = split_name(str(converted))
                named = {"first_name": (header, first), "last_name": (header, last)}
            else:
                pending[target] = (header, converted)
        for name, item in named.items():  # a first or last name column wins over a full name
            pending.setdefault(name, item)
        try:
            # The whole row at once; only a row with a wrong value is checked field by field.
            values = clean_values({t: v for t, (_, v) in pending.items()})
        except (ValueError, TypeError, DomainError):
            values = {}
            for target, (header, value) in pending.items():
                try:
                    values.update(clean_values({target: value}))
                except (ValueError, TypeError, DomainError) as exc:
                    refused.append((header, target, exc))
        for header, target, error in sorted(refused, key=lambda r: position_of[r[0]]):
            (plan.reasons if target in REQUIRED else plan.warnings).append(_refusal(error, header))
        plan.name = " ".join(str(values.get(k) or "") for k in ("first_name", "last_name")).strip() or str(
            values.get("organisation_name") or ""
        )
        for name in programme_names:
            programme_id = ctx.programmes.get(fold(name))
            if programme_id is None:
                plan.warnings.append(
                    _message(N_("unknown programme %(value)r"), header_of.get("programmes"), value=name)
                )
            else:
                plan.programmes.append(programme_id)
        if not values.get("kinds"):
            if default_kinds:
                values["kinds"] = list(default_kinds)
            elif not any(r.get("column") == header_of.get("kinds", "") for r in plan.reasons):
                plan.reasons.append(_message(N_("no role (Rolle): mentor, mentee, guardian or partner")))
        name_columns = {header_of.get(t, "") for t in REQUIRED - {"kinds"}}
        if not (
            values.get("first_name") or values.get("last_name") or values.get("organisation_name")
        ) and not any(r.get("column") in name_columns for r in plan.reasons):
            plan.reasons.append(_message(N_("no name")))
        if plan.reasons:
            plan.action = "reject"
            plans.append(plan)
            continue
        email = values.get("email")
        if email and email in seen_email:
            plan.action = "reject"
            plan.reasons.append(_message(N_("duplicate of row %(row)s (same e-mail)"), row=seen_email[email]))
            plans.append(plan)
            continue
        person = fold(f"{values.get('first_name', '')} {values.get('last_name', '')}")
        birth = values.get("birth_date")
        if birth:
            twin = next((r for n, r in seen_person.get(birth, []) if similar_names(n, person)), None)
            if twin is not None:
                plan.action = "reject"
                plan.reasons.append(
                    _message(N_("duplicate of row %(row)s (similar name, same date of birth)"), row=twin)
                )
                plans.append(plan)
                continue
        existing = ctx.by_email.get(email) if email else None
        if existing is not None:
            plan.reasons.append(_message(N_("same e-mail as an existing contact")))
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
                plan.reasons.append(
                    _message(N_("similar name and same date of birth as an existing contact"))
                )
        if existing is not None:
            new, plan.changes, plan.kept = merge(existing, values, custom_values, overwrite)
            kinds = new.get("kinds", existing.kinds)
            custom_after = new.get("custom", existing.custom)
        else:
            kinds, custom_after = values.get("kinds", []), custom_values
        try:
            # Only the check of fields required for these kinds; the values were coerced above.
            custom_fields.apply_custom(ctx.fields, dict(custom_after), {}, kinds)
        except ValidationFailed as exc:
            plan.action = "reject"
            plan.reasons = [_refusal(exc, header_of.get(exc.field or "", exc.field))]
            plans.append(plan)
            continue
        if email:
            seen_email[email] = number
        if birth:
            seen_person.setdefault(birth, []).append((person, number))
        plan.values = values
        plan.custom = custom_values
        if existing is not None:
            plan.action = "update" if plan.changes else "unchanged"
            plan.contact_id = existing.id
        plans.append(plan)
    return plans


# ---------------------------------------------------------------- the kept plan

# The dry run checks every row once; what the commit needs of each row is kept beside the file
# (Import.plan), so the worker writes it without reading, mapping and checking the sheet again.
# It is only used while the organisation's change counter (migration 0019: every transaction
# that writes contacts, programme members or custom field definitions moves it) still stands
# where the plan was made, and the programmes are the ones the rows were matched against.
_PLAN_FORMAT = 2
# The counter's topic, as migration 0019 names it (shared by everything that caches contacts).
_REVISION_TOPIC = uuid.UUID("1f9c4f5a-7d02-55b4-95cb-d553d4703f6f")
_REVISION_NOW = func.coalesce(
    select(ChangeCounter.revision).where(ChangeCounter.id == _REVISION_TOPIC).scalar_subquery(), 0
)


class Kept(msgspec.Struct, array_like=True):
    """One planned row as the commit writes it."""

    row: int
    action: str
    contact_id: uuid.UUID | None = None
    values: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    programmes: list[uuid.UUID] = []
    # A new contact's search words and sort key (service.derive), made once at the dry run.
    search_text: str = ""
    sort_name: str = ""
    terms: list[str] = []


class _KeptPlan(msgspec.Struct, array_like=True):
    format: int
    programmes: dict[str, uuid.UUID]
    rows: list[Kept]


_KEPT_DECODER = msgspec.msgpack.Decoder(_KeptPlan)


def keep(plan: Planned) -> Kept:
    if plan.action == "reject":
        return Kept(plan.row, plan.action)
    kept = Kept(plan.row, plan.action, plan.contact_id, plan.values, plan.custom, plan.programmes)
    if plan.contact_id is None:
        contact = SimpleNamespace(**{**_NEW_CONTACT, **plan.values})
        derive(contact)  # type: ignore[arg-type]
        kept.search_text, kept.sort_name = contact.search_text, contact.sort_name
        kept.terms = terms_of(contact)  # type: ignore[arg-type]
    return kept


def pack_plan(plans: Sequence[Planned], programmes: dict[str, uuid.UUID]) -> bytes:
    return msgspec.msgpack.encode(_KeptPlan(_PLAN_FORMAT, programmes, [keep(p) for p in plans]))


def unpack_plan(content: bytes, programmes: dict[str, uuid.UUID]) -> list[Kept] | None:
    """The kept rows, or None when they were planned against other programmes or another format."""
    try:
        kept = _KEPT_DECODER.decode(content)
    except msgspec.DecodeError:  # written by another version of codo
        return None
    if kept.format != _PLAN_FORMAT or kept.programmes != programmes:
        return None
    for row in kept.rows:
        # The only date among the values; msgpack keeps it as its ISO text.
        if isinstance(row.values.get("birth_date"), str):
            row.values["birth_date"] = date.fromisoformat(row.values["birth_date"])
    return kept.rows


async def _revision(session: AsyncSession) -> int:
    return int((await session.execute(select(_REVISION_NOW))).scalar_one())


async def _programmes(session: AsyncSession) -> dict[str, uuid.UUID]:
    rows = await session.execute(select(Programme.name, Programme.id))
    return {fold(name): programme_id for name, programme_id in rows}


# ---------------------------------------------------------------- dry run and API


class ColumnOut(msgspec.Struct):
    header: str
    target: str
    samples: list[str]


class ImportOut(msgspec.Struct):
    id: uuid.UUID
    status: str
    filename: str
    atomicity: str
    batch_size: int
    mapping: dict[str, str]
    # The file's columns in the file's order, with the field each fills and three sample values.
    columns: list[ColumnOut]
    # The fields whose existing values this import may replace (others are only filled in).
    overwrite: list[str]
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


ACTIONS = ("create", "update", "unchanged", "reject")
_DATE_FIELDS = ("birth_date", "waiting_since", "last_match_ended_on")


def shown(name: str, value: Any, locale: str) -> str:
    """A value as a page shows it: labels for keys, dates in the reader's locale, lists joined."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(shown(name, v, locale) for v in value)
    if isinstance(value, str) and (label := key_label(name, value, locale)) is not None:
        return label
    if name in _DATE_FIELDS and isinstance(value, str):
        with contextlib.suppress(ValueError):
            return format_date(date.fromisoformat(value), "medium", locale=i18n.language(locale))
    if isinstance(value, bool):
        return i18n.gettext(locale, "yes" if value else "no")
    return str(value)


def _row_out(r: dict[str, Any], locale: str, with_text: bool) -> dict[str, Any]:
    reasons = r.get("reasons", [])
    warnings = r.get("warnings", [])
    out = {
        "row": r["row"],
        "action": r["action"],
        "name": r["name"],
        "contact_id": r.get("contact_id"),
        "reasons": [render(m, locale) for m in reasons],
        "warnings": [render(m, locale, warning=True) for m in warnings],
        "reason_ids": [m for m in reasons if isinstance(m, dict)],
        "warning_ids": [m for m in warnings if isinstance(m, dict)],
        "changes": [c for c in r.get("changes", []) if isinstance(c, dict)],
        "kept": r.get("kept", []),
    }
    if with_text:
        for change in (*out["changes"], *out["kept"]):
            change["old_text"] = shown(change["field"], change["old"], locale)
            change["new_text"] = shown(change["field"], change["new"], locale)
    return out


def import_out(imp: Import, *, rows: str = "all", locale: str = "en", texts: bool = False) -> ImportOut:
    """The import for the API (English reasons) or, with ``locale`` and ``texts``, for a page."""
    report = imp.report
    counts = {a: sum(1 for r in report if r["action"] == a) for a in ACTIONS}
    if rows == "rejected":
        report = [r for r in report if r["action"] == "reject"]
    elif rows == "none":
        report = []
    mapping = {k: v for k, v in imp.mapping.items() if not k.startswith("__")}
    columns = [ColumnOut(c["header"], mapping.get(c["header"], ""), c["samples"]) for c in imp.columns or []]
    if not columns:  # imports from before the file's columns were kept
        columns = [ColumnOut(h, t, []) for h, t in mapping.items()]
    return ImportOut(
        id=imp.id,
        status=imp.status,
        filename=imp.filename,
        atomicity=imp.atomicity,
        batch_size=imp.batch_size,
        mapping=mapping,
        columns=columns,
        overwrite=list((imp.options or {}).get("overwrite", [])),
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
        rows=[_row_out(r, locale, texts) for r in report],
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


def check_overwrite(overwrite: Sequence[str], mapping: dict[str, str]) -> list[str]:
    """The fields an import may overwrite: mapped fields only; notes are always appended instead."""
    mapped = {t for t in mapping.values() if t}
    wanted = mapped if "all" in overwrite else set(overwrite)
    for name in wanted - mapped:
        raise ValidationFailed("%(value)r is not a field this import fills", field="overwrite", value=name)
    return sorted(wanted - set(_APPENDED) - set(_MERGED_LISTS) - {"programmes"})


def _samples(sheet: Sheet) -> list[dict[str, Any]]:
    columns: list[dict[str, Any]] = [{"header": h, "samples": []} for h in sheet.headers]
    for _, cells in sheet.rows:
        for position, value in enumerate(cells[: len(columns)]):
            samples = columns[position]["samples"]
            if len(samples) < 3 and not _blank(value):
                samples.append(_cell_text(value)[:60])
        if all(len(c["samples"]) == 3 for c in columns):
            break
    return columns


# The file is kept until the import is finished; kept as its parsed rows, the worker does not
# read the .xlsx a second time (reading is most of the cost of a large sheet).
_PARSED = b"codo-sheet:1\n"
_DATE_CELL = "\x00date:"


def _pack_cell(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return _DATE_CELL + value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return value


def _unpack_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_DATE_CELL):
        text_value = value.removeprefix(_DATE_CELL)
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(text_value)
        return text_value
    return value


def pack_sheet(sheet: Sheet) -> bytes:
    rows = [[number, [_pack_cell(v) for v in cells]] for number, cells in sheet.rows]
    return _PARSED + msgspec.msgpack.encode({"headers": sheet.headers, "rows": rows})


def _unpack_sheet(content: bytes) -> Sheet:
    data = msgspec.msgpack.decode(content[len(_PARSED) :])
    return Sheet(data["headers"], [(n, [_unpack_cell(v) for v in cells]) for n, cells in data["rows"]])


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
    batch_size: int = BATCH_SIZE,
    overwrite: Sequence[str] = (),
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
    allowed = check_overwrite(overwrite, chosen)
    emails, births = _first_pass(sheet, chosen)
    # Read before the contacts: a change in between then shows as a moved counter.
    revision = await _revision(session)
    ctx = await load_context(session, emails, births)
    plans = plan_rows(sheet, chosen, ctx, kinds, set(allowed))
    if save_mapping_as:
        await save_mapping(session, org_id, save_mapping_as, chosen)
    imp = Import(
        organization_id=org_id,
        status="dry_run",
        filename=filename.replace("\x00", "")[:300],
        content=await asyncio.to_thread(pack_sheet, sheet),
        plan=pack_plan(plans, ctx.programmes),
        plan_revision=revision,
        mapping={**chosen, "__default_kinds__": ",".join(kinds)} if kinds else chosen,
        columns=_samples(sheet),
        options={"overwrite": allowed},
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


async def replan(
    session: AsyncSession,
    import_id: uuid.UUID,
    mapping: dict[str, str],
    overwrite: Sequence[str] | None = None,
) -> Import:
    """Run the dry run again on the kept file with a changed mapping or overwrite choice."""
    imp = await get_import(session, import_id, for_update=True)
    if imp.status != "dry_run" or imp.content is None:
        raise Conflict("only a dry run can be checked again", field="status")
    sheet = await asyncio.to_thread(read_sheet, imp.content, imp.filename)
    fields = await custom_fields.list_fields(session)
    previous = dict(imp.mapping)
    kinds = [k for k in previous.pop("__default_kinds__", "").split(",") if k]
    chosen = check_mapping({**previous, **mapping}, sheet.headers, fields)
    if overwrite is None:
        # A changed mapping keeps the choices for the fields it still fills.
        overwrite = [f for f in (imp.options or {}).get("overwrite", []) if f in set(chosen.values())]
    allowed = check_overwrite(overwrite, chosen)
    emails, births = _first_pass(sheet, chosen)
    revision = await _revision(session)
    ctx = await load_context(session, emails, births)
    plans = plan_rows(sheet, chosen, ctx, kinds, set(allowed))
    imp.plan = pack_plan(plans, ctx.programmes)
    imp.plan_revision = revision
    imp.mapping = {**chosen, "__default_kinds__": ",".join(kinds)} if kinds else chosen
    imp.options = {**(imp.options or {}), "overwrite": allowed}
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


def error_report(imp: Import, locale: str = "de") -> str:
    """The rejected rows and the warnings, with their reasons in ``locale``, as CSV.

    Semicolon-separated, as German Excel opens it.
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    # The review page's own column names and results (its catalogue has them).
    say = i18n.translator(locale, "contacts")
    writer.writerow([say("Row"), say("Name"), say("Result"), say("Why")])
    for r in imp.report:
        if r["action"] == "reject":
            reasons = [render(m, locale) for m in r["reasons"]]
        elif r.get("warnings"):
            reasons = [render(m, locale, warning=True) for m in r["warnings"]]
        else:
            continue
        writer.writerow(csv_row([r["row"], r["name"], say(f"action:{r['action']}"), " | ".join(reasons)]))
    return "\ufeff" + out.getvalue()


# ---------------------------------------------------------------- commit (worker)

BatchHook = Callable[[int], Awaitable[None]]

CONTACTS = cast(Table, Contact.__table__)
# Every column a new contact is written with, and the value of one the sheet leaves empty.
_NEW_CONTACT: dict[str, Any] = {
    "organization_id": None, "id": None, "kinds": [], "first_name": "", "last_name": "",
    "preferred_name": None, "organisation_name": None, "birth_date": None, "age_group": None,
    "gender": None, "languages": [], "postal_code": None, "city": None, "phone": None, "email": None,
    "preferred_channel": None, "status": "interested", "tags": [], "interests": [], "availability": [],
    "capacity": 1, "support_kinds": [], "notes": None, "waiting_since": None, "custom": {},
    "search_text": "", "sort_name": "",
}  # fmt: skip
# The fields a new contact's history entry names (those that are filled).
_CREATED_FIELDS = tuple(k for k in HISTORY_FIELDS if k in _NEW_CONTACT)
_EMPTY_VALUES: tuple[Any, ...] = ("", [], {})
# What an update may write (the row is read and locked first, so the rest is written back as it was).
_UPDATED = (*PROFILE_FIELDS, "custom", "search_text", "sort_name", "status_changed_at", "updated_at")
_IMPORT_ROW = ("organization_id", "id", "import_id", "row_number", "action", "contact_id", "before")
_HISTORY = ("organization_id", "id", "actor_kind", "actor_user_id", "actor_membership_id", "actor_token_id",
            "actor", "reason", "entity", "entity_id", "action", "contact_ids", "changes")  # fmt: skip


def _snapshot(c: Any) -> dict[str, Any]:
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
        found = (
            await session.execute(
                select(
                    Import.status, Import.filename, Import.mapping, Import.options, Import.atomicity,
                    Import.batch_size, Import.created_by, Import.plan, Import.plan_revision,
                    Import.content.is_not(None).label("has_file"),
                ).where(Import.id == import_id)
            )
        ).one()  # fmt: skip
        if found.status != "running" or not found.has_file:
            return str(found.status)
        overwrite = set((found.options or {}).get("overwrite", []))
        plans: list[Kept] | None = None
        if found.plan is not None and found.plan_revision == await _revision(session):
            programmes = await _programmes(session)
            with _collector_paused():
                plans = unpack_plan(found.plan, programmes)
        # Planned again only when something the kept plan depends on has changed since.
        report: list[dict[str, Any]] | None = None
        if plans is None:
            content = (
                await session.execute(select(Import.content).where(Import.id == import_id))
            ).scalar_one()
            if content is None:
                return str(found.status)
            sheet = await asyncio.to_thread(read_sheet, content, found.filename)
            mapping = dict(found.mapping)
            kinds = [k for k in mapping.pop("__default_kinds__", "").split(",") if k]
            emails, births = _first_pass(sheet, mapping)
            ctx = await load_context(session, emails, births)
            planned = plan_rows(sheet, mapping, ctx, kinds, overwrite)
            report = [p.report() for p in planned]
            plans = [keep(p) for p in planned]
        batch_size = found.batch_size if found.atomicity == "batch" else max(len(plans), 1)
        importer = Actor(role=Role.COORDINATOR, label=found.created_by, reason=f"import {found.filename}")
    who = {
        "organization_id": org_id, "actor_kind": importer.kind.value, "actor_user_id": importer.user_id,
        "actor_membership_id": importer.membership_id, "actor_token_id": importer.token_id,
        "actor": (importer.label or importer.role.value)[:320], "reason": importer.reason[:200],
        "entity": "contact",
    }  # fmt: skip

    def created(start_at: int) -> tuple[int, asyncio.Future[_Part]]:
        batch = plans[start_at : start_at + batch_size]
        return start_at, asyncio.ensure_future(
            asyncio.to_thread(_created_part, org_id, import_id, batch, who)
        )

    # The next batch's new contacts are built while the database writes this one; each batch is
    # still written in its own transaction, with its progress, after the one before it.
    ahead: tuple[int, asyncio.Future[_Part]] | None = None
    # Whether the kept plan is still what a new dry run would find; a resumed run may then use it.
    fresh = report is None
    try:
        while True:
            with _collector_paused():
                outcome, ahead, fresh = await _commit_batch(
                    db, org_id, import_id, plans, batch_size, overwrite, who, report, fresh, ahead, created,
                    before_commit,
                )  # fmt: skip
            if outcome is not None:
                return outcome
    finally:
        if ahead is not None:
            ahead[1].cancel()


async def _commit_batch(
    db: Database,
    org_id: uuid.UUID,
    import_id: uuid.UUID,
    plans: list[Kept],
    batch_size: int,
    overwrite: set[str],
    who: dict[str, Any],
    report: list[dict[str, Any]] | None,
    fresh: bool,
    ahead: tuple[int, asyncio.Future[_Part]] | None,
    created: Callable[[int], tuple[int, asyncio.Future[_Part]]],
    before_commit: BatchHook | None,
) -> tuple[str | None, tuple[int, asyncio.Future[_Part]] | None, bool]:
    """One transaction: the next batch and its progress, or the end of the import.

    The outcome (None while batches remain), the next batch's new contacts in the making, and
    whether the kept plan is still fresh.
    """
    async with db.tenant(org_id) as session:
        # Lock the import's row (only the columns needed: the report and file are large), so two
        # workers running the same import take turns and each batch is read after the last one.
        state = (
            await session.execute(
                select(
                    Import.status,
                    Import.processed_rows,
                    Import.plan_revision,
                    _REVISION_NOW.label("revision"),
                )
                .where(Import.id == import_id)
                .with_for_update(of=Import)
            )
        ).one()
        if state.status != "running":
            return str(state.status), ahead, fresh
        start_at = state.processed_rows
        if start_at >= len(plans):
            done: dict[str, Any] = {
                "status": "done",
                "finished_at": datetime.now(UTC),
                "total_rows": len(plans),
                # The file and the plan hold personal data: keep them no longer than needed.
                "content": None,
                "plan": None,
                "plan_revision": None,
            }
            if report is not None:
                done["report"] = report
            await session.execute(update(Import).where(Import.id == import_id).values(**done))
            return "done", ahead, fresh
        fresh = fresh and state.revision == state.plan_revision
        batch = plans[start_at : start_at + batch_size]
        # Built ahead only if this is the batch it was built for (another worker may have gone on).
        this = ahead if ahead is not None and ahead[0] == start_at else created(start_at)
        # Someone may have changed these contacts since the plan: the update is merged into them
        # as they are now, under a lock.
        existing = await _lock_contacts(
            session,
            org_id,
            [p.contact_id for p in batch if p.contact_id is not None and p.action != "reject"],
        )
        part = _combined(await this[1], _updated_part(org_id, import_id, batch, existing, overwrite, who))
        following = start_at + len(batch)
        # Started now, so that it runs while the database writes this batch.
        ahead = created(following) if following < len(plans) else None
        bumped = await _write(session, org_id, part)
        counts = part.counts
        # This batch's own writes move the counter by one; anything more was someone else, and
        # a resumed run then plans again.
        expected = state.revision + int(bumped)
        await session.execute(
            update(Import)
            .where(Import.id == import_id)
            .values(
                processed_rows=following,
                created_count=Import.created_count + counts["create"],
                updated_count=Import.updated_count + counts["update"],
                rejected_count=Import.rejected_count + counts["reject"],
                heartbeat_at=datetime.now(UTC),
                plan_revision=case((_REVISION_NOW == expected, expected)) if fresh else None,  # noqa: SIM300
            )
        )
        if before_commit is not None:
            await before_commit(following)
    return None, ahead, fresh


async def _delete_by_contact(
    session: AsyncSession, table: str, org_id: uuid.UUID, contact_ids: list[uuid.UUID], column: str
) -> None:
    # As a join with the list, each id is one index lookup: "= ANY(list)" stays a filter under
    # row-level security, and the database would read every row of the organisation instead.
    if contact_ids:
        await session.execute(
            text(
                f"DELETE FROM {table} t USING unnest(CAST(:ids AS uuid[])) AS u(id) "  # noqa: S608
                f"WHERE t.organization_id = :org AND t.{column} = u.id"
            ),
            {"ids": contact_ids, "org": org_id},
        )


async def _delete_terms(session: AsyncSession, org_id: uuid.UUID, contact_ids: list[uuid.UUID]) -> None:
    await _delete_by_contact(session, "contact_search_terms", org_id, contact_ids, "contact_id")


def _row_id() -> str:
    # A UUIDv7 as new_id() makes it, as the text the JSON of a batch holds anyway (thousands per batch).
    return str(uuid_utils.uuid7())


@dataclass
class _Terms:
    """The search terms of a batch as three parallel arrays: ten-odd per contact, so no row objects."""

    ids: list[str] = field(default_factory=list)
    contact_ids: list[uuid.UUID] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)

    def add(self, contact: Any, found: list[str] | None = None) -> None:
        if found is None:
            found = terms_of(contact)
        self.ids += [_row_id() for _ in found]
        self.contact_ids += [contact.id] * len(found)
        self.terms += found


def _new_contact(org_id: uuid.UUID, plan: Kept, today: date) -> dict[str, Any]:
    row = {
        **_NEW_CONTACT, **plan.values, "organization_id": org_id, "id": new_id(), "custom": plan.custom,
        "search_text": plan.search_text, "sort_name": plan.sort_name,
    }  # fmt: skip
    if row["status"] == "ready" and "mentee" in row["kinds"] and not row["waiting_since"]:
        row["waiting_since"] = today
    return row


# The contacts a batch updates, read and locked as they are now. A join with the list of ids is
# one index lookup per id under row-level security; custom values come as their JSON text.
_LOCK_CONTACTS = text(
    f"SELECT {', '.join('c.' + c.name for c in CONTACTS.columns if c.name != 'custom')}, "  # noqa: S608
    "c.custom::text AS custom_json "
    "FROM contacts c JOIN unnest(CAST(:ids AS uuid[])) AS u(id) ON c.id = u.id "
    "WHERE c.organization_id = :org AND c.erased_at IS NULL FOR UPDATE OF c"
)
_JSON = msgspec.json.Decoder()


async def _lock_contacts(
    session: AsyncSession, org_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, SimpleNamespace]:
    if not ids:
        return {}
    found = await session.execute(_LOCK_CONTACTS, {"ids": ids, "org": org_id})
    out = {}
    for r in found.mappings():
        row = dict(r)
        row["custom"] = _JSON.decode(row.pop("custom_json"))
        out[row["id"]] = SimpleNamespace(**row)
    return out


async def _add_memberships(
    session: AsyncSession, org_id: uuid.UUID, pairs: list[tuple[uuid.UUID, uuid.UUID]]
) -> bool:
    """Add the programme memberships a contact does not have yet; whether any was written."""
    if not pairs:
        return False
    wanted = list(dict.fromkeys(pairs))
    await session.execute(
        text(
            "INSERT INTO contact_programme_members (organization_id, id, contact_id, programme_id) "
            "SELECT :org, w.id, w.contact_id, w.programme_id "
            "FROM unnest(CAST(:ids AS uuid[]), CAST(:contacts AS uuid[]), CAST(:programmes AS uuid[])) "
            "AS w(id, contact_id, programme_id) "
            "WHERE NOT EXISTS (SELECT 1 FROM contact_programme_members m WHERE m.organization_id = :org "
            "AND m.contact_id = w.contact_id AND m.programme_id = w.programme_id)"
        ),
        {
            "org": org_id,
            "ids": [new_id() for _ in wanted],
            "contacts": [c for c, _ in wanted],
            "programmes": [p for _, p in wanted],
        },
    )
    return True


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is built and written.

    A batch makes a few hundred thousand small objects that all live until it is written; the
    collector would walk them and everything else again and again, about a third of the
    commit's own CPU time in the benchmark. It is switched on again only after the batch has
    been written and its rows dropped, so the first collection afterwards does not walk them
    either (a fifth of the commit's CPU when it came right after building). Reference counting
    still frees what is dropped.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_EMPTY_JSON = "[]"


@dataclass
class _Part:
    """What some rows of a batch write, table by table, the row lists already as JSON text."""

    counts: dict[str, int] = field(default_factory=lambda: {"create": 0, "update": 0, "reject": 0})
    new_contacts: str = _EMPTY_JSON
    updated_contacts: str = _EMPTY_JSON
    import_rows: str = _EMPTY_JSON
    history: str = _EMPTY_JSON
    terms: _Terms = field(default_factory=_Terms)
    # Contacts whose old terms go (their new ones are in terms).
    retermed: list[uuid.UUID] = field(default_factory=list)
    memberships: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)


def _joined(a: str, b: str) -> str:
    """Two JSON arrays as one (msgspec writes them without spaces: "[...]")."""
    if a == _EMPTY_JSON:
        return b
    if b == _EMPTY_JSON:
        return a
    return a[:-1] + "," + b[1:]


def _combined(a: _Part, b: _Part) -> _Part:
    terms = _Terms(
        a.terms.ids + b.terms.ids, a.terms.contact_ids + b.terms.contact_ids, a.terms.terms + b.terms.terms
    )
    return _Part(
        {k: a.counts[k] + b.counts[k] for k in a.counts},
        _joined(a.new_contacts, b.new_contacts),
        _joined(a.updated_contacts, b.updated_contacts),
        _joined(a.import_rows, b.import_rows),
        _joined(a.history, b.history),
        terms,
        a.retermed + b.retermed,
        a.memberships + b.memberships,
    )


def _created_part(org_id: uuid.UUID, import_id: uuid.UUID, batch: list[Kept], who: dict[str, Any]) -> _Part:
    """The new contacts and rejections of a batch: needs nothing from the database, so it is
    built while the database still writes the batch before it (in a thread). The collector is
    left as the batch being written has it (paused): a thread switching it on and off beside
    that batch would switch it on in the middle of it."""
    part = _Part()
    new_rows: list[dict[str, Any]] = []
    import_rows: list[dict[str, Any]] = []
    history_rows: list[dict[str, Any]] = []
    today = clock.today()
    for plan in batch:
        if plan.action == "reject":
            part.counts["reject"] += 1
            continue
        if plan.contact_id is not None:
            continue
        row = _new_contact(org_id, plan, today)
        new_rows.append(row)
        # As history.created() has it: each filled field from nothing to its value (the JSON
        # encoder writes dates and ids as history.jsonable() would).
        made = {k: [None, v] for k in _CREATED_FIELDS if (v := row[k]) is not None and v not in _EMPTY_VALUES}
        history_rows.append(
            {**who, "id": _row_id(), "entity_id": row["id"], "action": "created",
             "contact_ids": [row["id"]], "changes": made}
        )  # fmt: skip
        part.terms.add(SimpleNamespace(id=row["id"]), plan.terms)
        import_rows.append(
            {"organization_id": org_id, "id": _row_id(), "import_id": import_id, "row_number": plan.row,
             "action": "created", "contact_id": row["id"], "before": None}
        )  # fmt: skip
        part.counts["create"] += 1
        part.memberships += [(row["id"], programme_id) for programme_id in plan.programmes]
    part.new_contacts = bulk.payload(new_rows)
    part.import_rows = bulk.payload(import_rows)
    part.history = bulk.payload(history_rows)
    return part


def _updated_part(
    org_id: uuid.UUID,
    import_id: uuid.UUID,
    batch: list[Kept],
    existing: dict[uuid.UUID, SimpleNamespace],
    overwrite: set[str],
    who: dict[str, Any],
) -> _Part:
    """The updates of a batch, merged into the contacts as they are now (read under a lock)."""
    part = _Part()
    updated_rows: list[dict[str, Any]] = []
    import_rows: list[dict[str, Any]] = []
    history_rows: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    today = now.date()
    for plan in batch:
        if plan.action == "reject" or plan.contact_id is None:
            continue
        current = existing.get(plan.contact_id)
        if current is None:
            continue
        new, _, _ = merge(current, plan.values, plan.custom, overwrite, describe=False)
        if not new:
            continue
        after = {**{name: getattr(current, name) for name in _UPDATED}, **new}
        if new.get("status", current.status) != current.status:
            after["status_changed_at"] = now
            if after["status"] == "ready" and "mentee" in after["kinds"] and not after["waiting_since"]:
                after["waiting_since"] = today
        after.update(organization_id=org_id, id=current.id, updated_at=now)
        contact = SimpleNamespace(**{**vars(current), **after})
        derive(contact)  # type: ignore[arg-type]
        after["search_text"], after["sort_name"] = contact.search_text, contact.sort_name
        updated_rows.append(after)
        if terms_of(contact) != terms_of(current):  # type: ignore[arg-type]
            part.retermed.append(current.id)
            part.terms.add(contact)
        # Only the fields this update writes can differ (the whole record would be the same diff).
        touched = [n for n in HISTORY_FIELDS if n in after and after[n] != getattr(current, n)]
        changes = history.diff(history.snapshot(current, touched), history.snapshot(contact, touched))
        if changes:
            history_rows.append(
                {**who, "id": _row_id(), "entity_id": current.id, "action": "changed",
                 "contact_ids": [current.id], "changes": changes}
            )  # fmt: skip
        import_rows.append(
            {"organization_id": org_id, "id": _row_id(), "import_id": import_id, "row_number": plan.row,
             "action": "updated", "contact_id": current.id, "before": _snapshot(current)}
        )  # fmt: skip
        part.counts["update"] += 1
        part.memberships += [(current.id, programme_id) for programme_id in plan.programmes]
    part.updated_contacts = bulk.payload(updated_rows)
    part.import_rows = bulk.payload(import_rows)
    part.history = bulk.payload(history_rows)
    return part


_TERMS_DELETE = (
    "DELETE FROM contact_search_terms t USING unnest(CAST(:retermed AS uuid[])) AS u(id) "
    "WHERE t.organization_id = CAST(:org AS uuid) AND t.contact_id = u.id"
)
_TERMS_INSERT = (
    "INSERT INTO contact_search_terms (organization_id, id, contact_id, term) "
    "SELECT CAST(:org AS uuid), unnest(CAST(:term_ids AS uuid[])), unnest(CAST(:term_contacts AS uuid[])), "
    "unnest(CAST(:terms AS text[]))"
)


async def _write(session: AsyncSession, org_id: uuid.UUID, part: _Part) -> bool:
    """Everything a batch writes in one statement (one round trip), whatever the number of rows.

    Each table is one part of a WITH; they all see the database as it was before the statement,
    which is all they need: the old terms deleted are not the ones inserted beside them, and
    the foreign keys are checked at the end of the statement. Whether anything was written that
    moves the organisation's change counter (contacts, programme members).
    """
    parts: list[str] = []
    params: dict[str, Any] = {"org": org_id}
    if part.new_contacts != _EMPTY_JSON:
        parts.append(bulk.insert_sql(CONTACTS, list(_NEW_CONTACT), "new_contacts"))
        params["new_contacts"] = part.new_contacts
    if part.updated_contacts != _EMPTY_JSON:
        parts.append(bulk.update_sql(CONTACTS, _UPDATED, "updated_contacts"))
        params["updated_contacts"] = part.updated_contacts
    if part.retermed:
        parts.append(_TERMS_DELETE)
        params["retermed"] = part.retermed
    if part.terms.terms:
        parts.append(_TERMS_INSERT)
        params.update(term_ids=part.terms.ids, term_contacts=part.terms.contact_ids, terms=part.terms.terms)
    if part.import_rows != _EMPTY_JSON:
        parts.append(bulk.insert_sql(cast(Table, ImportRow.__table__), _IMPORT_ROW, "import_rows"))
        params["import_rows"] = part.import_rows
    if part.history != _EMPTY_JSON:
        parts.append(bulk.insert_sql(cast(Table, HistoryEntry.__table__), _HISTORY, "history"))
        params["history"] = part.history
    if parts:
        statement = "WITH " + ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(parts)) + " SELECT 1"
        await session.execute(text(statement), params)
    # Apart, as it reads which memberships exist (programme columns are rare in a sheet).
    wrote_members = await _add_memberships(session, org_id, part.memberships)
    return bool(part.new_contacts != _EMPTY_JSON or part.updated_contacts != _EMPTY_JSON or wrote_members)


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
        await session.execute(
            select(ImportRow.action, ImportRow.contact_id, ImportRow.before)
            .where(ImportRow.import_id == import_id)
            .order_by(ImportRow.row_number.desc())
        )
    ).all()
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
    for start_at in range(0, len(created), 5000):
        chunk = created[start_at : start_at + 5000]
        await _delete_terms(session, imp.organization_id, chunk)
        await _delete_by_contact(session, "contacts", imp.organization_id, chunk, "id")
    await session.execute(delete(ImportRow).where(ImportRow.import_id == import_id))
    imp.status = "undone"
    imp.undone_at = datetime.now(UTC)
    imp.content = None
    imp.plan = None
    imp.plan_revision = None
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
