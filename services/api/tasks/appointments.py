"""Appointments and the calendar view: /api/v1/orgs/{slug}/appointments, /calendar."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from litestar import Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from services.api.context import ApiController, OrgContext
from services.api.tasks.acting import acting_member, actor, now_utc
from shared.errors import ValidationFailed
from shared.permissions import Permission
from shared.tasks import agenda, calendar_feed
from shared.tasks import appointments as service
from shared.tasks.models import DEFAULT_TIMEZONE
from shared.tasks.recurrence import local_now
from shared.tasks.schemas import (
    AppointmentCreate,
    AppointmentOut,
    AppointmentPage,
    AppointmentPatch,
    CalendarOut,
    CancelBody,
)
from shared.tasks.tasks import week_bounds

MAX_LIST_RANGE = timedelta(days=400)


class AppointmentController(ApiController):
    path = "/api/v1/orgs/{slug:str}"
    tags = ["appointments"]

    @get("/appointments", summary="Appointments overlapping a range (default: the next 30 days)")
    async def list_appointments(
        self,
        ctx: NamedDependency[OrgContext],
        start: Annotated[datetime | None, QueryParameter(name="from")] = None,
        end: Annotated[datetime | None, QueryParameter(name="to")] = None,
        member_id: FromQuery[uuid.UUID | None] = None,
        include_cancelled: FromQuery[bool] = False,
    ) -> AppointmentPage:
        ctx.require(Permission.DATA_READ)
        start = service.to_utc_instant(start, DEFAULT_TIMEZONE, "from") if start else now_utc()
        end = service.to_utc_instant(end, DEFAULT_TIMEZONE, "to") if end else start + timedelta(days=30)
        if end - start > MAX_LIST_RANGE:
            raise ValidationFailed("a range is at most 400 days", field="to")
        items = await service.list_between(
            ctx.session, start, end, member_id=member_id, include_cancelled=include_cancelled
        )
        return AppointmentPage(items=items)

    @post("/appointments", summary="Create an appointment (times with an offset, or wall-clock in timezone)")
    async def create_appointment(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        data: JSONBody[AppointmentCreate],
    ) -> AppointmentOut:
        ctx.require(Permission.DATA_WRITE)
        return await service.create(ctx.session, actor(request, ctx), data)

    @get("/appointments/{appointment_id:uuid}", summary="An appointment")
    async def get_appointment(
        self, ctx: NamedDependency[OrgContext], appointment_id: FromPath[uuid.UUID]
    ) -> AppointmentOut:
        ctx.require(Permission.DATA_READ)
        return await service.get_out(ctx.session, appointment_id)

    @patch("/appointments/{appointment_id:uuid}", summary="Change an appointment")
    async def update_appointment(
        self,
        ctx: NamedDependency[OrgContext],
        appointment_id: FromPath[uuid.UUID],
        data: JSONBody[AppointmentPatch],
    ) -> AppointmentOut:
        await service.get(ctx.session, appointment_id)
        ctx.require(Permission.DATA_WRITE)
        return await service.update(ctx.session, appointment_id, data, now_utc())

    @post(
        "/appointments/{appointment_id:uuid}/confirm",
        summary="Confirm an appointment (an introduction moves its match to introduced)",
        status_code=200,
    )
    async def confirm_appointment(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        appointment_id: FromPath[uuid.UUID],
    ) -> AppointmentOut:
        await service.get(ctx.session, appointment_id)
        ctx.require(Permission.DATA_WRITE)
        return await service.confirm(ctx.session, actor(request, ctx), appointment_id, now_utc())

    @post("/appointments/{appointment_id:uuid}/cancel", summary="Cancel an appointment", status_code=200)
    async def cancel_appointment(
        self,
        ctx: NamedDependency[OrgContext],
        appointment_id: FromPath[uuid.UUID],
        data: JSONBody[CancelBody],
    ) -> AppointmentOut:
        await service.get(ctx.session, appointment_id)
        ctx.require(Permission.DATA_WRITE)
        return await service.cancel(ctx.session, appointment_id, data.reason, now_utc())

    @get(
        "/appointments/{appointment_id:uuid}/invitation.ics",
        summary="The appointment as an iCalendar invitation",
        media_type="text/calendar",
    )
    async def invitation(
        self, ctx: NamedDependency[OrgContext], appointment_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        ctx.require(Permission.DATA_READ)
        a = await service.get(ctx.session, appointment_id)
        body = await calendar_feed.invitation(ctx.session, appointment_id, ctx.org.name, now_utc())
        filename = calendar_feed.ics_filename(a.title, a.starts_at.date())
        return Response(
            body,
            media_type="text/calendar; charset=utf-8; method="
            + ("CANCEL" if a.status == "cancelled" else "REQUEST"),
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @get("/calendar", summary="Tasks and appointments of a week or month (local days, end exclusive)")
    async def calendar(
        self,
        ctx: NamedDependency[OrgContext],
        start: Annotated[
            date | None, QueryParameter(name="from", description="default: this week's Monday")
        ] = None,
        end: Annotated[
            date | None, QueryParameter(name="to", description="default: a week after from")
        ] = None,
        member_id: FromQuery[uuid.UUID | None] = None,
        mine: FromQuery[bool] = False,
    ) -> CalendarOut:
        ctx.require(Permission.DATA_READ)
        if start is None:
            start = week_bounds(local_now(now_utc(), DEFAULT_TIMEZONE).date())[0]
        end = end or start + timedelta(days=7)
        if mine:
            member_id = await acting_member(ctx, member_id)
        return await agenda.calendar(ctx.session, start, end, now_utc(), member_id=member_id)


ROUTES = [AppointmentController]
