"""Contacts in an appointment get its invitation, update, cancellation and reminder at a real SMTP
server, each with a parseable .ics; those without an address or consent get none, and the page says so."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message
from typing import Any

from icalendar import Calendar
from litestar.testing import AsyncTestClient

from shared.contacts.models import Consent
from shared.contacts.vocab import EMAIL_CONSENT
from shared.db import Database
from shared.intake.models import IntakeProfile
from shared.permissions import Role
from shared.settings import Settings
from shared.tasks import reminders
from tests.conftest import Mailbox, Org
from tests.fixtures.mail import deliver_all
from tests.fixtures.tasks import add_member, make_contact, sign_in

API = "/api/v1/orgs"


def subject(message: Message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not part.get_filename():
            return str(part.get_payload(decode=True).decode())  # type: ignore[union-attr]
    raise AssertionError("no plain-text part")


def ics_of(message: Message) -> Calendar:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            assert part.get_filename(), "the .ics is an attachment with a file name"
            return Calendar.from_ical(part.get_payload(decode=True))  # type: ignore[arg-type]
    raise AssertionError("no .ics attached")


async def person(
    db: Database,
    org: Org,
    first: str,
    *,
    email: str | None,
    consent: bool,
    languages: list[str],
    address: str = "sie",
) -> uuid.UUID:
    async with db.tenant(org.id) as session:
        c = await make_contact(session, org.id, kind="mentee")
        c.first_name, c.last_name, c.email, c.languages = first, "Beispiel", email, languages
        session.add(IntakeProfile(organization_id=org.id, contact_id=c.id, form_of_address=address))
        if consent:
            session.add(
                Consent(
                    organization_id=org.id,
                    contact_id=c.id,
                    purpose=EMAIL_CONSENT,
                    status="given",
                    effective_on=date(2026, 1, 1),
                )
            )
        await session.flush()
        return c.id


async def test_contacts_get_invitation_update_cancellation_and_reminder_with_ics(
    client: AsyncTestClient[Any],
    browserless: AsyncTestClient[Any],
    db: Database,
    settings: Settings,
    mailbox: Mailbox,
    org_a: Org,
) -> None:
    tag = uuid.uuid4().hex[:8]
    du, en = f"aylin-{tag}@example.org", f"john-{tag}@example.org"
    no_consent = f"nein-{tag}@example.org"
    aylin = await person(db, org_a, "Aylin", email=du, consent=True, languages=["de", "tr"], address="du")
    john = await person(db, org_a, "John", email=en, consent=True, languages=["en"])
    quiet = await person(db, org_a, "Quentin", email=None, consent=True, languages=["de"])
    refused = await person(db, org_a, "Rita", email=no_consent, consent=False, languages=["de"])
    starts = datetime(2031, 3, 12, 15, 0, tzinfo=UTC)  # 16:00 in Berlin
    r = await client.post(
        f"{API}/{org_a.slug}/appointments",
        json={
            "title": "Kennenlernen",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(),
            "location": "Stadtteilzentrum",
            "contact_ids": [str(aylin), str(john), str(quiet), str(refused)],
        },
        headers=org_a.auth(Role.COORDINATOR),
    )
    assert r.status_code == 201, r.text
    appointment = r.json()
    uid = f"appointment-{appointment['id']}@codo"
    await deliver_all(db, settings)

    [invitation] = await mailbox.wait_for(du)
    assert subject(invitation).startswith("Einladung: Kennenlernen")
    body = text_of(invitation)
    assert body.startswith("Hallo Aylin,") and "wir laden dich herzlich ein" in body
    assert "Mittwoch, 12. März 2031, 16:00 Uhr" in body and "Stadtteilzentrum" in body
    cal = ics_of(invitation)
    assert str(cal["method"]) == "REQUEST"
    [event] = cal.walk("VEVENT")
    assert str(event["uid"]) == uid and int(event["sequence"]) == 0
    assert event.decoded("dtstart") == starts
    assert str(event["attendee"]) == f"mailto:{du}"

    [english] = await mailbox.wait_for(en)
    assert subject(english).startswith("Invitation: Kennenlernen")
    assert text_of(english).startswith("Dear John Beispiel,")
    assert mailbox.to(no_consent) == []

    # The page tells the coordinator who hears nothing, and why.
    member = await add_member(db, org_a)
    await sign_in(browserless, member)
    page = await browserless.get(f"/o/{org_a.slug}/appointments/{appointment['id']}")
    assert page.status_code == 200
    html = page.text
    assert "bekommt keine E-Mail: keine E-Mail-Adresse" in html.split("Quentin")[1].split("</li>")[0]
    assert "keine Einwilligung in Kontakt per E-Mail" in html.split("Rita")[1].split("</li>")[0]
    assert "bekommt Einladung, Änderungen und Erinnerung" in html.split("Aylin")[1].split("</li>")[0]

    # Moved: an update with the same UID and a higher SEQUENCE.
    moved = starts + timedelta(days=1)
    r = await client.patch(
        f"{API}/{org_a.slug}/appointments/{appointment['id']}",
        json={"starts_at": moved.isoformat(), "ends_at": (moved + timedelta(hours=1)).isoformat()},
        headers=org_a.auth(Role.COORDINATOR),
    )
    assert r.status_code == 200, r.text
    await deliver_all(db, settings)
    update = (await mailbox.wait_for(du, 2))[1]
    assert subject(update).startswith("Geändert: Kennenlernen")
    assert "Donnerstag, 13. März 2031" in text_of(update)
    [event] = ics_of(update).walk("VEVENT")
    assert str(event["uid"]) == uid and int(event["sequence"]) == 1
    assert event.decoded("dtstart") == moved

    # A reminder before it, once.
    remind_at = moved - timedelta(minutes=60)
    await reminders.send_due(db, org_a.id, remind_at + timedelta(minutes=1), "http://codo.test")
    await reminders.send_due(db, org_a.id, remind_at + timedelta(minutes=2), "http://codo.test")
    await deliver_all(db, settings)
    reminder = (await mailbox.wait_for(du, 3))[2]
    assert subject(reminder).startswith("Erinnerung: Kennenlernen")
    assert "wir erinnern dich" in text_of(reminder)

    # Cancelled: METHOD:CANCEL for the same UID.
    r = await client.post(
        f"{API}/{org_a.slug}/appointments/{appointment['id']}/cancel",
        json={"reason": "Raum nicht frei"},
        headers=org_a.auth(Role.COORDINATOR),
    )
    assert r.status_code == 200
    await deliver_all(db, settings)
    cancellation = (await mailbox.wait_for(du, 4))[3]
    assert subject(cancellation).startswith("Abgesagt: Kennenlernen")
    assert "Grund: Raum nicht frei" in text_of(cancellation)
    cal = ics_of(cancellation)
    assert str(cal["method"]) == "CANCEL"
    [event] = cal.walk("VEVENT")
    assert str(event["uid"]) == uid and int(event["sequence"]) == 2 and str(event["status"]) == "CANCELLED"
    assert len(mailbox.to(du)) == 4 and len(mailbox.to(en)) == 4 and mailbox.to(no_consent) == []
