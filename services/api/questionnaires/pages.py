"""Pages of questionnaires: the organisation's questionnaires, templates to copy, a blank one,
schedules and settings (admins); one questionnaire with its figures and, for admins, its title
and questions to edit (plain forms, one server round trip per change); and a tandem's
questionnaires with sending one by hand and revoking a link."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from services.api.history.pages import record_history
from services.api.questionnaires import editing
from services.api.web import i18n
from services.api.web.context import PageContext, PageController
from shared.contacts.service import list_programmes
from shared.errors import DomainError, NotFound, ValidationFailed
from shared.i18n import N_
from shared.permissions import Permission
from shared.questionnaires import by_hand, figures, sending, service
from shared.questionnaires.schemas import (
    Content,
    FromTemplateIn,
    QuestionnaireIn,
    QuestionnairePatch,
    ScheduleIn,
    SendIn,
    SettingsIn,
)

AUDIENCES = ("mentor", "mentee", "guardian")
KINDS = {"checkin": N_("check-in"), "closing": N_("closing"), "impact": N_("impact"), "custom": N_("own")}
TRIGGERS = ("start", "during", "end")
# Question keys that are words of the editor's addresses (…/questions/new).
RESERVED = ("new",)
# What the page says after a change (?done=…).
DONE = {
    "created": N_("The questionnaire is saved. Add its questions below."),
    "saved": N_("The change is saved."),
    "version": N_(
        "The change is saved as version %(n)s: the questionnaire had been sent or answered, "
        "and earlier answers keep the wording they answered."
    ),
    "archived": N_("The questionnaire is archived: it is no longer sent, and its answers stay."),
    "restored": N_("The questionnaire is in use again."),
    "schedule": N_("The schedule is saved."),
}
TYPES = {
    "scale": N_("scale 1 to 5"),
    "single": N_("one choice"),
    "multiple": N_("several choices"),
    "yes_no": N_("yes or no"),
    "number": N_("number"),
    "short_text": N_("short text"),
    "long_text": N_("long text"),
}
SIGNALS = {
    "worry": N_('"yes" is a worry: the coordinator gets a task'),
    "low_rating": N_("a low rating: the coordinator gets a task"),
    "would_not_continue": N_('"no" means would not continue: the coordinator gets a task'),
}


def _now() -> datetime:
    return datetime.now(UTC)


def _render(page: PageContext, template: str, *, status_code: int = 200, **values: Any) -> Template:
    t = i18n.translator(page.locale, "questionnaires")
    return page.render(
        template,
        status_code=status_code,
        nav="questionnaires",
        _=t,
        kinds={k: t(v) for k, v in KINDS.items()},
        **values,
    )


def _types(t: Any) -> dict[str, str]:
    return {key: t(label) for key, label in TYPES.items()}


def _signals(t: Any) -> dict[str, str]:
    return {key: t(label) for key, label in SIGNALS.items()}


def _int(form: dict[str, str], key: str, default: int | None = None) -> int | None:
    raw = form.get(key, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed("enter a whole number", field=key) from None


def _programme_id(form: dict[str, str]) -> uuid.UUID | None:
    """The programme chosen in a form; empty: all programmes."""
    return _uuid(form.get("programme_id", "").strip(), "programme_id")


def _uuid(value: str | None, field: str) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationFailed("choose one from the list", field=field) from None


class QuestionnairePages(PageController):
    path = "/o/{slug:str}"

    async def _index(
        self,
        page: PageContext,
        *,
        status_code: int = 200,
        error: str | None = None,
        done: str | None = None,
        schedule_values: dict[str, str] | None = None,
        schedule_errors: dict[str, str] | None = None,
    ) -> Template:
        t = i18n.translator(page.locale, "questionnaires")
        programmes = await list_programmes(page.session)
        return _render(
            page,
            "questionnaires/index.html",
            status_code=status_code,
            questionnaires=await service.list_questionnaires(page.session, page.locale),
            templates=service.list_templates(page.locale),
            schedules=await service.list_schedules(page.session),
            settings=await service.get_settings(page.session),
            audiences=AUDIENCES,
            triggers=TRIGGERS,
            programmes=programmes,
            programme_names={p.id: p.name for p in programmes},
            schedule_values=schedule_values or {},
            schedule_errors=schedule_errors or {},
            error=error,
            message=t(DONE["schedule"]) if done == "schedule" else None,
        )

    @get("/questionnaires")
    async def index(self, page: NamedDependency[PageContext], done: FromQuery[str | None] = None) -> Template:
        # Reports-only members see the list and the figures; the rest is for those who work with people.
        page.require(Permission.REPORTS_READ)
        return await self._index(page, done=done)

    async def _admin(self, page: PageContext, act: Any) -> Redirect | Template:
        page.require(Permission.SETTINGS_MANAGE)
        form = await page.form()
        try:
            async with page.session.begin_nested():
                await act(form)
        except DomainError as exc:
            # A wrong programme is named at its list in the schedule form, which keeps the choice.
            if exc.field == "programme_id" and "audience" in form:
                return await self._index(
                    page,
                    status_code=exc.status,
                    error=page.message(exc),
                    schedule_values=form,
                    schedule_errors={"programme_id": page.message(exc)},
                )
            return await self._index(page, status_code=exc.status, error=page.message(exc))
        except msgspec.ValidationError as exc:
            return await self._index(page, status_code=400, error=str(exc))
        return Redirect(f"/o/{page.org.slug}/questionnaires", status_code=303)

    @post("/questionnaires/from-template", status_code=303)
    async def copy(self, page: NamedDependency[PageContext]) -> Redirect | Template:
        async def act(form: dict[str, str]) -> None:
            await service.copy_template(
                page.session,
                page.actor,
                FromTemplateIn(template=form.get("template", ""), programme_id=_programme_id(form)),
            )

        return await self._admin(page, act)

    @post("/questionnaires/schedules", status_code=303)
    async def add_schedule(self, page: NamedDependency[PageContext]) -> Redirect | Template:
        async def act(form: dict[str, str]) -> None:
            data = msgspec.convert(
                {
                    "questionnaire_id": form.get("questionnaire_id", ""),
                    "audience": form.get("audience", ""),
                    "trigger": form.get("trigger", ""),
                    "after_days": _int(form, "after_days", 0),
                    "every_days": _int(form, "every_days"),
                    "phase": form.get("phase") or None,
                    "programme_id": _programme_id(form),
                },
                ScheduleIn,
                strict=False,
            )
            await service.create_schedule(page.session, data)

        return await self._admin(page, act)

    @post("/questionnaires/schedules/{schedule_id:uuid}/delete", status_code=303)
    async def remove_schedule(
        self, page: NamedDependency[PageContext], schedule_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        async def act(_: dict[str, str]) -> None:
            await service.delete_schedule(page.session, schedule_id)

        return await self._admin(page, act)

    @post("/questionnaires/settings", status_code=303)
    async def save_settings(self, page: NamedDependency[PageContext]) -> Redirect | Template:
        async def act(form: dict[str, str]) -> None:
            data = msgspec.convert(
                {
                    "low_rating_threshold": _int(form, "low_rating_threshold", 2),
                    "link_valid_days": _int(form, "link_valid_days", 21),
                    "reminder_after_days": _int(form, "reminder_after_days", 7),
                    "consent_required": form.get("consent_required") == "on",
                },
                SettingsIn,
            )
            await service.set_settings(page.session, data)

        return await self._admin(page, act)

    @get("/questionnaires/{questionnaire_id:uuid}")
    async def one(
        self,
        page: NamedDependency[PageContext],
        questionnaire_id: FromPath[uuid.UUID],
        done: FromQuery[str | None] = None,
    ) -> Template:
        await service.get(page.session, questionnaire_id, page.locale)
        page.require(Permission.REPORTS_READ)
        return await self._one(page, questionnaire_id, done=done)

    async def _one(
        self,
        page: PageContext,
        questionnaire_id: uuid.UUID,
        *,
        done: str | None = None,
        error: str | None = None,
        status_code: int = 200,
    ) -> Template:
        found = await service.get(page.session, questionnaire_id, page.locale)
        t = i18n.translator(page.locale, "questionnaires")
        message = t(DONE[done], n=found.version) if done in DONE else None
        return _render(
            page,
            "questionnaires/questionnaire.html",
            status_code=status_code,
            q=found,
            versions=await service.list_versions(page.session, questionnaire_id),
            report=await figures.report(page.session, questionnaire_id, page.locale),
            lang=page.locale,
            in_use=await service.in_use(page.session, questionnaire_id),
            programme=await self._programme_name(page, found.programme_id),
            types=_types(t),
            message=message,
            error=error,
            **await record_history(page, entity="questionnaire", entity_id=questionnaire_id),
        )

    async def _programme_name(self, page: PageContext, programme_id: uuid.UUID | None) -> str | None:
        if programme_id is None:
            return None
        return {p.id: p.name for p in await list_programmes(page.session)}.get(programme_id)

    # ------------------------------------------------------------ editing (admins)

    async def _change(
        self,
        page: PageContext,
        questionnaire_id: uuid.UUID,
        content: Content,
        programme_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET,
    ) -> str:
        """Save new content; "version" when it became the next version, else "saved"."""
        before = await service.get(page.session, questionnaire_id)
        async with page.session.begin_nested():
            after = await service.update(
                page.session,
                page.actor,
                questionnaire_id,
                QuestionnairePatch(content=content, programme_id=programme_id),
            )
        return "version" if after.version != before.version else "saved"

    def _done(self, page: PageContext, questionnaire_id: uuid.UUID, done: str, anchor: str = "") -> Redirect:
        return Redirect(
            f"/o/{page.org.slug}/questionnaires/{questionnaire_id}?done={done}{anchor}", status_code=303
        )

    async def _form_page(
        self,
        page: PageContext,
        template: str,
        *,
        values: dict[str, str],
        errors: dict[str, str] | None = None,
        status_code: int = 200,
        **more: Any,
    ) -> Template:
        t = i18n.translator(page.locale, "questionnaires")
        return _render(
            page,
            template,
            status_code=status_code,
            values=values,
            errors=errors or {},
            types=_types(t),
            signals=_signals(t),
            option_rows=editing.option_rows(values),
            programmes=await list_programmes(page.session),
            **more,
        )

    def _errors(self, page: PageContext, exc: DomainError) -> dict[str, str]:
        return {editing.form_field(exc.field) or "form": page.message(exc)}

    @get("/questionnaires/new")
    async def new_page(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.SETTINGS_MANAGE)
        return await self._form_page(
            page, "questionnaires/new.html", values={"type": "scale", "kind": "custom"}
        )

    @post("/questionnaires/new", status_code=303)
    async def create_blank(self, page: NamedDependency[PageContext]) -> Redirect | Template:
        page.require(Permission.SETTINGS_MANAGE)
        form = await page.form()
        try:
            kind = form.get("kind", "custom")
            if kind not in KINDS:
                raise ValidationFailed("choose one from the list", field="kind")
            title, intro = editing.heading(form)
            key = editing.key_from(form.get("text_de", ""), RESERVED, "question")
            first = editing.question(form, key=key)
            programme_id = _programme_id(form)
            async with page.session.begin_nested():
                made = await service.create(
                    page.session,
                    page.actor,
                    QuestionnaireIn(
                        content=Content(title=title, intro=intro, questions=[first]),
                        kind=kind,  # type: ignore[arg-type]
                        programme_id=programme_id,
                    ),
                )
        except DomainError as exc:
            return await self._form_page(
                page,
                "questionnaires/new.html",
                values=form,
                errors=self._errors(page, exc),
                status_code=exc.status,
            )
        return self._done(page, made.id, "created", "#questions-title")

    @get("/questionnaires/{questionnaire_id:uuid}/edit")
    async def heading_page(
        self, page: NamedDependency[PageContext], questionnaire_id: FromPath[uuid.UUID]
    ) -> Template:
        found = await service.get(page.session, questionnaire_id, page.locale)
        page.require(Permission.SETTINGS_MANAGE)
        return await self._form_page(
            page,
            "questionnaires/heading.html",
            values={
                **editing.heading_values(found.content),
                "programme_id": "" if found.programme_id is None else str(found.programme_id),
            },
            q=found,
            in_use=await service.in_use(page.session, questionnaire_id),
        )

    @post("/questionnaires/{questionnaire_id:uuid}/edit", status_code=303)
    async def save_heading(
        self, page: NamedDependency[PageContext], questionnaire_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        found = await service.get(page.session, questionnaire_id, page.locale)
        page.require(Permission.SETTINGS_MANAGE)
        form = await page.form()
        try:
            title, intro = editing.heading(form)
            done = await self._change(
                page,
                questionnaire_id,
                editing.content_with(found.content, title=title, intro=intro),
                programme_id=_programme_id(form),
            )
        except DomainError as exc:
            return await self._form_page(
                page,
                "questionnaires/heading.html",
                values=form,
                errors=self._errors(page, exc),
                status_code=exc.status,
                q=found,
                in_use=await service.in_use(page.session, questionnaire_id),
            )
        return self._done(page, questionnaire_id, done)

    @get("/questionnaires/{questionnaire_id:uuid}/questions/new")
    async def new_question_page(
        self, page: NamedDependency[PageContext], questionnaire_id: FromPath[uuid.UUID]
    ) -> Template:
        found = await service.get(page.session, questionnaire_id, page.locale)
        page.require(Permission.SETTINGS_MANAGE)
        return await self._form_page(
            page,
            "questionnaires/question.html",
            values=editing.values_of(None),
            q=found,
            question=None,
            in_use=await service.in_use(page.session, questionnaire_id),
        )

    @post("/questionnaires/{questionnaire_id:uuid}/questions/new", status_code=303)
    async def add_question(
        self, page: NamedDependency[PageContext], questionnaire_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        found = await service.get(page.session, questionnaire_id, page.locale)
        page.require(Permission.SETTINGS_MANAGE)
        form = await page.form()
        questions = list(found.content.questions)
        try:
            taken = [*RESERVED, *(q.key for q in questions)]
            key = editing.key_from(form.get("text_de", ""), taken, "question")
            added = editing.question(form, key=key)
            done = await self._change(
                page, questionnaire_id, editing.content_with(found.content, questions=[*questions, added])
            )
        except DomainError as exc:
            return await self._form_page(
                page,
                "questionnaires/question.html",
                values=form,
                errors=self._errors(page, exc),
                status_code=exc.status,
                q=found,
                question=None,
                in_use=await service.in_use(page.session, questionnaire_id),
            )
        return self._done(page, questionnaire_id, done, f"#question-{key}")

    def _find(self, questions: list[Any], question_key: str) -> int:
        for i, q in enumerate(questions):
            if q.key == question_key:
                return i
        raise NotFound("no such question")

    @get("/questionnaires/{questionnaire_id:uuid}/questions/{question_key:str}")
    async def question_page(
        self,
        page: NamedDependency[PageContext],
        questionnaire_id: FromPath[uuid.UUID],
        question_key: FromPath[str],
    ) -> Template:
        page.require(Permission.SETTINGS_MANAGE)
        found = await service.get(page.session, questionnaire_id, page.locale)
        question = found.content.questions[self._find(found.content.questions, question_key)]
        return await self._form_page(
            page,
            "questionnaires/question.html",
            values=editing.values_of(question),
            q=found,
            question=question,
            in_use=await service.in_use(page.session, questionnaire_id),
        )

    @post("/questionnaires/{questionnaire_id:uuid}/questions/{question_key:str}", status_code=303)
    async def save_question(
        self,
        page: NamedDependency[PageContext],
        questionnaire_id: FromPath[uuid.UUID],
        question_key: FromPath[str],
    ) -> Redirect | Template:
        page.require(Permission.SETTINGS_MANAGE)
        found = await service.get(page.session, questionnaire_id, page.locale)
        questions = list(found.content.questions)
        at = self._find(questions, question_key)
        form = await page.form()
        try:
            questions[at] = editing.question(form, key=question_key, old=questions[at])
            done = await self._change(
                page, questionnaire_id, editing.content_with(found.content, questions=questions)
            )
        except DomainError as exc:
            return await self._form_page(
                page,
                "questionnaires/question.html",
                values=form,
                errors=self._errors(page, exc),
                status_code=exc.status,
                q=found,
                question=found.content.questions[at],
                in_use=await service.in_use(page.session, questionnaire_id),
            )
        return self._done(page, questionnaire_id, done, f"#question-{question_key}")

    @post("/questionnaires/{questionnaire_id:uuid}/questions/{question_key:str}/move", status_code=303)
    async def move_question(
        self,
        page: NamedDependency[PageContext],
        questionnaire_id: FromPath[uuid.UUID],
        question_key: FromPath[str],
    ) -> Redirect | Template:
        page.require(Permission.SETTINGS_MANAGE)
        found = await service.get(page.session, questionnaire_id, page.locale)
        questions = list(found.content.questions)
        at = self._find(questions, question_key)
        form = await page.form()
        to = at - 1 if form.get("direction") == "up" else at + 1
        if not 0 <= to < len(questions):
            return self._done(page, questionnaire_id, "saved", f"#question-{question_key}")
        questions[at], questions[to] = questions[to], questions[at]
        done = await self._change(
            page, questionnaire_id, editing.content_with(found.content, questions=questions)
        )
        return self._done(page, questionnaire_id, done, f"#question-{question_key}")

    @post("/questionnaires/{questionnaire_id:uuid}/questions/{question_key:str}/remove", status_code=303)
    async def remove_question(
        self,
        page: NamedDependency[PageContext],
        questionnaire_id: FromPath[uuid.UUID],
        question_key: FromPath[str],
    ) -> Redirect | Template:
        page.require(Permission.SETTINGS_MANAGE)
        found = await service.get(page.session, questionnaire_id, page.locale)
        questions = list(found.content.questions)
        at = self._find(questions, question_key)
        if len(questions) == 1:
            error = ValidationFailed("a questionnaire keeps at least one question", field="questions")
            return await self._one(
                page, questionnaire_id, error=page.message(error), status_code=error.status
            )
        del questions[at]
        done = await self._change(
            page, questionnaire_id, editing.content_with(found.content, questions=questions)
        )
        return self._done(page, questionnaire_id, done, "#questions-title")

    @post("/questionnaires/{questionnaire_id:uuid}/archive", status_code=303)
    async def archive(
        self, page: NamedDependency[PageContext], questionnaire_id: FromPath[uuid.UUID]
    ) -> Redirect:
        await service.get(page.session, questionnaire_id)
        page.require(Permission.SETTINGS_MANAGE)
        form = await page.form()
        archived = form.get("archived") != "no"
        await service.update(
            page.session, page.actor, questionnaire_id, QuestionnairePatch(archived=archived)
        )
        return self._done(page, questionnaire_id, "archived" if archived else "restored")

    # ------------------------------------------------------------ a schedule's timing

    async def _schedule_page(
        self,
        page: PageContext,
        schedule_id: uuid.UUID,
        *,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        schedule = await service.get_schedule(page.session, schedule_id)
        found = await service.get(page.session, schedule.questionnaire_id, page.locale)
        return _render(
            page,
            "questionnaires/schedule.html",
            status_code=status_code,
            s=schedule,
            q=found,
            values=values
            or {
                "after_days": str(schedule.after_days),
                "every_days": "" if schedule.every_days is None else str(schedule.every_days),
                "phase": schedule.phase or "",
                "programme_id": "" if schedule.programme_id is None else str(schedule.programme_id),
                "active": "on" if schedule.active else "",
            },
            errors=errors or {},
            programmes=await list_programmes(page.session),
        )

    @get("/questionnaires/schedules/{schedule_id:uuid}")
    async def schedule_page(
        self, page: NamedDependency[PageContext], schedule_id: FromPath[uuid.UUID]
    ) -> Template:
        await service.get_schedule(page.session, schedule_id)
        page.require(Permission.SETTINGS_MANAGE)
        return await self._schedule_page(page, schedule_id)

    @post("/questionnaires/schedules/{schedule_id:uuid}", status_code=303)
    async def save_schedule(
        self, page: NamedDependency[PageContext], schedule_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        schedule = await service.get_schedule(page.session, schedule_id)
        page.require(Permission.SETTINGS_MANAGE)
        form = await page.form()
        try:
            after = _int(form, "after_days", 0)
            every = _int(form, "every_days")
            if after is None or not 0 <= after <= 3650:
                raise ValidationFailed(
                    "a number from %(min)s to %(max)s", field="after_days", min=0, max=3650
                )
            if every is not None and not 1 <= every <= 3650:
                raise ValidationFailed(
                    "a number from %(min)s to %(max)s", field="every_days", min=1, max=3650
                )
            phase = form.get("phase") or None
            if phase not in (None, "before", "after"):
                raise ValidationFailed("choose one from the list", field="phase")
            data = ScheduleIn(
                questionnaire_id=schedule.questionnaire_id,
                audience=schedule.audience,  # type: ignore[arg-type]
                trigger=schedule.trigger,  # type: ignore[arg-type]
                after_days=after,
                every_days=every,
                phase=phase,  # type: ignore[arg-type]
                programme_id=_programme_id(form),
                active=form.get("active") == "on",
            )
            async with page.session.begin_nested():
                await service.update_schedule(page.session, schedule_id, data)
        except DomainError as exc:
            return await self._schedule_page(
                page,
                schedule_id,
                values=form,
                errors={exc.field or "form": page.message(exc)},
                status_code=exc.status,
            )
        return Redirect(f"/o/{page.org.slug}/questionnaires?done=schedule#schedules-title", status_code=303)

    async def _tandem(
        self,
        page: PageContext,
        match_id: uuid.UUID,
        *,
        status_code: int = 200,
        error: str | None = None,
        sent: Any = None,
    ) -> Template:
        return _render(
            page,
            "questionnaires/tandem.html",
            status_code=status_code,
            match_id=match_id,
            invitations=await sending.list_for_match(page.session, match_id),
            questionnaires=await service.list_questionnaires(page.session, page.locale),
            audiences=AUDIENCES,
            error=error,
            sent=sent,
        )

    @get("/matches/{match_id:uuid}/questionnaires")
    async def tandem(self, page: NamedDependency[PageContext], match_id: FromPath[uuid.UUID]) -> Template:
        await sending.list_for_match(page.session, match_id)
        page.require(Permission.DATA_READ)
        return await self._tandem(page, match_id)

    @post("/matches/{match_id:uuid}/questionnaires", status_code=200)
    async def send(self, page: NamedDependency[PageContext], match_id: FromPath[uuid.UUID]) -> Template:
        await sending.list_for_match(page.session, match_id)
        page.require(Permission.DATA_WRITE)
        form = await page.form()
        try:
            async with page.session.begin_nested():
                data = SendIn(
                    questionnaire_id=_uuid(form.get("questionnaire_id"), "questionnaire_id")
                    or uuid.UUID(int=0),
                    audience=form.get("audience", "mentor"),  # type: ignore[arg-type]
                    phase=None,
                )
                if data.audience not in AUDIENCES:
                    raise ValidationFailed("choose one from the list", field="audience")
                result = await by_hand.send(
                    page.session,
                    page.actor.within(page.org.id, page.org.slug, page.settings.public_url),
                    match_id,
                    data,
                    _now(),
                    page.settings.public_url,
                )
        except DomainError as exc:
            return await self._tandem(page, match_id, status_code=exc.status, error=page.message(exc))
        return await self._tandem(page, match_id, sent=result)

    @post("/questionnaire-invitations/{invitation_id:uuid}/revoke", status_code=303)
    async def revoke(
        self, page: NamedDependency[PageContext], invitation_id: FromPath[uuid.UUID]
    ) -> Redirect:
        found = await sending.get_invitation(page.session, invitation_id)
        page.require(Permission.DATA_WRITE)
        await by_hand.revoke(page.session, page.actor, invitation_id, _now())
        return Redirect(f"/o/{page.org.slug}/matches/{found.match_id}/questionnaires", status_code=303)


ROUTES = [QuestionnairePages]
