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


async def insert_rows(
    session: AsyncSession, table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert ``rows`` (each gives every one of ``columns``; a missing key is NULL, not the default)."""
    if not rows:
        return
    names = ", ".join(columns)
    await session.execute(
        text(
            f"INSERT INTO {table.name} ({names}) SELECT {names} "  # noqa: S608
            f"FROM jsonb_to_recordset(CAST(CAST(:rows AS text) AS jsonb)) AS r({_record(table, columns)})"
        ),
        {"rows": _payload(rows)},
    )


async def update_rows(
    session: AsyncSession, table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Set ``columns`` of the rows keyed by (organization_id, id) to the values in ``rows``."""
    if not rows:
        return
    keyed = ["organization_id", "id", *columns]
    assignments = ", ".join(f"{name} = r.{name}" for name in columns)
    await session.execute(
        text(
            f"UPDATE {table.name} AS t SET {assignments} "  # noqa: S608
            f"FROM jsonb_to_recordset(CAST(CAST(:rows AS text) AS jsonb)) AS r({_record(table, keyed)}) "
            "WHERE t.organization_id = r.organization_id AND t.id = r.id"
        ),
        {"rows": _payload(rows)},
    )
