"""Reports through the JSON API and the pages: the figures, bad input named, exports that open,
the reports-only role kept away from every personal-data route."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook  # type: ignore[import-untyped]
from pypdf import PdfReader

from services.api.app import create_app
from shared.db import Database
from shared.permissions import Role
from shared.reporting.dashboard import dashboard
from tests.conftest import Org, Servers, create_org, make_settings
from tests.reports.history import History, build
from tests.web.test_shell import dev_sign_in

YEAR = {"from": "2025-01-01", "to": "2025-12-31"}


@pytest.fixture
async def history(db: Database, org_a: Org) -> History:
    return await build(db, org_a.id)


def _rows(report: dict[str, Any], key: str) -> dict[str, Any]:
    for section in report["sections"]:
        for table in section["tables"]:
            if table["key"] == key:
                return {r["key"]: r["values"] for r in table["rows"]}
    raise KeyError(key)


async def test_figures_series_and_breakdown_in_the_api(
    client: AsyncTestClient[Any], org_a: Org, history: History
) -> None:
    base = f"/api/v1/orgs/{org_a.slug}/reports"
    r = await client.get(f"{base}/figures", params=YEAR, headers=org_a.auth(Role.VIEWER))
    assert r.status_code == 200, r.text
    assert _rows(r.json(), "tandems")["tandems_active"] == [5]
    r = await client.get(
        f"{base}/series", params={**YEAR, "interval": "quarter", "figures": "tandems_active"},
        headers=org_a.auth(Role.VIEWER),
    )  # fmt: skip
    assert [f["values"] for f in r.json()["figures"]] == [[4, 3, 3, 3]]
    r = await client.get(f"{base}/breakdown", params={**YEAR, "by": "match.funder"}, headers=org_a.auth())
    assert {row["key"]: row["values"][1] for row in r.json()["table"]["rows"]} == {
        "stadt": 2,
        "stiftung": 2,
        "unknown": 1,
    }


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("figures", {"from": "2025-13-01"}, "from"),
        ("figures", {"from": "2025-06-01", "to": "2025-01-01"}, "from"),
        ("figures", {"from": "2010-01-01", "to": "2025-01-01"}, "from"),
        ("figures", {"programme": "lesen"}, "programme"),
        ("series", {"interval": "week"}, "interval"),
        ("series", {"figures": "tandems_active,happiness"}, "figures"),
        ("breakdown", {}, "by"),
        ("breakdown", {"by": "contact.remark"}, "by"),
        ("breakdown", {"by": "match.nothing"}, "by"),
        ("export/csv", {"table": "nothing"}, "table"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_parameter(
    client: AsyncTestClient[Any], org_a: Org, history: History, path: str, params: dict[str, str], field: str
) -> None:
    r = await client.get(f"/api/v1/orgs/{org_a.slug}/reports/{path}", params=params, headers=org_a.auth())
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field


async def test_exports_open_and_hold_the_figures(
    client: AsyncTestClient[Any], org_a: Org, history: History
) -> None:
    base = f"/api/v1/orgs/{org_a.slug}/reports"
    params = {**YEAR, "interval": "quarter", "by": "match.funder", "locale": "de"}
    r = await client.get(f"{base}/export/xlsx", params=params, headers=org_a.auth(Role.VIEWER))
    assert r.status_code == 200, r.text
    wb = load_workbook(io.BytesIO(r.content))
    assert {"Tandems", "Begleitung", "Verlauf", "Aufschlüsselung"} <= set(wb.sheetnames)
    sheet = wb["Tandems"]
    cells = {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and row[0]}
    assert cells["Im Zeitraum aktive Tandems"] == 5 and isinstance(cells["Im Zeitraum aktive Tandems"], int)
    assert cells["Von"].date().isoformat() == "2025-01-01"
    assert cells["Organisation"] == f"Verein {org_a.slug}"

    r = await client.get(f"{base}/export/pdf", params=params, headers=org_a.auth(Role.VIEWER))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pdf = PdfReader(io.BytesIO(r.content))
    words = " ".join(page.extract_text() for page in pdf.pages)
    assert 1 <= len(pdf.pages) <= 3
    assert "Im Zeitraum aktive Tandems" in words and "208,5" in words

    r = await client.get(
        f"{base}/export/csv", params={**params, "table": "events"}, headers=org_a.auth(Role.VIEWER)
    )
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[1] == ["Workshop", "1", "3", "2", "2", "66,7"]


async def test_a_reporter_sees_figures_with_small_numbers_hidden_and_no_personal_data(
    client: AsyncTestClient[Any], org_a: Org, history: History
) -> None:
    r = await client.get(
        f"/api/v1/orgs/{org_a.slug}/reports/figures", params=YEAR, headers=org_a.auth(Role.REPORTER)
    )
    assert r.status_code == 200
    assert r.json()["suppressed"] is True
    tandems = _rows(r.json(), "tandems")
    assert tandems["tandems_active"] == [5] and tandems["tandems_ended"] == ["< 3"]
    r = await client.get(
        f"/api/v1/orgs/{org_a.slug}/reports/export/csv", params={**YEAR, "table": "tandems"},
        headers=org_a.auth(Role.REPORTER),
    )  # fmt: skip
    assert "< 3" in r.content.decode("utf-8-sig")


async def test_another_organisation_sees_none_of_it(
    client: AsyncTestClient[Any], db: Database, org_a: Org, org_b: Org, history: History
) -> None:
    r = await client.get(f"/api/v1/orgs/{org_b.slug}/reports/figures", params=YEAR, headers=org_b.auth())
    assert _rows(r.json(), "tandems")["tandems_active"] == [0]
    r = await client.get(f"/api/v1/orgs/{org_b.slug}/reports/series", params=YEAR, headers=org_b.auth())
    assert all(v in (0, None) for f in r.json()["figures"] for v in f["values"])
    r = await client.get(
        f"/api/v1/orgs/{org_b.slug}/reports/export/csv",
        params={**YEAR, "table": "tandems"},
        headers=org_b.auth(),
    )
    assert r.text.splitlines()[2].endswith(",0")  # tandems active: none of A's
    async with db.tenant(org_b.id) as session:
        board = await dashboard(session, date(2026, 11, 25), None, suppressed=False)
    assert {t.key: t.value for t in board.tiles}["waiting"] == 0
    # B's token on A's reports: the organisation does not exist for it.
    r = await client.get(f"/api/v1/orgs/{org_a.slug}/reports/figures", params=YEAR, headers=org_b.auth())
    assert r.status_code in (401, 404)
    # A programme of A named in B's report is not found.
    r = await client.get(
        f"/api/v1/orgs/{org_b.slug}/reports/figures", params={**YEAR, "programme": str(history.programme)},
        headers=org_b.auth(),
    )  # fmt: skip
    assert r.status_code == 404


@pytest.fixture
async def browser(servers: Servers, smtp_port: int) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(make_settings(servers, smtp_port, env="development", dev_signin=True))
    async with AsyncTestClient(app=app) as c:
        yield c


async def test_the_reports_page_and_dashboard_in_german(browser: AsyncTestClient[Any], db: Database) -> None:
    org = await create_org(db)
    await build(db, org.id)
    await dev_sign_in(browser, org, f"owner@{org.slug}.example")
    page = await browser.get(
        f"/o/{org.slug}/reports", params={**YEAR, "interval": "quarter", "by": "match.funder"}
    )
    assert page.status_code == 200
    assert "Kennzahlen" in page.text and "Im Zeitraum aktive Tandems" in page.text
    assert "Aufschlüsselung: Förderer" in page.text and "2025 Q4" in page.text
    assert "01.01.2025" in page.text and "208,5" in page.text
    assert "/static/chart-4.6.1.umd.min.js" in page.text
    page = await browser.get(f"/o/{org.slug}/reports", params={"from": "2026-05-01", "to": "2025-01-01"})
    assert page.status_code == 200 and "Der Zeitraum muss beginnen, bevor er endet." in page.text
    page = await browser.get(f"/o/{org.slug}/reports", params={"by": "contact.remark"})
    assert "Nur Auswahlfelder lassen sich aufschlüsseln" in page.text
    # A breakdown that cannot be made does not throw away the period and interval chosen with it.
    page = await browser.get(
        f"/o/{org.slug}/reports", params={**YEAR, "interval": "quarter", "by": "match.nothing"}
    )
    assert "Ein solches Feld zum Aufschlüsseln gibt es nicht." in page.text
    assert "01.01.2025 – 31.12.2025" in page.text and "2025 Q4" in page.text  # noqa: RUF001
    assert '<select id="by" name="by" aria-invalid="true"' in page.text
    home = await browser.get(f"/o/{org.slug}/")
    assert home.status_code == 200
    assert (
        "Wartende Mentees" in home.text
        and f'href="/o/{org.slug}/contacts?kind=mentee&amp;status=ready"' in home.text
    )
    xlsx = await browser.get(f"/o/{org.slug}/reports/export/xlsx", params=YEAR)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    licence = await browser.get("/static/chart-4.6.1.LICENSE")
    assert licence.status_code == 200 and "MIT" in licence.text


async def test_the_reports_api_is_documented(client: AsyncTestClient[Any]) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    for path in ("figures", "series", "breakdown", "export/xlsx", "exports", "benchmarks"):
        assert f"/api/v1/orgs/{{slug}}/reports/{path}" in paths, path
    parameters = {p["name"] for p in paths["/api/v1/orgs/{slug}/reports/series"]["get"]["parameters"]}
    assert {"from", "to", "programme", "interval", "figures"} <= parameters
    assert "/api/v1/orgs/{slug}/match-fields" in paths


async def test_mentors_with_free_places_count_their_open_tandems(db: Database, org_a: Org) -> None:
    """A mentor with room for two and one open tandem has a free place; one with room for one and
    an open tandem has none; ended tandems free their place again."""
    from shared.contacts.models import Contact
    from shared.contacts.service import derive
    from shared.matching.models import Match

    async with db.tenant(org_a.id) as s:
        roomy, full, freed = (
            Contact(organization_id=org_a.id, kinds=["mentor"], last_name=n, status="matched", capacity=c)
            for n, c in (("Zwei", 2), ("Eins", 1), ("Wieder", 1))
        )
        mentees = [Contact(organization_id=org_a.id, kinds=["mentee"], last_name=f"K{i}") for i in range(3)]
        for c in (roomy, full, freed, *mentees):
            derive(c)
            s.add(c)
        await s.flush()
        for mentor, mentee, status in ((roomy, mentees[0], "active"), (full, mentees[1], "active"),
                                       (freed, mentees[2], "ended")):  # fmt: skip
            ended = date(2026, 6, 1) if status == "ended" else None
            s.add(Match(organization_id=org_a.id, mentor_id=mentor.id, mentee_id=mentee.id, status=status,
                        proposed_on=date(2026, 1, 1), started_on=date(2026, 2, 1),
                        ended_on=ended))  # fmt: skip
    async with db.tenant(org_a.id) as session:
        board = await dashboard(session, date(2026, 11, 25), None, suppressed=False)
    assert {t.key: t.value for t in board.tiles}["mentors_free"] == 2  # Zwei and Wieder
