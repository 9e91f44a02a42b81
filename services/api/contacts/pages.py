"""Contact pages: list and search, detail with timeline, edit, the import wizard, field settings."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from typing import Any

import msgspec
from litestar import Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from services.api.contacts import person_data
from services.api.history.pages import record_history
from services.api.limits import UPLOAD_MAX_BYTES, refuse_nul
from services.api.web.context import PageContext, PageController
from shared import clock, i18n
from shared.actor import Actor
from shared.contacts import exports, imports, privacy, service, timeline
from shared.contacts import fields as custom_fields
from shared.contacts.fields import FieldIn, FieldOption
from shared.contacts.schemas import ActivityIn, ConsentIn, ContactIn, ContactOut, ContactPatch, SettingsIn
from shared.contacts.vocab import (
    ACTIVITY_KINDS,
    AGE_GROUPS,
    CHANNELS,
    DAYS,
    DAYTIMES,
    GENDERS,
    KINDS,
    LINK_KINDS,
    STATUSES,
)
from shared.errors import Conflict, DomainError, ValidationFailed
from shared.i18n import N_
from shared.matching import matches, meeting_log
from shared.organizations import list_members
from shared.pagination import MAX_LIMIT
from shared.permissions import Permission
from shared.questionnaires import timeline as questionnaire_answers
from shared.tasks import erasure, tasks
from shared.tasks.tasks import TaskFilter

VOCAB: dict[str, Any] = {
    "kinds": KINDS,
    "statuses": STATUSES,
    "genders": GENDERS,
    "channels": CHANNELS,
    "age_groups": AGE_GROUPS,
    "days": DAYS,
    "daytimes": DAYTIMES,
    "activity_kinds": ACTIVITY_KINDS,
    "field_types": custom_fields.FIELD_TYPES,
}


OPTIONAL_TEXT = (
    "preferred_name", "organisation_name", "birth_date", "age_group", "gender", "postal_code", "city",
    "phone", "email", "preferred_channel", "notes", "waiting_since", "owner_membership_id",
)  # fmt: skip


def _actor(page: PageContext) -> Actor:
    return page.actor


def _htmx(page: PageContext) -> bool:
    return page.request.headers.get("hx-request") == "true"


async def _detail_page(
    page: PageContext,
    contact: ContactOut,
    *,
    link_q: str | None = None,
    done: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    """A person's page: profile, links (with guardians' other children as siblings), tandems, open
    tasks, the way to their preparation checklist, consents and timeline."""
    contact_id = contact.id
    actor = _actor(page)
    links = await service.list_links(page.session, contact_id)
    guardians = [k.contact_id for k in links if k.kind == "guardian_of" and k.related_id == contact_id]
    siblings: dict[uuid.UUID, str] = {}
    for guardian in guardians:
        for other in await service.list_links(page.session, guardian):
            if (
                other.kind == "guardian_of"
                and other.contact_id == guardian
                and other.related_id != contact_id
            ):
                siblings[other.related_id] = other.related_name
    found = []
    if link_q and link_q.strip() and page.can(Permission.DATA_WRITE):
        listed = await service.list_contacts(
            page.session, service.ContactQuery(q=link_q), limit=10, cursor=None
        )
        found = [f for f in listed.items if f.id != contact_id]
    now = datetime.now(UTC)
    open_tasks = await tasks.list_tasks(
        page.session, TaskFilter(contact_id=contact_id, status="open"), now=now, limit=20, cursor=None
    )
    tandems = await matches.list_matches(page.session, now.date(), contact_id=contact_id, limit=20)
    return page.render(
        "contacts/detail.html",
        status_code=status_code,
        nav="contacts",
        c=contact,
        timeline=await _timeline(page, contact_id, actor),
        activity_labels=meeting_log.ACTIVITIES,
        rating_labels=meeting_log.RATINGS,
        consents=await timeline.consents(page.session, contact_id),
        links=links,
        siblings=siblings,
        link_kinds=LINK_KINDS,
        link_q=link_q or "",
        found=found,
        open_tasks=open_tasks.items,
        more_tasks=open_tasks.next_cursor is not None,
        tandems=tandems.items,
        message={
            "linked": page._("The link is saved."),
            "unlinked": page._("The link is removed."),
            "removed": page._("The entry is deleted."),
            "merged": page._("The contacts are merged."),
        }.get(done or ""),
        errors=errors or {},
        duplicates=await service.duplicates_of(page.session, contact_id),
        fields={f.key: f for f in await custom_fields.list_fields(page.session)},
        **VOCAB,
        **await record_history(page, contact_id=contact_id),
    )


async def _form(page: PageContext) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Single values and every value of repeated fields (checkboxes)."""
    form = await page.request.form()
    single = {k: v for k, v in form.items() if isinstance(v, str)}
    multi = {k: [v for v in form.getall(k) if isinstance(v, str)] for k in form}
    return single, multi


