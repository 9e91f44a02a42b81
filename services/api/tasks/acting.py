"""Who acts in the tasks API: the clock, the domain actor of a request, the member a personal view is for."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import Request

from services.api.context import OrgContext
from shared.actor import Actor
from shared.errors import ValidationFailed
from shared.permissions import Permission
from shared.settings import Settings
from shared.tasks import notify


def now_utc() -> datetime:
    return datetime.now(UTC)


def actor(request: Request[Any, Any, Any], ctx: OrgContext) -> Actor:
    settings: Settings = request.app.state.settings
    return ctx.actor.within(ctx.org.id, ctx.org.slug, settings.public_url)


async def acting_member(ctx: OrgContext, member_id: uuid.UUID | None, field: str = "member_id") -> uuid.UUID:
    """The member a personal view is for: the signed-in member, or the one an API token names."""
    if member_id is not None and member_id != ctx.membership_id:
        await notify.require_member(ctx.session, member_id, field)
        return member_id
    if ctx.membership_id is not None:
        return ctx.membership_id
    raise ValidationFailed(
        "an API token acts for no member: name the member with %(field_name)s", field=field, field_name=field
    )


async def personal_member(ctx: OrgContext, member_id: uuid.UUID | None) -> uuid.UUID:
    """The member whose own things these are (notifications, the calendar feed): the caller's own,
    or anyone's for an administrator."""
    member = await acting_member(ctx, member_id)
    if ctx.membership_id is None or member != ctx.membership_id:
        # Someone else's inbox, or a feed that opens their calendar to whoever holds the URL.
        ctx.require(Permission.MEMBERS_MANAGE)
    return member
