"""Notification preferences, in-app notifications and delivery to a member's channels.

Delivery writes the e-mail to the outbox and the in-app notification in the caller's
transaction: both exist exactly when their cause does. The worker sends the e-mail.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import outbox
from shared.errors import NotFound, ValidationFailed
from shared.ids import new_id
from shared.models import Membership, OutboxMessage, User
from shared.pagination import decode_cursor, encode_cursor
from shared.tasks.messages import Rendered
from shared.tasks.models import Notification, NotificationPreference
from shared.tasks.schemas import Channels, NotificationOut, NotificationPage, PreferencesOut

KINDS = ("task_due", "appointment", "assignment", "digest")
# (email, in_app) for a kind the member never chose: reminders on, the digest off.
DEFAULTS: dict[str, tuple[bool, bool]] = {
    "task_due": (True, True),
    "appointment": (True, True),
    "assignment": (True, True),
    "digest": (False, False),
}


@dataclass(frozen=True)
class Recipient:
    membership_id: uuid.UUID
    email: str
    locale: str
    channels: dict[str, tuple[bool, bool]]

    def wants(self, kind: str) -> tuple[bool, bool]:
        return self.channels.get(kind, DEFAULTS[kind])


async def recipients(session: AsyncSession, membership_ids: set[uuid.UUID]) -> dict[uuid.UUID, Recipient]:
    """Address, language and channel choices of several members in two queries."""
    if not membership_ids:
        return {}
    rows = (
        await session.execute(
            select(Membership.id, User.email, User.locale)
            .join(User, User.id == Membership.user_id)
            .where(Membership.id.in_(membership_ids))
        )
    ).all()
    prefs: dict[uuid.UUID, dict[str, tuple[bool, bool]]] = {}
    for p in (
        await session.execute(
            select(NotificationPreference).where(NotificationPreference.membership_id.in_(membership_ids))
        )
    ).scalars():
        prefs.setdefault(p.membership_id, {})[p.kind] = (p.email, p.in_app)
    return {
        r.id: Recipient(membership_id=r.id, email=r.email, locale=r.locale, channels=prefs.get(r.id, {}))
        for r in rows
    }


async def deliver(
    session: AsyncSession, org_id: uuid.UUID, recipient: Recipient, kind: str, message: Rendered
) -> None:
    email, in_app = recipient.wants(kind)
    if email and outbox._valid_address(recipient.email):
        await outbox.enqueue(
            session,
            org_id,
            kind=kind,
            to=recipient.email,
            subject=message.subject[:300],
            body_text=message.text,
            body_html=message.html,
        )
    if in_app:
        session.add(
            Notification(
                organization_id=org_id,
                membership_id=recipient.membership_id,
                kind=kind,
                title=message.title[:300],
                body=message.text.split("\n", 1)[0],
                link=message.link[:500],
            )
        )


async def deliver_many(
    session: AsyncSession, org_id: uuid.UUID, items: list[tuple[Recipient, str, Rendered]]
) -> None:
    """Like :func:`deliver` for many messages, in two multi-row INSERTs instead of one per message."""
    mails: list[dict[str, object]] = []
    notes: list[dict[str, object]] = []
    for recipient, kind, message in items:
        email, in_app = recipient.wants(kind)
        if email and outbox._valid_address(recipient.email):
            mails.append(
                {
                    "organization_id": org_id,
                    "id": new_id(),
                    "kind": kind,
                    "to_address": recipient.email,
                    "subject": message.subject[:300],
                    "body_text": message.text,
                    "body_html": message.html,
                }
            )
        if in_app:
            notes.append(
                {
                    "organization_id": org_id,
                    "id": new_id(),
                    "membership_id": recipient.membership_id,
                    "kind": kind,
                    "title": message.title[:300],
                    "body": message.text.split("\n", 1)[0],
                    "link": message.link[:500],
                }
            )
    if mails:
        await session.execute(insert(OutboxMessage), mails)
    if notes:
        await session.execute(insert(Notification), notes)


async def require_member(session: AsyncSession, member_id: uuid.UUID, field: str) -> Membership:
    member = (
        await session.execute(select(Membership).where(Membership.id == member_id))
    ).scalar_one_or_none()
    if member is None:
        raise ValidationFailed("no such member in this organisation", field=field)
    return member


async def get_preferences(session: AsyncSession, member_id: uuid.UUID) -> PreferencesOut:
    found = await recipients(session, {member_id})
    if member_id not in found:
        raise NotFound("no such member")
    r = found[member_id]
    return PreferencesOut(
        member_id=member_id,
        language=r.locale,
        kinds={k: Channels(*r.wants(k)) for k in KINDS},
    )


async def set_preferences(
    session: AsyncSession, org_id: uuid.UUID, member_id: uuid.UUID, kinds: dict[str, Channels]
) -> PreferencesOut:
    await require_member(session, member_id, "member_id")
    for kind, channels in kinds.items():
        if kind not in KINDS:
            raise ValidationFailed(
                "unknown kind %(kind)r; choose from %(kinds)s",
                field="kinds",
                kind=kind,
                kinds=", ".join(KINDS),
            )
        stmt = insert(NotificationPreference).values(
            organization_id=org_id,
            id=new_id(),
            membership_id=member_id,
            kind=kind,
            email=channels.email,
            in_app=channels.in_app,
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["organization_id", "membership_id", "kind"],
                set_={"email": stmt.excluded.email, "in_app": stmt.excluded.in_app},
            )
        )
    return await get_preferences(session, member_id)


async def list_notifications(
    session: AsyncSession, member_id: uuid.UUID, *, unread_only: bool, limit: int, cursor: str | None
) -> NotificationPage:
    """Newest first; the unread count covers every unread notification, not only this page."""
    query = (
        select(Notification)
        .where(Notification.membership_id == member_id)
        .order_by(Notification.id.desc())
        .limit(limit + 1)
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if cursor:
        query = query.where(Notification.id < decode_cursor(cursor))
    rows = list((await session.execute(query)).scalars())
    unread = (
        await session.execute(
            select(func.count())
            .select_from(Notification)
            .where(Notification.membership_id == member_id, Notification.read_at.is_(None))
        )
    ).scalar_one()
    items = [
        NotificationOut(
            id=n.id,
            kind=n.kind,
            title=n.title,
            body=n.body,
            link=n.link,
            created_at=n.created_at,
            read_at=n.read_at,
        )
        for n in rows[:limit]
    ]
    return NotificationPage(
        items=items,
        unread_count=unread,
        next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None,
    )


async def unread_count(session: AsyncSession, member_id: uuid.UUID) -> int:
    return (
        await session.execute(
            select(func.count())
            .select_from(Notification)
            .where(Notification.membership_id == member_id, Notification.read_at.is_(None))
        )
    ).scalar_one()


async def mark_read(
    session: AsyncSession, member_id: uuid.UUID, notification_id: uuid.UUID | None, now: datetime
) -> int:
    """Mark one notification (or, with None, all of them) read; another member's is not found."""
    stmt = (
        update(Notification)
        .where(Notification.membership_id == member_id, Notification.read_at.is_(None))
        .values(read_at=now)
    )
    if notification_id is not None:
        exists = (
            await session.execute(
                select(Notification.id).where(
                    Notification.id == notification_id, Notification.membership_id == member_id
                )
            )
        ).scalar_one_or_none()
        if exists is None:
            raise NotFound("no such notification")
        stmt = stmt.where(Notification.id == notification_id)
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)
