"""What the charts are drawn from: the tables on the page. A reporter's charts show a count of
fewer than three as the band below three and carry no such number; the dashboard's check-in
chart shows the series' own figures (held, due but missed) month by month."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from services.api.app import create_app
from shared import organizations
from shared.contacts.models import Contact
from shared.contacts.service import derive
from shared.db import Database
from shared.matching.models import CheckIn, Match
from shared.reporting import figures
from tests.conftest import Servers, create_org, make_settings
from tests.reports.history import build
from tests.web.test_shell import dev_sign_in

YEAR = {"from": "2025-01-01", "to": "2025-12-31"}


class Charts(HTMLParser):
    """Every chart's cells: (chart id or position, row label, column unit, data-value, suppressed, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, Any]] = []
        self.notes = 0
        self._chart: str | None = None
        self._charts = 0
        self._units: list[str] = []
        self._cell: dict[str, Any] | None = None
        self._row: str = ""
        self._column = 0
        self._in_row_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "figure" and "data-chart" in a:
            self._charts += 1
            self._chart = a.get("id") or str(self._charts)
            self._units = []
        elif self._chart is None:
            return
        elif tag == "th" and "data-unit" in a:
            self._units.append(a["data-unit"] or "")
        elif tag == "tr":
            self._column = 0
            self._row = ""
        elif tag == "th" and a.get("scope") == "row":
            self._in_row_head = True
        elif tag == "td":
            unit = self._units[self._column] if self._column < len(self._units) else ""
            self._cell = {"chart": self._chart, "row": self._row, "unit": unit, "value": a.get("data-value"),
                          "suppressed": "data-suppressed" in a, "text": ""}  # fmt: skip
            self._column += 1
        elif tag == "small" and "chart-note" in (a.get("class") or ""):
            self.notes += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._chart = None
        elif tag == "th":
            self._in_row_head = False
        elif tag == "td" and self._cell is not None:
            self._cell["text"] = self._cell["text"].strip()
            self.cells.append(self._cell)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data
        elif self._in_row_head:
            self._row += data.strip()


def charts(html: str) -> Charts:
    parsed = Charts()
    parsed.feed(html)
    return parsed


def _small(cell: dict[str, Any]) -> bool:
    """A count of people that a reporter must not see: one or two."""
    return cell["unit"] == "people" and cell["value"] not in (None, "") and 0 < float(cell["value"]) < 3


@pytest.fixture
async def browser(servers: Servers, smtp_port: int) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(make_settings(servers, smtp_port, env="development", dev_signin=True))
    async with AsyncTestClient(app=app) as c:
        yield c


async def test_a_reporters_charts_draw_small_counts_as_the_band_and_carry_no_number_below_three(
    browser: AsyncTestClient[Any], db: Database
) -> None:
    org = await create_org(db)
    await build(db, org.id)
    async with db.tenant(org.id) as session:
        await organizations.add_member(
            session, org.id, f"board@{org.slug}.example", "reporter", "Vera Vorstand"
        )
    pages = (f"/o/{org.slug}/reports", f"/o/{org.slug}")

    await dev_sign_in(browser, org, f"owner@{org.slug}.example")
    coordinator = [charts((await browser.get(p, params=YEAR)).text) for p in pages]
    small = [(c["chart"], c["row"]) for p in coordinator for c in p.cells if _small(c)]
    # The programme is small: a coordinator's charts hold ones and twos (else this test proves nothing).
    assert len(small) > 5

    await dev_sign_in(browser, org, f"board@{org.slug}.example")
    reporter = [charts((await browser.get(p, params=YEAR)).text) for p in pages]
    cells = [c for page in reporter for c in page.cells]
    assert not [c for c in cells if _small(c)]
    hidden = [c for c in cells if c["suppressed"]]
    # Where the coordinator sees a one or a two, the reporter's chart gets the band: no number at
    # all, "< 3" in the table, and the note under the chart that says what the hatching means.
    assert {(c["chart"], c["row"]) for c in hidden} >= set(small)
    assert all(c["value"] == "" and c["text"] == "< 3" for c in hidden)
    assert reporter[0].notes >= 1 and coordinator[0].notes == 0


