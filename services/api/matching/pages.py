"""Pages of matching: the matching board, a cohort run's review, the matches and one match's timeline."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import msgspec
from babel.dates import format_date
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from services.api.history.pages import record_history
from services.api.matching import meeting_log_pages
from services.api.matching.api import Lang, _today
from services.api.web import i18n
from services.api.web.context import PageContext, PageController
from shared.actor import Actor
from shared.contacts import service as contacts_service
from shared.contacts.vocab import DAYS
from shared.errors import DomainError, NotFound, ValidationFailed
from shared.matching import matches, meeting_log, people, runs
from shared.matching.config import STANDARD_CRITERIA, HardRules, MatchingConfig, Weights
from shared.matching.schemas import (
    AcceptIn,
    CheckInIn,
    EndReasonIn,
    EndReasonPatch,
    MeetingIn,
    PairRef,
    RerunIn,
    RunIn,
    TransitionIn,
)
from shared.matching.scoring import PairScore, Suggestion, score_pair
from shared.permissions import Permission
from shared.questionnaires import timeline as questionnaire_answers

BERLIN = ZoneInfo("Europe/Berlin")
STATUS_WORDS = ("proposed", "introduced", "active", "paused", "ended")


def translator(locale: str) -> Callable[..., str]:
    """The one translator, preferring this domain's wording ("done" is a finished run here)."""
    return i18n.translator(locale, "matching")


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


async def _page_actor(page: PageContext) -> Actor:
    return replace(
        page.actor, label=page.user.display_name or page.user.email if page.user else page.role.value
    ).within(page.org.id, page.org.slug, page.settings.public_url)


