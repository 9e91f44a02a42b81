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
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database
from shared.errors import Forbidden, NotFound
from shared.identity.members import member_of
from shared.models import Membership, User
from shared.organizations import OrgRef, cached_by_slug, cached_slug
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


async def find_organisation(db: Database, slug: str, only_org: uuid.UUID | None) -> OrgRef:
    """The organisation of ``slug``, or the 404 of an unknown organisation.

    ``only_org`` is set when the sign-in came through an organisation's own provider, which vouches
    for that organisation only. A cached organisation costs no transaction of its own.
    """
    org = cached_slug(slug)
    if org is None:
        async with db.platform() as platform:
            org = await cached_by_slug(platform, slug)
    if org is None or (only_org is not None and only_org != org.id):
        raise NotFound("no organisation %(slug)r", slug=slug)
    return org


@dataclass
class MemberScope:
    org: OrgRef
    user: User
    membership: Membership
    session: AsyncSession

    @property
    def role(self) -> Role:
        return Role(self.membership.role)


@asynccontextmanager
async def member_scope(db: Database, org: OrgRef, user_id: uuid.UUID) -> AsyncIterator[MemberScope]:
    """The organisation's transaction with the signed-in user and their membership in it, both read
    there in one statement (a transaction of its own for the user cost a browser request two round
    trips); no such user or no membership is a 404."""
    async with db.tenant(org.id) as session:
        found = await member_of(session, user_id)
        if found is None:
            raise NotFound("no organisation %(slug)r", slug=org.slug)
        membership, user = found
        # The user outlives the transaction (the error page of a rolled-back request still shows
        # who is signed in): detached, a rollback cannot expire it.
        session.expunge(user)
        structlog.contextvars.bind_contextvars(org=org.slug)
        yield MemberScope(org=org, user=user, membership=membership, session=session)
