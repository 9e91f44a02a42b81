"""The report pages beyond the figures: a long export prepared as a job with its progress, the
definitions of the fields on tandems, and the anonymised comparison with other organisations."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pypdf import PdfReader

from services.api.app import create_app
from services.worker.jobs.reporting import run_report_export
from shared import organizations
from shared.db import Database
from shared.reporting import benchmarks
from tests.conftest import Servers, create_org, make_settings
from tests.reports.history import build
from tests.reports.test_benchmarks import _programme_with_tandems, nobody_opted_in  # noqa: F401
from tests.web.test_shell import csrf_of, dev_sign_in

LONG = {"from": "2020-01-01", "to": "2025-12-31", "interval": "quarter"}


@pytest.fixture
async def browser(servers: Servers, smtp_port: int) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(make_settings(servers, smtp_port, env="development", dev_signin=True))
    async with AsyncTestClient(app=app) as c:
        yield c


async def test_a_long_export_shows_its_progress_and_is_downloaded_when_ready(
    browser: AsyncTestClient[Any], db: Database
) -> None:
    org = await create_org(db)
    await build(db, org.id)
    await dev_sign_in(browser, org, f"owner@{org.slug}.example")
    page = await browser.get(f"/o/{org.slug}/reports", params=LONG)
    # Six years: the downloads become buttons that prepare the file in the background.
    assert "XLSX vorbereiten" in page.text and "PDF vorbereiten" in page.text
    assert f'action="/o/{org.slug}/reports/exports"' in page.text
    r = await browser.post(
        f"/o/{org.slug}/reports/exports",
        data={**LONG, "format": "pdf", "_csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    status_url = r.headers["location"]
    assert re.fullmatch(rf"/o/{org.slug}/reports/exports/[0-9a-f-]{{36}}", status_url)
    waiting = await browser.get(status_url)
    assert "Wird vorbereitet: 0 %" in waiting.text and "<progress" in waiting.text
    # The page asks again every two seconds, for the part that changes only.
    assert f'hx-get="{status_url}"' in waiting.text and 'hx-trigger="every 2s"' in waiting.text
    assert "01.01.2020" in waiting.text and "31.12.2025" in waiting.text
    assert (await browser.get(f"{status_url}/download")).status_code == 409

    # The worker's job builds it.
    assert await run_report_export({"db": db}, str(org.id), status_url.rsplit("/", 1)[1]) == "done"
    ready = await browser.get(status_url, headers={"hx-request": "true"})
    assert "<html" not in ready.text and "Die Datei ist fertig." in ready.text
    assert "hx-trigger" not in ready.text
    pdf = await browser.get(f"{status_url}/download")
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"
    assert "Tandems" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)

    # A short one is ready at once; a bad format is named in German.
    short = await browser.post(
        f"/o/{org.slug}/reports/exports",
        data={"from": "2025-01-01", "to": "2025-12-31", "format": "xlsx", "_csrf": csrf_of(page.text)},
    )
    assert short.status_code == 200 and "Die Datei ist fertig." in short.text
    bad = await browser.post(
        f"/o/{org.slug}/reports/exports", data={**LONG, "format": "doc", "_csrf": csrf_of(page.text)}
    )
    assert bad.status_code == 422 and 'role="alert"' in bad.text

    # Another organisation's member does not find it.
    other = await create_org(db)
    await dev_sign_in(browser, other, f"owner@{other.slug}.example")
    assert (await browser.get(status_url.replace(org.slug, other.slug))).status_code == 404


async def test_admins_define_edit_archive_and_restore_fields_on_tandems(
    browser: AsyncTestClient[Any], db: Database
) -> None:
    org = await create_org(db)
    async with db.tenant(org.id) as s:
        await organizations.add_member(s, org.id, f"coord@{org.slug}.example", "coordinator", "Cora")
    await dev_sign_in(browser, org, f"owner@{org.slug}.example")
    settings = await browser.get(f"/o/{org.slug}/settings")
    assert f'href="/o/{org.slug}/match-fields"' in settings.text and "Felder der Tandems" in settings.text
    page = await browser.get(f"/o/{org.slug}/match-fields")
    assert page.status_code == 200 and "noch keine Felder" not in page.text
    csrf = csrf_of(page.text)
    r = await browser.post(
        f"/o/{org.slug}/match-fields",
        data={"_csrf": csrf, "label_de": "Förderer", "label_en": "Funder", "key": "funder", "type": "choice",
              "options": "stadt=Stadt|City\nstiftung=Stiftung|Foundation", "required": "yes"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    listed = await browser.get(f"/o/{org.slug}/match-fields")
    assert "Förderer" in listed.text and "Stadt, Stiftung" in listed.text
    field_id = re.search(rf'href="/o/{org.slug}/match-fields/([0-9a-f-]{{36}})"', listed.text)
    assert field_id
    # The reports can break down by it.
    reports = await browser.get(f"/o/{org.slug}/reports")
    assert '<option value="match.funder">Förderer</option>' in reports.text

    # A key that is no key: the message in German, the field marked.
    bad = await browser.post(
        f"/o/{org.slug}/match-fields",
        data={"_csrf": csrf, "label_de": "Art", "label_en": "", "key": "funder", "type": "text"},
    )
    assert bad.status_code in (409, 422) and 'role="alert"' in bad.text

    edit_url = f"/o/{org.slug}/match-fields/{field_id.group(1)}"
    edit = await browser.get(edit_url)
    assert "stadt=Stadt|City" in edit.text and "checked" in edit.text
    r = await browser.post(
        edit_url,
        data={"_csrf": csrf, "label_de": "Fördermittelgeber", "label_en": "Funder",
              "options": "stadt=Stadt Köln|City of Cologne\nstiftung=Stiftung|Foundation", "position": "2"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    listed = await browser.get(f"/o/{org.slug}/match-fields")
    assert "Fördermittelgeber" in listed.text and "Stadt Köln, Stiftung" in listed.text
    # Not required any more: the box was left empty.
    assert re.search(r"Fördermittelgeber.*?<td[^>]*>nein</td>", listed.text, re.S)
    # Archiving asks first, naming what disappears.
    assert "data-confirm=" in listed.text
    await browser.post(f"{edit_url}/archive", data={"_csrf": csrf})
    listed = await browser.get(f"/o/{org.slug}/match-fields")
    assert "(archiviert)" in listed.text
    await browser.post(f"{edit_url}/restore", data={"_csrf": csrf})
    assert "(archiviert)" not in (await browser.get(f"/o/{org.slug}/match-fields")).text

    # A coordinator uses the fields but does not define them.
    await dev_sign_in(browser, org, f"coord@{org.slug}.example")
    assert (await browser.get(f"/o/{org.slug}/match-fields")).status_code == 403


@pytest.mark.usefixtures("nobody_opted_in")
async def test_an_organisation_sees_its_figures_next_to_the_anonymised_others(
    browser: AsyncTestClient[Any], db: Database
) -> None:
    org = await create_org(db)
    await _programme_with_tandems(db, org.id, [100, 200], early=1)
    others = [await create_org(db) for _ in range(5)]
    for i, other in enumerate(others):
        await _programme_with_tandems(db, other.id, [100 + 10 * i] * 4, early=1)
    await dev_sign_in(browser, org, f"owner@{org.slug}.example")
    page = await browser.get(f"/o/{org.slug}/reports/benchmarks")
    assert page.status_code == 200 and "Ihre Organisation nimmt noch nicht teil" in page.text
    for other in others:
        async with db.tenant(other.id) as s:
            await benchmarks.set_opt_in(s, other.id, True)
    r = await browser.post(
        f"/o/{org.slug}/reports/benchmarks/opt-in", data={"_csrf": csrf_of(page.text), "opt_in": "yes"}
    )
    assert r.status_code == 200
    row = re.search(r'<tr data-kind="reading" data-metric="tandem_days">(.*?)</tr>', r.text, re.S)
    assert row, r.text
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    # Own median of 100 and 200 days; the others' median of 100..140 days over five organisations.
    assert "Lesepatenschaften" in cells[0] and cells[2] == "150" and cells[3] == "120"
    assert cells[4] == "110 \u2013 130" and cells[5] == "5"
    assert "vorzeitig beendeter Tandems" in r.text and "50 %" in r.text
    # Nothing names another organisation.
    assert not any(o.slug in r.text for o in others)
    # Stopping asks first.
    assert "Teilnahme beenden" in r.text and "data-confirm=" in r.text
