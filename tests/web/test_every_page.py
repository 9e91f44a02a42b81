"""Every page of the app, as every role, in a real browser on a phone (390x844) and a laptop
(1366x900): nothing overflows sideways, axe-core finds no serious or critical violation, and the
navigation offers only pages the role may open.

The pages come from the app's own route table, so a new page is walked without anyone adding it
here; its path parameters are filled from an organisation seeded in every tenant table. A route
that cannot be rendered as a page is named in SKIPPED with the reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from litestar.routes import HTTPRoute
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from sqlalchemy import text

from services.api.app import create_app
from shared.db import Database
from shared.identity import members
from shared.models import Organization
from shared.settings import Settings
from tests.conftest import REPO, Org, create_org
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.identity import add_person
from tests.seeds import seed_every_tenant_table

pytestmark = pytest.mark.slow

AXE_DIR = REPO / "tests" / "a11y"
AXE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}
# Owners see what admins see; the walk covers the roles whose pages differ.
ROLES = ("admin", "coordinator", "viewer", "reporter")

# Routes the walk does not open, and why.
SKIPPED = {
    # Not pages: machine endpoints and assets.
    "/health",
    "/ready",
    "/favicon.ico",
    "/static/{file_path:path}",
    "/calendar/{token:str}",  # an iCalendar feed for calendar apps
    # Downloads: files, not pages.
    "/o/{slug:str}/contacts/exports/{export_id:uuid}/download",
    "/o/{slug:str}/reports/exports/{export_id:uuid}/download",
    "/o/{slug:str}/contacts/import/{import_id:uuid}/errors.csv",
    "/o/{slug:str}/reports/export/pdf",
    "/o/{slug:str}/reports/export/xlsx",
    "/o/{slug:str}/reports/export/csv",
    # Fragments htmx swaps into a page the walk opens (the import review, the contact list, the
    # contact picker of the task and appointment forms).
    "/o/{slug:str}/contact-options",
    "/o/{slug:str}/contacts/import/{import_id:uuid}/progress",
    "/o/{slug:str}/contacts/exports/{export_id:uuid}",
    # Redirects to an identity provider or to another page.
    "/auth/start",
    "/auth/callback",
    "/switch",
    "/signin/org",
    # Needs the secret of a confirmation e-mail, which is stored only as a hash.
    "/f/{org_slug:str}/{form_slug:str}/confirm/{token:str}",
}

# Pages behind a personal link of a tandem: walked with a link they do not know.
PERSONAL_LINKS = {"/q/{token:str}", "/meeting-log/{token:str}"}

# Where each path parameter's value comes from, in the seeded organisation.
PARAMS = {
    "contact_id": "SELECT id FROM contacts ORDER BY created_at LIMIT 1",
    "import_id": "SELECT id FROM contact_imports LIMIT 1",
    "match_id": "SELECT id FROM matches LIMIT 1",
    "run_id": "SELECT id FROM matching_runs LIMIT 1",
    "task_id": "SELECT id FROM tasks LIMIT 1",
    "appointment_id": "SELECT id FROM appointments LIMIT 1",
    "event_id": "SELECT id FROM intake_events LIMIT 1",
    "form_id": "SELECT id FROM intake_forms LIMIT 1",
    "form_slug": "SELECT slug FROM intake_forms LIMIT 1",
    "field_id": "SELECT id FROM match_fields LIMIT 1",
    "questionnaire_id": "SELECT id FROM questionnaires LIMIT 1",
    "question_key": "SELECT v.content -> 'questions' -> 0 ->> 'key' FROM questionnaire_versions v"
    " WHERE v.questionnaire_id = (SELECT id FROM questionnaires LIMIT 1) ORDER BY v.number DESC LIMIT 1",
    "schedule_id": "SELECT id FROM questionnaire_schedules LIMIT 1",
    # The report export's page; the contacts' export pages are fragments (skipped above).
    "export_id": "SELECT id FROM report_exports LIMIT 1",
}


def page_routes(settings: Settings) -> list[str]:
    app = create_app(settings)
    paths = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "GET" not in route.methods:
            continue
        if route.path.startswith(("/api/", "/schema")) or route.path in SKIPPED:
            continue
        paths.append(route.path)
    return sorted(set(paths))


def _npm_ci() -> None:
    installed = AXE.parent / "package.json"
    wanted = json.loads((AXE_DIR / "package.json").read_text())["dependencies"]["axe-core"]
    if installed.exists() and json.loads(installed.read_text()).get("version") == wanted:
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("the accessibility walk needs npm on PATH (for tests/a11y)", pytrace=False)
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=AXE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        pytest.fail(f"npm ci in tests/a11y failed:\n{result.stderr[-2000:]}", pytrace=False)


@dataclass
class Walk:
    base: str
    org: Org
    urls: dict[str, str]  # route path -> address in the seeded organisation
    browser: Browser
    contexts: dict[str, BrowserContext] = field(default_factory=dict)


@pytest.fixture(scope="module")
async def walk(dev_server: str, db: Database, settings: Settings) -> AsyncIterator[Walk]:
    _npm_ci()
    org = await create_org(db)
    await seed_every_tenant_table(db, org)
    people = {role: await add_person(db, org.id, f"{role}@walk.example", role) for role in ROLES}
    values: dict[str, str] = {"slug": org.slug, "org_slug": org.slug}
    async with db.tenant(org.id) as session:
        for name, query in PARAMS.items():
            found = (await session.execute(text(query))).scalar()
            if found is not None:
                values[name] = str(found)
        organisation = await session.get(Organization, org.id)
        assert organisation is not None
        invitation = await members.invite(
            session, settings, organisation, members.SYSTEM_ACTOR, email="new@walk.example", role="viewer"
        )
    values["token"] = invitation.link.rsplit("/", 1)[1]

    urls: dict[str, str] = {}
    for path in page_routes(settings):
        names = re.findall(r"\{(\w+):\w+\}", path)
        missing = [n for n in names if n not in values]
        assert not missing, f"{path}: say in PARAMS where {missing} comes from, or skip it in SKIPPED"
        urls[path] = re.sub(r"\{(\w+):\w+\}", lambda m: values[m.group(1)], path)

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        walk = Walk(base=dev_server, org=org, urls=urls, browser=browser)
        try:
            for role in ROLES:
                # The CSP allows no inline script; axe is injected as one, by the test only.
                context = await browser.new_context(viewport=PHONE, locale="de-DE", bypass_csp=True)
                tab = await context.new_page()
                await tab.goto(f"{dev_server}/o/{org.slug}/signin")
                await tab.select_option("#dev-member", str(people[role]))
                await tab.locator("form[action='/auth/dev'] [type=submit]").click()
                await tab.wait_for_load_state()
                walk.contexts[role] = context
            walk.contexts["anonymous"] = await browser.new_context(
                viewport=PHONE, locale="de-DE", bypass_csp=True
            )
            yield walk
        finally:
            await browser.close()


OVERFLOW = """() => {
  const width = window.innerWidth;
  if (document.documentElement.scrollWidth <= width) return null;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > width + 1)
    .slice(-4)
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
      + (e.className ? '.' + String(e.className).split(' ').join('.') : '')
      + ' (' + Math.round(e.getBoundingClientRect().right) + 'px)');
  return document.documentElement.scrollWidth + 'px wide: ' + wide.join(', ');
}"""

# Every rule on the phone; on the laptop only the rules whose outcome depends on the layout
# (the rest read the same markup twice).
AXE_RUN = """async (rules) => {
  const options = { resultTypes: ['violations'] };
  if (rules) options.runOnly = { type: 'rule', values: rules };
  const result = await axe.run(document, options);
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at '
      + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
}"""
LAYOUT_RULES = ["color-contrast", "scrollable-region-focusable", "target-size"]


# The page's markup without what differs between two renderings of the same page (the CSRF
# token, the person's name in the header): two roles shown the same markup need one check.
MARKUP = """() => document.body.outerHTML
  .replace(/name="_csrf" value="[^"]*"/g, '')
  .replace(/hx-headers="[^"]*"/g, '')
  .replace(/name="next" value="[^"]*"/g, '')
  .replace(/<span class="who">[^<]*<\\/span>/g, '')"""


async def check(tab: Page, where: str) -> list[str]:
    """Overflow and axe at both widths of the page loaded in ``tab``."""
    problems = []
    await tab.add_script_tag(path=str(AXE))
    for size, rules in ((PHONE, None), (LAPTOP, LAYOUT_RULES)):
        await tab.set_viewport_size(size)
        label = f"{where} at {size['width']}px"
        overflow = await tab.evaluate(OVERFLOW)
        if overflow:
            problems.append(f"{label}: overflows sideways, {overflow}")
        problems += [f"{label}: {v}" for v in await tab.evaluate(AXE_RUN, rules)]
    await tab.set_viewport_size(PHONE)
    return problems


@dataclass
class Visit:
    statuses: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


async def visit(walk: Walk, role: str, seen: dict[str, list[str]], slots: asyncio.Semaphore) -> Visit:
    tab = await walk.contexts[role].new_page()
    tab.set_default_timeout(30_000)
    result = Visit()
    try:
        for path, url in walk.urls.items():
            async with slots:
                response = await tab.goto(walk.base + url)
                assert response is not None
                result.statuses[path] = response.status
                if response.status >= 500:
                    result.problems.append(f"{role} {url}: answered {response.status}")
                if response.status not in (200, 403):
                    continue
                markup = hashlib.sha256((await tab.evaluate(MARKUP)).encode()).hexdigest()
                if markup not in seen:
                    seen[markup] = await check(tab, f"{role} {url}")
                result.problems += seen[markup]
    finally:
        await tab.close()
    return result


@pytest.fixture(scope="module")
async def visits(walk: Walk) -> dict[str, Visit]:
    """Every page as every role; the roles walk side by side, two pages at a time."""
    seen: dict[str, list[str]] = {}
    slots = asyncio.Semaphore(2)
    done = await asyncio.gather(*(visit(walk, role, seen, slots) for role in ROLES))
    return dict(zip(ROLES, done, strict=True))


@pytest.mark.parametrize("role", ROLES)
async def test_every_page_fits_a_phone_and_has_no_serious_accessibility_violation(
    visits: dict[str, Visit], role: str
) -> None:
    statuses, problems = visits[role].statuses, visits[role].problems
    opened = [p for p, s in statuses.items() if s == 200]
    assert len(opened) >= (20 if role != "reporter" else 4), statuses
    assert not problems, "\n".join(problems)


async def test_pages_outside_an_organisation_fit_a_phone_and_are_accessible(walk: Walk) -> None:
    tab = await walk.contexts["anonymous"].new_page()
    problems: list[str] = []
    outside = [
        (p, u) for p, u in walk.urls.items() if not p.startswith("/o/{slug:str}/") and p != "/o/{slug:str}"
    ]
    outside.append(("/o/{slug:str}/signin", f"/o/{walk.org.slug}/signin"))
    for path, url in outside:
        response = await tab.goto(walk.base + url)
        # A personal link the walk cannot know (stored as a hash only) shows the one friendly page
        # every unknown, used or expired link shows, with 404.
        expected = 404 if path in PERSONAL_LINKS else 200
        assert response is not None and response.status == expected, url
        problems += await check(tab, f"visitor {url}")
    await tab.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ROLES)
async def test_the_navigation_offers_only_what_the_role_may_open(walk: Walk, role: str) -> None:
    tab = await walk.contexts[role].new_page()
    home = await tab.goto(f"{walk.base}/o/{walk.org.slug}")
    assert home is not None and home.status == 200
    # On a phone the navigation sits behind the menu button.
    await tab.get_by_role("button", name="Menü").click()
    nav = tab.get_by_role("navigation", name="Hauptnavigation")
    links = await nav.get_by_role("link").evaluate_all(
        "links => links.map(a => [a.textContent.trim(), a.href])"
    )
    assert links, "every role has somewhere to go"
    for name, href in links:
        response = await tab.goto(href)
        assert response is not None
        assert response.status == 200, f"{role} is offered {name} ({href}), which refuses"
    names = [n for n, _ in links]
    if role == "coordinator":
        assert "Einstellungen" not in names and "Kontakte" in names
    if role == "reporter":
        assert names == ["Fragebögen", "Berichte"]
    await tab.close()


@pytest.mark.parametrize("role", ["coordinator", "viewer", "reporter"])
async def test_a_refused_page_says_which_role_is_needed_and_whom_to_ask(walk: Walk, role: str) -> None:
    tab = await walk.contexts[role].new_page()
    response = await tab.goto(f"{walk.base}/o/{walk.org.slug}/settings")
    assert response is not None and response.status == 403
    body = await tab.locator("main").inner_text()
    assert "Diese Seite ist für Mitglieder mit der Rolle „Administration“." in body, body
    assert "ist das nicht erlaubt" in body, body
    assert "admin@walk.example" in body and f"owner@{walk.org.slug}.example" in body, body
    assert "settings:manage" not in body and "may not" not in body
    await tab.close()


async def test_erasing_a_person_asks_first_in_a_dialog_that_names_what_is_lost(walk: Walk) -> None:
    tab = await walk.contexts["admin"].new_page()
    await tab.set_viewport_size(LAPTOP)
    await tab.goto(f"{walk.base}/o/{walk.org.slug}/contacts/new")
    await tab.locator("#f-first_name").fill("Greta")
    await tab.locator("#f-last_name").fill("Vergessen")
    await tab.locator("form.grid-form [type=submit]").click()
    await tab.wait_for_url(re.compile(r"/contacts/[0-9a-f-]{36}$"))
    person = tab.url

    await tab.get_by_text("Diese Person löschen").click()
    erase = tab.get_by_role("button", name="Jetzt löschen")
    await erase.click()
    dialog = tab.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Greta Vergessen werden endgültig entfernt")
    # It starts on the safe choice, and Escape takes it, back to the button that asked.
    await expect(dialog.get_by_role("button", name="Abbrechen")).to_be_focused()
    await tab.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(erase).to_be_focused()
    assert tab.url == person
    await expect(tab.get_by_role("heading", level=1)).to_contain_text("Greta Vergessen")

    await erase.click()
    await dialog.get_by_role("button", name="Jetzt löschen").click()
    await expect(tab.get_by_text("Die Daten dieser Person wurden gelöscht")).to_be_visible()
    await tab.close()
