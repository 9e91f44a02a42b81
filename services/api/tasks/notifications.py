"""In-app notifications and notification settings: /api/v1/orgs/{slug}/notifications."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

import msgspec
from litestar import get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from services.api.context import ApiController, OrgContext
from services.api.pagination import Cursor, Limit
from services.api.tasks.acting import personal_member
from shared.limits import Fields, Text
from shared.pagination import check_limit
from shared.permissions import Permission
from shared.tasks import notify
from shared.tasks.schemas import Channels, NotificationPage, PreferencesOut


class SettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    kinds: Fields[Text, Channels]
    member_id: uuid.UUID | None = None


# OpenAPI names a schema that shares its class name with others after its module; clients
# generated from the document know it by the module it was first written in. (This module has
# no postponed annotations, so the struct's types do not depend on the module's name.)
SettingsIn.__module__ = "services.api.controllers.notifications"


class ReadIn(msgspec.Struct, forbid_unknown_fields=True):
    member_id: uuid.UUID | None = None


class ReadOut(msgspec.Struct):
    marked: int
    unread_count: int


class UnreadOut(msgspec.Struct):
    unread_count: int


class NotificationController(ApiController):
    path = "/api/v1/orgs/{slug:str}"
    tags = ["notifications"]

    @get("/notifications", summary="A member's in-app notifications, newest first, with the unread count")
    async def list_notifications(
        self,
        ctx: NamedDependency[OrgContext],
        member_id: Annotated[uuid.UUID | None, QueryParameter(description="for API tokens")] = None,
        unread: FromQuery[bool] = False,
        limit: int = Limit,
        cursor: str | None = Cursor,
    ) -> NotificationPage:
        ctx.require(Permission.DATA_READ)
        member = await personal_member(ctx, member_id)
        return await notify.list_notifications(
            ctx.session, member, unread_only=unread, limit=check_limit(limit), cursor=cursor
        )

    @get("/notifications/unread-count", summary="How many notifications the member has not read")
    async def unread_count(
        self,
        ctx: NamedDependency[OrgContext],
        member_id: Annotated[uuid.UUID | None, QueryParameter(description="for API tokens")] = None,
    ) -> UnreadOut:
        ctx.require(Permission.DATA_READ)
        member = await personal_member(ctx, member_id)
        return UnreadOut(unread_count=await notify.unread_count(ctx.session, member))

    @post("/notifications/{notification_id:uuid}/read", summary="Mark one notification read", status_code=200)
    async def mark_read(
        self,
        ctx: NamedDependency[OrgContext],
        notification_id: FromPath[uuid.UUID],
        data: JSONBody[ReadIn],
    ) -> ReadOut:
        ctx.require(Permission.DATA_READ)
        member = await personal_member(ctx, data.member_id)
        marked = await notify.mark_read(ctx.session, member, notification_id, datetime.now(UTC))
        return ReadOut(marked=marked, unread_count=await notify.unread_count(ctx.session, member))

    @post("/notifications/read-all", summary="Mark every notification read", status_code=200)
    async def mark_all_read(self, ctx: NamedDependency[OrgContext], data: JSONBody[ReadIn]) -> ReadOut:
        ctx.require(Permission.DATA_READ)
        member = await personal_member(ctx, data.member_id)
        marked = await notify.mark_read(ctx.session, member, None, datetime.now(UTC))
        return ReadOut(marked=marked, unread_count=0)

    @get("/notification-settings", summary="Which kinds reach the member by e-mail and in the app")
    async def get_settings(
        self,
        ctx: NamedDependency[OrgContext],
        member_id: Annotated[uuid.UUID | None, QueryParameter(description="for API tokens")] = None,
    ) -> PreferencesOut:
        ctx.require(Permission.DATA_READ)
        member = await personal_member(ctx, member_id)
        return await notify.get_preferences(ctx.session, member)

    @put(
        "/notification-settings",
        summary="Choose channels per kind (task_due, appointment, assignment, digest)",
    )
    async def put_settings(
        self, ctx: NamedDependency[OrgContext], data: JSONBody[SettingsIn]
    ) -> PreferencesOut:
        ctx.require(Permission.DATA_READ)
        member = await personal_member(ctx, data.member_id)
        return await notify.set_preferences(ctx.session, ctx.org.id, member, data.kinds)


ROUTES = [NotificationController]
