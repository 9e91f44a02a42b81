"""Exporting a filtered list of contacts to CSV or XLSX with the chosen columns.

Small lists are built in the request; large ones by the worker, with the file kept in the
database until downloaded (an erasure removes stored files, as they may hold that person).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import msgspec
from openpyxl import Workbook  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import history, i18n, queue
from shared.contacts import fields as custom_fields
from shared.contacts.models import Contact, Export, Programme, ProgrammeMembership
from shared.contacts.service import SORTS, ContactQuery, contact_name, count_contacts, filtered_select
from shared.contacts.vocab import key_label
from shared.errors import NotFound, ValidationFailed
from shared.i18n import N_
from shared.limits import Items, Text
from shared.spreadsheets import csv_row, xlsx_row

INLINE_LIMIT = 2000
# The header row, in the language of the member who asked (German unless the API asks otherwise).
COLUMNS: dict[str, str] = {
    "id": N_("ID"),
    "display_name": N_("Name"),
    "first_name": N_("First name"),
    "last_name": N_("Last name"),
    "preferred_name": N_("Preferred name"),
    "organisation_name": N_("Organisation"),
    "kinds": N_("Role"),
    "status": N_("Status"),
    "birth_date": N_("Date of birth"),
    "age_group": N_("Age group"),
    "gender": N_("Gender"),
    "languages": N_("Languages"),
    "email": N_("E-mail"),
    "phone": N_("Phone"),
    "postal_code": N_("Postal code"),
    "city": N_("City"),
    "preferred_channel": N_("Preferred channel"),
    "tags": N_("Tags"),
    "interests": N_("Interests"),
    "availability": N_("Availability"),
    "capacity": N_("Capacity"),
    "support_kinds": N_("Support"),
    "waiting_since": N_("Waiting since"),
    "programmes": N_("Programmes"),
    "created_at": N_("Created"),
}
DEFAULT_COLUMNS = ["last_name", "first_name", "kinds", "status", "email", "phone", "postal_code", "tags"]


class ExportIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    format: Text = "csv"
    # The language of the header row, of yes/no and of every label ("de" or "en"); German unless given.
    locale: Text | None = None
    columns: Items[Text] = []
    q: Text | None = None
    kind: Text | None = None
    status: Text | None = None
    programme: uuid.UUID | None = None
    tag: Text | None = None
    owner: uuid.UUID | None = None
    field: Items[Text] = []
    missing_consent: bool | None = None
    sort: Text = "name"


class ExportOut(msgspec.Struct):
    id: uuid.UUID
    status: str
    format: str
    columns: list[str]
    row_count: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    download: str | None


def export_out(e: Export, base_url: str = "") -> ExportOut:
    download = f"{base_url}/{e.id}/download" if e.status == "done" else None
    return ExportOut(
        e.id, e.status, e.format, list(e.columns), e.row_count, e.error, e.created_at, e.finished_at, download
    )


def _query(data: ExportIn | dict[str, Any]) -> ContactQuery:
    raw = msgspec.to_builtins(data) if isinstance(data, ExportIn) else data
    return msgspec.convert(
        {k: v for k, v in raw.items() if k in ContactQuery.__struct_fields__}, ContactQuery
    )


async def create_export(session: AsyncSession, org_id: uuid.UUID, data: ExportIn, created_by: str) -> Export:
    if data.format not in ("csv", "xlsx"):
        raise ValidationFailed("format is csv or xlsx", field="format")
    if data.sort not in SORTS:
        raise ValidationFailed("sort by one of %(sorts)s", field="sort", sorts=", ".join(SORTS))
    known = {f"custom.{f.key}" for f in await custom_fields.list_fields(session)}
    columns = data.columns or DEFAULT_COLUMNS
    for column in columns:
        if column not in COLUMNS and column not in known:
            raise ValidationFailed("unknown column %(column)r", field="columns", column=column)
    query = _query(data)
    await filtered_select(session, query)  # validates the filters now, not in the worker
    export = Export(
        organization_id=org_id,
        status="pending",
        format=data.format,
        # The language rides along with the filters: the worker may write the file later.
        query={**msgspec.to_builtins(query), "locale": i18n.language(data.locale)},
        columns=list(dict.fromkeys(columns)),
        created_by=created_by,
    )
    session.add(export)
    await session.flush()
    await session.refresh(export)
    export.row_count = await count_contacts(session, query)
    if export.row_count > INLINE_LIMIT:
        # Large lists are written by the worker; the caller builds smaller ones inline.
        queue.after_commit(session, queue.CONTACTS_RUN_EXPORT, str(org_id), str(export.id))
    await history.record(
        session,
        "contact_list",
        export.id,
        "exported",
        details={
            "format": data.format,
            "rows": export.row_count,
            "filters": msgspec.to_builtins(query),
            "columns": columns,
        },
    )
    return export


async def get_export(session: AsyncSession, export_id: uuid.UUID) -> Export:
    export = (await session.execute(select(Export).where(Export.id == export_id))).scalar_one_or_none()
    if export is None:
        raise NotFound("no such export")
    return export


def _cell(value: Any, lang: str) -> Any:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, bool):
        return i18n.gettext(lang, N_("yes") if value else N_("no"), domain="contacts")
    return value


def _words(column: str, value: Any, lang: str, options: dict[str, dict[str, str]]) -> Any:
    """A stored key (or a list of them) by its label in the export's language, as the pages show
    it and as codo's import takes it back."""
    if isinstance(value, list):
        return [_words(column, v, lang, options) for v in value]
    if not isinstance(value, str) or value == "":
        return value
    if column in options:
        return options[column].get(value, value)
    label = key_label(column, value, lang)
    return value if label is None else label


