"""A real browser (headless Chromium): a coordinator follows a dashboard figure to its list, opens
the reports, switches to quarters and a breakdown by funder, sees the charts, and downloads the
XLSX and the PDF, which hold the figures the page shows."""

# The period is written with an en dash, as the page shows it.
# ruff: noqa: RUF001

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]
from playwright.async_api import Page, expect
from pypdf import PdfReader

from shared.db import Database
from tests.conftest import Org
from tests.fixtures.tasks import add_member
from tests.reports.history import build

pytestmark = pytest.mark.slow


async def test_dashboard_reports_quarters_breakdown_and_downloads(
    dev_server: str, chromium_page: Page, db: Database, org_a: Org, tmp_path: Path
) -> None:
    base, page = dev_server, chromium_page
    await build(db, org_a.id)
    coordinator = await add_member(db, org_a)
    await page.goto(f"{base}/o/{org_a.slug}/signin")
    await page.select_option("#dev-member", str(coordinator.id))
    await page.get_by_role("button", name="Als dieses Mitglied anmelden").click()

    await page.goto(f"{base}/o/{org_a.slug}/")
    waiting = page.locator('li.tile[data-key="waiting"]')
    await expect(waiting).to_contain_text("Wartende Mentees")
    await expect(waiting.locator(".tile-value")).to_have_text("3")  # E7, W1, W2
    await expect(page.locator("#dashboard-trend[data-drawn=true] canvas")).to_be_visible()
    await waiting.get_by_role("link").click()
    await expect(page).to_have_url(re.compile(r"/contacts\?kind=mentee&status=ready$"))
    await expect(page.get_by_text("W1 Muster").or_(page.get_by_text("Muster, W1")).first).to_be_visible()

    await page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Berichte").click()
    await page.get_by_label("Von", exact=True).fill("2025-01-01")
    await page.get_by_label("Bis", exact=True).fill("2025-12-31")
    await page.get_by_label("Verlauf nach").select_option("quarter")
    await page.get_by_label("Aufschlüsseln nach").select_option("match.funder")
    await page.get_by_role("button", name="Anzeigen").click()
    await expect(page.locator("p.period")).to_contain_text("01.01.2025 – 31.12.2025")
    trend = page.locator("#trend")
    await expect(trend.locator("tbody tr")).to_have_count(4)
    await expect(trend.locator('tr[data-key="2025 Q1"] td').first).to_have_text("4")
    await expect(page.get_by_role("heading", name="Aufschlüsselung: Förderer")).to_be_visible()
    await expect(page.locator('#breakdown tr[data-key="stadt"] th')).to_have_text("Stadt")
    await expect(page.locator("#breakdown[data-drawn=true] canvas")).to_be_visible()
    active_on_page = await page.locator('#t-tandems tr[data-key="tandems_active"] td').text_content()
    duration_on_page = await page.locator('#t-tandems tr[data-key="duration_avg"] td').text_content()
    assert (active_on_page, duration_on_page) == ("5", "208,5")

    async with page.expect_download() as xlsx_info:
        await page.get_by_role("link", name="XLSX herunterladen").click()
    xlsx = tmp_path / "report.xlsx"
    await (await xlsx_info.value).save_as(xlsx)
    wb = load_workbook(io.BytesIO(xlsx.read_bytes()))
    rows = {r[0]: r[1:] for r in wb["Tandems"].iter_rows(values_only=True) if r and r[0]}
    assert rows["Im Zeitraum aktive Tandems"][0] == int(active_on_page)
    assert rows["Dauer beendeter Tandems in Tagen (Durchschnitt)"][0] == 208.5
    breakdown = {r[0]: r[1:] for r in wb["Aufschlüsselung"].iter_rows(values_only=True) if r and r[0]}
    assert breakdown["Stadt"][:2] == (1, 2)

    async with page.expect_download() as pdf_info:
        await page.get_by_role("link", name="PDF herunterladen").click()
    pdf = tmp_path / "report.pdf"
    await (await pdf_info.value).save_as(pdf)
    text = " ".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert "Im Zeitraum aktive Tandems" in text and "208,5" in text and "Stadt" in text


async def test_a_reporter_sees_every_chart_drawn_with_small_counts_as_the_band(
    dev_server: str, chromium_page: Page, db: Database, org_a: Org
) -> None:
    base, page = dev_server, chromium_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await build(db, org_a.id)
    reporter = await add_member(db, org_a, role="reporter")
    await page.goto(f"{base}/o/{org_a.slug}/signin")
    await page.select_option("#dev-member", str(reporter.id))
    await page.get_by_role("button", name="Als dieses Mitglied anmelden").click()
    await page.goto(f"{base}/o/{org_a.slug}/reports?from=2025-01-01&to=2025-12-31")
    charts = page.locator("figure[data-chart]")
    await expect(page.locator("figure[data-chart][data-drawn=true]")).to_have_count(await charts.count())
    trend = page.locator("#trend")
    await expect(trend.locator("td[data-suppressed]").first).to_have_text("< 3")
    await expect(trend.locator(".chart-note")).to_contain_text("weniger als drei")
    # The chart holds the band where the table says "< 3", and every other number as the table.
    mismatches, bands = await trend.evaluate(
        """f => {
          const chart = Chart.getChart(f.querySelector("canvas"));
          const rows = [...f.querySelectorAll("tbody tr")];
          const out = [];
          let bands = 0;
          chart.data.datasets.forEach((d, c) => rows.forEach((r, i) => {
            const td = r.querySelectorAll("td")[c];
            const v = td.dataset.value;
            const want = td.dataset.suppressed ? "band" : (v === "" ? null : Number(v));
            const got = d.belowThree[i] ? "band" : d.data[i];
            if (got === "band") bands++;
            if (want !== got) out.push([c, i, want, got]);
          }));
          return [out, bands];
        }"""
    )
    assert mismatches == [] and bands > 0
    assert errors == []
