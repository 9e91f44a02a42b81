"""A report for funders and boards as XLSX (one sheet per section, real numbers and dates, a title
block), as a printable PDF with its charts drawn natively, and each table as CSV.

Labels arrive as English message ids and are translated with ``t`` (the person's catalogue);
numbers and dates are formatted by babel in ``locale`` where they become text (PDF, CSV).
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]

from shared.pdf import FONT, Pdf
from shared.reporting.schemas import Breakdown, Report, Series, Table, Value

# En dashes are the typography of unknown values and ranges.
# ruff: noqa: RUF001, RUF002

Translate = Callable[[str], str]
MAX_SHEET_TITLE = 31


def number(value: Value, locale: str) -> str:
    """A figure as people read it: 1.234,5 in German, – when unknown, "< 3" as it is."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    return format_decimal(value, format="#,##0.#", locale=locale)


def day(value: date, locale: str) -> str:
    return format_date(value, format="medium", locale=locale)


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4}) Q([1-4])$")


def period(label: str, locale: str) -> str | None:
    """A month or quarter of a series ("2026-11", "2026 Q4") as people read it, else None.

    Buckets keep a locale-free key; charts, tables and files show "Nov. 2026" / "Nov 2026".
    """
    if match := _MONTH.match(label):
        return str(format_date(date(int(match[1]), int(match[2]), 1), format="MMM y", locale=locale))
    if match := _QUARTER.match(label):
        month = (int(match[2]) - 1) * 3 + 1
        return str(format_date(date(int(match[1]), month, 1), format="QQQ y", locale=locale))
    return None


def with_periods(t: Translate, locale: str) -> Translate:
    """``t`` that also shows a series' months and quarters in ``locale``."""
    return lambda message: period(message, locale) or t(message)


@dataclass
class Document:
    """What an export holds: the report, optionally a series and a breakdown, and its title block."""

    organisation: str
    report: Report
    series: Series | None = None
    breakdown: Breakdown | None = None

    def title_block(self, t: Translate) -> list[tuple[str, object]]:
        return [
            (t("Organisation"), self.organisation),
            (t("Programme"), self.report.programme or t("All programmes")),
            (t("From"), self.report.period_from),
            (t("To"), self.report.period_to),
            (t("Created"), self.report.created_at.replace(tzinfo=None)),
        ]

    def tables(self) -> list[tuple[str, list[Table]]]:
        """(sheet title, tables) of every section, then the trend and the breakdown."""
        out = [(s.title, s.tables) for s in self.report.sections]
        if self.series is not None:
            out.append(("Trend", [series_table(self.series)]))
        if self.breakdown is not None:
            out.append(("Breakdown", [self.breakdown.table]))
        return out


def series_table(
    series: Series,
    keys: tuple[str, ...] | None = None,
    key: str = "series",
    title: str = "Trend",
    chart: str = "line",
) -> Table:
    """A series as a table: one row per month or quarter, one column per figure (those of
    ``keys``, or all)."""
    from shared.reporting.schemas import Column, Row

    shown = [f for f in series.figures if keys is None or f.key in keys]
    columns = [Column(f.key, f.label, f.unit) for f in shown]
    rows = [Row(b.label, b.label, [f.values[i] for f in shown]) for i, b in enumerate(series.buckets)]
    return Table(key, title, columns, rows, chart=chart)


def sheet_title(text: str) -> str:
    """Excel forbids : [ ] * ? / \\ in sheet names; "Mentor:innen" keeps its look with a letter colon."""
    for sign in "[]*?/\\":
        text = text.replace(sign, "-")
    return text.replace(":", "\ua789")[:MAX_SHEET_TITLE]


