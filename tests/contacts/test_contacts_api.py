"""The contacts API: the contract integrators rely on, validation, roles, search and filters."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from shared.contacts import service
from shared.contacts.models import SearchTerm
from shared.db import Database
from shared.history.models import HistoryEntry
from shared.permissions import Role
from tests.conftest import Org
from tests.fixtures.contacts import ContactsApi

CONTRACT_BODY = {
    "kinds": ["mentee"],
    "first_name": "Leyla",
    "last_name": "Özdemir",
    "email": "Leyla.Oezdemir@Example.org",
    "phone": "+49 171 2345678",
    "postal_code": "10115",
    "birth_date": "2012-03-04",
    "languages": ["de", "ar"],
    "tags": ["Lesen", "Mathe"],
}


async def test_create_read_update_delete_as_the_contract_says(
    client: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    base = f"/api/v1/orgs/{org_a.slug}/contacts"
    r = await client.post(base, json=CONTRACT_BODY, headers=org_a.auth(Role.COORDINATOR))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["id"] and created["email"] == "leyla.oezdemir@example.org"
    assert created["languages"] == ["de", "ar"] and created["birth_date"] == "2012-03-04"
    assert created["capacity"] == 1 and created["status"] == "interested"
    assert created["missing_consents"] == ["data_processing"]

    r = await client.get(f"{base}/{created['id']}", headers=org_a.auth(Role.VIEWER))
    assert r.status_code == 200 and r.json()["last_name"] == "Özdemir"

    r = await client.patch(
        f"{base}/{created['id']}",
        json={"status": "ready", "availability": ["tue-evening", "sat-morning"], "postal_code": None},
        headers=org_a.auth(Role.COORDINATOR),
    )
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["status"] == "ready" and patched["waiting_since"] is not None
    assert patched["availability"] == ["tue-evening", "sat-morning"] and patched["postal_code"] is None
    assert patched["first_name"] == "Leyla", "fields not sent stay as they were"

    async def terms() -> list[str]:
        async with db.tenant(org_a.id) as session:
            found = await session.execute(
                select(SearchTerm.term).where(SearchTerm.contact_id == created["id"])
            )
            return sorted(found.scalars())

    assert {"leyla", "oezdemir", "ozdemir", "#lesen", "01712345678"} <= set(await terms())
    # Renamed: found by the new name.
    r = await client.patch(
        f"{base}/{created['id']}", json={"last_name": "Y\u0131lmaz"}, headers=org_a.auth(Role.COORDINATOR)
    )
    assert r.status_code == 200, r.text
    found = await client.get(base, params={"q": "yilmaz"}, headers=org_a.auth())
    assert [c["id"] for c in found.json()["items"]] == [created["id"]]
    assert {"yilmaz", "leyla"} <= set(await terms())
    r = await client.delete(f"{base}/{created['id']}", headers=org_a.auth(Role.COORDINATOR))
    assert r.status_code == 204
    r = await client.get(f"{base}/{created['id']}", headers=org_a.auth())
    assert r.status_code == 404
    assert await terms() == [], "the search index forgets a deleted contact"


async def test_a_change_to_the_values_a_contact_has_writes_nothing(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    contact = await contacts_api.create(first_name="Mara", last_name="Gleich", city="Kiel")
    url = f"/api/v1/orgs/{org_a.slug}/contacts/{contact['id']}"
    coordinator = org_a.auth(Role.COORDINATOR)

    async def entries() -> int:
        async with db.tenant(org_a.id) as session:
            found = select(func.count()).where(HistoryEntry.entity_id == contact["id"])
            return int((await session.execute(found)).scalar_one())

    before, logged = (await client.get(url, headers=coordinator)).json(), await entries()
    same = await client.patch(url, json={"city": "Kiel", "first_name": "Mara"}, headers=coordinator)
    assert same.status_code == 200, same.text
    assert same.json() == before, "the answer is the contact as it was, updated_at included"
    assert await entries() == logged, "no history entry for a change that changed nothing"

    moved = await client.patch(url, json={"city": "Lübeck"}, headers=coordinator)
    assert moved.status_code == 200, moved.text
    stamped = datetime.fromisoformat(moved.json()["updated_at"])
    assert moved.json()["city"] == "Lübeck" and stamped > datetime.fromisoformat(before["updated_at"])
    assert await entries() == logged + 1
    assert (await client.get(url, headers=coordinator)).json() == moved.json()


async def test_bad_values_get_a_problem_naming_the_field_and_write_nothing(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    base = f"/api/v1/orgs/{org_a.slug}/contacts"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"languages": ["xx"]}, "languages"),
        ({"languages": ["Deutsch"]}, "languages"),
        ({"availability": ["tuesday-night"]}, "availability"),
        ({"email": "not-an-address"}, "email"),
        ({"kinds": ["boss"]}, "kinds"),
        ({"kinds": []}, "kinds"),
        ({"birth_date": "01.02.2010"}, "birth_date"),
        ({"gender": "x"}, "gender"),
        ({"status": "happy"}, "status"),
        ({"capacity": -1}, "capacity"),
        ({"phone": "call me"}, "phone"),
        ({"first_name": "", "last_name": ""}, "last_name"),
        ({"owner_membership_id": "01900000-0000-7000-8000-000000000000"}, "owner_membership_id"),
    ]
    for change, field in cases:
        body = {**CONTRACT_BODY, **change}
        r = await client.post(base, json=body, headers=org_a.auth(Role.COORDINATOR))
        assert r.status_code in (400, 422), (change, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == field, (change, r.json())
    r = await client.post(base, json={**CONTRACT_BODY, "unknown": 1}, headers=org_a.auth())
    assert r.status_code == 400 and "`unknown`" in r.json()["detail"]
    listed = (await client.get(base, headers=org_a.auth())).json()["items"]
    assert listed == []


async def test_viewers_read_but_cannot_change_anything(
    client: AsyncTestClient[Any], org_a: Org, contacts_api: ContactsApi
) -> None:
    contact = await contacts_api.create(first_name="Tom", last_name="Viewer")
    base = f"/api/v1/orgs/{org_a.slug}/contacts"
    viewer = org_a.auth(Role.VIEWER)
    assert (await client.get(f"{base}/{contact['id']}", headers=viewer)).status_code == 200
    attempts = [
        ("POST", base, {"kinds": ["mentor"], "last_name": "X"}),
        ("PATCH", f"{base}/{contact['id']}", {"status": "ready"}),
        ("DELETE", f"{base}/{contact['id']}", None),
        ("POST", f"{base}/{contact['id']}/timeline", {"body": "hi"}),
        ("POST", f"{base}/{contact['id']}/consents", {"purpose": "data_processing", "status": "given"}),
        ("POST", f"{base}/fields", {"key": "x", "label_de": "X", "label_en": "X", "type": "text"}),
        ("POST", f"{base}/programmes", {"name": "Lesepaten"}),
        ("PATCH", f"{base}/settings", {"retention_months": 12}),
    ]
    for method, url, body in attempts:
        r = await client.request(method, url, json=body, headers=viewer)
        assert r.status_code == 403, (method, url, r.text)
    after = (await client.get(f"{base}/{contact['id']}", headers=viewer)).json()
    assert after["status"] == "interested"


async def test_search_finds_umlauts_sharp_s_email_phone_and_tags(contacts_api: ContactsApi) -> None:
    mueller = await contacts_api.create(first_name="Jürgen", last_name="Müller", tags=["Jobpaten"])
    strasse = await contacts_api.create(
        first_name="Anna", last_name="Großmann", email="anna.grossmann@verein.example"
    )
    phone = await contacts_api.create(first_name="Ali", last_name="Y\u0131lmaz", phone="+49 (171) 555-0101")
    await contacts_api.create(first_name="Other", last_name="Person")

    async def found(q: str) -> set[str]:
        return {c["id"] for c in (await contacts_api.get("/contacts", q=q))["items"]}

    for q in ("Müller", "mueller", "muller", "MÜLL", "jürgen müller", "juergen", "jurgen", "jobpat"):
        assert await found(q) == {mueller["id"]}, q
    for q in ("Großmann", "grossmann", "GROSSM", "anna.grossmann@verein.example", "verein.example"):
        assert await found(q) == {strasse["id"]}, q
    for q in ("0171 5550101", "+49 171 5550101", "yilmaz"):
        assert await found(q) == {phone["id"]}, q
    assert await found("nobody") == set()
    assert await found("müller anna") == set(), "every word must match"


async def test_filters_sorting_and_cursor_pages(contacts_api: ContactsApi) -> None:
    names = ["Zander", "Äbel", "Becker", "Özkan", "Schulz", "Meyer", "Kühn"]
    for i, name in enumerate(names):
        await contacts_api.create(
            kinds=["mentor"] if i % 2 else ["mentee"],
            last_name=name,
            status="ready" if i < 3 else "interested",
            tags=["neu"] if i % 3 == 0 else [],
        )
    seen: list[str] = []
    cursor = None
    while True:
        page = await contacts_api.get("/contacts", limit=3, **({"cursor": cursor} if cursor else {}))
        seen += [c["last_name"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["Äbel", "Becker", "Kühn", "Meyer", "Özkan", "Schulz", "Zander"]
    backwards = await contacts_api.get("/contacts", sort="-name", limit=4)
    assert [c["last_name"] for c in backwards["items"]] == ["Zander", "Schulz", "Özkan", "Meyer"]
    rest = await contacts_api.get("/contacts", sort="-name", limit=4, cursor=backwards["next_cursor"])
    assert [c["last_name"] for c in rest["items"]] == ["Kühn", "Becker", "Äbel"]

    mentors = await contacts_api.get("/contacts", kind="mentor")
    assert {c["last_name"] for c in mentors["items"]} == {"Äbel", "Özkan", "Meyer"}
    ready_mentees = await contacts_api.get("/contacts", kind="mentee", status="ready")
    assert {c["last_name"] for c in ready_mentees["items"]} == {"Zander", "Becker"}
    tagged = await contacts_api.get("/contacts", tag="neu")
    assert {c["last_name"] for c in tagged["items"]} == {"Zander", "Özkan", "Kühn"}


async def test_programmes_and_links(
    client: AsyncTestClient[Any], org_a: Org, contacts_api: ContactsApi
) -> None:
    base = f"/api/v1/orgs/{org_a.slug}/contacts"
    r = await client.post(f"{base}/programmes", json={"name": "Lesepaten"}, headers=org_a.auth())
    assert r.status_code == 201
    lesepaten = r.json()["id"]
    r = await client.post(f"{base}/programmes", json={"name": "Lesepaten"}, headers=org_a.auth())
    assert r.status_code == 409
    child = await contacts_api.create(first_name="Mia", last_name="Kind", programme_ids=[lesepaten])
    mother = await contacts_api.create(kinds=["guardian"], first_name="Eva", last_name="Kind")
    await contacts_api.create(first_name="Not", last_name="InProgramme")
    assert [p["name"] for p in child["programmes"]] == ["Lesepaten"]
    listed = await contacts_api.get("/contacts", programme=lesepaten)
    assert [c["id"] for c in listed["items"]] == [child["id"]]

    r = await client.post(
        f"{base}/{mother['id']}/links",
        json={"related_id": child["id"], "kind": "guardian_of"},
        headers=org_a.auth(Role.COORDINATOR),
    )
    assert r.status_code == 201, r.text
    links = await contacts_api.get(f"/contacts/{child['id']}/links")
    assert [(link["kind"], link["contact_name"]) for link in links] == [("guardian_of", "Eva Kind")]


async def test_a_contact_of_another_organisation_is_not_found_in_mine(
    client: AsyncTestClient[Any], org_a: Org, org_b: Org, contacts_api: ContactsApi
) -> None:
    mine = await contacts_api.create(first_name="Mine", last_name="A")
    theirs_api = ContactsApi(client, org_b)
    theirs = await theirs_api.create(first_name="Theirs", last_name="B", email="b@b.example")
    base = f"/api/v1/orgs/{org_a.slug}/contacts"
    for method, url, body in [
        ("GET", f"{base}/{theirs['id']}", None),
        ("PATCH", f"{base}/{theirs['id']}", {"status": "ready"}),
        ("DELETE", f"{base}/{theirs['id']}", None),
        ("GET", f"{base}/{theirs['id']}/timeline", None),
        ("POST", f"{base}/{mine['id']}/merge", {"other_id": theirs["id"]}),
    ]:
        r = await client.request(method, url, json=body, headers=org_a.auth(Role.OWNER))
        assert r.status_code == 404, (method, url, r.text)
    r = await client.post(
        f"{base}/{mine['id']}/links",
        json={"related_id": theirs["id"], "kind": "guardian_of"},
        headers=org_a.auth(),
    )
    assert r.status_code == 422 and "no such contact" in r.json()["detail"]
    # The same e-mail in another organisation is no duplicate here, and says nothing about it.
    twin = await contacts_api.create(first_name="Theirs", last_name="B", email="b@b.example")
    assert twin["possible_duplicates"] == []
    assert (await theirs_api.get(f"/contacts/{theirs['id']}"))["status"] == "interested"
    # The list, unfiltered (read on a bare driver transaction) and filtered (through a session).
    for query in ("", "?sort=-created&limit=5", "?q=Theirs", "?status=interested"):
        r = await client.get(f"{base}{query}", headers=org_a.auth(Role.VIEWER))
        assert r.status_code == 200, (query, r.text)
        assert theirs["id"] not in {c["id"] for c in r.json()["items"]}, query
    r = await client.get(f"/api/v1/orgs/{org_b.slug}/contacts/{theirs['id']}", headers=org_a.auth())
    assert r.status_code == 404, "a token of A names no contact of B, even by B's own slug"
    r = await client.get(f"/api/v1/orgs/{org_b.slug}/contacts", headers=org_a.auth())
    assert r.status_code == 404


async def test_a_contact_reads_the_same_whichever_way_it_is_read(
    client: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    """One contact, one list on the bare driver, a filtered list in a session and the ORM's
    objects all build the same answer, field for field (the driver's rows fill it by position)."""
    base = f"/api/v1/orgs/{org_a.slug}/contacts"
    body = {
        **CONTRACT_BODY,
        "preferred_name": "Lee",
        "organisation_name": "Lesepaten e. V.",
        "city": "Berlin",
        "notes": "Mag Comics",
        "interests": ["Comics", "Fußball"],
        "capacity": 2,
        "custom": {},
    }
    r = await client.post(base, json=body, headers=org_a.auth(Role.COORDINATOR))
    assert r.status_code == 201, r.text
    contact_id = r.json()["id"]
    one = (await client.get(f"{base}/{contact_id}", headers=org_a.auth())).json()
    listed = (await client.get(base, headers=org_a.auth())).json()["items"]
    filtered = (await client.get(base, params={"q": "Lesepaten"}, headers=org_a.auth())).json()["items"]
    async with db.tenant(org_a.id) as session:
        contact = await service.get_contact(session, uuid.UUID(contact_id))
        orm = msgspec.to_builtins((await service.outputs(session, [contact]))[0])
    expected = {
        "preferred_name": "Lee",
        "organisation_name": "Lesepaten e. V.",
        "display_name": "Lesepaten e. V. (Lee Özdemir)",
        "city": "Berlin",
        "postal_code": "10115",
        "phone": "+49 171 2345678",
        "notes": "Mag Comics",
        "capacity": 2,
        "birth_date": "2012-03-04",
        "erased": False,
        "legal_hold": False,
        "missing_consents": ["data_processing"],
    }
    assert {k: one[k] for k in expected} == expected
    assert [c for c in listed if c["id"] == contact_id] == [one]
    assert [c for c in filtered if c["id"] == contact_id] == [one]
    assert {k: v for k, v in orm.items() if k != "possible_duplicates"} == {
        k: v for k, v in one.items() if k != "possible_duplicates"
    }


async def test_a_bad_sort_or_cursor_names_its_field_with_or_without_filters(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    """The unfiltered list runs on the bare driver, a filtered one in a session: both refuse alike."""
    base = f"/api/v1/orgs/{org_a.slug}/contacts"
    for extra in ({}, {"q": "anna"}):
        for params, field in (({"sort": "age"}, "sort"), ({"cursor": "bm90IG91cnM"}, "cursor")):
            r = await client.get(base, params={**params, **extra}, headers=org_a.auth())
            assert r.status_code == 422, (params, extra, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["field"] == field, (params, extra, r.text)
