"""Cohort runs: asked for over the API, computed by the worker step by step with the progress in
the run's row, reviewed (pin, exclude, re-run) and accepted as proposed matches."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock, queue
from shared.actor import Actor
from shared.contacts.models import Contact
from shared.db import Database, current_org
from shared.errors import DomainError, NotFound, ValidationFailed
from shared.logs import get_logger
from shared.matching import matches, people
from shared.matching.assignment import Cohort
from shared.matching.config import MatchingConfig
from shared.matching.models import OPEN_STATUSES, Match, MatchingRun, MatchingRunPair
from shared.matching.profile import Profile
from shared.matching.schemas import (
    AcceptIn,
    MatchOut,
    PairRef,
    RerunIn,
    RunIn,
    RunOut,
    RunPairOut,
    RunSummary,
)
from shared.matching.scoring import score_pair

log = get_logger(__name__)

# A running run whose heartbeat is older than this lost its worker and may be taken over.
STALE_AFTER = timedelta(minutes=2)
MAX_PEOPLE = 5_000


def _pairs(refs: list[PairRef]) -> list[list[str]]:
    return [[str(p.mentee_id), str(p.mentor_id)] for p in refs]


def _refs(raw: list[list[str]]) -> list[PairRef]:
    return [PairRef(mentee_id=uuid.UUID(a), mentor_id=uuid.UUID(b)) for a, b in raw]


def _check_pairs(
    refs: list[PairRef], mentees: list[Profile], mentors: list[Profile], field: str
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    mentee_ids = {p.id for p in mentees}
    mentor_ids = {p.id for p in mentors}
    out: list[tuple[uuid.UUID, uuid.UUID]] = []
    for ref in refs:
        if ref.mentee_id not in mentee_ids:
            raise ValidationFailed(
                "mentee %(mentee_id)s is not part of this run", field=field, mentee_id=ref.mentee_id
            )
        if ref.mentor_id not in mentor_ids:
            raise ValidationFailed(
                "mentor %(mentor_id)s is not part of this run", field=field, mentor_id=ref.mentor_id
            )
        pair = (ref.mentee_id, ref.mentor_id)
        if pair not in out:
            out.append(pair)
    return out


def _check_pins(
    pins: list[tuple[uuid.UUID, uuid.UUID]],
    exclusions: list[tuple[uuid.UUID, uuid.UUID]],
    mentees: list[Profile],
    mentors: list[Profile],
    config: MatchingConfig,
    today: date,
) -> None:
    """Refuse at once what the run would fail on: a pinned pair the rules exclude, and the like."""
    if set(pins) & set(exclusions):
        raise ValidationFailed("a pair cannot be both pinned and excluded", field="exclusions")
    if len({mentee for mentee, _ in pins}) != len(pins):
        raise ValidationFailed("a mentee can be pinned to one mentor only", field="pins")
    by_id = {p.id: p for p in [*mentees, *mentors]}
    taken: dict[uuid.UUID, int] = {}
    for mentee_id, mentor_id in pins:
        mentor = by_id[mentor_id]
        taken[mentor_id] = taken.get(mentor_id, 0) + 1
        if taken[mentor_id] > mentor.capacity_left:
            raise ValidationFailed(
                "more pairs are pinned to %(mentor)s than places are free", field="pins", mentor=mentor.name
            )
        pair = score_pair(by_id[mentee_id], mentor, config, today)
        if pair.excluded:
            why = "; ".join(v.reason for v in pair.excluded_by)
            raise ValidationFailed(
                "%(name)s / %(mentor)s cannot be pinned: %(why)s",
                field="pins",
                name=by_id[mentee_id].name,
                mentor=mentor.name,
                why=why,
            )


async def _ready(session: AsyncSession, group: list[Profile]) -> list[Profile]:
    blocked = await people.not_ready(session, [p.id for p in group])
    return [p for p in group if p.id not in blocked]


async def _all_ready(session: AsyncSession, group: list[Profile], field: str) -> None:
    blocked = await people.not_ready(session, [p.id for p in group])
    for p in group:
        if p.id in blocked:
            raise ValidationFailed(
                "%(p)s is not ready to be matched: %(blocked)s",
                field=field,
                p=p.name,
                blocked="; ".join(blocked[p.id]),
            )


async def create_run(
    session: AsyncSession, data: RunIn, *, actor: Actor, today: date, previous: MatchingRun | None = None
) -> MatchingRun:
    await people.check_programme(session, data.programme_id, "programme_id")
    settings = await people.settings_for(session, data.programme_id)
    config = settings.config
    if data.mentee_ids is None:
        mentees = await _ready(session, await people.candidates(session, "mentee", config, data.programme_id))
    else:
        mentees = await people.profiles_of(session, data.mentee_ids, "mentee", config, "mentee_ids")
        await _all_ready(session, mentees, "mentee_ids")
    if data.mentor_ids is None:
        mentors = await _ready(session, await people.candidates(session, "mentor", config, data.programme_id))
    else:
        mentors = await people.profiles_of(session, data.mentor_ids, "mentor", config, "mentor_ids")
        await _all_ready(session, mentors, "mentor_ids")
    for field, group in (("mentee_ids", mentees), ("mentor_ids", mentors)):
        if len(group) > MAX_PEOPLE:
            raise ValidationFailed(
                "at most %(max_people)s people per run", field=field, max_people=format(MAX_PEOPLE, ",")
            )
    pins = _check_pairs(data.pins, mentees, mentors, "pins")
    exclusions = _check_pairs(data.exclusions, mentees, mentors, "exclusions")
    _check_pins(pins, exclusions, mentees, mentors, config, today)
    run = MatchingRun(
        organization_id=current_org(session),
        programme_id=data.programme_id,
        previous_run_id=previous.id if previous else None,
        status="queued",
        stage="queued",
        progress=0.0,
        mentee_ids=[p.id for p in mentees],
        mentor_ids=[p.id for p in mentors],
        pins=[[str(a), str(b)] for a, b in pins],
        exclusions=[[str(a), str(b)] for a, b in exclusions],
        mentee_count=len(mentees),
        mentor_count=len(mentors),
        created_by=actor.label or "codo",
    )
    session.add(run)
    await session.flush()
    await session.refresh(run)
    # The worker's sweep picks up a run whose job never arrived.
    queue.after_commit(
        session, queue.RUN_MATCHING, str(run.organization_id), str(run.id), job_id=job_id(run.id)
    )
    return run


async def _get(session: AsyncSession, run_id: uuid.UUID, *, for_update: bool = False) -> MatchingRun:
    query = select(MatchingRun).where(MatchingRun.id == run_id)
    if for_update:
        query = query.with_for_update()
    run = (await session.execute(query)).scalar_one_or_none()
    if run is None:
        raise NotFound("no such matching run")
    return run


async def rerun(
    session: AsyncSession, run_id: uuid.UUID, data: RerunIn, *, actor: Actor, today: date
) -> MatchingRun:
    """The same people again, with the review's pins and exclusions added to the earlier ones."""
    run = await _get(session, run_id)

    def merged(current: list[list[str]], add: list[PairRef], drop: list[PairRef]) -> list[PairRef]:
        dropped = {(p.mentee_id, p.mentor_id) for p in drop}
        out = [p for p in [*_refs(current), *add] if (p.mentee_id, p.mentor_id) not in dropped]
        return list({(p.mentee_id, p.mentor_id): p for p in out}.values())

    pins = merged(run.pins, data.pins, data.unpin)
    # A new pin for a mentee replaces that mentee's earlier one.
    latest = {p.mentee_id: p for p in pins}
    pins = list(latest.values())
    pinned = {(p.mentee_id, p.mentor_id) for p in pins}
    exclusions = [
        p
        for p in merged(run.exclusions, data.exclusions, data.unexclude)
        if (p.mentee_id, p.mentor_id) not in pinned
    ]
    # A pair both newly pinned and newly excluded is a contradiction in the request itself.
    if {(p.mentee_id, p.mentor_id) for p in data.pins} & {
        (p.mentee_id, p.mentor_id) for p in data.exclusions
    }:
        raise ValidationFailed("a pair cannot be both pinned and excluded", field="exclusions")
    return await create_run(
        session,
        RunIn(
            mentee_ids=list(run.mentee_ids),
            mentor_ids=list(run.mentor_ids),
            programme_id=run.programme_id,
            pins=pins,
            exclusions=exclusions,
        ),
        actor=actor,
        today=today,
        previous=run,
    )


