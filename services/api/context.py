"""Who is calling, in which organisation: one transaction per request under row-level security."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import structlog
from litestar import Request
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from shared import organizations, tokens
from shared.db import Database
from shared.errors import Forbidden, NotFound
from shared.models import Organization
from shared.permissions import Permission, Role, can


@dataclass
class OrgContext:
    org: Organization
    session: AsyncSession
    role: Role
    token_id: uuid.UUID | None = None
    membership_id: uuid.UUID | None = None

    def require(self, permission: Permission) -> None:
        # Called only after the organisation was found, so a 403 never reveals what a 404 hides.
        if not can(self.role, permission):
            raise Forbidden(f"the role {self.role.value} may not do this ({permission.value})")


def bearer_token(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthorizedException("send an API token as 'Authorization: Bearer <token>'")
    return value.strip()


def database(request: Request[Any, Any, Any]) -> Database:
    db: Database = request.app.state.db
    return db


async def provide_org_context(
    request: Request[Any, Any, Any], slug: FromPath[str]
) -> AsyncGenerator[OrgContext, None]:
    raw = bearer_token(request)
    try:
        token_org = tokens.parse_organization(raw)
    except tokens.TokenRejected as exc:
        raise NotAuthorizedException(str(exc)) from None
    async with database(request).tenant(token_org) as session:
        try:
            token = await tokens.authenticate(session, raw)
        except tokens.TokenRejected as exc:
            raise NotAuthorizedException(str(exc)) from None
        org = await organizations.get_by_slug(session, slug)
        # Another organisation's slug looks exactly like one that does not exist.
        if org is None or org.id != token_org:
            raise NotFound(f"no organisation {slug!r}")
        structlog.contextvars.bind_contextvars(org=org.slug)
        yield OrgContext(org=org, session=session, role=Role(token.role), token_id=token.id)
