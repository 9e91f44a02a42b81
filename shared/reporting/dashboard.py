"""The few numbers a coordinator checks every morning, each with the list behind it."""

from __future__ import annotations

import uuid
from datetime import date

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.reporting.schemas import Value, suppress_value


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


_NOW = """
SELECT
  (SELECT count(*) FROM contacts c
    WHERE 'mentee' = ANY(c.kinds) AND c.status = 'ready' AND c.erased_at IS NULL) AS waiting,
  (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(:today AS date) - c.waiting_since)
     FROM contacts c WHERE 'mentee' = ANY(c.kinds) AND c.status = 'ready' AND c.erased_at IS NULL
       AND c.waiting_since IS NOT NULL) AS waiting_median_days,
  (SELECT count(*) FROM (
     SELECT c.capacity - (SELECT count(*) FROM matches m
                          WHERE m.mentor_id = c.id AND m.status <> 'ended') AS free
     FROM contacts c
     WHERE 'mentor' = ANY(c.kinds) AND c.status IN ('ready', 'matched') AND c.erased_at IS NULL) x
   WHERE x.free > 0) AS mentors_free,
  (SELECT count(*) FROM matches m WHERE m.status = 'active') AS active,
  (SELECT count(*) FROM tasks t WHERE t.status = 'open' AND t.due_date = CAST(:today AS date)) AS tasks_today,
  (SELECT count(*) FROM tasks t WHERE t.status = 'open' AND t.due_date = CAST(:today AS date)
     AND t.assignee_id = CAST(:member AS uuid)) AS my_tasks_today,
  (SELECT count(*) FROM contacts c WHERE c.status = 'new' AND c.erased_at IS NULL) AS signups_new,
  (SELECT count(*) FROM matches m
     LEFT JOIN (SELECT k.match_id, max(k.occurred_on) AS last FROM match_checkins k GROUP BY k.match_id) k
       ON k.match_id = m.id
     LEFT JOIN matching_settings own ON own.organization_id = m.organization_id
       AND own.programme_id = m.programme_id
    WHERE m.status IN ('introduced', 'active')
      AND greatest(k.last, m.started_on, m.introduced_on) + coalesce(own.checkin_interval_days,
        (SELECT ms.checkin_interval_days FROM matching_settings ms WHERE ms.programme_id IS NULL), 30)
        < CAST(:today AS date)) AS overdue
"""


async def dashboard(
    session: AsyncSession, today: date, membership_id: uuid.UUID | None, *, suppressed: bool
) -> Dashboard:
    row = (await session.execute(text(_NOW), {"today": today, "member": membership_id})).mappings().one()
    # As the matches list counts "overdue" (shared.matching.matches._overdue), in one pass.
    overdue = row["overdue"]
    median = row["waiting_median_days"]
    tiles = []
    if membership_id is not None:
        tiles.append(
            Tile(
                "my_tasks_today",
                "My tasks due today",
                row["my_tasks_today"],
                f"/tasks?view=today&assignee_id={membership_id}",
            )
        )
    tiles += [
        Tile("waiting", "Mentees waiting", row["waiting"], "/contacts?kind=mentee&status=ready",
             "waiting for days (median)", None if median is None else round(float(median))),
        Tile("mentors_free", "Mentors with a free place", row["mentors_free"],
             "/contacts?kind=mentor&status=ready"),
        Tile("active", "Active tandems", row["active"], "/matches?status=active"),
        Tile("overdue", "Check-ins overdue", overdue, "/matches?overdue=1"),
        Tile("tasks_today", "Open tasks due today", row["tasks_today"], "/tasks?view=today"),
        Tile("signups_new", "Sign-ups to confirm", row["signups_new"], "/contacts?status=new"),
    ]  # fmt: skip
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
    return Dashboard(today, tiles)