async def _choices(session: AsyncSession, lang: str) -> dict[str, dict[str, str]]:
    """The option labels of each choice field, by its export column."""
    return {
        f"custom.{f.key}": {
            o["value"]: (o.get("label_en", "") if lang == "en" else "") or o.get("label_de", o["value"])
            for o in f.options
        }
        for f in await custom_fields.list_fields(session, include_archived=True)
        if f.options
    }


async def _rows(session: AsyncSession, export: Export) -> Iterator[list[Any]]:
    query = _query(export.query)
    stmt = await filtered_select(session, query)
    column, descending = SORTS[query.sort]
    order = getattr(Contact, column)
    stmt = stmt.order_by(order.desc() if descending else order, Contact.id)
    programmes: dict[uuid.UUID, list[str]] = {}
    if "programmes" in export.columns:
        pairs = await session.execute(
            select(ProgrammeMembership.contact_id, Programme.name).join(
                Programme, Programme.id == ProgrammeMembership.programme_id
            )
        )
        for contact_id, name in pairs:
            programmes.setdefault(contact_id, []).append(name)
    lang = i18n.language(export.query.get("locale"))
    options = await _choices(session, lang)
    out: list[list[Any]] = []
    for contact in (await session.execute(stmt)).scalars():
        row = []
        for col in export.columns:
            if col == "display_name":
                row.append(contact_name(contact))
            elif col == "programmes":
                row.append(", ".join(sorted(programmes.get(contact.id, []))))
            elif col.startswith("custom."):
                value = contact.custom.get(col.removeprefix("custom."))
                row.append(_cell(_words(col, value, lang, options), lang))
            else:
                row.append(_cell(_words(col, getattr(contact, col), lang, options), lang))
        out.append(row)
    return iter(out)


async def build(session: AsyncSession, export_id: uuid.UUID) -> Export:
    """Write the file. Idempotent: a finished export is left as it is."""
    export = await get_export(session, export_id)
    if export.status in ("done", "expired"):
        return export
    lang = i18n.language(export.query.get("locale"))
    labels = {
        f"custom.{f.key}": (f.label_en if lang == "en" else "") or f.label_de
        for f in await custom_fields.list_fields(session, include_archived=True)
    }
    header = [
        i18n.gettext(lang, COLUMNS[c], domain="contacts") if c in COLUMNS else labels.get(c, c)
        for c in export.columns
    ]
    rows = list(await _rows(session, export))
    if export.format == "csv":
        text = io.StringIO()
        writer = csv.writer(text, delimiter=";")
        writer.writerow(csv_row(header))
        for row in rows:
            writer.writerow(csv_row(v.isoformat() if isinstance(v, date | datetime) else v for v in row))
        export.content = ("\ufeff" + text.getvalue()).encode("utf-8")
    else:
        book = Workbook(write_only=True)
        sheet = book.create_sheet(i18n.gettext(lang, N_("Contacts"), domain="contacts"))
        sheet.append(xlsx_row(sheet, header))
        for row in rows:
            sheet.append(xlsx_row(sheet, row))
        buffer = io.BytesIO()
        book.save(buffer)
        export.content = buffer.getvalue()
    export.row_count = len(rows)
    export.status = "done"
    export.finished_at = datetime.now(UTC)
    await session.flush()
    return export


def filename(export: Export) -> str:
    name = i18n.gettext(i18n.language(export.query.get("locale")), N_("contacts"), domain="contacts")
    return f"{name}-{export.created_at:%Y-%m-%d}.{export.format}"


MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
