"""Writing cells that a spreadsheet program shows as the text they are, never runs as a formula.

Text from people (a name typed into a public sign-up form) may start with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return; Excel and LibreOffice treat such a CSV cell as a formula
(``=HYPERLINK(...)``), and openpyxl writes a string starting with ``=`` as one. Every CSV and
XLSX codo produces writes its cells through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def csv_row(values: Iterable[Any]) -> list[Any]:
    """A leading apostrophe makes the cell text; it is what spreadsheet programs themselves do."""
    return [f"'{v}" if is_formula_like(v) else v for v in values]


def xlsx_row(sheet: Any, values: Iterable[Any]) -> list[Any]:
    """Cells for ``sheet.append`` of a write-only sheet: formula-like text is stored as a string."""
    row: list[Any] = []
    for value in values:
        if is_formula_like(value):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            cell.quotePrefix = True
            row.append(cell)
        else:
            row.append(value)
    return row
