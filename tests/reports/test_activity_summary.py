"""The monthly activity summary (report_activity_months) that reports read instead of every
check-in and meeting: after every kind of write it equals a recount from the activities, so a
report never shows a stale figure."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

from sqlalchemy import delete, insert, text, update

from shared.contacts.models import Contact
from shared.contacts.privacy import erase
from shared.contacts.service import derive
from shared.db import Database
from shared.matching.models import CheckIn, Match, Meeting
from shared.reporting import figures
from tests.conftest import Org

COUNTS = (
    "checkins, rating_1, rating_2, rating_3, rating_4, rating_5, follow_ups, meetings, meeting_minutes, "
    "volunteer_minutes"
)
RECOUNT = f"""
SELECT x.match_id, x.month, {", ".join(f"sum(x.{c.strip()})::bigint" for c in COUNTS.split(","))}
FROM (
  SELECT k.match_id, date_trunc('month', k.occurred_on)::date AS month, 1 AS checkins,
    (k.rating = 1)::int AS rating_1, (k.rating = 2)::int AS rating_2, (k.rating = 3)::int AS rating_3,
    (k.rating = 4)::int AS rating_4, (k.rating = 5)::int AS rating_5, k.follow_up::int AS follow_ups,
    0 AS meetings, 0 AS meeting_minutes, 0 AS volunteer_minutes
  FROM match_checkins k
  UNION ALL
  SELECT v.match_id, date_trunc('month', v.occurred_on)::date, 0, 0, 0, 0, 0, 0, 0, 1,
    v.duration_minutes, v.volunteer_minutes
  FROM match_meetings v
) x GROUP BY 1, 2"""


async def _summary(db: Database, org: Org) -> set[tuple[Any, ...]]:
    async with db.tenant(org.id) as s:
        rows = await s.execute(text(f"SELECT match_id, month, {COUNTS} FROM report_activity_months"))
        return {tuple(r) for r in rows}


async def _recount(db: Database, org: Org) -> set[tuple[Any, ...]]:
    async with db.tenant(org.id) as s:
        return {tuple(r) for r in await s.execute(text(RECOUNT))}


async def _assert_exact(db: Database, org: Org) -> set[tuple[Any, ...]]:
    summary = await _summary(db, org)
    assert summary == await _recount(db, org)
    return summary


async def _tandems(db: Database, org: Org) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    o = org.id
    async with db.tenant(o) as s:
        people = []
        for i in range(4):
            c = Contact(organization_id=o, kinds=["mentor" if i % 2 else "mentee"], first_name=f"Paula{i}",
                        last_name="Summe", status="matched")  # fmt: skip
            derive(c)
            s.add(c)
            people.append(c)
        await s.flush()
        matches = [
            Match(organization_id=o, mentee_id=people[2 * n].id, mentor_id=people[2 * n + 1].id,
                  status="active", proposed_on=date(2024, 12, 1), started_on=date(2025, 1, 1))
            for n in range(2)
        ]  # fmt: skip
        s.add_all(matches)
        await s.flush()
        return matches[0].id, matches[1].id, people[0].id


async def _monthly(db: Database, org: Org, key: str) -> list[Any]:
    async with db.tenant(org.id) as s:
        series = await figures.series(s, date(2025, 1, 1), date(2025, 6, 30), "month", keys=(key,))
    return series.figures[0].values


async def test_the_summary_equals_a_recount_after_every_kind_of_write(db: Database, org_a: Org) -> None:
    o = org_a.id
    one, two, mentee = await _tandems(db, org_a)
    async with db.tenant(o) as s:
        # One row at a time, and many in one statement.
        s.add(CheckIn(organization_id=o, match_id=one, occurred_on=date(2025, 1, 31), channel="phone",
                      rating=4, follow_up=True))  # fmt: skip
        s.add(Meeting(organization_id=o, match_id=one, occurred_on=date(2025, 1, 5), duration_minutes=90,
                      volunteer_minutes=120, notes="Paula0 Summe was there"))  # fmt: skip
        await s.flush()
        await s.execute(
            insert(CheckIn),
            [
                {"organization_id": o, "match_id": m, "occurred_on": day, "channel": "phone", "rating": r,
                 "notes": "Paula0 Summe"}
                for m, day, r in ((one, date(2025, 2, 1), 2), (one, date(2025, 2, 28), 5),
                                  (two, date(2025, 2, 14), 3), (two, date(2025, 3, 1), 1))
            ],
        )  # fmt: skip
        await s.execute(
            insert(Meeting),
            [
                {"organization_id": o, "match_id": two, "occurred_on": date(2025, 3, d),
                 "duration_minutes": 60, "volunteer_minutes": 60}
                for d in (2, 9, 16)
            ],
        )  # fmt: skip
    before = await _assert_exact(db, org_a)
    assert (one, date(2025, 2, 1), 2, 0, 1, 0, 0, 1, 0, 0, 0, 0) in before
    assert await _monthly(db, org_a, "checkins_held") == [1, 3, 1, 0, 0, 0]
    assert await _monthly(db, org_a, "meeting_hours") == [1.5, 0, 3.0, 0, 0, 0]

    async with db.tenant(o) as s:
        # Moved to another month, to the other tandem, rated again, flagged; all March meetings
        # a month later in one statement; a meeting made longer.
        await s.execute(update(CheckIn).where(CheckIn.occurred_on == date(2025, 1, 31))
                        .values(occurred_on=date(2025, 4, 2)))  # fmt: skip
        await s.execute(update(CheckIn).where(CheckIn.occurred_on == date(2025, 2, 28))
                        .values(match_id=two, rating=3, follow_up=True))  # fmt: skip
        later = Meeting.occurred_on + 30
        await s.execute(update(Meeting).where(Meeting.match_id == two).values(occurred_on=later))
        await s.execute(update(Meeting).where(Meeting.match_id == one).values(duration_minutes=30))
    await _assert_exact(db, org_a)
    assert await _monthly(db, org_a, "checkins_held") == [0, 3, 1, 1, 0, 0]
    assert await _monthly(db, org_a, "follow_up_tandems") == [0, 1, 0, 1, 0, 0]
    assert await _monthly(db, org_a, "meeting_hours") == [0.5, 0, 0, 3.0, 0, 0]

    # Erasing a person blanks the notes of their tandem's activities and changes no figure.
    settled = await _assert_exact(db, org_a)
    async with db.tenant(o) as s:
        await erase(s, mentee)
    assert await _assert_exact(db, org_a) == settled

    async with db.tenant(o) as s:
        await s.execute(delete(CheckIn).where(CheckIn.occurred_on == date(2025, 2, 14)))
        await s.execute(delete(Meeting).where(Meeting.match_id == one))
    after = await _assert_exact(db, org_a)
    # A month left with nothing is gone, not kept as zeros.
    assert not any(r[0] == one and r[1] == date(2025, 1, 1) for r in after)
    assert await _monthly(db, org_a, "checkins_held") == [0, 2, 1, 1, 0, 0]

    # A deleted tandem takes its activities and their months along.
    async with db.tenant(o) as s:
        await s.execute(delete(Match).where(Match.id == two))
    after = await _assert_exact(db, org_a)
    assert {r[0] for r in after} == {one}


async def test_two_writers_of_the_same_month_are_both_counted(db: Database, org_a: Org) -> None:
    o = org_a.id
    one, _two, _mentee = await _tandems(db, org_a)
    first_written = asyncio.Event()

    async def write(day: int, wait_for: asyncio.Event | None) -> None:
        async with db.tenant(o) as s:
            if wait_for is not None:
                await wait_for.wait()
            s.add(CheckIn(organization_id=o, match_id=one, occurred_on=date(2025, 5, day), channel="phone",
                          rating=5))  # fmt: skip
            await s.flush()
            if wait_for is None:
                first_written.set()
                # The second writer now waits on this transaction's month row until it commits.
                await asyncio.sleep(0.3)

    await asyncio.gather(write(3, None), write(20, first_written))
    summary = await _assert_exact(db, org_a)
    assert (one, date(2025, 5, 1), 2, 0, 0, 0, 0, 2, 0, 0, 0, 0) in summary
