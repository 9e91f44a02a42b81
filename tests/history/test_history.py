"""The change history: who changed, exported or erased what, with old and new values, for admins."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from shared import clock
from shared.contacts import service
from shared.contacts.schemas import ContactPatch
from shared.db import Database
from shared.history.models import HistoryEntry
from shared.history.service import REDACTED
from shared.permissions import Role
from tests.conftest import Org
from tests.fixtures.contacts import ContactsApi
from tests.fixtures.intake import IntakeApi
from tests.fixtures.matching import MatchingApi
from tests.fixtures.tasks import add_member, sign_in


async def history(client: AsyncTestClient[Any], org: Org, role: Role = Role.ADMIN, **params: Any) -> Any:
    r = await client.get(f"/api/v1/orgs/{org.slug}/history", params=params, headers=org.auth(role))
    return r


async def test_changes_to_a_person_are_recorded_with_who_and_the_old_and_new_values(
    client: AsyncTestClient[Any], org_a: Org, contacts_api: ContactsApi
) -> None:
    person = await contacts_api.create(first_name="Paula", last_name="Pfeiffer", email="paula@example.org")
    other = await contacts_api.create(first_name="Otto", last_name="Pfeiffer", kinds=["guardian"])
    base = f"/api/v1/orgs/{org_a.slug}/contacts/{person['id']}"
    coordinator = org_a.auth(Role.COORDINATOR)
    r = await client.patch(
        base, json={"email": "p.pfeiffer@example.org", "tags": ["Lesen"]}, headers=coordinator
    )
    assert r.status_code == 200
    # A change that changes nothing, and one that is refused, leave no entry.
    assert (
        await client.patch(base, json={"email": "p.pfeiffer@example.org"}, headers=coordinator)
    ).status_code == 200
    assert (
        await client.patch(base, json={"email": "not an address"}, headers=coordinator)
    ).status_code == 422
    await client.post(f"{base}/consents", json={"purpose": "photos", "status": "given"}, headers=coordinator)
    await client.post(f"{base}/timeline", json={"body": "Erstgespräch geführt"}, headers=coordinator)
    await client.post(
        f"{base}/links", json={"related_id": other["id"], "kind": "guardian_of"}, headers=coordinator
    )

    r = await history(client, org_a, contact_id=person["id"])
    assert r.status_code == 200
    entries = r.json()["items"]
    assert [(e["entity"], e["action"]) for e in entries] == [
        ("link", "created"),
        ("activity", "created"),
        ("consent", "created"),
        ("contact", "changed"),
        ("contact", "created"),
    ]
    changed = entries[3]
    assert changed["changes"] == {
        "email": ["paula@example.org", "p.pfeiffer@example.org"],
        "tags": [[], ["Lesen"]],
    }
    assert changed["actor_kind"] == "token" and changed["actor"] == "API token coordinator token"
    assert entries[4]["changes"]["first_name"] == [None, "Paula"]
    assert entries[0]["contact_ids"] == [person["id"], other["id"]]

    for role in (Role.COORDINATOR, Role.VIEWER):
        assert (await history(client, org_a, role)).status_code == 403


async def test_a_change_and_its_entry_are_written_together_or_not_at_all(
    db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    person = await contacts_api.create(first_name="Rolf", last_name="Rückwärts", city="Altstadt")

    async def entries() -> int:
        async with db.tenant(org_a.id) as session:
            query = select(func.count()).select_from(HistoryEntry)
            return int((await session.execute(query)).scalar_one())

    before = await entries()
    with pytest.raises(RuntimeError):
        async with db.tenant(org_a.id) as session:
            await service.update_contact(session, uuid.UUID(person["id"]), ContactPatch(city="Neustadt"))
            assert await entries() == before  # not visible outside the transaction yet
            raise RuntimeError("the request failed after the change")
    assert await entries() == before
    assert (await contacts_api.get(f"/contacts/{person['id']}"))["city"] == "Altstadt"


async def test_matches_screening_forms_and_exports_are_recorded(
    client: AsyncTestClient[Any], org_a: Org, matching: MatchingApi, intake: IntakeApi
) -> None:
    mentor = await matching.person("mentor", "Mira")
    mentee = await matching.person("mentee", "Mats")
    match = await matching.propose(mentor, mentee)
    await matching.move(match["id"], to="introduced")
    entries = (await history(client, org_a, match_id=match["id"])).json()["items"]
    assert [(e["entity"], e["action"]) for e in entries] == [("match", "changed"), ("match", "created")]
    assert entries[0]["changes"]["status"] == ["proposed", "introduced"]
    assert entries[0]["contact_ids"] == [mentor, mentee]

    programme = await intake.programme()
    steps = await intake.steps(programme)
    person = await intake.person("mentor", "Ida", programme)
    record = {"contact_id": person, "step_id": steps["interview"], "outcome": "passed", "note": "offen"}
    await intake.call("POST", "/screening/records", json=record, expect=201)
    certificate: dict[str, Any] = {"contact_id": person, "seen": True, "issued_on": clock.today().isoformat()}
    await intake.call(
        "POST", "/screening/certificates", json={**certificate, "has_relevant_entries": False}, expect=201
    )
    await intake.call("PATCH", f"/screening/people/{person}", json={"protection_notes": "Hinweis"})
    await intake.call("GET", f"/contacts/{person}/export")
    kinds = [
        (e["entity"], e["action"]) for e in (await history(client, org_a, contact_id=person)).json()["items"]
    ]
    assert kinds[:4] == [
        ("contact", "exported"),
        ("intake_profile", "changed"),
        ("certificate", "created"),
        ("screening_record", "created"),
    ]

    form = await intake.call(
        "POST",
        "/forms",
        json={"programme_id": programme, "slug": "paten", "audience": "mentor", "title_de": "Pat:in werden",
              "title_en": "Become a mentor"},
        expect=201,
    )  # fmt: skip
    await intake.call("PATCH", f"/forms/{form['id']}", json={"title_de": "Jetzt Pat:in werden"})
    changed = (await history(client, org_a, entity="form", action="changed")).json()["items"]
    assert changed[0]["changes"] == {"title_de": ["Pat:in werden", "Jetzt Pat:in werden"]}


async def test_erasure_keeps_that_things_changed_but_not_the_values(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    person = await contacts_api.create(
        first_name="Wiebke", last_name="Wunderlich", email="wiebke@example.org"
    )
    base = f"/api/v1/orgs/{org_a.slug}/contacts/{person['id']}"
    await client.patch(base, json={"city": "Wunderstadt"}, headers=org_a.auth(Role.COORDINATOR))
    assert (await client.post(f"{base}/erase", headers=org_a.auth())).status_code == 200

    entries = (await history(client, org_a, contact_id=person["id"])).json()["items"]
    assert [(e["entity"], e["action"]) for e in entries] == [
        ("contact", "erased"),
        ("contact", "changed"),
        ("contact", "created"),
    ]
    assert entries[0]["actor"] == "API token admin token"
    assert entries[1]["changes"] == {"city": [None, REDACTED]} and entries[1]["scrubbed"]
    assert entries[2]["changes"]["email"] == [None, REDACTED]
    async with db.tenant(org_a.id) as session:
        rows = (await session.execute(select(HistoryEntry))).scalars().all()
    text = repr([(r.changes, r.details, r.target) for r in rows])
    assert "Wiebke" not in text and "Wunderstadt" not in text and "wiebke@" not in text


async def test_admins_read_a_record_s_history_on_its_page_and_search_the_log(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    api = ContactsApi(browserless, org_a)
    person = await api.create(first_name="Hedda", last_name="Hubert", email="hedda@example.org")
    changed = await browserless.patch(
        f"/api/v1/orgs/{org_a.slug}/contacts/{person['id']}",
        json={"email": "hedda.hubert@example.org", "legal_hold": True, "status": "ready"},
        headers=org_a.auth(),
    )
    assert changed.status_code == 200, changed.text
    coordinator = await add_member(db, org_a, role="coordinator")
    await sign_in(browserless, coordinator)
    page = await browserless.get(f"/o/{org_a.slug}/contacts/{person['id']}")
    assert page.status_code == 200 and "Änderungsverlauf" not in page.text
    assert (await browserless.get(f"/o/{org_a.slug}/history")).status_code == 403

    browserless.cookies.clear()
    admin = await add_member(db, org_a, role="admin")
    await sign_in(browserless, admin)
    page = (await browserless.get(f"/o/{org_a.slug}/contacts/{person['id']}")).text
    assert "Änderungsverlauf" in page
    assert "Kontakt geändert" in page and "Kontakt angelegt" in page
    # German labels of fields and values, never the stored keys.
    assert "E-Mail" in page and "hedda@example.org" in page and "hedda.hubert@example.org" in page
    assert "Aufbewahrungspflicht" in page and ">ja<" in page
    assert "legal_hold" not in page and "first_name" not in page
    assert "API token admin token" in page and "interessiert" in page and "bereit" in page

    log = await browserless.get(f"/o/{org_a.slug}/history", params={"person": "Hubert"})
    assert log.status_code == 200 and "Kontakt geändert" in log.text
    assert "Hedda" in log.text
    nobody = await browserless.get(f"/o/{org_a.slug}/history", params={"person": "Niemand Unbekannt"})
    assert "Kein Kontakt passt zu diesem Namen." in nobody.text and "Kontakt geändert" not in nobody.text
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    later = await browserless.get(f"/o/{org_a.slug}/history", params={"since": tomorrow})
    assert "Noch nichts aufgezeichnet." in later.text
    changed = await browserless.get(f"/o/{org_a.slug}/history", params={"action": "changed"})
    assert "Kontakt geändert" in changed.text and "Kontakt angelegt" not in changed.text
    by_member = await browserless.get(f"/o/{org_a.slug}/history", params={"member_id": str(admin.id)})
    assert "Kontakt geändert" not in by_member.text  # the changes were made by a token
    assert (await browserless.get(f"/o/{org_a.slug}/history", params={"since": "gestern"})).status_code == 422


async def test_deleting_a_contact_leaves_no_personal_value_in_its_history(
    client: AsyncTestClient[Any], org_a: Org, contacts_api: ContactsApi
) -> None:
    person = await contacts_api.create(first_name="Dora", last_name="Doppelt", phone="+49 170 1112223")
    base = f"/api/v1/orgs/{org_a.slug}/contacts/{person['id']}"
    assert (await client.delete(base, headers=org_a.auth(Role.COORDINATOR))).status_code == 204
    entries = (await history(client, org_a, contact_id=person["id"])).json()["items"]
    assert [(e["entity"], e["action"]) for e in entries] == [("contact", "deleted"), ("contact", "created")]
    assert entries[0]["changes"]["phone"] == [REDACTED, None]
    assert "Dora" not in repr(entries) and "1112223" not in repr(entries)


async def test_custom_field_definitions_and_the_retention_rule_are_recorded(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    base = f"/api/v1/orgs/{org_a.slug}/contacts"
    made = await client.post(
        f"{base}/fields",
        json={"key": "schule", "label_de": "Schule", "label_en": "School", "type": "text"},
        headers=org_a.auth(),
    )
    assert made.status_code == 201, made.text
    await client.patch(
        f"{base}/fields/{made.json()['id']}", json={"label_de": "Schule/Kita"}, headers=org_a.auth()
    )
    await client.patch(f"{base}/settings", json={"retention_months": 24}, headers=org_a.auth())
    fields = (await history(client, org_a, entity="custom_field")).json()["items"]
    assert [(e["action"], e["changes"].get("label_de")) for e in fields] == [
        ("changed", ["Schule", "Schule/Kita"]),
        ("created", [None, "Schule"]),
    ]
    rule = (await history(client, org_a, entity="contact_settings")).json()["items"]
    assert rule[0]["changes"]["retention_months"] == [None, 24]


async def test_one_organisations_history_never_shows_in_anothers(
    client: AsyncTestClient[Any], db: Database, org_a: Org, org_b: Org
) -> None:
    person_b = await ContactsApi(client, org_b).create(first_name="Bruno", last_name="Beyer")
    await ContactsApi(client, org_a).create(first_name="Anna", last_name="Arndt")
    # A's admin asks A's log about B's person: nothing, as for a person that does not exist.
    r = await history(client, org_a, contact_id=person_b["id"])
    assert r.status_code == 200 and r.json()["items"] == []
    everything = await history(client, org_a)
    assert "Beyer" not in everything.text and "Bruno" not in everything.text
    # The runtime role under A's organisation sees not one of B's rows.
    async with db.tenant(org_a.id) as session:
        foreign = await session.scalar(
            select(func.count()).select_from(HistoryEntry).where(HistoryEntry.organization_id == org_b.id)
        )
    assert foreign == 0
    async with db.tenant(org_b.id) as session:
        own = await session.scalar(select(func.count()).select_from(HistoryEntry))
    assert own and own > 0
