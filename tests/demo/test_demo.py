"""The demo programme of `codo dev`: every part of codo has something to show, it is created once,
and never in production."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from shared import demo
from shared.db import Database
from shared.matching import geo
from shared.reporting import dashboard, service

# What each domain must hold after seeding: a query that counts it, and the least it must count.
EXPECTED = {
    "contacts of every kind": ("SELECT count(DISTINCT k) FROM contacts, unnest(kinds) k", 4),
    "contacts of every status": ("SELECT count(DISTINCT status) FROM contacts", 9),
    "people": ("SELECT count(*) FROM contacts", 40),
    "tandems in every state": ("SELECT count(DISTINCT status) FROM matches", 5),
    "tandems ended early": ("SELECT count(*) FROM matches WHERE ended_early", 2),
    "meetings": ("SELECT count(*) FROM match_meetings", 60),
    "check-ins": ("SELECT count(*) FROM match_checkins", 25),
    "check-ins asking for follow-up": ("SELECT count(*) FROM match_checkins WHERE follow_up", 1),
    "months with meetings": (
        "SELECT count(DISTINCT date_trunc('month', occurred_on)) FROM match_meetings", 10),
    "tasks due today": (
        "SELECT count(*) FROM tasks WHERE status = 'open' AND due_date = CAST(:today AS date)", 3),
    "tasks overdue": (
        "SELECT count(*) FROM tasks WHERE status = 'open' AND due_date < CAST(:today AS date)", 3),
    "a recurring task": ("SELECT count(*) FROM tasks WHERE recurrence IS NOT NULL", 1),
    "appointments this week": (
        "SELECT count(*) FROM appointments WHERE starts_at >= CAST(:monday AS date) "
        "AND starts_at < CAST(:monday AS date) + 7", 3),
    "appointments with contacts": (
        "SELECT count(DISTINCT appointment_id) FROM appointment_participants WHERE contact_id IS NOT NULL",
        2),
    "events": ("SELECT count(*) FROM intake_events", 3),
    "people present at events": ("SELECT count(*) FROM intake_event_attendees WHERE status = 'present'", 5),
    "public forms": ("SELECT count(*) FROM intake_forms WHERE active", 1),
    "sign-ups waiting for confirmation": (
        "SELECT count(*) FROM intake_submissions WHERE status = 'pending'", 1),
    "finished cohort runs with pairs": (
        "SELECT count(DISTINCT r.id) FROM matching_runs r JOIN matching_run_pairs p ON p.run_id = r.id "
        "WHERE r.status = 'done'", 1),
    "fields on tandems": ("SELECT count(*) FROM match_fields", 2),
    "tandems with a funder": ("SELECT count(*) FROM matches WHERE custom ? 'foerderer'", 15),
    "guardian links": ("SELECT count(*) FROM contact_links WHERE kind = 'guardian_of'", 3),
    "timeline entries": ("SELECT count(*) FROM contact_activities", 5),
    "consents": ("SELECT count(DISTINCT contact_id) FROM contact_consents WHERE status = 'given'", 40),
    "change history": ("SELECT count(*) FROM history", 50),
    "contacts who joined in earlier months": (
        "SELECT count(DISTINCT date_trunc('month', created_at)) FROM contacts", 8),
}  # fmt: skip


async def _counts(db: Database, org_id: object, today: date) -> dict[str, int]:
    monday = today - timedelta(days=today.weekday())
    found = {}
    async with db.tenant(org_id) as session:  # type: ignore[arg-type]
        for name, (sql, _least) in EXPECTED.items():
            found[name] = (await session.execute(text(sql), {"today": today, "monday": monday})).scalar_one()
    return found


async def test_the_demo_shows_every_part_once(db: Database) -> None:
    slug = f"demo-{secrets.token_hex(3)}"
    first = await demo.seed(db, "development", slug=slug)
    assert first.created and first.contacts >= 40
    today = demo._today()
    counts = await _counts(db, first.org_id, today)
    short = {name: (counts[name], least) for name, (_, least) in EXPECTED.items() if counts[name] < least}
    assert not short, short
    # The day's list is not buried under follow-ups of check-ins from months ago.
    async with db.tenant(first.org_id) as session:
        follow_ups = (
            await session.execute(
                text("SELECT count(*) FROM tasks WHERE status = 'open' AND title LIKE 'Nachfassen%'")
            )
        ).scalar_one()
    assert 1 <= follow_ups <= 3, follow_ups

    # Every person's postal code is one matching can place on the map.
    async with db.tenant(first.org_id) as session:
        codes = (await session.execute(text("SELECT DISTINCT postal_code FROM contacts"))).scalars().all()
        assert codes and all(geo.is_known(c) for c in codes)

        # The dashboard a coordinator opens in the morning has a figure on every tile.
        board = await dashboard.dashboard(session, today, None, suppressed=False)
        tiles = {t.key: t.value for t in board.tiles}
        assert all(isinstance(v, int) and v > 0 for v in tiles.values()), tiles

        # The report of the last twelve months, and its trend, are not empty.
        q = service.parse((today - timedelta(days=365)).isoformat(), today.isoformat())
        report = await service.report(session, q, suppressed=False, locale="de")
        values = {
            row.key: row.values[0]
            for section in report.sections
            for table in section.tables
            for row in table.rows
            if row.values
        }
        for key in (
            *("tandems_started", "tandems_active", "tandems_ended", "mentors_reached", "signups_mentors"),
            *("meetings", "volunteer_hours", "checkins_held", "rating_avg", "waiting_at_end"),
        ):
            assert isinstance(values.get(key), int | float) and values[key] > 0, (key, values.get(key))
        series = await service.series(session, q, suppressed=False)
        active = next(f for f in series.figures if f.key == "tandems_active")
        assert sum(1 for v in active.values if isinstance(v, int) and v > 0) >= 10

    # Running `codo dev` again finds the demo and adds nothing.
    again = await demo.seed(db, "development", slug=slug)
    assert not again.created and again.org_id == first.org_id
    assert await _counts(db, first.org_id, today) == counts


async def test_the_demo_is_never_created_in_production(db: Database) -> None:
    slug = f"demo-{secrets.token_hex(3)}"
    with pytest.raises(demo.RefusedInProduction):
        await demo.seed(db, "production", slug=slug)
    async with db.platform() as session:
        found = await session.execute(text("SELECT count(*) FROM organizations WHERE slug = :s"), {"s": slug})
        assert found.scalar_one() == 0
