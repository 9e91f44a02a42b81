"""Members, invitations and the audit log of one organisation.

Every function runs in the caller's transaction, scoped to the organisation by row-level
security; every change writes its audit entry in that same transaction. Invitation e-mails go
to the outbox in that transaction too: the caller wakes the worker after the commit.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import Uuid, bindparam, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import history, i18n, outbox
from shared.actor import SYSTEM_ACTOR, Actor
from shared.db import Database, current_org
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.history.models import HistoryEntry
from shared.history.service import ACCESS_ENTITIES
from shared.i18n import N_
from shared.identity.models import Invitation
from shared.models import ApiToken, Membership, Organization, User
from shared.organizations import MemberOut, OrgRef
from shared.pagination import Page, decode_cursor, encode_cursor
from shared.permissions import RANK, Role, can_grant, parse_role
from shared.settings import Settings

INVITATION_VALID = timedelta(days=7)
INVITATION_PREFIX = "inv_"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

__all__ = ["SYSTEM_ACTOR", "Actor"]


class InvitationOut(msgspec.Struct):
    id: uuid.UUID
    email: str
    role: str
    status: str  # pending | accepted | revoked | expired
    created_at: datetime
    expires_at: datetime
    last_sent_at: datetime
    sent_count: int
    accepted_at: datetime | None
    revoked_at: datetime | None


class NewInvitation(InvitationOut):
    """As created or resent: the link, for the CLI and tests; it is also what the e-mail holds."""

    link: str


class AuditOut(msgspec.Struct):
    id: uuid.UUID
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]


def normalize_email(value: str) -> str:
    email = value.strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 320:
        raise ValidationFailed("not a valid e-mail address", field="email")
    return email


def _role(value: str, field: str = "role") -> Role:
    try:
        return parse_role(value)
    except ValueError as exc:
        raise ValidationFailed.refusing(exc, field=field) from None


async def audit(
    session: AsyncSession, org_id: uuid.UUID, actor: Actor, action: str, target: str = "", **details: Any
) -> None:
    """An entry of the membership, token and sign-in part of the history (``action`` is "entity.verb")."""
    entity, _, verb = action.partition(".")
    await history.record(
        session, entity, None, verb, actor=actor, target=target, details=details, org_id=org_id
    )


async def list_audit(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[AuditOut]:
    """Newest first (UUIDv7 ids order by time): memberships, invitations, tokens and sign-in."""
    query = (
        select(HistoryEntry)
        .where(HistoryEntry.entity.in_(ACCESS_ENTITIES))
        .order_by(HistoryEntry.id.desc())
        .limit(limit + 1)
    )
    if cursor:
        query = query.where(HistoryEntry.id < decode_cursor(cursor))
    rows = list((await session.execute(query)).scalars())
    items = [
        AuditOut(
            id=e.id,
            at=e.at,
            actor=e.reason if e.actor_kind == "system" and e.reason else e.actor,
            action=f"{e.entity}.{e.action}",
            target=e.target,
            details=e.details,
        )
        for e in rows[:limit]
    ]
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)


# --- members ----------------------------------------------------------------------------------


async def _member(session: AsyncSession, membership_id: uuid.UUID) -> tuple[Membership, User]:
    row = (
        await session.execute(
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.id == membership_id)
            .with_for_update(of=Membership)
        )
    ).first()
    if row is None:
        raise NotFound("no such member")
    return row[0], row[1]


def _member_out(m: Membership, u: User) -> MemberOut:
    return MemberOut(
        id=m.id,
        user_id=u.id,
        email=u.email,
        display_name=u.display_name,
        role=m.role,
        created_at=m.created_at,
    )


async def _owners_locked(session: AsyncSession) -> int:
    # Locking every owner row serialises concurrent demotions, so two cannot each leave "another" owner.
    rows = await session.execute(select(Membership.id).where(Membership.role == Role.OWNER).with_for_update())
    return len(rows.all())


def _may_manage(actor: Actor, member: Membership) -> None:
    if RANK[actor.role] < RANK[Role(member.role)]:
        raise Forbidden(
            "the role %(role)s cannot change a member with the role %(role2)s",
            role=actor.role.value,
            role2=member.role,
        )


async def get_member(session: AsyncSession, membership_id: uuid.UUID) -> MemberOut:
    m, u = await _member(session, membership_id)
    return _member_out(m, u)


async def change_role(
    session: AsyncSession, org_id: uuid.UUID, actor: Actor, membership_id: uuid.UUID, role: str
) -> MemberOut:
    new_role = _role(role)
    member, user = await _member(session, membership_id)
    _may_manage(actor, member)
    if not can_grant(actor.role, new_role):
        raise Forbidden(
            "the role %(role)s cannot grant the role %(new_role)s",
            role=actor.role.value,
            new_role=new_role.value,
        )
    old = member.role
    if old == new_role.value:
        return _member_out(member, user)
    if old == Role.OWNER and await _owners_locked(session) <= 1:
        raise Conflict("the last owner cannot be demoted; make another member owner first", field="role")
    member.role = new_role.value
    await session.flush()
    await audit(session, org_id, actor, "member.role_changed", user.email, old=old, new=new_role.value)
    return _member_out(member, user)


async def remove_member(
    session: AsyncSession, org_id: uuid.UUID, actor: Actor, membership_id: uuid.UUID
) -> None:
    member, user = await _member(session, membership_id)
    _may_manage(actor, member)
    if member.role == Role.OWNER and await _owners_locked(session) <= 1:
        raise Conflict("the last owner cannot be removed; make another member owner first")
    # What the member created stays; it just no longer names them.
    await session.execute(
        update(ApiToken)
        .where(ApiToken.created_by_membership_id == member.id)
        .values(created_by_membership_id=None)
    )
    await session.execute(
        update(Invitation)
        .where(Invitation.invited_by_membership_id == member.id)
        .values(invited_by_membership_id=None)
    )
    await session.execute(
        update(Invitation)
        .where(Invitation.accepted_membership_id == member.id)
        .values(accepted_membership_id=None)
    )
    await session.delete(member)
    await session.flush()
    await audit(session, org_id, actor, "member.removed", user.email, role=member.role)


# --- invitations ------------------------------------------------------------------------------


def _digest(raw: str) -> bytes:
    return hashlib.sha256(raw.encode()).digest()


def invitation_org(raw: str) -> uuid.UUID | None:
    """The organisation an invitation link claims to belong to (not yet verified)."""
    if not raw.startswith(INVITATION_PREFIX):
        return None
    org_hex, _, secret = raw[len(INVITATION_PREFIX) :].partition("_")
    if len(org_hex) != 32 or len(secret) < 32:
        return None
    try:
        return uuid.UUID(hex=org_hex)
    except ValueError:
        return None


def _status(inv: Invitation, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    if inv.accepted_at is not None:
        return "accepted"
    if inv.revoked_at is not None:
        return "revoked"
    if inv.expires_at <= now:
        return "expired"
    return "pending"


def invitation_out(inv: Invitation) -> InvitationOut:
    return InvitationOut(
        id=inv.id,
        email=inv.email,
        role=inv.role,
        status=_status(inv),
        created_at=inv.created_at,
        expires_at=inv.expires_at,
        last_sent_at=inv.last_sent_at,
        sent_count=inv.sent_count,
        accepted_at=inv.accepted_at,
        revoked_at=inv.revoked_at,
    )


def invitation_link(settings: Settings, raw: str) -> str:
    return f"{settings.public_url.rstrip('/')}/invite/{raw}"


def _new_secret(org_id: uuid.UUID) -> str:
    return f"{INVITATION_PREFIX}{org_id.hex}_{secrets.token_urlsafe(32)}"


# The invitation e-mail; the link and its expiry differ per invitation, the wording per language.
INVITATION_SUBJECT = N_("Invitation to %(org)s on codo")
INVITATION_BODY = N_(
    "%(inviter)s invites you to %(org)s on codo.\n"
    "Sign in through this link (valid until %(until)s, usable once):\n\n"
    "%(link)s\n"
)


async def _invitee_languages(session: AsyncSession, address: str) -> tuple[str, ...]:
    """Someone who already uses codo reads their own language; for anyone else codo cannot know
    it yet, so the e-mail says everything in German first and English second."""
    known = (
        await session.execute(select(User.locale).where(func.lower(User.email) == address).limit(1))
    ).scalar_one_or_none()
    return (i18n.language(known),) if known else i18n.LOCALES


async def _send(
    session: AsyncSession,
    settings: Settings,
    org: OrgRef | Organization,
    inv: Invitation,
    raw: str,
    inviter: str,
) -> str:
    link = invitation_link(settings, raw)
    languages = await _invitee_languages(session, inv.email)
    params = {"org": org.name, "inviter": inviter, "link": link}
    expires = inv.expires_at
    subjects = [i18n.gettext(lang, INVITATION_SUBJECT, domain="identity", **params) for lang in languages]
    bodies = [
        i18n.gettext(lang, INVITATION_BODY, domain="identity", until=i18n.when(lang, expires), **params)
        for lang in languages
    ]
    await outbox.enqueue(
        session,
        org.id,
        kind="invitation",
        to=inv.email,
        subject=" / ".join(subjects),
        body_text="\n---\n\n".join(bodies),
    )
    return link


async def invite(
    session: AsyncSession,
    settings: Settings,
    org: OrgRef | Organization,
    actor: Actor,
    *,
    email: str,
    role: str,
) -> NewInvitation:
    address = normalize_email(email)
    wanted = _role(role)
    if not can_grant(actor.role, wanted):
        raise Forbidden(
            "the role %(role)s cannot invite with the role %(wanted)s",
            role=actor.role.value,
            wanted=wanted.value,
        )
    member = (
        await session.execute(
            select(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(func.lower(User.email) == address)
        )
    ).first()
    if member is not None:
        raise Conflict("this address already belongs to a member", field="email")
    now = datetime.now(UTC)
    pending = (
        await session.execute(
            select(Invitation).where(
                Invitation.email == address,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
        )
    ).scalar_one_or_none()
    if pending is not None:
        raise Conflict("this address has a pending invitation: resend or revoke it", field="email")
    raw = _new_secret(org.id)
    inv = Invitation(
        organization_id=org.id,
        email=address,
        role=wanted.value,
        token_hash=_digest(raw),
        invited_by_membership_id=actor.membership_id,
        expires_at=now + INVITATION_VALID,
        last_sent_at=now,
        sent_count=1,
    )
    session.add(inv)
    await session.flush()
    await session.refresh(inv)
    link = await _send(session, settings, org, inv, raw, actor.label)
    await audit(session, org.id, actor, "invitation.sent", address, role=wanted.value)
    return NewInvitation(link=link, **msgspec.structs.asdict(invitation_out(inv)))


async def _invitation(session: AsyncSession, invitation_id: uuid.UUID) -> Invitation:
    inv = (
        await session.execute(select(Invitation).where(Invitation.id == invitation_id).with_for_update())
    ).scalar_one_or_none()
    if inv is None:
        raise NotFound("no such invitation")
    return inv


async def resend(
    session: AsyncSession,
    settings: Settings,
    org: OrgRef | Organization,
    actor: Actor,
    invitation_id: uuid.UUID,
) -> NewInvitation:
    """A new link (the old one stops working) with a fresh expiry."""
    inv = await _invitation(session, invitation_id)
    if not can_grant(actor.role, Role(inv.role)):
        raise Forbidden(
            "the role %(role)s cannot invite with the role %(role2)s", role=actor.role.value, role2=inv.role
        )
    if inv.accepted_at is not None or inv.revoked_at is not None:
        raise Conflict("this invitation was %(status)s; invite again instead", status=_status(inv))
    now = datetime.now(UTC)
    raw = _new_secret(org.id)
    inv.token_hash = _digest(raw)
    inv.expires_at = now + INVITATION_VALID
    inv.last_sent_at = now
    inv.sent_count += 1
    await session.flush()
    link = await _send(session, settings, org, inv, raw, actor.label)
    await audit(session, org.id, actor, "invitation.resent", inv.email)
    return NewInvitation(link=link, **msgspec.structs.asdict(invitation_out(inv)))


async def revoke(
    session: AsyncSession, org_id: uuid.UUID, actor: Actor, invitation_id: uuid.UUID
) -> InvitationOut:
    inv = await _invitation(session, invitation_id)
    if not can_grant(actor.role, Role(inv.role)):
        raise Forbidden(
            "the role %(role)s cannot revoke an invitation with the role %(role2)s",
            role=actor.role.value,
            role2=inv.role,
        )
    if inv.accepted_at is not None:
        raise Conflict("this invitation was already accepted; remove the member instead")
    if inv.revoked_at is None:
        inv.revoked_at = datetime.now(UTC)
        await session.flush()
        await audit(session, org_id, actor, "invitation.revoked", inv.email)
    return invitation_out(inv)


async def list_invitations(
    session: AsyncSession, *, limit: int, cursor: str | None, pending_only: bool = False
) -> Page[InvitationOut]:
    """Newest first."""
    query = select(Invitation).order_by(Invitation.id.desc()).limit(limit + 1)
    if pending_only:
        query = query.where(
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > func.now(),
        )
    if cursor:
        query = query.where(Invitation.id < decode_cursor(cursor))
    rows = list((await session.execute(query)).scalars())
    items = [invitation_out(i) for i in rows[:limit]]
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)


async def find_invitation(session: AsyncSession, raw: str) -> Invitation | None:
    """The invitation behind a link, in the session's organisation, whatever its status."""
    result: Invitation | None = (
        await session.execute(
            select(Invitation).where(Invitation.token_hash == _digest(raw)).with_for_update()
        )
    ).scalar_one_or_none()
    return result


