"""A real browser (the machine's Chromium, headless) walks the import wizard on a real server while a
real worker (arq on the test Redis) commits the import, then searches the list and undoes it."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from arq.worker import create_worker
from playwright.async_api import expect

from services.api.app import create_app
from services.localstack import free_port
from services.worker.main import worker_settings
from shared.settings import Settings
from tests.conftest import Org, Servers, make_settings
from tests.contacts.test_imports import messy_workbook

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def dev_settings(servers: Servers, smtp_port: int) -> Settings:
    port = free_port()
    return make_settings(
        servers, smtp_port, env="development", dev_signin=True, public_url=f"http://127.0.0.1:{port}"
    )


@pytest.fixture(scope="module")
def live_server(dev_settings: Settings) -> Iterator[str]:
    port = urlsplit(dev_settings.public_url).port
    config = uvicorn.Config(
        create_app(dev_settings), host="127.0.0.1", port=port, log_config=None, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.05)
    assert server.started, "the server did not start"
    yield dev_settings.public_url
    server.should_exit = True
    thread.join(10)


@pytest.fixture
async def worker(dev_settings: Settings) -> AsyncIterator[None]:
    """The real worker with every job, polling the test Redis quickly."""
    running = create_worker(worker_settings(dev_settings), handle_signals=False, poll_delay=0.1, burst=False)
    task = asyncio.create_task(running.main())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    # Worker.close() calls redis' deprecated close(); closing the pool ourselves is the same here.
    if running.pool is not None:
        await running.pool.aclose()


@pytest.fixture
async def page(live_server: str) -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("the browser test needs Chromium at /usr/bin/chromium", pytrace=False)
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        context = await browser.new_context(
            viewport={"width": 1366, "height": 768}, locale="de-DE", accept_downloads=True
        )

        async def loopback_only(route: Any) -> None:
            host = urlsplit(route.request.url).hostname
            await (route.continue_() if host in ("127.0.0.1", "localhost") else route.abort())

        await context.route("**/*", loopback_only)
        tab = await context.new_page()
        tab.set_default_timeout(20_000)
        yield tab
        await context.close()
        await browser.close()


async def test_import_wizard_in_a_browser_with_the_worker(
    page: Any, live_server: str, worker: None, org_a: Org, tmp_path: Path
) -> None:
    sheet = tmp_path / "Teilnehmende.xlsx"
    sheet.write_bytes(messy_workbook())

    await page.goto(f"{live_server}/o/{org_a.slug}/signin")
    owner = page.locator("#dev-member option", has_text=f"owner@{org_a.slug}.example")
    await page.get_by_label("Mitglied").select_option(await owner.get_attribute("value"))
    await page.get_by_role("button", name="Als dieses Mitglied anmelden").click()
    await page.wait_for_url(f"{live_server}/o/{org_a.slug}")

    await page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Kontakte").click()
    await page.get_by_role("link", name="Import", exact=True).click()
    await page.get_by_label("Excel- oder CSV-Datei").set_input_files(str(sheet))
    await page.get_by_role("button", name="Hochladen und prüfen").click()
    summary = page.locator("#dry-run-summary")
    await summary.wait_for()
    assert "6 neu, 0 aktualisiert, 0 unverändert, 2 abgelehnt" in await summary.inner_text()
    rows = page.locator("#import-rows tbody tr")
    assert await rows.count() == 8
    assert (
        "doppelt mit Zeile 2 (gleiche E-Mail)"
        in await page.locator("#import-rows tr", has_text="Jürgen Müller").nth(1).inner_text()
    )
    columns = page.locator("#import-columns tbody tr th")
    assert await columns.all_inner_texts() == [
        "Name", "Geburtsdatum", "E-Mail", "Telefon", "PLZ", "Sprachen", "Rolle", "Bemerkung",
    ], "the file's columns in the file's order"  # fmt: skip
    # The review page at a phone's width and a laptop's: nothing wider than the screen.
    for width, height in ((390, 844), (1366, 900)):
        await page.set_viewport_size({"width": width, "height": height})
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        await page.screenshot(path=str(tmp_path / f"import-review-{width}.png"), full_page=True)
        assert overflow <= 0, f"the review page is {overflow} px too wide at {width} px"

    await page.get_by_role("button", name="6 Zeilen jetzt importieren").click()
    # The progress block polls the server every second until the worker is done.
    outcome = page.locator("#import-outcome")
    await page.locator("#import-progress", has_text="fertig").wait_for()
    assert "6 neu, 0 aktualisiert, 2 abgelehnt" in await outcome.inner_text()
    await page.screenshot(path=str(tmp_path / "import-done-1366.png"))
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Abgelehnte Zeilen herunterladen").click()
    report = Path(await (await download_info.value).path()).read_text("utf-8-sig")
    assert len(report.strip().splitlines()) == 4 and "Hausmeister" in report
    review_url = page.url

    # Live search over what was imported: typing is enough.
    await page.goto(f"{live_server}/o/{org_a.slug}/contacts")
    results = page.locator("#results")
    await expect(results).to_contain_text("Özlem Şahin")
    await page.get_by_label("Suchen", exact=True).fill("schafer")
    await expect(results).not_to_contain_text("Özlem Şahin")
    await expect(results).to_contain_text("Clara Schäfer")
    assert "q=schafer" in page.url, "the search is in the address, so it can be bookmarked"

    await page.goto(review_url)
    await page.set_viewport_size({"width": 390, "height": 844})
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    await page.screenshot(path=str(tmp_path / "import-done-390.png"), full_page=True)
    assert overflow <= 0, f"the finished import's page is {overflow} px too wide at 390 px"
    await page.get_by_role("button", name="Ganzen Import rückgängig machen").click()
    # Undoing cannot be undone: the dialog asks first and says how many contacts go.
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Die 6 angelegten Kontakte werden gelöscht")
    await dialog.get_by_role("button", name="Ganzen Import rückgängig machen").click()
    await page.locator("#import-progress", has_text="rückgängig gemacht").wait_for()
    await page.goto(f"{live_server}/o/{org_a.slug}/contacts")
    assert "Keine Kontakte gefunden." in await page.locator("#results").inner_text()
