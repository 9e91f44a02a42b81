"""Screening and preparation: steps, records, the certificate as § 72a SGB VIII allows, readiness,
re-inspection reminders, child-protection decisions."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
from sqlalchemy import func, select

from shared import clock
from shared.db import Database, plain_url
from shared.intake import reminders, vocab
from shared.intake.readiness import not_ready_reasons
from shared.permissions import Role
from shared.tasks.models import Task
from tests.conftest import Org, Servers
from tests.fixtures.intake import IntakeApi


async def _complete_all_but(intake: IntakeApi, person: str, steps: dict[str, str], *skip: str) -> None:
    for kind, step_id in steps.items():
        if kind in skip or kind == "certificate":
            continue
        await intake.call(
            "POST",
            "/screening/records",
            json={"contact_id": person, "step_id": step_id, "outcome": "passed", "done_by": "Frau Lehmann"},
            role=Role.COORDINATOR,
            expect=201,
        )
    if "certificate" not in skip:
        await intake.call(
            "POST",
            "/screening/certificates",
            json={
                "contact_id": person,
                "seen": True,
                "issued_on": (clock.today() - timedelta(days=20)).isoformat(),
                "has_relevant_entries": False,
            },
            role=Role.COORDINATOR,
            expect=201,
        )


async def test_a_person_is_ready_only_when_every_required_step_is_complete(intake: IntakeApi) -> None:
    programme = await intake.programme()
    steps = await intake.steps(programme)
    assert set(steps) == {"interview", "seminar", "certificate", "references", "agreement"}
    mentor = await intake.person("mentor", "Paul", programme)

    await _complete_all_but(intake, mentor, steps, "seminar")
    checklist = await intake.call("GET", f"/screening/people/{mentor}", role=Role.VIEWER)
    assert checklist["ready"] is False
    assert checklist["reasons"] == ["„Vorbereitungsseminar“ (Lesepaten) fehlt noch"]
    assert checklist["reasons_en"] == ["“Preparation seminar” (Lesepaten) is still missing"]
    states = {s["kind"]: s["state"] for s in checklist["steps"]}
    assert states == {
        "interview": "done",
        "seminar": "missing",
        "certificate": "done",
        "references": "done",
        "agreement": "done",
    }
    interview = next(s for s in checklist["steps"] if s["kind"] == "interview")
    assert interview["done_by"] == "Frau Lehmann" and interview["done_on"] == clock.today().isoformat()

    r = await intake.call("GET", "/screening/readiness", params={"contact_id": mentor, "lang": "en"})
    assert r["items"] == [
        {
            "contact_id": mentor,
            "ready": False,
            "reasons": ["“Preparation seminar” (Lesepaten) is still missing"],
        }
    ]

    # A failed seminar is a reason of its own; passing it later makes the person ready.
    record = {"contact_id": mentor, "step_id": steps["seminar"], "done_by": "Team"}
    await intake.call("POST", "/screening/records", json={**record, "outcome": "failed"}, expect=201)
    reasons = (await intake.call("GET", f"/screening/people/{mentor}"))["reasons"]
    assert reasons == ["„Vorbereitungsseminar“ (Lesepaten) nicht bestanden"]
    await intake.call("POST", "/screening/records", json={**record, "outcome": "passed"}, expect=201)
    checklist = await intake.call("GET", f"/screening/people/{mentor}")
    assert checklist["ready"] is True and checklist["reasons"] == []

    # An optional step does not hold anyone back; a mentee is not asked for a mentor's certificate.
    mentee = await intake.person("mentee", "Mia", programme)
    reasons = (await intake.call("GET", f"/screening/people/{mentee}"))["reasons"]
    assert reasons == [
        "„Erstgespräch“ (Lesepaten) fehlt noch",
        "„Unterschriebene Vereinbarung“ (Lesepaten) fehlt noch",
    ]
    await intake.call("PATCH", f"/screening/steps/{steps['agreement']}", json={"required": False})
    reasons = (await intake.call("GET", f"/screening/people/{mentee}"))["reasons"]
    assert reasons == ["„Erstgespräch“ (Lesepaten) fehlt noch"]


async def test_not_ready_reasons_is_what_matching_calls(db: Database, intake: IntakeApi, org_a: Org) -> None:
    programme = await intake.programme()
    steps = await intake.steps(programme)
    ready = await intake.person("mentor", "Rita", programme)
    await _complete_all_but(intake, ready, steps)
    missing = await intake.person("mentor", "Max", programme)
    await _complete_all_but(intake, missing, steps, "certificate")
    outsider = await intake.person("mentor", "Otto")  # in no programme: nothing is asked of him
    unknown = uuid.uuid4()
    async with db.tenant(org_a.id) as session:
        ids = [uuid.UUID(ready), uuid.UUID(missing), uuid.UUID(outsider), unknown]
        found = await not_ready_reasons(session, ids)
        english = await not_ready_reasons(session, ids, locale="en")
    assert found[uuid.UUID(ready)] == [] and found[uuid.UUID(outsider)] == []
    assert found[uuid.UUID(missing)] == ["„Erweitertes Führungszeugnis“ (Lesepaten) fehlt noch"]
    assert english[uuid.UUID(missing)] == [
        "“Extended criminal-record certificate” (Lesepaten) is still missing"
    ]
    assert found[unknown] == ["Kontakt nicht gefunden"]


async def test_the_certificate_stores_exactly_what_the_law_allows(
    intake: IntakeApi, servers: Servers
) -> None:
    conn = await asyncpg.connect(plain_url(servers.app_url))
    try:
        columns = {
            r["column_name"]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'certificate_inspections'"
            )
        }
    finally:
        await conn.close()
    assert columns == {
        "organization_id",
        "id",
        "contact_id",
        "seen",
        "issued_on",
        "inspected_on",
        "inspected_by",
        "inspected_by_membership_id",
        "has_relevant_entries",
    }
    programme = await intake.programme()
    await intake.steps(programme)
    mentor = await intake.person("mentor", "Paula", programme)
    body = {"contact_id": mentor, "seen": True, "issued_on": "2026-10-01", "has_relevant_entries": False}
    for extra in ({"document": "JVBERi0xLjQK"}, {"file": "scan.pdf"}, {"entries": "…"}, {"note": "x"}):
        r = await intake.call("POST", "/screening/certificates", json={**body, **extra}, expect=None)
        assert r.status_code in (400, 422), r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert f"unknown field `{next(iter(extra))}`" in r.json()["detail"], r.json()
    r = await intake.call(
        "POST",
        "/screening/certificates",
        files={"document": ("fz.pdf", b"%PDF-1.4", "application/pdf")},
        data={k: str(v) for k, v in body.items()},
        expect=None,
    )
    assert r.status_code in (400, 415), r.text
    r = await intake.call("POST", "/screening/certificates", json={**body, "seen": False}, expect=None)
    assert r.status_code == 422 and r.json()["field"] == "seen"
    r = await intake.call(
        "POST", "/screening/certificates", json={**body, "inspected_on": "2026-09-01"}, expect=None
    )
    assert r.status_code == 422 and r.json()["field"] == "issued_on"
    assert (await intake.call("GET", "/screening/certificates", params={"contact_id": mentor}))["items"] == []

    made = await intake.call(
        "POST",
        "/screening/certificates",
        json={**body, "inspected_on": "2026-10-20"},
        role=Role.COORDINATOR,
        expect=201,
    )
    assert made["inspected_by"] == "API token coordinator token"
    assert made["reinspect_on"] == "2031-10-01"
    assert set(made) == {
        "id", "contact_id", "seen", "issued_on", "inspected_on", "inspected_by", "has_relevant_entries",
        "reinspect_on",
    }  # fmt: skip


async def test_relevant_entries_and_a_lapsed_certificate_keep_a_person_from_matching(
    intake: IntakeApi,
) -> None:
    programme = await intake.programme()
    steps = await intake.steps(programme)
    await intake.call("PATCH", f"/screening/steps/{steps['certificate']}", json={"valid_months": 36})
    mentor = await intake.person("mentor", "Bernd", programme)
    await _complete_all_but(intake, mentor, steps, "certificate")
    old = {"contact_id": mentor, "seen": True, "has_relevant_entries": False}
    issued = clock.today() - timedelta(days=3 * 366)
    await intake.call(
        "POST", "/screening/certificates", json={**old, "issued_on": issued.isoformat()}, expect=201
    )
    checklist = await intake.call("GET", f"/screening/people/{mentor}")
    due = vocab.add_months(issued, 36)
    assert checklist["reasons"] == [
        f"Das erweiterte Führungszeugnis muss erneut eingesehen werden (fällig seit {due:%d.%m.%Y})"
    ]
    fresh = {**old, "issued_on": clock.today().isoformat(), "has_relevant_entries": True}
    await intake.call("POST", "/screening/certificates", json=fresh, expect=201)
    checklist = await intake.call("GET", f"/screening/people/{mentor}")
    assert checklist["reasons"] == ["Aus Gründen des Kinderschutzes nicht für die Vermittlung freigegeben"]
    assert {s["kind"]: s["state"] for s in checklist["steps"]}["certificate"] == "blocked"
    assert checklist["certificate"]["has_relevant_entries"] is True
    # Read-only members learn that the person is not cleared, never what the certificate holds.
    seen = await intake.call("GET", f"/screening/people/{mentor}", role=Role.VIEWER)
    assert seen["certificate"] is None and seen["reasons"] == checklist["reasons"]
    await intake.call(
        "GET", "/screening/certificates", params={"contact_id": mentor}, role=Role.VIEWER, expect=403
    )


async def test_child_protection_is_decided_and_noted_by_admins_only(intake: IntakeApi) -> None:
    programme = await intake.programme()
    mentor = await intake.person("mentor", "Carl", programme)
    decline = {"intake_status": "declined_child_protection", "protection_notes": "Gespräch am 3.11."}
    r = await intake.call(
        "PATCH", f"/screening/people/{mentor}", json=decline, role=Role.COORDINATOR, expect=422
    )
    assert r["field"] == "intake_status"
    r = await intake.call(
        "PATCH",
        f"/screening/people/{mentor}",
        json={"protection_notes": "x"},
        role=Role.COORDINATOR,
        expect=422,
    )
    assert r["field"] == "protection_notes"
    await intake.call("PATCH", f"/screening/people/{mentor}", json={"intake_status": "x"}, expect=422)
    await intake.call("PATCH", f"/screening/people/{mentor}", json={"form_of_address": "ihr"}, expect=422)
    await intake.call("PATCH", f"/screening/people/{mentor}", json=decline, role=Role.VIEWER, expect=403)

    admin = await intake.call(
        "PATCH", f"/screening/people/{mentor}", json={**decline, "form_of_address": "du"}
    )
    assert admin["protection_notes"] == "Gespräch am 3.11." and admin["form_of_address"] == "du"
    assert admin["ready"] is False
    assert admin["reasons"] == ["Aus Gründen des Kinderschutzes nicht für die Vermittlung freigegeben"]
    for role in (Role.COORDINATOR, Role.VIEWER):
        seen = await intake.call("GET", f"/screening/people/{mentor}", role=role)
        assert seen["intake_status"] == "declined_child_protection"
        assert seen["protection_notes"] is None and "Gespräch" not in str(seen)
    # A coordinator may still change the form of address without touching the decision.
    seen = await intake.call(
        "PATCH", f"/screening/people/{mentor}", json={"form_of_address": "sie"}, role=Role.COORDINATOR
    )
    assert seen["form_of_address"] == "sie" and seen["intake_status"] == "declined_child_protection"


async def test_a_certificate_due_for_re_inspection_creates_one_reminder(
    db: Database, intake: IntakeApi, org_a: Org
) -> None:
    programme = await intake.programme()
    steps = await intake.steps(programme)
    mentor = await intake.person("mentor", "Dora", programme)
    fresh = await intake.person("mentor", "Emil", programme)
    await _complete_all_but(intake, mentor, steps, "certificate")
    issued = clock.today() - timedelta(days=5 * 365 - 10)  # runs out in about ten days
    body: dict[str, Any] = {"contact_id": mentor, "seen": True, "has_relevant_entries": False}
    await intake.call(
        "POST", "/screening/certificates", json={**body, "issued_on": issued.isoformat()}, expect=201
    )
    await intake.call(
        "POST",
        "/screening/certificates",
        json={**body, "contact_id": fresh, "issued_on": clock.today().isoformat()},
        expect=201,
    )

    assert org_a.id in await reminders.organisations_with_open_inspections(db)
    first = await reminders.send_due(db, org_a.id, vocab.today(), "http://codo.test")
    again = await reminders.send_due(db, org_a.id, vocab.today(), "http://codo.test")
    assert (first.created, again.created) == (1, 0)
    async with db.tenant(org_a.id) as session:
        titles = (
            (await session.execute(select(Task.title).where(Task.title.like("Führungszeugnis%"))))
            .scalars()
            .all()
        )
        count = (await session.execute(select(func.count()).select_from(Task))).scalar_one()
    assert titles == ["Führungszeugnis erneut einsehen: Dora Muster"]
    assert count == 1
    # Still ready until the day it runs out; after that the reason says so.
    assert (await intake.call("GET", f"/screening/people/{mentor}"))["ready"] is True
    later = vocab.add_months(issued, 60)
    async with db.tenant(org_a.id) as session:
        found = await not_ready_reasons(session, [uuid.UUID(mentor)], today=later)
    assert found[uuid.UUID(mentor)] == [
        f"Das erweiterte Führungszeugnis muss erneut eingesehen werden (fällig seit {later:%d.%m.%Y})"
    ]


async def test_steps_are_configured_by_admins_and_bad_input_names_the_field(intake: IntakeApi) -> None:
    programme = await intake.programme()
    body = {"programme_id": programme, "kind": "interview"}
    await intake.call("POST", "/screening/steps", json=body, role=Role.COORDINATOR, expect=403)
    made = await intake.call("POST", "/screening/steps", json=body, expect=201)
    assert made["label_de"] == "Erstgespräch" and made["applies_to"] == ["mentor"]
    for bad, field in (
        (body, "key"),
        ({**body, "kind": "astrology"}, "kind"),
        ({**body, "key": "second", "applies_to": ["cat"]}, "applies_to"),
        ({**body, "key": "Bad Key"}, "key"),
        ({**body, "programme_id": str(uuid.uuid4()), "key": "x"}, "programme_id"),
        ({"kind": "interview"}, "programme_id"),
    ):
        r = await intake.call("POST", "/screening/steps", json=bad, expect=None)
        assert r.status_code in (400, 409, 422) and r.json()["field"] == field, (bad, r.text)
    person = await intake.person("mentor", "Fritz", programme)
    record = {"contact_id": person, "step_id": made["id"], "outcome": "passed"}
    for bad, field in (
        ({**record, "outcome": "ok"}, "outcome"),
        ({**record, "done_on": (clock.today() + timedelta(days=2)).isoformat()}, "done_on"),
        ({**record, "contact_id": str(uuid.uuid4())}, "contact_id"),
        ({**record, "step_id": str(uuid.uuid4())}, "step_id"),
    ):
        r = await intake.call("POST", "/screening/records", json=bad, expect=None)
        assert r.status_code == 422 and r.json()["field"] == field, (bad, r.text)
    assert (await intake.call("GET", "/screening/records", params={"contact_id": person}))["items"] == []
    r = await intake.call("GET", "/screening/records", expect=422)
    assert r["field"] == "contact_id"


async def test_one_organisation_cannot_touch_anothers_screening(
    intake: IntakeApi, intake_b: IntakeApi
) -> None:
    programme_b = await intake_b.programme()
    steps_b = await intake_b.steps(programme_b)
    person_b = await intake_b.person("mentor", "Bea", programme_b)
    programme_a = await intake.programme()
    person_a = await intake.person("mentor", "Anna", programme_a)
    await intake.call("GET", f"/screening/people/{person_b}", expect=404)
    await intake.call(
        "PATCH", f"/screening/steps/{steps_b['interview']}", json={"required": False}, expect=404
    )
    foreign_step = {"contact_id": person_a, "step_id": steps_b["interview"], "outcome": "passed"}
    r = await intake.call("POST", "/screening/records", json=foreign_step, expect=422)
    assert r["field"] == "step_id"
    r = await intake.call(
        "POST", "/screening/steps", json={"programme_id": programme_b, "kind": "interview"}, expect=422
    )
    assert r["field"] == "programme_id"
    r = await intake.call("GET", "/screening/readiness", params={"contact_id": person_b})
    assert r["items"][0]["reasons"] == ["Kontakt nicht gefunden"]
    assert (await intake_b.call("GET", f"/screening/people/{person_b}"))["steps"][0]["state"] == "missing"
