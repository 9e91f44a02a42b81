"""The list's filters answer from rows the database keeps: they must say what the rules say."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from shared.contacts.models import Consent, Contact, ContactSettings, CustomField, FieldValue
from shared.contacts.service import ContactQuery, current_consents, list_contacts
from shared.db import Database
from tests.conftest import Org


async def _names(db: Database, org: Org, **query: Any) -> set[str]:
    async with db.tenant(org.id) as session:
        page = await list_contacts(session, ContactQuery(**query), limit=100, cursor=None)
        return {c.first_name for c in page.items}


async def _person(db: Database, org: Org, name: str, **values: Any) -> Contact:
    async with db.tenant(org.id) as session:
        contact = Contact(
            organization_id=org.id, first_name=name, last_name="Test", kinds=["mentee"], **values
        )
        session.add(contact)
        await session.flush()
        return contact


def _consent(org: Org, contact: Contact, purpose: str, status: str, on: date) -> Consent:
    return Consent(
        organization_id=org.id, contact_id=contact.id, purpose=purpose, status=status, effective_on=on
    )


async def test_missing_consent_follows_the_latest_record_of_each_required_purpose(
    db: Database, org_a: Org
) -> None:
    given = await _person(db, org_a, "Given")
    withdrawn = await _person(db, org_a, "Withdrawn")
    never = await _person(db, org_a, "Never")
    partial = await _person(db, org_a, "Partial")
    async with db.tenant(org_a.id) as session:
        session.add_all(
            [
                _consent(org_a, given, "data_processing", "given", date(2026, 1, 1)),
                _consent(org_a, withdrawn, "data_processing", "given", date(2026, 1, 1)),
                _consent(org_a, withdrawn, "data_processing", "withdrawn", date(2026, 3, 1)),
                _consent(org_a, partial, "data_processing", "given", date(2026, 1, 1)),
            ]
        )
    assert await _names(db, org_a, missing_consent=True) == {"Withdrawn", "Never"}
    assert await _names(db, org_a, missing_consent=False) == {"Given", "Partial"}

    # The organisation asks for photos too: Partial lacks one now, without any contact changing.
    async with db.tenant(org_a.id) as session:
        session.add(
            ContactSettings(organization_id=org_a.id, required_consents=["data_processing", "photos"])
        )
    assert await _names(db, org_a, missing_consent=True) == {"Withdrawn", "Never", "Partial", "Given"}
    async with db.tenant(org_a.id) as session:
        session.add(_consent(org_a, partial, "photos", "given", date(2026, 2, 1)))
    assert await _names(db, org_a, missing_consent=False) == {"Partial"}
    # A record deleted (erasure of the record, a correction) counts too.
    async with db.tenant(org_a.id) as session:
        record = (await session.execute(select(Consent).where(Consent.contact_id == partial.id))).scalars()
        for r in record:
            if r.purpose == "photos":
                await session.delete(r)
    assert "Partial" in await _names(db, org_a, missing_consent=True)

    # The flag agrees with what the contact page shows for each of them.
    async with db.tenant(org_a.id) as session:
        shown = await current_consents(session, [given.id, withdrawn.id, never.id, partial.id])
        flags = {
            r.id: r.consent_missing
            for r in await session.execute(select(Contact.id, Contact.consent_missing))
        }
    for contact in (given, withdrawn, never, partial):
        complete = all(shown.get(contact.id, {}).get(p) == "given" for p in ("data_processing", "photos"))
        assert flags[contact.id] is (not complete), contact.first_name


async def test_custom_field_filters_find_scalar_and_multi_choice_values_and_follow_changes(
    db: Database, org_a: Org
) -> None:
    async with db.tenant(org_a.id) as session:
        session.add_all(
            [
                CustomField(organization_id=org_a.id, key="school", label_de="Schule", label_en="School",
                            type="choice", options=[{"value": "gym"}, {"value": "real"}]),
                CustomField(organization_id=org_a.id, key="hobbies", label_de="Hobbys", label_en="Hobbies",
                            type="multi_choice", options=[{"value": "chess"}, {"value": "music"}]),
                CustomField(organization_id=org_a.id, key="grade", label_de="Klasse", label_en="Grade",
                            type="number"),
            ]
        )  # fmt: skip
    await _person(db, org_a, "Ada", custom={"school": "gym", "hobbies": ["chess", "music"], "grade": 5})
    ben = await _person(db, org_a, "Ben", custom={"school": "real", "hobbies": ["music"], "grade": 7})
    assert await _names(db, org_a, field=["school:gym"]) == {"Ada"}
    assert await _names(db, org_a, field=["hobbies:music"]) == {"Ada", "Ben"}
    assert await _names(db, org_a, field=["hobbies:chess", "school:gym"]) == {"Ada"}
    assert await _names(db, org_a, field=["grade:7"]) == {"Ben"}

    async with db.tenant(org_a.id) as session:
        contact = await session.get(Contact, (org_a.id, ben.id))
        assert contact is not None
        contact.custom = {"school": "gym", "hobbies": ["chess"]}
    assert await _names(db, org_a, field=["school:gym"]) == {"Ada", "Ben"}
    assert await _names(db, org_a, field=["hobbies:music"]) == {"Ada"}
    async with db.tenant(org_a.id) as session:
        rows = (
            await session.execute(
                select(FieldValue.key, FieldValue.value).where(FieldValue.contact_id == ben.id)
            )
        ).all()
    assert sorted(rows) == [("hobbies", "chess"), ("school", "gym")]


async def test_the_owner_filter_fetches_few_by_key_and_many_in_order(db: Database, org_a: Org) -> None:
    from shared.contacts import service

    people = [await _person(db, org_a, f"P{i:02d}") for i in range(12)]
    async with db.tenant(org_a.id) as session:
        from shared.models import Membership

        member = (await session.execute(select(Membership.id))).scalars().first()
        for p in people[:7]:
            row = await session.get(Contact, (org_a.id, p.id))
            assert row is not None
            row.owner_membership_id = member
    expected = {f"P{i:02d}" for i in range(7)}
    assert await _names(db, org_a, owner=member) == expected
    # Past the id-list limit the same question is answered by reading the list in order.
    limit = service.MAX_MATCHED_IDS
    service.MAX_MATCHED_IDS = 3
    try:
        assert await _names(db, org_a, owner=member) == expected
    finally:
        service.MAX_MATCHED_IDS = limit
