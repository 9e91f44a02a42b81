"""A person's erasure reaches every domain: matches, tasks, the outbox (besides contacts' own tables)."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from shared import clock, outbox
from shared.db import Database
from shared.matching.models import CheckIn, Match, Meeting
from shared.permissions import Role
from tests.conftest import Org
from tests.contacts.test_gdpr import rows_mentioning, superuser  # noqa: F401 (fixture)
from tests.fixtures.contacts import ContactsApi

NEEDLES = ["Wendelin", "Quastenberger", "wendelin.quastenberger"]


async def test_erasure_clears_matches_tasks_and_mail_that_name_the_person(
    client: AsyncTestClient[Any],
    db: Database,
    org_a: Org,
    contacts_api: ContactsApi,
    superuser: asyncpg.Connection,  # noqa: F811
) -> None:
    person = await contacts_api.create(
        first_name="Wendelin", last_name="Quastenberger", email="wendelin.quastenberger@beispiel.example"
    )
    mentor = await contacts_api.create(kinds=["mentor"], first_name="Maria", last_name="Mentorin")
    other = await contacts_api.create(kinds=["mentee"], first_name="Olga", last_name="Andere")
    async with db.tenant(org_a.id) as session:
        match = Match(
            organization_id=org_a.id, mentor_id=mentor["id"], mentee_id=person["id"], status="active"
        )
        other_match = Match(organization_id=org_a.id, mentor_id=mentor["id"], mentee_id=other["id"])
        session.add_all([match, other_match])
        await session.flush()
        today, org = clock.today(), org_a.id
        session.add_all([
            CheckIn(organization_id=org, match_id=match.id, occurred_on=today, channel="phone", rating=4,
                    notes="Wendelin erzählt von der Schule"),
            Meeting(organization_id=org, match_id=match.id, occurred_on=today, duration_minutes=60,
                    volunteer_minutes=60, activity="Zoo mit Wendelin", notes="schön"),
            CheckIn(organization_id=org, match_id=other_match.id, occurred_on=today, channel="phone",
                    rating=3, notes="Olga kennt Wendelin Quastenberger aus der Schule"),
        ])  # fmt: skip
        await outbox.enqueue(
            session,
            org_a.id,
            kind="test",
            to="wendelin.quastenberger@beispiel.example",
            subject="Hallo Wendelin",
            body_text="Hallo Wendelin Quastenberger",
        )
        await outbox.enqueue(
            session,
            org_a.id,
            kind="test",
            to="koordination@verein.example",
            subject="Neue Anmeldung",
            body_text="Wendelin Quastenberger hat sich angemeldet",
        )
    api = f"/api/v1/orgs/{org_a.slug}"
    r = await client.post(
        f"{api}/tasks",
        json={
            "title": "Wendelin Quastenberger anrufen",
            "due_date": "2026-12-01",
            "contact_id": person["id"],
        },
        headers=org_a.auth(),
    )
    assert r.status_code == 201, r.text
    task_id = r.json()["id"]
    r = await client.post(
        f"{api}/tasks/{task_id}/comments", json={"body": "Mutter von Wendelin sagt ja"}, headers=org_a.auth()
    )
    assert r.status_code == 201, r.text

    export = (await client.get(f"{api}/contacts/{person['id']}/export", headers=org_a.auth())).json()
    assert export["domains"]["matching"]["check_ins"][0]["notes"] == "Wendelin erzählt von der Schule"
    assert export["domains"]["tasks"]["tasks"][0]["title"] == "Wendelin Quastenberger anrufen"
    assert export["domains"]["core"]["emails"][0]["subject"] == "Hallo Wendelin"

    assert await rows_mentioning(superuser, NEEDLES)
    r = await client.post(f"{api}/contacts/{person['id']}/erase", headers=org_a.auth(Role.ADMIN))
    assert r.status_code == 200, r.text
    leaks = [hit for hit in await rows_mentioning(superuser, NEEDLES) if hit[0] != "outbox_attempts"]
    assert leaks == []
    # What counts stays: the match, its meeting minutes, the task.
    async with db.tenant(org_a.id) as session:
        kept = await session.get(Match, (org_a.id, match.id))
        assert kept is not None and kept.status == "active"
    task = (await client.get(f"{api}/tasks/{task_id}", headers=org_a.auth())).json()
    assert task["status"] == "open" and "Wendelin" not in task["title"]
