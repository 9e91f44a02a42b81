"""In-app notifications and notification settings: /api/v1/orgs/{slug}/notifications."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Redirect, Template

from services.api.context import OrgContext, provide_org_context
from services.api.controllers.tasks import acting_member, render, translator
from services.api.web.context import PageContext, provide_page
from shared.errors import NotFound
from shared.limits import Fields, Text
from shared.pagination import check_limit
from shared.permissions import Permission
from shared.tasks import calendar_feed, notify
from shared.tasks.notify import Channels, NotificationPage, PreferencesOut

Limit = QueryParameter(ge=1, le=200, description="items per page")
Cursor = QueryParameter(description="next_cursor of the previous page")


class SettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    kinds: Fields[Text, Channels]
    member_id: uuid.UUID | None = None


class ReadIn(msgspec.Struct, forbid_unknown_fields=True):
    member_id: uuid.UUID | None = None


class ReadOut(msgspec.Struct):
    marked: int
    unread_count: int


class UnreadOut(msgspec.Struct):
    unread_count: int


async def _personal(ctx: OrgContext, member_id: uuid.UUID | None) -> uuid.UUID:
    """The member whose notifications these are: the caller's own, or anyone's for an administrator."""
    member = await acting_member(ctx, member_id)
    if ctx.membership_id is None or member != ctx.membership_id:
        ctx.require(Permission.MEMBERS_MANAGE)
    return member


class NotificationController(Controller):
    path = "/api/v1/orgs/{slug:str}"
    tags = ["notifications"]
    dependencies = {"ctx": Provide(provide_org_context)}

    @get("/notifications", summary="A member's in-app notifications, newest first, with the unread count")
    async def list_notifications(
        self,
        ctx: NamedDependency[OrgContext],
        member_id: Annotated[uuid.UUID | None, QueryParameter(description="for API tokens")] = None,
        unread: FromQuery[bool] = False,
        limit: Annotated[int, Limit] = 50,
        cursor: Annotated[str | None, Cursor] = None,
    ) -> NotificationPage:
        ctx.require(Permission.DATA_READ)
        member = await _personal(ctx, member_id)
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
        member = await _personal(ctx, member_id)
        return UnreadOut(unread_count=await notify.unread_count(ctx.session, member))

    @post("/notifications/{notification_id:uuid}/read", summary="Mark one notification read", status_code=200)
    async def mark_read(
        self,
        ctx: NamedDependency[OrgContext],
        notification_id: FromPath[uuid.UUID],
        data: JSONBody[ReadIn],
    ) -> ReadOut:
        ctx.require(Permission.DATA_READ)
        member = await _personal(ctx, data.member_id)
        marked = await notify.mark_read(ctx.session, member, notification_id, datetime.now(UTC))
        return ReadOut(marked=marked, unread_count=await notify.unread_count(ctx.session, member))

    @post("/notifications/read-all", summary="Mark every notification read", status_code=200)
    async def mark_all_read(self, ctx: NamedDependency[OrgContext], data: JSONBody[ReadIn]) -> ReadOut:
        ctx.require(Permission.DATA_READ)
        member = await _personal(ctx, data.member_id)
        marked = await notify.mark_read(ctx.session, member, None, datetime.now(UTC))
        return ReadOut(marked=marked, unread_count=0)

    @get("/notification-settings", summary="Which kinds reach the member by e-mail and in the app")
    async def get_settings(
        self,
        ctx: NamedDependency[OrgContext],
        member_id: Annotated[uuid.UUID | None, QueryParameter(description="for API tokens")] = None,
    ) -> PreferencesOut:
        ctx.require(Permission.DATA_READ)
        member = await _personal(ctx, member_id)
        return await notify.get_preferences(ctx.session, member)

    @put(
        "/notification-settings",
        summary="Choose channels per kind (task_due, appointment, assignment, digest)",
    )
    async def put_settings(
        self, ctx: NamedDependency[OrgContext], data: JSONBody[SettingsIn]
    ) -> PreferencesOut:
        ctx.require(Permission.DATA_READ)
        member = await _personal(ctx, data.member_id)
        return await notify.set_preferences(ctx.session, ctx.org.id, member, data.kinds)


class NotificationPages(Controller):
    path = "/o/{slug:str}"
    tags = ["web"]
    include_in_schema = False
    dependencies = {"page": Provide(provide_page)}

    async def _page(
        self, page: PageContext, *, message: str | None = None, feed_url: str | None = None
    ) -> Template:
        _ = translator(page.locale)
        inbox = await notify.list_notifications(
            page.session, page.membership_id, unread_only=False, limit=50, cursor=None
        )
        return render(
            page,
            "tasks/notifications.html",
            sub="notifications",
            inbox=inbox,
            unread=inbox.unread_count,
            prefs=await notify.get_preferences(page.session, page.membership_id),
            kinds=[
                ("task_due", _("Tasks that fall due")),
                ("appointment", _("Upcoming appointments")),
                ("assignment", _("Tasks given to me")),
                ("digest", _("Daily overview at 7 o'clock")),
            ],
            message=message,
            feed_url=feed_url,
        )

    @get("/notifications")
    async def notifications_page(
        self, page: NamedDependency[PageContext], saved: FromQuery[bool] = False
    ) -> Template:
        page.require(Permission.DATA_READ)
        return await self._page(page, message=translator(page.locale)("Saved.") if saved else None)

    @post("/notifications/read-all", status_code=303)
    async def read_all(self, page: NamedDependency[PageContext]) -> Redirect:
        page.require(Permission.DATA_READ)
        await notify.mark_read(page.session, page.membership_id, None, datetime.now(UTC))
        return Redirect(f"/o/{page.org.slug}/notifications", status_code=303)

    @post("/notification-settings", status_code=303)
    async def save_settings(self, page: NamedDependency[PageContext]) -> Redirect:
        page.require(Permission.DATA_READ)
        form = await page.form()
        kinds = {
            kind: Channels(email=f"{kind}:email" in form, in_app=f"{kind}:in_app" in form)
            for kind in notify.KINDS
        }
        await notify.set_preferences(page.session, page.org.id, page.membership_id, kinds)
        return Redirect(f"/o/{page.org.slug}/notifications?saved=1", status_code=303)

    @post("/calendar-feed", status_code=200)
    async def new_feed(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.DATA_READ)
        feed = await calendar_feed.create_or_rotate(
            page.session, page.org.id, page.membership_id, page.settings.public_url
        )
        # The address exists only in this answer: its secret is stored hashed.
        return await self._page(page, feed_url=feed.url)

    @post("/calendar-feed/revoke", status_code=303)
    async def revoke_feed(self, page: NamedDependency[PageContext]) -> Redirect:
        page.require(Permission.DATA_READ)
        with contextlib.suppress(NotFound):  # already off
            await calendar_feed.revoke(page.session, page.membership_id)
        return Redirect(f"/o/{page.org.slug}/notifications?saved=1", status_code=303)


ROUTES = [NotificationController, NotificationPages]
