"""E-mails to the contacts taking part in an appointment: invitation, update, cancellation, reminder.

Contacts are not members: they have no account and no notification settings, so they are written
to only with an address and a current consent for contact by e-mail, in their language and with
the form of address ("du" or "Sie") intake keeps for them. Each e-mail carries the appointment as
an iTIP .ics with one UID for its whole life and its SEQUENCE, so a calendar updates or removes
the entry it already has instead of adding a second one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from icalendar import Calendar
from sqlalchemy import String, Uuid, column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from shared import i18n, outbox
from shared.contacts import letters
from shared.contacts.models import Contact
from shared.contacts.service import current_consents
from shared.contacts.vocab import EMAIL_CONSENT
from shared.i18n import N_
from shared.mail import Attachment
from shared.models import Organization
from shared.tasks import calendar_feed, messages
from shared.tasks.models import Appointment, AppointmentParticipant

Kind = Literal["invitation", "update", "cancellation", "reminder"]
# Why a contact gets no e-mail; None: they get one.
Reason = Literal["no_email", "no_consent"] | None

# Message ids; their German lives in shared/tasks/locale/de/LC_MESSAGES/tasks.po.
_SUBJECTS = {
    "invitation": N_("Invitation: %(title)s on %(when)s"),
    "update": N_("Changed: %(title)s on %(when)s"),
    "cancellation": N_("Cancelled: %(title)s on %(when)s"),
    "reminder": N_("Reminder: %(title)s on %(when)s"),
}
_REASON = N_("Reason: %(reason)s")


def pgettext(context: str, message: str) -> tuple[str, str]:
    """Marks a message id with its form of address; translated in :func:`letter`."""
    return (context, message)


def _bodies(address: str) -> dict[str, tuple[str, str]]:
    """Each kind's text in one form of address ("du"/"sie" are the gettext contexts: English reads
    the same either way, German does not); listed twice so extraction finds both."""
    if address == "du":
        return {
            "invitation": pgettext("du", "we warmly invite you: “%(title)s” on %(when)s%(where)s."),
            "update": pgettext(
                "du", "the appointment “%(title)s” has changed. It now takes place on %(when)s%(where)s."
            ),
            "cancellation": pgettext(
                "du", "we are sorry: the appointment “%(title)s” on %(when)s is cancelled."
            ),
            "reminder": pgettext(
                "du", "this is a reminder of the appointment “%(title)s” on %(when)s%(where)s."
            ),
            "calendar": pgettext("du", "The appointment is attached for your calendar."),
        }
    return {
        "invitation": pgettext("sie", "we warmly invite you: “%(title)s” on %(when)s%(where)s."),
        "update": pgettext(
            "sie", "the appointment “%(title)s” has changed. It now takes place on %(when)s%(where)s."
        ),
        "cancellation": pgettext(
            "sie", "we are sorry: the appointment “%(title)s” on %(when)s is cancelled."
        ),
        "reminder": pgettext(
            "sie", "this is a reminder of the appointment “%(title)s” on %(when)s%(where)s."
        ),
        "calendar": pgettext("sie", "The appointment is attached for your calendar."),
    }


# Intake keeps each contact's form of address; tasks sit below intake, so they read it by table.
_PROFILES = table("intake_profiles", column("contact_id", Uuid), column("form_of_address", String))


@dataclass(frozen=True)
class Reach:
    """Whether a contact of an appointment gets its e-mails, and how they are written to."""

    contact_id: uuid.UUID
    name: str
    email: str | None
    lang: str
    form_of_address: str
    first_name: str
    last_name: str
    reason: Reason


def contact_language(contact: Contact) -> str:
    languages = set(contact.languages or [])
    return "en" if "de" not in languages and "en" in languages else "de"


async def reach(session: AsyncSession, contact_ids: list[uuid.UUID]) -> dict[uuid.UUID, Reach]:
    """For each contact: can they be e-mailed about an appointment, and if not, why not."""
    if not contact_ids:
        return {}
    contacts = (await session.execute(select(Contact).where(Contact.id.in_(contact_ids)))).scalars()
    consents = await current_consents(session, list(contact_ids))
    rows = await session.execute(
        select(_PROFILES.c.contact_id, _PROFILES.c.form_of_address).where(
            _PROFILES.c.contact_id.in_(contact_ids)
        )
    )
    addresses = {cid: address for cid, address in rows}
    result: dict[uuid.UUID, Reach] = {}
    for c in contacts:
        reason: Reason = None
        if not c.email or c.erased_at is not None:
            reason = "no_email"
        elif consents.get(c.id, {}).get(EMAIL_CONSENT) != "given":
            reason = "no_consent"
        first = c.preferred_name or c.first_name
        result[c.id] = Reach(
            contact_id=c.id,
            name=f"{first} {c.last_name}".strip() or (c.organisation_name or ""),
            email=c.email,
            lang=contact_language(c),
            form_of_address=letters.address_of(addresses.get(c.id)),
            first_name=first,
            last_name=c.last_name,
            reason=reason,
        )
    return result


async def contacts_of(session: AsyncSession, appointment_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.execute(
        select(AppointmentParticipant.contact_id)
        .where(
            AppointmentParticipant.appointment_id == appointment_id,
            AppointmentParticipant.contact_id.is_not(None),
        )
        .order_by(AppointmentParticipant.id)
    )
    return [cid for cid in rows.scalars() if cid is not None]


def _ics(
    a: Appointment, who: Reach, organizer: dict[uuid.UUID, tuple[str, str]], method: str, now: datetime
) -> bytes:
    cal = Calendar()
    cal.add("prodid", calendar_feed.PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    # Only this contact as attendee: one contact's invitation never shows the others' addresses.
    event = calendar_feed.appointment_event(a, organizer, [], now)
    if method == "CANCEL":
        event["status"] = "CANCELLED"
    assert who.email is not None
    attendee = calendar_feed.address(who.email, who.name)
    attendee.params["role"] = "REQ-PARTICIPANT"
    attendee.params["partstat"] = "NEEDS-ACTION"
    event.add("attendee", attendee, encode=False)
    cal.add_component(event)
    return bytes(cal.to_ical())


def letter(a: Appointment, who: Reach, kind: Kind, org_name: str) -> letters.Letter:
    lang = who.lang
    when = messages.when_text(a.starts_at, lang, a.timezone)
    place = a.location or a.video_url
    where = f" ({place})" if place else ""
    bodies = _bodies(letters.address_of(who.form_of_address))

    def body(key: str, **params: str) -> str:
        context, message = bodies[key]
        return i18n.pgettext(lang, context, message, domain="tasks", **params)

    lines = [
        letters.greeting(lang, who.form_of_address, who.first_name, who.last_name),
        body(kind, title=a.title, when=when, where=where),
    ]
    if kind == "cancellation" and a.cancel_reason:
        lines.append(i18n.gettext(lang, _REASON, domain="tasks", reason=a.cancel_reason))
    if kind != "cancellation" and a.video_url:
        lines.append(f"{messages.t(lang, 'video')}: {a.video_url}")
    lines.append(body("calendar"))
    lines.append(letters.closing(lang, org_name))
    subject = i18n.gettext(lang, _SUBJECTS[kind], domain="tasks", title=a.title, when=when)
    return letters.Letter(subject=subject, body="\n\n".join(lines))


async def send(
    session: AsyncSession,
    a: Appointment,
    contact_ids: list[uuid.UUID],
    kind: Kind,
    now: datetime | None = None,
) -> list[uuid.UUID]:
    """Write the e-mail of ``kind`` to each reachable contact into the outbox; returns who got one."""
    if not contact_ids:
        return []
    now = now or datetime.now(UTC)
    org = await session.get(Organization, a.organization_id)
    org_name = org.name if org else ""
    organizer = await calendar_feed.member_people(
        session, {a.organizer_membership_id} if a.organizer_membership_id else set()
    )
    method = "CANCEL" if kind == "cancellation" else "REQUEST"
    sent: list[uuid.UUID] = []
    people = await reach(session, contact_ids)
    for cid in contact_ids:
        who = people.get(cid)
        if who is None or who.reason is not None or who.email is None:
            continue
        text = letter(a, who, kind, org_name)
        await outbox.enqueue(
            session,
            a.organization_id,
            kind=f"appointment_{kind}",
            to=who.email,
            subject=text.subject,
            body_text=text.body,
            attachments=[
                Attachment(
                    filename=calendar_feed.ics_filename(a.title, a.starts_at.date()),
                    content_type=f"text/calendar; method={method}",
                    data=_ics(a, who, organizer, method, now),
                )
            ],
        )
        sent.append(cid)
    return sent