async def test_the_dashboard_charts_check_ins_held_and_missed_per_month_as_the_series_counts_them(
    browser: AsyncTestClient[Any], db: Database
) -> None:
    org = await create_org(db)
    history = await build(db, org.id)
    today = figures.today()
    # Tandem A runs on: two check-ins last month, one this month.
    last_month = today.replace(day=1) - timedelta(days=1)
    async with db.tenant(org.id) as s:
        for day in (last_month.replace(day=2), last_month.replace(day=20), today.replace(day=1)):
            s.add(CheckIn(organization_id=org.id, match_id=history.matches["A"], occurred_on=day,
                          channel="phone", rating=4))  # fmt: skip
    await dev_sign_in(browser, org, f"owner@{org.slug}.example")
    page = charts((await browser.get(f"/o/{org.slug}")).text)
    shown: dict[str, list[float]] = {}
    for c in page.cells:
        if c["chart"] == "dashboard-checkins":
            shown.setdefault(c["row"], []).append(float(c["value"]))
    async with db.tenant(org.id) as s:
        series = await figures.series(
            s, date(today.year - 1, today.month, 1), today, "month", keys=("checkins_held", "checkins_missed")
        )
    assert len(shown) == 13
    # Month by month, the very figures of the reports (held; due but missed).
    expected = [[f.values[i] for f in series.figures] for i in range(len(series.buckets))]
    assert list(shown.values()) == expected
    held = [v[0] for v in shown.values()]
    assert held[-2:] == [2, 1]
    # Tandems A, B and F ran all year, a check-in due every 30 days, hardly any held.
    assert sum(v[1] for v in shown.values()) >= 10


def _this_month(page: Charts, chart: str) -> list[float]:
    """The values of a dashboard chart's last row (this month), in column order."""
    rows: dict[str, list[float]] = {}
    for c in page.cells:
        if c["chart"] == chart:
            rows.setdefault(c["row"], []).append(float(c["value"]) if c["value"] not in (None, "") else -1)
    assert len(rows) == 13
    return list(rows.values())[-1]


async def test_the_dashboard_shows_a_check_in_and_a_tandem_right_after_they_are_written(
    browser: AsyncTestClient[Any], db: Database
) -> None:
    org = await create_org(db)
    history = await build(db, org.id)
    async with db.tenant(org.id) as session:
        await organizations.add_member(session, org.id, f"board@{org.slug}.example", "reporter", "Vera")
    today = figures.today()
    await dev_sign_in(browser, org, f"owner@{org.slug}.example")
    first = charts((await browser.get(f"/o/{org.slug}")).text)
    held, _missed = _this_month(first, "dashboard-checkins")
    active, started = _this_month(first, "dashboard-trend")
    # Shown again unchanged, then each write shows on the very next visit.
    again = charts((await browser.get(f"/o/{org.slug}")).text)
    assert again.cells == first.cells
    async with db.tenant(org.id) as s:
        s.add(CheckIn(organization_id=org.id, match_id=history.matches["A"], occurred_on=today.replace(day=1),
                      channel="phone", rating=4))  # fmt: skip
    after = charts((await browser.get(f"/o/{org.slug}")).text)
    assert _this_month(after, "dashboard-checkins")[0] == held + 1
    async with db.tenant(org.id) as s:
        people = []
        for kind in ("mentee", "mentor"):
            c = Contact(organization_id=org.id, kinds=[kind], first_name="Neu", last_name=kind,
                        status="matched")  # fmt: skip
            derive(c)
            s.add(c)
            people.append(c)
        await s.flush()
        s.add(Match(organization_id=org.id, mentee_id=people[0].id, mentor_id=people[1].id, status="active",
                    proposed_on=today.replace(day=1), started_on=today.replace(day=1)))  # fmt: skip
    after = charts((await browser.get(f"/o/{org.slug}")).text)
    assert _this_month(after, "dashboard-trend") == [active + 1, started + 1]
    # The charts stored for the coordinator reach a reporter only with small counts hidden.
    await dev_sign_in(browser, org, f"board@{org.slug}.example")
    reporter = charts((await browser.get(f"/o/{org.slug}")).text)
    assert not [c for c in reporter.cells if _small(c)]
    assert [c for c in after.cells if _small(c)], "the coordinator's charts had no small count to hide"
