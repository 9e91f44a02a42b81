"""Everything the events API offers, done on the event page as a coordinator: edit, cancel,
invite through the searchable picker or by programme/kind/status, take someone off the list."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from shared.db import Database
from shared.permissions import Role
from tests.conftest import Org
from tests.fixtures.intake import IntakeApi
from tests.fixtures.tasks import add_member, csrf_of, sign_in


async def _event(intake: IntakeApi, **extra: Any) -> str:
    body = {"kind": "workshop", "title": "Auftakt", "starts_at": "2026-12-03T18:00:00+01:00", **extra}
    made = await intake.call("POST", "/events", json=body, role=Role.COORDINATOR, expect=201)
    return str(made["id"])


async def test_a_coordinator_edits_and_cancels_an_event(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    event = await _event(intake, location="Rathaus")
    anna = await intake.person("mentor", "Anna", email="anna@example.org")
    await intake.call("POST", f"/events/{event}/invitations", json={"contact_ids": [anna]})
    await sign_in(browserless, await add_member(db, org_a))
    url = f"/o/{org_a.slug}/intake/events/{event}"
    page = await browserless.get(url)
    assert 'value="2026-12-03T18:00"' in page.text, "the edit form shows Berlin wall time"
    csrf = csrf_of(page.text)
    edit = {"_csrf": csrf, "title": "Auftakt im Winter", "kind": "training", "starts_at": "2026-12-04T17:30",
            "ends_at": "", "location": "Bibliothek", "description": "", "programme_id": ""}  # fmt: skip
    r = await browserless.post(url, data={**edit, "ends_at": "2026-12-04T16:00"})
    assert (
        r.status_code == 422 and 'id="ends_at-error"' in r.text and '<details id="edit-event" open>' in r.text
    )
    assert 'value="Auftakt im Winter"' in r.text, "what was typed is shown again"
    assert (await intake.call("GET", f"/events/{event}"))["title"] == "Auftakt", "nothing half-written"
    r = await browserless.post(url, data=edit, follow_redirects=False)
    assert r.status_code == 303
    stored = await intake.call("GET", f"/events/{event}")
    assert (stored["title"], stored["kind"], stored["location"]) == (
        "Auftakt im Winter",
        "training",
        "Bibliothek",
    )
    assert stored["starts_at"] == "2026-12-04T16:30:00Z"
    page = await browserless.get(r.headers["location"])
    assert "Gespeichert." in page.text and "Auftakt im Winter" in page.text

    # Cancelling asks first and names what is lost: the list of one person.
    assert 'data-confirm="Die Absage löscht diese Veranstaltung und ihre Liste mit 1 Person' in page.text
    r = await browserless.post(f"{url}/cancel", data={"_csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert (await intake.call("GET", f"/events/{event}", expect=None)).status_code == 404
    page = await browserless.get(r.headers["location"])
    assert "Die Veranstaltung ist abgesagt." in page.text and "Auftakt im Winter" not in page.text


async def test_the_picker_finds_people_and_invites_by_programme_kind_and_status(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    lesen = await intake.programme("Lesepaten")
    event = await _event(intake)
    anna = await intake.person("mentor", "Anna", lesen, email="anna@example.org")
    bert = await intake.person("mentor", "Bert", lesen)
    await intake.person("mentee", "Carla", lesen)
    await intake.person("mentor", "Dora")  # another programme: not found by the programme filter
    await sign_in(browserless, await add_member(db, org_a))
    url = f"/o/{org_a.slug}/intake/events/{event}"
    page = await browserless.get(url, params={"q": "ann"})
    assert "Anna Muster" in page.text and "Bert Muster" not in page.text, "the search narrows the list"
    assert "multiple" not in page.text, "no Ctrl-click list of every contact"
    csrf = csrf_of(page.text)
    r = await browserless.post(f"{url}/invitations", data={"_csrf": csrf})
    assert r.status_code == 422 and "Bitte mindestens eine Person auswählen." in r.text
    r = await browserless.post(
        f"{url}/invitations", data={"_csrf": csrf, "contact_ids": [anna]}, follow_redirects=False
    )
    assert r.status_code == 303
    page = await browserless.get(url, params={"programme": lesen, "kind": "mentor"})
    assert "2 Personen gefunden" in page.text
    assert "(auf der Liste)" in page.text, "Anna is shown as invited already"
    assert "Alle Gefundenen einladen (1)" in page.text, "the button counts only whom it would invite"
    r = await browserless.post(
        f"{url}/invitations",
        data={
            "_csrf": csrf,
            "everyone": "yes",
            "find.programme": lesen,
            "find.kind": "mentor",
            "find.status": "",
            "find.q": "",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    listed = {a["contact_id"] for a in (await intake.call("GET", f"/events/{event}"))["attendees"]}
    assert listed == {anna, bert}, "Carla (mentee) and Dora (other programme) were not invited"
    r = await browserless.post(
        f"{url}/invitations",
        data={"_csrf": csrf, "everyone": "yes", "find.programme": lesen, "find.kind": "mentor"},
    )
    assert r.status_code == 422 and "Niemand gefunden, der noch nicht eingeladen ist." in r.text
    page = await browserless.get(url, params={"status": "nonsense"})
    assert page.status_code == 200 and 'id="status-error"' in page.text

    # Taking someone off the list asks first and names them.
    page = await browserless.get(url)
    assert "Bert Muster wird von der Liste dieser Veranstaltung genommen" in page.text
    r = await browserless.post(f"{url}/attendees/{bert}/remove", data={"_csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    listed = {a["contact_id"] for a in (await intake.call("GET", f"/events/{event}"))["attendees"]}
    assert listed == {anna}


async def test_viewers_cannot_edit_cancel_or_invite(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    event = await _event(intake)
    anna = await intake.person("mentor", "Anna")
    await sign_in(browserless, await add_member(db, org_a, role="viewer"))
    url = f"/o/{org_a.slug}/intake/events/{event}"
    page = await browserless.get(url)
    assert (
        page.status_code == 200
        and "Veranstaltung absagen" not in page.text
        and "Personen einladen" not in page.text
    )
    csrf = csrf_of(page.text)
    for path, data in [("", {"title": "X"}), ("/cancel", {}), ("/invitations", {"contact_ids": anna})]:
        r = await browserless.post(url + path, data={"_csrf": csrf, **data})
        assert r.status_code == 403, path
    assert (await intake.call("GET", f"/events/{event}"))["title"] == "Auftakt"
