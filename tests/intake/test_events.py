"""Events: invitations by e-mail in each person's form of address, attendance and its counts."""

from __future__ import annotations

import secrets
import uuid
from email.header import decode_header, make_header
from typing import Any

from services.worker.main import deliver_outbox
from shared.db import Database
from shared.permissions import Role
from shared.settings import Settings
from tests.conftest import Mailbox
from tests.fixtures.intake import IntakeApi

EVENT = {
    "kind": "workshop",
    "title": "Nähe und Distanz",
    "starts_at": "2026-12-03T18:00:00+01:00",
    "ends_at": "2026-12-03T20:30:00+01:00",
    "location": "Nachbarschaftshaus",
}


def _address(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}@example.org"


def subject(message: Any) -> str:
    return str(make_header(decode_header(message["Subject"])))


def _body(message: Any) -> str:
    payload = (
        message.get_payload(decode=True)
        if not message.is_multipart()
        else message.get_payload(0).get_payload(decode=True)
    )
    return str(payload.decode())


async def test_invitations_speak_to_each_person_as_they_are_addressed(
    intake: IntakeApi, db: Database, settings: Settings, mailbox: Mailbox
) -> None:
    jana, ole, kim = _address("jana"), _address("ole"), _address("kim")
    du = await intake.person("mentor", "Jana", email=jana)
    sie = await intake.person("mentor", "Ole", email=ole, last_name="Berger")
    english = await intake.person("mentor", "Kim", email=kim, languages=["en"])
    silent = await intake.person("mentee", "Tom")
    await intake.call("PATCH", f"/screening/people/{du}", json={"form_of_address": "du"})
    event = await intake.call("POST", "/events", json=EVENT, role=Role.COORDINATOR, expect=201)

    sent = await intake.call(
        "POST", f"/events/{event['id']}/invitations", json={"contact_ids": [du, sie, english, silent]}
    )
    assert set(sent["invited"]) == {du, sie, english}
    assert sent["without_email"] == [silent] and sent["already_invited"] == []
    again = await intake.call("POST", f"/events/{event['id']}/invitations", json={"contact_ids": [du]})
    assert again == {"invited": [], "already_invited": [du], "without_email": []}

    await deliver_outbox({"db": db, "settings": settings, "worker_name": "test"})
    [to_jana] = await mailbox.wait_for(jana)
    [to_ole] = await mailbox.wait_for(ole)
    [to_kim] = await mailbox.wait_for(kim)
    assert subject(to_jana) == "Einladung: Nähe und Distanz"
    assert _body(to_jana).startswith("Hallo Jana,")
    assert (
        "wir laden dich herzlich ein: Nähe und Distanz am 03.12.2026 um 18:00 Uhr in Nachbarschaftshaus"
        in _body(to_jana)
    )
    assert "Gib uns bitte kurz Bescheid, ob du dabei bist." in _body(to_jana)
    assert _body(to_ole).startswith("Guten Tag Ole Berger,")
    assert "wir laden Sie herzlich ein" in _body(to_ole) and " dich " not in _body(to_ole)
    assert subject(to_kim) == "Invitation: Nähe und Distanz"
    assert "we warmly invite you: Nähe und Distanz on Dec 3, 2026 at 6:00\u202fPM" in _body(to_kim)


