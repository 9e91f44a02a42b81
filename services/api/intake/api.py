"""Intake and preparation over the JSON API: /api/v1/orgs/{slug}/screening, /events and /forms."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from services.api.context import ApiController, OrgContext
from shared.errors import ValidationFailed
from shared.intake import events, forms, readiness, screening
from shared.intake.events import EventDetail
from shared.intake.schemas import (
    AttendanceIn,
    CertificateIn,
    CertificateOut,
    ChecklistOut,
    EventIn,
    EventOut,
    EventPatch,
    FormIn,
    FormOut,
    FormPatch,
    InviteIn,
    InviteOut,
    KindSummary,
    PersonAttendance,
    ProfilePatch,
    RecordIn,
    RecordOut,
    StepIn,
    StepOut,
    StepPatch,
)
from shared.intake.screening import Who
from shared.permissions import Permission, can

ContactIds = Annotated[
    list[uuid.UUID] | None, QueryParameter(name="contact_id", description="a contact (repeatable)")
]


class StepList(msgspec.Struct):
    items: list[StepOut]


class RecordList(msgspec.Struct):
    items: list[RecordOut]


class CertificateList(msgspec.Struct):
    items: list[CertificateOut]


class DefaultsIn(msgspec.Struct, forbid_unknown_fields=True):
    programme_id: uuid.UUID


class Readiness(msgspec.Struct):
    contact_id: uuid.UUID
    ready: bool
    reasons: list[str]


class ReadinessList(msgspec.Struct):
    items: list[Readiness]


def who(ctx: OrgContext) -> Who:
    return Who(
        name=ctx.label,
        membership_id=ctx.membership_id,
        is_admin=can(ctx.role, Permission.SETTINGS_MANAGE),
        sees_certificates=can(ctx.role, Permission.DATA_WRITE),
    )


def _one_contact(contact_id: uuid.UUID | None) -> uuid.UUID:
    if contact_id is None:
        raise ValidationFailed("name the contact", field="contact_id")
    return contact_id


class ScreeningController(ApiController):
    path = "/api/v1/orgs/{slug:str}/screening"
    tags = ["screening"]

    @get("/steps", summary="The preparation steps of each programme")
    async def list_steps(
        self, ctx: NamedDependency[OrgContext], programme_id: FromQuery[uuid.UUID | None] = None
    ) -> StepList:
        ctx.require(Permission.DATA_READ)
        return StepList(await screening.list_steps(ctx.session, programme_id))

    @post("/steps", summary="Add a step to a programme's preparation (admins)")
    async def create_step(self, ctx: NamedDependency[OrgContext], data: JSONBody[StepIn]) -> StepOut:
        ctx.require(Permission.SETTINGS_MANAGE)
        return await screening.create_step(ctx.session, data)

    @post("/steps/defaults", summary="Give a programme the usual five steps (admins)")
    async def default_steps(self, ctx: NamedDependency[OrgContext], data: JSONBody[DefaultsIn]) -> StepList:
        ctx.require(Permission.SETTINGS_MANAGE)
        return StepList(await screening.default_pipeline(ctx.session, data.programme_id))

    @patch("/steps/{step_id:uuid}", summary="Change a step (admins)")
    async def update_step(
        self, ctx: NamedDependency[OrgContext], step_id: FromPath[uuid.UUID], data: JSONBody[StepPatch]
    ) -> StepOut:
        await screening.get_step(ctx.session, step_id)
        ctx.require(Permission.SETTINGS_MANAGE)
        return await screening.update_step(ctx.session, step_id, data)

    @delete("/steps/{step_id:uuid}", summary="Remove a step and its records (admins)", status_code=204)
    async def delete_step(self, ctx: NamedDependency[OrgContext], step_id: FromPath[uuid.UUID]) -> None:
        await screening.get_step(ctx.session, step_id)
        ctx.require(Permission.SETTINGS_MANAGE)
        await screening.delete_step(ctx.session, step_id)

    @get("/records", summary="A person's screening records, newest first")
    async def list_records(
        self, ctx: NamedDependency[OrgContext], contact_id: FromQuery[uuid.UUID | None] = None
    ) -> RecordList:
        ctx.require(Permission.DATA_READ)
        return RecordList(await screening.list_records(ctx.session, _one_contact(contact_id)))

    @post("/records", summary="Record that a person went through a step: date, by whom, outcome")
    async def add_record(self, ctx: NamedDependency[OrgContext], data: JSONBody[RecordIn]) -> RecordOut:
        ctx.require(Permission.DATA_WRITE)
        return await screening.add_record(ctx.session, who(ctx), data)

    @delete("/records/{record_id:uuid}", summary="Remove a record made in error", status_code=204)
    async def delete_record(self, ctx: NamedDependency[OrgContext], record_id: FromPath[uuid.UUID]) -> None:
        ctx.require(Permission.DATA_WRITE)
        await screening.delete_record(ctx.session, record_id)

    @get("/certificates", summary="A person's certificate inspections (§ 72a SGB VIII)")
    async def list_certificates(
        self, ctx: NamedDependency[OrgContext], contact_id: FromQuery[uuid.UUID | None] = None
    ) -> CertificateList:
        # Inspection results are for those who work with people, not for read-only members.
        ctx.require(Permission.DATA_WRITE)
        return CertificateList(await screening.list_certificates(ctx.session, _one_contact(contact_id)))

    @post(
        "/certificates",
        summary="Record an inspection of an extended criminal-record certificate",
        description=(
            "Only what § 72a SGB VIII allows: seen, issue date, inspection date, by whom, relevant entries "
            "(yes/no). The document itself is never accepted."
        ),
    )
    async def record_certificate(
        self, ctx: NamedDependency[OrgContext], data: JSONBody[CertificateIn]
    ) -> CertificateOut:
        ctx.require(Permission.DATA_WRITE)
        return await screening.record_certificate(ctx.session, who(ctx), data)

    @get("/people/{contact_id:uuid}", summary="A person's preparation checklist and readiness for matching")
    async def checklist(
        self, ctx: NamedDependency[OrgContext], contact_id: FromPath[uuid.UUID]
    ) -> ChecklistOut:
        ctx.require(Permission.DATA_READ)
        return await screening.checklist(ctx.session, who(ctx), contact_id)

    @patch(
        "/people/{contact_id:uuid}",
        summary="Form of address, intake status; child-protection decision and notes (admins)",
    )
    async def update_profile(
        self, ctx: NamedDependency[OrgContext], contact_id: FromPath[uuid.UUID], data: JSONBody[ProfilePatch]
    ) -> ChecklistOut:
        await screening.checklist(ctx.session, who(ctx), contact_id)
        ctx.require(Permission.DATA_WRITE)
        return await screening.update_profile(ctx.session, who(ctx), contact_id, data)

    @get("/readiness", summary="Whether people may be matched, and why not")
    async def readiness(
        self,
        ctx: NamedDependency[OrgContext],
        contact_ids: ContactIds = None,
        lang: Annotated[str, QueryParameter(description="de or en")] = "de",
    ) -> ReadinessList:
        ctx.require(Permission.DATA_READ)
        if not contact_ids:
            raise ValidationFailed("name at least one contact", field="contact_id")
        if len(contact_ids) > 500:
            raise ValidationFailed("at most 500 contacts at once", field="contact_id")
        found = await readiness.not_ready_reasons(ctx.session, contact_ids, locale=lang)
        return ReadinessList([Readiness(cid, not reasons, reasons) for cid, reasons in found.items()])


class EventList(msgspec.Struct):
    items: list[EventOut]


class SummaryList(msgspec.Struct):
    items: list[KindSummary]


class EventController(ApiController):
    path = "/api/v1/orgs/{slug:str}/events"
    tags = ["events"]

    @get("", summary="Events with their attendance counts, by start")
    async def list_events(
        self,
        ctx: NamedDependency[OrgContext],
        after: FromQuery[datetime | None] = None,
        before: FromQuery[datetime | None] = None,
    ) -> EventList:
        ctx.require(Permission.DATA_READ)
        return EventList(await events.list_events(ctx.session, after=after, before=before))

    @get("/summary", summary="Events and attendance per kind in a period (for reports)")
    async def summary(
        self,
        ctx: NamedDependency[OrgContext],
        after: FromQuery[datetime | None] = None,
        before: FromQuery[datetime | None] = None,
    ) -> SummaryList:
        ctx.require(Permission.DATA_READ)
        return SummaryList(await events.summary(ctx.session, after=after, before=before))

    @post("", summary="Plan a workshop, regulars' meeting, outing or training")
    async def create_event(self, ctx: NamedDependency[OrgContext], data: JSONBody[EventIn]) -> EventOut:
        ctx.require(Permission.DATA_WRITE)
        return await events.create_event(ctx.session, data)

    @get("/{event_id:uuid}", summary="An event with everyone on its list")
    async def get_event(self, ctx: NamedDependency[OrgContext], event_id: FromPath[uuid.UUID]) -> EventDetail:
        ctx.require(Permission.DATA_READ)
        return await events.event_detail(ctx.session, event_id)

    @patch("/{event_id:uuid}", summary="Change an event")
    async def update_event(
        self, ctx: NamedDependency[OrgContext], event_id: FromPath[uuid.UUID], data: JSONBody[EventPatch]
    ) -> EventDetail:
        await events.get_event(ctx.session, event_id)
        ctx.require(Permission.DATA_WRITE)
        return await events.update_event(ctx.session, event_id, data)

    @delete("/{event_id:uuid}", summary="Cancel an event and forget its list", status_code=204)
    async def delete_event(self, ctx: NamedDependency[OrgContext], event_id: FromPath[uuid.UUID]) -> None:
        await events.get_event(ctx.session, event_id)
        ctx.require(Permission.DATA_WRITE)
        await events.delete_event(ctx.session, event_id)

    @post(
        "/{event_id:uuid}/invitations",
        summary="Invite people: each gets an e-mail in their language and form of address",
        status_code=200,
    )
    async def invite(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        event_id: FromPath[uuid.UUID],
        data: JSONBody[InviteIn],
    ) -> Response[InviteOut]:
        await events.get_event(ctx.session, event_id)
        ctx.require(Permission.DATA_WRITE)
        result = await events.invite(ctx.session, event_id, data)
        return Response(result)

    @post("/{event_id:uuid}/attendance", summary="Mark people confirmed, present or absent", status_code=200)
    async def attendance(
        self, ctx: NamedDependency[OrgContext], event_id: FromPath[uuid.UUID], data: JSONBody[AttendanceIn]
    ) -> EventDetail:
        await events.get_event(ctx.session, event_id)
        ctx.require(Permission.DATA_WRITE)
        return await events.set_attendance(ctx.session, event_id, data)

    @delete(
        "/{event_id:uuid}/attendees/{contact_id:uuid}", summary="Take someone off the list", status_code=204
    )
    async def remove_attendee(
        self, ctx: NamedDependency[OrgContext], event_id: FromPath[uuid.UUID], contact_id: FromPath[uuid.UUID]
    ) -> None:
        await events.get_event(ctx.session, event_id)
        ctx.require(Permission.DATA_WRITE)
        await events.remove_attendee(ctx.session, event_id, contact_id)

    @get("/people/{contact_id:uuid}", summary="A person's events and attendance counts")
    async def person(
        self, ctx: NamedDependency[OrgContext], contact_id: FromPath[uuid.UUID]
    ) -> PersonAttendance:
        ctx.require(Permission.DATA_READ)
        return await events.person_attendance(ctx.session, contact_id)


class FormList(msgspec.Struct):
    items: list[FormOut]


def _public_url(request: Request[Any, Any, Any]) -> str:
    url: str = request.app.state.settings.public_url
    return url


class FormController(ApiController):
    path = "/api/v1/orgs/{slug:str}/forms"
    tags = ["forms"]

    @get("", summary="Public sign-up forms with their address, embed code and counts")
    async def list_forms(self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext]) -> FormList:
        ctx.require(Permission.DATA_READ)
        return FormList(await forms.list_forms(ctx.session, ctx.org.slug, _public_url(request)))

    @post("", summary="Add a sign-up form to a programme (admins)")
    async def create_form(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext], data: JSONBody[FormIn]
    ) -> FormOut:
        ctx.require(Permission.SETTINGS_MANAGE)
        return await forms.create_form(ctx.session, data, ctx.org.slug, _public_url(request))

    @get("/{form_id:uuid}", summary="One sign-up form")
    async def get_form(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext], form_id: FromPath[uuid.UUID]
    ) -> FormOut:
        ctx.require(Permission.DATA_READ)
        return await forms.read_form(ctx.session, form_id, ctx.org.slug, _public_url(request))

    @patch("/{form_id:uuid}", summary="Change a form: fields, consent texts and versions, activity (admins)")
    async def update_form(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        form_id: FromPath[uuid.UUID],
        data: JSONBody[FormPatch],
    ) -> FormOut:
        await forms.get_form(ctx.session, form_id)
        ctx.require(Permission.SETTINGS_MANAGE)
        return await forms.update_form(ctx.session, form_id, data, ctx.org.slug, _public_url(request))

    @delete("/{form_id:uuid}", summary="Remove a form and its unconfirmed sign-ups (admins)", status_code=204)
    async def delete_form(self, ctx: NamedDependency[OrgContext], form_id: FromPath[uuid.UUID]) -> None:
        await forms.get_form(ctx.session, form_id)
        ctx.require(Permission.SETTINGS_MANAGE)
        await forms.delete_form(ctx.session, form_id)


ROUTES = [ScreeningController, EventController, FormController]
