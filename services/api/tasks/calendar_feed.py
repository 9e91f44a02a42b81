"""The private calendar feed: managed under /api/v1/orgs/{slug}/calendar-feed, read at /calendar/{token}.ics.

The read URL is authenticated only by its unguessable token (calendar apps cannot send a
bearer header); an unknown, malformed or revoked token answers the same 404.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from services.api.context import ApiController, OrgContext
from services.api.scope import app_settings, database
from services.api.tasks.acting import personal_member
from shared.errors import NotFound
from shared.models import Organization
from shared.permissions import Permission
from shared.tasks import calendar_feed
from shared.tasks.schemas import FeedOut


class FeedIn(msgspec.Struct, forbid_unknown_fields=True):
    member_id: uuid.UUID | None = None


class CalendarFeedController(ApiController):
    path = "/api/v1/orgs/{slug:str}/calendar-feed"
    tags = ["calendar"]

    @post("", summary="Create or rotate the member's private calendar feed; answers its URL")
    async def create_feed(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext], data: JSONBody[FeedIn]
    ) -> FeedOut:
        ctx.require(Permission.DATA_READ)
        member = await personal_member(ctx, data.member_id)
        public_url = app_settings(request).public_url
        return await calendar_feed.create_or_rotate(ctx.session, ctx.org.id, member, public_url)

    @delete("", summary="Revoke the member's calendar feed", status_code=204)
    async def revoke_feed(
        self, ctx: NamedDependency[OrgContext], member_id: FromQuery[uuid.UUID | None] = None
    ) -> None:
        ctx.require(Permission.DATA_READ)
        member = await personal_member(ctx, member_id)
        await calendar_feed.revoke(ctx.session, member)


class PublicFeedController(Controller):
    path = "/calendar"
    tags = ["calendar"]

    @get(
        "/{token:str}",
        summary="A member's calendar (iCalendar), opened by its private URL",
        media_type="text/calendar",
    )
    async def read_feed(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Response[bytes]:
        if not token.endswith(".ics"):
            raise NotFound("no such calendar")
        org_id, raw = calendar_feed.parse_token(token)
        now = datetime.now(UTC)
        async with database(request).tenant(org_id) as session:
            member = await calendar_feed.resolve(session, raw, now)
            org = await session.get(Organization, org_id)
            if org is None:
                raise NotFound("no such calendar")
            body = await calendar_feed.member_feed(session, member, org.name, now)
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={
                "Cache-Control": "private, max-age=300",
                "Content-Disposition": 'inline; filename="codo.ics"',
            },
        )


ROUTES = [CalendarFeedController, PublicFeedController]