async def invitation_for_link(db: Database, raw: str) -> tuple[Organization, Invitation] | None:
    """The organisation and the pending invitation behind a link, or None for any other link."""
    org_id = invitation_org(raw)
    if org_id is None:
        return None
    async with db.tenant(org_id) as session:
        org = await session.get(Organization, org_id)
        inv = await find_invitation(session, raw)
        if org is None or inv is None or _status(inv) != "pending":
            return None
        return org, inv


def invitation_status(inv: Invitation) -> str:
    return _status(inv)


async def add_membership(
    session: AsyncSession,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    role: Role,
    actor: Actor,
    email: str,
    **why: Any,
) -> Membership:
    membership = Membership(organization_id=org_id, user_id=user_id, role=role.value)
    session.add(membership)
    await session.flush()
    await audit(session, org_id, actor, "member.joined", email, role=role.value, **why)
    return membership


async def membership_of(session: AsyncSession, user_id: uuid.UUID) -> Membership | None:
    result: Membership | None = (
        await session.execute(
            # The organisation named: the policy alone is no index condition.
            select(Membership).where(
                Membership.organization_id == current_org(session), Membership.user_id == user_id
            )
        )
    ).scalar_one_or_none()
    return result


async def member_of(session: AsyncSession, user_id: uuid.UUID) -> tuple[Membership, User] | None:
    """The user and their membership in the session's organisation, in one statement."""
    params = {"org": current_org(session), "user_id": user_id}
    row = (await session.execute(_MEMBER_OF, params)).one_or_none()
    return None if row is None else (row[0], row[1])


