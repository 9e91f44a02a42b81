"""The shapes reports come in: tables of labelled rows, grouped in sections; series of buckets.

One shape for everything lets the page, the JSON API and every export (XLSX, PDF, CSV) show the
same figures the same way. A value is a number, None (not known: an average of nothing) or the
text ``"< 3"`` where small-number suppression hid a count of fewer than three people.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import msgspec

Value = int | float | str | None
SUPPRESSED = "< 3"
# Units whose values count people (or tandems, two people each): suppressed below 3.
PEOPLE = "people"


class Column(msgspec.Struct):
    key: str
    label: str
    # people | count | days | hours | rating | rate | text
    unit: str
    # For averages: the people column they are taken over (suppressed with it).
    base: str | None = None


class Row(msgspec.Struct):
    key: str
    label: str
    values: list[Value]
    # When set, the unit of every value of this row (a table of figures of different kinds).
    unit: str | None = None
    base: str | None = None


class Table(msgspec.Struct):
    key: str
    title: str
    columns: list[Column]
    rows: list[Row]
    # A chart of the table: bar | line | None
    chart: str | None = None


class Section(msgspec.Struct):
    key: str
    title: str
    tables: list[Table]


class Report(msgspec.Struct):
    period_from: date
    period_to: date
    programme_id: uuid.UUID | None
    programme: str | None
    created_at: datetime
    sections: list[Section]
    suppressed: bool = False


class Bucket(msgspec.Struct):
    start: date
    end: date
    label: str


class SeriesFigure(msgspec.Struct):
    key: str
    label: str
    unit: str
    values: list[Value]


class Series(msgspec.Struct):
    period_from: date
    period_to: date
    interval: str
    programme_id: uuid.UUID | None
    buckets: list[Bucket]
    figures: list[SeriesFigure]
    suppressed: bool = False


class Breakdown(msgspec.Struct):
    period_from: date
    period_to: date
    programme_id: uuid.UUID | None
    by: str
    by_label: str
    table: Table
    suppressed: bool = False


def suppress_value(value: Value, unit: str, base: Value = None) -> Value:
    if unit == PEOPLE and isinstance(value, int | float) and 0 < value < 3:
        return SUPPRESSED
    if base is not None and (base == SUPPRESSED or (isinstance(base, int | float) and base < 3)):
        return SUPPRESSED if value is not None else None
    return value


def suppress_table(table: Table) -> Table:
    """The table as people without access to personal data see it: counts of fewer than three
    people, and averages over fewer than three, read "< 3"."""
    keys = [c.key for c in table.columns]
    rows = []
    for row in table.rows:
        by_key = dict(zip(keys, row.values, strict=False))
        values: list[Value] = []
        for column, value in zip(table.columns, row.values, strict=False):
            unit = row.unit or column.unit
            base_key = row.base if row.unit else column.base
            if row.unit and row.base:
                base = next((r.values[keys.index(column.key)] for r in table.rows if r.key == row.base), None)
            else:
                base = by_key.get(base_key) if base_key else None
            values.append(suppress_value(value, unit, base))
        rows.append(Row(row.key, row.label, values, row.unit, row.base))
    return Table(table.key, table.title, table.columns, rows, table.chart)


def suppress_report(report: Report) -> Report:
    sections = [Section(s.key, s.title, [suppress_table(t) for t in s.tables]) for s in report.sections]
    return msgspec.structs.replace(report, sections=sections, suppressed=True)


def suppress_series(series: Series, bases: dict[str, str]) -> Series:
    by_key = {f.key: f for f in series.figures}
    figures = []
    for f in series.figures:
        base = by_key.get(bases[f.key]) if bases.get(f.key) else None
        values = [suppress_value(v, f.unit, base.values[i] if base else None) for i, v in enumerate(f.values)]
        figures.append(SeriesFigure(f.key, f.label, f.unit, values))
    return msgspec.structs.replace(series, figures=figures, suppressed=True)


def suppress_breakdown(breakdown: Breakdown) -> Breakdown:
    return msgspec.structs.replace(breakdown, table=suppress_table(breakdown.table), suppressed=True)
