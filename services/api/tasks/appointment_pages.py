"""The pages of appointments: make one, open it (when, where, who takes part, which contacts get
its e-mails), change it, confirm it, cancel it."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from babel.dates import format_datetime
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from services.api.tasks.acting import now_utc
from services.api.tasks.page_kit import (
    Refusal,
    day_of,
    member_choices,
    page_actor,
    render,
    tandem_choices,
    tandem_name,
    translator,
    uuid_or_none,
    uuids,
)
from services.api.web.context import PageContext, PageController
from shared.errors import DomainError, ValidationFailed
from shared.permissions import Permission
from shared.tasks import appointments, calendar_feed, choices, contact_mail, recurrence
from shared.tasks.models import DEFAULT_TIMEZONE
from shared.tasks.schemas import AppointmentCreate, AppointmentOut, AppointmentPatch
from shared.tasks.tasks import parse_time

# The form asks for a day and two times; the domain's names for what they become.
FORM_FIELDS = {"starts_at": "start", "ends_at": "end", "timezone": "day"}


def _values(raw: Any) -> dict[str, Any]:
    """The posted form, with the lists of people kept as lists."""
    single = {k: str(v) for k, v in raw.items() if k not in ("member_ids", "contact_ids")}
    return {
        **single,
        "member_ids": [str(v) for v in raw.getall("member_ids")] if "member_ids" in raw else [],
        "contact_ids": [str(v) for v in raw.getall("contact_ids")] if "contact_ids" in raw else [],
    }


def _values_of(a: AppointmentOut) -> dict[str, Any]:
    zone = recurrence.zone(a.timezone)
    start, end = a.starts_at.astimezone(zone), a.ends_at.astimezone(zone)
    return {
        "title": a.title,
        "day": start.date().isoformat(),
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "end_day": end.date().isoformat() if end.date() != start.date() else "",
        "location": a.location,
        "video_url": a.video_url,
        "description": a.description,
        "reminder_minutes": str(a.reminder_minutes),
        "match_id": str(a.match_id or ""),
        "member_ids": [str(m) for m in a.member_ids],
        "contact_ids": [str(c) for c in a.contact_ids],
    }


def _span(values: dict[str, Any]) -> tuple[datetime, datetime]:
    """Start and end on the wall clock of the appointment's place."""
    day = day_of(values.get("day"), "day")
    start, end = parse_time(values.get("start"), "start"), parse_time(values.get("end"), "end")
    if start is None or end is None:
        raise ValidationFailed("choose a start and an end", field="start" if start is None else "end")
    end_day = day_of(values["end_day"], "end_day") if values.get("end_day") else day
    return datetime.combine(day, start), datetime.combine(end_day, end)


def _reminder(values: dict[str, Any], default: int = 60) -> int:
    raw = values.get("reminder_minutes") or str(default)
    if not raw.isdigit():
        raise ValidationFailed("reminder_minutes is between 0 and 10080", field="reminder_minutes")
    return int(raw)


def _people(values: dict[str, Any]) -> tuple[list[uuid.UUID], list[uuid.UUID], uuid.UUID | None]:
    return (
        uuids(values["member_ids"], "member_ids", "no such member"),
        uuids(values["contact_ids"], "contact_ids", "no such contact in this organisation"),
        uuid_or_none(values.get("match_id"), "match_id", "no such match in this organisation"),
    )