class Member(msgspec.Struct, frozen=True):
    """A signed-in user's membership, as far as a request that only reads needs it."""

    membership_id: uuid.UUID
    role: str
    user_id: uuid.UUID
    email: str


async def member_on(connection: Any, org: uuid.UUID, user_id: uuid.UUID) -> Member | None:
    """:func:`member_of` on a driver connection scoped to ``org`` (see ``Database.tenant_driver``)."""
    row = await connection.fetchrow(_MEMBER_ON, org, user_id)
    return None if row is None else Member(membership_id=row[0], role=row[1], user_id=row[2], email=row[3])


_MEMBER_ON = (
    "SELECT m.id, m.role, u.id, u.email FROM memberships AS m JOIN users AS u ON u.id = m.user_id"
    " WHERE m.organization_id = $1 AND m.user_id = $2"
)

# Built once: every signed-in request sends it, and building it cost more than running it.
_MEMBER_OF = (
    select(Membership, User)
    .join(User, User.id == Membership.user_id)
    .where(
        Membership.organization_id == bindparam("org", type_=Uuid()),
        Membership.user_id == bindparam("user_id", type_=Uuid()),
    )
)


# ---------------------------------------------------------------- housekeeping

# An expired or revoked invitation stays this long on the members page (to see and resend it).
INVITATION_KEEP = timedelta(days=30)


def _stale_invitation(now: datetime) -> Any:
    cutoff = now - INVITATION_KEEP
    return (Invitation.accepted_at.is_(None)) & (
        (Invitation.expires_at < cutoff) | (Invitation.revoked_at < cutoff)
    )


async def organisations_with_stale_invitations(db: Database, now: datetime) -> list[uuid.UUID]:
    async with db.system_context("invitation purge scan") as session:
        rows = await session.execute(
            select(Invitation.organization_id).where(exists().where(_stale_invitation(now))).distinct()
        )
        return list(rows.scalars())


async def purge_stale_invitations(db: Database, org_id: uuid.UUID, now: datetime) -> int:
    """Delete invitations nobody accepted, a while after they expired or were revoked: each holds
    an e-mail address that is no member's."""
    async with db.tenant(org_id) as session:
        result = await session.execute(
            delete(Invitation).where(_stale_invitation(now)).execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
