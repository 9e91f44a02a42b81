"""The last contact writes the API offered alone, now in the pages: delete a contact entered by
mistake, merge a duplicate, change a custom field, remove a programme; and remove a sign-up form."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from shared.db import Database
from tests.conftest import Org
from tests.fixtures.intake import IntakeApi
from tests.fixtures.tasks import add_member, csrf_of, sign_in


async def test_a_coordinator_merges_a_duplicate_and_deletes_a_mistake(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    keep = await intake.person("mentor", "Greta", email="greta@example.org", phone="030 1234")
    twin = await intake.person("mentor", "Greta", email="greta@example.org", city="Berlin")
    await sign_in(browserless, await add_member(db, org_a))
    url = f"/o/{org_a.slug}/contacts/{keep}"
    page = await browserless.get(url)
    assert "Greta Muster wird mit Greta Muster zusammengeführt" in page.text, "merging asks first"
    csrf = csrf_of(page.text)
    r = await browserless.post(f"{url}/merge", data={"_csrf": csrf, "other_id": keep})
    assert r.status_code == 422 and 'role="alert"' in r.text
    r = await browserless.post(f"{url}/merge", data={"_csrf": csrf, "other_id": twin}, follow_redirects=False)
    assert r.status_code == 303
    kept = await intake.call("GET", f"/contacts/{keep}")
    assert kept["city"] == "Berlin" and kept["phone"] == "030 1234"
    assert (await intake.call("GET", f"/contacts/{twin}", expect=None)).status_code == 404
    merged = (await browserless.get(r.headers["location"])).text
    assert "Die Kontakte sind zusammengeführt." in merged
    assert f"Mit einem doppelten Datensatz zusammengeführt ({twin})." in merged

    mistake = await intake.person("mentee", "Irrtum")
    page = await browserless.get(f"/o/{org_a.slug}/contacts/{mistake}")
    assert "Irrtum Muster wird mit allem gelöscht" in page.text
    r = await browserless.post(
        f"/o/{org_a.slug}/contacts/{mistake}/delete", data={"_csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert (await intake.call("GET", f"/contacts/{mistake}", expect=None)).status_code == 404
    assert "Der Kontakt ist gelöscht." in (await browserless.get(r.headers["location"])).text


async def test_a_legal_hold_stops_the_deletion_with_the_reason_on_the_page(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    held = await intake.person("mentee", "Hold")
    await intake.call(
        "PATCH", f"/contacts/{held}", json={"legal_hold": True, "legal_hold_reason": "Verfahren"}
    )
    await sign_in(browserless, await add_member(db, org_a))
    page = await browserless.get(f"/o/{org_a.slug}/contacts/{held}")
    r = await browserless.post(f"/o/{org_a.slug}/contacts/{held}/delete", data={"_csrf": csrf_of(page.text)})
    assert r.status_code == 409 and 'role="alert"' in r.text and "vor dem Löschen auf" in r.text
    assert (await intake.call("GET", f"/contacts/{held}"))["first_name"] == "Hold"


async def test_an_admin_changes_a_field_and_removes_a_programme_and_a_form(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    field = await intake.call(
        "POST",
        "/contacts/fields",
        json={"key": "schule", "label_de": "Schule", "label_en": "School", "type": "text"},
        expect=201,
    )
    programme = await intake.programme("Altes Programm")
    await intake.person("mentor", "Pia", programme)
    await sign_in(browserless, await add_member(db, org_a, role="admin"))
    page = await browserless.get(f"/o/{org_a.slug}/contacts/fields")
    csrf = csrf_of(page.text)
    r = await browserless.post(
        f"/o/{org_a.slug}/contacts/fields/{field['id']}",
        data={"_csrf": csrf, "label_de": "Schule des Kindes", "label_en": "School", "required_for": "mentee"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    [changed] = await intake.call("GET", "/contacts/fields")
    assert (changed["label_de"], changed["required_for"]) == ("Schule des Kindes", ["mentee"])

    settings = await browserless.get(f"/o/{org_a.slug}/contacts/settings")
    assert "Das Programm Altes Programm wird entfernt: 1 Personen verlassen es" in settings.text
    r = await browserless.post(
        f"/o/{org_a.slug}/contacts/programmes/{programme}/remove",
        data={"_csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert programme not in {p["id"] for p in await intake.call("GET", "/contacts/programmes")}

    other = await intake.programme("Lesepaten")
    body = {
        "slug": "lesen",
        "programme_id": other,
        "audience": "mentor",
        "title_de": "Lesen",
        "title_en": "Reading",
    }
    form = await intake.call("POST", "/forms", json=body, expect=201)
    page = await browserless.get(f"/o/{org_a.slug}/intake/forms/{form['id']}")
    assert "Seine öffentliche Adresse funktioniert nicht mehr" in page.text
    r = await browserless.post(
        f"/o/{org_a.slug}/intake/forms/{form['id']}/remove", data={"_csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert (await intake.call("GET", "/forms"))["items"] == []


async def test_coordinators_cannot_remove_programmes_or_change_fields(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    programme = await intake.programme("Bleibt")
    await sign_in(browserless, await add_member(db, org_a))
    page = await browserless.get(f"/o/{org_a.slug}/contacts")
    r = await browserless.post(
        f"/o/{org_a.slug}/contacts/programmes/{programme}/remove", data={"_csrf": csrf_of(page.text)}
    )
    assert r.status_code == 403
    assert programme in {p["id"] for p in await intake.call("GET", "/contacts/programmes")}
