"""Custom fields, confidential notes, consents, duplicates and merging, list exports."""

from __future__ import annotations

import csv
import io
from typing import Any

from litestar.testing import AsyncTestClient
from openpyxl import load_workbook

from shared.db import Database
from shared.permissions import Role
from tests.conftest import Org
from tests.fixtures.contacts import ContactsApi, extra_token
from tests.fixtures.tasks import add_member, csrf_of, sign_in


async def test_custom_fields_are_validated_required_per_kind_and_archived_without_loss(
    client: AsyncTestClient[Any], org_a: Org, contacts_api: ContactsApi
) -> None:
    base = f"/api/v1/orgs/{org_a.slug}/contacts"
    field = {
        "key": "schulform",
        "label_de": "Schulform",
        "label_en": "Type of school",
        "type": "choice",
        "options": [
            {"value": "gs", "label_de": "Grundschule", "label_en": "Primary"},
            {"value": "gym", "label_de": "Gymnasium"},
        ],
        "required_for": ["mentee"],
    }
    r = await client.post(f"{base}/fields", json=field, headers=org_a.auth(Role.COORDINATOR))
    assert r.status_code == 403
    r = await client.post(f"{base}/fields", json=field, headers=org_a.auth())
    assert r.status_code == 201, r.text
    field_id = r.json()["id"]
    for bad, expected in (
        ({"type": "colour"}, "type"),
        ({"key": "Bad Key"}, "key"),
        ({"options": []}, "options"),
    ):
        r = await client.post(f"{base}/fields", json={**field, "key": "other", **bad}, headers=org_a.auth())
        assert r.status_code == 422 and r.json()["field"] == expected, (bad, r.text)
    r = await client.post(f"{base}/fields", json={**field, "type": "yesno", "key": "x"}, headers=org_a.auth())
    assert r.status_code == 422
    await client.post(
        f"{base}/fields",
        json={"key": "stunden", "label_de": "Stunden", "label_en": "Hours", "type": "number"},
        headers=org_a.auth(),
    )

    auth = org_a.auth(Role.COORDINATOR)
    r = await client.post(base, json={"kinds": ["mentee"], "last_name": "Ohne"}, headers=auth)
    assert r.status_code == 422 and r.json()["field"] == "custom.schulform"
    r = await client.post(
        base, json={"kinds": ["mentee"], "last_name": "X", "custom": {"schulform": "uni"}}, headers=auth
    )
    assert r.status_code == 422 and r.json()["field"] == "custom.schulform"
    r = await client.post(
        base,
        json={"kinds": ["mentee"], "last_name": "X", "custom": {"schulform": "gs", "stunden": "viele"}},
        headers=auth,
    )
    assert r.status_code == 422 and r.json()["field"] == "custom.stunden"
    mentor = await contacts_api.create(kinds=["mentor"], last_name="Mentor")
    assert mentor["custom"] == {}, "required for mentees only"
    child = await contacts_api.create(last_name="Kind", custom={"schulform": "gs", "stunden": 2.5})
    assert child["custom"] == {"schulform": "gs", "stunden": 2.5}
    filtered = await contacts_api.get("/contacts", field="schulform:gs")
    assert [c["id"] for c in filtered["items"]] == [child["id"]]

    r = await client.delete(f"{base}/fields/{field_id}", headers=org_a.auth())
    assert r.status_code == 204
    hidden = await contacts_api.get(f"/contacts/{child['id']}")
    assert hidden["custom"] == {"stunden": 2.5}, "an archived field's values are out of sight"
    # No longer required once archived.
    await contacts_api.create(last_name="Neu")
    fields = await contacts_api.get("/contacts/fields", include_archived=True)
    assert [(f["key"], f["archived"]) for f in fields] == [("schulform", True), ("stunden", False)]
    r = await client.post(f"{base}/fields/{field_id}/restore", headers=org_a.auth())
    assert r.status_code == 200
    back = await contacts_api.get(f"/contacts/{child['id']}")
    assert back["custom"] == {"schulform": "gs", "stunden": 2.5}, "restoring brings the values back"


