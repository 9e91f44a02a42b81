"""Key figures a board reads: counted right, for the period asked, only of their organisation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from services.api.app import create_app
from shared.db import Database
from shared.matching.models import Match, Meeting
from shared.permissions import Role
from tests.conftest import Org, Servers, create_org, make_settings
from tests.fixtures.contacts import ContactsApi
from tests.web.test_shell import dev_sign_in


async def _pair(contacts_api: ContactsApi) -> tuple[str, str]:
    mentor = await contacts_api.create(
        kinds=["mentor"], first_name="Mia", last_name="Mentorin", status="matched"
    )
    mentee = await contacts_api.create(
        kinds=["mentee"], first_name="Max", last_name="Mentee", status="matched"
    )
    return mentor["id"], mentee["id"]


async def test_key_figures_count_matches_meetings_and_waiting_people(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    today = date.today()
    long_ago = today - timedelta(days=800)
    await contacts_api.create(kinds=["mentee"], first_name="Wanda", last_name="Wartend", status="ready")
    pairs = [await _pair(contacts_api) for _ in range(4)]
    async with db.tenant(org_a.id) as session:
        active = Match(
            organization_id=org_a.id,
            mentor_id=pairs[0][0],
            mentee_id=pairs[0][1],
            status="active",
            proposed_on=today - timedelta(days=30),
            started_on=today - timedelta(days=20),
        )
        early = Match(
            organization_id=org_a.id,
            mentor_id=pairs[1][0],
            mentee_id=pairs[1][1],
            status="ended",
            proposed_on=today - timedelta(days=100),
            started_on=today - timedelta(days=90),
            ended_on=today - timedelta(days=30),
            ended_early=True,
        )
        paused = Match(
            organization_id=org_a.id,
            mentor_id=pairs[2][0],
            mentee_id=pairs[2][1],
            status="paused",
            proposed_on=today - timedelta(days=60),
            started_on=today - timedelta(days=50),
        )
        old = Match(
            organization_id=org_a.id,
            mentor_id=pairs[3][0],
            mentee_id=pairs[3][1],
            status="ended",
            proposed_on=long_ago,
            started_on=long_ago,
            ended_on=long_ago + timedelta(days=100),
            ended_early=False,
        )
        session.add_all([active, early, paused, old])
        await session.flush()
        session.add_all([
            Meeting(organization_id=org_a.id, match_id=active.id, occurred_on=today - timedelta(days=5),
                    duration_minutes=90, volunteer_minutes=120),
            Meeting(organization_id=org_a.id, match_id=active.id, occurred_on=today - timedelta(days=12),
                    duration_minutes=30, volunteer_minutes=30),
            Meeting(organization_id=org_a.id, match_id=old.id, occurred_on=long_ago + timedelta(days=3),
                    duration_minutes=600, volunteer_minutes=600),
        ])  # fmt: skip
    r = await client.get(f"/api/v1/orgs/{org_a.slug}/reports/key-figures", headers=org_a.auth(Role.VIEWER))
    assert r.status_code == 200, r.text
    f = r.json()
    assert f["mentees_waiting"] == 1
    assert (f["matches_live"], f["matches_active"], f["matches_paused"]) == (2, 1, 1)
    # Within the last twelve months: three proposed and started, one ended (early) after 60 days.
    assert (f["matches_new"], f["matches_started"], f["matches_ended"], f["matches_ended_early"]) == (
        3,
        3,
        1,
        1,
    )
    assert f["average_duration_days"] == 60.0
    assert f["average_days_to_start"] == pytest.approx((10 + 10 + 10) / 3)
    assert (f["meetings"], f["meeting_hours"], f["volunteer_hours"]) == (2, 2.0, 2.5)

    r = await client.get(
        f"/api/v1/orgs/{org_a.slug}/reports/key-figures",
        params={"from": long_ago.isoformat(), "to": (long_ago + timedelta(days=200)).isoformat()},
        headers=org_a.auth(Role.VIEWER),
    )
    assert (r.json()["matches_ended"], r.json()["meetings"], r.json()["meeting_hours"]) == (1, 1, 10.0)

    r = await client.get(
        f"/api/v1/orgs/{org_a.slug}/reports/key-figures",
        params={"from": today.isoformat(), "to": long_ago.isoformat()},
        headers=org_a.auth(),
    )
    assert r.status_code == 422 and r.json()["field"] == "from"
    r = await client.get(
        f"/api/v1/orgs/{org_a.slug}/reports/key-figures", params={"from": "gestern"}, headers=org_a.auth()
    )
    assert r.status_code == 422 and r.json()["field"] == "from"


async def test_another_organisations_figures_do_not_count(
    client: AsyncTestClient[Any], db: Database, org_a: Org, org_b: Org
) -> None:
    b_api = ContactsApi(client, org_b)
    await b_api.create(kinds=["mentee"], first_name="Bea", last_name="Anders", status="ready")
    r = await client.get(f"/api/v1/orgs/{org_a.slug}/reports/key-figures", headers=org_a.auth())
    assert r.json()["mentees_waiting"] == 0


@pytest.fixture
async def browser(servers: Servers, smtp_port: int) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(make_settings(servers, smtp_port, env="development", dev_signin=True))
    async with AsyncTestClient(app=app) as c:
        yield c


async def test_the_reports_page_shows_the_figures_in_german(
    browser: AsyncTestClient[Any], db: Database
) -> None:
    org = await create_org(db)
    await dev_sign_in(browser, org, f"owner@{org.slug}.example")
    page = await browser.get(f"/o/{org.slug}/reports")
    assert page.status_code == 200
    assert "Kennzahlen" in page.text and "Wartende Mentees" in page.text
    page = await browser.get(f"/o/{org.slug}/reports", params={"from": "2026-05-01", "to": "2025-01-01"})
    assert page.status_code == 200 and "Zeitraum" in page.text
