"""Intake pages under /o/{slug}/intake: a person's preparation checklist, events with attendance,
and the settings of the public sign-up forms.

Each change runs in a savepoint: when the service refuses it, nothing of it stays, and the page
is shown again with the message next to the field it names.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from services.api.history.pages import record_history
from services.api.intake import public_forms
from services.api.web import i18n
from services.api.web.context import PageContext, PageController
from shared.contacts import fields as custom_fields
from shared.contacts.service import ContactQuery, list_programmes
from shared.contacts.vocab import KINDS as CONTACT_KINDS
from shared.contacts.vocab import STATUSES as CONTACT_STATUSES
from shared.errors import DomainError, NotFound
from shared.intake import events, forms, screening, vocab
from shared.intake.schemas import (
    AttendanceIn,
    AttendanceItem,
    CertificateIn,
    ConsentText,
    EventIn,
    EventPatch,
    FormField,
    FormIn,
    FormPatch,
    InviteIn,
    ProfilePatch,
    RecordIn,
    StepIn,
    StepPatch,
)
from shared.intake.screening import Who
from shared.organizations import list_members
from shared.permissions import Permission

T = TypeVar("T")

STEP_STATES = {
    "done": "complete",
    "missing": "missing",
    "failed": "not passed",
    "due": "to inspect again",
    "blocked": "not cleared",
}


PICKER_FILTERS = ("q", "kind", "status", "programme")


def _picker_query(find: dict[str, str]) -> ContactQuery:
    """The invitation picker's filters as the contact list reads them (same checks, same messages)."""
    programme = find.get("programme") or None
    return ContactQuery(
        q=find.get("q") or None,
        kind=find.get("kind") or None,
        status=find.get("status") or None,
        programme=_uuid(programme, "programme") if programme else None,
    )


def _event_values(e: events.EventDetail) -> dict[str, str]:
    """An event as its edit form shows it: times in Berlin wall time, to the minute."""

    def local(at: datetime | None) -> str:
        return at.astimezone(vocab.ZONE).strftime("%Y-%m-%dT%H:%M") if at else ""

    return {
        "title": e.title,
        "kind": e.kind,
        "starts_at": local(e.starts_at),
        "ends_at": local(e.ends_at),
        "location": e.location or "",
        "description": e.description or "",
        "programme_id": str(e.programme_id or ""),
    }


def who(page: PageContext) -> Who:
    assert page.user is not None
    return Who(
        name=page.user.display_name or page.user.email,
        membership_id=page.membership_id,
        is_admin=page.can(Permission.SETTINGS_MANAGE),
        sees_certificates=page.can(Permission.DATA_WRITE),
    )


def tr(page: PageContext, message: str) -> str:
    return i18n.gettext(page.locale, message)


