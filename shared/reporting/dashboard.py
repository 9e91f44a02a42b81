"""The few numbers a coordinator checks every morning, each with the list behind it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import date, timedelta
from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import CodoSession, Database, current_org
from shared.reporting import figures
from shared.reporting.schemas import Series, Value, suppress_series, suppress_value


class Tile(msgspec.Struct):
    key: str
    label: str
    value: Value
    # The list behind the figure, relative to /o/{slug}; None where the viewer may not see lists.
    link: str | None = None
    detail: str | None = None
    detail_value: Value = None


class Dashboard(msgspec.Struct):
    today: date
    tiles: list[Tile]
    # The two small charts: tandems, and check-ins held and due but missed, per month (CHART_KEYS).
    charts: Series


# The dashboard's two small charts: tandems, and check-ins held and due but missed, per month.
CHART_KEYS = ("tandems_active", "tandems_started", "checkins_held", "checkins_missed")


class _Kept(msgspec.Struct):
    """What the dashboard shows of tandems and check-ins, kept per organisation and day."""

    charts: Series
    active: int
    overdue: int


# Every sub-select names the organisation although row-level security filters by it anyway:
# the policy is no index condition, and without one each count would read the rows of every
# organisation on the platform.
#
# What depends only on tandems, their check-ins and the check-in interval (the active and overdue
# tandems, the charts) is kept per organisation and day in report_dashboard_charts, current while
# no change row is visible that the stored snapshot could not see (migration 0031): a transaction
# that committed after it was taken, or was running then, wrote something it may miss. Change rows
# older than the snapshot's oldest running transaction were all visible to it (or rolled back) and
# are not read: the index range starts at its xmin. The statement's own snapshot comes along:
# taken before anything would be computed again, it lets a write that commits in between make the
# stored figures old, never wrong. People and tasks change all day and are counted on each visit.
_FRESH = """
SELECT
  pg_current_snapshot()::text AS now,
  pg_current_xact_id_if_assigned() IS NULL AS unwritten,
  c.content AS kept, s.changes, s.since
FROM (SELECT 1) one
LEFT JOIN report_dashboard_charts c ON c.organization_id = :org AND c.day = CAST(:today AS date)
LEFT JOIN LATERAL (
  SELECT count(*) AS changes,
    -- The earliest day the writes since can have changed (0039), unless one of them did not say.
    CASE WHEN bool_and(x.since > '-infinity' AND x.since < 'infinity') THEN min(x.since) END AS since
  FROM report_changes x
  WHERE x.organization_id = :org
    AND x.xid >= pg_snapshot_xmin(CAST(c.snapshot AS pg_snapshot))::text::bigint
    AND NOT pg_visible_in_snapshot(x.xid::text::xid8, CAST(c.snapshot AS pg_snapshot))
) s ON c.content IS NOT NULL
"""
_PEOPLE = """
WITH waiting AS (
  SELECT c.waiting_since FROM contacts c
  WHERE c.organization_id = :org AND c.status = 'ready' AND 'mentee' = ANY(c.kinds) AND c.erased_at IS NULL
)
SELECT
  (SELECT count(*) FROM waiting) AS waiting,
  (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(:today AS date) - w.waiting_since)
     FROM waiting w WHERE w.waiting_since IS NOT NULL) AS waiting_median_days,
  -- Open tandems counted once per mentor in one pass, not looked up again for every mentor.
  (SELECT count(*) FROM contacts c
   LEFT JOIN (SELECT m.mentor_id, count(*) AS n FROM matches m
              WHERE m.organization_id = :org AND m.status <> 'ended' GROUP BY m.mentor_id) o
     ON o.mentor_id = c.id
   WHERE c.organization_id = :org AND c.status IN ('ready', 'matched') AND 'mentor' = ANY(c.kinds)
     AND c.erased_at IS NULL AND c.capacity > coalesce(o.n, 0)
  ) AS mentors_free,
  (SELECT count(*) FROM tasks t WHERE t.organization_id = :org AND t.status = 'open'
     AND t.due_date = CAST(:today AS date)) AS tasks_today,
  (SELECT count(*) FROM tasks t WHERE t.organization_id = :org AND t.status = 'open'
     AND t.due_date = CAST(:today AS date) AND t.assignee_id = CAST(:member AS uuid)) AS my_tasks_today,
  (SELECT count(*) FROM contacts c
   WHERE c.organization_id = :org AND c.status = 'new' AND c.erased_at IS NULL) AS signups_new
