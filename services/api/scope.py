"""The scope of a request in one organisation, for the JSON API and the pages alike.

A signed-in person reaches an organisation only through a membership in it: the organisation is
looked up by its slug, the person's membership inside the organisation's own transaction (under
row-level security), and an organisation without one looks exactly like one that does not exist.
The API's provider (:mod:`services.api.context`) and the pages' provider
(:mod:`services.api.web.context`) both go through here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from litestar import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database
from shared.errors import Forbidden, NotFound
from shared.models import Membership, Organization, User
from shared.organizations import cached_by_slug, cached_org
from shared.permissions import Permission, Role, can
from shared.settings import Settings


def database(request: Request[Any, Any, Any]) -> Database:
    db: Database = request.app.state.db
    return db


def app_settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def require(role: Role, permission: Permission) -> None:
    # Called only after the organisation was found, so a 403 never reveals what a 404 hides.
    if not can(role, permission):
        raise Forbidden(
            "the role %(role)s may not do this (%(permission)s)", role=role.value, permission=permission.value
        )


async def find_organisation(db: Database, slug: str, only_org: uuid.UUID | None) -> Organization:
    """The organisation of ``slug`` (cached per process), or the 404 of an unknown organisation.

    ``only_org`` is set when the sign-in came through an organisation's own provider, which vouches
    for that organisation only.
    """
    org = cached_org(slug)
    if org is None:
        async with db.platform() as platform:
            org = await cached_by_slug(platform, slug)
    if org is None or (only_org is not None and only_org != org.id):
        raise NotFound("no organisation %(slug)r", slug=slug)
    return org


@dataclass
class MemberScope:
    org: Organization
    user: User
    membership: Membership
    session: AsyncSession

    @property
    def role(self) -> Role:
        return Role(self.membership.role)


@asynccontextmanager
async def member_scope(db: Database, org: Organization, user_id: uuid.UUID) -> AsyncIterator[MemberScope]:
    """The organisation's transaction with the signed-in user and their membership in it, read in
    that transaction (one BEGIN per request); no user or no membership is a 404."""
    async with db.tenant(org.id) as session:
        # One statement: the person and their membership (the organisation named: the policy alone
        # is no index condition).
        found = (
            await session.execute(
                select(User, Membership)
                .join(Membership, Membership.user_id == User.id)
                .where(User.id == user_id, Membership.organization_id == org.id)
            )
        ).first()
        if found is None:
            raise NotFound("no organisation %(slug)r", slug=org.slug)
        user, membership = found.tuple()
        # A failed request rolls back, which expires the session's objects; the person is still
        # shown afterwards (the forbidden page, the error page) and is no part of the unit of work.
        session.expunge(user)
        structlog.contextvars.bind_contextvars(org=org.slug)
        yield MemberScope(org=org, user=user, membership=membership, session=session)
