"""Custom fields an organisation defines for its contacts, and validating values against them.

The same machinery keeps the fields of matches (``shared.matching.models.MatchField``): every
function takes the field ``model``; for matches, ``required_for`` may only name "match".
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

import msgspec
from sqlalchemy import Text as SqlText
from sqlalchemy import Uuid, bindparam, cast, select
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession

from shared import history
from shared.contacts.models import CustomField, FieldDefinition
from shared.contacts.vocab import KINDS
from shared.db import current_org, driver_connection
from shared.errors import Conflict, InvalidValue, NotFound, ValidationFailed
from shared.limits import Int4, Items, Text

FIELD_TYPES = ("text", "number", "date", "choice", "multi_choice", "boolean")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
MAX_TEXT = 2000


class FieldOption(msgspec.Struct, forbid_unknown_fields=True):
    value: Text
    label_de: Text
    label_en: Text = ""


class FieldIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    key: Text
    label_de: Text
    label_en: Text
    type: Text
    options: Items[FieldOption] = []
    required_for: Items[Text] = []
    position: Int4 = 0


class FieldPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    label_de: Text | None = None
    label_en: Text | None = None
    options: Items[FieldOption] | None = None
    required_for: Items[Text] | None = None
    position: Int4 | None = None


class FieldOut(msgspec.Struct):
    id: uuid.UUID
    key: str
    label_de: str
    label_en: str
    type: str
    options: list[FieldOption]
    required_for: list[str]
    position: int
    archived: bool
    created_at: datetime


def field_out(f: FieldDefinition) -> FieldOut:
    return FieldOut(
        id=f.id,  # type: ignore[attr-defined]
        key=f.key,
        label_de=f.label_de,
        label_en=f.label_en,
        type=f.type,
        options=[FieldOption(**o) for o in f.options],
        required_for=list(f.required_for),
        position=f.position,
        archived=f.archived_at is not None,
        created_at=f.created_at,
    )


def _check_definition(
    label_de: str,
    label_en: str,
    options: list[FieldOption],
    required: list[str],
    kinds: tuple[str, ...] = KINDS,
) -> None:
    if not label_de.strip() or len(label_de) > 200:
        raise ValidationFailed("a German label of 1 to 200 characters is needed", field="label_de")
    if not label_en.strip() or len(label_en) > 200:
        raise ValidationFailed("an English label of 1 to 200 characters is needed", field="label_en")
    values = [o.value for o in options]
    if len(set(values)) != len(values) or any(not v.strip() for v in values):
        raise ValidationFailed("option values must be non-empty and distinct", field="options")
    for kind in required:
        if kind not in kinds:
            raise ValidationFailed(
                "unknown kind %(kind)r; one of %(kinds)s",
                field="required_for",
                kind=kind,
                kinds=", ".join(kinds),
            )


MATCH_KINDS = ("match",)


def _kinds(model: type[Any]) -> tuple[str, ...]:
    return KINDS if model is CustomField else MATCH_KINDS


async def list_fields(
    session: AsyncSession, *, include_archived: bool = False, model: type[Any] = CustomField
) -> list[Any]:
    query = select(model).order_by(model.position, model.key)
    if not include_archived:
        query = query.where(model.archived_at.is_(None))
    return list((await session.execute(query)).scalars())


class Definition(msgspec.Struct, frozen=True):
    """A field's definition as values are checked against it: read by the driver, no ORM object."""

    key: str
    label_de: str
    label_en: str
    type: str
    options: list[dict[str, str]]
    required_for: list[str]
    position: int
    archived_at: datetime | None = None


_DEFINITIONS: dict[str, str] = {}


