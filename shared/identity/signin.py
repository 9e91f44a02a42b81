"""Completing a sign-in: from verified id_token claims to a person and (maybe) a membership.

A person is their (issuer, subject). The first sign-in creates them only together with a
membership, and only through a valid invitation or the organisation's own provider's
allowed-domain rule; anyone else sees a clear refusal and nothing is written. Accounts are
never linked by e-mail address.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.cache import TtlCache
from shared.db import Database
from shared.errors import Conflict
from shared.identity import members
from shared.identity.models import Identity
from shared.identity.oidc import Provider
from shared.models import Membership, Organization, User
from shared.organizations import MemberOut, get_by_slug, list_members
from shared.permissions import RANK, Role


class SignInRefused(Exception):
    """``reason`` is a stable code the sign-in page explains."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedIn:
    user_id: uuid.UUID
    org_slug: str | None
    only_org: uuid.UUID | None


@dataclass(frozen=True)
class OrgChoice:
    id: uuid.UUID
    slug: str
    name: str
    role: str


def _email(provider: Provider, claims: dict[str, Any]) -> str:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SignInRefused("no-email")
    verified = claims.get("email_verified")
    # A provider that says the address is unverified is believed; one that never says anything
    # is accepted only where the operator or the organisation's admin said so for that provider.
    if verified is not True and (provider.require_email_verified or "email_verified" in claims):
        raise SignInRefused("email-unverified")
    return email.strip().lower()


def _mapped_role(provider: Provider, claims: dict[str, Any]) -> Role | None:
    if not provider.group_claim or not provider.group_roles:
        return None
    groups = claims.get(provider.group_claim)
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        return None
    roles = [
        Role(provider.group_roles[g]) for g in groups if isinstance(g, str) and g in provider.group_roles
    ]
    return max(roles, key=lambda r: RANK[r]) if roles else None


async def _identity(session: AsyncSession, issuer: str, subject: str) -> Identity | None:
    found: Identity | None = (
        await session.execute(select(Identity).where(Identity.issuer == issuer, Identity.subject == subject))
    ).scalar_one_or_none()
    return found


async def _create_person(
    session: AsyncSession, provider: Provider, claims: dict[str, Any], email: str
) -> User:
    name = claims.get("name") if isinstance(claims.get("name"), str) else ""
    locale = claims.get("locale")
    user = User(
        email=email,
        display_name=str(name)[:200],
        locale="en" if isinstance(locale, str) and locale.lower().startswith("en") else "de",
    )
    session.add(user)
    await session.flush()
    session.add(Identity(issuer=provider.issuer, subject=str(claims["sub"]), user_id=user.id, email=email))
    await session.flush()
    return user


