"""Importing a messy German spreadsheet: dry run, commit in the worker, crash, resume, undo."""

from __future__ import annotations

import io
import json
import uuid
from datetime import datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from openpyxl import Workbook
from sqlalchemy import func, select

from services.worker.jobs.contacts import run_import
from shared.contacts import imports
from shared.contacts.models import Contact, ImportRow
from shared.db import Database
from shared.permissions import Role
from tests.conftest import Org
from tests.fixtures.contacts import ContactsApi

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def messy_workbook() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["Name", "Geburtsdatum", "E-Mail", "Telefon", "PLZ", "Sprachen", "Rolle", "Bemerkung"])
    sheet.append(["Müller, Jürgen", "01.02.2010", "Juergen.Mueller@example.de", "0171 1234567", "10115",
                  "Deutsch, Arabisch", "Mentee", "liest gern"])  # fmt: skip
    sheet.append(
        ["Anna Groß", datetime(1985, 7, 9), "anna.gross@example.de", None, 1067, "de; en", "Patin", None]
    )
    sheet.append([None, None, None, None, None, None, None, None])
    sheet.append(["Özlem Şahin", "03.04.2011", "oezlem@example.de", None, "20095", "tr", "Kind", None])
    sheet.append(
        ["Jürgen Müller", "01.02.2010", "juergen.mueller@example.de", None, None, None, "Mentee", None]
    )
    sheet.append(["Ben Weiß", "05.06.2012", "ben.weiss@", None, None, "de", "Mentee", None])
    sheet.append(["Clara Schäfer", 40210, None, None, None, None, "mentee", None])
    sheet.append(["Hans Meier", "1.1.1970", "hans@example.de", None, None, None, "Hausmeister", None])
    sheet.append(["Fischer, Lena", None, "LENA@example.de", None, None, "uk", "Mentorin", None])
    sheet.append(["   ", "", None, None, None, None, None, None])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def upload(
    client: AsyncTestClient[Any],
    org: Org,
    content: bytes,
    filename: str,
    role: Role = Role.COORDINATOR,
    **form: str,
) -> Any:
    mime = XLSX if filename.endswith(".xlsx") else "text/csv"
    return await client.post(
        f"/api/v1/orgs/{org.slug}/imports",
        files={"file": (filename, content, mime)},
        data=form,
        headers=org.auth(role),
    )


async def contact_count(db: Database, org: Org) -> int:
    async with db.tenant(org.id) as session:
        return int((await session.execute(select(func.count()).select_from(Contact))).scalar_one())


