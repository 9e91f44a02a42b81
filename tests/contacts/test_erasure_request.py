"""Erasure cannot be undone: admins erase, coordinators ask them to through a task."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from shared.db import Database
from shared.permissions import Role
from tests.conftest import Org
from tests.fixtures.contacts import ContactsApi
from tests.fixtures.tasks import add_member, csrf_of, sign_in


async def test_a_coordinator_cannot_erase_but_asks_an_admin_through_a_task(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    admin = await add_member(db, org_a, role="admin")
    person = await contacts_api.create(first_name="Greta", last_name="Gärtner")
    base = f"/api/v1/orgs/{org_a.slug}/contacts/{person['id']}"
    coordinator = org_a.auth(Role.COORDINATOR)

    refused = await client.post(f"{base}/erase", headers=coordinator)
    assert refused.status_code == 403 and "person:erase" in refused.json()["detail"]

    r = await client.post(
        f"{base}/erase-request", json={"reason": "Bitte per Mail am 3. März"}, headers=coordinator
    )
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["title"] == "Löschung beantragt: Greta Gärtner"
    assert task["assignee_id"] == str(admin.id) and task["contact_id"] == person["id"]
    assert task["priority"] == "high"
    detail = (await client.get(f"/api/v1/orgs/{org_a.slug}/tasks/{task['id']}", headers=org_a.auth())).json()
    assert "Bitte per Mail am 3. März" in detail["description"]
    assert (await client.get(base, headers=coordinator)).json()["erased"] is False

    assert (
        await client.post(f"{base}/erase-request", json={}, headers=org_a.auth(Role.VIEWER))
    ).status_code == 403
    assert (await client.post(f"{base}/erase", headers=org_a.auth())).status_code == 200
    assert (await client.post(f"{base}/erase-request", json={}, headers=coordinator)).status_code == 409


async def test_the_contact_page_offers_coordinators_a_request_and_admins_the_erasure(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    person = (
        await browserless.post(
            f"/api/v1/orgs/{org_a.slug}/contacts",
            json={"kinds": ["mentee"], "first_name": "Hanna", "last_name": "Hecht"},
            headers=org_a.auth(Role.COORDINATOR),
        )
    ).json()
    coordinator = await add_member(db, org_a, role="coordinator")
    await sign_in(browserless, coordinator)
    page = await browserless.get(f"/o/{org_a.slug}/contacts/{person['id']}")
    assert "Löschung beantragen" in page.text and "Jetzt löschen" not in page.text
    r = await browserless.post(
        f"/o/{org_a.slug}/contacts/{person['id']}/erase-request",
        data={"_csrf": csrf_of(page.text), "reason": "Wunsch der Familie"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "/tasks/" in r.headers["location"]
    task_page = await browserless.get(r.headers["location"])
    assert "Löschung beantragt: Hanna Hecht" in task_page.text and "Wunsch der Familie" in task_page.text
    refused = await browserless.post(
        f"/o/{org_a.slug}/contacts/{person['id']}/erase",
        data={"_csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert refused.status_code == 403

    browserless.cookies.clear()
    await sign_in(browserless, await add_member(db, org_a, role="admin"))
    page = await browserless.get(f"/o/{org_a.slug}/contacts/{person['id']}")
    assert "Jetzt löschen" in page.text and "Löschung beantragen" not in page.text


async def test_an_english_speaking_admin_reads_the_request_in_english(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    await add_member(db, org_a, role="admin", locale="en")
    person = await contacts_api.create(first_name="Greta", last_name="Gärtner")
    base = f"/api/v1/orgs/{org_a.slug}/contacts/{person['id']}"
    r = await client.post(
        f"{base}/erase-request", json={"reason": "family wish"}, headers=org_a.auth(Role.COORDINATOR)
    )
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "Erasure requested: Greta Gärtner"
    task = f"/api/v1/orgs/{org_a.slug}/tasks/{r.json()['id']}"
    detail = (await client.get(task, headers=org_a.auth())).json()
    assert "asks to erase this person's data for good (Art. 17 GDPR)" in detail["description"]
    assert "Reason: family wish" in detail["description"] and "Begründung" not in detail["description"]
