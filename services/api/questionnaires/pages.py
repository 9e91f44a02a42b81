"""Pages of questionnaires: the organisation's questionnaires, templates to copy, schedules and
settings (admins), one questionnaire with its figures, and a tandem's questionnaires with
sending one by hand and revoking a link."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from services.api.web import i18n
from services.api.web.context import PageContext, PageController
from shared.errors import DomainError, ValidationFailed
from shared.i18n import N_
from shared.permissions import Permission
from shared.questionnaires import figures, sending, service
from shared.questionnaires.schemas import FromTemplateIn, ScheduleIn, SendIn, SettingsIn

AUDIENCES = ("mentor", "mentee", "guardian")
KINDS = {"checkin": N_("check-in"), "closing": N_("closing"), "impact": N_("impact"), "custom": N_("own")}
TRIGGERS = ("start", "during", "end")


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


def _int(form: dict[str, str], key: str, default: int | None = None) -> int | None:
    raw = form.get(key, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed("enter a whole number", field=key) from None


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
        self, page: PageContext, *, status_code: int = 200, error: str | None = None
    ) -> Template:
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
            error=error,
        )

    @get("/questionnaires")
    async def index(self, page: NamedDependency[PageContext]) -> Template:
        # Reports-only members see the list and the figures; the rest is for those who work with people.
        page.require(Permission.REPORTS_READ)
        return await self._index(page)

    async def _admin(self, page: PageContext, act: Any) -> Redirect | Template:
        page.require(Permission.SETTINGS_MANAGE)
        form = await page.form()
        try:
            async with page.session.begin_nested():
                await act(form)
        except DomainError as exc:
            return await self._index(page, status_code=exc.status, error=page.message(exc))
        except msgspec.ValidationError as exc:
            return await self._index(page, status_code=400, error=str(exc))
        return Redirect(f"/o/{page.org.slug}/questionnaires", status_code=303)

    @post("/questionnaires/from-template", status_code=303)
    async def copy(self, page: NamedDependency[PageContext]) -> Redirect | Template:
        async def act(form: dict[str, str]) -> None:
            await service.copy_template(
                page.session, page.actor, FromTemplateIn(template=form.get("template", ""))
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
        self, page: NamedDependency[PageContext], questionnaire_id: FromPath[uuid.UUID]
    ) -> Template:
        found = await service.get(page.session, questionnaire_id, page.locale)
        page.require(Permission.REPORTS_READ)
        return _render(
            page,
            "questionnaires/questionnaire.html",
            q=found,
            versions=await service.list_versions(page.session, questionnaire_id),
            report=await figures.report(page.session, questionnaire_id, page.locale),
            lang=page.locale,
        )

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
                result = await sending.send_by_hand(
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
        await sending.revoke(page.session, invitation_id, _now())
        return Redirect(f"/o/{page.org.slug}/matches/{found.match_id}/questionnaires", status_code=303)


ROUTES = [QuestionnairePages]
