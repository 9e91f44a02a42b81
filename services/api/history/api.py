"""The change history over the JSON API: /api/v1/orgs/{slug}/history (admins)."""

from __future__ import annotations

import uuid
from datetime import date

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromQuery, Parameter

from services.api.context import ApiController, OrgContext
from shared.history.service import EntryOut, Search, search
from shared.pagination import Page, check_limit
from shared.permissions import Permission


class HistoryController(ApiController):
    path = "/api/v1/orgs/{slug:str}/history"
    tags = ["history"]

    @get("", summary="Who created, changed, deleted, exported or erased what, newest first (admins)")
    async def list_history(
        self,
        ctx: NamedDependency[OrgContext],
        contact_id: FromQuery[uuid.UUID | None] = None,
        match_id: FromQuery[uuid.UUID | None] = None,
        member_id: FromQuery[uuid.UUID | None] = None,
        token_id: FromQuery[uuid.UUID | None] = None,
        entity: FromQuery[str | None] = None,
        entity_id: FromQuery[uuid.UUID | None] = None,
        action: FromQuery[str | None] = None,
        since: FromQuery[date | None] = None,
        until: FromQuery[date | None] = None,
        limit: int = Parameter(ge=1, le=200, default=50, description="entries per page"),
        cursor: str | None = Parameter(default=None, description="next_cursor of the previous page"),
    ) -> Page[EntryOut]:
        ctx.require(Permission.HISTORY_READ)
        wanted = Search(
            contact_id=contact_id,
            match_id=match_id,
            member_id=member_id,
            token_id=token_id,
            entity=entity,
            entity_id=entity_id,
            action=action,
            since=since,
            until=until,
        )
        return await search(ctx.session, wanted, limit=check_limit(limit), cursor=cursor)


ROUTES = [HistoryController]