def to_xlsx(doc: Document, t: Translate, locale: str) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    date_format = "DD.MM.YYYY" if locale == "de" else "YYYY-MM-DD"
    for title, tables in doc.tables():
        ws = wb.create_sheet(sheet_title(t(title)))
        ws.append([t("Report"), doc.organisation])
        ws["A1"].font = Font(bold=True, size=14)
        for label, value in doc.title_block(t):
            ws.append([label, value])
            cell = ws.cell(row=ws.max_row, column=2)
            if isinstance(value, datetime):
                cell.number_format = date_format + " HH:MM"
            elif isinstance(value, date):
                cell.number_format = date_format
        for table in tables:
            ws.append([])
            ws.append([t(table.title)])
            ws.cell(row=ws.max_row, column=1).font = bold
            ws.append(["", *[t(c.label) for c in table.columns]])
            for cell in ws[ws.max_row]:
                cell.font = bold
            for row in table.rows:
                ws.append([t(row.label), *row.values])
                for i, column in enumerate(table.columns):
                    unit = row.unit or column.unit
                    if unit in ("hours", "days", "rating", "rate"):
                        ws.cell(row=ws.max_row, column=i + 2).number_format = "0.0"
        ws.column_dimensions["A"].width = 48
        for letter in "BCDEFGHIJKL":
            ws.column_dimensions[letter].width = 16
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _csv_value(value: Value, locale: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return str(value).replace(".", ",") if locale == "de" else str(value)


def to_csv(table: Table, t: Translate, locale: str) -> bytes:
    """One table; German files use ; and a decimal comma, as German spreadsheets open them."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if locale == "de" else ",")
    writer.writerow(["", *[t(c.label) for c in table.columns]])
    for row in table.rows:
        writer.writerow([t(row.label), *[_csv_value(v, locale) for v in row.values]])
    # A BOM, so Excel reads the umlauts as UTF-8.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def find_table(doc: Document, key: str) -> Table | None:
    for _title, tables in doc.tables():
        for table in tables:
            if table.key == key:
                return table
    return None


# ---------------------------------------------------------------- PDF

_INK = (33, 37, 41)
_BAR = (31, 95, 139)
_GRID = (200, 200, 200)


def _numbers(row_values: list[Value]) -> list[float]:
    return [float(v) if isinstance(v, int | float) else 0.0 for v in row_values]


def _bar_chart(pdf: Pdf, table: Table, t: Translate, locale: str) -> None:
    """Horizontal bars of the table's first column, drawn as rectangles (vector, prints sharp)."""
    values = _numbers([r.values[0] if r.values else None for r in table.rows])
    top = max(values) if values and max(values) > 0 else 1.0
    label_w, bar_w, h = 60.0, 80.0, 4.2
    if pdf.will_page_break(h * len(values) + 4):
        pdf.add_page()
    x0, y = pdf.l_margin, pdf.get_y() + 1
    pdf.set_font(FONT, size=7)
    for row, v in zip(table.rows, values, strict=False):
        pdf.set_xy(x0, y)
        pdf.set_text_color(*_INK)
        pdf.cell(label_w, h, t(row.label)[:48])
        pdf.set_fill_color(*_BAR)
        width = bar_w * v / top
        if width > 0:
            pdf.rect(x0 + label_w, y + 0.6, width, h - 1.2, style="F")
        pdf.set_xy(x0 + label_w + width + 1, y)
        pdf.cell(20, h, number(row.values[0], locale))
        y += h
    pdf.set_y(y + 2)


def _line_chart(pdf: Pdf, series: Series, key: str, t: Translate, locale: str) -> None:
    """One figure over the months or quarters, as a polyline with its axis."""
    figure = next((f for f in series.figures if f.key == key), None)
    if figure is None or not series.buckets:
        return
    values = _numbers(figure.values)
    top = max(values) if values and max(values) > 0 else 1.0
    w, h = 170.0, 36.0
    if pdf.will_page_break(h + 14):
        pdf.add_page()
    pdf.set_font(FONT, "B", 8)
    pdf.cell(0, 5, t(figure.label), new_x="LMARGIN", new_y="NEXT")
    x0, y0 = pdf.l_margin + 8, pdf.get_y() + 1
    pdf.set_draw_color(*_GRID)
    pdf.line(x0, y0 + h, x0 + w, y0 + h)
    pdf.line(x0, y0, x0, y0 + h)
    pdf.set_font(FONT, size=6)
    pdf.set_xy(pdf.l_margin, y0 - 1)
    pdf.cell(8, 3, number(top, locale))
    step = w / max(len(values) - 1, 1)
    points = [(x0 + i * step, y0 + h - h * v / top) for i, v in enumerate(values)]
    pdf.set_draw_color(*_BAR)
    pdf.set_line_width(0.5)
    for a, b in itertools.pairwise(points):
        pdf.line(a[0], a[1], b[0], b[1])
    for px, py in points:
        pdf.set_fill_color(*_BAR)
        pdf.ellipse(px - 0.7, py - 0.7, 1.4, 1.4, style="F")
    pdf.set_line_width(0.2)
    every = max(1, len(values) // 8)
    for i, bucket in enumerate(series.buckets):
        if i % every == 0:
            pdf.set_xy(points[i][0] - 6, y0 + h + 0.5)
            pdf.cell(12, 3, period(bucket.label, locale) or bucket.label, align="C")
    pdf.set_y(y0 + h + 6)


def _table(pdf: Pdf, table: Table, t: Translate, locale: str) -> None:
    cols = len(table.columns)
    label_w = 70.0 if cols > 1 else 110.0
    col_w = min(24.0, (182 - label_w) / max(cols, 1))
    h = 4.4
    if pdf.will_page_break(h * (len(table.rows) + 2)):
        pdf.add_page()
    pdf.set_font(FONT, "B", 8)
    pdf.set_text_color(*_INK)
    pdf.cell(label_w, h, t(table.title))
    if cols > 1 or table.columns[0].key != "value":
        for c in table.columns:
            pdf.cell(col_w, h, t(c.label)[:18], align="R")
    pdf.ln(h)
    pdf.set_font(FONT, size=8)
    pdf.set_draw_color(*_GRID)
    for row in table.rows:
        pdf.cell(label_w, h, t(row.label)[:60], border="T")
        for v in row.values:
            pdf.cell(col_w, h, number(v, locale), border="T", align="R")
        pdf.ln(h)
    pdf.ln(1.5)


def to_pdf(doc: Document, t: Translate, locale: str) -> bytes:
    report = doc.report
    pdf = Pdf(f"codo · {doc.organisation}", margins=(14, 12, 14))
    pdf.set_title(f"{t('Report')} {doc.organisation}")
    pdf.add_page()
    pdf.set_text_color(*_INK)
    pdf.set_font(FONT, "B", 15)
    pdf.cell(0, 8, f"{t('Report')}: {doc.organisation}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=9)
    period = f"{day(report.period_from, locale)} – {day(report.period_to, locale)}"
    created = format_datetime(report.created_at, format="medium", locale=locale)
    pdf.cell(
        0,
        5,
        f"{t('Programme')}: {report.programme or t('All programmes')}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.cell(0, 5, f"{t('Period')}: {period}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5, f"{t('Created')}: {created}", new_x="LMARGIN", new_y="NEXT")
    if report.suppressed:
        pdf.cell(
            0,
            5,
            t("Counts of fewer than three people are shown as < 3."),
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.ln(2)
    for section in report.sections:
        for table in section.tables:
            _table(pdf, table, t, locale)
            if table.chart == "bar" and table.key in ("end_reasons", "mentors_by_age", "funnel"):
                _bar_chart(pdf, table, t, locale)
    if doc.series is not None:
        _line_chart(pdf, doc.series, "tandems_active", t, locale)
        if len(doc.series.buckets) <= 16:
            _table(pdf, series_table(doc.series), t, locale)
    if doc.breakdown is not None:
        _table(pdf, doc.breakdown.table, t, locale)
        _bar_chart(pdf, doc.breakdown.table, t, locale)
    return bytes(pdf.output())