async def test_a_messy_german_spreadsheet_dry_run_then_commit_then_undo(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    lena = await contacts_api.create(
        kinds=["mentor"], first_name="Lena", last_name="Fischer", email="lena@example.de"
    )
    r = await upload(client, org_a, messy_workbook(), "Teilnehmende 2026.xlsx")
    assert r.status_code == 201, r.text
    dry = r.json()
    assert dry["status"] == "dry_run" and dry["id"]
    assert (dry["atomicity"], dry["batch_size"]) == ("batch", 2000), "saved in batches of 2,000 rows"
    rows = {row["row"]: row for row in dry["rows"]}
    assert sorted(rows) == [2, 3, 5, 6, 7, 8, 9, 10], "empty rows are skipped, numbers are the sheet's"
    actions = {n: rows[n]["action"] for n in rows}
    assert actions == {2: "create", 3: "create", 5: "create", 6: "reject", 7: "create", 8: "create",
                       9: "reject", 10: "update"}  # fmt: skip
    assert rows[6]["reasons"] == ["duplicate of row 2 (same e-mail)"]
    assert rows[7]["warnings"] == ["E-Mail: 'ben.weiss@' is not an e-mail address — not taken over"], (
        "a bad optional value is left out, the row is kept"
    )
    assert "Hausmeister" in rows[9]["reasons"][0]
    assert rows[10]["contact_id"] == lena["id"]
    assert rows[10]["changes"] == [{"field": "languages", "old": [], "new": ["uk"]}]
    assert dry["counts"] == {"create": 5, "update": 1, "unchanged": 0, "reject": 2}
    assert dry["mapping"]["Name"] == "full_name" and dry["mapping"]["PLZ"] == "postal_code"
    assert await contact_count(db, org_a) == 1, "a dry run writes no contact"

    r = await client.post(
        f"/api/v1/orgs/{org_a.slug}/imports/{dry['id']}/commit", headers=org_a.auth(Role.COORDINATOR)
    )
    assert r.status_code == 202 and r.json()["status"] == "running"
    assert await run_import({"db": db}, str(org_a.id), dry["id"]) == "done"
    done = (await client.get(f"/api/v1/orgs/{org_a.slug}/imports/{dry['id']}", headers=org_a.auth())).json()
    assert done["status"] == "done" and done["processed_rows"] == 8
    assert (done["created_count"], done["updated_count"], done["rejected_count"]) == (5, 1, 2)

    people = {c["last_name"]: c for c in (await contacts_api.get("/contacts", limit=50))["items"]}
    assert set(people) == {"Müller", "Groß", "Şahin", "Weiß", "Schäfer", "Fischer"}
    assert people["Weiß"]["email"] is None
    mueller = people["Müller"]
    assert (mueller["first_name"], mueller["birth_date"], mueller["languages"]) == (
        "Jürgen",
        "2010-02-01",
        ["de", "ar"],
    )
    assert mueller["email"] == "juergen.mueller@example.de" and mueller["kinds"] == ["mentee"]
    assert people["Groß"]["postal_code"] == "01067" and people["Groß"]["kinds"] == ["mentor"]
    assert people["Groß"]["birth_date"] == "1985-07-09"
    assert people["Schäfer"]["birth_date"] == "2010-02-01", "an Excel serial is a date"
    assert people["Fischer"]["languages"] == ["uk"] and people["Fischer"]["id"] == lena["id"]
    found = await contacts_api.get("/contacts", q="schafer")
    assert [c["last_name"] for c in found["items"]] == ["Schäfer"]

    report = await client.get(
        f"/api/v1/orgs/{org_a.slug}/imports/{dry['id']}/errors.csv", headers=org_a.auth()
    )
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    lines = report.content.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 4 and lines[1].startswith("6;")

    r = await client.post(
        f"/api/v1/orgs/{org_a.slug}/imports/{dry['id']}/undo", headers=org_a.auth(Role.COORDINATOR)
    )
    assert r.status_code == 200 and r.json()["status"] == "undone"
    remaining = (await contacts_api.get("/contacts"))["items"]
    assert [(c["last_name"], c["languages"]) for c in remaining] == [("Fischer", [])], (
        "the update is taken back"
    )


async def test_csv_in_windows_1252_with_semicolons_and_utf8_with_commas(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    german = "Vorname;Nachname;E-Mail;Geburtsdatum;Rolle\r\nJörg;Weiß;joerg@example.de;24.12.2009;Schüler\r\n"
    r = await upload(client, org_a, german.encode("cp1252"), "export.csv")
    assert r.status_code == 201, r.text
    row = r.json()["rows"][0]
    assert row["action"] == "create" and row["name"] == "Jörg Weiß"
    english = (
        "First name,Last name,Email,Date of birth,Role,Languages\n"
        'Amal,Haddad,amal@example.org,2011-05-06,mentee,"ar,en"\n'
    )
    r = await upload(client, org_a, english.encode("utf-8"), "export.csv")
    assert r.status_code == 201, r.text
    assert [row["action"] for row in r.json()["rows"]] == ["create"]


async def test_a_saved_mapping_and_a_default_kind(client: AsyncTestClient[Any], org_a: Org) -> None:
    sheet = b"Spalte A;Spalte B;Mail\nKarl;Klein;karl@example.de\n"
    mapping = json.dumps({"Spalte A": "first_name", "Spalte B": "last_name"})
    r = await upload(
        client, org_a, sheet, "a.csv", mapping=mapping, save_mapping_as="Schulliste", kind="mentee"
    )
    assert r.status_code == 201, r.text
    assert r.json()["rows"][0]["action"] == "create"
    r = await upload(client, org_a, sheet, "b.csv", mapping_name="Schulliste", kind="mentee")
    assert r.status_code == 201 and r.json()["mapping"]["Spalte A"] == "first_name"
    r = await upload(client, org_a, sheet, "c.csv", mapping=json.dumps({"Spalte A": "shoe_size"}))
    assert r.status_code == 422 and r.json()["field"] == "mapping"
    r = await upload(client, org_a, b"\x00\x01garbage", "x.xlsx")
    assert r.status_code == 422 and r.json()["field"] == "file"
    r = await upload(client, org_a, sheet, "a.csv", role=Role.VIEWER)
    assert r.status_code == 403


def big_csv(rows: int) -> bytes:
    lines = ["Vorname;Nachname;E-Mail;Rolle"]
    lines += [f"Vor{i};Nach{i};p{i}@example.de;Mentee" for i in range(rows)]
    return "\n".join(lines).encode()


class WorkerKilled(BaseException):
    """Stands in for the worker process dying: nothing after it runs, not even except-blocks."""


@pytest.mark.parametrize("then", ["resume", "undo"])
async def test_a_crash_mid_import_leaves_no_half_batch_and_can_be_resumed_or_undone(
    client: AsyncTestClient[Any], db: Database, org_a: Org, then: str
) -> None:
    r = await upload(client, org_a, big_csv(25), "big.csv", batch_size="10")
    import_id = r.json()["id"]
    await client.post(f"/api/v1/orgs/{org_a.slug}/imports/{import_id}/commit", headers=org_a.auth())

    async def die_in_second_batch(processed: int) -> None:
        # Inside the second batch's transaction, after its contacts were written.
        if processed == 20:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        await imports.run(
            db,
            org_a.id,
            uuid.UUID(import_id),
            before_commit=die_in_second_batch,
        )
    assert await contact_count(db, org_a) == 10, "the first batch is saved, the second not at all"
    state = (await client.get(f"/api/v1/orgs/{org_a.slug}/imports/{import_id}", headers=org_a.auth())).json()
    assert state["status"] == "running" and state["processed_rows"] == 10

    if then == "resume":
        r = await client.post(f"/api/v1/orgs/{org_a.slug}/imports/{import_id}/commit", headers=org_a.auth())
        assert r.status_code == 202
        assert await run_import({"db": db}, str(org_a.id), import_id) == "done"
        assert await contact_count(db, org_a) == 25
        async with db.tenant(org_a.id) as session:
            rows = (await session.execute(select(ImportRow.row_number))).scalars().all()
        assert sorted(rows) == list(range(2, 27)), "every row once, none twice"
        # Running the job again (arq may) changes nothing.
        assert await run_import({"db": db}, str(org_a.id), import_id) == "done"
        assert await contact_count(db, org_a) == 25
    else:
        r = await client.post(f"/api/v1/orgs/{org_a.slug}/imports/{import_id}/undo", headers=org_a.auth())
        assert r.status_code == 200 and r.json()["status"] == "undone"
        assert await contact_count(db, org_a) == 0
        async with db.tenant(org_a.id) as session:
            kept = await imports.get_import(session, uuid.UUID(import_id))
            assert kept.content is None and kept.plan is None, "no copy of the sheet is kept after undo"
        assert await run_import({"db": db}, str(org_a.id), import_id) == "undone"
        assert await contact_count(db, org_a) == 0


async def test_all_or_nothing_for_the_whole_sheet(
    client: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    r = await upload(client, org_a, big_csv(30), "big.csv", batch_size="10", atomicity="all")
    import_id = r.json()["id"]
    await client.post(f"/api/v1/orgs/{org_a.slug}/imports/{import_id}/commit", headers=org_a.auth())

    async def die(processed: int) -> None:
        raise WorkerKilled

    with pytest.raises(WorkerKilled):
        await imports.run(db, org_a.id, uuid.UUID(import_id), before_commit=die)
    assert await contact_count(db, org_a) == 0


async def test_a_contact_added_while_a_crashed_import_waits_is_updated_when_it_resumes(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    r = await upload(client, org_a, big_csv(25), "big.csv", batch_size="10")
    import_id = r.json()["id"]
    await client.post(f"/api/v1/orgs/{org_a.slug}/imports/{import_id}/commit", headers=org_a.auth())

    async def die_in_second_batch(processed: int) -> None:
        if processed == 20:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        await imports.run(db, org_a.id, uuid.UUID(import_id), before_commit=die_in_second_batch)
    # Row 22 of the sheet (p20@) was planned as a new contact; meanwhile a colleague adds them.
    added = await contacts_api.create(kinds=["mentor"], first_name="Vor20", last_name="Nach20",
                                      email="p20@example.de")  # fmt: skip
    await client.post(f"/api/v1/orgs/{org_a.slug}/imports/{import_id}/commit", headers=org_a.auth())
    assert await run_import({"db": db}, str(org_a.id), import_id) == "done"
    assert await contact_count(db, org_a) == 25, "the colleague's contact is updated, not doubled"
    state = (await client.get(f"/api/v1/orgs/{org_a.slug}/imports/{import_id}", headers=org_a.auth())).json()
    row = next(r for r in state["rows"] if r["row"] == 22)
    assert (row["action"], row["contact_id"]) == ("update", added["id"])
    assert (state["created_count"], state["updated_count"]) == (24, 1)
