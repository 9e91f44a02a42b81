"""Contacts, their timeline, consents, custom fields and programmes: /api/v1/orgs/{slug}/contacts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter, QueryParameter
from litestar.response import Template

from services.api.contacts import imports as imports_api
from services.api.contacts import person_data
from services.api.context import DRIVER_READS, DRIVER_READS_KEY, ApiController, OrgContext
from services.api.pagination import Cursor, Limit
from shared.actor import Actor, display_name
from shared.contacts import exports, privacy, service, timeline
from shared.contacts import fields as custom_fields
from shared.contacts.exports import ExportIn, ExportOut
from shared.contacts.fields import FieldIn, FieldOut, FieldPatch
from shared.contacts.schemas import (
    ActivityIn,
    ActivityOut,
    ConsentIn,
    ConsentOut,
    ConsentSummary,
    ContactIn,
    ContactOut,
    ContactPatch,
    DuplicateOut,
    LinkIn,
    LinkOut,
    MergeIn,
    ProgrammeIn,
    ProgrammeOut,
    SettingsIn,
    SettingsOut,
)
from shared.errors import Conflict, ValidationFailed
from shared.matching import meeting_log
from shared.matching.meeting_log import LoggedMeeting
from shared.pagination import Page, check_limit
from shared.permissions import Permission, can
from shared.questionnaires import timeline as questionnaire_answers
from shared.questionnaires.schemas import ResponseOut
from shared.settings import Settings
from shared.tasks import erasure
from shared.tasks.schemas import ErasureRequestIn, TaskOut

FieldFilter = Annotated[
    list[str] | None, QueryParameter(name="field", description="custom field filter key:value (repeatable)")
]


_PLAIN_LIST_PARAMETERS = frozenset({"sort", "include_erased", "limit", "cursor"})


def _unfiltered(request: Request[Any, Any, Any]) -> bool:
    """The list is asked without a filter: one driver statement answers it (see DRIVER_READS)."""
    return _PLAIN_LIST_PARAMETERS.issuperset(request.query_params)


def actor(ctx: OrgContext) -> Actor:
    return ctx.actor


class TimelineOut(msgspec.Struct, kw_only=True):
    """A page of the person's own entries; with the first page, what their tandems said (at most
    200 of each, newest first): the questionnaires answered and the meetings the mentor logged."""

    items: list[ActivityOut]
    next_cursor: str | None
    answers: list[ResponseOut] = msgspec.field(default_factory=list)
    logged_meetings: list[LoggedMeeting] = msgspec.field(default_factory=list)


class ContactController(ApiController):
    path = "/api/v1/orgs/{slug:str}/contacts"
    tags = ["contacts"]

    @get("", summary="Contacts: search, filter, sort, page", opt={DRIVER_READS_KEY: _unfiltered})
    async def list_contacts(
        self,
        ctx: NamedDependency[OrgContext],
        q: str | None = Parameter(default=None, description="words of names, e-mail, phone or tags"),
        kind: FromQuery[str | None] = None,
        status: str | None = Parameter(default=None, description="one status or several, comma-separated"),
        programme: FromQuery[uuid.UUID | None] = None,
        tag: FromQuery[str | None] = None,
        owner: FromQuery[uuid.UUID | None] = None,
        custom: FieldFilter = None,
        missing_consent: FromQuery[bool | None] = None,
        include_erased: FromQuery[bool] = False,
        sort: str = Parameter(
            default="name", description="name, -name, created, -created, updated, -updated"
        ),
        limit: int = Limit,
        cursor: str | None = Cursor,
    ) -> Page[ContactOut]:
        ctx.require(Permission.DATA_READ)
        query = service.ContactQuery(
            q=q,
            kind=kind,
            status=status,
            programme=programme,
            tag=tag,
            owner=owner,
            field=custom or [],
            missing_consent=missing_consent,
            include_erased=include_erased,
            sort=sort,
        )
        if query.is_plain():
            connection = await ctx.connection()
            return await service.plain_list_on(
                connection, ctx.org.id, query, limit=check_limit(limit), cursor=cursor
            )
        return await service.list_contacts(ctx.session, query, limit=check_limit(limit), cursor=cursor)

    @post("", summary="Create a contact; possible_duplicates lists look-alikes")
    async def create_contact(
        self,
        ctx: NamedDependency[OrgContext],
        data: JSONBody[ContactIn],
        reject_duplicates: bool = Parameter(
            default=False, description="answer 409 instead of creating a look-alike"
        ),
    ) -> ContactOut:
        ctx.require(Permission.DATA_WRITE)
        return await service.create_contact(
            ctx.session, ctx.org.id, data, reject_duplicates=reject_duplicates
        )

    @get("/{contact_id:uuid}", summary="One contact", opt=DRIVER_READS)
    async def get_contact(
        self, ctx: NamedDependency[OrgContext], contact_id: FromPath[uuid.UUID]
    ) -> ContactOut:
        ctx.require(Permission.DATA_READ)
        return await service.read_out_on(await ctx.connection(), ctx.org.id, contact_id)

    @patch("/{contact_id:uuid}", summary="Change a contact (only the fields sent)")
    async def update_contact(
        self, ctx: NamedDependency[OrgContext], contact_id: FromPath[uuid.UUID], data: JSONBody[ContactPatch]
    ) -> ContactOut:
        # Read once, locked: the 404 comes before the 403, and the change needs the lock anyway.
        contact = await service.get_contact(ctx.session, contact_id, for_update=True)
        ctx.require(Permission.DATA_WRITE)
        if data.legal_hold is not msgspec.UNSET or data.legal_hold_reason is not msgspec.UNSET:
            ctx.require(Permission.SETTINGS_MANAGE)
        return await service.update_contact(
            ctx.session,
            contact_id,
            data,
            admin=can(ctx.role, Permission.SETTINGS_MANAGE),
            actor_label=ctx.label,
            locked=contact,
        )

    @delete("/{contact_id:uuid}", summary="Delete a contact and all its records", status_code=204)
    async def delete_contact(self, ctx: NamedDependency[OrgContext], contact_id: FromPath[uuid.UUID]) -> None:
        await service.get_contact(ctx.session, contact_id)
        ctx.require(Permission.DATA_WRITE)
        await service.delete_contact(ctx.session, contact_id)

    @get("/{contact_id:uuid}/duplicates", summary="Contacts that look like the same person")
    async def duplicates(
        self, ctx: NamedDependency[OrgContext], contact_id: FromPath[uuid.UUID]
    ) -> list[DuplicateOut]:
        ctx.require(Permission.DATA_READ)
        return await service.duplicates_of(ctx.session, contact_id)

    @post("/{contact_id:uuid}/merge", summary="Merge another contact into this one", status_code=200)
    async def merge(
        self, ctx: NamedDependency[OrgContext], contact_id: FromPath[uuid.UUID], data: JSONBody[MergeIn]
    ) -> ContactOut:
        await service.get_contact(ctx.session, contact_id)
        ctx.require(Permission.DATA_WRITE)
        return await service.merge_contacts(ctx.session, contact_id, data.other_id)

    @get("/{contact_id:uuid}/links", summary="Guardians, wards, contact persons")
    async def links(self, ctx: NamedDependency[OrgContext], contact_id: FromPath[uuid.UUID]) -> list[LinkOut]:
        ctx.require(Permission.DATA_READ)
        return await service.list_links(ctx.session, contact_id)

    @post("/{contact_id:uuid}/links", summary="Link: this contact is <kind> the related one")
    async def add_link(
        self, ctx: NamedDependency[OrgContext], contact_id: FromPath[uuid.UUID], data: JSONBody[LinkIn]
    ) -> LinkOut:
        await service.get_contact(ctx.session, contact_id)
        ctx.require(Permission.DATA_WRITE)
        return await service.add_link(ctx.session, contact_id, data.related_id, data.kind)

    @delete("/{contact_id:uuid}/links/{link_id:uuid}", summary="Remove a link", status_code=204)
    async def remove_link(
        self, ctx: NamedDependency[OrgContext], contact_id: FromPath[uuid.UUID], link_id: FromPath[uuid.UUID]
    ) -> None:
        await service.get_contact(ctx.session, contact_id)
        ctx.require(Permission.DATA_WRITE)
        await service.remove_link(ctx.session, contact_id, link_id)

    @get(
        "/{contact_id:uuid}/timeline",
        summary="Notes, calls, meetings, e-mails; newest first; with the first page the tandems' "
        "questionnaire answers and logged meetings (a worry's words for admins and the coordinator)",
    )
    async def get_timeline(
        self,
        ctx: NamedDependency[OrgContext],
        contact_id: FromPath[uuid.UUID],
        limit: int = Limit,
        cursor: str | None = Cursor,
    ) -> TimelineOut:
        ctx.require(Permission.DATA_READ)
        own = await timeline.timeline(
            ctx.session, contact_id, actor(ctx), limit=check_limit(limit), cursor=cursor
        )
        out = TimelineOut(items=own.items, next_cursor=own.next_cursor)
        if cursor is None:
            # The same rule as the person's page: confidential words only for those who may read them.
            out.answers = await questionnaire_answers.for_contact(ctx.session, contact_id, actor(ctx), "de")
            out.logged_meetings = await meeting_log.for_contact(ctx.session, contact_id, actor(ctx))
        return out

    @post("/{contact_id:uuid}/timeline", summary="Log a note, call, meeting or e-mail")
    async def add_activity(
        self, ctx: NamedDependency[OrgContext], contact_id: FromPath[uuid.UUID], data: JSONBody[ActivityIn]
    ) -> ActivityOut:
        await service.get_contact(ctx.session, contact_id)
        ctx.require(Permission.DATA_WRITE)
        return await timeline.add_activity(ctx.session, contact_id, actor(ctx), data)

    @delete(
        "/{contact_id:uuid}/timeline/{activity_id:uuid}", summary="Remove a timeline entry", status_code=204
    )
    async def delete_activity(
        self,
        ctx: NamedDependency[OrgContext],
        contact_id: FromPath[uuid.UUID],
        activity_id: FromPath[uuid.UUID],
    ) -> None:
        await service.get_contact(ctx.session, contact_id)
        ctx.require(Permission.DATA_WRITE)
        await timeline.delete_activity(ctx.session, contact_id, activity_id, actor(ctx))

    @get("/{contact_id:uuid}/consents", summary="Consent records and what is missing")
    async def get_consents(
        self, ctx: NamedDependency[OrgContext], contact_id: FromPath[uuid.UUID]
    ) -> ConsentSummary:
        ctx.require(Permission.DATA_READ)
        return await timeline.consents(ctx.session, contact_id)

    @post("/{contact_id:uuid}/consents", summary="Record a consent given or withdrawn")
    async def record_consent(
        self, ctx: NamedDependency[OrgContext], contact_id: FromPath[uuid.UUID], data: JSONBody[ConsentIn]
    ) -> ConsentOut:
        await service.get_contact(ctx.session, contact_id)
        ctx.require(Permission.DATA_WRITE)
        return await timeline.record_consent(ctx.session, contact_id, actor(ctx), data)

    # ------------------------------------------------------------ list exports

    @post("/exports", summary="Export the filtered list (CSV or XLSX); large lists go to the worker")
    async def create_export(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext], data: JSONBody[ExportIn]
    ) -> Response[ExportOut]:
        ctx.require(Permission.DATA_WRITE)
        who = await display_name(ctx.session, actor(ctx))
        export = await exports.create_export(ctx.session, ctx.org.id, data, who)
        base = f"/api/v1/orgs/{ctx.org.slug}/contacts/exports"
        if export.row_count <= exports.INLINE_LIMIT:
            export = await exports.build(ctx.session, export.id)
            return Response(exports.export_out(export, base), status_code=201)
        # create_export queued the worker's job; it is sent once this request commits.
        return Response(exports.export_out(export, base), status_code=202)

    @get("/exports/{export_id:uuid}", summary="An export's status")
    async def get_export(self, ctx: NamedDependency[OrgContext], export_id: FromPath[uuid.UUID]) -> ExportOut:
        ctx.require(Permission.DATA_WRITE)
        export = await exports.get_export(ctx.session, export_id)
        return exports.export_out(export, f"/api/v1/orgs/{ctx.org.slug}/contacts/exports")

    @get("/exports/{export_id:uuid}/download", summary="The exported file")
    async def download_export(
        self, ctx: NamedDependency[OrgContext], export_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        ctx.require(Permission.DATA_WRITE)
        export = await exports.get_export(ctx.session, export_id)
        if export.status != "done" or export.content is None:
            raise Conflict("the export is %(status)s", field="status", status=export.status)
        return Response(
            export.content,
            media_type=exports.MEDIA_TYPES[export.format],
            headers={"Content-Disposition": f'attachment; filename="{exports.filename(export)}"'},
        )

    # ------------------------------------------------------------ data protection

    @get(
        "/{contact_id:uuid}/export",
        summary="Everything kept about this person (JSON; format=html or pdf: a document to hand over)",
    )
    async def export_person(
        self,
        ctx: NamedDependency[OrgContext],
        contact_id: FromPath[uuid.UUID],
        format: FromQuery[str] = "json",
        lang: FromQuery[str | None] = None,
    ) -> Response[Any]:
        await service.get_contact(ctx.session, contact_id)
        ctx.require(Permission.DATA_WRITE)
        if format not in ("json", "html", "pdf"):
            raise ValidationFailed("format is json, html or pdf", field="format")
        data = await privacy.export_person(ctx.session, contact_id, ctx.actor)
        headers = person_data.attachment(contact_id, format)
        if format == "json":
            return Response(data, media_type="application/json", headers=headers)
        doc = person_data.document(data, lang or "de")
        if format == "pdf":
            return Response(person_data.pdf(doc), media_type="application/pdf", headers=headers)
        return Template(
            template_name="contacts/person_data_print.html",
            context={"doc": doc, "locale": doc.locale},
            media_type="text/html; charset=utf-8",
            headers=headers,
        )

    @post(
        "/{contact_id:uuid}/erase",
        summary="Erase this person: anonymise, keep statistics (admins)",
        status_code=200,
    )
    async def erase(self, ctx: NamedDependency[OrgContext], contact_id: FromPath[uuid.UUID]) -> ContactOut:
        await service.get_contact(ctx.session, contact_id)
        ctx.require(Permission.PERSON_ERASE)
        return await privacy.erase(ctx.session, contact_id)

    @post(
        "/{contact_id:uuid}/erase-request",
        summary="Ask the admins to erase this person: a task for them, linked to the person",
        status_code=201,
    )
    async def request_erasure(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        contact_id: FromPath[uuid.UUID],
        data: JSONBody[ErasureRequestIn],
    ) -> TaskOut:
        await service.get_contact(ctx.session, contact_id)
        ctx.require(Permission.DATA_WRITE)
        settings: Settings = request.app.state.settings
        acting = ctx.actor.within(ctx.org.id, ctx.org.slug, settings.public_url)
        return await erasure.request_erasure(ctx.session, acting, contact_id, data.reason, datetime.now(UTC))

    @get("/retention", summary="Who the retention rule would erase now (admins)")
    async def retention_preview(self, ctx: NamedDependency[OrgContext]) -> privacy.RetentionPreview:
        ctx.require(Permission.SETTINGS_MANAGE)
        return await privacy.retention_preview(ctx.session)

    @post("/retention/apply", summary="Apply the retention rule now (admins)", status_code=200)
    async def retention_apply(self, ctx: NamedDependency[OrgContext]) -> dict[str, int]:
        ctx.require(Permission.SETTINGS_MANAGE)
        return {"erased": await privacy.apply_retention(ctx.session)}

    # ------------------------------------------------------------ custom fields

    @get("/fields", summary="Custom fields")
    async def list_fields(
        self, ctx: NamedDependency[OrgContext], include_archived: FromQuery[bool] = False
    ) -> list[FieldOut]:
        ctx.require(Permission.DATA_READ)
        found = await custom_fields.list_fields(ctx.session, include_archived=include_archived)
        return [custom_fields.field_out(f) for f in found]

    @post("/fields", summary="Define a custom field (admins)")
    async def create_field(self, ctx: NamedDependency[OrgContext], data: JSONBody[FieldIn]) -> FieldOut:
        ctx.require(Permission.SETTINGS_MANAGE)
        return custom_fields.field_out(await custom_fields.create_field(ctx.session, ctx.org.id, data))

    @patch("/fields/{field_id:uuid}", summary="Change a custom field's labels, options or requirement")
    async def update_field(
        self, ctx: NamedDependency[OrgContext], field_id: FromPath[uuid.UUID], data: JSONBody[FieldPatch]
    ) -> FieldOut:
        await custom_fields.get_field(ctx.session, field_id)
        ctx.require(Permission.SETTINGS_MANAGE)
        return custom_fields.field_out(await custom_fields.update_field(ctx.session, field_id, data))

    @delete(
        "/fields/{field_id:uuid}", summary="Archive a custom field (its values stay, hidden)", status_code=204
    )
    async def archive_field(self, ctx: NamedDependency[OrgContext], field_id: FromPath[uuid.UUID]) -> None:
        await custom_fields.get_field(ctx.session, field_id)
        ctx.require(Permission.SETTINGS_MANAGE)
        await custom_fields.archive_field(ctx.session, field_id)

    @post(
        "/fields/{field_id:uuid}/restore",
        summary="Bring an archived field and its values back",
        status_code=200,
    )
    async def restore_field(
        self, ctx: NamedDependency[OrgContext], field_id: FromPath[uuid.UUID]
    ) -> FieldOut:
        await custom_fields.get_field(ctx.session, field_id)
        ctx.require(Permission.SETTINGS_MANAGE)
        return custom_fields.field_out(await custom_fields.restore_field(ctx.session, field_id))

    # ------------------------------------------------------------ programmes and settings

    @get("/programmes", summary="Programmes of the organisation")
    async def list_programmes(self, ctx: NamedDependency[OrgContext]) -> list[ProgrammeOut]:
        ctx.require(Permission.DATA_READ)
        return await service.list_programmes(ctx.session)

    @post("/programmes", summary="Add a programme (admins)")
    async def create_programme(
        self, ctx: NamedDependency[OrgContext], data: JSONBody[ProgrammeIn]
    ) -> ProgrammeOut:
        ctx.require(Permission.SETTINGS_MANAGE)
        return await service.create_programme(ctx.session, ctx.org.id, data.name)

    @delete("/programmes/{programme_id:uuid}", summary="Remove a programme", status_code=204)
    async def delete_programme(
        self, ctx: NamedDependency[OrgContext], programme_id: FromPath[uuid.UUID]
    ) -> None:
        ctx.require(Permission.DATA_READ)
        await service.get_programme(ctx.session, programme_id)
        ctx.require(Permission.SETTINGS_MANAGE)
        await service.delete_programme(ctx.session, programme_id)

    @get("/settings", summary="Required consents and the retention rule")
    async def get_settings(self, ctx: NamedDependency[OrgContext]) -> SettingsOut:
        ctx.require(Permission.DATA_READ)
        return await timeline.get_settings(ctx.session)

    @patch("/settings", summary="Change required consents or the retention rule (admins)")
    async def update_settings(
        self, ctx: NamedDependency[OrgContext], data: JSONBody[SettingsIn]
    ) -> SettingsOut:
        ctx.require(Permission.SETTINGS_MANAGE)
        return await timeline.update_settings(ctx.session, ctx.org.id, data)


ROUTES = [ContactController, *imports_api.ROUTES]
