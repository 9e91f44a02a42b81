"""A person's intake data leaves with their export and goes with their erasure."""

from __future__ import annotations

import uuid

from shared import clock
from shared.actor import SYSTEM_ACTOR
from shared.db import Database
from shared.intake import privacy
from tests.conftest import Org
from tests.fixtures.intake import IntakeApi


async def test_export_and_erasure_cover_everything_intake_keeps(
    db: Database, intake: IntakeApi, org_a: Org
) -> None:
    programme = await intake.programme()
    steps = await intake.steps(programme)
    person = await intake.person("mentor", "Ida", programme)
    other = await intake.person("mentor", "Udo", programme)
    for who in (person, other):
        record = {
            "contact_id": who,
            "step_id": steps["interview"],
            "outcome": "passed",
            "note": "offen, herzlich",
        }
        await intake.call("POST", "/screening/records", json=record, expect=201)
        certificate = {"contact_id": who, "seen": True, "issued_on": clock.today().isoformat()}
        await intake.call(
            "POST", "/screening/certificates", json={**certificate, "has_relevant_entries": False}, expect=201
        )
    await intake.call(
        "PATCH", f"/screening/people/{person}", json={"form_of_address": "du", "protection_notes": "x"}
    )
    event = await intake.call(
        "POST",
        "/events",
        json={"kind": "outing", "title": "Zoo", "starts_at": "2026-06-01T10:00:00Z"},
        expect=201,
    )
    await intake.call("POST", f"/events/{event['id']}/invitations", json={"contact_ids": [person, other]})

    async with db.tenant(org_a.id) as session:
        exported = await privacy.export_contact(session, uuid.UUID(person), SYSTEM_ACTOR)
    assert exported["form_of_address"] == "du" and exported["protection_notes"] == "x"
    assert [(p["step"], p["note"]) for p in exported["preparation"]] == [("Erstgespräch", "offen, herzlich")]
    assert exported["certificate_inspections"][0]["has_relevant_entries"] is False
    assert [e["title"] for e in exported["events"]] == ["Zoo"]

    async with db.tenant(org_a.id) as session:
        await privacy.erase_contact(session, uuid.UUID(person))
    async with db.tenant(org_a.id) as session:
        gone = await privacy.export_contact(session, uuid.UUID(person), SYSTEM_ACTOR)
        kept = await privacy.export_contact(session, uuid.UUID(other), SYSTEM_ACTOR)
    assert (
        gone["preparation"] == []
        and gone["certificate_inspections"] == []
        and gone["protection_notes"] is None
    )
    assert [e["status"] for e in gone["events"]] == ["invited"], "attendance stays for the statistics"
    assert len(kept["preparation"]) == 1 and len(kept["certificate_inspections"]) == 1
    assert (await intake.call("GET", f"/events/{event['id']}"))["counts"]["total"] == 2