def _uuid(value: str | None, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        raise ValidationFailed("choose someone from the list", field=field) from None


def _pair(value: str, field: str) -> PairRef:
    mentee, _, mentor = value.partition(":")
    return PairRef(mentee_id=_uuid(mentee, field), mentor_id=_uuid(mentor, field))


@dataclass
class BoardView:
    """The board as the person left it: filters, order and the page of each list."""

    filter: people.BoardFilter = field(default_factory=people.BoardFilter)
    sort: str = "waiting"
    wpage: int = 1
    mpage: int = 1


def _page_of(number: int, total: int) -> int:
    last = max(1, -(-total // people.BOARD_PAGE))
    return min(max(number, 1), last)


def _keep(
    programme: uuid.UUID | None, wanted: people.BoardFilter, view: BoardView, changed: dict[str, Any]
) -> str:
    """The board's query string with ``changed`` applied, so a link keeps filters and pages."""
    values: dict[str, Any] = {
        "programme": programme or "",
        **msgspec.structs.asdict(wanted),
        "sort": view.sort if view.sort != "waiting" else "",
        "wpage": view.wpage if view.wpage > 1 else "",
        "mpage": view.mpage if view.mpage > 1 else "",
        **changed,
    }
    return urlencode({k: str(v) for k, v in values.items() if v not in ("", None)})


def language_names(locale: str) -> dict[str, str]:
    """The languages people on the board speak, by their name in the reader's language."""
    from babel import Locale as BabelLocale

    names: dict[str, str] = dict(BabelLocale.parse(locale).languages)
    return names


def _reason_labels(v: dict[str, str]) -> tuple[str, str]:
    """The two labels of an end reason, with the API's limits and the field named."""
    labels = []
    for name in ("label_de", "label_en"):
        value = (v.get(name) or "").strip() or (v.get("label_de") or "").strip()
        if not value:
            raise ValidationFailed("cannot be empty", field=name)
        if len(value) > 200:
            raise ValidationFailed("at most %(limit)s characters", field=name, limit=200)
        labels.append(value)
    return labels[0], labels[1]


def _reason_key(label: str, taken: set[str]) -> str:
    """A stable key from the German label (``Umzug der Familie`` -> ``umzug_der_familie``)."""
    from shared.contacts.vocab import fold

    base = "_".join(re.findall(r"[a-z0-9]+", fold(label)))[:40] or "reason"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


class MatchingPages(PageController):
    path = "/o/{slug:str}"

    async def _board(
        self,
        page: PageContext,
        mentee: uuid.UUID | None,
        programme: uuid.UUID | None = None,
        *,
        mentor: uuid.UUID | None = None,
        status_code: int = 200,
        error: str | None = None,
        why: str | None = None,
        view: BoardView | None = None,
    ) -> Template:
        programmes = await contacts_service.list_programmes(page.session)
        if programme is not None and programme not in {p.id for p in programmes}:
            raise NotFound("no such programme")
        view = view or BoardView()
        filter_errors: dict[str, str] = {}
        try:
            wanted = people.check_board_filter(view.filter)
        except DomainError as exc:
            filter_errors[exc.field or "_form"] = page.message(exc)
            wanted = people.BoardFilter()
        # Both lists are the cached pools' people (ready, waiting or with room), as suggestions see them.
        seen = await people.fingerprint(page.session)
        settings = await people.settings_now(page.session, page.org.id, programme, seen)
        today = _today()
        pools = {
            "mentee": await people.candidate_pool(page.session, page.org.id, "mentee", settings, today, seen),
            "mentor": await people.candidate_pool(page.session, page.org.id, "mentor", settings, today, seen),
        }
        all_waiting, all_available = pools["mentee"].profiles, pools["mentor"].profiles
        waiting = people.filter_board(all_waiting, wanted)
        available = people.filter_board(all_available, wanted)
        if view.sort == "name":
            waiting.sort(key=lambda p: p.name)
        else:
            waiting.sort(key=lambda p: (p.waiting_since or today, p.name))
        available.sort(key=lambda p: p.name)
        pages = {
            "w": _page_of(view.wpage, len(waiting)),
            "m": _page_of(view.mpage, len(available)),
        }
        selected = None
        suggestions: list[Suggestion] = []
        names: dict[uuid.UUID, str] = {}
        # One person chosen: the best of the other side for them (a mentee's mentors, a mentor's mentees).
        chosen, role = (mentee, "mentee") if mentee is not None else (mentor, "mentor")
        if chosen is not None:
            selected, kinds = await people.profile_now(page.session, page.org.id, chosen, settings, seen)
            if role not in kinds:
                raise NotFound("no such %(role)s", role=role)
            pool = pools["mentor" if role == "mentee" else "mentee"]
            suggestions = await people.suggest(page.session, pool, selected, 10, _lang(page))
            names = {
                s.candidate_id: pool.profiles[pool.position(s.candidate_id) or 0].name for s in suggestions
            }
        missing = []
        if why and why.strip():
            found = await contacts_service.list_contacts(
                page.session, contacts_service.ContactQuery(q=why.strip()[:100]), limit=5, cursor=None
            )
            for c in found.items:
                side: people.Role = "mentor" if "mentor" in c.kinds and "mentee" not in c.kinds else "mentee"
                reasons = await people.why_missing(
                    page.session, c.id, side, settings.config, programme, _lang(page)
                )
                missing.append((c.id, people.display_name(c.first_name, c.last_name, None, None), reasons))
        return _render(
            page,
            "matching/board.html",
            status_code=status_code,
            waiting=waiting[(pages["w"] - 1) * people.BOARD_PAGE : pages["w"] * people.BOARD_PAGE],
            waiting_total=len(waiting),
            waiting_all=len(all_waiting),
            available=available[(pages["m"] - 1) * people.BOARD_PAGE : pages["m"] * people.BOARD_PAGE],
            available_total=len(available),
            available_all=len(all_available),
            pages=pages,
            page_count={
                "w": max(1, -(-len(waiting) // people.BOARD_PAGE)),
                "m": max(1, -(-len(available) // people.BOARD_PAGE)),
            },
            wanted=wanted,
            filter_errors=filter_errors,
            filtered=wanted != people.BoardFilter(),
            sort=view.sort,
            days=DAYS,
            language_names=language_names(page.locale),
            spoken=sorted({code for p in [*all_waiting, *all_available] for code in p.languages}),
            keep=lambda **changed: _keep(programme, wanted, view, changed),
            selected=selected,
            selected_role=role,
            suggestions=suggestions,
            names=names,
            runs=await runs.list_runs(page.session, limit=5),
            programmes=programmes,
            programme=programme,
            error=error,
            why=why or "",
            missing=missing,
        )

    @get("/matching")
    async def board(
        self,
        page: NamedDependency[PageContext],
        mentee: FromQuery[str | None] = None,
        mentor: FromQuery[str | None] = None,
        programme: FromQuery[str | None] = None,
        why: FromQuery[str | None] = None,
        q: FromQuery[str] = "",
        language: FromQuery[str] = "",
        area: FromQuery[str] = "",
        day: FromQuery[str] = "",
        interest: FromQuery[str] = "",
        sort: FromQuery[str] = "waiting",
        wpage: FromQuery[int] = 1,
        mpage: FromQuery[int] = 1,
    ) -> Template:
        page.require(Permission.DATA_READ)
        try:
            chosen = uuid.UUID(mentee) if mentee else None
            chosen_mentor = uuid.UUID(mentor) if mentor else None
            within = uuid.UUID(programme) if programme else None
        except ValueError:
            raise NotFound("no such person or programme") from None
        view = BoardView(
            filter=people.BoardFilter(q=q, language=language, area=area, day=day, interest=interest),
            sort=sort if sort in people.BOARD_SORTS else "waiting",
            wpage=wpage,
            mpage=mpage,
        )
        return await self._board(page, chosen, within, mentor=chosen_mentor, why=why, view=view)

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
            return await self._board(
                page,
                chosen,
                programme,
                status_code=exc.status,
                error=i18n.message(page.locale, exc, domain="matching"),
            )
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
        # Held to the end: the reads below find the match in the session instead of asking again.
        _pinned = await matches.pin(page.session, match_id)
        match = await matches.read_match(page.session, match_id, _today())
        checkins = await matches.list_checkins(page.session, match_id)
        meetings = await matches.list_meetings(page.session, match_id)
        timeline: list[tuple[date, str, Any]] = [(e.on, "event", e) for e in match.events or []]
        timeline += [(c.on, "checkin", c) for c in checkins]
        timeline += [(m.on, "meeting", m) for m in meetings]
        answered = await questionnaire_answers.for_match(page.session, match_id, page.actor, page.locale)
        timeline += [(a.submitted_at.astimezone(BERLIN).date(), "answers", a) for a in answered]
        timeline.sort(key=lambda item: (item[0], item[2].created_at), reverse=True)
        reasons = await matches.list_end_reasons(page.session)
        # The mentor's meeting log: what they added to their meetings, signals, the link's state.
        log_view = await meeting_log.overview(page.session, match_id, await _page_actor(page))
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
            **await record_history(page, match_id=match_id),
            fit=fit,
            ratings=await questionnaire_answers.latest_ratings(page.session, match_id),
            status_code=status_code,
            m=match,
            timeline=timeline,
            log_view=log_view,
            activity_labels=meeting_log.ACTIVITIES,
            rating_labels=meeting_log.RATINGS,
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
            message = i18n.message(page.locale, exc, domain="matching")
            return await self._match(page, match_id, status_code=exc.status, error=message, form=form)
        except msgspec.ValidationError:
            # msgspec words its refusals for programmers; the form says which value to look at.
            _ = i18n.translator(page.locale, "matching")
            message = _("Please check the values you entered.")
            return await self._match(page, match_id, status_code=400, error=message, form=form)
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
            acting = (await _page_actor(page)).within(page.org.id, page.org.slug, page.settings.public_url)
            await matches.add_checkin(page.session, match_id, data, actor=acting, today=_today())

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

    @post("/matches/{match_id:uuid}/meeting-log/link", status_code=303)
    async def meeting_log_link_page(
        self, page: NamedDependency[PageContext], match_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        async def act(form: dict[str, str]) -> None:
            await meeting_log.renew_link(page.session, match_id, await _page_actor(page))

        return await self._write(page, match_id, act)

    @post("/matches/{match_id:uuid}/meeting-log/revoke", status_code=303)
    async def meeting_log_revoke_page(
        self, page: NamedDependency[PageContext], match_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        async def act(form: dict[str, str]) -> None:
            await meeting_log.revoke_links(page.session, match_id, await _page_actor(page))

        return await self._write(page, match_id, act)

    @post("/matches/{match_id:uuid}/follow-up/clear", status_code=303)
    async def follow_up_clear_page(
        self, page: NamedDependency[PageContext], match_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        async def act(form: dict[str, str]) -> None:
            await meeting_log.clear_follow_up(page.session, match_id, await _page_actor(page))

        return await self._write(page, match_id, act)


def _run_redirect(page: PageContext, run_id: uuid.UUID) -> Redirect:
    return Redirect(f"/o/{page.org.slug}/matching/runs/{run_id}", status_code=303)


class EndReasonPages(PageController):
    """Why tandems end, in the organisation's words: the choices of the "end" step on a match."""

    path = "/o/{slug:str}/matching/end-reasons"

    async def _page(
        self,
        page: PageContext,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        failed: str | None = None,
        saved: bool = False,
        status_code: int = 200,
    ) -> Template:
        return _render(
            page,
            "matching/end_reasons.html",
            status_code=status_code,
            reasons=await matches.list_end_reasons(page.session, include_archived=True),
            errors=errors or {},
            values=values or {},
            failed=failed,
            message=translator(page.locale)("Saved.") if saved else None,
            is_admin=page.can(Permission.SETTINGS_MANAGE),
        )

    @get("")
    async def list_reasons(
        self, page: NamedDependency[PageContext], saved: FromQuery[bool] = False
    ) -> Template:
        page.require(Permission.DATA_READ)
        return await self._page(page, saved=saved)

    async def _change(
        self,
        page: PageContext,
        failed: str,
        change: Callable[[dict[str, str]], Awaitable[Any]],
        reason_id: uuid.UUID | None = None,
    ) -> Template | Redirect:
        # Look the reason up before the role: another organisation's reason is not found, not forbidden.
        if reason_id is not None:
            known = {r.id for r in await matches.list_end_reasons(page.session, include_archived=True)}
            if reason_id not in known:
                raise NotFound("no such end reason")
        page.require(Permission.SETTINGS_MANAGE)
        v = await page.form()
        try:
            async with page.session.begin_nested():
                await change(v)
        except DomainError as exc:
            errors = {exc.field or "_form": page.message(exc)}
            return await self._page(page, errors=errors, values=v, failed=failed, status_code=422)
        return Redirect(f"/o/{page.org.slug}/matching/end-reasons?saved=1", status_code=303)

    @post("")
    async def add_reason(self, page: NamedDependency[PageContext]) -> Template | Redirect:
        async def change(v: dict[str, str]) -> Any:
            label_de, label_en = _reason_labels(v)
            existing = await matches.list_end_reasons(page.session, include_archived=True)
            return await matches.create_end_reason(
                page.session,
                EndReasonIn(
                    key=_reason_key(label_de, {r.key for r in existing}),
                    label_de=label_de,
                    label_en=label_en,
                    early=v.get("early") == "yes",
                    position=max((r.position for r in existing), default=0) + 1,
                ),
            )

        return await self._change(page, "new", change)

    @post("/{reason_id:uuid}")
    async def change_reason(
        self, page: NamedDependency[PageContext], reason_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        async def change(v: dict[str, str]) -> Any:
            label_de, label_en = _reason_labels(v)
            patch = EndReasonPatch(label_de=label_de, label_en=label_en, early=v.get("early") == "yes")
            return await matches.update_end_reason(page.session, reason_id, patch)

        return await self._change(page, str(reason_id), change, reason_id)

    @post("/{reason_id:uuid}/archive")
    async def archive_reason(
        self, page: NamedDependency[PageContext], reason_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        async def change(_v: dict[str, str]) -> Any:
            await matches.archive_end_reason(page.session, reason_id)

        return await self._change(page, str(reason_id), change, reason_id)


# name on the form -> (low, high, whole number); the API's own limits (shared.matching.config).
NUMBERS: dict[str, tuple[float, float, bool]] = {
    **{f"weights.{w}": (0, 1000, False) for w in STANDARD_CRITERIA},
    "distance_scale_km": (0.1, 2000, False),
    "waiting_scale_days": (1, 3650, True),
    "checkin_interval_days": (1, 365, True),
    "rules.max_distance_km": (0.1, 2000, False),
}
RULES = ("common_language", "preferences", "capacity", "support_kinds")


def _number(v: dict[str, str], name: str) -> float | None:
    low, high, whole = NUMBERS[name]
    raw = (v.get(name) or "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (low <= value <= high) or (whole and value != int(value)):
        raise ValidationFailed("a number from %(low)s to %(high)s", field=name, low=low, high=high)
    return value


def _posted_settings(v: dict[str, str], current: MatchingConfig) -> tuple[MatchingConfig, int]:
    """The settings form as the API's body; custom criteria stay as they are."""
    weights = {}
    for w in STANDARD_CRITERIA:
        value = _number(v, f"weights.{w}")
        weights[w] = getattr(current.weights, w) if value is None else value
    rules = HardRules(
        **{r: v.get(f"rules.{r}") == "yes" for r in RULES},
        max_distance_km=_number(v, "rules.max_distance_km"),
    )
    interval = _number(v, "checkin_interval_days")
    if interval is None:
        raise ValidationFailed("cannot be empty", field="checkin_interval_days")
    config = msgspec.structs.replace(
        current,
        rules=rules,
        weights=Weights(**weights),
        distance_scale_km=_number(v, "distance_scale_km") or current.distance_scale_km,
        waiting_scale_days=int(_number(v, "waiting_scale_days") or current.waiting_scale_days),
    )
    return config, int(interval)


class MatchingSettingsPages(PageController):
    """A programme's (or the organisation's) hard rules, weights and check-in interval."""

    path = "/o/{slug:str}/matching/settings"

    async def _page(
        self,
        page: PageContext,
        programme: uuid.UUID | None,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        saved: bool = False,
        status_code: int = 200,
    ) -> Template:
        programmes = await contacts_service.list_programmes(page.session)
        await people.check_programme(page.session, programme, "programme_id")
        current = await people.settings_for(page.session, programme)
        shown = {
            **{f"weights.{w}": f"{getattr(current.config.weights, w):g}" for w in STANDARD_CRITERIA},
            **{f"rules.{r}": "yes" if getattr(current.config.rules, r) else "" for r in RULES},
            "rules.max_distance_km": f"{current.config.rules.max_distance_km:g}"
            if current.config.rules.max_distance_km
            else "",
            "distance_scale_km": f"{current.config.distance_scale_km:g}",
            "waiting_scale_days": str(current.config.waiting_scale_days),
            "checkin_interval_days": str(current.checkin_interval_days),
        }
        return _render(
            page,
            "matching/settings.html",
            status_code=status_code,
            programmes=programmes,
            programme=programme,
            own=current.own,
            values={**shown, **(values or {})},
            posted=values is not None,
            errors=errors or {},
            criteria=STANDARD_CRITERIA,
            rules=RULES,
            message=translator(page.locale)("Saved.") if saved else None,
            is_admin=page.can(Permission.SETTINGS_MANAGE),
        )

    @get("")
    async def show(
        self,
        page: NamedDependency[PageContext],
        programme: FromQuery[uuid.UUID | None] = None,
        saved: FromQuery[bool] = False,
    ) -> Template:
        page.require(Permission.DATA_READ)
        return await self._page(page, programme, saved=saved)

    @post("")
    async def save(
        self, page: NamedDependency[PageContext], programme: FromQuery[uuid.UUID | None] = None
    ) -> Template | Redirect:
        page.require(Permission.SETTINGS_MANAGE)
        v = await page.form()
        try:
            async with page.session.begin_nested():
                current = await people.settings_for(page.session, programme)
                config, interval = _posted_settings(v, current.config)
                await people.save_settings(page.session, programme, config, interval)
        except DomainError as exc:
            errors = {exc.field or "_form": page.message(exc)}
            return await self._page(page, programme, errors=errors, values=v, status_code=422)
        query = f"programme={programme}&saved=1" if programme else "saved=1"
        return Redirect(f"/o/{page.org.slug}/matching/settings?{query}", status_code=303)


ROUTES = [MatchingPages, EndReasonPages, MatchingSettingsPages, *meeting_log_pages.ROUTES]