async def active_definitions(session: AsyncSession, *, model: type[Any] = CustomField) -> list[Definition]:
    """The fields that are not archived, as :func:`list_fields` orders them, for checking values.

    Every change of a contact checks its custom values against them; loading them as ORM objects
    cost more than the rest of the change's reads together.
    """
    table = model.__tablename__
    sql = _DEFINITIONS.get(table)
    if sql is None:
        query = (
            select(
                model.key,
                model.label_de,
                model.label_en,
                model.type,
                cast(model.options, SqlText),
                model.required_for,
                model.position,
            )
            .where(model.organization_id == bindparam("org", type_=Uuid()), model.archived_at.is_(None))
            .order_by(model.position, model.key)
        )
        sql = _DEFINITIONS[table] = str(query.compile(dialect=asyncpg_dialect.dialect()))  # type: ignore[no-untyped-call]
    rows = await (await driver_connection(session)).fetch(sql, current_org(session))
    return [
        Definition(key, label_de, label_en, kind, msgspec.json.decode(options), list(required_for), position)
        for key, label_de, label_en, kind, options, required_for, position in rows
    ]


async def get_field(session: AsyncSession, field_id: uuid.UUID, *, model: type[Any] = CustomField) -> Any:
    field = await session.get(model, {"organization_id": current_org(session), "id": field_id})
    if field is None:
        raise NotFound("no such field")
    return field


# What the history records of a field's definition.
DEFINITION = ("key", "label_de", "label_en", "type", "options", "required_for", "position")


async def create_field(
    session: AsyncSession, org_id: uuid.UUID, data: FieldIn, *, model: type[Any] = CustomField
) -> Any:
    if not KEY_RE.match(data.key):
        raise ValidationFailed(
            "a key is 1 to 50 lower-case letters, digits or '_', starting with a letter", field="key"
        )
    if data.type not in FIELD_TYPES:
        raise ValidationFailed(
            "type must be one of %(field_types)s", field="type", field_types=", ".join(FIELD_TYPES)
        )
    _check_definition(data.label_de, data.label_en, data.options, data.required_for, _kinds(model))
    if data.type in ("choice", "multi_choice") and not data.options:
        raise ValidationFailed("a choice field needs options", field="options")
    existing = (await session.execute(select(model).where(model.key == data.key))).scalar_one_or_none()
    if existing is not None:
        raise Conflict(
            "a field with this key exists" + (" (archived)" if existing.archived_at else ""), field="key"
        )
    field = model(
        organization_id=org_id,
        key=data.key,
        label_de=data.label_de.strip(),
        label_en=data.label_en.strip(),
        type=data.type,
        options=[msgspec.to_builtins(o) for o in data.options],
        required_for=list(dict.fromkeys(data.required_for)),
        position=data.position,
    )
    session.add(field)
    await session.flush()
    await session.refresh(field)
    snapshot = history.snapshot(field, DEFINITION)
    await history.record(session, "custom_field", field.id, "created", history.created(snapshot))
    return field


async def update_field(
    session: AsyncSession, field_id: uuid.UUID, data: FieldPatch, *, model: type[Any] = CustomField
) -> Any:
    field = await get_field(session, field_id, model=model)
    before = history.snapshot(field, DEFINITION)
    options = data.options if data.options is not None else [FieldOption(**o) for o in field.options]
    _check_definition(
        data.label_de if data.label_de is not None else field.label_de,
        data.label_en if data.label_en is not None else field.label_en,
        options,
        data.required_for if data.required_for is not None else list(field.required_for),
        _kinds(model),
    )
    if data.label_de is not None:
        field.label_de = data.label_de.strip()
    if data.label_en is not None:
        field.label_en = data.label_en.strip()
    if data.options is not None:
        if field.type in ("choice", "multi_choice") and not data.options:
            raise ValidationFailed("a choice field needs options", field="options")
        field.options = [msgspec.to_builtins(o) for o in data.options]
    if data.required_for is not None:
        field.required_for = list(dict.fromkeys(data.required_for))
    if data.position is not None:
        field.position = data.position
    await session.flush()
    changes = history.diff(before, history.snapshot(field, DEFINITION))
    await history.record(session, "custom_field", field.id, "changed", changes)
    return field


async def archive_field(
    session: AsyncSession, field_id: uuid.UUID, *, model: type[Any] = CustomField
) -> None:
    """Hide a field and its values; nothing is deleted, and restoring brings the values back."""
    field = await get_field(session, field_id, model=model)
    if field.archived_at is None:
        field.archived_at = datetime.now(UTC)
        await history.record(session, "custom_field", field.id, "archived", target=field.label_de)
    await session.flush()


