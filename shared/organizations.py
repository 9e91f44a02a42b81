"""Organisations (platform level) and their members."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.cache import TtlCache
from shared.db import driver_connection
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.limits import Text
from shared.models import Membership, Organization, User
from shared.pagination import Page, decode_cursor, encode_cursor

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class OrganizationOut(msgspec.Struct):
    id: uuid.UUID
    slug: str
    name: str
    created_at: datetime


class MemberOut(msgspec.Struct):
    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    display_name: str
    role: str
    created_at: datetime


class OrgRef(msgspec.Struct, frozen=True):
    """What a request knows of its organisation. Immutable, so one per process serves every request."""

    id: uuid.UUID
    slug: str
    name: str
    created_at: datetime


def org_out(org: Organization | OrgRef) -> OrganizationOut:
    return OrganizationOut(id=org.id, slug=org.slug, name=org.name, created_at=org.created_at)


def validate_slug(slug: str) -> str:
    if not SLUG_RE.match(slug):
        raise ValidationFailed(
            "a slug is 2 to 63 characters: lower-case letters, digits and '-', "
            "starting with a letter or digit",
            field="slug",
        )
    return slug


async def get_by_slug(session: AsyncSession, slug: str) -> Organization | None:
    return (await session.execute(select(Organization).where(Organization.slug == slug))).scalar_one_or_none()


# Every request names its organisation by slug. Slugs never change and names rarely do; the
# caller still checks that the token or the membership belongs to the organisation found.
_BY_SLUG: TtlCache[OrgRef] = TtlCache(ttl_seconds=30)
_REF_BY_SLUG = "SELECT id, slug, name, created_at FROM organizations WHERE slug = $1"


def cached_slug(slug: str) -> OrgRef | None:
    """The organisation of ``slug`` if this process has it cached, without asking the database."""
    return _BY_SLUG.get(slug)


async def cached_by_slug(session: AsyncSession, slug: str) -> OrgRef | None:
    """:func:`get_by_slug` through a per-process cache (a new organisation is found at once)."""
    hit = cached_slug(slug)
    if hit is not None:
        return hit
    return await cached_by_slug_on(await driver_connection(session), slug)


async def cached_by_slug_on(connection: Any, slug: str) -> OrgRef | None:
    """:func:`cached_by_slug` on a driver connection (see ``Database.tenant_driver``)."""
    hit = cached_slug(slug)
    if hit is not None:
        return hit
    row = await connection.fetchrow(_REF_BY_SLUG, slug)
    if row is None:
        return None
    ref = OrgRef(id=row[0], slug=row[1], name=row[2], created_at=row[3])
    _BY_SLUG.put(slug, ref)
    return ref


def forget_slug(slug: str) -> None:
    _BY_SLUG.drop(slug)


async def create_organization(session: AsyncSession, slug: str, name: str) -> Organization:
    validate_slug(slug)
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed("the name must be 1 to 200 characters", field="name")
    if await get_by_slug(session, slug) is not None:
        raise Conflict("an organisation with the slug %(slug)r already exists", field="slug", slug=slug)
    org = Organization(slug=slug, name=name)
    session.add(org)
    await session.flush()
    await session.refresh(org)
    return org


async def list_organizations(session: AsyncSession) -> list[Organization]:
    return list((await session.execute(select(Organization).order_by(Organization.slug))).scalars())


async def list_members(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[MemberOut]:
    """Members of the session's organisation, oldest first, keyset-paginated by id (UUIDv7)."""
    query = (
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .order_by(Membership.id)
        .limit(limit + 1)
    )
    if cursor:
        query = query.where(Membership.id > decode_cursor(cursor))
    rows = (await session.execute(query)).all()
    items = [
        MemberOut(
            id=m.id,
            user_id=u.id,
            email=u.email,
            display_name=u.display_name,
            role=m.role,
            created_at=m.created_at,
        )
        for m, u in rows[:limit]
    ]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit else None
    return Page(items=items, next_cursor=next_cursor)


async def add_member(
    session: AsyncSession, org_id: uuid.UUID, email: str, role: str, display_name: str = ""
) -> Membership:
    user = User(email=email, display_name=display_name)
    session.add(user)
    await session.flush()
    membership = Membership(organization_id=org_id, user_id=user.id, role=role)
    session.add(membership)
    await session.flush()
    return membership


async def require_org(session: AsyncSession, slug: str) -> Organization:
    org = await get_by_slug(session, slug)
    if org is None:
        raise NotFound("no organisation %(slug)r", slug=slug)
    return org


class LegalPages(msgspec.Struct, forbid_unknown_fields=True):
    """Where the organisation's privacy policy and imprint are: its public forms link to both."""

    privacy_url: Text | None = None
    imprint_url: Text | None = None


def _legal_url(value: str | None, field: str) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if not re.match(r"^https?://[^\s/]+\.[^\s]+$", value) or len(value) > 500:
        raise ValidationFailed("give a web address starting with https://", field=field)
    return value


async def legal_pages(session: AsyncSession, org_id: uuid.UUID) -> LegalPages:
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound("no such organisation")
    return LegalPages(privacy_url=org.privacy_url, imprint_url=org.imprint_url)


async def set_legal_pages(session: AsyncSession, org_id: uuid.UUID, data: LegalPages) -> LegalPages:
    privacy = _legal_url(data.privacy_url, "privacy_url")
    imprint = _legal_url(data.imprint_url, "imprint_url")
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound("no such organisation")
    org.privacy_url, org.imprint_url = privacy, imprint
    await session.flush()
    return LegalPages(privacy_url=privacy, imprint_url=imprint)


async def require_legal_pages(session: AsyncSession, org_id: uuid.UUID, field: str = "active") -> None:
    """A public form collects personal data: it goes live only with both legal pages to link to."""
    pages = await legal_pages(session, org_id)
    if not (pages.privacy_url and pages.imprint_url):
        raise ValidationFailed(
            "set the privacy-policy and imprint addresses in the organisation's settings first", field=field
        )


async def members_with_roles(
    session: AsyncSession, roles: Sequence[str], *, limit: int = 10
) -> list[MemberOut]:
    """Members of the session's organisation who hold one of ``roles``, oldest first: whom a person
    refused by a page can ask for a different role."""
    query = (
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.role.in_(roles))
        .order_by(Membership.id)
        .limit(limit)
    )
    return [
        MemberOut(
            id=m.id,
            user_id=u.id,
            email=u.email,
            display_name=u.display_name,
            role=m.role,
            created_at=m.created_at,
        )
        for m, u in (await session.execute(query)).all()
    ]