"""
# Read from tandems, their check-ins and the check-in interval only: the triggers of 0031 watch
# exactly these tables (and the status log, for the charts' pauses).
_TANDEMS = """
SELECT
  (SELECT count(*) FROM matches m WHERE m.organization_id = :org AND m.status = 'active') AS active,
  -- The latest check-in of each open tandem from the index, not an aggregate of all check-ins.
  (SELECT count(*) FROM matches m
     LEFT JOIN matching_settings own ON own.organization_id = m.organization_id
       AND own.programme_id = m.programme_id
     LEFT JOIN LATERAL (
       SELECT k.occurred_on AS last FROM match_checkins k
       WHERE k.organization_id = :org AND k.match_id = m.id ORDER BY k.occurred_on DESC LIMIT 1
     ) k ON true
    WHERE m.organization_id = :org AND m.status IN ('introduced', 'active')
      AND greatest(k.last, m.started_on, m.introduced_on) + coalesce(own.checkin_interval_days,
        (SELECT ms.checkin_interval_days FROM matching_settings ms
          WHERE ms.organization_id = :org AND ms.programme_id IS NULL), 30)
        < CAST(:today AS date)) AS overdue
"""
# A snapshot replaces the stored one only if it is not older (its oldest running transaction), so
# the change rows below the stored snapshot's are never needed again and go.
_STORE = """
WITH stored AS (
  INSERT INTO report_dashboard_charts AS c (organization_id, id, day, snapshot, content)
  VALUES (:org, gen_random_uuid(), CAST(:today AS date), :snapshot, :content)
  ON CONFLICT (organization_id) DO UPDATE
    SET day = excluded.day, snapshot = excluded.snapshot, content = excluded.content
    WHERE (excluded.day, pg_snapshot_xmin(CAST(excluded.snapshot AS pg_snapshot)))
       >= (c.day, pg_snapshot_xmin(CAST(c.snapshot AS pg_snapshot)))
  RETURNING c.snapshot
)
DELETE FROM report_changes x
WHERE x.organization_id = :org
  AND x.xid < (SELECT pg_snapshot_xmin(CAST(s.snapshot AS pg_snapshot))::text::bigint FROM stored s)
"""


# Organisations whose stored charts of the last week are old: a change row they could not see.
_STALE = """
SELECT c.organization_id, c.day FROM report_dashboard_charts c
WHERE c.day >= CAST(:since AS date)
  AND EXISTS (
    SELECT 1 FROM report_changes x
    WHERE x.organization_id = c.organization_id
      AND x.xid >= pg_snapshot_xmin(CAST(c.snapshot AS pg_snapshot))::text::bigint
      AND NOT pg_visible_in_snapshot(x.xid::text::xid8, CAST(c.snapshot AS pg_snapshot)))
"""
# How long after its last visit an organisation's dashboard is still kept current in the background.
REFRESH_DAYS = 7


async def stale_dashboards(db: Database, today: date) -> list[uuid.UUID]:
    """SYSTEM CONTEXT: the organisations whose dashboard was looked at in the last week and whose
    stored charts a write has made old since. Reads only which organisations, no figures."""
    async with db.system_context("dashboard refresh scan") as session:
        rows = await session.execute(text(_STALE), {"since": today - timedelta(days=REFRESH_DAYS)})
        return [r.organization_id for r in rows]


async def refresh(db: Database, org_id: uuid.UUID, today: date) -> bool:
    """Compute and store the organisation's charts if a write made them old, as a visit would:
    the next visit finds them current. True if they were computed."""
    async with db.tenant(org_id) as session:
        params = {"today": today, "member": None, "org": org_id}
        found = (await session.execute(text(_FRESH), params)).one()
        if found.kept is not None and found.changes == 0:
            return False
        await _figures(session, params, found)
        return True


# Charts computed on a connection of their own at once, per process. Each holds a second
# connection of the pool while its request holds one: kept well below the pool's size, so requests
# waiting for a second connection can never hold all of them.
_APART_MAX = 2
_apart = 0


def _may_compute_apart(session: AsyncSession, found: Any) -> bool:
    """Whether the charts can be computed on another connection while this one counts the rest.

    Only in a transaction that has written nothing: another connection would not see its writes,
    while its snapshot counts them as seen. And only with a connection free in the pool (one idle,
    or room to open one), so the request waits for one only if another took it in between."""
    pool = getattr(session.bind, "pool", None)
    checkedout, size = getattr(pool, "checkedout", None), getattr(pool, "size", None)
    if not (found.unwritten and _apart < _APART_MAX and callable(checkedout) and callable(size)):
        return False
    return bool(checkedout() < size())


async def _series_apart(session: AsyncSession, start: date, today: date) -> Series:
    """The charts' series in a transaction of their own, in the session's organisation. Its snapshot
    is taken after the one stored with the charts: what it sees in addition is only ever counted as
    not yet seen, so the next visit computes again, never shows less."""
    global _apart
    _apart += 1
    try:
        apart = AsyncSession(bind=session.bind, sync_session_class=CodoSession, expire_on_commit=False)
        apart.info["org_id"] = current_org(session)
        async with apart, apart.begin():
            return await figures.series(apart, start, today, "month", keys=CHART_KEYS)
    finally:
        _apart -= 1


def _spliced(stored: Series, recent: Series) -> Series | None:
    """The stored charts with their last months replaced by ``recent``'s (None if they do not fit)."""
    cut = len(stored.buckets) - len(recent.buckets)
    if (
        cut < 0
        or stored.buckets[cut:] != recent.buckets
        or [f.key for f in stored.figures] != [f.key for f in recent.figures]
    ):
        return None
    return msgspec.structs.replace(
        stored,
        figures=[
            msgspec.structs.replace(old, values=old.values[:cut] + new.values)
            for old, new in zip(stored.figures, recent.figures, strict=True)
        ],
    )