async def test_confidential_notes_are_seen_by_admins_and_their_author_only(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    contact = await contacts_api.create(last_name="Vertraulich")
    url = f"/api/v1/orgs/{org_a.slug}/contacts/{contact['id']}/timeline"
    author = org_a.auth(Role.COORDINATOR)
    colleague = await extra_token(db, org_a, Role.COORDINATOR, "Kollegin")
    await client.post(
        url,
        json={"kind": "call", "body": "Anruf", "occurred_at": "2026-01-10T10:00:00+01:00"},
        headers=author,
    )
    r = await client.post(url, json={"body": "Sorge um das Kind", "confidential": True}, headers=author)
    assert r.status_code == 201 and r.json()["author_name"] == "API token coordinator token"
    await client.post(
        url,
        json={"kind": "meeting", "body": "Treffen", "occurred_at": "2026-02-01T15:00:00+01:00"},
        headers=colleague,
    )

    async def bodies(headers: dict[str, str]) -> list[str]:
        r = await client.get(url, headers=headers)
        assert r.status_code == 200
        return [e["body"] for e in r.json()["items"]]

    assert await bodies(author) == ["Sorge um das Kind", "Treffen", "Anruf"], "newest first"
    assert await bodies(org_a.auth(Role.ADMIN)) == ["Sorge um das Kind", "Treffen", "Anruf"]
    assert await bodies(colleague) == ["Treffen", "Anruf"]
    assert await bodies(org_a.auth(Role.VIEWER)) == ["Treffen", "Anruf"]
    r = await client.post(url, json={"kind": "fax", "body": "x"}, headers=author)
    assert r.status_code == 422 and r.json()["field"] == "kind"
    r = await client.post(url, json={"body": "   "}, headers=author)
    assert r.status_code == 422 and r.json()["field"] == "body"


async def test_a_contact_without_current_consent_is_flagged(
    client: AsyncTestClient[Any], org_a: Org, contacts_api: ContactsApi
) -> None:
    base = f"/api/v1/orgs/{org_a.slug}/contacts"
    contact = await contacts_api.create(last_name="Einwilligung")
    other = await contacts_api.create(last_name="Ohne")
    assert contact["missing_consents"] == ["data_processing"]
    url = f"{base}/{contact['id']}/consents"
    given = {
        "purpose": "data_processing",
        "status": "given",
        "effective_on": "2026-01-05",
        "given_by": "Mutter",
        "evidence": "Bogen vom 5.1.",
    }
    r = await client.post(url, json=given, headers=org_a.auth(Role.COORDINATOR))
    assert r.status_code == 201, r.text
    assert (await contacts_api.get(f"/contacts/{contact['id']}"))["missing_consents"] == []
    flagged = await contacts_api.get("/contacts", missing_consent="true")
    assert [c["id"] for c in flagged["items"]] == [other["id"]]

    withdrawn = {"purpose": "data_processing", "status": "withdrawn", "effective_on": "2026-03-01"}
    await client.post(url, json=withdrawn, headers=org_a.auth(Role.COORDINATOR))
    summary = (await client.get(url, headers=org_a.auth())).json()
    assert summary["current"] == {"data_processing": "withdrawn"} and summary["missing"] == [
        "data_processing"
    ]
    assert [r["status"] for r in summary["records"]] == ["withdrawn", "given"]

    await client.patch(
        f"{base}/settings", json={"required_consents": ["data_processing", "photos"]}, headers=org_a.auth()
    )
    assert (await contacts_api.get(f"/contacts/{other['id']}"))["missing_consents"] == [
        "data_processing",
        "photos",
    ]
    r = await client.post(url, json={**given, "effective_on": "2999-01-01"}, headers=org_a.auth())
    assert r.status_code == 422 and r.json()["field"] == "effective_on"


async def test_duplicates_are_flagged_on_create_and_merging_keeps_both_timelines(
    client: AsyncTestClient[Any], org_a: Org, contacts_api: ContactsApi
) -> None:
    base = f"/api/v1/orgs/{org_a.slug}/contacts"
    first = await contacts_api.create(
        first_name="Mehmet", last_name="Yilmaz", birth_date="2010-05-01", tags=["a"]
    )
    same_mail = await contacts_api.create(first_name="M.", last_name="Other", email="m@example.org")
    by_mail = await contacts_api.create(first_name="Mehmet", last_name="Y", email="M@Example.org")
    assert by_mail["possible_duplicates"] == [same_mail["id"]]
    similar = await contacts_api.create(
        first_name="Mehmed", last_name="Yilmaz", birth_date="2010-05-01", tags=["b"], phone="030 1234"
    )
    assert similar["possible_duplicates"] == [first["id"]]
    unrelated = await contacts_api.create(first_name="Mehmet", last_name="Yilmaz", birth_date="2011-05-01")
    assert unrelated["possible_duplicates"] == []
    r = await client.post(
        base,
        json={"kinds": ["mentee"], "last_name": "Z", "email": "m@example.org"},
        params={"reject_duplicates": "true"},
        headers=org_a.auth(),
    )
    assert r.status_code == 409

    auth = org_a.auth(Role.COORDINATOR)
    await client.post(f"{base}/{first['id']}/timeline", json={"body": "Erstgespräch"}, headers=auth)
    await client.post(f"{base}/{similar['id']}/timeline", json={"body": "Zweiter Eintrag"}, headers=auth)
    r = await client.post(f"{base}/{first['id']}/merge", json={"other_id": similar["id"]}, headers=auth)
    assert r.status_code == 200, r.text
    merged = r.json()
    assert merged["tags"] == ["a", "b"] and merged["phone"] == "030 1234" and merged["first_name"] == "Mehmet"
    timeline = (await client.get(f"{base}/{first['id']}/timeline", headers=auth)).json()["items"]
    assert {"Erstgespräch", "Zweiter Eintrag"} <= {e["body"] for e in timeline}
    assert (await client.get(f"{base}/{similar['id']}", headers=auth)).status_code == 404


async def test_a_filtered_list_exports_to_csv_and_xlsx_with_chosen_columns(
    client: AsyncTestClient[Any], org_a: Org, contacts_api: ContactsApi
) -> None:
    await contacts_api.create(first_name="Jörg", last_name="Bäcker", kinds=["mentor"], languages=["de", "tr"])
    await contacts_api.create(first_name="Ute", last_name="Kind", kinds=["mentee"])
    base = f"/api/v1/orgs/{org_a.slug}/contacts/exports"
    body = {"format": "csv", "kind": "mentor", "columns": ["last_name", "first_name", "languages"]}
    r = await client.post(base, json=body, headers=org_a.auth(Role.COORDINATOR))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "done" and r.json()["row_count"] == 1
    download = await client.get(r.json()["download"], headers=org_a.auth(Role.COORDINATOR))
    assert download.status_code == 200
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig")), delimiter=";"))
    assert rows == [["Nachname", "Vorname", "Sprachen"], ["Bäcker", "Jörg", "Deutsch, Türkisch"]]
    r = await client.post(base, json={**body, "format": "xlsx", "kind": None}, headers=org_a.auth())
    book = load_workbook(io.BytesIO((await client.get(r.json()["download"], headers=org_a.auth())).content))
    values = [list(row) for row in book.active.iter_rows(values_only=True)]
    assert values[0] == ["Nachname", "Vorname", "Sprachen"] and len(values) == 3
    # Someone reading codo in English gets an English header row.
    r = await client.post(base, json={**body, "format": "xlsx", "locale": "en"}, headers=org_a.auth())
    book = load_workbook(io.BytesIO((await client.get(r.json()["download"], headers=org_a.auth())).content))
    assert book.active.title == "Contacts"
    assert next(book.active.iter_rows(values_only=True)) == ("Last name", "First name", "Languages")
    r = await client.post(base, json={**body, "columns": ["password"]}, headers=org_a.auth())
    assert r.status_code == 422 and r.json()["field"] == "columns"
    assert (await client.post(base, json=body, headers=org_a.auth(Role.VIEWER))).status_code == 403


async def test_a_large_export_runs_in_the_worker(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi, monkeypatch: Any
) -> None:
    from services.worker.jobs.contacts import run_export
    from shared.contacts import exports

    monkeypatch.setattr(exports, "INLINE_LIMIT", 1)
    for name in ("Eins", "Zwei", "Drei"):
        await contacts_api.create(last_name=name)
    base = f"/api/v1/orgs/{org_a.slug}/contacts/exports"
    r = await client.post(base, json={"format": "csv"}, headers=org_a.auth())
    assert r.status_code == 202 and r.json()["status"] == "pending" and r.json()["download"] is None
    export_id = r.json()["id"]
    assert (await client.get(f"{base}/{export_id}/download", headers=org_a.auth())).status_code == 409
    assert await run_export({"db": db}, str(org_a.id), export_id) == "done"
    state = (await client.get(f"{base}/{export_id}", headers=org_a.auth())).json()
    assert state["status"] == "done" and state["row_count"] == 3
    text = (await client.get(state["download"], headers=org_a.auth())).content.decode("utf-8-sig")
    assert text.splitlines()[1:] == [
        "Drei;;Mentee;interessiert;;;;",
        "Eins;;Mentee;interessiert;;;;",
        "Zwei;;Mentee;interessiert;;;;",
    ]


async def test_an_export_shows_labels_not_stored_keys(
    client: AsyncTestClient[Any], org_a: Org, contacts_api: ContactsApi
) -> None:
    base = f"/api/v1/orgs/{org_a.slug}/contacts"
    field = {
        "key": "schulform", "label_de": "Schulform", "label_en": "Type of school", "type": "multi_choice",
        "options": [{"value": "gs", "label_de": "Grundschule", "label_en": "Primary school"},
                    {"value": "gym", "label_de": "Gymnasium"}],
    }  # fmt: skip
    assert (await client.post(f"{base}/fields", json=field, headers=org_a.auth())).status_code == 201
    await contacts_api.create(
        last_name="Yilmaz", kinds=["mentor"], gender="female", preferred_channel="phone",
        availability=["tue-afternoon"], languages=["ar"], custom={"schulform": ["gs", "gym"]},
    )  # fmt: skip
    columns = ["last_name", "kinds", "gender", "preferred_channel", "availability", "languages"]
    columns.append("custom.schulform")
    rows = {}
    for locale in ("de", "en"):
        body = {"format": "csv", "columns": columns, "locale": locale}
        r = await client.post(f"{base}/exports", json=body, headers=org_a.auth())
        assert r.status_code == 201, r.text
        download = await client.get(r.json()["download"], headers=org_a.auth())
        rows[locale] = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig")), delimiter=";"))[1]
    assert rows["de"] == ["Yilmaz", "Mentor:in", "weiblich", "Telefon", "Di nachmittags", "Arabisch",
                          "Grundschule, Gymnasium"]  # fmt: skip
    assert rows["en"] == ["Yilmaz", "Mentor", "female", "phone", "Tue afternoon", "Arabic",
                          "Primary school, Gymnasium"]  # fmt: skip


async def test_the_export_page_writes_the_header_in_the_members_language(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    await contacts_api.create(first_name="Jörg", last_name="Bäcker", kinds=["mentor"])
    await sign_in(browserless, await add_member(db, org_a, locale="en"))
    page = await browserless.get(f"/o/{org_a.slug}/contacts")
    r = await browserless.post(
        f"/o/{org_a.slug}/contacts/export",
        data={"_csrf": csrf_of(page.text), "format": "csv", "columns": ["last_name", "first_name"]},
    )
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Last name", "First name"] and ["Bäcker", "Jörg"] in rows
    assert 'filename="contacts-' in r.headers["content-disposition"]
