"""Report exports through the API: short ones ready at once, long ones prepared by the worker's job
with progress, then downloadable; the file holds the figures."""

from __future__ import annotations

import io
from typing import Any

from litestar.testing import AsyncTestClient
from openpyxl import load_workbook  # type: ignore[import-untyped]

from services.worker.jobs.reporting import run_report_export
from shared.db import Database
from shared.permissions import Role
from tests.conftest import Org
from tests.reports.history import build


async def test_short_exports_are_ready_and_long_ones_go_to_the_worker(
    client: AsyncTestClient[Any], db: Database, org_a: Org, org_b: Org
) -> None:
    await build(db, org_a.id)
    base = f"/api/v1/orgs/{org_a.slug}/reports/exports"
    r = await client.post(
        base, json={"format": "xlsx", "from": "2025-01-01", "to": "2025-12-31", "locale": "de"},
        headers=org_a.auth(Role.REPORTER),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "done" and r.json()["progress"] == 1.0
    file = await client.get(r.json()["download_url"], headers=org_a.auth(Role.REPORTER))
    assert file.status_code == 200
    sheet = load_workbook(io.BytesIO(file.content))["Tandems"]
    cells = {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and row[0]}
    # A reporter's file: the two ended tandems are fewer than three.
    assert cells["Im Zeitraum aktive Tandems"] == 5 and cells["Beendete Tandems"] == "< 3"

    r = await client.post(
        base, json={"format": "pdf", "from": "2020-01-01", "to": "2025-12-31", "interval": "quarter"},
        headers=org_a.auth(),
    )  # fmt: skip
    assert r.status_code == 202, r.text
    pending = r.json()
    assert pending["status"] == "pending" and pending["download_url"] is None
    refused = await client.get(f"{base}/{pending['id']}/download", headers=org_a.auth())
    assert refused.status_code == 409
    # B does not see A's export.
    other = await client.get(
        f"/api/v1/orgs/{org_b.slug}/reports/exports/{pending['id']}", headers=org_b.auth()
    )
    assert other.status_code == 404

    assert await run_report_export({"db": db}, str(org_a.id), pending["id"]) == "done"
    # Running a job twice (arq may) changes nothing.
    assert await run_report_export({"db": db}, str(org_a.id), pending["id"]) == "done"
    status = (await client.get(pending["status_url"], headers=org_a.auth())).json()
    assert status["status"] == "done" and status["progress"] == 1.0
    pdf = await client.get(status["download_url"], headers=org_a.auth())
    assert pdf.content[:5] == b"%PDF-"

    bad = await client.post(base, json={"format": "doc"}, headers=org_a.auth())
    assert bad.status_code == 422 and bad.json()["field"] == "format"
    bad = await client.post(base, json={"format": "csv", "to": "2025-02-30"}, headers=org_a.auth())
    assert bad.status_code == 422 and bad.json()["field"] == "to"
