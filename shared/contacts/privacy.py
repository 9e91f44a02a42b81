"""One person's data: export (GDPR Art. 15 and 20), erasure (Art. 17) and the retention rule.

Erasure anonymises rather than deletes: the contact row stays with what statistics need (kinds,
status, gender, age group, languages, programmes, dates of the timeline) and loses every name,
address, number, free text and the files that may hold them.
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from datetime import UTC, date, datetime
from types import ModuleType
from typing import Any

import msgspec
from dateutil.relativedelta import relativedelta  # type: ignore[import-untyped]
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock, history
from shared.actor import Actor
from shared.contacts import fields as custom_fields
from shared.contacts import imports
from shared.contacts.models import (
    Activity,
    Consent,
    Contact,
    ContactLink,
    ContactSettings,
    Export,
    Import,
    ImportRow,
)
from shared.contacts.schemas import ContactOut
from shared.contacts.service import contact_name, delete_terms, get_contact, outputs
from shared.contacts.timeline import visible_to
from shared.contacts.vocab import AGE_GROUPS, fold
from shared.db import Database
from shared.errors import Conflict
from shared.logs import get_logger

log = get_logger(__name__)

REDACTED = "[gelöscht]"
# Custom values of these types hold no free text and stay for statistics.
_KEPT_CUSTOM_TYPES = ("number", "boolean", "choice", "multi_choice")


def privacy_modules() -> list[ModuleType]:
    """Each domain's ``shared/<domain>/privacy.py``: what that domain keeps about one person.

    Such a module defines ``async def export_contact(session, contact_id, actor) -> dict`` (only
    what ``actor``'s role may see on the pages and through the API) and
    ``async def erase_contact(session, contact_id) -> None``; a person's export includes the
    former and their erasure runs the latter, so a new domain joins without a list to keep.
    """
    import shared

    found = []
    for info in pkgutil.walk_packages(shared.__path__, "shared."):
        # The contacts' own module (this one) gathers the others; the person's record is its own part.
        if info.name.endswith(".privacy") and info.name != __name__:
            found.append(importlib.import_module(info.name))
    return found


def domain_of(module: ModuleType) -> str:
    """The name a domain's part of a person's export goes under (``core`` for shared/privacy.py)."""
    parts = module.__name__.split(".")
    return parts[1] if len(parts) > 2 else "core"


def age_group(birth: date, today: date | None = None) -> str:
    today = today or clock.today()
    age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    for group in AGE_GROUPS:
        low, _, high = group.partition("-")
        if group.endswith("+") and age >= int(group[:-1]):
            return group
        if high and int(low) <= age <= int(high):
            return group
    return AGE_GROUPS[0]


async def export_person(session: AsyncSession, contact_id: uuid.UUID, actor: Actor) -> dict[str, Any]:
    """Everything kept about one person that ``actor`` may see elsewhere.

    An admin answering the person's request gets all of it; a coordinator gets no more than the
    pages show them (no one else's confidential notes, no child-protection notes).
    """
    contact = await get_contact(session, contact_id)
    profile = msgspec.to_builtins((await outputs(session, [contact]))[0])
    fields = await custom_fields.list_fields(session, include_archived=True)
    labels = {
        f.key: {"de": f.label_de, "en": f.label_en, "archived": f.archived_at is not None} for f in fields
    }
    profile["custom"] = {k: {"value": v, "label": labels.get(k)} for k, v in contact.custom.items()}
    links = (
        await session.execute(
            select(ContactLink).where(
                or_(ContactLink.contact_id == contact_id, ContactLink.related_id == contact_id)
            )
        )
    ).scalars()
    link_rows = list(links)
    others = {link.related_id if link.contact_id == contact_id else link.contact_id for link in link_rows}
    names = {
        c.id: contact_name(c)
        for c in (await session.execute(select(Contact).where(Contact.id.in_(others)))).scalars()
    }
    consents = (
        await session.execute(
            select(Consent).where(Consent.contact_id == contact_id).order_by(Consent.effective_on)
        )
    ).scalars()
    activities = (
        await session.execute(
            select(Activity)
            .where(Activity.contact_id == contact_id, visible_to(actor))  # type: ignore[arg-type]
            .order_by(Activity.occurred_at.desc())
        )
    ).scalars()
    imported = (
        await session.execute(
            select(ImportRow.action, Import.filename, Import.created_at)
            .join(Import, Import.id == ImportRow.import_id)
            .where(ImportRow.contact_id == contact_id)
        )
    ).all()
    domains = {}
    for module in privacy_modules():
        if hasattr(module, "export_contact"):
            domains[domain_of(module)] = await module.export_contact(session, contact_id, actor)
    await history.record(session, "contact", contact_id, "exported", actor=actor, contact_ids=[contact_id])
    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "domains": domains,
        "contact": profile,
        "links": [
            {
                "kind": link.kind,
                "direction": "outgoing" if link.contact_id == contact_id else "incoming",
                "other": names.get(link.related_id if link.contact_id == contact_id else link.contact_id, ""),
            }
            for link in link_rows
        ],
        "consents": [
            {
                "purpose": c.purpose,
                "status": c.status,
                "effective_on": c.effective_on.isoformat(),
                "given_by": c.given_by,
                "evidence": c.evidence,
                "recorded_by": c.recorded_by,
                "recorded_at": c.created_at.isoformat(),
            }
            for c in consents
        ],
        "timeline": [
            {
                "kind": a.kind,
                "occurred_at": a.occurred_at.isoformat(),
                "author": a.author_name,
                "text": a.body,
                "confidential": a.confidential,
            }
            for a in activities
        ],
        "imports": [
            {"action": action, "file": filename, "at": at.isoformat()} for action, filename, at in imported
        ],
    }


def _redact(text: str, needles: list[str]) -> str:
    lowered = text.lower()
    for needle in needles:
        start = lowered.find(needle.lower())
        while start >= 0:
            text = text[:start] + REDACTED + text[start + len(needle) :]
            lowered = text.lower()
            start = lowered.find(needle.lower(), start + len(REDACTED))
    return text


async def erase(session: AsyncSession, contact_id: uuid.UUID) -> ContactOut:
    """Anonymise one person. Refused while a legal hold is set."""
    contact = await get_contact(session, contact_id, for_update=True)
    if contact.legal_hold:
        raise Conflict("a legal hold is set on this contact; it cannot be erased", field="legal_hold")
    if contact.erased_at is None:
        await _anonymise(session, contact, history.acting(session))
    return (await outputs(session, [contact]))[0]


def person_needles(contact: Contact) -> list[str]:
    """The strings that identify the person in other people's free text: full names, e-mail, phone."""
    full_names = [
        f"{first} {contact.last_name}".strip()
        for first in {contact.first_name, contact.preferred_name or contact.first_name}
        if contact.last_name
    ]
    full_names += (
        [f"{contact.last_name}, {contact.first_name}"] if contact.last_name and contact.first_name else []
    )
    needles = [n for n in [*full_names, contact.email or "", contact.phone or ""] if len(n) >= 5]
    return needles


def redact(text: str, needles: list[str]) -> str:
    """``text`` with every needle (case-insensitive) replaced by the redaction mark."""
    return _redact(text, needles)


async def _anonymise(session: AsyncSession, contact: Contact, actor: Actor) -> None:
    needles = person_needles(contact)
    person = fold(f"{contact.first_name} {contact.last_name}")

    # The other domains first: they may still need the e-mail address to find what is theirs.
    for module in privacy_modules():
        if hasattr(module, "erase_contact"):
            await module.erase_contact(session, contact.id)

    fields = {f.key: f for f in await custom_fields.list_fields(session, include_archived=True)}
    if contact.birth_date and not contact.age_group:
        contact.age_group = age_group(contact.birth_date)
    for name in ("preferred_name", "organisation_name", "birth_date", "postal_code", "city", "phone", "email",
                 "preferred_channel", "notes", "legal_hold_reason"):  # fmt: skip
        setattr(contact, name, None)
    contact.first_name = ""
    contact.last_name = ""
    contact.tags = []
    contact.interests = []
    contact.availability = []
    contact.preferences = {}
    contact.custom = {
        k: v for k, v in contact.custom.items() if k in fields and fields[k].type in _KEPT_CUSTOM_TYPES
    }
    contact.search_text = ""
    contact.sort_name = ""
    contact.erased_at = datetime.now(UTC)
    await delete_terms(session, [contact.id])
    contact.updated_at = contact.erased_at

    # The timeline keeps its entries (how many meetings, when) but not a word of them.
    await session.execute(update(Activity).where(Activity.contact_id == contact.id).values(body=""))
    await session.execute(
        update(Consent).where(Consent.contact_id == contact.id).values(given_by=None, evidence=None)
    )
    await session.execute(update(ImportRow).where(ImportRow.contact_id == contact.id).values(before=None))

    # Other people's records may name them (a note on the mentor about this mentee).
    if needles:
        pattern = or_(*[Activity.body.ilike(f"%{n}%") for n in needles])
        for activity in (await session.execute(select(Activity).where(pattern))).scalars():
            activity.body = _redact(activity.body, needles)
        notes = or_(*[Contact.notes.ilike(f"%{n}%") for n in needles])
        for other in (await session.execute(select(Contact).where(notes))).scalars():
            other.notes = _redact(other.notes or "", needles)
        given = or_(
            *[Consent.given_by.ilike(f"%{n}%") for n in needles],
            *[Consent.evidence.ilike(f"%{n}%") for n in needles],
        )
        for consent in (await session.execute(select(Consent).where(given))).scalars():
            consent.given_by = _redact(consent.given_by or "", needles) or None
            consent.evidence = _redact(consent.evidence or "", needles) or None

    # Import reports and uploaded files that mention them; stored list exports may hold them too.
    cid = str(contact.id)
    for imp in (await session.execute(select(Import))).scalars():
        touched = False
        report = []
        for row in imp.report:
            if row.get("contact_id") == cid or (person.strip() and fold(row.get("name", "")) == person):
                row = imports.redacted_row(row, REDACTED)
                touched = True
            report.append(row)
        if touched:
            imp.report = report
            imp.columns = imports.redacted_columns(imp.columns)
            if imp.content is not None and imp.status != "running":
                imp.content = None
                imp.plan = None
    await session.execute(
        update(Export)
        .where(Export.content.is_not(None))
        .values(content=None, status="expired", error="removed after a person's data was erased")
    )
    # After every other domain's erasure (the history's own included): that it happened stays.
    await history.record(session, "contact", contact.id, "erased", actor=actor, contact_ids=[contact.id])
    await session.flush()
    log.info("contact erased", contact_id=str(contact.id))


# ---------------------------------------------------------------- retention


class RetentionCandidate(msgspec.Struct):
    id: uuid.UUID
    display_name: str
    status: str
    since: date


class RetentionPreview(msgspec.Struct):
    rule: str | None
    cutoff: date | None
    contacts: list[RetentionCandidate]
    held_back: int


async def _rule(session: AsyncSession) -> ContactSettings | None:
    return (await session.execute(select(ContactSettings))).scalar_one_or_none()


def _since() -> Any:
    return func.coalesce(Contact.last_match_ended_on, func.date(Contact.status_changed_at))


async def retention_preview(session: AsyncSession, *, today: date | None = None) -> RetentionPreview:
    """Who the retention rule would erase now (and how many a legal hold keeps)."""
    rule = await _rule(session)
    if rule is None or rule.retention_months is None:
        return RetentionPreview(rule=None, cutoff=None, contacts=[], held_back=0)
    cutoff = (today or clock.today()) - relativedelta(months=rule.retention_months)
    base = select(Contact).where(
        Contact.erased_at.is_(None), Contact.status.in_(rule.retention_statuses), _since() < cutoff
    )
    due = list(
        (
            await session.execute(base.where(Contact.legal_hold.is_(False)).order_by(Contact.sort_name))
        ).scalars()
    )
    held = (
        await session.execute(
            select(func.count()).select_from(base.where(Contact.legal_hold.is_(True)).subquery())
        )
    ).scalar_one()
    since = {c.id: c.last_match_ended_on or c.status_changed_at.date() for c in due}
    statuses = ", ".join(rule.retention_statuses)
    text = f"erase {statuses} {rule.retention_months} months after their last match ended"
    return RetentionPreview(
        rule=text,
        cutoff=cutoff,
        contacts=[RetentionCandidate(c.id, contact_name(c), c.status, since[c.id]) for c in due],
        held_back=int(held),
    )


async def apply_retention(session: AsyncSession, *, today: date | None = None) -> int:
    preview = await retention_preview(session, today=today)
    # An admin applying the rule by hand acts themselves; the daily job acts for the rule.
    actor = history.acting(session) if history.is_bound(session) else Actor.system("retention rule")
    for candidate in preview.contacts:
        contact = await get_contact(session, candidate.id, for_update=True)
        if not contact.legal_hold and contact.erased_at is None:
            await _anonymise(session, contact, actor)
    return len(preview.contacts)


async def organisations_with_retention(db: Database) -> list[uuid.UUID]:
    """SYSTEM CONTEXT: the organisations that set a retention rule (the daily job fans out to each)."""
    async with db.system_context("contacts: retention fan-out") as session:
        rows = await session.execute(
            select(ContactSettings.organization_id).where(ContactSettings.retention_months.is_not(None))
        )
        return [r for (r,) in rows]