async def _form_context(
    page: PageContext, values: dict[str, Any], match_id: uuid.UUID | None
) -> dict[str, Any]:
    selected = [uuid.UUID(v) for v in values.get("contact_ids", []) if _is_uuid(v)]
    picked, others, more = await choices.contact_choices(page.session, None, selected)
    _ = translator(page.locale)
    reminders = [
        ("0", _("no reminder")),
        ("15", _("15 minutes before")),
        ("60", _("1 hour before")),
        ("1440", _("1 day before")),
    ]
    current = str(values.get("reminder_minutes") or "60")
    if current.isdigit() and current not in dict(reminders):
        # Set through the API to another lead time: shown as it is, kept unless changed.
        reminders.insert(0, (current, _("%(minutes)s minutes before", minutes=int(current))))
    return {
        "form": values,
        "members": await member_choices(page),
        "tandems": await tandem_choices(page, match_id),
        "picker": {"name": "contact_ids", "multiple": True, "picked": picked, "others": others, "more": more},
        "reminders": reminders,
    }


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class AppointmentPages(PageController):
    path = "/o/{slug:str}"

    async def _new_form(
        self, page: PageContext, values: dict[str, Any], refused: Refusal | None = None
    ) -> Template:
        chosen = values.get("match_id") or ""
        match_id = uuid.UUID(chosen) if _is_uuid(chosen) else None
        return render(
            page,
            "tasks/appointment_new.html",
            sub="calendar",
            status_code=refused.status if refused else 200,
            refused=refused,
            **await _form_context(page, values, match_id),
        )

    @get("/appointments/new")
    async def new_form(
        self,
        page: NamedDependency[PageContext],
        day: FromQuery[date | None] = None,
        match_id: FromQuery[uuid.UUID | None] = None,
        contact_id: FromQuery[uuid.UUID | None] = None,
    ) -> Template:
        page.require(Permission.DATA_WRITE)
        today = recurrence.local_now(now_utc(), DEFAULT_TIMEZONE).date()
        values: dict[str, Any] = {
            "day": (day or today).isoformat(),
            "start": "10:00",
            "end": "11:00",
            "reminder_minutes": "60",
            "member_ids": [str(page.membership_id)],
            "contact_ids": [str(contact_id)] if contact_id else [],
            "match_id": str(match_id or ""),
        }
        return await self._new_form(page, values)

    @post("/appointments", status_code=303)
    async def create(self, page: NamedDependency[PageContext]) -> Redirect | Template:
        page.require(Permission.DATA_WRITE)
        await page.form()  # refuses a NUL byte in any field
        values = _values(await page.request.form())
        try:
            starts_at, ends_at = _span(values)
            members, contacts, match_id = _people(values)
            async with page.session.begin_nested():
                made = await appointments.create(
                    page.session,
                    page_actor(page),
                    AppointmentCreate(
                        title=values.get("title", ""),
                        starts_at=starts_at,
                        ends_at=ends_at,
                        description=values.get("description", ""),
                        kind="introduction" if values.get("introduction") == "on" else "meeting",
                        location=values.get("location", ""),
                        video_url=values.get("video_url", ""),
                        member_ids=members,
                        contact_ids=contacts,
                        match_id=match_id,
                        reminder_minutes=_reminder(values),
                    ),
                )
        except DomainError as exc:
            return await self._new_form(page, values, Refusal.of(page, exc, FORM_FIELDS))
        return Redirect(f"/o/{page.org.slug}/appointments/{made.id}?saved=created", status_code=303)

    async def _page(
        self,
        page: PageContext,
        appointment_id: uuid.UUID,
        *,
        values: dict[str, Any] | None = None,
        refused: Refusal | None = None,
        message: str | None = None,
    ) -> Template:
        a = await appointments.get_out(page.session, appointment_id)
        page.require(Permission.DATA_READ)
        people = await calendar_feed.member_people(page.session, set(a.member_ids))
        reach = await contact_mail.reach(page.session, a.contact_ids)
        zone = recurrence.zone(a.timezone)
        pattern = "EEEE, d. MMMM y, HH:mm" if page.locale == "de" else "EEEE, d MMMM y, HH:mm"
        same_day = a.starts_at.astimezone(zone).date() == a.ends_at.astimezone(zone).date()
        editing = page.can(Permission.DATA_WRITE) and a.status != "cancelled"
        extra = await _form_context(page, values or _values_of(a), a.match_id) if editing else {}
        return render(
            page,
            "tasks/appointment.html",
            sub="calendar",
            status_code=refused.status if refused else 200,
            a=a,
            start=format_datetime(a.starts_at, pattern, tzinfo=zone, locale=page.locale),
            end=format_datetime(a.ends_at, "HH:mm" if same_day else pattern, tzinfo=zone, locale=page.locale),
            member_names=[people[m][1] or people[m][0] for m in a.member_ids if m in people],
            contacts=[reach[c] for c in a.contact_ids if c in reach],
            tandem_name=await tandem_name(page, a.match_id),
            editing=editing,
            refused=refused,
            message=message,
            **extra,
        )

    @get("/appointments/{appointment_id:uuid}")
    async def appointment_page(
        self,
        page: NamedDependency[PageContext],
        appointment_id: FromPath[uuid.UUID],
        saved: FromQuery[str | None] = None,
    ) -> Template:
        _ = translator(page.locale)
        message = {
            "created": _("The appointment was created."),
            "1": _("Saved."),
            "confirmed": _("The appointment is confirmed."),
            "cancelled": _("The appointment was cancelled."),
        }.get(saved or "")
        return await self._page(page, appointment_id, message=message)

    @post("/appointments/{appointment_id:uuid}", status_code=303)
    async def edit(
        self, page: NamedDependency[PageContext], appointment_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        await appointments.get(page.session, appointment_id)
        page.require(Permission.DATA_WRITE)
        await page.form()
        values = _values(await page.request.form())
        try:
            starts_at, ends_at = _span(values)
            members, contacts, match_id = _people(values)
            async with page.session.begin_nested():
                await appointments.update(
                    page.session,
                    appointment_id,
                    AppointmentPatch(
                        title=values.get("title", ""),
                        starts_at=starts_at,
                        ends_at=ends_at,
                        description=values.get("description", ""),
                        location=values.get("location", ""),
                        video_url=values.get("video_url", ""),
                        member_ids=members,
                        contact_ids=contacts,
                        match_id=match_id,
                        reminder_minutes=_reminder(values),
                    ),
                    now_utc(),
                )
        except DomainError as exc:
            return await self._page(
                page, appointment_id, values=values, refused=Refusal.of(page, exc, FORM_FIELDS)
            )
        return Redirect(f"/o/{page.org.slug}/appointments/{appointment_id}?saved=1", status_code=303)

    @post("/appointments/{appointment_id:uuid}/confirm", status_code=303)
    async def confirm(
        self, page: NamedDependency[PageContext], appointment_id: FromPath[uuid.UUID]
    ) -> Redirect:
        await appointments.get(page.session, appointment_id)
        page.require(Permission.DATA_WRITE)
        await appointments.confirm(page.session, page_actor(page), appointment_id, now_utc())
        return Redirect(f"/o/{page.org.slug}/appointments/{appointment_id}?saved=confirmed", status_code=303)

    @post("/appointments/{appointment_id:uuid}/cancel", status_code=303)
    async def cancel(
        self, page: NamedDependency[PageContext], appointment_id: FromPath[uuid.UUID]
    ) -> Redirect:
        await appointments.get(page.session, appointment_id)
        page.require(Permission.DATA_WRITE)
        form = await page.form()
        await appointments.cancel(page.session, appointment_id, form.get("reason", ""), now_utc())
        return Redirect(f"/o/{page.org.slug}/appointments/{appointment_id}?saved=cancelled", status_code=303)


ROUTES = [AppointmentPages]
