"""The page of one appointment: when, where, who takes part, and which contacts get its e-mails."""

from __future__ import annotations

import uuid

from babel.dates import format_datetime
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from services.api.web.context import PageContext, PageController
from shared.permissions import Permission
from shared.tasks import appointments, calendar_feed, contact_mail, recurrence


class AppointmentPages(PageController):
    path = "/o/{slug:str}"

    @get("/appointments/{appointment_id:uuid}")
    async def appointment_page(
        self, page: NamedDependency[PageContext], appointment_id: FromPath[uuid.UUID]
    ) -> Template:
        a = await appointments.get_out(page.session, appointment_id)
        page.require(Permission.DATA_READ)
        people = await calendar_feed.member_people(page.session, set(a.member_ids))
        reach = await contact_mail.reach(page.session, a.contact_ids)
        zone = recurrence.zone(a.timezone)
        pattern = "EEEE, d. MMMM y, HH:mm" if page.locale == "de" else "EEEE, d MMMM y, HH:mm"
        return page.render(
            "tasks/appointment.html",
            nav="tasks",
            a=a,
            start=format_datetime(a.starts_at, pattern, tzinfo=zone, locale=page.locale),
            end=format_datetime(a.ends_at, "HH:mm", tzinfo=zone, locale=page.locale),
            members=[people[m][1] or people[m][0] for m in a.member_ids if m in people],
            contacts=[reach[c] for c in a.contact_ids if c in reach],
        )


ROUTES = [AppointmentPages]