async def test_attendance_is_counted_per_event_and_per_person(intake: IntakeApi) -> None:
    people = [await intake.person("mentor", name) for name in ("Ada", "Ben", "Cem", "Dan")]
    first = await intake.call("POST", "/events", json=EVENT, expect=201)
    regulars = {**EVENT, "kind": "regulars", "title": "Stammtisch", "starts_at": "2026-12-10T19:00:00+01:00"}
    second = await intake.call("POST", "/events", json={**regulars, "ends_at": None}, expect=201)
    for event in (first, second):
        await intake.call("POST", f"/events/{event['id']}/invitations", json={"contact_ids": people})
    marks = [
        {"contact_id": people[0], "status": "present"},
        {"contact_id": people[1], "status": "absent"},
        {"contact_id": people[2], "status": "confirmed"},
    ]
    detail = await intake.call(
        "POST", f"/events/{first['id']}/attendance", json={"items": marks}, role=Role.COORDINATOR
    )
    assert detail["counts"] == {"total": 4, "invited": 1, "confirmed": 1, "present": 1, "absent": 1}
    assert {a["name"]: a["status"] for a in detail["attendees"]} == {
        "Ada Muster": "present", "Ben Muster": "absent", "Cem Muster": "confirmed", "Dan Muster": "invited",
    }  # fmt: skip
    await intake.call(
        "POST",
        f"/events/{second['id']}/attendance",
        json={"items": [{"contact_id": people[0], "status": "present"}]},
    )
    listed = {
        e["title"]: e["counts"] for e in (await intake.call("GET", "/events", role=Role.VIEWER))["items"]
    }
    assert listed["Stammtisch"] == {"total": 4, "invited": 3, "confirmed": 0, "present": 1, "absent": 0}
    ada = await intake.call("GET", f"/events/people/{people[0]}", role=Role.VIEWER)
    assert ada["counts"] == {"total": 2, "invited": 0, "confirmed": 0, "present": 2, "absent": 0}
    assert [e["title"] for e in ada["events"]] == ["Stammtisch", "Nähe und Distanz"]

    totals = {s["kind"]: s for s in (await intake.call("GET", "/events/summary", role=Role.VIEWER))["items"]}
    assert totals["workshop"]["events"] == 1 and totals["regulars"]["events"] == 1
    assert totals["workshop"]["counts"] == {
        "total": 4,
        "invited": 1,
        "confirmed": 1,
        "present": 1,
        "absent": 1,
    }
    assert totals["outing"] == {
        "kind": "outing",
        "events": 0,
        "counts": {k: 0 for k in totals["outing"]["counts"]},
    }
    december = {"after": "2026-12-05T00:00:00+01:00", "before": "2027-01-01T00:00:00+01:00"}
    later = {s["kind"]: s for s in (await intake.call("GET", "/events/summary", params=december))["items"]}
    assert later["workshop"]["events"] == 0 and later["regulars"]["counts"]["present"] == 1

    # All or nothing: one bad line leaves every mark as it was.
    stranger = await intake.person("mentor", "Eve")
    bad = [{"contact_id": people[3], "status": "present"}, {"contact_id": stranger, "status": "present"}]
    r = await intake.call("POST", f"/events/{first['id']}/attendance", json={"items": bad}, expect=422)
    assert r["field"] == "items[1].contact_id"
    late = {"items": [{"contact_id": people[3], "status": "late"}]}
    r = await intake.call("POST", f"/events/{first['id']}/attendance", json=late, expect=422)
    assert r["field"] == "items[0].status"
    detail = await intake.call("GET", f"/events/{first['id']}")
    assert detail["counts"]["invited"] == 1
    await intake.call(
        "POST", f"/events/{first['id']}/attendance", json={"items": marks}, role=Role.VIEWER, expect=403
    )


async def test_bad_events_name_the_field_and_stay_unwritten(intake: IntakeApi) -> None:
    for bad, field in (
        ({**EVENT, "kind": "party"}, "kind"),
        ({**EVENT, "title": "  "}, "title"),
        ({**EVENT, "starts_at": "2026-12-03T18:00:00"}, "starts_at"),
        ({**EVENT, "ends_at": "2026-12-03T17:00:00+01:00"}, "ends_at"),
        ({**EVENT, "programme_id": str(uuid.uuid4())}, "programme_id"),
    ):
        r = await intake.call("POST", "/events", json=bad, expect=422)
        assert r["field"] == field, (bad, r)
    assert (await intake.call("GET", "/events"))["items"] == []
    event = await intake.call("POST", "/events", json=EVENT, expect=201)
    r = await intake.call(
        "POST", f"/events/{event['id']}/invitations", json={"contact_ids": [str(uuid.uuid4())]}, expect=422
    )
    assert r["field"] == "contact_ids"
    assert (await intake.call("GET", f"/events/{event['id']}"))["attendees"] == []


async def test_events_of_another_organisation_are_out_of_reach(
    intake: IntakeApi, intake_b: IntakeApi
) -> None:
    theirs = await intake_b.call("POST", "/events", json=EVENT, expect=201)
    their_person = await intake_b.person("mentor", "Bea")
    mine = await intake.call("POST", "/events", json=EVENT, expect=201)
    await intake.call("GET", f"/events/{theirs['id']}", expect=404)
    await intake.call(
        "POST", f"/events/{theirs['id']}/invitations", json={"contact_ids": [their_person]}, expect=404
    )
    r = await intake.call(
        "POST", f"/events/{mine['id']}/invitations", json={"contact_ids": [their_person]}, expect=422
    )
    assert r["field"] == "contact_ids"
    await intake.call("GET", f"/events/people/{their_person}", expect=404)
    assert (await intake_b.call("GET", f"/events/{theirs['id']}"))["attendees"] == []
