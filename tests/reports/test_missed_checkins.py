"""Check-ins missed: a tandem that rests (paused) is not expected to be asked about, so its pause
days count no check-in as due, whether the pause is over or still going on."""

from __future__ import annotations

from datetime import date

from shared.contacts.models import Contact
from shared.contacts.service import derive
from shared.db import Database
from shared.matching.models import CheckIn, Match, MatchEvent, MatchingSettings
from shared.reporting import figures
from tests.conftest import Org

YEAR = (date(2025, 1, 1), date(2025, 12, 31))


async def _missed(db: Database, org: Org, first: date = YEAR[0], last: date = YEAR[1]) -> int:
    async with db.tenant(org.id) as s:
        report = await figures.report(s, first, last)
    rows = {
        r.key: r.values[0]
        for t in report.sections
        for tb in t.tables
        for r in tb.rows
        if tb.key == "accompaniment"
    }
    return int(rows["checkins_missed"])


async def test_pause_days_are_not_counted_as_due(db: Database, org_a: Org) -> None:
    o = org_a.id
    async with db.tenant(o) as s:
        s.add(MatchingSettings(organization_id=o, config={}, checkin_interval_days=30))
        people = []
        for i in range(6):
            c = Contact(organization_id=o, kinds=["mentor" if i % 2 else "mentee"], first_name=f"P{i}",
                        last_name="Pause", status="matched")  # fmt: skip
            derive(c)
            s.add(c)
            people.append(c)
        await s.flush()

        def tandem(n: int, status: str, **values: object) -> Match:
            m = Match(organization_id=o, mentee_id=people[2 * n].id, mentor_id=people[2 * n + 1].id,
                      status=status, proposed_on=date(2024, 12, 1), started_on=date(2025, 1, 1),
                      **values)  # fmt: skip
            s.add(m)
            return m

        # Runs all year: 365 days, 12 intervals due, one held.
        steady = tandem(0, "active")
        # Paused from 1 March to 1 June (92 days) and active again: 273 active days, 9 due.
        rested = tandem(1, "active")
        # Paused since 1 October and still resting: 273 active days, 9 due, none held.
        resting = tandem(2, "paused", paused_on=date(2025, 10, 1))
        await s.flush()
        s.add(
            CheckIn(
                organization_id=o, match_id=steady.id, occurred_on=date(2025, 5, 1), channel="phone", rating=4
            )
        )
        for match, moves in (
            (steady, [("active", date(2025, 1, 1))]),
            (
                rested,
                [("active", date(2025, 1, 1)), ("paused", date(2025, 3, 1)), ("active", date(2025, 6, 1))],
            ),
            (resting, [("active", date(2025, 1, 1)), ("paused", date(2025, 10, 1))]),
        ):
            previous = "introduced"
            for to, on in moves:
                s.add(MatchEvent(organization_id=o, match_id=match.id, from_status=previous, to_status=to,
                                 occurred_on=on))  # fmt: skip
                await s.flush()
                previous = to
    assert await _missed(db, org_a) == 11 + 9 + 9
    # Within the first pause only (92 days), the rested tandem owes nothing; the steady one held one
    # of its three, the resting one (not yet paused then) owes three. Counting pauses would say 35 and 8.
    assert await _missed(db, org_a, date(2025, 3, 1), date(2025, 5, 31)) == 2 + 0 + 3
