"""Data protection: a person's export, erasure that leaves no trace of them, the retention rule."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from services.worker.jobs.contacts import run_import
from shared import clock
from shared.contacts import exports as list_exports
from shared.contacts import privacy
from shared.contacts.models import Activity, Contact
from shared.db import Database, plain_url
from shared.permissions import Role
from tests.conftest import Org, Servers
from tests.contacts.test_imports import upload
from tests.fixtures.contacts import ContactsApi

# Values that occur nowhere else, so finding one anywhere after the erasure is a leak.
PERSON = {
    "first_name": "Zoltán",
    "last_name": "Quenzelbrück",
    "preferred_name": "Zolti",
    "email": "zoltan.quenzelbrueck@beispiel.example",
    "phone": "+49 176 98765432",
    # The scan reads every table, other tests' rows too: a postal code no other test uses, with a
    # leading zero, so that no transaction id, counter or fraction of a second reads as it.
    "postal_code": "07743",
    "city": "Kleinquenzel",
    "birth_date": "2011-07-13",
    "tags": ["Quenzeltag"],
    "interests": ["Quenzelfußball"],
    "notes": "Quenzel-Notiz über die Familie",
}
NEEDLES = ["Zoltán", "Quenzelbrück", "Zolti", "zoltan.quenzelbrueck", "98765432", "07743", "Kleinquenzel",
           "2011-07-13", "Quenzeltag", "Quenzelfußball", "Quenzel-Notiz", "Quenzelmutter", "quenzelbrueck",
           "Geheimnis-Quenzel"]  # fmt: skip

_HEX = re.compile(r"\\+x[0-9a-f]+")


@pytest.fixture
async def superuser(servers: Servers) -> AsyncIterator[asyncpg.Connection]:
    # Only a superuser sees past row-level security: the scan must see every row of every table.
    database = make_url(plain_url(servers.app_url)).database
    url = make_url(plain_url(servers.superuser_url)).set(database=database)
    conn = await asyncpg.connect(url.render_as_string(hide_password=False))
    yield conn
    await conn.close()


def _found(needle: str, text: str) -> bool:
    """A needle of digits only counts as a number of its own, not as part of a longer one (an id,
    a timestamp's fraction of a second)."""
    if needle.isdigit():
        return re.search(rf"(?<![0-9]){needle}(?![0-9])", text) is not None
    return needle in text


async def rows_mentioning(conn: asyncpg.Connection, needles: list[str]) -> list[tuple[str, str]]:
    tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    hits = []
    for (table,) in tables:
        for row in await conn.fetch(f'SELECT t::text AS row FROM "{table}" t'):
            text = row["row"].lower()
            # bytea columns (uploaded files, exports) show as hex: a needle of digits only would
            # be found in any long enough hex dump, so plain needles are looked for outside them.
            plain = _HEX.sub("", text)
            for needle in needles:
                if _found(needle.lower(), plain) or needle.encode().hex() in text:
                    hits.append((table, needle))
    return hits


async def test_erasure_leaves_no_personal_data_in_any_table_and_counts_stay(
    client: AsyncTestClient[Any],
    db: Database,
    org_a: Org,
    contacts_api: ContactsApi,
    superuser: asyncpg.Connection,
) -> None:
    base = f"/api/v1/orgs/{org_a.slug}/contacts"
    await client.post(
        f"{base}/fields",
        json={"key": "schule", "label_de": "Schule", "label_en": "School", "type": "text"},
        headers=org_a.auth(),
    )
    await client.post(
        f"{base}/fields",
        json={"key": "klasse", "label_de": "Klasse", "label_en": "Grade", "type": "number"},
        headers=org_a.auth(),
    )
    person = await contacts_api.create(**PERSON, custom={"schule": "Quenzelbrück-Schule", "klasse": 5})
    mentor = await contacts_api.create(kinds=["mentor"], first_name="Maria", last_name="Mentorin")
    pid = person["id"]
    auth = org_a.auth(Role.COORDINATOR)
    await client.post(
        f"{base}/{pid}/timeline", json={"kind": "meeting", "body": "Treffen mit Zolti im Park"}, headers=auth
    )
    await client.post(
        f"{base}/{pid}/timeline", json={"body": "Geheimnis-Quenzel", "confidential": True}, headers=auth
    )
    await client.post(
        f"{base}/{mentor['id']}/timeline",
        json={"kind": "call", "body": "Sprach über Zoltán Quenzelbrück, alles gut"},
        headers=auth,
    )
    await client.post(
        f"{base}/{pid}/consents",
        json={
            "purpose": "data_processing",
            "status": "given",
            "given_by": "Quenzelmutter",
            "evidence": "Bogen",
        },
        headers=auth,
    )
    # An import that updated them (its report names them) and a list export that holds them.
    sheet = (
        "Vorname;Nachname;E-Mail;Sprachen;Rolle\n"
        "Zoltán;Quenzelbrück;zoltan.quenzelbrueck@beispiel.example;hu;Mentee\n"
    )
    r = await upload(client, org_a, sheet.encode(), "nachtrag.csv")
    assert r.json()["rows"][0]["action"] == "update"
    await client.post(f"/api/v1/orgs/{org_a.slug}/imports/{r.json()['id']}/commit", headers=auth)
    assert await run_import({"db": db}, str(org_a.id), r.json()["id"]) == "done"
    pending = await upload(client, org_a, sheet.encode(), "nochmal.csv")
    assert pending.status_code == 201
    async with db.tenant(org_a.id) as session:
        export = await list_exports.create_export(
            session, org_a.id, list_exports.ExportIn(format="csv"), "test"
        )
        await list_exports.build(session, export.id)
    found = await rows_mentioning(superuser, NEEDLES)
    assert ("contacts", "07743") in found, "the scan finds the person, postal code too, before the erasure"

    async def counts() -> tuple[int, int, int]:
        async with db.tenant(org_a.id) as session:
            contacts = (await session.execute(select(func.count()).select_from(Contact))).scalar_one()
            mentees = (
                await session.execute(
                    select(func.count()).select_from(Contact).where(Contact.kinds.contains(["mentee"]))
                )
            ).scalar_one()
            meetings = (await session.execute(select(func.count()).select_from(Activity))).scalar_one()
        return contacts, mentees, meetings

    before = await counts()
    r = await client.post(f"{base}/{pid}/erase", headers=org_a.auth(Role.COORDINATOR))
    assert r.status_code == 403, "coordinators cannot erase"
    r = await client.post(f"{base}/{pid}/erase", headers=org_a.auth(Role.ADMIN))
    assert r.status_code == 200, r.text
    erased = r.json()
    assert erased["erased"] and erased["first_name"] == "" and erased["email"] is None
    assert (
        erased["kinds"] == ["mentee"] and erased["age_group"] == "14-17" and erased["custom"] == {"klasse": 5}
    )
    assert erased["languages"] == ["hu"]

    assert await rows_mentioning(superuser, NEEDLES) == []
    assert await counts() == before, "statistics keep counting the person and their meetings"
    mentor_calls = await contacts_api.get(f"/contacts/{mentor['id']}/timeline")
    assert mentor_calls["items"][0]["body"] == "Sprach über [gelöscht], alles gut"
    assert (await contacts_api.get("/contacts", q="Quenzelbrück"))["items"] == []


async def test_a_legal_hold_stops_erasure_and_deletion(
    client: AsyncTestClient[Any], org_a: Org, contacts_api: ContactsApi
) -> None:
    person = await contacts_api.create(first_name="Hold", last_name="Fast")
    url = f"/api/v1/orgs/{org_a.slug}/contacts/{person['id']}"
    r = await client.patch(url, json={"legal_hold": True}, headers=org_a.auth(Role.COORDINATOR))
    assert r.status_code == 403, "only admins set a legal hold"
    r = await client.patch(
        url, json={"legal_hold": True, "legal_hold_reason": "Verfahren"}, headers=org_a.auth()
    )
    assert r.status_code == 200 and r.json()["legal_hold"]
    r = await client.post(f"{url}/erase", headers=org_a.auth())
    assert r.status_code == 409 and r.json()["field"] == "legal_hold"
    assert (await client.delete(url, headers=org_a.auth())).status_code == 409
    assert (await client.get(url, headers=org_a.auth())).json()["last_name"] == "Fast"


async def test_the_export_of_a_person_holds_all_their_data(
    client: AsyncTestClient[Any], org_a: Org, contacts_api: ContactsApi
) -> None:
    person = await contacts_api.create(first_name="Ayşe", last_name="Kaya", email="ayse@example.org")
    base = f"/api/v1/orgs/{org_a.slug}/contacts/{person['id']}"
    await client.post(
        f"{base}/timeline", json={"body": "vertraulich <b>", "confidential": True}, headers=org_a.auth()
    )
    await client.post(
        f"{base}/consents", json={"purpose": "photos", "status": "withdrawn"}, headers=org_a.auth()
    )
    r = await client.get(f"{base}/export", headers=org_a.auth())
    assert r.status_code == 200
    data = r.json()
    assert data["contact"]["email"] == "ayse@example.org"
    assert [t["text"] for t in data["timeline"]] == ["vertraulich <b>"]
    # A coordinator's export holds no more than their timeline shows: not the admin's confidential note.
    r = await client.get(f"{base}/export", headers=org_a.auth(Role.COORDINATOR))
    assert r.status_code == 200 and r.json()["timeline"] == []
    assert [(c["purpose"], c["status"]) for c in data["consents"]] == [("photos", "withdrawn")]
    # Every domain with a privacy module adds what it keeps about the person.
    assert set(data["domains"]) == {privacy.domain_of(m) for m in privacy.privacy_modules()}
    r = await client.get(f"{base}/export", params={"format": "html"}, headers=org_a.auth())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Ayşe" in r.text and "vertraulich &lt;b&gt;" in r.text
    assert (await client.get(f"{base}/export", headers=org_a.auth(Role.VIEWER))).status_code == 403


async def test_retention_preview_and_the_worker_erase_only_whom_the_rule_names(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    from services.worker.jobs.contacts import apply_retention

    old = await contacts_api.create(first_name="Alt", last_name="Alumna", status="alumni")
    held = await contacts_api.create(first_name="Fest", last_name="Gehalten", status="alumni")
    recent = await contacts_api.create(first_name="Neu", last_name="Alumnus", status="alumni")
    active = await contacts_api.create(first_name="Noch", last_name="Aktiv", status="matched")
    long_ago = clock.today() - timedelta(days=800)
    async with db.tenant(org_a.id) as session:
        await session.execute(
            update(Contact)
            .where(Contact.id.in_([old["id"], held["id"], active["id"]]))
            .values(last_match_ended_on=long_ago)
        )
        await session.execute(update(Contact).where(Contact.id == held["id"]).values(legal_hold=True))
        await session.execute(
            update(Contact)
            .where(Contact.id == recent["id"])
            .values(last_match_ended_on=clock.today() - timedelta(days=30))
        )
    base = f"/api/v1/orgs/{org_a.slug}/contacts"
    assert (await contacts_api.get("/contacts/retention"))["contacts"] == []
    r = await client.patch(f"{base}/settings", json={"retention_months": 24}, headers=org_a.auth())
    assert r.status_code == 200
    preview = await contacts_api.get("/contacts/retention")
    assert [c["id"] for c in preview["contacts"]] == [old["id"]] and preview["held_back"] == 1
    assert await apply_retention({"db": db}, str(org_a.id)) == 1
    assert (await contacts_api.get(f"/contacts/{old['id']}"))["erased"]
    for kept in (held, recent, active):
        assert not (await contacts_api.get(f"/contacts/{kept['id']}"))["erased"]
    assert (await contacts_api.get("/contacts/retention"))["contacts"] == []


async def test_the_document_shows_codos_own_notes_in_the_readers_language(
    client: AsyncTestClient[Any], org_a: Org, contacts_api: ContactsApi
) -> None:
    person = await contacts_api.create(first_name="Ole", last_name="Olsen", email="ole@example.org")
    twin = await contacts_api.create(first_name="Ole", last_name="Olsen", email="ole@example.org")
    base = f"/api/v1/orgs/{org_a.slug}/contacts"
    r = await client.post(f"{base}/{person['id']}/merge", json={"other_id": twin["id"]}, headers=org_a.auth())
    assert r.status_code == 200, r.text
    export = f"{base}/{person['id']}/export"
    assert f"Merged with a duplicate record ({twin['id']})." in [
        t["text"] for t in (await client.get(export, headers=org_a.auth())).json()["timeline"]
    ]
    r = await client.get(export, params={"format": "html"}, headers=org_a.auth())
    assert f"Mit einem doppelten Datensatz zusammengeführt ({twin['id']})." in r.text
