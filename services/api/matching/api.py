"""Matching and matches: /api/v1/orgs/{slug}/matching (suggestions, scores, settings, cohort runs)
and /api/v1/orgs/{slug}/matches (the life of a match, check-ins, meetings)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from typing import Any, Literal

import msgspec
from litestar import MediaType, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.serialization import encode_json

from services.api.context import DRIVER_READS, ApiController, OrgContext
from services.api.matching import meeting_log_api
from services.api.pagination import Cursor
from services.api.scope import app_settings
from shared import clock
from shared.actor import Actor, display_name
from shared.errors import ValidationFailed
from shared.matching import matches, people, runs
from shared.matching.schemas import (
    AcceptIn,
    CheckInIn,
    CheckInOut,
    EndReasonIn,
    EndReasonOut,
    EndReasonPatch,
    MatchIn,
    MatchOut,
    MeetingIn,
    MeetingOut,
    PairScoreOut,
    PersonOut,
    RerunIn,
    RunIn,
    RunOut,
    RunSummary,
    SettingsIn,
    SettingsOut,
    SuggestionOut,
    SuggestionsOut,
    TransitionIn,
)
from shared.matching.scoring import score_pair
from shared.pagination import Page, check_limit
from shared.permissions import Permission

Lang = Literal["de", "en"]


async def _actor(ctx: OrgContext) -> Actor:
    # The match log names people as the timeline does: by name, not by e-mail address.
    return replace(ctx.actor, label=await display_name(ctx.session, ctx.actor))


def _json(body: bytes) -> Response[SuggestionsOut]:
    # Already encoded; Litestar sends bytes as they are. Typed as the struct for the API schema.
    return Response(body, media_type=MediaType.JSON)  # type: ignore[arg-type]


def _today() -> date:
    return clock.today()


class MatchingController(ApiController):
    path = "/api/v1/orgs/{slug:str}/matching"
    tags = ["matching"]

    @get(
        "/suggestions",
        summary="The best candidates for one mentee (or mentor), with reasons",
        opt=DRIVER_READS,
    )
    async def suggestions(
        self,
        ctx: NamedDependency[OrgContext],
        contact_id: FromQuery[uuid.UUID | None] = None,
        limit: int = Parameter(default=10, description="how many candidates"),
        role: FromQuery[Literal["mentee", "mentor"] | None] = None,
        programme_id: FromQuery[uuid.UUID | None] = None,
        lang: FromQuery[Lang] = "de",
    ) -> Response[SuggestionsOut]:
        ctx.require(Permission.DATA_READ)
        if contact_id is None:
            raise ValidationFailed("the contact to find candidates for", field="contact_id")
        limit = check_limit(limit)
        # Begun on the bare driver (DRIVER_READS): a repeated question is answered from what this
        # process keeps, after one statement. What it does not keep is read in a session.
        org = ctx.org.id
        seen = await people.fingerprint_on(await ctx.connection(), org, contact_id)
        settings = people.kept_settings(org, programme_id, seen)
        if settings is None:
            settings = await people.settings_now(await ctx.open_session(), org, programme_id, seen)
        today = _today()
        found = people.kept_profile(org, contact_id, settings, seen)
        if found is None:
            found = await people.profile_now(await ctx.open_session(), org, contact_id, settings, seen)
        person, kinds = found
        if role is None:
            role = "mentee" if "mentee" in kinds else "mentor" if "mentor" in kinds else None
        if role is None or role not in kinds:
            raise ValidationFailed("this contact is neither a mentee nor a mentor", field="contact_id")
        other: people.Role = "mentor" if role == "mentee" else "mentee"
        pool = people.kept_pool(org, other, settings, today, seen)
        if pool is None:
            pool = await people.candidate_pool(await ctx.open_session(), org, other, settings, today, seen)

        def body() -> bytes:
            answer = pool.answer(person, limit, lang)
            return answer.kept(
                (contact_id, role, len(pool)),
                lambda: encode_json(
                    SuggestionsOut(
                        contact_id=contact_id,
                        role=role,
                        candidates=len(pool),
                        items=[
                            SuggestionOut(
                                candidate_id=s.candidate_id,
                                candidate_name=pool.profiles[pool.position(s.candidate_id) or 0].name,
                                score=s.score,
                                criteria=s.criteria,
                            )
                            for s in answer.suggestions
                        ],
                    )
                ),
            )

        # The body depends on the pool and these alone: the same person asking the same pool again
        # (every mentee of a cohort, page after page) is sent the bytes written the first time,
        # and a pool patched since that gives the same answer sends them again too.
        key = ("suggestions", contact_id, role, limit, lang, msgspec.msgpack.encode(person))
        return _json(pool.kept(key, body))

    @get("/waiting", summary="Mentees waiting for a mentor, longest-waiting first")
    async def waiting(
        self, ctx: NamedDependency[OrgContext], programme_id: FromQuery[uuid.UUID | None] = None
    ) -> list[PersonOut]:
        ctx.require(Permission.DATA_READ)
        return await _people(ctx, "mentee", programme_id)

    @get("/available", summary="Mentors with a free place")
    async def available(
        self, ctx: NamedDependency[OrgContext], programme_id: FromQuery[uuid.UUID | None] = None
    ) -> list[PersonOut]:
        ctx.require(Permission.DATA_READ)
        return await _people(ctx, "mentor", programme_id)

    @get(
        "/missing/{contact_id:uuid}",
        summary="Why a person is not among the waiting mentees (role=mentee) or available mentors",
    )
    async def missing(
        self,
        ctx: NamedDependency[OrgContext],
        contact_id: FromPath[uuid.UUID],
        role: FromQuery[people.Role] = "mentee",
        programme_id: FromQuery[uuid.UUID | None] = None,
        locale: FromQuery[str] = "de",
    ) -> list[str]:
        ctx.require(Permission.DATA_READ)
        await people.check_programme(ctx.session, programme_id, "programme_id")
        settings = await people.settings_for(ctx.session, programme_id)
        return await people.why_missing(ctx.session, contact_id, role, settings.config, programme_id, locale)

    @get("/score", summary="The score of one pair, criterion by criterion, and what excludes it")
    async def score(
        self,
        ctx: NamedDependency[OrgContext],
        mentor_id: FromQuery[uuid.UUID | None] = None,
        mentee_id: FromQuery[uuid.UUID | None] = None,
        programme_id: FromQuery[uuid.UUID | None] = None,
        lang: FromQuery[Lang] = "de",
    ) -> PairScoreOut:
        ctx.require(Permission.DATA_READ)
        if mentor_id is None:
            raise ValidationFailed("is required", field="mentor_id")
        if mentee_id is None:
            raise ValidationFailed("is required", field="mentee_id")
        settings = await people.settings_for(ctx.session, programme_id)
        mentee, mentor = await people.pair(ctx.session, mentee_id, mentor_id, settings.config)
        pair = score_pair(mentee, mentor, settings.config, _today(), locale=lang)
        return PairScoreOut(
            mentor_id=mentor_id,
            mentee_id=mentee_id,
            score=pair.score,
            excluded=pair.excluded,
            criteria=pair.criteria,
            excluded_by=pair.excluded_by,
        )

    # ------------------------------------------------------------ settings

    @get("/settings", summary="Hard rules, weights and check-in interval of a programme")
    async def get_settings(
        self, ctx: NamedDependency[OrgContext], programme_id: FromQuery[uuid.UUID | None] = None
    ) -> SettingsOut:
        ctx.require(Permission.DATA_READ)
        await people.check_programme(ctx.session, programme_id, "programme_id")
        s = await people.settings_for(ctx.session, programme_id)
        return SettingsOut(
            programme_id=programme_id,
            config=s.config,
            checkin_interval_days=s.checkin_interval_days,
            own=s.own,
        )

    @put("/settings", summary="Set a programme's (or, without one, the organisation's) matching settings")
    async def put_settings(
        self,
        ctx: NamedDependency[OrgContext],
        data: JSONBody[SettingsIn],
        programme_id: FromQuery[uuid.UUID | None] = None,
    ) -> SettingsOut:
        ctx.require(Permission.SETTINGS_MANAGE)
        s = await people.save_settings(ctx.session, programme_id, data.config, data.checkin_interval_days)
        return SettingsOut(
            programme_id=programme_id,
            config=s.config,
            checkin_interval_days=s.checkin_interval_days,
            own=s.own,
        )

    # ------------------------------------------------------------ end reasons

    @get("/end-reasons", summary="Why matches end, as the organisation words it")
    async def end_reasons(
        self, ctx: NamedDependency[OrgContext], include_archived: FromQuery[bool] = False
    ) -> list[EndReasonOut]:
        ctx.require(Permission.DATA_READ)
        return await matches.list_end_reasons(ctx.session, include_archived=include_archived)

    @post("/end-reasons", summary="Add an end reason")
    async def add_end_reason(
        self, ctx: NamedDependency[OrgContext], data: JSONBody[EndReasonIn]
    ) -> EndReasonOut:
        ctx.require(Permission.SETTINGS_MANAGE)
        return await matches.create_end_reason(ctx.session, data)

    @patch("/end-reasons/{reason_id:uuid}", summary="Reword or reorder an end reason")
    async def change_end_reason(
        self, ctx: NamedDependency[OrgContext], reason_id: FromPath[uuid.UUID], data: JSONBody[EndReasonPatch]
    ) -> EndReasonOut:
        ctx.require(Permission.SETTINGS_MANAGE)
        return await matches.update_end_reason(ctx.session, reason_id, data)

    @delete("/end-reasons/{reason_id:uuid}", summary="Archive an end reason", status_code=204)
    async def archive_end_reason(
        self, ctx: NamedDependency[OrgContext], reason_id: FromPath[uuid.UUID]
    ) -> None:
        ctx.require(Permission.SETTINGS_MANAGE)
        await matches.archive_end_reason(ctx.session, reason_id)

    # ------------------------------------------------------------ cohort runs

    @post("/runs", summary="Match a cohort in the worker; answers with the run to follow")
    async def create_run(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext], data: JSONBody[RunIn]
    ) -> Response[RunOut]:
        ctx.require(Permission.DATA_WRITE)
        run = await runs.create_run(ctx.session, data, actor=await _actor(ctx), today=_today())
        return _queued(request, ctx, await runs.read_run(ctx.session, run.id))

    @get("/runs", summary="Recent cohort runs, newest first")
    async def list_runs(self, ctx: NamedDependency[OrgContext]) -> list[RunSummary]:
        ctx.require(Permission.DATA_READ)
        return await runs.list_runs(ctx.session)

    @get("/runs/{run_id:uuid}", summary="A run's status, progress and, when done, its pairs")
    async def get_run(self, ctx: NamedDependency[OrgContext], run_id: FromPath[uuid.UUID]) -> RunOut:
        ctx.require(Permission.DATA_READ)
        return await runs.read_run(ctx.session, run_id)

    @post("/runs/{run_id:uuid}/rerun", summary="Run again with pairs pinned or excluded")
    async def rerun(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        run_id: FromPath[uuid.UUID],
        data: JSONBody[RerunIn],
    ) -> Response[RunOut]:
        ctx.require(Permission.DATA_WRITE)
        run = await runs.rerun(ctx.session, run_id, data, actor=await _actor(ctx), today=_today())
        return _queued(request, ctx, await runs.read_run(ctx.session, run.id))

    @post("/runs/{run_id:uuid}/accept", summary="Propose the run's pairs (all, or the mentees named)")
    async def accept(
        self, ctx: NamedDependency[OrgContext], run_id: FromPath[uuid.UUID], data: JSONBody[AcceptIn]
    ) -> list[MatchOut]:
        ctx.require(Permission.DATA_WRITE)
        return await runs.accept(ctx.session, run_id, data, actor=await _actor(ctx), today=_today())


async def _people(ctx: OrgContext, role: people.Role, programme_id: uuid.UUID | None) -> list[PersonOut]:
    await people.check_programme(ctx.session, programme_id, "programme_id")
    seen = await people.fingerprint(ctx.session, ctx.org.id)
    settings = await people.settings_now(ctx.session, ctx.org.id, programme_id, seen)
    pool = await people.candidate_pool(ctx.session, ctx.org.id, role, settings, _today(), seen)
    found = list(pool.profiles)
    found.sort(key=lambda p: (p.waiting_since or _today(), p.name) if role == "mentee" else (p.name, p.id))
    return [
        PersonOut(
            id=p.id,
            name=p.name,
            waiting_since=p.waiting_since,
            capacity=p.capacity,
            free_places=p.capacity_left,
        )
        for p in found
    ]


def _queued(request: Request[Any, Any, Any], ctx: OrgContext, run: RunOut) -> Response[RunOut]:
    # create_run queued the run's job; it is sent once this request commits.
    return Response(run, status_code=201)


class MatchesController(ApiController):
    path = "/api/v1/orgs/{slug:str}/matches"
    tags = ["matches"]

    @post("", summary="Propose a match")
    async def propose(self, ctx: NamedDependency[OrgContext], data: JSONBody[MatchIn]) -> MatchOut:
        ctx.require(Permission.DATA_WRITE)
        return await matches.propose(
            ctx.session,
            mentor_id=data.mentor_id,
            mentee_id=data.mentee_id,
            programme_id=data.programme_id,
            actor=await _actor(ctx),
            today=_today(),
            on=data.on,
            custom=data.custom,
        )

    @get("", summary="Matches, newest first")
    async def list_matches(
        self,
        ctx: NamedDependency[OrgContext],
        status: str | None = Parameter(default=None, description="one status or several, comma-separated"),
        contact_id: FromQuery[uuid.UUID | None] = None,
        programme_id: FromQuery[uuid.UUID | None] = None,
        overdue: FromQuery[bool | None] = None,
        # check_limit bounds it: the published document has always shown it without a range.
        limit: int = Parameter(default=50, description="items per page"),
        cursor: str | None = Cursor,
    ) -> Page[MatchOut]:
        ctx.require(Permission.DATA_READ)
        return await matches.list_matches(
            ctx.session,
            _today(),
            status=status,
            contact_id=contact_id,
            programme_id=programme_id,
            overdue=overdue,
            limit=check_limit(limit),
            cursor=cursor,
        )

    @get("/{match_id:uuid}", summary="A match with its log")
    async def get_match(self, ctx: NamedDependency[OrgContext], match_id: FromPath[uuid.UUID]) -> MatchOut:
        ctx.require(Permission.DATA_READ)
        return await matches.read_match(ctx.session, match_id, _today())

    @post("/{match_id:uuid}/transitions", summary="Move a match on: introduced, active, paused, ended")
    async def transition(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        match_id: FromPath[uuid.UUID],
        data: JSONBody[TransitionIn],
    ) -> MatchOut:
        ctx.require(Permission.DATA_WRITE)
        # A start sends the mentor their meeting-log link, which needs the site's address.
        actor = (await _actor(ctx)).within(ctx.org.id, ctx.org.slug, app_settings(request).public_url)
        return await matches.transition(ctx.session, match_id, data, actor=actor, today=_today())

    @get("/{match_id:uuid}/checkins", summary="The coordinator's check-ins, newest first")
    async def checkins(
        self, ctx: NamedDependency[OrgContext], match_id: FromPath[uuid.UUID]
    ) -> list[CheckInOut]:
        ctx.require(Permission.DATA_READ)
        return await matches.list_checkins(ctx.session, match_id)

    @post(
        "/{match_id:uuid}/checkins",
        summary="Record a check-in; follow_up makes a task for the tandem's coordinator",
    )
    async def add_checkin(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        match_id: FromPath[uuid.UUID],
        data: JSONBody[CheckInIn],
    ) -> CheckInOut:
        ctx.require(Permission.DATA_WRITE)
        # The follow-up task's notification links to the task: the actor knows where codo lives.
        acting = (await _actor(ctx)).within(ctx.org.id, ctx.org.slug, request.app.state.settings.public_url)
        return await matches.add_checkin(ctx.session, match_id, data, actor=acting, today=_today())

    @get("/{match_id:uuid}/meetings", summary="Meetings the pair reported, newest first")
    async def meetings(
        self, ctx: NamedDependency[OrgContext], match_id: FromPath[uuid.UUID]
    ) -> list[MeetingOut]:
        ctx.require(Permission.DATA_READ)
        return await matches.list_meetings(ctx.session, match_id)

    @post("/{match_id:uuid}/meetings", summary="Record a meeting and the volunteer time")
    async def add_meeting(
        self, ctx: NamedDependency[OrgContext], match_id: FromPath[uuid.UUID], data: JSONBody[MeetingIn]
    ) -> MeetingOut:
        ctx.require(Permission.DATA_WRITE)
        return await matches.add_meeting(ctx.session, match_id, data, today=_today())


ROUTES = [MatchingController, MatchesController, *meeting_log_api.ROUTES]
