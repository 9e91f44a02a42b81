"""Uploads crafted to exhaust a server: each small on the wire, each huge if read naively."""

from __future__ import annotations

import io
import zipfile

from openpyxl import Workbook

SHEET = "xl/worksheets/sheet1.xml"


def _workbook(rows: dict[int, list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for number, values in rows.items():
        for column, value in enumerate(values, start=1):
            sheet.cell(row=number, column=column, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _rewrite(content: bytes, name: str, change: dict[bytes, bytes]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == name:
                for old, new in change.items():
                    assert old in data, (old, data[:300])
                    data = data.replace(old, new, 1)
            target.writestr(info.filename, data)
    return out.getvalue()


def claimed_dimensions_xlsx() -> bytes:
    """A header and one cell in row 5,000, in a sheet that says it spans A1:XFD1048576."""
    content = _workbook({1: ["Name", "E-Mail"], 5000: ["Ada Lovelace", "ada@example.org"]})
    return _rewrite(content, SHEET, {b'<dimension ref="A1:B5000" />': b'<dimension ref="A1:XFD1048576" />'})


def billion_laughs_xlsx() -> bytes:
    """Ten levels of ten entity references: a billion 'lol's once expanded."""
    entities = b'<!ENTITY lol0 "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (level, b"".join(b"&lol%d;" % (level - 1) for _ in range(10)))
        for level in range(1, 10)
    )
    content = _workbook({1: ["Name"], 2: ["x"]})
    return _rewrite(content, SHEET, {b"<worksheet": b"<!DOCTYPE lolz [" + entities + b"]><worksheet"})


def wide_xlsx() -> bytes:
    """One cell in the last column Excel has (XFD)."""
    book = Workbook()
    book.active.cell(row=1, column=16384, value="far away")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def empty_lines_csv(megabytes: int = 9) -> bytes:
    return b"Name;E-Mail\n" + b"\n" * (megabytes * 1024 * 1024)
