"""A contact's timeline (notes, calls, meetings, e-mails) and consent records, and the settings."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock, history
from shared.actor import Actor, display_name
from shared.contacts.models import Activity, Consent, ContactSettings
from shared.contacts.notes import note_text
from shared.contacts.schemas import (
    ActivityIn,
    ActivityOut,
    ConsentIn,
    ConsentOut,
    ConsentSummary,
    SettingsIn,
    SettingsOut,
)
from shared.contacts.service import current_consents, get_contact, required_consents
from shared.contacts.vocab import ACTIVITY_KINDS, CONSENT_STATUSES, STATUSES
from shared.errors import NotFound, ValidationFailed
from shared.pagination import Page, decode_cursor, encode_cursor

ACTIVITY_FIELDS = ("kind", "occurred_at", "body", "confidential")
SETTINGS_FIELDS = ("required_consents", "retention_months", "retention_statuses")
CONSENT_FIELDS = ("purpose", "status", "effective_on", "given_by", "evidence")
PURPOSE_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


def activity_out(a: Activity, locale: str = "en") -> ActivityOut:
    return ActivityOut(
        a.id,
        a.contact_id,
        a.kind,
        a.occurred_at,
        a.author_name,
        note_text(a.body, locale),
        a.confidential,
        a.created_at,
    )


def visible_to(actor: Actor) -> object:
    """Confidential entries: admins and their author only (the pages, the API and the export)."""
    if actor.is_admin:
        return True
    mine = []
    if actor.membership_id is not None:
        mine.append(Activity.author_membership_id == actor.membership_id)
    if actor.token_id is not None:
        mine.append(Activity.author_token_id == actor.token_id)
    return or_(Activity.confidential.is_(False), *mine)


async def timeline(
    session: AsyncSession,
    contact_id: uuid.UUID,
    actor: Actor,
    *,
    limit: int,
    cursor: str | None,
    locale: str = "en",
) -> Page[ActivityOut]:
    """Newest first (by when it happened, then by when it was written down)."""
    await get_contact(session, contact_id)
    query = (
        select(Activity)
        .where(Activity.contact_id == contact_id, visible_to(actor))  # type: ignore[arg-type]
        .order_by(Activity.occurred_at.desc(), Activity.id.desc())
        .limit(limit + 1)
    )
    if cursor:
        last = (
            await session.execute(select(Activity.occurred_at).where(Activity.id == decode_cursor(cursor)))
        ).scalar_one_or_none()
        if last is None:
            raise ValidationFailed("the cursor is not one this API handed out", field="cursor")
        query = query.where(
            or_(
                Activity.occurred_at < last,
                (Activity.occurred_at == last) & (Activity.id < decode_cursor(cursor)),
            )
        )
    rows = list((await session.execute(query)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        items=[activity_out(a, locale) for a in rows],
        next_cursor=encode_cursor(rows[-1].id) if more else None,
    )


async def add_activity(
    session: AsyncSession, contact_id: uuid.UUID, actor: Actor, data: ActivityIn
) -> ActivityOut:
    contact = await get_contact(session, contact_id)
    if data.kind not in ACTIVITY_KINDS:
        raise ValidationFailed(
            "kind must be one of %(activity_kinds)s", field="kind", activity_kinds=", ".join(ACTIVITY_KINDS)
        )
    body = data.body.strip()
    if not body:
        raise ValidationFailed("write something", field="body")
    if len(body) > 20_000:
        raise ValidationFailed("at most 20,000 characters", field="body")
    occurred = data.occurred_at or datetime.now(UTC)
    if occurred.tzinfo is None:
        raise ValidationFailed("give a time zone (e.g. 2026-01-31T10:00:00+01:00)", field="occurred_at")
    activity = Activity(
        organization_id=contact.organization_id,
        contact_id=contact.id,
        kind=data.kind,
        occurred_at=occurred,
        author_membership_id=actor.membership_id,
        author_token_id=actor.token_id,
        author_name=await display_name(session, actor),
        body=body,
        confidential=data.confidential,
    )
    session.add(activity)
    await session.flush()
    await session.refresh(activity)
    await history.record(
        session,
        "activity",
        activity.id,
        "created",
        history.created(history.snapshot(activity, ACTIVITY_FIELDS)),
        actor=actor,
        contact_ids=[contact.id],
    )
    return activity_out(activity)


async def delete_activity(
    session: AsyncSession, contact_id: uuid.UUID, activity_id: uuid.UUID, actor: Actor
) -> None:
    await get_contact(session, contact_id)
    activity = (
        await session.execute(
            select(Activity).where(
                Activity.id == activity_id,
                Activity.contact_id == contact_id,
                visible_to(actor),  # type: ignore[arg-type]
            )
        )
    ).scalar_one_or_none()
    if activity is None:
        raise NotFound("no such timeline entry")
    await history.record(
        session,
        "activity",
        activity.id,
        "deleted",
        history.deleted(history.snapshot(activity, ACTIVITY_FIELDS)),
        actor=actor,
        contact_ids=[contact_id],
    )
    await session.delete(activity)
    await session.flush()


def consent_out(c: Consent) -> ConsentOut:
    return ConsentOut(
        c.id,
        c.contact_id,
        c.purpose,
        c.status,
        c.effective_on,
        c.given_by,
        c.evidence,
        c.recorded_by,
        c.created_at,
    )


async def consents(session: AsyncSession, contact_id: uuid.UUID) -> ConsentSummary:
    contact = await get_contact(session, contact_id)
    records = (
        await session.execute(
            select(Consent)
            .where(Consent.contact_id == contact_id)
            .order_by(Consent.effective_on.desc(), Consent.created_at.desc())
        )
    ).scalars()
    current = (await current_consents(session, [contact_id])).get(contact_id, {})
    required = await required_consents(session)
    missing = [] if contact.erased_at else [p for p in required if current.get(p) != "given"]
    return ConsentSummary(records=[consent_out(c) for c in records], current=current, missing=missing)


async def record_consent(
    session: AsyncSession, contact_id: uuid.UUID, actor: Actor, data: ConsentIn
) -> ConsentOut:
    contact = await get_contact(session, contact_id)
    if not PURPOSE_RE.match(data.purpose):
        raise ValidationFailed(
            "a purpose is a short key of lower-case letters, digits and '_' (e.g. data_processing, photos)",
            field="purpose",
        )
    if data.status not in CONSENT_STATUSES:
        raise ValidationFailed(
            "status must be one of %(consent_statuses)s",
            field="status",
            consent_statuses=", ".join(CONSENT_STATUSES),
        )
    effective = data.effective_on or clock.today()
    if effective > clock.today():
        raise ValidationFailed("a consent cannot be recorded for a future date", field="effective_on")
    for name, value, limit in (("given_by", data.given_by, 200), ("evidence", data.evidence, 2000)):
        if value is not None and len(value) > limit:
            raise ValidationFailed("at most %(limit)s characters", field=name, limit=limit)
    consent = Consent(
        organization_id=contact.organization_id,
        contact_id=contact.id,
        purpose=data.purpose,
        status=data.status,
        effective_on=effective,
        given_by=(data.given_by or "").strip() or None,
        evidence=(data.evidence or "").strip() or None,
        recorded_by=await display_name(session, actor),
    )
    session.add(consent)
    await session.flush()
    await session.refresh(consent)
    await history.record(
        session,
        "consent",
        consent.id,
        "created",
        history.created(history.snapshot(consent, CONSENT_FIELDS)),
        actor=actor,
        contact_ids=[contact.id],
    )
    return consent_out(consent)


async def _settings_row(session: AsyncSession, org_id: uuid.UUID) -> ContactSettings:
    row = (await session.execute(select(ContactSettings))).scalar_one_or_none()
    if row is None:
        row = ContactSettings(
            organization_id=org_id, required_consents=["data_processing"], retention_statuses=["alumni"]
        )
        session.add(row)
        await session.flush()
    return row


async def get_settings(session: AsyncSession) -> SettingsOut:
    row = (await session.execute(select(ContactSettings))).scalar_one_or_none()
    if row is None:
        return SettingsOut(
            required_consents=["data_processing"], retention_months=None, retention_statuses=["alumni"]
        )
    return SettingsOut(list(row.required_consents), row.retention_months, list(row.retention_statuses))


async def update_settings(session: AsyncSession, org_id: uuid.UUID, data: SettingsIn) -> SettingsOut:
    row = await _settings_row(session, org_id)
    before = history.snapshot(row, SETTINGS_FIELDS)
    if not isinstance(data.required_consents, type(None)) and isinstance(data.required_consents, list):
        for purpose in data.required_consents:
            if not PURPOSE_RE.match(purpose):
                raise ValidationFailed(
                    "%(purpose)r is not a purpose key", field="required_consents", purpose=purpose
                )
        row.required_consents = list(dict.fromkeys(data.required_consents))
    if isinstance(data.retention_months, int) or data.retention_months is None:
        if data.retention_months is not None and not 1 <= data.retention_months <= 600:
            raise ValidationFailed("between 1 and 600 months, or null for no rule", field="retention_months")
        row.retention_months = data.retention_months
    if isinstance(data.retention_statuses, list):
        for status in data.retention_statuses:
            if status not in STATUSES:
                raise ValidationFailed(
                    "%(status)r is not a status", field="retention_statuses", status=status
                )
        if not data.retention_statuses:
            raise ValidationFailed("name at least one status", field="retention_statuses")
        row.retention_statuses = list(dict.fromkeys(data.retention_statuses))
    row.updated_at = datetime.now(UTC)
    await session.flush()
    changes = history.diff(before, history.snapshot(row, SETTINGS_FIELDS))
    await history.record(session, "contact_settings", row.id, "changed", changes)
    return SettingsOut(list(row.required_consents), row.retention_months, list(row.retention_statuses))
