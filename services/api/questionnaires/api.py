"""Questionnaires over the JSON API: /api/v1/orgs/{slug}/questionnaires (definitions, versions,
templates, schedules, settings, figures) and /matches/{id}/questionnaires (sending by hand, the
invitations and answers of one tandem). The public answering of a personal link is in public.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from services.api.context import ApiController, OrgContext
from services.api.questionnaires.public import ROUTES as PUBLIC_ROUTES
from shared.actor import Actor
from shared.permissions import Permission
from shared.questionnaires import by_hand, figures, sending, service, timeline
from shared.questionnaires.schemas import (
    FromTemplateIn,
    InvitationOut,
    QuestionnaireIn,
    QuestionnaireOut,
    QuestionnairePatch,
    ReportOut,
    ResponsePage,
    ScheduleIn,
    ScheduleOut,
    SendIn,
    SentOut,
    SettingsIn,
    SettingsOut,
    TemplateOut,
    VersionOut,
)
from shared.settings import Settings


class QuestionnaireList(msgspec.Struct):
    items: list[QuestionnaireOut]


class TemplateList(msgspec.Struct):
    items: list[TemplateOut]


class VersionList(msgspec.Struct):
    items: list[VersionOut]


class ScheduleList(msgspec.Struct):
    items: list[ScheduleOut]


class InvitationList(msgspec.Struct):
    items: list[InvitationOut]


def _now() -> datetime:
    return datetime.now(UTC)


def _actor(request: Request[Any, Any, Any], ctx: OrgContext) -> Actor:
    settings: Settings = request.app.state.settings
    return ctx.actor.within(ctx.org.id, ctx.org.slug, settings.public_url)


class QuestionnaireController(ApiController):
    path = "/api/v1/orgs/{slug:str}/questionnaires"
    tags = ["questionnaires"]

    @get("", summary="The organisation's questionnaires, each in its latest version")
    async def list_all(self, ctx: NamedDependency[OrgContext]) -> QuestionnaireList:
        ctx.require(Permission.DATA_READ)
        return QuestionnaireList(await service.list_questionnaires(ctx.session, "de"))

    @post("", summary="Define a questionnaire (admins)")
    async def create(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        data: JSONBody[QuestionnaireIn],
    ) -> QuestionnaireOut:
        ctx.require(Permission.SETTINGS_MANAGE)
        return await service.create(ctx.session, _actor(request, ctx), data)

    @get("/templates", summary="The questionnaires codo ships, to copy")
    async def templates(self, ctx: NamedDependency[OrgContext]) -> TemplateList:
        ctx.require(Permission.DATA_READ)
        return TemplateList(service.list_templates("de"))

    @post("/from-template", summary="Copy one of codo's questionnaires into the organisation (admins)")
    async def from_template(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        data: JSONBody[FromTemplateIn],
    ) -> QuestionnaireOut:
        ctx.require(Permission.SETTINGS_MANAGE)
        return await service.copy_template(ctx.session, _actor(request, ctx), data)

    @get("/settings", summary="Low-rating threshold, link validity, reminder and consent rule")
    async def get_settings(self, ctx: NamedDependency[OrgContext]) -> SettingsOut:
        ctx.require(Permission.DATA_READ)
        return await service.get_settings(ctx.session)

    @put("/settings", summary="Change the questionnaire settings (admins)")
    async def put_settings(self, ctx: NamedDependency[OrgContext], data: JSONBody[SettingsIn]) -> SettingsOut:
        ctx.require(Permission.SETTINGS_MANAGE)
        return await service.set_settings(ctx.session, data)

    @get("/schedules", summary="Which questionnaire goes to whom and when")
    async def list_schedules(self, ctx: NamedDependency[OrgContext]) -> ScheduleList:
        ctx.require(Permission.DATA_READ)
        return ScheduleList(await service.list_schedules(ctx.session))

    @post("/schedules", summary="Add a schedule (admins)")
    async def create_schedule(
        self, ctx: NamedDependency[OrgContext], data: JSONBody[ScheduleIn]
    ) -> ScheduleOut:
        ctx.require(Permission.SETTINGS_MANAGE)
        return await service.create_schedule(ctx.session, data)

    @put("/schedules/{schedule_id:uuid}", summary="Change a schedule's timing or switch it off (admins)")
    async def update_schedule(
        self, ctx: NamedDependency[OrgContext], schedule_id: FromPath[uuid.UUID], data: JSONBody[ScheduleIn]
    ) -> ScheduleOut:
        await service._schedule(ctx.session, schedule_id)
        ctx.require(Permission.SETTINGS_MANAGE)
        return await service.update_schedule(ctx.session, schedule_id, data)

    @delete("/schedules/{schedule_id:uuid}", summary="Remove a schedule (admins)", status_code=204)
    async def delete_schedule(
        self, ctx: NamedDependency[OrgContext], schedule_id: FromPath[uuid.UUID]
    ) -> None:
        await service._schedule(ctx.session, schedule_id)
        ctx.require(Permission.SETTINGS_MANAGE)
        await service.delete_schedule(ctx.session, schedule_id)

    @get("/{questionnaire_id:uuid}", summary="One questionnaire in its latest version")
    async def read(
        self, ctx: NamedDependency[OrgContext], questionnaire_id: FromPath[uuid.UUID]
    ) -> QuestionnaireOut:
        ctx.require(Permission.DATA_READ)
        return await service.get(ctx.session, questionnaire_id)

    @patch(
        "/{questionnaire_id:uuid}",
        summary="Change a questionnaire (admins); new wording of an answered one becomes a new version",
    )
    async def update(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        questionnaire_id: FromPath[uuid.UUID],
        data: JSONBody[QuestionnairePatch],
    ) -> QuestionnaireOut:
        await service.get(ctx.session, questionnaire_id)
        ctx.require(Permission.SETTINGS_MANAGE)
        return await service.update(ctx.session, _actor(request, ctx), questionnaire_id, data)

    @get("/{questionnaire_id:uuid}/versions", summary="Every version with its number of answers")
    async def versions(
        self, ctx: NamedDependency[OrgContext], questionnaire_id: FromPath[uuid.UUID]
    ) -> VersionList:
        ctx.require(Permission.DATA_READ)
        return VersionList(await service.list_versions(ctx.session, questionnaire_id))

    @get(
        "/{questionnaire_id:uuid}/report",
        summary="Scale answers per question and version: average, distribution, before/after, response rate",
    )
    async def report(
        self, ctx: NamedDependency[OrgContext], questionnaire_id: FromPath[uuid.UUID]
    ) -> ReportOut:
        ctx.require(Permission.REPORTS_READ)
        return await figures.report(ctx.session, questionnaire_id, "de")


class MatchQuestionnaireController(ApiController):
    path = "/api/v1/orgs/{slug:str}"
    tags = ["questionnaires"]

    @post(
        "/matches/{match_id:uuid}/questionnaires", summary="Send a questionnaire to one side of a tandem now"
    )
    async def send(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        match_id: FromPath[uuid.UUID],
        data: JSONBody[SendIn],
    ) -> SentOut:
        await sending.list_for_match(ctx.session, match_id)
        ctx.require(Permission.DATA_WRITE)
        settings: Settings = request.app.state.settings
        return await by_hand.send(
            ctx.session, _actor(request, ctx), match_id, data, _now(), settings.public_url
        )

    @get("/matches/{match_id:uuid}/questionnaires", summary="The questionnaires sent to a tandem")
    async def invitations(
        self, ctx: NamedDependency[OrgContext], match_id: FromPath[uuid.UUID]
    ) -> InvitationList:
        ctx.require(Permission.DATA_READ)
        return InvitationList(await sending.list_for_match(ctx.session, match_id))

    @get("/matches/{match_id:uuid}/questionnaire-answers", summary="The answers of a tandem, newest first")
    async def answers(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext], match_id: FromPath[uuid.UUID]
    ) -> ResponsePage:
        ctx.require(Permission.DATA_READ)
        return ResponsePage(items=await timeline.for_match(ctx.session, match_id, _actor(request, ctx), "de"))

    @post(
        "/questionnaire-invitations/{invitation_id:uuid}/revoke",
        summary="Revoke a personal link: it opens nothing any more",
        status_code=200,
    )
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        invitation_id: FromPath[uuid.UUID],
    ) -> InvitationOut:
        await sending.get_invitation(ctx.session, invitation_id)
        ctx.require(Permission.DATA_WRITE)
        return await by_hand.revoke(ctx.session, _actor(request, ctx), invitation_id, _now())


ROUTES = [QuestionnaireController, MatchQuestionnaireController, *PUBLIC_ROUTES]
