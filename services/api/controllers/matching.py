"""Matching and matches: /api/v1/orgs/{slug}/matching (suggestions, scores, settings, cohort runs)
and /api/v1/orgs/{slug}/matches (the life of a match, check-ins, meetings)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal

import msgspec
from babel.dates import format_date
from babel.messages.pofile import read_po
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.response import Redirect, Template

from services.api.context import OrgContext, provide_org_context
from services.api.web import i18n
from services.api.web.context import PageContext, provide_page
from shared.contacts import service as contacts_service
from shared.contacts.actor import Actor, display_name
from shared.errors import DomainError, NotFound, ValidationFailed
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
    PairRef,
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
from shared.matching.scoring import PairScore, Suggestion, score_pair
from shared.pagination import Page, check_limit
from shared.permissions import Permission
from shared.settings import Settings

Lang = Literal["de", "en"]


async def _actor(ctx: OrgContext) -> str:
    return await display_name(
        ctx.session, Actor(role=ctx.role, token_id=ctx.token_id, membership_id=ctx.membership_id)
    )


def _today() -> date:
    return date.today()


class MatchingController(Controller):
    path = "/api/v1/orgs/{slug:str}/matching"
    tags = ["matching"]
    dependencies = {"ctx": Provide(provide_org_context)}

    @get("/suggestions", summary="The best candidates for one mentee (or mentor), with reasons")
    async def suggestions(
        self,
        ctx: NamedDependency[OrgContext],
        contact_id: FromQuery[uuid.UUID | None] = None,
        limit: int = Parameter(default=10, description="how many candidates"),
        role: FromQuery[Literal["mentee", "mentor"] | None] = None,
        programme_id: FromQuery[uuid.UUID | None] = None,
        lang: FromQuery[Lang] = "de",
    ) -> SuggestionsOut:
        ctx.require(Permission.DATA_READ)
        if contact_id is None:
            raise ValidationFailed("the contact to find candidates for", field="contact_id")
        limit = check_limit(limit)
        settings = await people.settings_for(ctx.session, programme_id)
        today = _today()
        person, kinds = await people.profile(ctx.session, contact_id, settings.config)
        if role is None:
            role = "mentee" if "mentee" in kinds else "mentor" if "mentor" in kinds else None
        if role is None or role not in kinds:
            raise ValidationFailed("this contact is neither a mentee nor a mentor", field="contact_id")
        other: people.Role = "mentor" if role == "mentee" else "mentee"
        pool = await people.candidate_pool(ctx.session, ctx.org.id, other, settings, today)
        found = await people.suggest(ctx.session, pool, person, limit, lang)
        names = {p.id: p.name for p in pool.profiles}
        return SuggestionsOut(
            contact_id=contact_id,
            role=role,
            candidates=len(pool),
            items=[
                SuggestionOut(
                    candidate_id=s.candidate_id,
                    candidate_name=names[s.candidate_id],
                    score=s.score,
                    criteria=s.criteria,
                )
                for s in found
            ],
        )

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
    settings = await people.settings_for(ctx.session, programme_id)
    found = await people.candidates(ctx.session, role, settings.config, programme_id)
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
    settings: Settings = request.app.state.settings
    # A background task runs after the response is sent, so after the run's transaction committed.
    return Response(
        run, status_code=201, background=BackgroundTask(runs.enqueue, settings, ctx.org.id, run.id)
    )


class MatchesController(Controller):
    path = "/api/v1/orgs/{slug:str}/matches"
    tags = ["matches"]
    dependencies = {"ctx": Provide(provide_org_context)}

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
        limit: int = Parameter(default=50, description="items per page"),
        cursor: str | None = Parameter(default=None, description="next_cursor of the previous page"),
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
        self, ctx: NamedDependency[OrgContext], match_id: FromPath[uuid.UUID], data: JSONBody[TransitionIn]
    ) -> MatchOut:
        ctx.require(Permission.DATA_WRITE)
        return await matches.transition(ctx.session, match_id, data, actor=await _actor(ctx), today=_today())

    @get("/{match_id:uuid}/checkins", summary="The coordinator's check-ins, newest first")
    async def checkins(
        self, ctx: NamedDependency[OrgContext], match_id: FromPath[uuid.UUID]
    ) -> list[CheckInOut]:
        ctx.require(Permission.DATA_READ)
        return await matches.list_checkins(ctx.session, match_id)

    @post("/{match_id:uuid}/checkins", summary="Record a check-in")
    async def add_checkin(
        self, ctx: NamedDependency[OrgContext], match_id: FromPath[uuid.UUID], data: JSONBody[CheckInIn]
    ) -> CheckInOut:
        ctx.require(Permission.DATA_WRITE)
        return await matches.add_checkin(ctx.session, match_id, data, actor=await _actor(ctx), today=_today())

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


# --- Pages: the matching board, a cohort run's review, the matches and one match's timeline ------

CATALOG = Path(__file__).resolve().parent.parent / "web" / "templates" / "matching" / "messages.de.po"
STATUS_WORDS = ("proposed", "introduced", "active", "paused", "ended")


@cache
def _catalog(locale: str) -> dict[str, str]:
    """This domain's German texts (messages.de.po next to its templates); English is the msgid."""
    if locale != "de" or not CATALOG.exists():
        return {}
    with CATALOG.open("rb") as f:
        catalog = read_po(f, locale=locale)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and isinstance(m.id, str)}


