"""Contacts: one row of each contacts table."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shared.contacts.models import (
    Activity,
    Consent,
    Contact,
    ContactLink,
    ContactSettings,
    CustomField,
    Export,
    Import,
    ImportMapping,
    ImportRow,
    Programme,
    ProgrammeMembership,
)
from shared.contacts.service import derive, sync_terms
from shared.db import Database
from tests.conftest import Org


async def seed(db: Database, org: Org) -> None:
    async with db.tenant(org.id) as session:
        o = org.id
        mentee = Contact(
            organization_id=o, kinds=["mentee"], first_name="Mia", last_name="Kind", status="ready",
            custom={"school": "Grundschule am Park"},
        )  # fmt: skip
        guardian = Contact(organization_id=o, kinds=["guardian"], first_name="Eva", last_name="Kind")
        for c in (mentee, guardian):
            derive(c)
            session.add(c)
        programme = Programme(organization_id=o, name="Lesepaten")
        session.add(programme)
        session.add(
            CustomField(organization_id=o, key="school", label_de="Schule", label_en="School", type="text")
        )
        session.add(ContactSettings(organization_id=o, required_consents=["data_processing"]))
        imp = Import(organization_id=o, filename="seed.csv", status="done")
        session.add(imp)
        session.add(ImportMapping(organization_id=o, name="seed", columns={"Vorname": "first_name"}))
        session.add(Export(organization_id=o, format="csv", status="done"))
        await session.flush()
        await sync_terms(session, [mentee, guardian])
        session.add(ProgrammeMembership(organization_id=o, contact_id=mentee.id, programme_id=programme.id))
        session.add(
            ContactLink(organization_id=o, contact_id=guardian.id, related_id=mentee.id, kind="guardian_of")
        )
        session.add(
            Consent(
                organization_id=o,
                contact_id=mentee.id,
                purpose="data_processing",
                status="given",
                effective_on=date(2026, 1, 1),
            )
        )
        session.add(
            Activity(
                organization_id=o, contact_id=mentee.id, kind="note", occurred_at=datetime.now(UTC), body="hi"
            )
        )
        session.add(
            ImportRow(
                organization_id=o, import_id=imp.id, row_number=2, action="created", contact_id=mentee.id
            )
        )
