"""Safe imports, through the real app: labels codo shows are read back, a bad optional value is left
out with a warning, only a missing or wrong required value rejects a row, an existing contact is
only filled in unless the import may overwrite, notes are appended, and every reason reads in the
person's language."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from services.api.app import create_app
from services.worker.jobs.contacts import run_import
from shared.db import Database
from tests.conftest import Org, Servers, make_settings
from tests.contacts.test_imports import upload
from tests.fixtures.contacts import ContactsApi
from tests.web.test_shell import csrf_of, dev_sign_in


@pytest.fixture(scope="module")
def dev_app(servers: Servers, smtp_port: int) -> Any:
    return create_app(make_settings(servers, smtp_port, env="development", dev_signin=True))


@pytest.fixture
async def browser(dev_app: Any, org_a: Org) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=dev_app) as client:
        await dev_sign_in(client, org_a, f"owner@{org_a.slug}.example")
        yield client


def csv_of(*rows: list[str]) -> bytes:
    return "\n".join(";".join(r) for r in rows).encode("utf-8")


async def commit(client: AsyncTestClient[Any], db: Database, org: Org, import_id: str) -> dict[str, Any]:
    r = await client.post(f"/api/v1/orgs/{org.slug}/imports/{import_id}/commit", headers=org.auth())
    assert r.status_code == 202, r.text
    assert await run_import({"db": db}, str(org.id), import_id) == "done"
    done = (await client.get(f"/api/v1/orgs/{org.slug}/imports/{import_id}", headers=org.auth())).json()
    assert isinstance(done, dict)
    return done


async def only_contact(contacts_api: ContactsApi, last_name: str) -> dict[str, Any]:
    found = [
        c for c in (await contacts_api.get("/contacts", limit=50))["items"] if c["last_name"] == last_name
    ]
    assert len(found) == 1, found
    return found[0]


async def test_the_labels_codo_shows_are_accepted(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    sheet = csv_of(
        ["Vorname", "Nachname", "Rolle", "Status", "Verfügbarkeit", "Sprachen", "Geschlecht", "Kontaktweg"],
        ["Amira", "Haddad", "Mentor:in", "in Prüfung", "Di nachmittags, Do abends",
         "Arabisch, Ukrainisch, de", "weiblich", "E-Mail"],
        ["Jonas", "Berg", "Erziehungsberechtigte:r", "neu", "Mo und Mi vormittags", "Englisch",
         "keine Angabe", "Telefon"],
        ["Lea", "Sommer", "Mentee", "bereit", "Samstag vormittags und nachmittags", "Türkisch", "divers",
         "Post"],
    )  # fmt: skip
    r = await upload(client, org_a, sheet, "labels.csv")
    assert r.status_code == 201, r.text
    rows = r.json()["rows"]
    assert [(row["action"], row["warnings"], row["reasons"]) for row in rows] == [("create", [], [])] * 3
    await commit(client, db, org_a, r.json()["id"])

    amira = await only_contact(contacts_api, "Haddad")
    assert (amira["kinds"], amira["status"], amira["gender"], amira["preferred_channel"]) == (
        ["mentor"], "screening", "female", "email",
    )  # fmt: skip
    assert amira["availability"] == ["tue-afternoon", "thu-evening"]
    assert amira["languages"] == ["ar", "uk", "de"]
    jonas = await only_contact(contacts_api, "Berg")
    assert (jonas["kinds"], jonas["status"], jonas["languages"]) == (["guardian"], "new", ["en"])
    assert jonas["availability"] == ["mon-morning", "mon-afternoon", "mon-evening", "wed-morning"]
    lea = await only_contact(contacts_api, "Sommer")
    assert lea["availability"] == ["sat-morning", "sat-afternoon"], "a time of day alone is the day before's"
    assert (lea["status"], lea["gender"], lea["preferred_channel"]) == ("ready", "diverse", "post")


async def test_a_bad_optional_value_is_left_out_with_a_warning_and_a_bad_required_one_rejects(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    sheet = csv_of(
        ["Vorname", "Nachname", "Rolle", "PLZ", "Verfügbarkeit", "E-Mail", "Kapazität"],
        ["Anna", "Groß", "Mentorin", "12", "irgendwann", "anna@example.de", "viele"],
        ["Hans", "Meier", "Hausmeister", "10115", "", "", ""],
        ["", "", "Mentee", "10115", "", "", ""],
    )
    r = await upload(client, org_a, sheet, "fehler.csv")
    assert r.status_code == 201, r.text
    anna, hans, nobody = r.json()["rows"]
    assert anna["action"] == "create" and anna["reasons"] == []
    assert anna["warnings"] == [
        "PLZ: '12' is not a postal code — not taken over",
        "Verfügbarkeit: 'irgendwann' is not a day and time of day such as Di nachmittags — not taken over",
        "Kapazität: 'viele' is not a number — not taken over",
    ]
    assert anna["warning_ids"][0] == {"id": "%(cleaned)r is not a postal code", "params": {"cleaned": "12"},
                                      "column": "PLZ"}  # fmt: skip
    assert hans["action"] == "reject" and hans["reasons"] == ["Rolle: unknown role 'Hausmeister'"]
    assert nobody["action"] == "reject" and nobody["reasons"] == ["no name"]
    await commit(client, db, org_a, r.json()["id"])
    stored = await only_contact(contacts_api, "Groß")
    assert stored["postal_code"] is None and stored["availability"] == [] and stored["capacity"] == 1
    assert stored["email"] == "anna@example.de", "the good values of the row are kept"


async def test_an_existing_contact_is_only_filled_in_and_notes_are_appended(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    lena = await contacts_api.create(
        kinds=["mentor"], first_name="Lena", last_name="Fischer", email="lena@example.de", city="Berlin",
        status="ready", notes="kennt uns seit 2020",
    )  # fmt: skip
    sheet = csv_of(
        ["E-Mail", "Vorname", "Nachname", "Ort", "Status", "Telefon", "Notizen", "Rolle", "Sprachen"],
        ["lena@example.de", "Lena", "Fischer", "Hamburg", "pausiert", "0171 555", "spricht Ukrainisch",
         "Mentee", "uk"],
    )  # fmt: skip
    r = await upload(client, org_a, sheet, "wieder.csv")
    assert r.status_code == 201, r.text
    (row,) = r.json()["rows"]
    assert row["action"] == "update" and row["contact_id"] == lena["id"]
    changes = {c["field"]: (c["old"], c["new"]) for c in row["changes"]}
    assert changes == {
        "phone": (None, "0171 555"),
        "notes": ("kennt uns seit 2020", "kennt uns seit 2020\n\nspricht Ukrainisch"),
        "kinds": (["mentor"], ["mentor", "mentee"]),
        "languages": ([], ["uk"]),
    }
    assert {c["field"]: (c["old"], c["new"]) for c in row["kept"]} == {
        "city": ("Berlin", "Hamburg"),
        "status": ("ready", "paused"),
    }, "what the contact holds stays unless the import may overwrite it"
    await commit(client, db, org_a, r.json()["id"])
    after = await only_contact(contacts_api, "Fischer")
    assert (after["city"], after["status"], after["phone"]) == ("Berlin", "ready", "0171 555")
    assert after["notes"] == "kennt uns seit 2020\n\nspricht Ukrainisch"

    # The same sheet again changes nothing: the note is there already.
    r = await upload(client, org_a, sheet, "nochmal.csv")
    assert [row["action"] for row in r.json()["rows"]] == ["unchanged"]
    assert r.json()["counts"] == {"create": 0, "update": 0, "unchanged": 1, "reject": 0}


async def test_overwriting_is_chosen_per_column_notes_are_still_appended_and_undo_restores(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    await contacts_api.create(
        kinds=["mentor"], first_name="Lena", last_name="Fischer", email="lena@example.de", city="Berlin",
        status="ready", notes="kennt uns seit 2020",
    )  # fmt: skip
    sheet = csv_of(
        ["E-Mail", "Vorname", "Nachname", "Ort", "Status", "Notizen", "Rolle"],
        ["lena@example.de", "Lena", "Fischer", "Hamburg", "pausiert", "zieht um", "Mentorin"],
    )
    r = await upload(client, org_a, sheet, "umzug.csv", overwrite="city")
    assert r.status_code == 201, r.text
    assert r.json()["overwrite"] == ["city"]
    (row,) = r.json()["rows"]
    assert {c["field"] for c in row["changes"]} == {"city", "notes"}
    assert [c["field"] for c in row["kept"]] == ["status"]

    r = await upload(client, org_a, sheet, "umzug.csv", overwrite="all")
    assert r.json()["overwrite"] == ["city", "email", "first_name", "last_name", "status"], (
        "notes are appended and lists joined whatever the choice"
    )
    import_id = r.json()["id"]
    await commit(client, db, org_a, import_id)
    after = await only_contact(contacts_api, "Fischer")
    assert (after["city"], after["status"]) == ("Hamburg", "paused")
    assert after["notes"] == "kennt uns seit 2020\n\nzieht um", "even overwriting all, notes are appended"

    r = await client.post(f"/api/v1/orgs/{org_a.slug}/imports/{import_id}/undo", headers=org_a.auth())
    assert r.status_code == 200 and r.json()["status"] == "undone"
    back = await only_contact(contacts_api, "Fischer")
    assert (back["city"], back["status"], back["notes"]) == ("Berlin", "ready", "kennt uns seit 2020")

    r = await upload(client, org_a, sheet, "x.csv", overwrite="shoe_size")
    assert r.status_code == 422 and r.json()["field"] == "overwrite"


def _text(cell: str) -> str:
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
    return re.sub(r" ([,.;])", r"\1", words)


def _cells(page: str, table_id: str) -> list[list[str]]:
    """The text of each body row's cells of a table on a page."""
    body = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)[1:]
    return [[_text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


async def test_the_review_page_in_german_columns_in_file_order_with_samples_and_old_and_new_values(
    browser: AsyncTestClient[Any], client: AsyncTestClient[Any], org_a: Org, contacts_api: ContactsApi
) -> None:
    await contacts_api.create(
        kinds=["mentor"], first_name="Lena", last_name="Fischer", email="lena@example.de", city="Berlin",
        birth_date="1990-04-01",
    )  # fmt: skip
    sheet = csv_of(
        ["Zuname", "Vorname", "Lieblingsfarbe", "E-Mail", "Ort", "Geburtsdatum", "Rolle"],
        ["Fischer", "Lena", "blau", "lena@example.de", "Hamburg", "", "Mentorin"],
        ["Yilmaz", "Emre", "grün", "emre@example.de", "Köln", "", "Hausmeister"],
        ["Yilmaz", "Deniz", "rot", "emre@example.de", "Köln", "", "Mentee"],
        ["Brandt", "Tom", "gelb", "", "Bonn", "31.02.2001", "Mentee"],
        ["Krause", "Uta", "lila", "", "Kiel", "", "Mentee"],
    )
    base = f"/o/{org_a.slug}/contacts"
    start = (await browser.get(f"{base}/import")).text
    assert "bereits gespeicherte Teile behalten (je 2.000 Zeilen)" in start
    csrf = csrf_of(start)
    r = await browser.post(
        f"{base}/import",
        data={"_csrf": csrf},
        files={"file": ("liste.csv", sheet, "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    review_url = r.headers["location"]
    page = (await browser.get(review_url)).text

    columns = _cells(page, "import-columns")
    assert [c[0] for c in columns] == ["Zuname", "Vorname", "Lieblingsfarbe", "E-Mail", "Ort", "Geburtsdatum",
                                       "Rolle"], "the file's order"  # fmt: skip
    samples = [re.findall(r"<q>(.*?)</q>", row) for row in re.findall(r"<tr>(.*?)</tr>", page, re.S)[1:8]]
    assert samples[0] == ["Fischer", "Yilmaz", "Yilmaz"] and samples[2] == ["blau", "grün", "rot"]
    assert samples[5] == ["31.02.2001"], "a column with one value shows that one"

    rows = {r[0]: r for r in _cells(page, "import-rows")}
    assert rows["2"][2] == "unverändert"
    assert "Ort Berlin bleibt, die Datei sagt Hamburg" in rows["2"][3], "kept values are named, in German"
    assert rows["3"][2:] == ["abgelehnt", "Rolle: unbekannte Rolle 'Hausmeister'"]
    assert rows["4"][2] == "neu", "a rejected row does not count as the first of an e-mail"
    assert rows["5"][3] == "Hinweis: Geburtsdatum: '31.02.2001' ist kein gültiges Datum. — nicht übernommen"

    # Overwrite the city, ticked on its column: the dry run shows old and new value.
    import_id = review_url.rsplit("/", 1)[-1]
    await browser.post(
        f"{base}/import/{import_id}/mapping",
        data={"_csrf": csrf, "map:Lieblingsfarbe": "", "overwrite": ["Ort"]},
    )
    page = (await browser.get(review_url)).text
    rows = {r[0]: r for r in _cells(page, "import-rows")}
    assert rows["2"][2] == "aktualisieren" and "Ort Berlin → Hamburg" in rows["2"][3]
    assert "Vorhandene Werte werden ersetzt in: Ort." in page
    assert 'name="overwrite" value="Ort" checked' in page

    errors = await browser.get(f"{base}/import/{import_id}/errors.csv")
    lines = errors.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0] == "Zeile;Name;Ergebnis;Grund"
    assert "3;Emre Yilmaz;abgelehnt;Rolle: unbekannte Rolle 'Hausmeister'" in lines

    # The English API tells the same rows in English, with the message ids beside.
    api = (await client.get(f"/api/v1/orgs/{org_a.slug}/imports/{import_id}", headers=org_a.auth())).json()
    by_row = {r["row"]: r for r in api["rows"]}
    assert by_row[3]["reasons"] == ["Rolle: unknown role 'Hausmeister'"]
    assert by_row[3]["reason_ids"] == [
        {"id": "unknown role %(value)r", "params": {"value": "Hausmeister"}, "column": "Rolle"}
    ]


async def test_even_overwriting_all_never_lifts_a_child_protection_decline(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    person = await contacts_api.create(
        kinds=["mentor"], first_name="Kai", last_name="Roth", email="kai@example.de"
    )
    r = await client.patch(
        f"/api/v1/orgs/{org_a.slug}/contacts/{person['id']}",
        json={"status": "declined_child_protection", "status_reason": "Führungszeugnis mit Eintrag"},
        headers=org_a.auth(),
    )
    assert r.status_code == 200, r.text
    sheet = csv_of(["E-Mail", "Vorname", "Nachname", "Status", "Rolle"],
                   ["kai@example.de", "Kai", "Roth", "bereit", "Mentor"])  # fmt: skip
    r = await upload(client, org_a, sheet, "alle.csv", overwrite="all")
    (row,) = r.json()["rows"]
    assert row["action"] == "unchanged" and [c["field"] for c in row["kept"]] == ["status"]
    await commit(client, db, org_a, r.json()["id"])
    assert (await only_contact(contacts_api, "Roth"))["status"] == "declined_child_protection"


async def test_a_contact_added_between_the_review_and_the_commit_is_updated_not_doubled(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    sheet = csv_of(
        ["E-Mail", "Vorname", "Nachname", "Telefon", "Rolle"],
        ["lena@example.de", "Lena", "Fischer", "0171 555", "Mentorin"],
        ["ben@example.de", "Ben", "Weiß", "", "Mentee"],
    )
    r = await upload(client, org_a, sheet, "liste.csv")
    assert [row["action"] for row in r.json()["rows"]] == ["create", "create"]
    # The review said "create"; before the commit a colleague adds Lena by hand. The rows the
    # review checked are kept for the commit, but not once contacts have changed since.
    lena = await contacts_api.create(kinds=["mentor"], first_name="Lena", last_name="Fischer",
                                     email="lena@example.de")  # fmt: skip
    done = await commit(client, db, org_a, r.json()["id"])
    assert [row["action"] for row in done["rows"]] == ["update", "create"]
    after = await only_contact(contacts_api, "Fischer")
    assert after["id"] == lena["id"] and after["phone"] == "0171 555"
    assert (await only_contact(contacts_api, "Weiß"))["kinds"] == ["mentee"]


async def test_a_commit_right_after_the_review_writes_what_the_review_showed(
    client: AsyncTestClient[Any], db: Database, org_a: Org, contacts_api: ContactsApi
) -> None:
    await contacts_api.create(kinds=["mentor"], first_name="Lena", last_name="Fischer",
                              email="lena@example.de", city="Berlin")  # fmt: skip
    sheet = csv_of(
        ["E-Mail", "Vorname", "Nachname", "Ort", "Geburtsdatum", "Rolle", "Programm"],
        ["lena@example.de", "Lena", "Fischer", "Hamburg", "", "Mentorin", ""],
        ["ben@example.de", "Ben", "Weiß", "Kassel", "05.06.2012", "Mentee", "Lesepaten"],
        ["", "", "", "Kassel", "", "Mentee", ""],
    )
    r = await upload(client, org_a, sheet, "liste.csv")
    review = r.json()
    done = await commit(client, db, org_a, review["id"])
    assert done["rows"] == review["rows"]
    assert (done["created_count"], done["updated_count"], done["rejected_count"]) == (1, 0, 1)
    ben = await only_contact(contacts_api, "Weiß")
    assert (ben["city"], ben["birth_date"], ben["kinds"]) == ("Kassel", "2012-06-05", ["mentee"])
    assert (await only_contact(contacts_api, "Fischer"))["city"] == "Berlin"
    found = await contacts_api.get("/contacts", q="weiss")
    assert [c["id"] for c in found["items"]] == [ben["id"]], "the new contact is found by its name"


async def test_a_file_too_wide_is_refused_in_german_with_the_limit(
    browser: AsyncTestClient[Any], org_a: Org
) -> None:
    base = f"/o/{org_a.slug}/contacts"
    csrf = csrf_of((await browser.get(f"{base}/import")).text)
    wide = ";".join(f"Spalte {n}" for n in range(250)) + "\n" + ";".join("x" for _ in range(250)) + "\n"
    r = await browser.post(
        f"{base}/import", data={"_csrf": csrf}, files={"file": ("breit.csv", wide.encode(), "text/csv")}
    )
    assert r.status_code == 422
    assert "Höchstens 200 Spalten je Tabellenblatt." in r.text and "columns per sheet" not in r.text