async def restore_field(session: AsyncSession, field_id: uuid.UUID, *, model: type[Any] = CustomField) -> Any:
    field = await get_field(session, field_id, model=model)
    if field.archived_at is not None:
        await history.record(session, "custom_field", field.id, "restored", target=field.label_de)
    field.archived_at = None
    await session.flush()
    return field


def _parse_number(value: Any) -> float | int:
    if isinstance(value, bool):
        raise InvalidValue("a number is expected")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        # German spreadsheets write 1.234,5
        if "," in text:
            text = text.replace(".", "").replace(",", ".")
        number = float(text)
        return int(number) if number.is_integer() and "." not in text else number
    raise InvalidValue("a number is expected")


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("ja", "j", "yes", "y", "true", "1", "x", "wahr"):
            return True
        if lowered in ("nein", "n", "no", "false", "0", "falsch"):
            return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise InvalidValue("yes or no is expected")


def coerce_value(field: FieldDefinition | Definition, value: Any, *, lenient: bool = False) -> Any:
    """The stored form of ``value`` for ``field``, or ValueError saying what is wrong.

    ``lenient`` accepts what a spreadsheet holds (strings for numbers, "ja"/"nein", 01.02.2010,
    options by their label, multiple choices separated by , or ;).
    """
    kind = field.type
    if kind == "text":
        if not isinstance(value, str) and not lenient:
            raise InvalidValue("text is expected")
        text = str(value).strip()
        if len(text) > MAX_TEXT:
            raise InvalidValue("at most %(max_text)s characters", max_text=MAX_TEXT)
        return text
    if kind == "number":
        if isinstance(value, str) and not lenient:
            raise InvalidValue("a number is expected")
        return _parse_number(value)
    if kind == "boolean":
        if not isinstance(value, bool) and not lenient:
            raise InvalidValue("true or false is expected")
        return _parse_bool(value)
    if kind == "date":
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        from shared.contacts.parsing import parse_date

        return parse_date(value, lenient=lenient).isoformat()
    allowed = {o["value"]: o for o in field.options}
    by_label = {
        o[k].strip().lower(): o["value"] for o in field.options for k in ("label_de", "label_en") if o.get(k)
    }

    def one(v: Any) -> str:
        if isinstance(v, str) and v in allowed:
            return v
        if lenient and isinstance(v, str) and v.strip().lower() in by_label:
            return by_label[v.strip().lower()]
        raise InvalidValue("%(value)r is not one of %(allowed)s", value=v, allowed=", ".join(allowed))

    if kind == "choice":
        return one(value)
    if isinstance(value, str) and lenient:
        value = [p.strip() for p in re.split(r"[;,]", value) if p.strip()]
    if not isinstance(value, list):
        raise InvalidValue("a list of options is expected")
    return list(dict.fromkeys(one(v) for v in value))


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def apply_custom(
    fields: list[Any],
    current: dict[str, Any],
    changes: dict[str, Any],
    kinds: list[str],
    *,
    lenient: bool = False,
    prefix: str = "custom.",
) -> dict[str, Any]:
    """The custom values after ``changes``; values of archived fields are kept untouched."""
    active = {f.key: f for f in fields if f.archived_at is None}
    result = dict(current)
    for key, value in changes.items():
        field = active.get(key)
        if field is None:
            raise ValidationFailed("no such field", field=f"{prefix}{key}")
        if is_empty(value):
            result.pop(key, None)
            continue
        try:
            result[key] = coerce_value(field, value, lenient=lenient)
        except ValueError as exc:
            raise ValidationFailed.refusing(exc, field=f"{prefix}{key}") from None
    for field in active.values():
        if set(field.required_for) & set(kinds) and is_empty(result.get(field.key)):
            raise ValidationFailed(
                "required for %(value)s",
                field=f"{prefix}{field.key}",
                value=", ".join(sorted(set(field.required_for) & set(kinds))),
            )
    return result


def visible_custom(fields: list[Any], values: dict[str, Any]) -> dict[str, Any]:
    active = {f.key for f in fields if f.archived_at is None}
    return {k: v for k, v in values.items() if k in active}
