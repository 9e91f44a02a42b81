"""Many rows in one statement: the JSON of a whole batch, unpacked by PostgreSQL.

An ``executemany`` of 500 rows is 500 executions of a prepared statement; on a busy machine
that costs more than everything else an import does. Here a batch travels as one JSON array
and ``jsonb_to_recordset`` turns it into rows inside the server: one round trip and one plan
per table and batch, under the same row-level security as any other statement (the policy's
WITH CHECK sees every row). JSON arrays become PostgreSQL arrays for array columns.

Table and column names come from the models, never from input; every value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from sqlalchemy import Boolean, Date, DateTime, Integer, String, Table, Text, Uuid, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

_ENCODER = msgspec.json.Encoder()


def _sql_type(kind: TypeEngine[Any]) -> str:
    if isinstance(kind, ARRAY):
        return _sql_type(kind.item_type) + "[]"
    if isinstance(kind, JSONB):
        return "jsonb"
    if isinstance(kind, Uuid):
        return "uuid"
    if isinstance(kind, DateTime):
        return "timestamptz" if kind.timezone else "timestamp"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, Integer):
        return "integer"
    if isinstance(kind, String | Text):
        # Assignment casts text to varchar(n); a too long value fails as in any insert.
        return "text"
    raise TypeError(f"no bulk type for {kind!r}")


def _record(table: Table, columns: Sequence[str]) -> str:
    return ", ".join(f"{name} {_sql_type(table.c[name].type)}" for name in columns)


def _payload(rows: Sequence[Mapping[str, Any]]) -> str:
    # Keys beyond the columns are ignored by jsonb_to_recordset; a missing key reads as NULL.
    return _ENCODER.encode(rows).decode()


def payload(rows: Sequence[Mapping[str, Any]]) -> str:
    """The JSON text of ``rows`` as :func:`insert_sql` and :func:`update_sql` read it."""
    return _payload(rows)


def insert_sql(table: Table, columns: Sequence[str], param: str) -> str:
    """``INSERT`` of the rows in the JSON text bound as ``param`` (see :func:`insert_rows`)."""
    names = ", ".join(columns)
    return (
        f"INSERT INTO {table.name} ({names}) SELECT {names} "  # noqa: S608
        f"FROM jsonb_to_recordset(CAST(CAST(:{param} AS text) AS jsonb)) AS r({_record(table, columns)})"
    )


def update_sql(table: Table, columns: Sequence[str], param: str) -> str:
    """``UPDATE`` keyed by (organization_id, id) from the JSON text bound as ``param``."""
    keyed = ["organization_id", "id", *columns]
    assignments = ", ".join(f"{name} = r.{name}" for name in columns)
    return (
        f"UPDATE {table.name} AS t SET {assignments} "  # noqa: S608
        f"FROM jsonb_to_recordset(CAST(CAST(:{param} AS text) AS jsonb)) AS r({_record(table, keyed)}) "
        "WHERE t.organization_id = r.organization_id AND t.id = r.id"
    )


async def insert_rows(
    session: AsyncSession, table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert ``rows`` (each gives every one of ``columns``; a missing key is NULL, not the default)."""
    if not rows:
        return
    await session.execute(text(insert_sql(table, columns, "rows")), {"rows": _payload(rows)})


async def update_rows(
    session: AsyncSession, table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Set ``columns`` of the rows keyed by (organization_id, id) to the values in ``rows``."""
    if not rows:
        return
    await session.execute(text(update_sql(table, columns, "rows")), {"rows": _payload(rows)})