async def complete(
    db: Database,
    provider: Provider,
    claims: dict[str, Any],
    *,
    org_id: uuid.UUID | None,
    invitation: str | None,
) -> SignedIn:
    email = _email(provider, claims)
    domain = email.rpartition("@")[2]
    if provider.org_id is not None:
        if org_id != provider.org_id:
            raise SignInRefused("wrong-provider")
        if provider.allowed_domains and domain not in provider.allowed_domains:
            raise SignInRefused("domain-not-allowed")
    subject = str(claims["sub"])
    only_org = provider.org_id
    if org_id is None:
        async with db.platform() as session:
            identity = await _identity(session, provider.issuer, subject)
            if identity is None:
                raise SignInRefused("unknown-user")
            identity.last_signin_at = datetime.now(UTC)
            return SignedIn(identity.user_id, None, only_org)

    # Users and identities have no row-level security, so one transaction in the organisation
    # writes the person, their identity and their membership together or not at all.
    async with db.tenant(org_id) as session:
        org = (await session.execute(select(Organization).where(Organization.id == org_id))).scalar_one()
        identity = await _identity(session, provider.issuer, subject)
        membership: Membership | None = None
        if identity is not None:
            membership = await members.membership_of(session, identity.user_id)
        provider_actor = Actor.system(f"sign-in ({provider.label})")
        mapped = _mapped_role(provider, claims)
        if membership is None and invitation:
            inv = await members.find_invitation(session, invitation)
            if inv is None or members.invitation_status(inv) != "pending":
                raise SignInRefused("invitation-invalid")
            if inv.email != email:
                raise SignInRefused("invitation-other-email")
            user_id = (
                identity.user_id if identity else (await _create_person(session, provider, claims, email)).id
            )
            role = mapped or Role(inv.role)
            membership = await members.add_membership(
                session, org_id, user_id, role, provider_actor, email, via="invitation"
            )
            inv.accepted_at = datetime.now(UTC)
            inv.accepted_membership_id = membership.id
            await session.flush()
            mapped = None
        elif membership is None and provider.auto_join_role and provider.allowed_domains:
            user_id = (
                identity.user_id if identity else (await _create_person(session, provider, claims, email)).id
            )
            role = mapped or Role(provider.auto_join_role)
            membership = await members.add_membership(
                session, org_id, user_id, role, provider_actor, email, via="allowed domain"
            )
            mapped = None
        elif membership is None:
            raise SignInRefused("not-invited" if invitation is None else "invitation-invalid")
        if mapped is not None and mapped.value != membership.role:
            # The last owner keeps the role whatever the groups say.
            with contextlib.suppress(Conflict):
                await members.change_role(session, org_id, provider_actor, membership.id, mapped.value)
        identity = await _identity(session, provider.issuer, subject)
        if identity is not None:
            identity.last_signin_at = datetime.now(UTC)
        return SignedIn(membership.user_id, org.slug, only_org)


# The switcher's list is read on every page of an organisation, and a transaction of its own costs
# each page several round trips. There it only offers links: access to an organisation is checked on
# each request, so a list a few seconds old after a membership changes lets nobody in.
_SWITCHER: TtlCache[list[OrgChoice]] = TtlCache(ttl_seconds=30)


async def organisations_of(db: Database, user_id: uuid.UUID, *, cached: bool = False) -> list[OrgChoice]:
    """The organisations a person belongs to, for the switcher: their own memberships only.

    ``cached``: a list up to 30 seconds old will do (the switcher on an organisation's pages; the
    start page and the switch itself always read it fresh)."""
    found = _SWITCHER.get(user_id) if cached else None
    if found is not None:
        return list(found)
    async with db.system_context("organisation switcher: the signed-in person's own memberships") as session:
        rows = await session.execute(
            select(Organization.id, Organization.slug, Organization.name, Membership.role)
            .join(Membership, Membership.organization_id == Organization.id)
            .where(Membership.user_id == user_id)
            .order_by(Organization.name)
        )
        found = [OrgChoice(id=r.id, slug=r.slug, name=r.name, role=r.role) for r in rows]
    _SWITCHER.put(user_id, found)
    return list(found)


async def user(db: Database, user_id: uuid.UUID) -> User | None:
    async with db.platform() as session:
        found: User | None = await session.get(User, user_id)
        return found


async def set_locale(db: Database, user_id: uuid.UUID, locale: str) -> None:
    async with db.platform() as session:
        found = await session.get(User, user_id)
        if found is not None:
            found.locale = locale


DEV_ORG = "demo"


async def dev_members(db: Database, slug: str) -> tuple[Organization | None, list[MemberOut]]:
    """Development sign-in: the organisation and its members to choose from."""

    async with db.platform() as session:
        org = await get_by_slug(session, slug)
    if org is None:
        return None, []
    async with db.tenant(org.id) as session:
        page = await list_members(session, limit=50, cursor=None)
    return org, page.items


async def dev_user(db: Database, slug: str, membership_id: uuid.UUID) -> tuple[uuid.UUID, str] | None:
    """Development sign-in: the person behind a membership of the organisation ``slug``."""

    async with db.platform() as session:
        org = await get_by_slug(session, slug)
    if org is None:
        return None
    async with db.tenant(org.id) as session:
        membership = await session.get(Membership, (org.id, membership_id))
        return None if membership is None else (membership.user_id, org.slug)
