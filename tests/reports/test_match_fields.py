"""Fields on matches: defined like contact fields, set through the API and on the match page,
refused when wrong (naming the field), and what reports break down by."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from services.api.app import create_app
from shared.db import Database
from shared.permissions import Role
from tests.conftest import Org, Servers, make_settings
from tests.fixtures.matching import MatchingApi
from tests.web.test_shell import csrf_of, dev_sign_in

FUNDER = {
    "key": "funder",
    "label_de": "Förderer",
    "label_en": "Funder",
    "type": "choice",
    "options": [
        {"value": "stadt", "label_de": "Stadt", "label_en": "City"},
        {"value": "stiftung", "label_de": "Stiftung", "label_en": "Foundation"},
    ],
}


async def _define(matching: MatchingApi) -> None:
    await matching.call("POST", "/match-fields", 201, role=Role.ADMIN, json=FUNDER)
    await matching.call(
        "POST", "/match-fields", 201, role=Role.ADMIN,
        json={"key": "agreed_on", "label_de": "Vereinbarung vom", "label_en": "Agreement", "type": "date"},
    )  # fmt: skip


async def test_match_fields_in_the_api_and_the_breakdown(matching: MatchingApi, org_a: Org) -> None:
    await _define(matching)
    listed = await matching.call("GET", "/match-fields")
    assert [f["key"] for f in listed] == ["agreed_on", "funder"]
    # Only admins define fields.
    await matching.call("POST", "/match-fields", 403, json={**FUNDER, "key": "other"})
    mentor = await matching.person("mentor", "Mia")
    mentee = await matching.person("mentee", "Max")
    match = await matching.propose(mentor, mentee, custom={"funder": "stadt"})
    assert match["custom"] == {"funder": "stadt"}
    bad = await matching.call("PATCH", f"/matches/{match['id']}/custom", 422, json={"funder": "bund"})
    assert bad["field"] == "custom.funder"
    bad = await matching.call("PATCH", f"/matches/{match['id']}/custom", 422, json={"nothing": "x"})
    assert bad["field"] == "custom.nothing"
    flood = {f"k{i}": "x" for i in range(5000)}
    bad = await matching.call("PATCH", f"/matches/{match['id']}/custom", 422, json=flood)
    assert bad["field"] == "body"
    done = await matching.call(
        "PATCH", f"/matches/{match['id']}/custom", json={"funder": "stiftung", "agreed_on": "2026-02-01"}
    )
    assert done["custom"] == {"funder": "stiftung", "agreed_on": "2026-02-01"}
    assert (await matching.call("GET", f"/matches/{match['id']}"))["custom"]["funder"] == "stiftung"
    # The mentee's own export (GDPR Art. 15) holds the match's fields too.
    export = await matching.call("GET", f"/contacts/{mentee}/export")
    assert export["domains"]["matching"]["matches"][0]["fields"]["funder"] == "stiftung"
    breakdown = await matching.call("GET", "/reports/breakdown", params={"by": "match.funder"})
    assert [r["key"] for r in breakdown["table"]["rows"]] == ["stadt", "stiftung"]
    refused = await matching.call("GET", "/reports/breakdown", 422, params={"by": "match.agreed_on"})
    assert refused["field"] == "by"


@pytest.fixture
async def browser(servers: Servers, smtp_port: int) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(make_settings(servers, smtp_port, env="development", dev_signin=True))
    async with AsyncTestClient(app=app) as c:
        yield c


async def test_the_match_page_shows_and_saves_the_fields(
    browser: AsyncTestClient[Any], matching: MatchingApi, org_a: Org, db: Database
) -> None:
    await _define(matching)
    match = await matching.propose(
        await matching.person("mentor", "Mia"), await matching.person("mentee", "Max")
    )
    await dev_sign_in(browser, org_a, f"owner@{org_a.slug}.example")
    page = await browser.get(f"/o/{org_a.slug}/matches/{match['id']}")
    assert f'hx-get="/o/{org_a.slug}/matches/{match["id"]}/fields"' in page.text
    part = await browser.get(f"/o/{org_a.slug}/matches/{match['id']}/fields", headers={"hx-request": "true"})
    assert "Förderer" in part.text and "<html" not in part.text
    r = await browser.post(
        f"/o/{org_a.slug}/matches/{match['id']}/fields",
        data={"_csrf": csrf_of(page.text), "custom.funder": "stadt", "custom.agreed_on": "2026-03-01"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert (await matching.call("GET", f"/matches/{match['id']}"))["custom"] == {
        "funder": "stadt",
        "agreed_on": "2026-03-01",
    }
    r = await browser.post(
        f"/o/{org_a.slug}/matches/{match['id']}/fields",
        data={"_csrf": csrf_of(page.text), "custom.funder": "stadt", "custom.agreed_on": "im Frühling"},
    )
    assert r.status_code == 422 and 'role="alert"' in r.text
