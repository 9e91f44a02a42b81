"""Text that looks like a formula leaves codo as text, in CSV and in XLSX."""

from __future__ import annotations

import csv
import io
from typing import Any

from litestar.testing import AsyncTestClient
from openpyxl import load_workbook

from shared.contacts.imports import Import, error_report
from shared.permissions import Role
from shared.spreadsheets import csv_row
from tests.conftest import Org
from tests.fixtures.contacts import ContactsApi

HYPERLINK = '=HYPERLINK("http://evil.example/x","Open")'


async def test_formula_like_names_are_exported_as_text(
    client: AsyncTestClient[Any], org_a: Org, contacts_api: ContactsApi
) -> None:
    await contacts_api.create(last_name=HYPERLINK, first_name="@SUM(A1)", city="-2+3")
    await contacts_api.create(last_name="Normal", first_name="Nora", city="Köln")
    base = f"/api/v1/orgs/{org_a.slug}/contacts/exports"
    columns = ["last_name", "first_name", "city"]
    auth = org_a.auth(Role.COORDINATOR)

    r = await client.post(base, json={"format": "xlsx", "columns": columns}, headers=auth)
    assert r.status_code == 201, r.text
    content = (await client.get(r.json()["download"], headers=auth)).content
    sheet = load_workbook(io.BytesIO(content)).active
    by_name = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    cells = by_name[HYPERLINK]
    assert all(c.data_type == "s" for c in cells), [(c.value, c.data_type) for c in cells]
    assert [c.value for c in cells] == [HYPERLINK, "@SUM(A1)", "-2+3"]
    assert [c.value for c in by_name["Normal"]] == ["Normal", "Nora", "Köln"]

    r = await client.post(base, json={"format": "csv", "columns": columns}, headers=auth)
    text = (await client.get(r.json()["download"], headers=auth)).content.decode("utf-8-sig")
    rows = {row[1]: row for row in csv.reader(io.StringIO(text), delimiter=";")}
    assert rows["'@SUM(A1)"] == ["'" + HYPERLINK, "'@SUM(A1)", "'-2+3"]
    assert rows["Nora"] == ["Normal", "Nora", "Köln"]


def test_the_import_error_report_writes_names_as_text() -> None:
    imp = Import(report=[{"row": 2, "action": "reject", "name": "+49 = Kosten", "reasons": ["\tE-Mail"]}])
    rows = list(csv.reader(io.StringIO(error_report(imp).lstrip("\ufeff")), delimiter=";"))
    assert rows[1] == ["2", "'+49 = Kosten", "abgelehnt", "'\tE-Mail"]


def test_every_dangerous_start_is_quoted() -> None:
    assert csv_row(["=1", "+1", "-1", "@x", "\tx", "\rx", "a=1", 5, None]) == [
        "'=1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "a=1", 5, None
    ]  # fmt: skip
