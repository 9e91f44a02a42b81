"""The dashboard's charts are stored per organisation and day: right after any write to what they
are drawn from, they show it (never a stored, older picture), and one organisation's stored
charts never reach another."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, event, text, update

from shared.contacts.models import Contact
from shared.contacts.service import derive
from shared.db import Database
from shared.matching.models import CheckIn, Match, MatchEvent, MatchingSettings
from shared.reporting import dashboard, figures
from tests.conftest import Org, create_org

TODAY = date(2025, 6, 15)
Charts = dict[str, list[Any]]


class Statements:
    """Counts the statements sent beyond the dashboard's first two (the stored charts if current,
    then the figures of people and tasks): those that compute or store charts."""

    def __init__(self, db: Database) -> None:
        self.computed = -2
        self._engine = db.engine.sync_engine

    def __enter__(self) -> Statements:
        event.listen(self._engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)

    def _seen(self, _c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        if "set_config" not in statement:
            self.computed += 1


async def _charts(db: Database, org: Org, today: date = TODAY) -> Charts:
    """The charts and the tiles kept with them, as the dashboard shows them."""
    async with db.tenant(org.id) as s:
        board = await dashboard.dashboard(s, today, None, suppressed=False)
    tiles = {t.key: [t.value] for t in board.tiles if t.key in ("active", "overdue")}
    return {f.key: f.values for f in board.charts.figures} | tiles


async def _fresh(db: Database, org: Org, today: date = TODAY) -> Charts:
    """The same figures computed now from the rows, past anything stored."""
    async with db.tenant(org.id) as s:
        series = await figures.series(
            s, date(today.year - 1, today.month, 1), today, "month", keys=dashboard.CHART_KEYS
        )
        params = {"org": org.id, "today": today}
        tiles = (await s.execute(text(dashboard._TANDEMS), params)).one()
    return {f.key: f.values for f in series.figures} | {"active": [tiles.active], "overdue": [tiles.overdue]}


async def _people(db: Database, org: Org, n: int) -> list[uuid.UUID]:
    async with db.tenant(org.id) as s:
        people = []
        for i in range(2 * n):
            kind = "mentor" if i % 2 else "mentee"
            c = Contact(organization_id=org.id, kinds=[kind], first_name=f"Dora{i}", last_name="Tafel",
                        status="matched")  # fmt: skip
            derive(c)
            s.add(c)
            people.append(c)
        await s.flush()
        return [p.id for p in people]


async def _tandem(db: Database, org: Org, started: date) -> uuid.UUID:
    mentee, mentor = await _people(db, org, 1)
    async with db.tenant(org.id) as s:
        m = Match(organization_id=org.id, mentee_id=mentee, mentor_id=mentor, status="active",
                  proposed_on=started.replace(day=1), started_on=started)  # fmt: skip
        s.add(m)
        await s.flush()
        return m.id


async def _stored_then(db: Database, org: Org) -> Charts:
    """The charts as shown now, then checked to be current and served without computing."""
    shown = await _charts(db, org)
    assert shown == await _fresh(db, org)
    with Statements(db) as seen:
        assert await _charts(db, org) == shown
    assert seen.computed == 0, "the second visit computed the charts again"
    return shown


async def test_every_write_the_charts_are_drawn_from_shows_right_after_it(db: Database, org_a: Org) -> None:
    o = org_a.id
    one = await _tandem(db, org_a, date(2025, 1, 1))
    before = await _stored_then(db, org_a)
    assert before["tandems_active"][7:] == [1, 1, 1, 1, 1, 1]  # January to June 2025
    assert before["active"] == [1] and before["overdue"] == [1]

    async def write(*statements: Any) -> Charts:
        async with db.tenant(o) as s:
            for st in statements:
                if isinstance(st, CheckIn | Match | MatchEvent | MatchingSettings):
                    s.add(st)
                    await s.flush()
                else:
                    await s.execute(st)
        return await _stored_then(db, org_a)

    # A check-in held, moved to another month, deleted.
    shown = await write(
        CheckIn(organization_id=o, match_id=one, occurred_on=date(2025, 3, 3), channel="phone", rating=4)
    )
    assert shown["checkins_held"][9] == 1 and shown["checkins_missed"] != before["checkins_missed"]
    assert shown["overdue"] == [1]
    moved = update(CheckIn).where(CheckIn.match_id == one).values(occurred_on=date(2025, 6, 10))
    shown = await write(moved)
    assert shown["checkins_held"][9:] == [0, 0, 0, 1]
    # A check-in five days ago: the tandem is no longer overdue.
    assert shown["overdue"] == [0]
    shown = await write(delete(CheckIn).where(CheckIn.match_id == one))
    assert shown == before

    # A tandem started, one ended, one deleted.
    two = await _tandem(db, org_a, date(2025, 6, 2))
    shown = await _stored_then(db, org_a)
    assert shown["tandems_started"][12] == 1 and shown["tandems_active"][12] == 2
    assert shown["active"] == [2]
    ended = update(Match).where(Match.id == one).values(status="ended", ended_on=date(2025, 4, 30))
    shown = await write(ended)
    assert shown["tandems_active"][7:] == [1, 1, 1, 1, 0, 1]
    assert shown["active"] == [1]
    shown = await write(delete(Match).where(Match.id == two))
    assert shown["tandems_active"][7:] == [1, 1, 1, 1, 0, 0]
    assert shown["tandems_started"][12] == 0

    # A pause (the tandem's status log) and the check-in interval change the check-ins due.
    three = await _tandem(db, org_a, date(2025, 1, 1))
    unpaused = await _stored_then(db, org_a)
    shown = await write(
        MatchEvent(organization_id=o, match_id=three, from_status="active", to_status="paused",
                   occurred_on=date(2025, 2, 1)),
        MatchEvent(organization_id=o, match_id=three, from_status="paused", to_status="active",
                   occurred_on=date(2025, 5, 1)),
    )  # fmt: skip
    assert sum(shown["checkins_missed"]) < sum(unpaused["checkins_missed"])
    weekly = await write(MatchingSettings(organization_id=o, config={}, checkin_interval_days=7))
    assert sum(weekly["checkins_missed"]) > sum(shown["checkins_missed"])
    monthly = await write(update(MatchingSettings).values(checkin_interval_days=30))
    assert monthly == shown


async def test_a_write_that_commits_while_the_charts_are_computed_is_shown_next_time(
    db: Database, org_a: Org
) -> None:
    o = org_a.id
    one = await _tandem(db, org_a, date(2025, 1, 1))
    written, stored = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with db.tenant(o) as s:
            s.add(CheckIn(organization_id=o, match_id=one, occurred_on=date(2025, 6, 1), channel="phone",
                          rating=3))  # fmt: skip
            await s.flush()
            written.set()
            # Still running while the charts are computed and stored without it.
            await stored.wait()

    async def reader() -> Charts:
        await written.wait()
        # A later transaction commits first: the writer's is then one of the snapshot's running
        # ones, below its horizon, not merely one that began after it.
        await _people(db, org_a, 1)
        shown = await _charts(db, org_a)
        stored.set()
        return shown

    _, during = await asyncio.gather(writer(), reader())
    assert during["checkins_held"][12] == 0
    after = await _charts(db, org_a)
    assert after["checkins_held"][12] == 1
    assert after == await _fresh(db, org_a)


async def test_a_new_day_computes_the_charts_again(db: Database, org_a: Org) -> None:
    await _tandem(db, org_a, date(2025, 6, 15))
    today = await _stored_then(db, org_a)
    assert today["tandems_started"][12] == 1
    tomorrow = await _charts(db, org_a, date(2025, 7, 1))
    # The window moved by a month: June 2025 is now the twelfth of thirteen months.
    assert tomorrow["tandems_started"][11:] == [1, 0]
    assert tomorrow == await _fresh(db, org_a, date(2025, 7, 1))


async def test_one_organisations_stored_charts_never_reach_another(
    db: Database, org_a: Org, org_b: Org
) -> None:
    await _tandem(db, org_b, date(2025, 3, 10))
    await _tandem(db, org_b, date(2025, 3, 20))
    b = await _stored_then(db, org_b)
    assert b["tandems_started"][9] == 2
    a = await _charts(db, org_a)
    assert a["tandems_started"] == [0] * 13 and a == await _fresh(db, org_a)
    async with db.tenant(org_a.id) as s:
        seen = (await s.execute(text("SELECT organization_id FROM report_dashboard_charts"))).scalars().all()
        changes = (await s.execute(text("SELECT organization_id FROM report_changes"))).scalars().all()
    assert set(seen) == {org_a.id} and set(changes) <= {org_a.id}
    # A's writes leave B's stored charts current; B's own writes do not.
    await _tandem(db, org_a, date(2025, 4, 1))
    with Statements(db) as counted:
        assert await _charts(db, org_b) == b
    assert counted.computed == 0
    await _tandem(db, org_b, date(2025, 4, 1))
    assert (await _charts(db, org_b))["tandems_started"][9:11] == [2, 1]


async def test_charts_computed_beside_the_other_figures_are_the_same_and_show_the_write(
    db: Database, org_a: Org
) -> None:
    one = await _tandem(db, org_a, date(2025, 1, 1))
    await _stored_then(db, org_a)
    async with db.tenant(org_a.id) as s:
        s.add(CheckIn(organization_id=org_a.id, match_id=one, occurred_on=date(2025, 6, 2), channel="phone",
                      rating=5))  # fmt: skip
    async with db.tenant(org_a.id), db.tenant(org_a.id):
        pass
    connections: set[int] = set()

    def seen(conn: Any, *_a: Any) -> None:
        connections.add(id(conn.connection.driver_connection))

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        shown = await _charts(db, org_a)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    # The charts were computed on a second connection while the first counted the rest.
    assert len(connections) == 2
    assert shown["checkins_held"][12] == 1
    assert shown == await _fresh(db, org_a)
    # And stored: the next visit computes nothing.
    assert await _stored_then(db, org_a) == shown


async def test_a_transaction_sees_its_own_write_on_the_dashboard(db: Database, org_a: Org) -> None:
    one = await _tandem(db, org_a, date(2025, 1, 1))
    before = await _stored_then(db, org_a)
    # Two connections opened and given back: one is free in the pool while the transaction holds one.
    async with db.tenant(org_a.id), db.tenant(org_a.id):
        pass
    async with db.tenant(org_a.id) as s:
        s.add(CheckIn(organization_id=org_a.id, match_id=one, occurred_on=date(2025, 6, 2), channel="phone",
                      rating=5))  # fmt: skip
        await s.flush()
        # Another connection would not see this check-in: the charts are computed here.
        board = await dashboard.dashboard(s, TODAY, None, suppressed=False)
        charts = {f.key: f.values for f in board.charts.figures}
        await s.rollback()
    assert charts["checkins_held"][12] == 1 and before["checkins_held"][12] == 0
    # Rolled back: what was stored inside went with it.
    assert await _stored_then(db, org_a) == before


async def test_after_a_write_only_the_months_it_can_have_changed_are_computed_again(
    db: Database, org_a: Org, monkeypatch: Any
) -> None:
    o = org_a.id
    one = await _tandem(db, org_a, date(2025, 1, 1))
    await _stored_then(db, org_a)
    computed: list[date] = []
    series = figures.series

    async def counted(session: Any, start: date, *args: Any, **kwargs: Any) -> Any:
        computed.append(start)
        return await series(session, start, *args, **kwargs)

    monkeypatch.setattr(figures, "series", counted)

    async def write(*rows: Any) -> Charts:
        async with db.tenant(o) as s:
            for row in rows:
                if isinstance(row, CheckIn | MatchEvent):
                    s.add(row)
                else:
                    await s.execute(row)
        computed.clear()
        return await _charts(db, org_a)

    # A check-in this month: only June is computed again, and the charts are those of all months.
    shown = await write(
        CheckIn(organization_id=o, match_id=one, occurred_on=date(2025, 6, 3), channel="phone", rating=4)
    )
    assert computed == [date(2025, 6, 1)]
    assert shown["checkins_held"][12] == 1 and shown == await _fresh(db, org_a)
    # Moved back to March: from March on (the old day of a check-in counts as much as the new one).
    shown = await write(update(CheckIn).where(CheckIn.match_id == one).values(occurred_on=date(2025, 3, 3)))
    assert computed == [date(2025, 3, 1)]
    shown = await write(update(CheckIn).where(CheckIn.match_id == one).values(occurred_on=date(2025, 6, 4)))
    assert computed == [date(2025, 3, 1)]
    assert shown["checkins_held"][9:] == [0, 0, 0, 1] and shown == await _fresh(db, org_a)
    # A check-in dated after the day shown changes nothing in it: the current month is computed.
    shown = await write(
        CheckIn(organization_id=o, match_id=one, occurred_on=date(2025, 7, 2), channel="phone", rating=2)
    )
    assert computed == [date(2025, 6, 1)]
    assert shown["checkins_held"][9:] == [0, 0, 0, 1] and shown == await _fresh(db, org_a)
    # A pause reaches back over the tandem's whole run: all thirteen months.
    shown = await write(
        MatchEvent(organization_id=o, match_id=one, from_status="active", to_status="paused",
                   occurred_on=date(2025, 2, 1))
    )  # fmt: skip
    assert computed == [date(2024, 6, 1)]
    assert shown == await _fresh(db, org_a)


async def test_a_dashboard_a_write_made_old_is_computed_again_in_the_background(db: Database) -> None:
    # Organisations of their own: the other tests leave stored charts of other days behind.
    written, quiet = await create_org(db), await create_org(db)
    one = await _tandem(db, written, date(2025, 1, 1))
    await _tandem(db, quiet, date(2025, 2, 1))
    before = await _stored_then(db, written)
    await _stored_then(db, quiet)
    assert not {written.id, quiet.id} & set(await dashboard.stale_dashboards(db, TODAY))

    async with db.tenant(written.id) as s:
        s.add(CheckIn(organization_id=written.id, match_id=one, occurred_on=date(2025, 5, 5), channel="phone",
                      rating=5))  # fmt: skip
    stale = set(await dashboard.stale_dashboards(db, TODAY))
    assert written.id in stale and quiet.id not in stale
    # A dashboard nobody looked at for more than a week is left to its next visit.
    assert written.id not in await dashboard.stale_dashboards(db, TODAY + timedelta(days=8))

    assert await dashboard.refresh(db, written.id, TODAY) is True
    assert written.id not in await dashboard.stale_dashboards(db, TODAY)
    with Statements(db) as seen:
        shown = await _charts(db, written)
    assert seen.computed == 0, "the visit after the refresh computed the charts itself"
    assert (
        shown == await _fresh(db, written) and shown["checkins_held"][11] == 1 != before["checkins_held"][11]
    )
    assert await dashboard.refresh(db, written.id, TODAY) is False, "current charts are not computed again"
