"""A person's export shows each role no more than the pages and the API show that role."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from shared import clock
from shared.db import Database
from shared.permissions import Role
from tests.conftest import Org
from tests.fixtures.intake import IntakeApi
from tests.fixtures.tasks import add_member, sign_in

ADMIN_SECRET = "Admin-Vertraulich-Kinderschutz"
COORDINATOR_SECRET = "Koordi-Vertraulich-Familie"
OPEN_NOTE = "Offene Notiz zum Erstgespräch"
PROTECTION = "Hinweis-Kinderschutz-nur-Admins"


async def prepared_person(intake: IntakeApi) -> str:
    programme = await intake.programme()
    person = await intake.person("mentor", "Ida", programme)
    for role, body, confidential in (
        (Role.ADMIN, ADMIN_SECRET, True),
        (Role.COORDINATOR, COORDINATOR_SECRET, True),
        (Role.COORDINATOR, OPEN_NOTE, False),
    ):
        await intake.call(
            "POST",
            f"/contacts/{person}/timeline",
            json={"kind": "note", "body": body, "confidential": confidential},
            role=role,
            expect=201,
        )
    await intake.call("PATCH", f"/screening/people/{person}", json={"protection_notes": PROTECTION})
    certificate = {"contact_id": person, "seen": True, "issued_on": clock.today().isoformat()}
    await intake.call(
        "POST", "/screening/certificates", json={**certificate, "has_relevant_entries": False}, expect=201
    )
    return person


@pytest.mark.parametrize("role", list(Role))
async def test_the_person_export_holds_what_the_role_sees_through_the_api(
    intake: IntakeApi, role: Role
) -> None:
    person = await prepared_person(intake)
    export = await intake.call("GET", f"/contacts/{person}/export", role=role, expect=None)
    timeline = await intake.call("GET", f"/contacts/{person}/timeline", role=role, expect=None)
    checklist = await intake.call("GET", f"/screening/people/{person}", role=role, expect=None)
    certificates = await intake.call(
        "GET", f"/screening/certificates?contact_id={person}", role=role, expect=None
    )
    if role is Role.VIEWER:
        # Viewers read dashboards and lists; a person's whole record is not theirs to take away.
        assert export.status_code == 403
        return
    if role is Role.REPORTER:
        # The reports-only role sees no person at all: neither the export nor what it is made of.
        assert export.status_code == timeline.status_code == checklist.status_code == 403
        return
    assert export.status_code == timeline.status_code == checklist.status_code == 200
    data: dict[str, Any] = export.json()

    seen_in_api = {entry["body"] for entry in timeline.json()["items"]}
    in_export = {entry["text"] for entry in data["timeline"]}
    assert in_export == seen_in_api
    assert (ADMIN_SECRET in in_export) is (role in (Role.OWNER, Role.ADMIN))
    assert COORDINATOR_SECRET in in_export and OPEN_NOTE in in_export  # the coordinator's own note

    intake_part = data["domains"]["intake"]
    assert intake_part["protection_notes"] == checklist.json()["protection_notes"]
    assert (intake_part["protection_notes"] == PROTECTION) is (role in (Role.OWNER, Role.ADMIN))

    api_certificates = certificates.json()["items"] if certificates.status_code == 200 else []
    assert len(intake_part["certificate_inspections"]) == len(api_certificates) == 1
    assert not export.text.count(PROTECTION) or role in (Role.OWNER, Role.ADMIN)


async def test_the_person_export_page_holds_what_the_role_sees_on_the_pages(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    intake = IntakeApi(browserless, org_a)
    person = await prepared_person(intake)
    for role, sees_all in (("coordinator", False), ("admin", True)):
        browserless.cookies.clear()
        member = await add_member(db, org_a, role=role)
        await sign_in(browserless, member)
        contact_page = (await browserless.get(f"/o/{org_a.slug}/contacts/{person}")).text
        person_page = (await browserless.get(f"/o/{org_a.slug}/intake/people/{person}")).text
        export = await browserless.get(f"/o/{org_a.slug}/contacts/{person}/export")
        assert export.status_code == 200
        assert OPEN_NOTE in contact_page and OPEN_NOTE in export.text
        for secret, page in ((ADMIN_SECRET, contact_page), (PROTECTION, person_page)):
            assert (secret in page) is sees_all, (role, secret)
            assert (secret in export.text) is sees_all, (role, secret)
        # Written by a token of the coordinator role, not by this member: confidential to its author.
        assert (COORDINATOR_SECRET in export.text) is (COORDINATOR_SECRET in contact_page) is sees_all