async def read_run(session: AsyncSession, run_id: uuid.UUID) -> RunOut:
    run = await _get(session, run_id)
    pairs: list[RunPairOut] | None = None
    unmatched: list[uuid.UUID] | None = None
    if run.status == "done":
        rows = list(
            (
                await session.execute(
                    select(MatchingRunPair)
                    .where(MatchingRunPair.run_id == run.id)
                    .order_by(MatchingRunPair.score.desc(), MatchingRunPair.mentee_id)
                )
            ).scalars()
        )
        ids = {r.mentee_id for r in rows} | {r.mentor_id for r in rows}
        names = {
            row.id: people.display_name(
                row.first_name, row.last_name, row.preferred_name, row.organisation_name
            )
            for row in await session.execute(
                select(
                    Contact.id,
                    Contact.first_name,
                    Contact.last_name,
                    Contact.preferred_name,
                    Contact.organisation_name,
                ).where(Contact.id.in_(ids))
            )
        }
        pairs = [
            RunPairOut(
                mentee_id=r.mentee_id,
                mentee_name=names.get(r.mentee_id, "—"),
                mentor_id=r.mentor_id,
                mentor_name=names.get(r.mentor_id, "—"),
                score=r.score,
                pinned=r.pinned,
                match_id=r.match_id,
            )
            for r in rows
        ]
        matched = {r.mentee_id for r in rows}
        unmatched = [m for m in run.mentee_ids if m not in matched]
    return RunOut(
        id=run.id,
        status=run.status,
        stage=run.stage,
        progress=round(run.progress, 3),
        programme_id=run.programme_id,
        previous_run_id=run.previous_run_id,
        mentee_count=run.mentee_count,
        mentor_count=run.mentor_count,
        pins=_refs(run.pins),
        exclusions=_refs(run.exclusions),
        total_score=run.total_score,
        pairs=pairs,
        unmatched_mentee_ids=unmatched,
        error=run.error,
        created_by=run.created_by,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


async def list_runs(session: AsyncSession, limit: int = 20) -> list[RunSummary]:
    rows = await session.execute(select(MatchingRun).order_by(MatchingRun.id.desc()).limit(limit))
    return [
        RunSummary(
            id=r.id,
            status=r.status,
            progress=round(r.progress, 3),
            mentee_count=r.mentee_count,
            mentor_count=r.mentor_count,
            total_score=r.total_score,
            created_at=r.created_at,
        )
        for r in rows.scalars()
    ]


async def accept(
    session: AsyncSession, run_id: uuid.UUID, data: AcceptIn, *, actor: Actor, today: date
) -> list[MatchOut]:
    """Proposed matches for all or some pairs of a finished run: all of them, or none on any error."""
    run = await _get(session, run_id, for_update=True)
    if run.status != "done":
        raise ValidationFailed(
            "the run is %(status)s; only a finished run can be accepted", field="status", status=run.status
        )
    rows = list(
        (await session.execute(select(MatchingRunPair).where(MatchingRunPair.run_id == run.id))).scalars()
    )
    by_mentee = {r.mentee_id: r for r in rows}
    if data.mentee_ids is None:
        chosen = [r for r in rows if r.match_id is None]
    else:
        chosen = []
        for mentee_id in dict.fromkeys(data.mentee_ids):
            pair = by_mentee.get(mentee_id)
            if pair is None:
                raise ValidationFailed(
                    "the run proposes no mentor for %(mentee_id)s", field="mentee_ids", mentee_id=mentee_id
                )
            if pair.match_id is not None:
                raise ValidationFailed(
                    "the pair of %(mentee_id)s was accepted already", field="mentee_ids", mentee_id=mentee_id
                )
            chosen.append(pair)
    created = []
    for pair in sorted(chosen, key=lambda r: (-r.score, r.mentee_id)):
        match = await matches.create_match(
            session,
            mentor_id=pair.mentor_id,
            mentee_id=pair.mentee_id,
            programme_id=run.programme_id,
            actor=actor,
            today=today,
            score=pair.score,
        )
        pair.match_id = match.id
        created.append(match.id)
    await session.flush()
    return [await matches.read_match(session, match_id, today) for match_id in created]


# ---------------------------------------------------------------- the worker's part


async def _load(
    session: AsyncSession, ids: list[uuid.UUID], role: people.Role, config: MatchingConfig
) -> list[Profile]:
    """The run's people as they are now; whoever was erased, changed role or (mentees) got a
    match since the run was asked for is left out rather than failing the run."""
    if not ids:
        return []
    rows = await session.execute(
        select(Contact.id).where(
            Contact.id.in_(ids), Contact.erased_at.is_(None), Contact.kinds.contains([role])
        )
    )
    keep = set(rows.scalars())
    if role == "mentee":
        busy = await session.execute(
            select(Match.mentee_id).where(Match.mentee_id.in_(ids), Match.status.in_(OPEN_STATUSES))
        )
        keep -= set(busy.scalars())
    # Whoever stopped being ready (a certificate ran out, say) is left out too.
    keep -= set(await people.not_ready(session, list(keep)))
    return await people.profiles_of(session, [i for i in ids if i in keep], role, config, f"{role}_ids")


async def _record(db: Database, org_id: uuid.UUID, run_id: uuid.UUID, **values: Any) -> None:
    async with db.tenant(org_id) as session:
        await session.execute(
            update(MatchingRun)
            .where(MatchingRun.id == run_id)
            .values(heartbeat_at=datetime.now(UTC), **values)
        )


async def _claim(db: Database, org_id: uuid.UUID, run_id: uuid.UUID) -> MatchingRun | None:
    now = datetime.now(UTC)
    async with db.tenant(org_id) as session:
        run = (
            await session.execute(select(MatchingRun).where(MatchingRun.id == run_id).with_for_update())
        ).scalar_one_or_none()
        if run is None or run.status in ("done", "failed"):
            return None
        if run.status == "running" and run.heartbeat_at and now - run.heartbeat_at < STALE_AFTER:
            return None  # another worker is on it
        run.status = "running"
        run.stage = "loading"
        run.progress = 0.02
        run.started_at = now
        run.heartbeat_at = now
        run.error = None
        return run


async def execute(db: Database, org_id: uuid.UUID, run_id: uuid.UUID, *, today: date | None = None) -> str:
    """Compute a run. Safe to call twice: a finished run is left alone, a live one is not taken over."""
    today = today or clock.today()
    run = await _claim(db, org_id, run_id)
    if run is None:
        return "skipped"
    try:
        async with db.tenant(org_id) as session:
            settings = await people.settings_for(session, run.programme_id)
            mentees = await _load(session, list(run.mentee_ids), "mentee", settings.config)
            mentors = await _load(session, list(run.mentor_ids), "mentor", settings.config)
        present = {p.id for p in [*mentees, *mentors]}
        pins = [
            (uuid.UUID(a), uuid.UUID(b))
            for a, b in run.pins
            if uuid.UUID(a) in present and uuid.UUID(b) in present
        ]
        exclusions = [
            (uuid.UUID(a), uuid.UUID(b))
            for a, b in run.exclusions
            if uuid.UUID(a) in present and uuid.UUID(b) in present
        ]
        cohort = await asyncio.to_thread(
            Cohort, mentees, mentors, settings.config, today, pins=pins, exclusions=exclusions
        )
        await _record(db, org_id, run_id, stage="scoring", progress=0.05)
        steps = cohort.score()
        while (done := await asyncio.to_thread(next, steps, None)) is not None:
            await _record(db, org_id, run_id, progress=round(0.05 + 0.8 * done, 3))
        await _record(db, org_id, run_id, stage="assigning", progress=0.9)
        result = await asyncio.to_thread(cohort.solve)
        async with db.tenant(org_id) as session:
            await session.execute(delete(MatchingRunPair).where(MatchingRunPair.run_id == run_id))
            for pair in result.pairs:
                session.add(
                    MatchingRunPair(
                        organization_id=org_id,
                        run_id=run_id,
                        mentee_id=pair.mentee_id,
                        mentor_id=pair.mentor_id,
                        score=pair.score,
                        pinned=pair.pinned,
                    )
                )
            await session.execute(
                update(MatchingRun)
                .where(MatchingRun.id == run_id)
                .values(
                    status="done",
                    stage="done",
                    progress=1.0,
                    total_score=result.total_score,
                    mentee_count=len(mentees),
                    mentor_count=len(mentors),
                    finished_at=datetime.now(UTC),
                    heartbeat_at=datetime.now(UTC),
                )
            )
    except DomainError as exc:
        await _record(
            db,
            org_id,
            run_id,
            status="failed",
            stage="failed",
            error=exc.detail,
            finished_at=datetime.now(UTC),
        )
        return "failed"
    except Exception as exc:
        log.exception("matching run failed", run=str(run_id))
        await _record(
            db,
            org_id,
            run_id,
            status="failed",
            stage="failed",
            error=type(exc).__name__,
            finished_at=datetime.now(UTC),
        )
        return "failed"
    return "done"


async def runs_waiting(db: Database) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(organisation, run) of every run queued for a while or whose worker went quiet."""
    now = datetime.now(UTC)
    async with db.system_context("matching: runs whose job was lost") as session:
        rows = await session.execute(
            select(MatchingRun.organization_id, MatchingRun.id).where(
                or_(
                    (MatchingRun.status == "queued") & (MatchingRun.created_at < now - timedelta(seconds=30)),
                    (MatchingRun.status == "running") & (MatchingRun.heartbeat_at < now - STALE_AFTER),
                )
            )
        )
        return [(org, run) for org, run in rows.all()]


# ---------------------------------------------------------------- the queue


def job_id(run_id: uuid.UUID | str) -> str:
    return f"matching-run:{run_id}"
