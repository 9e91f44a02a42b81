"""The reports-only role over every route: figures and exports yes, personal data never."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from services.api.app import create_app
from shared import organizations
from shared.db import Database
from shared.permissions import Role
from tests.conftest import Org, Servers, make_settings
from tests.platform.test_api_orgs import fill, org_routes
from tests.reports.history import History, build
from tests.web.test_pages import org_pages
from tests.web.test_shell import csrf_of, dev_sign_in

# What a reporter may open: reports and their exports, the organisation's name, the dashboard.
API_ALLOWED = {
    ("GET", "/api/v1/orgs/{slug:str}"),
    *(("GET", f"/api/v1/orgs/{{slug:str}}/reports/{p}") for p in ("figures", "series", "breakdown")),
    *(("GET", f"/api/v1/orgs/{{slug:str}}/reports/export/{f}") for f in ("xlsx", "pdf", "csv")),
    ("POST", "/api/v1/orgs/{slug:str}/reports/exports"),
    ("GET", "/api/v1/orgs/{slug:str}/reports/benchmarks"),
    ("GET", "/api/v1/orgs/{slug:str}/reports/exports/{export_id:uuid}"),
    ("GET", "/api/v1/orgs/{slug:str}/reports/exports/{export_id:uuid}/download"),
}
PAGES_ALLOWED = {
    ("GET", "/o/{slug:str}"),
    ("GET", "/o/{slug:str}/reports"),
    *(("GET", f"/o/{{slug:str}}/reports/export/{f}") for f in ("xlsx", "pdf", "csv")),
    # Exports prepared as jobs, and the anonymised comparison: figures only.
    ("POST", "/o/{slug:str}/reports/exports"),
    ("GET", "/o/{slug:str}/reports/exports/{export_id:uuid}"),
    ("GET", "/o/{slug:str}/reports/exports/{export_id:uuid}/download"),
    ("GET", "/o/{slug:str}/reports/benchmarks"),
    # The questionnaires and their figures per question (no answers of a person, no worry's words).
    ("GET", "/o/{slug:str}/questionnaires"),
    ("GET", "/o/{slug:str}/questionnaires/{questionnaire_id:uuid}"),
}


@pytest.fixture
async def history(db: Database, org_a: Org) -> History:
    return await build(db, org_a.id)


async def test_a_reporter_token_gets_403_on_every_other_route(
    client: AsyncTestClient[Any], org_a: Org, history: History
) -> None:
    routes = org_routes(client)
    assert len(routes) > 50
    contact = history.people["E1"]
    checked = 0
    for method, template in routes:
        # Contacts and matches get ids that exist, so the answer cannot be a 404.
        params = set(re.findall(r"\{(\w+)", template)) - {"slug"}
        if params <= {"contact_id"}:
            path, strict = fill(template, org_a.slug, contact), True
        elif params <= {"match_id"}:
            path, strict = fill(template, org_a.slug, history.matches["A"]), True
        else:
            path, strict = fill(template, org_a.slug, contact), False
        body = {} if method in ("POST", "PUT", "PATCH") else None
        r = await client.request(method, path, headers=org_a.auth(Role.REPORTER), json=body)
        if (method, template) in API_ALLOWED:
            assert r.status_code in (200, 400, 404, 422), (method, template, r.status_code)
            continue
        # Other ids are looked up first, so a 404 may come before the 403; a write with an empty
        # body fails its parsing before anything is read. Neither reveals or changes anything.
        allowed = {403} | ({404} if not strict else set()) | ({400} if method != "GET" else set())
        assert r.status_code in allowed, (method, template, r.status_code)
        assert "Muster" not in r.text
        checked += 1
    assert checked > 40


@pytest.fixture
async def reporter(
    servers: Servers, smtp_port: int, db: Database, org_a: Org
) -> AsyncIterator[AsyncTestClient[Any]]:
    async with db.tenant(org_a.id) as session:
        await organizations.add_member(
            session, org_a.id, f"board@{org_a.slug}.example", "reporter", "Vera Vorstand"
        )
    app = create_app(make_settings(servers, smtp_port, env="development", dev_signin=True))
    async with AsyncTestClient(app=app) as c:
        await dev_sign_in(c, org_a, f"board@{org_a.slug}.example")
        yield c


async def test_a_reporter_member_sees_reports_and_the_dashboard_and_no_other_page(
    reporter: AsyncTestClient[Any], org_a: Org, history: History
) -> None:
    home = await reporter.get(f"/o/{org_a.slug}")
    assert home.status_code == 200 and "Wartende Mentees" in home.text
    # No link to a list of people, and small numbers hidden.
    assert ("/contacts?" not in home.text and "&lt; 3" in home.text) or "< 3" in home.text
    csrf = csrf_of(home.text)
    report = await reporter.get(f"/o/{org_a.slug}/reports", params={"from": "2025-01-01", "to": "2025-12-31"})
    assert report.status_code == 200 and "&lt; 3" in report.text
    for method, template in org_pages(reporter.app):
        path = fill(template, org_a.slug, history.people["E1"])
        r = await reporter.request(
            method, path, data={"_csrf": csrf} if method == "POST" else None, follow_redirects=False
        )
        if (method, template) in PAGES_ALLOWED:
            # (an export of another id is not found)
            assert r.status_code in (200, 404, 422), (method, template, r.status_code)
            continue
        assert r.status_code in (403, 404, 405), (method, template, r.status_code)
        assert "Muster" not in r.text, (method, template)