def _words(value: str) -> list[str]:
    return [w.strip() for w in value.replace(";", ",").split(",") if w.strip()]


def _contact_values(single: dict[str, str], multi: dict[str, list[str]], fields: list[Any]) -> dict[str, Any]:
    """The edit form as the API's JSON (empty inputs are null)."""
    text = {k: (single.get(k) or "").strip() for k in single}

    def optional(name: str) -> str | None:
        return text.get(name) or None

    values: dict[str, Any] = {
        "kinds": multi.get("kinds", []),
        "first_name": text.get("first_name", ""),
        "last_name": text.get("last_name", ""),
        "languages": [w.lower() for w in _words(text.get("languages", ""))],
        "tags": _words(text.get("tags", "")),
        "interests": _words(text.get("interests", "")),
        "support_kinds": _words(text.get("support_kinds", "")),
        "availability": multi.get("availability", []),
        "status": text.get("status") or "interested",
        "programme_ids": multi.get("programme_ids", []),
    }
    for name in OPTIONAL_TEXT:
        values[name] = optional(name)
    capacity = text.get("capacity") or "1"
    try:
        values["capacity"] = int(capacity)
    except ValueError:
        raise ValidationFailed("a whole number", field="capacity") from None
    custom: dict[str, Any] = {}
    for f in fields:
        key = f"custom.{f.key}"
        if f.type == "multi_choice":
            custom[f.key] = multi.get(key, [])
        elif f.type == "boolean":
            custom[f.key] = {"yes": True, "no": False}.get(text.get(key, ""))
        elif f.type == "number":
            raw = text.get(key, "").replace(",", ".")
            try:
                custom[f.key] = float(raw) if raw and "." in raw else (int(raw) if raw else None)
            except ValueError:
                raise ValidationFailed("a number", field=key) from None
        else:
            custom[f.key] = text.get(key) or None
    values["custom"] = custom
    return values


def _convert(values: dict[str, Any], kind: type[Any]) -> Any:
    try:
        return msgspec.convert(values, kind)
    except msgspec.ValidationError as exc:
        message = str(exc)
        field = message.rsplit("$.", 1)[-1].rstrip("`").split("[")[0] if "$." in message else None
        # msgspec words its refusals for programmers; the page names the field to look at.
        raise ValidationFailed("this value is not valid", field=field) from None


async def _edit_page(
    page: PageContext, contact: Any, values: dict[str, Any] | None = None, *, error: DomainError | None = None
) -> Template:
    fields = await custom_fields.list_fields(page.session)
    members = (await list_members(page.session, limit=MAX_LIMIT, cursor=None)).items
    return page.render(
        "contacts/edit.html",
        status_code=error.status if error else 200,
        nav="contacts",
        contact=contact,
        values=values,
        fields=fields,
        members=members,
        programmes=await service.list_programmes(page.session),
        error=error,
        **VOCAB,
    )


async def _timeline(page: PageContext, contact_id: uuid.UUID, actor: Actor) -> list[tuple[str, Any]]:
    """The person's own entries and, from each of their tandems, the questionnaires answered and
    the meetings the mentor logged (confidential words only for admins and the coordinator)."""
    entries: list[tuple[datetime, str, Any]] = [
        (a.occurred_at, "activity", a)
        for a in (
            await timeline.timeline(
                page.session, contact_id, actor, limit=100, cursor=None, locale=page.locale
            )
        ).items
    ]
    if page.can(Permission.DATA_READ):
        answered = await questionnaire_answers.for_contact(page.session, contact_id, actor, page.locale)
        entries += [(r.submitted_at, "answers", r) for r in answered]
        logged = await meeting_log.for_contact(page.session, contact_id, actor)
        # A logged meeting has a day, not a time: it sorts after what was written down that day
        # (a day in Berlin: its end in UTC would put it after what was written just past midnight).
        entries += [(datetime.combine(m.occurred_on, time.max, clock.ZONE), "logged", m) for m in logged]
    entries.sort(key=lambda e: e[0], reverse=True)
    return [(kind, item) for _, kind, item in entries]


