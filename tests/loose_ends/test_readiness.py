"""Readiness does the obvious thing: the last passed step makes a person ready (with a timeline entry),
a coordinator can set it back, and the matching board lists only who is ready and says why others are not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from shared import clock
from shared.contacts import notes
from shared.db import Database
from shared.permissions import Role
from tests.conftest import Org, create_org
from tests.fixtures.intake import IntakeApi
from tests.fixtures.tasks import add_member, sign_in


async def test_the_last_passed_step_makes_a_person_ready_and_the_board_agrees(
    intake: IntakeApi, browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    programme = await intake.programme()
    steps = await intake.steps(programme)
    paul = await intake.person("mentor", "Paul", programme, status="screening")
    # Marked ready by hand, but never prepared: the board must not offer her.
    rita = await intake.person("mentor", "Rita", programme, status="ready")

    async def record(kind: str) -> None:
        await intake.call(
            "POST",
            "/screening/records",
            json={"contact_id": paul, "step_id": steps[kind], "outcome": "passed", "done_by": "Frau Lehmann"},
            role=Role.COORDINATOR,
            expect=201,
        )

    for kind in ("interview", "references", "agreement"):
        await record(kind)
    await intake.call(
        "POST",
        "/screening/certificates",
        json={
            "contact_id": paul,
            "seen": True,
            "issued_on": (clock.today() - timedelta(days=20)).isoformat(),
            "has_relevant_entries": False,
        },
        role=Role.COORDINATOR,
        expect=201,
    )
    assert (await intake.call("GET", f"/contacts/{paul}"))["status"] == "screening"
    await record("seminar")  # the last required step
    assert (await intake.call("GET", f"/contacts/{paul}"))["status"] == "ready"

    member = await add_member(db, org_a)
    await sign_in(browserless, member)
    page = (await browserless.get(f"/o/{org_a.slug}/contacts/{paul}")).text
    assert "bereit" in page.split("<h1")[1].split("</h1>")[0]
    assert "Bereit für die Vermittlung: alle Pflichtschritte der Vorbereitung sind erledigt" in page
    assert "zuletzt: Vorbereitungsseminar" in page
    # The same entry in the reader's language, and in English over the API.
    await sign_in(browserless, await add_member(db, org_a, locale="en"))
    page = (await browserless.get(f"/o/{org_a.slug}/contacts/{paul}")).text
    assert "Ready for matching: every required preparation step is done" in page
    assert "Bereit für die Vermittlung" not in page
    notes = (await intake.call("GET", f"/contacts/{paul}/timeline"))["items"]
    assert notes[0]["body"].startswith("Ready for matching: every required preparation step is done (last: ")
    await sign_in(browserless, member)

    available = await intake.call("GET", "/matching/available", role=Role.VIEWER)
    assert [p["name"] for p in available] == ["Paul Muster"]
    board = (await browserless.get(f"/o/{org_a.slug}/matching")).text
    mentors = board.split('id="waiting-title"')[1]
    assert "Paul Muster" in mentors and "Rita Muster" not in mentors.split('id="missing-title"')[0]
    why = (await browserless.get(f"/o/{org_a.slug}/matching", params={"why": "Rita"})).text
    answer = why.split('class="missing"')[1].split("</ul>")[0]
    assert "Rita Muster" in answer and "„Vorbereitungsseminar“ (Lesepaten) fehlt noch" in answer

    # The coordinator can set it back; the lists follow and say why.
    await intake.call("PATCH", f"/contacts/{paul}", json={"status": "screening"}, role=Role.COORDINATOR)
    assert await intake.call("GET", "/matching/available", role=Role.VIEWER) == []
    reasons = await intake.call("GET", f"/matching/missing/{paul}", params={"role": "mentor"})
    assert reasons == ["Status ist „in Prüfung“"]
    english = {"role": "mentor", "locale": "en"}
    rita_why = await intake.call("GET", f"/matching/missing/{rita}", params=english)
    assert "“Preparation seminar” (Lesepaten) is still missing" in rita_why
    # Another organisation's person is not found, not explained.
    other = await create_org(db)
    r = await intake.client.get(f"/api/v1/orgs/{other.slug}/matching/missing/{rita}", headers=other.auth())
    assert r.status_code == 404
    assert (await intake.call("GET", f"/contacts/{paul}"))["status"] == "screening"


def test_a_readiness_note_stored_in_german_reads_in_english() -> None:
    """Notes written before codo stored them in English still follow the reader's language."""
    stored = (
        "Bereit für die Vermittlung: alle Pflichtschritte der Vorbereitung sind erledigt (zuletzt: Seminar)."
    )
    assert notes.note_text(stored, "en") == (
        "Ready for matching: every required preparation step is done (last: Seminar)."
    )
    assert (
        notes.note_text("Bereit für die Vermittlung? Noch nicht.", "en")
        == "Bereit für die Vermittlung? Noch nicht."
    )
