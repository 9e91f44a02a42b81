"""The meeting log of a match in the JSON API: the mentor's link, the signals, the follow-up mark."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from services.api.context import ApiController, OrgContext
from services.api.scope import app_settings
from shared.actor import Actor, display_name
from shared.matching import meeting_log
from shared.matching.concerns import ConcernOut
from shared.matching.meeting_links import LinkStatus
from shared.permissions import Permission


class LinkSent(msgspec.Struct):
    # False when the mentor has no e-mail address or no consent: the link then reaches nobody.
    sent: bool


async def _actor(request: Request[Any, Any, Any], ctx: OrgContext) -> Actor:
    actor = ctx.actor
    named = Actor(
        role=actor.role,
        label=await display_name(ctx.session, actor),
        user_id=actor.user_id,
        membership_id=actor.membership_id,
        token_id=actor.token_id,
    )
    return named.within(ctx.org.id, ctx.org.slug, app_settings(request).public_url)


class MeetingLogController(ApiController):
    path = "/api/v1/orgs/{slug:str}/matches"
    tags = ["matches"]

    @get("/{match_id:uuid}/meeting-log", summary="Whether the mentor has a working link to the meeting log")
    async def link_status(
        self, ctx: NamedDependency[OrgContext], match_id: FromPath[uuid.UUID]
    ) -> LinkStatus:
        ctx.require(Permission.DATA_READ)
        return await meeting_log.link_status(ctx.session, match_id)

    @post(
        "/{match_id:uuid}/meeting-log/link",
        summary="Send the mentor a new link to the meeting log; earlier links stop working",
        status_code=201,
    )
    async def renew(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext], match_id: FromPath[uuid.UUID]
    ) -> LinkSent:
        await meeting_log.link_status(ctx.session, match_id)
        ctx.require(Permission.DATA_WRITE)
        issued = await meeting_log.renew_link(ctx.session, match_id, await _actor(request, ctx))
        return LinkSent(sent=issued.sent)

    @delete("/{match_id:uuid}/meeting-log/link", summary="Revoke the mentor's links", status_code=204)
    async def revoke(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext], match_id: FromPath[uuid.UUID]
    ) -> None:
        await meeting_log.link_status(ctx.session, match_id)
        ctx.require(Permission.DATA_WRITE)
        await meeting_log.revoke_links(ctx.session, match_id, await _actor(request, ctx))

    @get(
        "/{match_id:uuid}/concerns",
        summary="Signals from the tandem, newest first; their words for admins and its coordinator only",
    )
    async def concerns(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext], match_id: FromPath[uuid.UUID]
    ) -> list[ConcernOut]:
        ctx.require(Permission.DATA_READ)
        return await meeting_log.concerns_of(ctx.session, match_id, await _actor(request, ctx))

    @delete(
        "/{match_id:uuid}/follow-up", summary="Remove the follow-up mark once followed up", status_code=204
    )
    async def clear_follow_up(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext], match_id: FromPath[uuid.UUID]
    ) -> None:
        await meeting_log.link_status(ctx.session, match_id)
        ctx.require(Permission.DATA_WRITE)
        await meeting_log.clear_follow_up(ctx.session, match_id, await _actor(request, ctx))


ROUTES = [MeetingLogController]