def translator(locale: str) -> Callable[..., str]:
    def gettext(message: str, **values: Any) -> str:
        text = _catalog(locale).get(message) or i18n.gettext(locale, message)
        return text % values if values else text

    return gettext


def _day(locale: str) -> Callable[[date | None], str]:
    def fmt(value: date | None) -> str:
        if value is None:
            return "-"
        return format_date(value, "d. MMM y" if locale == "de" else "d MMM y", locale=locale)

    return fmt


def _render(page: PageContext, template: str, *, status_code: int = 200, **values: Any) -> Template:
    return page.render(
        template,
        status_code=status_code,
        nav="matching",
        _=translator(page.locale),
        day=_day(page.locale),
        today=_today(),
        **values,
    )


def _lang(page: PageContext) -> Lang:
    return "en" if page.locale == "en" else "de"


async def _page_actor(page: PageContext) -> str:
    return page.user.display_name or page.user.email if page.user else page.role.value


def _uuid(value: str | None, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        raise ValidationFailed("choose someone from the list", field=field) from None


def _pair(value: str, field: str) -> PairRef:
    mentee, _, mentor = value.partition(":")
    return PairRef(mentee_id=_uuid(mentee, field), mentor_id=_uuid(mentor, field))


class MatchingPages(Controller):
    path = "/o/{slug:str}"
    tags = ["web"]
    include_in_schema = False
    dependencies = {"page": Provide(provide_page)}

    async def _board(
        self,
        page: PageContext,
        mentee: uuid.UUID | None,
        programme: uuid.UUID | None = None,
        *,
        mentor: uuid.UUID | None = None,
        status_code: int = 200,
        error: str | None = None,
    ) -> Template:
        programmes = await contacts_service.list_programmes(page.session)
        if programme is not None and programme not in {p.id for p in programmes}:
            raise NotFound("no such programme")
        settings = await people.settings_for(page.session, programme)
        today = _today()
        waiting = await people.candidates(page.session, "mentee", settings.config, programme)
        waiting.sort(key=lambda p: (p.waiting_since or today, p.name))
        available = await people.candidates(page.session, "mentor", settings.config, programme)
        available.sort(key=lambda p: p.name)
        selected = None
        suggestions: list[Suggestion] = []
        names: dict[uuid.UUID, str] = {}
        # One person chosen: the best of the other side for them (a mentee's mentors, a mentor's mentees).
        chosen, role = (mentee, "mentee") if mentee is not None else (mentor, "mentor")
        if chosen is not None:
            selected, kinds = await people.profile(page.session, chosen, settings.config)
            if role not in kinds:
                raise NotFound(f"no such {role}")
            other: people.Role = "mentor" if role == "mentee" else "mentee"
            pool = await people.candidate_pool(page.session, page.org.id, other, settings, today)
            suggestions = await people.suggest(page.session, pool, selected, 10, _lang(page))
            names = {p.id: p.name for p in pool.profiles}
        return _render(
            page,
            "matching/board.html",
            status_code=status_code,
            waiting=waiting[:200],
            waiting_total=len(waiting),
            available=available[:200],
            available_total=len(available),
            selected=selected,
            selected_role=role,
            suggestions=suggestions,
            names=names,
            runs=await runs.list_runs(page.session, limit=5),
            programmes=programmes,
            programme=programme,
            query=f"&programme={programme}" if programme else "",
            error=error,
        )

    @get("/matching")
    async def board(
        self,
        page: NamedDependency[PageContext],
        mentee: FromQuery[str | None] = None,
        mentor: FromQuery[str | None] = None,
        programme: FromQuery[str | None] = None,
    ) -> Template:
        page.require(Permission.DATA_READ)
        try:
            chosen = uuid.UUID(mentee) if mentee else None
            chosen_mentor = uuid.UUID(mentor) if mentor else None
            within = uuid.UUID(programme) if programme else None
        except ValueError:
            raise NotFound("no such person or programme") from None
        return await self._board(page, chosen, within, mentor=chosen_mentor)

    @post("/matching/propose", status_code=303)
    async def propose(self, page: NamedDependency[PageContext]) -> Redirect | Template:
        page.require(Permission.DATA_WRITE)
        form = await page.form()
        _ = translator(page.locale)
        programme = _uuid(form["programme_id"], "programme_id") if form.get("programme_id") else None
        try:
            mentee_id = _uuid(form.get("mentee_id"), "mentee_id")
            mentor_id = _uuid(form.get("mentor_id"), "mentor_id")
            async with page.session.begin_nested():
                match = await matches.propose(
                    page.session,
                    mentor_id=mentor_id,
                    mentee_id=mentee_id,
                    programme_id=programme,
                    actor=await _page_actor(page),
                    today=_today(),
                )
        except DomainError as exc:
            chosen = (
                uuid.UUID(form["mentee_id"]) if exc.field != "mentee_id" and form.get("mentee_id") else None
            )
            return await self._board(page, chosen, programme, status_code=exc.status, error=_(exc.detail))
        return Redirect(f"/o/{page.org.slug}/matches/{match.id}", status_code=303)

    @post("/matching/runs", status_code=303)
    async def start_run(self, page: NamedDependency[PageContext]) -> Redirect:
        page.require(Permission.DATA_WRITE)
        form = await page.form()
        programme = _uuid(form["programme_id"], "programme_id") if form.get("programme_id") else None
        run = await runs.create_run(
            page.session, RunIn(programme_id=programme), actor=await _page_actor(page), today=_today()
        )
        return _run_redirect(page, run.id)

    @get("/matching/runs/{run_id:uuid}")
    async def run_page(self, page: NamedDependency[PageContext], run_id: FromPath[uuid.UUID]) -> Template:
        run = await runs.read_run(page.session, run_id)
        page.require(Permission.DATA_READ)
        names = await people.names(page.session, run.unmatched_mentee_ids or [])
        return _render(page, "matching/run.html", run=run, unmatched_names=names)

    @post("/matching/runs/{run_id:uuid}/rerun", status_code=303)
    async def rerun_page(self, page: NamedDependency[PageContext], run_id: FromPath[uuid.UUID]) -> Redirect:
        await runs.read_run(page.session, run_id)
        page.require(Permission.DATA_WRITE)
        form = await page.request.form()
        data = RerunIn(
            pins=[_pair(v, "pins") for v in form.getall("pin", [])],
            exclusions=[_pair(v, "exclusions") for v in form.getall("exclude", [])],
        )
        new = await runs.rerun(page.session, run_id, data, actor=await _page_actor(page), today=_today())
        return _run_redirect(page, new.id)

    @post("/matching/runs/{run_id:uuid}/accept", status_code=303)
    async def accept_page(self, page: NamedDependency[PageContext], run_id: FromPath[uuid.UUID]) -> Redirect:
        await runs.read_run(page.session, run_id)
        page.require(Permission.DATA_WRITE)
        form = await page.request.form()
        chosen = [_uuid(v, "mentee_ids") for v in form.getall("accept", [])]
        await runs.accept(
            page.session,
            run_id,
            AcceptIn(mentee_ids=chosen or None),
            actor=await _page_actor(page),
            today=_today(),
        )
        return Redirect(f"/o/{page.org.slug}/matches?status=proposed", status_code=303)

    @get("/matches")
    async def match_list(
        self,
        page: NamedDependency[PageContext],
        status: FromQuery[str | None] = None,
        overdue: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        page.require(Permission.DATA_READ)
        if status and status not in STATUS_WORDS:
            status = None
        listed = await matches.list_matches(
            page.session, _today(), status=status, overdue=True if overdue else None, limit=100, cursor=cursor
        )
        return _render(
            page, "matching/matches.html", listed=listed, status=status or "", overdue=bool(overdue)
        )

    async def _match(
        self,
        page: PageContext,
        match_id: uuid.UUID,
        *,
        status_code: int = 200,
        error: str | None = None,
        form: dict[str, str] | None = None,
    ) -> Template:
        match = await matches.read_match(page.session, match_id, _today())
        checkins = await matches.list_checkins(page.session, match_id)
        meetings = await matches.list_meetings(page.session, match_id)
        timeline: list[tuple[date, str, Any]] = [(e.on, "event", e) for e in match.events or []]
        timeline += [(c.on, "checkin", c) for c in checkins]
        timeline += [(m.on, "meeting", m) for m in meetings]
        timeline.sort(key=lambda item: (item[0], item[2].created_at), reverse=True)
        reasons = await matches.list_end_reasons(page.session)
        settings = await people.settings_for(page.session, match.programme_id)
        try:
            mentee, mentor = await people.pair(
                page.session, match.mentee_id, match.mentor_id, settings.config
            )
            fit: PairScore | None = score_pair(mentee, mentor, settings.config, _today(), locale=_lang(page))
        except DomainError:  # one of the two was erased or is no longer a mentor / mentee
            fit = None
        return _render(
            page,
            "matching/match.html",
            fit=fit,
            status_code=status_code,
            m=match,
            timeline=timeline,
            next_steps=matches.TRANSITIONS[match.status],
            reasons=reasons,
            reason_labels={r.key: (r.label_de if page.locale == "de" else r.label_en) for r in reasons},
            error=error,
            form=form or {},
        )

    @get("/matches/{match_id:uuid}")
    async def match_page(self, page: NamedDependency[PageContext], match_id: FromPath[uuid.UUID]) -> Template:
        page.require(Permission.DATA_READ)
        return await self._match(page, match_id)

    async def _write(
        self, page: PageContext, match_id: uuid.UUID, action: Callable[[dict[str, str]], Awaitable[Any]]
    ) -> Redirect | Template:
        await matches.read_match(page.session, match_id, _today())
        page.require(Permission.DATA_WRITE)
        form = await page.form()
        try:
            async with page.session.begin_nested():
                await action(form)
        except DomainError as exc:
            message = translator(page.locale)(exc.detail)
            return await self._match(page, match_id, status_code=exc.status, error=message, form=form)
        except msgspec.ValidationError as exc:
            return await self._match(page, match_id, status_code=400, error=str(exc), form=form)
        return Redirect(f"/o/{page.org.slug}/matches/{match_id}", status_code=303)

    @post("/matches/{match_id:uuid}/transition", status_code=303)
    async def transition_page(
        self, page: NamedDependency[PageContext], match_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        async def act(form: dict[str, str]) -> None:
            data = msgspec.convert(
                {k: v for k, v in form.items() if k in ("to", "reason", "on", "first_meeting_on") and v},
                TransitionIn,
                strict=False,
            )
            await matches.transition(
                page.session, match_id, data, actor=await _page_actor(page), today=_today()
            )

        return await self._write(page, match_id, act)

    @post("/matches/{match_id:uuid}/checkins", status_code=303)
    async def checkin_page(
        self, page: NamedDependency[PageContext], match_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        async def act(form: dict[str, str]) -> None:
            data = msgspec.convert(
                {
                    **{k: v for k, v in form.items() if k in ("on", "channel", "rating", "notes") and v},
                    "follow_up": form.get("follow_up") == "on",
                },
                CheckInIn,
                strict=False,
            )
            await matches.add_checkin(
                page.session, match_id, data, actor=await _page_actor(page), today=_today()
            )

        return await self._write(page, match_id, act)

    @post("/matches/{match_id:uuid}/meetings", status_code=303)
    async def meeting_page(
        self, page: NamedDependency[PageContext], match_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        async def act(form: dict[str, str]) -> None:
            fields = ("on", "duration_minutes", "volunteer_minutes", "activity", "reported_by", "notes")
            data = msgspec.convert(
                {k: v for k, v in form.items() if k in fields and v}, MeetingIn, strict=False
            )
            await matches.add_meeting(page.session, match_id, data, today=_today())

        return await self._write(page, match_id, act)


def _run_redirect(page: PageContext, run_id: uuid.UUID) -> Redirect:
    # The background task runs after the response is sent, so after the run's transaction committed.
    return Redirect(
        f"/o/{page.org.slug}/matching/runs/{run_id}",
        status_code=303,
        background=BackgroundTask(runs.enqueue, page.settings, page.org.id, run_id),
    )


ROUTES = [MatchingController, MatchesController, MatchingPages]