def _date(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _Bad(field, "a date reads YYYY-MM-DD") from None


def _local(value: str | None, field: str) -> datetime | None:
    """A ``datetime-local`` input, read as Berlin wall time."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=vocab.ZONE)
    except ValueError:
        raise _Bad(field, "a time reads YYYY-MM-DDTHH:MM") from None


def _months(value: str | None) -> int | None:
    if not (value or "").strip():
        return None
    try:
        return int((value or "").strip())
    except ValueError:
        raise _Bad("valid_months", "a whole number of months") from None


def _uuid(value: str | None, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        raise _Bad(field, "choose one from the list") from None


class _Bad(DomainError):
    status = 422

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail, field=field)


async def attempt(page: PageContext, change: Callable[[], Awaitable[T]]) -> tuple[T | None, dict[str, str]]:
    """Run ``change`` in a savepoint; a refusal rolls it back and becomes ``{field: message}``."""
    try:
        async with page.session.begin_nested():
            return await change(), {}
    except DomainError as exc:
        return None, {exc.field or "_form": page.message(exc)}


class IntakePages(PageController):
    path = "/o/{slug:str}/intake"

    # ------------------------------------------------------------ a person's checklist

    async def _person(
        self,
        page: PageContext,
        contact_id: uuid.UUID,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        message: str | None = None,
        status_code: int = 200,
    ) -> Template:
        checklist = await screening.checklist(page.session, who(page), contact_id)
        steps = await screening.list_steps(page.session)
        programme_ids = {s.programme_id for s in checklist.steps}
        recordable = [s for s in steps if s.programme_id in programme_ids and s.kind != "certificate"]
        asks_certificate = any(s.kind == "certificate" for s in checklist.steps)
        attendance = await events.person_attendance(page.session, contact_id)
        return page.render(
            "intake/person.html",
            status_code=status_code,
            nav="contacts",
            checklist=checklist,
            recordable=recordable,
            records=await screening.list_records(page.session, contact_id),
            step_labels={s.id: (s.label_en if page.locale == "en" else s.label_de) for s in steps},
            asks_certificate=asks_certificate,
            attendance=attendance,
            states={k: tr(page, v) for k, v in STEP_STATES.items()},
            errors=errors or {},
            values=values or {},
            message=message,
            today=vocab.today(),
            is_admin=page.can(Permission.SETTINGS_MANAGE),
            **await record_history(page, contact_id=contact_id),
        )

    @get("/people/{contact_id:uuid}")
    async def person(
        self,
        page: NamedDependency[PageContext],
        contact_id: FromPath[uuid.UUID],
        saved: FromQuery[bool] = False,
    ) -> Template:
        page.require(Permission.DATA_READ)
        return await self._person(page, contact_id, message=tr(page, "Saved.") if saved else None)

    async def _person_change(
        self, page: PageContext, contact_id: uuid.UUID, change: Callable[[dict[str, str]], Awaitable[Any]]
    ) -> Template | Redirect:
        await screening.checklist(page.session, who(page), contact_id)
        page.require(Permission.DATA_WRITE)
        values = await page.form()
        _result, errors = await attempt(page, lambda: change(values))
        if errors:
            return await self._person(page, contact_id, errors=errors, values=values, status_code=422)
        return Redirect(f"/o/{page.org.slug}/intake/people/{contact_id}?saved=1", status_code=303)

    @post("/people/{contact_id:uuid}/records")
    async def add_record(
        self, page: NamedDependency[PageContext], contact_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        async def change(v: dict[str, str]) -> Any:
            return await screening.add_record(
                page.session,
                who(page),
                RecordIn(
                    contact_id=contact_id,
                    step_id=_uuid(v.get("step_id"), "step_id"),
                    outcome=v.get("outcome", ""),
                    done_on=_date(v.get("done_on"), "done_on"),
                    done_by=v.get("done_by"),
                    note=v.get("note"),
                ),
            )

        return await self._person_change(page, contact_id, change)

    @post("/people/{contact_id:uuid}/records/{record_id:uuid}/remove")
    async def remove_record(
        self,
        page: NamedDependency[PageContext],
        contact_id: FromPath[uuid.UUID],
        record_id: FromPath[uuid.UUID],
    ) -> Template | Redirect:
        # Only a record of this person, and another's is not found (404), not refused.
        await screening.checklist(page.session, who(page), contact_id)
        if record_id not in {r.id for r in await screening.list_records(page.session, contact_id)}:
            raise NotFound("no such screening record")

        async def change(_v: dict[str, str]) -> Any:
            await screening.delete_record(page.session, record_id)

        return await self._person_change(page, contact_id, change)

    @post("/people/{contact_id:uuid}/certificate")
    async def add_certificate(
        self, page: NamedDependency[PageContext], contact_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        async def change(v: dict[str, str]) -> Any:
            entries = v.get("has_relevant_entries")
            if entries not in ("yes", "no"):
                raise _Bad("has_relevant_entries", "say whether it holds relevant entries")
            issued = _date(v.get("issued_on"), "issued_on")
            if issued is None:
                raise _Bad("issued_on", "cannot be empty")
            return await screening.record_certificate(
                page.session,
                who(page),
                CertificateIn(
                    contact_id=contact_id,
                    seen=v.get("seen") == "yes",
                    issued_on=issued,
                    has_relevant_entries=entries == "yes",
                    inspected_on=_date(v.get("inspected_on"), "inspected_on"),
                    inspected_by=v.get("inspected_by"),
                ),
            )

        return await self._person_change(page, contact_id, change)

    @post("/people/{contact_id:uuid}/profile")
    async def profile(
        self, page: NamedDependency[PageContext], contact_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        admin = page.can(Permission.SETTINGS_MANAGE)

        async def change(v: dict[str, str]) -> Any:
            patch = ProfilePatch(form_of_address=v.get("form_of_address", ""))
            if admin:
                patch.intake_status = v.get("intake_status") or None
                patch.protection_notes = v.get("protection_notes") or None
            elif "intake_status" in v:
                patch.intake_status = v.get("intake_status") or None
            return await screening.update_profile(page.session, who(page), contact_id, patch)

        return await self._person_change(page, contact_id, change)

    # ------------------------------------------------------------ events

    async def _events(
        self,
        page: PageContext,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        message: str | None = None,
        status_code: int = 200,
    ) -> Template:
        listed = await events.list_events(page.session)
        return page.render(
            "intake/events.html",
            status_code=status_code,
            nav="intake",
            sub="events",
            items=listed,
            programmes=await list_programmes(page.session),
            kinds=[(k, tr(page, k)) for k in vocab.EVENT_KINDS],
            errors=errors or {},
            values=values or {},
            message=message,
        )

    @get("/events")
    async def event_list(
        self, page: NamedDependency[PageContext], done: FromQuery[str | None] = None
    ) -> Template:
        page.require(Permission.DATA_READ)
        message = tr(page, "The event is cancelled.") if done == "cancelled" else None
        return await self._events(page, message=message)

    @post("/events")
    async def create_event(self, page: NamedDependency[PageContext]) -> Template | Redirect:
        page.require(Permission.DATA_WRITE)
        v = await page.form()

        async def change() -> Any:
            starts = _local(v.get("starts_at"), "starts_at")
            if starts is None:
                raise _Bad("starts_at", "cannot be empty")
            return await events.create_event(
                page.session,
                EventIn(
                    kind=v.get("kind", ""),
                    title=v.get("title", ""),
                    starts_at=starts,
                    ends_at=_local(v.get("ends_at"), "ends_at"),
                    location=v.get("location"),
                    description=v.get("description"),
                    programme_id=_uuid(v["programme_id"], "programme_id") if v.get("programme_id") else None,
                ),
            )

        made, errors = await attempt(page, change)
        if made is None:
            return await self._events(page, errors=errors, values=v, status_code=422)
        return Redirect(f"/o/{page.org.slug}/intake/events/{made.id}", status_code=303)

    async def _event(
        self,
        page: PageContext,
        event_id: uuid.UUID,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        message: str | None = None,
        status_code: int = 200,
        find: dict[str, str] | None = None,
    ) -> Template:
        detail = await events.event_detail(page.session, event_id)
        find = {k: v for k, v in (find or {}).items() if k in PICKER_FILTERS and v}
        found = None
        if page.can(Permission.DATA_WRITE):
            try:
                found = await events.find_invitable(page.session, event_id, _picker_query(find))
            except DomainError as exc:
                errors = {**(errors or {}), exc.field or "_form": page.message(exc)}
                find = {}
                found = await events.find_invitable(page.session, event_id, ContactQuery())
        return page.render(
            "intake/event.html",
            status_code=status_code,
            nav="intake",
            sub="events",
            event=detail,
            found=found,
            find=find,
            contact_kinds=CONTACT_KINDS,
            contact_statuses=CONTACT_STATUSES,
            programmes=await list_programmes(page.session),
            kinds=[(k, tr(page, k)) for k in vocab.EVENT_KINDS],
            statuses=[(s, tr(page, s)) for s in vocab.ATTENDANCE],
            kind_label=tr(page, detail.kind),
            errors=errors or {},
            values=values or _event_values(detail),
            message=message,
        )

    @get("/events/{event_id:uuid}")
    async def event(
        self,
        page: NamedDependency[PageContext],
        event_id: FromPath[uuid.UUID],
        done: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        kind: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        programme: FromQuery[str | None] = None,
    ) -> Template:
        page.require(Permission.DATA_READ)
        message = {
            "invited": tr(page, "The invitations are on their way."),
            "saved": tr(page, "Saved."),
            "removed": tr(page, "Taken off the list."),
        }.get(done or "")
        find = {"q": q or "", "kind": kind or "", "status": status or "", "programme": programme or ""}
        return await self._event(page, event_id, message=message, find=find)

    @post("/events/{event_id:uuid}")
    async def update_event(
        self, page: NamedDependency[PageContext], event_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        await events.get_event(page.session, event_id)
        page.require(Permission.DATA_WRITE)
        v = await page.form()

        async def change() -> Any:
            starts = _local(v.get("starts_at"), "starts_at")
            if starts is None:
                raise _Bad("starts_at", "cannot be empty")
            return await events.update_event(
                page.session,
                event_id,
                EventPatch(
                    kind=v.get("kind", ""),
                    title=v.get("title", ""),
                    starts_at=starts,
                    ends_at=_local(v.get("ends_at"), "ends_at"),
                    location=v.get("location"),
                    description=v.get("description"),
                    programme_id=_uuid(v["programme_id"], "programme_id") if v.get("programme_id") else None,
                ),
            )

        _saved, errors = await attempt(page, change)
        if errors:
            return await self._event(page, event_id, errors=errors, values=v, status_code=422)
        return Redirect(f"/o/{page.org.slug}/intake/events/{event_id}?done=saved", status_code=303)

    @post("/events/{event_id:uuid}/cancel")
    async def cancel_event(
        self, page: NamedDependency[PageContext], event_id: FromPath[uuid.UUID]
    ) -> Redirect:
        await events.get_event(page.session, event_id)
        page.require(Permission.DATA_WRITE)
        await events.delete_event(page.session, event_id)
        return Redirect(f"/o/{page.org.slug}/intake/events?done=cancelled", status_code=303)

    @post("/events/{event_id:uuid}/attendees/{contact_id:uuid}/remove")
    async def remove_attendee(
        self,
        page: NamedDependency[PageContext],
        event_id: FromPath[uuid.UUID],
        contact_id: FromPath[uuid.UUID],
    ) -> Redirect:
        await events.get_event(page.session, event_id)
        page.require(Permission.DATA_WRITE)
        await events.remove_attendee(page.session, event_id, contact_id)
        return Redirect(f"/o/{page.org.slug}/intake/events/{event_id}?done=removed", status_code=303)

    @post("/events/{event_id:uuid}/attendance")
    async def attendance(
        self, page: NamedDependency[PageContext], event_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        await events.get_event(page.session, event_id)
        page.require(Permission.DATA_WRITE)
        v = await page.form()
        items = [
            AttendanceItem(contact_id=_uuid(k.removeprefix("status."), "items"), status=value)
            for k, value in v.items()
            if k.startswith("status.")
        ]
        _done, errors = await attempt(
            page, lambda: events.set_attendance(page.session, event_id, AttendanceIn(items))
        )
        if errors:
            return await self._event(page, event_id, errors=errors, status_code=422)
        return Redirect(f"/o/{page.org.slug}/intake/events/{event_id}?done=saved", status_code=303)

    @post("/events/{event_id:uuid}/invitations")
    async def invite(
        self, page: NamedDependency[PageContext], event_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        """The people ticked in the picker, or (``everyone``) all that its filters find."""
        await events.get_event(page.session, event_id)
        page.require(Permission.DATA_WRITE)
        form = await page.request.form()
        chosen = [value for value in form.getall("contact_ids", []) if isinstance(value, str)] if form else []
        v = await page.form()
        find = {k: v.get("find." + k, "") for k in PICKER_FILTERS}

        async def change() -> Any:
            if v.get("everyone") == "yes":
                return await events.invite_matching(page.session, event_id, _picker_query(find))
            ids = [_uuid(c, "contact_ids") for c in chosen]
            return await events.invite(page.session, event_id, InviteIn(ids))

        _sent, errors = await attempt(page, change)
        if errors:
            return await self._event(page, event_id, errors=errors, status_code=422, find=find)
        # Back to the same search, to invite the next people from it.
        kept = urlencode({"done": "invited", **{k: v for k, v in find.items() if v}})
        return Redirect(f"/o/{page.org.slug}/intake/events/{event_id}?{kept}#invite-title", status_code=303)

    # ------------------------------------------------------------ preparation steps (settings)

    async def _steps(
        self,
        page: PageContext,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        failed: str | None = None,
        message: str | None = None,
        status_code: int = 200,
    ) -> Template:
        """``failed`` names the form (a step id, or ``new-<programme id>``) whose ``errors`` these are."""
        programmes = await list_programmes(page.session)
        steps = await screening.list_steps(page.session)
        kind_labels = {k: vocab.step_label(k, page.locale) for k in vocab.STEP_KINDS}
        return page.render(
            "intake/steps.html",
            status_code=status_code,
            nav="settings",
            sub="steps",
            programmes=[(p, [s for s in steps if s.programme_id == p.id]) for p in programmes],
            step_kinds=list(kind_labels.items()),
            kind_labels=kind_labels,
            applies=vocab.APPLIES_TO,
            errors=errors or {},
            values=values or {},
            failed=failed,
            message=message,
            is_admin=page.can(Permission.SETTINGS_MANAGE),
        )

    @get("/steps")
    async def step_list(self, page: NamedDependency[PageContext], saved: FromQuery[bool] = False) -> Template:
        page.require(Permission.DATA_READ)
        return await self._steps(page, message=tr(page, "Saved.") if saved else None)

    async def _step_change(
        self, page: PageContext, failed: str, change: Callable[[dict[str, str], list[str]], Awaitable[Any]]
    ) -> Template | Redirect:
        page.require(Permission.SETTINGS_MANAGE)
        v = await page.form()
        form = await page.request.form()
        applies = [a for a in form.getall("applies_to", []) if isinstance(a, str)] if form else []
        _done, errors = await attempt(page, lambda: change(v, applies))
        if errors:
            return await self._steps(page, errors=errors, values=v, failed=failed, status_code=422)
        return Redirect(f"/o/{page.org.slug}/intake/steps?saved=1", status_code=303)

    @post("/steps")
    async def create_step(self, page: NamedDependency[PageContext]) -> Template | Redirect:
        v = await page.form()

        async def change(v: dict[str, str], applies: list[str]) -> Any:
            programme_id = _uuid(v.get("programme_id"), "programme_id")
            existing = await screening.list_steps(page.session, programme_id)
            return await screening.create_step(
                page.session,
                StepIn(
                    programme_id=programme_id,
                    kind=v.get("kind", ""),
                    label_de=v.get("label_de") or None,
                    label_en=v.get("label_en") or None,
                    required=v.get("required") == "yes",
                    applies_to=applies,
                    valid_months=_months(v.get("valid_months")),
                    position=max((s.position for s in existing), default=-1) + 1,
                ),
            )

        return await self._step_change(page, f"new-{v.get('programme_id', '')}", change)

    @post("/steps/defaults")
    async def default_steps(self, page: NamedDependency[PageContext]) -> Template | Redirect:
        async def change(v: dict[str, str], _applies: list[str]) -> Any:
            return await screening.default_pipeline(
                page.session, _uuid(v.get("programme_id"), "programme_id")
            )

        return await self._step_change(page, "defaults", change)

    @post("/steps/{step_id:uuid}")
    async def update_step(
        self, page: NamedDependency[PageContext], step_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        await screening.get_step(page.session, step_id)

        async def change(v: dict[str, str], applies: list[str]) -> Any:
            return await screening.update_step(
                page.session,
                step_id,
                StepPatch(
                    label_de=v.get("label_de", ""),
                    label_en=v.get("label_en", ""),
                    required=v.get("required") == "yes",
                    applies_to=applies,
                    valid_months=_months(v.get("valid_months")),
                ),
            )

        return await self._step_change(page, str(step_id), change)

    @post("/steps/{step_id:uuid}/move")
    async def move_step(
        self, page: NamedDependency[PageContext], step_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        """One place earlier or later; the programme's steps are numbered afresh 0, 1, 2…"""
        step = await screening.get_step(page.session, step_id)

        async def change(v: dict[str, str], _applies: list[str]) -> Any:
            order = [s.id for s in await screening.list_steps(page.session, step.programme_id)]
            at = order.index(step_id)
            to = at - 1 if v.get("direction") == "up" else at + 1
            if 0 <= to < len(order):
                order[at], order[to] = order[to], order[at]
            for position, sid in enumerate(order):
                await screening.update_step(page.session, sid, StepPatch(position=position))

        return await self._step_change(page, str(step_id), change)

    @post("/steps/{step_id:uuid}/remove")
    async def remove_step(
        self, page: NamedDependency[PageContext], step_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        await screening.get_step(page.session, step_id)

        async def change(_v: dict[str, str], _applies: list[str]) -> Any:
            await screening.delete_step(page.session, step_id)

        return await self._step_change(page, str(step_id), change)

    # ------------------------------------------------------------ sign-up forms

    async def _forms(
        self,
        page: PageContext,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        listed = await forms.list_forms(page.session, page.org.slug, page.settings.public_url)
        programmes = await list_programmes(page.session)
        return page.render(
            "intake/forms.html",
            status_code=status_code,
            nav="settings",
            sub="forms",
            items=listed,
            programmes=programmes,
            programme_names={p.id: p.name for p in programmes},
            members=(await list_members(page.session, limit=200, cursor=None)).items,
            errors=errors or {},
            values=values or {},
            is_admin=page.can(Permission.SETTINGS_MANAGE),
        )

    @get("/forms")
    async def form_list(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.DATA_READ)
        return await self._forms(page)

    @post("/forms")
    async def create_form(self, page: NamedDependency[PageContext]) -> Template | Redirect:
        page.require(Permission.SETTINGS_MANAGE)
        v = await page.form()

        async def change() -> Any:
            return await forms.create_form(
                page.session,
                FormIn(
                    slug=v.get("slug", ""),
                    programme_id=_uuid(v.get("programme_id"), "programme_id"),
                    audience=v.get("audience", ""),
                    title_de=v.get("title_de", ""),
                    title_en=v.get("title_en", "") or v.get("title_de", ""),
                    coordinator_id=_uuid(v["coordinator_id"], "coordinator_id")
                    if v.get("coordinator_id")
                    else None,
                    consents=[
                        ConsentText(
                            purpose="data_processing",
                            version="1",
                            text_de=tr(page, "I agree that my details are kept and used to find a match."),
                            text_en="I agree that my details are kept and used to find a match.",
                        )
                    ],
                ),
                page.org.slug,
                page.settings.public_url,
            )

        made, errors = await attempt(page, change)
        if made is None:
            return await self._forms(page, errors=errors, values=v, status_code=422)
        return Redirect(f"/o/{page.org.slug}/intake/forms/{made.id}", status_code=303)

    async def _form(
        self,
        page: PageContext,
        form_id: uuid.UUID,
        *,
        errors: dict[str, str] | None = None,
        message: str | None = None,
        status_code: int = 200,
        posted: dict[str, str] | None = None,
    ) -> Template:
        form = await forms.read_form(page.session, form_id, page.org.slug, page.settings.public_url)
        consents = list(form.consents)
        if posted is not None:
            # Show what was sent, not what is stored, so nothing typed is lost.
            kept = {k: posted.get(k, "") for k in ("slug", "title_de", "title_en", "intro_de", "intro_en")}
            form = msgspec.structs.replace(
                form,
                **kept,
                active=posted.get("active") == "yes",
                fields=[
                    FormField(
                        key=k.removeprefix("field."),
                        required=posted.get("required." + k.removeprefix("field.")) == "yes",
                    )
                    for k in posted
                    if k.startswith("field.")
                ],
            )
            consents = _posted_consents(posted)
        custom = [
            (f"custom.{f.key}", f.label_de if page.locale == "de" else (f.label_en or f.label_de))
            for f in await custom_fields.list_fields(page.session)
        ]
        standard = [(k, i18n.gettext(page.locale, label)) for k, (label, *_) in forms.STANDARD_FIELDS.items()]
        asked = {f.key: f.required for f in form.fields}
        return page.render(
            "intake/form.html",
            status_code=status_code,
            nav="settings",
            sub="forms",
            form=form,
            choices=standard + custom,
            asked=asked,
            consents=[
                *consents,
                ConsentText(purpose="", version="", text_de="", text_en="", required=True),
            ],
            programmes=await list_programmes(page.session),
            members=(await list_members(page.session, limit=200, cursor=None)).items,
            errors=errors or {},
            message=message,
            is_admin=page.can(Permission.SETTINGS_MANAGE),
        )

    @get("/forms/{form_id:uuid}")
    async def form(
        self, page: NamedDependency[PageContext], form_id: FromPath[uuid.UUID], saved: FromQuery[bool] = False
    ) -> Template:
        page.require(Permission.DATA_READ)
        return await self._form(page, form_id, message=tr(page, "Saved.") if saved else None)

    @post("/forms/{form_id:uuid}/remove")
    async def remove_form(self, page: NamedDependency[PageContext], form_id: FromPath[uuid.UUID]) -> Redirect:
        await forms.get_form(page.session, form_id)
        page.require(Permission.SETTINGS_MANAGE)
        await forms.delete_form(page.session, form_id)
        return Redirect(f"/o/{page.org.slug}/intake/forms", status_code=303)

    @post("/forms/{form_id:uuid}")
    async def save_form(
        self, page: NamedDependency[PageContext], form_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        await forms.get_form(page.session, form_id)
        page.require(Permission.SETTINGS_MANAGE)
        v = await page.form()

        async def change() -> Any:
            hours = v.get("confirm_within_hours", "")
            if not hours.isdigit():
                raise _Bad("confirm_within_hours", "a whole number of hours")
            consents = _posted_consents(v)
            fields = [
                FormField(
                    key=k.removeprefix("field."),
                    required=v.get("required." + k.removeprefix("field.")) == "yes",
                )
                for k in v
                if k.startswith("field.")
            ]
            return await forms.update_form(
                page.session,
                form_id,
                FormPatch(
                    slug=v.get("slug", ""),
                    programme_id=_uuid(v.get("programme_id"), "programme_id"),
                    audience=v.get("audience", ""),
                    title_de=v.get("title_de", ""),
                    title_en=v.get("title_en", ""),
                    intro_de=v.get("intro_de", ""),
                    intro_en=v.get("intro_en", ""),
                    fields=fields,
                    consents=consents,
                    coordinator_id=_uuid(v["coordinator_id"], "coordinator_id")
                    if v.get("coordinator_id")
                    else None,
                    active=v.get("active") == "yes",
                    confirm_within_hours=int(hours),
                ),
                page.org.slug,
                page.settings.public_url,
            )

        _saved, errors = await attempt(page, change)
        if errors:
            return await self._form(page, form_id, errors=errors, status_code=422, posted=v)
        return Redirect(f"/o/{page.org.slug}/intake/forms/{form_id}?saved=1", status_code=303)


def _posted_consents(v: dict[str, str]) -> list[ConsentText]:
    """The consent rows of the settings form; a row without a purpose is left out."""
    consents = []
    n = 0
    while f"consents[{n}].purpose" in v:
        prefix = f"consents[{n}]."
        if v[prefix + "purpose"].strip():
            consents.append(
                ConsentText(
                    purpose=v[prefix + "purpose"].strip(),
                    version=v.get(prefix + "version", ""),
                    text_de=v.get(prefix + "text_de", ""),
                    text_en=v.get(prefix + "text_en", ""),
                    required=v.get(prefix + "required") == "yes",
                )
            )
        n += 1
    return consents


ROUTES = [IntakePages, *public_forms.ROUTES]
