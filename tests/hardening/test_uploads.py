"""Spreadsheet uploads are read row by row within fixed limits, whatever the file claims."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from shared.contacts.imports import MAX_COLUMNS, MAX_LINES, read_sheet
from shared.errors import ValidationFailed
from shared.permissions import Role
from tests.conftest import Org
from tests.hardening import files

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def upload(client: AsyncTestClient[Any], org: Org, content: bytes, filename: str) -> Any:
    mime = XLSX if filename.endswith(".xlsx") else "text/csv"
    return await client.post(
        f"/api/v1/orgs/{org.slug}/imports",
        files={"file": (filename, content, mime)},
        headers=org.auth(Role.COORDINATOR),
    )


def test_a_claimed_size_costs_nothing() -> None:
    content = files.claimed_dimensions_xlsx()
    tracemalloc.start()
    started = time.perf_counter()
    sheet = read_sheet(content, "claimed.xlsx")
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sheet.headers == ["Name", "E-Mail"]
    assert sheet.rows == [(5000, ["Ada Lovelace", "ada@example.org"])], "the row keeps its number"
    assert peak < 10 * 1024 * 1024, f"reading a 5 KB file peaked at {peak / 1e6:.0f} MB"
    assert elapsed < 1.0


@pytest.mark.parametrize(
    ("make", "filename", "message"),
    [
        (files.wide_xlsx, "wide.xlsx", f"at most {MAX_COLUMNS} columns"),
        (files.empty_lines_csv, "empty.csv", f"at most {MAX_LINES} lines"),
        (files.billion_laughs_xlsx, "lol.xlsx", "XML entities"),
    ],
)
async def test_hostile_files_are_refused_with_a_reason(
    client: AsyncTestClient[Any], org_a: Org, make: Callable[[], bytes], filename: str, message: str
) -> None:
    content = make()
    with pytest.raises(ValidationFailed, match=message):
        read_sheet(content, filename)
    r = await upload(client, org_a, content, filename)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == "file" and message in r.json()["detail"]


def test_a_cell_over_excels_limit_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="more than 32767 characters"):
        read_sheet(b"Name;Notiz\nAda;" + b"x" * 40_000 + b"\n", "long.csv")


async def test_an_upload_between_10_and_20_mb_reaches_the_import(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    # Before, anything over Litestar's default 10 MB answered "send a multipart/form-data body".
    r = await upload(client, org_a, files.empty_lines_csv(15), "big.csv")
    assert r.status_code == 422 and "lines" in r.json()["detail"], r.text


async def test_an_upload_over_20_mb_is_413(client: AsyncTestClient[Any], org_a: Org) -> None:
    r = await upload(client, org_a, b"Name\n" + b"a\n" * (11 * 1024 * 1024), "huge.csv")
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