class ContactPages(PageController):
    path = "/o/{slug:str}/contacts"

    @get("")
    async def index(
        self,
        page: NamedDependency[PageContext],
        q: FromQuery[str | None] = None,
        kind: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        tag: FromQuery[str | None] = None,
        programme: FromQuery[str | None] = None,
        sort: FromQuery[str] = "name",
        cursor: FromQuery[str | None] = None,
        deleted: FromQuery[bool] = False,
    ) -> Template:
        page.require(Permission.DATA_READ)
        try:
            programme_id = uuid.UUID(programme) if programme else None
        except ValueError:
            programme_id = None
        query = service.ContactQuery(
            q=q, kind=kind or None, status=status or None, tag=tag or None, programme=programme_id, sort=sort
        )
        error = None
        try:
            found = await service.list_contacts(page.session, query, limit=50, cursor=cursor)
        except DomainError as exc:
            error, found = exc, None
        chosen = {"q": q, "kind": kind, "status": status, "tag": tag, "programme": programme, "sort": sort}
        params = {k: v for k, v in chosen.items() if v}
        template = "contacts/_results.html" if _htmx(page) else "contacts/list.html"
        return page.render(
            template,
            nav="contacts",
            page_of=found,
            params=params,
            error=error,
            programmes=await service.list_programmes(page.session),
            sorts=list(service.SORTS),
            message=page._("The contact is deleted.") if deleted else None,
            **VOCAB,
        )

    @get("/new")
    async def new(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.DATA_WRITE)
        return await _edit_page(page, None, {"kinds": ["mentee"], "status": "interested", "capacity": 1})

    @post("/new", status_code=303)
    async def create(self, page: NamedDependency[PageContext]) -> Template | Redirect:
        page.require(Permission.DATA_WRITE)
        single, multi = await _form(page)
        values: dict[str, Any] = {}
        try:
            values = _contact_values(single, multi, await custom_fields.list_fields(page.session))
            created = await service.create_contact(page.session, page.org.id, _convert(values, ContactIn))
        except DomainError as exc:
            return await _edit_page(page, None, values or single, error=exc)
        suffix = "?duplicates=1" if created.possible_duplicates else ""
        return Redirect(f"/o/{page.org.slug}/contacts/{created.id}{suffix}", status_code=303)

    @get("/{contact_id:uuid}")
    async def detail(
        self,
        page: NamedDependency[PageContext],
        contact_id: FromPath[uuid.UUID],
        link_q: FromQuery[str | None] = None,
        done: FromQuery[str | None] = None,
    ) -> Template:
        contact = await service.read_contact(page.session, contact_id)
        page.require(Permission.DATA_READ)
        return await _detail_page(page, contact, link_q=link_q, done=done)

    @post("/{contact_id:uuid}/delete")
    async def delete_contact(
        self, page: NamedDependency[PageContext], contact_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        """A contact entered by mistake goes with everything kept about them (erasure keeps statistics)."""
        contact = await service.read_contact(page.session, contact_id)
        page.require(Permission.DATA_WRITE)
        try:
            async with page.session.begin_nested():
                await service.delete_contact(page.session, contact_id)
        except DomainError as exc:
            errors = {"_form": page.message(exc)}
            return await _detail_page(page, contact, errors=errors, status_code=exc.status)
        return Redirect(f"/o/{page.org.slug}/contacts?deleted=1", status_code=303)

    @post("/{contact_id:uuid}/merge")
    async def merge(
        self, page: NamedDependency[PageContext], contact_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        """Merge a possible duplicate (``other_id``) into this contact; the duplicate's page is gone after."""
        contact = await service.read_contact(page.session, contact_id)
        page.require(Permission.DATA_WRITE)
        v = await page.form()
        try:
            async with page.session.begin_nested():
                try:
                    other = uuid.UUID(v.get("other_id", ""))
                except ValueError:
                    raise ValidationFailed("choose one from the list", field="other_id") from None
                await service.merge_contacts(page.session, contact_id, other)
        except DomainError as exc:
            errors = {"_form": page.message(exc)}
            return await _detail_page(page, contact, errors=errors, status_code=exc.status)
        return Redirect(f"/o/{page.org.slug}/contacts/{contact_id}?done=merged", status_code=303)

    @post("/{contact_id:uuid}/links")
    async def add_link(
        self, page: NamedDependency[PageContext], contact_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        """``kind_direction`` is the kind and who holds it: the person chosen (``of_this``) or this one."""
        contact = await service.read_contact(page.session, contact_id)
        page.require(Permission.DATA_WRITE)
        v = await page.form()
        try:
            async with page.session.begin_nested():
                try:
                    related = uuid.UUID(v.get("related_id", ""))
                except ValueError:
                    raise ValidationFailed("choose one from the list", field="related_id") from None
                kind, _sep, direction = v.get("kind_direction", "").partition(":")
                if direction == "of_this":
                    await service.add_link(page.session, related, contact_id, kind)
                else:
                    await service.add_link(page.session, contact_id, related, kind)
        except DomainError as exc:
            errors = {exc.field or "_form": page.message(exc)}
            return await _detail_page(page, contact, link_q=v.get("link_q"), errors=errors, status_code=422)
        return Redirect(f"/o/{page.org.slug}/contacts/{contact_id}?done=linked#links", status_code=303)

    @post("/{contact_id:uuid}/links/{link_id:uuid}/remove")
    async def remove_link(
        self,
        page: NamedDependency[PageContext],
        contact_id: FromPath[uuid.UUID],
        link_id: FromPath[uuid.UUID],
    ) -> Redirect:
        await service.read_contact(page.session, contact_id)
        page.require(Permission.DATA_WRITE)
        await service.remove_link(page.session, contact_id, link_id)
        return Redirect(f"/o/{page.org.slug}/contacts/{contact_id}?done=unlinked#links", status_code=303)

    @post("/{contact_id:uuid}/timeline/{activity_id:uuid}/remove")
    async def remove_activity(
        self,
        page: NamedDependency[PageContext],
        contact_id: FromPath[uuid.UUID],
        activity_id: FromPath[uuid.UUID],
    ) -> Redirect:
        await service.read_contact(page.session, contact_id)
        page.require(Permission.DATA_WRITE)
        await timeline.delete_activity(page.session, contact_id, activity_id, _actor(page))
        return Redirect(f"/o/{page.org.slug}/contacts/{contact_id}?done=removed#timeline", status_code=303)

    @get("/{contact_id:uuid}/edit")
    async def edit(self, page: NamedDependency[PageContext], contact_id: FromPath[uuid.UUID]) -> Template:
        contact = await service.read_contact(page.session, contact_id)
        page.require(Permission.DATA_WRITE)
        values = msgspec.to_builtins(contact)
        values["programme_ids"] = [p["id"] for p in values["programmes"]]
        return await _edit_page(page, contact, values)

    @post("/{contact_id:uuid}/edit", status_code=303)
    async def update(
        self, page: NamedDependency[PageContext], contact_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        contact = await service.read_contact(page.session, contact_id)
        page.require(Permission.DATA_WRITE)
        single, multi = await _form(page)
        values: dict[str, Any] = {}
        try:
            values = _contact_values(single, multi, await custom_fields.list_fields(page.session))
            patch = _convert(values, ContactPatch)
            if single.get("status_reason", "").strip():
                patch.status_reason = single["status_reason"]
            await service.update_contact(
                page.session,
                contact_id,
                patch,
                admin=page.can(Permission.SETTINGS_MANAGE),
                actor_label=page.user.email if page.user else "",
            )
        except DomainError as exc:
            return await _edit_page(page, contact, values or single, error=exc)
        return Redirect(f"/o/{page.org.slug}/contacts/{contact_id}", status_code=303)

    @post("/{contact_id:uuid}/timeline", status_code=303)
    async def add_activity(
        self, page: NamedDependency[PageContext], contact_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        await service.get_contact(page.session, contact_id)
        page.require(Permission.DATA_WRITE)
        single, _ = await _form(page)
        entry = ActivityIn(
            kind=single.get("kind", "note"),
            body=single.get("body", ""),
            confidential=bool(single.get("confidential")),
        )
        try:
            added = await timeline.add_activity(page.session, contact_id, _actor(page), entry)
        except DomainError as exc:
            if _htmx(page):
                return page.render("contacts/_activity_form.html", contact_id=contact_id, error=exc, **VOCAB)
            raise
        if _htmx(page):
            return page.render("contacts/_activity.html", a=added, fresh=True)
        return Redirect(f"/o/{page.org.slug}/contacts/{contact_id}#timeline", status_code=303)

    @post("/{contact_id:uuid}/consents", status_code=303)
    async def record_consent(
        self, page: NamedDependency[PageContext], contact_id: FromPath[uuid.UUID]
    ) -> Redirect:
        await service.get_contact(page.session, contact_id)
        page.require(Permission.DATA_WRITE)
        single, _ = await _form(page)
        consent = ConsentIn(
            purpose=single.get("purpose", "").strip(),
            status=single.get("status", ""),
            given_by=single.get("given_by") or None,
            evidence=single.get("evidence") or None,
        )
        await timeline.record_consent(page.session, contact_id, _actor(page), consent)
        return Redirect(f"/o/{page.org.slug}/contacts/{contact_id}#consents", status_code=303)

    @post("/{contact_id:uuid}/erase", status_code=303)
    async def erase(self, page: NamedDependency[PageContext], contact_id: FromPath[uuid.UUID]) -> Redirect:
        await service.get_contact(page.session, contact_id)
        page.require(Permission.PERSON_ERASE)
        await privacy.erase(page.session, contact_id)
        return Redirect(f"/o/{page.org.slug}/contacts/{contact_id}", status_code=303)

    @post("/{contact_id:uuid}/erase-request", status_code=303)
    async def request_erasure(
        self, page: NamedDependency[PageContext], contact_id: FromPath[uuid.UUID]
    ) -> Redirect:
        await service.get_contact(page.session, contact_id)
        page.require(Permission.DATA_WRITE)
        single, _ = await _form(page)
        acting = page.actor.within(page.org.id, page.org.slug, page.settings.public_url)
        task = await erasure.request_erasure(
            page.session, acting, contact_id, single.get("reason", ""), datetime.now(UTC)
        )
        return Redirect(f"/o/{page.org.slug}/tasks/{task.id}", status_code=303)

    @get("/{contact_id:uuid}/export")
    async def export_person(
        self,
        page: NamedDependency[PageContext],
        contact_id: FromPath[uuid.UUID],
        format: FromQuery[str] = "html",
    ) -> Response[Any] | Template:
        """The person's data as a page to read, a PDF to hand over, or JSON to take elsewhere."""
        await service.get_contact(page.session, contact_id)
        page.require(Permission.DATA_WRITE)
        if format not in ("html", "pdf", "json"):
            raise ValidationFailed("format is json, html or pdf", field="format")
        data = await privacy.export_person(page.session, contact_id, page.actor)
        if format == "json":
            return Response(
                data, media_type="application/json", headers=person_data.attachment(contact_id, "json")
            )
        doc = person_data.document(data, page.locale)
        if format == "pdf":
            return Response(
                person_data.pdf(doc),
                media_type="application/pdf",
                headers=person_data.attachment(contact_id, "pdf"),
            )
        return page.render("contacts/person_data.html", nav="contacts", doc=doc, contact_id=contact_id)

    # ------------------------------------------------------------ import wizard

    @get("/import")
    async def import_start(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.DATA_WRITE)
        return page.render(
            "contacts/import.html",
            nav="contacts",
            recent=await imports.list_imports(page.session),
            mappings=await imports.list_mappings(page.session),
            batch_size=imports.BATCH_SIZE,
            **VOCAB,
        )

    @post("/import", status_code=303, request_max_body_size=UPLOAD_MAX_BYTES)
    async def import_upload(self, page: NamedDependency[PageContext]) -> Template | Redirect:
        page.require(Permission.DATA_WRITE)
        form = await page.request.form()
        upload = form.get("file")
        try:
            refuse_nul(form.multi_items())
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise ValidationFailed("Choose an .xlsx or .csv file.", field="file")
            kinds = [v for v in form.getall("kind", []) if isinstance(v, str) and v]
            mapping_name = form.get("mapping_name")
            imp = await imports.dry_run(
                page.session,
                page.org.id,
                content=await upload.read(),
                filename=upload.filename,
                mapping=None,
                mapping_name=mapping_name if isinstance(mapping_name, str) and mapping_name else None,
                default_kinds=",".join(kinds) or None,
                atomicity=str(form.get("atomicity") or "batch"),
                created_by=page.user.email if page.user else "",
            )
        except DomainError as exc:
            return page.render(
                "contacts/import.html",
                status_code=exc.status,
                nav="contacts",
                error=exc,
                recent=await imports.list_imports(page.session),
                mappings=await imports.list_mappings(page.session),
                batch_size=imports.BATCH_SIZE,
                **VOCAB,
            )
        return Redirect(f"/o/{page.org.slug}/contacts/import/{imp.id}", status_code=303)

    @get("/import/{import_id:uuid}")
    async def import_review(
        self, page: NamedDependency[PageContext], import_id: FromPath[uuid.UUID]
    ) -> Template:
        imp = await imports.get_import(page.session, import_id)
        page.require(Permission.DATA_WRITE)
        return await self._review(page, imp)

    async def _review(self, page: PageContext, imp: Any, *, error: DomainError | None = None) -> Template:
        fields = await custom_fields.list_fields(page.session)
        out = imports.import_out(imp, locale=page.locale, texts=True)
        targets = imports.mapping_targets(fields)
        labels = {t: page._(f"field:{t}") for t in targets if not t.startswith("custom.")}
        labels |= {f"custom.{f.key}": f.label_en if page.locale == "en" else f.label_de for f in fields}
        return page.render(
            "contacts/import_review.html",
            status_code=error.status if error else 200,
            nav="contacts",
            imp=out,
            targets=targets,
            labels=labels,
            overwrite_labels=[labels.get(f, f) for f in out.overwrite],
            error=error,
        )

    @post("/import/{import_id:uuid}/mapping", status_code=303)
    async def import_remap(
        self, page: NamedDependency[PageContext], import_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        imp = await imports.get_import(page.session, import_id)
        page.require(Permission.DATA_WRITE)
        single, multi = await _form(page)
        mapping = {k.removeprefix("map:"): v for k, v in single.items() if k.startswith("map:")}
        # A ticked column lets the import replace what its field holds; unticked, it only fills in.
        chosen = {**imp.mapping, **mapping}
        overwrite = [chosen[h] for h in multi.get("overwrite", []) if chosen.get(h)]
        try:
            imp = await imports.replan(page.session, import_id, mapping, overwrite)
            if single.get("save_as", "").strip():
                await imports.save_mapping(page.session, page.org.id, single["save_as"], mapping)
        except DomainError as exc:
            return await self._review(page, imp, error=exc)
        return Redirect(f"/o/{page.org.slug}/contacts/import/{import_id}", status_code=303)

    @post("/import/{import_id:uuid}/commit", status_code=303)
    async def import_commit(
        self, page: NamedDependency[PageContext], import_id: FromPath[uuid.UUID]
    ) -> Redirect:
        await imports.get_import(page.session, import_id)
        page.require(Permission.DATA_WRITE)
        await imports.start(page.session, import_id)
        return Redirect(f"/o/{page.org.slug}/contacts/import/{import_id}", status_code=303)

    @get("/import/{import_id:uuid}/progress")
    async def import_progress(
        self, page: NamedDependency[PageContext], import_id: FromPath[uuid.UUID]
    ) -> Template:
        imp = await imports.get_import(page.session, import_id)
        page.require(Permission.DATA_WRITE)
        return page.render(
            "contacts/_import_progress.html", imp=imports.import_out(imp, rows="none", locale=page.locale)
        )

    @post("/import/{import_id:uuid}/undo", status_code=303)
    async def import_undo(
        self, page: NamedDependency[PageContext], import_id: FromPath[uuid.UUID]
    ) -> Redirect:
        await imports.get_import(page.session, import_id)
        page.require(Permission.DATA_WRITE)
        await imports.undo(page.session, import_id)
        return Redirect(f"/o/{page.org.slug}/contacts/import/{import_id}", status_code=303)

    @get("/import/{import_id:uuid}/errors.csv")
    async def import_errors(
        self, page: NamedDependency[PageContext], import_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        imp = await imports.get_import(page.session, import_id)
        page.require(Permission.DATA_WRITE)
        errors = i18n.gettext(page.locale, N_("errors"), domain="contacts")
        return Response(
            imports.error_report(imp, page.locale).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="import-{imp.id}-{errors}.csv"'},
        )

    # ------------------------------------------------------------ list export

    @post("/export", status_code=200)
    async def export_list(self, page: NamedDependency[PageContext]) -> Response[bytes] | Redirect:
        page.require(Permission.DATA_WRITE)
        single, multi = await _form(page)
        data = exports.ExportIn(
            format=single["format"] if single.get("format") in ("csv", "xlsx") else "csv",
            columns=multi.get("columns", []),
            q=single.get("q") or None,
            kind=single.get("kind") or None,
            status=single.get("status") or None,
            tag=single.get("tag") or None,
            locale=page.locale,
        )
        export = await exports.create_export(
            page.session, page.org.id, data, page.user.email if page.user else ""
        )
        if export.row_count > exports.INLINE_LIMIT:
            # Large lists are written by the worker; the status page fetches the file when it is ready.
            return Redirect(f"/o/{page.org.slug}/contacts/exports/{export.id}", status_code=303)
        export = await exports.build(page.session, export.id)
        return self._file(export)

    @staticmethod
    def _file(export: Any) -> Response[bytes]:
        return Response(
            export.content,
            media_type=exports.MEDIA_TYPES[export.format],
            headers={"Content-Disposition": f'attachment; filename="{exports.filename(export)}"'},
        )

    @get("/exports/{export_id:uuid}")
    async def export_status(
        self, page: NamedDependency[PageContext], export_id: FromPath[uuid.UUID]
    ) -> Template:
        export = await exports.get_export(page.session, export_id)
        page.require(Permission.DATA_WRITE)
        template = "contacts/_export_status.html" if _htmx(page) else "contacts/export.html"
        return page.render(template, nav="contacts", export=export)

    @get("/exports/{export_id:uuid}/download")
    async def export_download(
        self, page: NamedDependency[PageContext], export_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        export = await exports.get_export(page.session, export_id)
        page.require(Permission.DATA_WRITE)
        if export.status != "done" or export.content is None:
            raise Conflict("the export is %(status)s", field="status", status=export.status)
        return self._file(export)

    # ------------------------------------------------------------ programmes, consents, retention

    @get("/settings")
    async def settings_page(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.SETTINGS_MANAGE)
        return await self._settings(page)

    async def _settings(
        self, page: PageContext, *, error: DomainError | None = None, applied: int | None = None
    ) -> Template:
        return page.render(
            "contacts/settings.html",
            status_code=error.status if error else 200,
            nav="settings",
            programmes=await service.list_programmes(page.session),
            rules=await timeline.get_settings(page.session),
            preview=await privacy.retention_preview(page.session),
            error=error,
            applied=applied,
            **VOCAB,
        )

    @post("/settings", status_code=303)
    async def save_settings(self, page: NamedDependency[PageContext]) -> Template | Redirect:
        page.require(Permission.SETTINGS_MANAGE)
        single, multi = await _form(page)
        months = single.get("retention_months", "").strip()
        try:
            data = SettingsIn(
                required_consents=_words(single.get("required_consents", "")),
                retention_months=int(months) if months else None,
                retention_statuses=multi.get("retention_statuses", []),
            )
            await timeline.update_settings(page.session, page.org.id, data)
        except ValueError:
            return await self._settings(
                page, error=ValidationFailed("a whole number", field="retention_months")
            )
        except DomainError as exc:
            return await self._settings(page, error=exc)
        return Redirect(f"/o/{page.org.slug}/contacts/settings", status_code=303)

    @post("/settings/retention", status_code=200)
    async def apply_retention(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.SETTINGS_MANAGE)
        return await self._settings(page, applied=await privacy.apply_retention(page.session))

    @post("/programmes", status_code=303)
    async def add_programme(self, page: NamedDependency[PageContext]) -> Template | Redirect:
        page.require(Permission.SETTINGS_MANAGE)
        single, _ = await _form(page)
        try:
            await service.create_programme(page.session, page.org.id, single.get("name", ""))
        except DomainError as exc:
            return await self._settings(page, error=exc)
        return Redirect(f"/o/{page.org.slug}/contacts/settings", status_code=303)

    @post("/programmes/{programme_id:uuid}/remove", status_code=303)
    async def remove_programme(
        self, page: NamedDependency[PageContext], programme_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        await service.get_programme(page.session, programme_id)
        page.require(Permission.SETTINGS_MANAGE)
        try:
            async with page.session.begin_nested():
                await service.delete_programme(page.session, programme_id)
        except DomainError as exc:
            return await self._settings(page, error=exc)
        return Redirect(f"/o/{page.org.slug}/contacts/settings", status_code=303)

    # ------------------------------------------------------------ field settings

    @get("/fields")
    async def fields_page(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.SETTINGS_MANAGE)
        return await self._fields(page)

    async def _fields(
        self, page: PageContext, *, error: DomainError | None = None, form: dict[str, str] | None = None
    ) -> Template:
        return page.render(
            "contacts/fields.html",
            status_code=error.status if error else 200,
            nav="settings",
            fields=await custom_fields.list_fields(page.session, include_archived=True),
            error=error,
            form=form or {},
            **VOCAB,
        )

    @post("/fields", status_code=303)
    async def create_field(self, page: NamedDependency[PageContext]) -> Template | Redirect:
        page.require(Permission.SETTINGS_MANAGE)
        single, multi = await _form(page)
        options = []
        for line in single.get("options", "").splitlines():
            value, _, label = line.partition("=")
            if value.strip():
                options.append(FieldOption(value=value.strip(), label_de=(label or value).strip()))
        data = FieldIn(
            key=single.get("key", "").strip(),
            label_de=single.get("label_de", ""),
            label_en=single.get("label_en", "") or single.get("label_de", ""),
            type=single.get("type", ""),
            options=options,
            required_for=multi.get("required_for", []),
        )
        try:
            await custom_fields.create_field(page.session, page.org.id, data)
        except DomainError as exc:
            return await self._fields(page, error=exc, form=single)
        return Redirect(f"/o/{page.org.slug}/contacts/fields", status_code=303)

    @post("/fields/{field_id:uuid}", status_code=303)
    async def update_field(
        self, page: NamedDependency[PageContext], field_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        """Labels and for whom it is required; the key, type and stored values stay."""
        await custom_fields.get_field(page.session, field_id)
        page.require(Permission.SETTINGS_MANAGE)
        single, multi = await _form(page)
        data = custom_fields.FieldPatch(
            label_de=single.get("label_de", ""),
            label_en=single.get("label_en", "") or single.get("label_de", ""),
            required_for=multi.get("required_for", []),
        )
        try:
            async with page.session.begin_nested():
                await custom_fields.update_field(page.session, field_id, data)
        except DomainError as exc:
            return await self._fields(page, error=exc, form=single)
        return Redirect(f"/o/{page.org.slug}/contacts/fields", status_code=303)

    @post("/fields/{field_id:uuid}/archive", status_code=303)
    async def archive_field(
        self, page: NamedDependency[PageContext], field_id: FromPath[uuid.UUID]
    ) -> Redirect:
        await custom_fields.get_field(page.session, field_id)
        page.require(Permission.SETTINGS_MANAGE)
        await custom_fields.archive_field(page.session, field_id)
        return Redirect(f"/o/{page.org.slug}/contacts/fields", status_code=303)

    @post("/fields/{field_id:uuid}/restore", status_code=303)
    async def restore_field(
        self, page: NamedDependency[PageContext], field_id: FromPath[uuid.UUID]
    ) -> Redirect:
        await custom_fields.get_field(page.session, field_id)
        page.require(Permission.SETTINGS_MANAGE)
        await custom_fields.restore_field(page.session, field_id)
        return Redirect(f"/o/{page.org.slug}/contacts/fields", status_code=303)


ROUTES = [ContactPages]