async def _figures(session: AsyncSession, params: dict[str, Any], found: Any) -> tuple[Any, _Kept]:
    """The people and task counts, and the stored tandem figures and charts of ``found`` (a row of
    _FRESH), else those computed and stored.

    After a write, only the months from the earliest day it can have changed are computed again
    (usually the current one, for a check-in); the earlier ones are kept. The charts are most of
    such a visit: while they are computed on a second connection, this one counts people, tasks
    and tandems."""
    stored = None if found.kept is None else msgspec.json.decode(found.kept, type=_Kept)
    if stored is not None and found.changes == 0:
        people = (await session.execute(text(_PEOPLE), params)).one()
        return people, stored
    today: date = params["today"]
    start = date(today.year - 1, today.month, 1)
    since: date | None = found.since if stored is not None else None
    # A write dated after today (a check-in planned ahead) still has the current month computed.
    first = min(since, today).replace(day=1) if since is not None and since > start else start
    if _may_compute_apart(session, found):
        apart = asyncio.ensure_future(_series_apart(session, first, today))
        try:
            people = (await session.execute(text(_PEOPLE), params)).one()
            row = (await session.execute(text(_TANDEMS), params)).one()
        except BaseException:
            apart.cancel()
            with contextlib.suppress(BaseException):
                await apart
            raise
        series = await apart
    else:
        people = (await session.execute(text(_PEOPLE), params)).one()
        row = (await session.execute(text(_TANDEMS), params)).one()
        series = await figures.series(session, first, today, "month", keys=CHART_KEYS)
    if first > start:
        assert stored is not None
        spliced = _spliced(stored.charts, series)
        if spliced is None:
            spliced = await figures.series(session, start, today, "month", keys=CHART_KEYS)
        series = spliced
    kept = _Kept(series, row.active, row.overdue)
    content = msgspec.json.encode(kept)
    await session.execute(text(_STORE), {**params, "snapshot": found.now, "content": content})
    return people, kept


async def dashboard(
    session: AsyncSession, today: date, membership_id: uuid.UUID | None, *, suppressed: bool
) -> Dashboard:
    params = {"today": today, "member": membership_id, "org": current_org(session)}
    found = (await session.execute(text(_FRESH), params)).one()
    row, kept = await _figures(session, params, found)
    median = row.waiting_median_days
    tiles = []
    if membership_id is not None:
        tiles.append(
            Tile(
                "my_tasks_today",
                "My tasks due today",
                row.my_tasks_today,
                f"/tasks?view=today&assignee_id={membership_id}",
            )
        )
    # "Overdue" as the matches list counts it (shared.matching.matches._overdue), in one pass.
    tiles += [
        Tile("waiting", "Mentees waiting", row.waiting, "/contacts?kind=mentee&status=ready",
             "waiting for days (median)", None if median is None else round(float(median))),
        Tile("mentors_free", "Mentors with a free place", row.mentors_free,
             "/contacts?kind=mentor&status=ready"),
        Tile("active", "Active tandems", kept.active, "/matches?status=active"),
        Tile("overdue", "Check-ins overdue", kept.overdue, "/matches?overdue=1"),
        Tile("tasks_today", "Open tasks due today", row.tasks_today, "/tasks?view=today"),
        Tile("signups_new", "Sign-ups to confirm", row.signups_new, "/contacts?status=new"),
    ]  # fmt: skip
    charts = kept.charts
    if suppressed:
        tiles = [
            Tile(
                t.key,
                t.label,
                suppress_value(t.value, "people"),
                None,
                t.detail,
                suppress_value(t.detail_value, "days", t.value),
            )
            for t in tiles
            if t.key not in ("my_tasks_today", "tasks_today")
        ]
        charts = suppress_series(charts, figures.SERIES_BASES)
    return Dashboard(today, tiles, charts)


async def charts(session: AsyncSession, today: date, *, suppressed: bool) -> Series:
    """The dashboard's charts of the 13 months up to today: the series' own figures, computed once
    per organisation and day until a tandem, a pause, a check-in or the check-in interval changes."""
    return (await dashboard(session, today, None, suppressed=suppressed)).charts
