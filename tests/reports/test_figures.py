"""Every standard figure of a year whose history is known (tests/reports/history.py), exactly."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.contacts.models import Contact
from shared.contacts.service import derive
from shared.db import Database
from shared.errors import ValidationFailed
from shared.matching.models import CheckIn, Match, MatchEvent
from shared.reporting import figures
from shared.reporting.schemas import Report, Table, suppress_report
from tests.conftest import Org
from tests.reports.history import YEAR, History, build


def table(report: Report, key: str) -> Table:
    return next(t for s in report.sections for t in s.tables if t.key == key)


def values(report: Report, key: str) -> dict[str, Any]:
    t = table(report, key)
    return {r.key: r.values[0] if len(r.values) == 1 else r.values for r in t.rows}


@pytest.fixture
async def history(db: Database, org_a: Org) -> History:
    return await build(db, org_a.id)


async def test_the_year_report_counts_every_figure_exactly(
    db: Database, org_a: Org, history: History
) -> None:
    async with db.tenant(org_a.id) as s:
        report = await figures.report(s, *YEAR)
    assert values(report, "tandems") == {
        "tandems_started": 3,  # B on the last day, E, H
        "tandems_active": 5,  # A, B, C (ends on the first day), E, H; not D (ended the day before)
        "tandems_ended": 2,  # C, E
        "tandems_ended_early": 1,  # C
        "days_to_start_avg": 10.0,  # 11, 10, 9
        "days_to_start_median": 10.0,
        "duration_avg": 208.5,  # C 214 days, E 203 days
    }
    assert [(r.key, r.label, r.values) for r in table(report, "end_reasons").rows] == [
        ("goal", "Goal reached", [1]),
        ("moved", "Moved", [1]),
    ]
    assert values(report, "people") == {
        "signups_mentees": 1,  # confirmed on 1 January, sent the day before
        "signups_mentors": 1,
        "ready_mentees": 6,  # E2, E5, E7, E8, W1 (on the last day), W3; not W2 (the day after)
        "ready_mentors": 1,
        "waiting_at_end": 1,  # W1; E2 was matched, W3 declined in July
        "matched_after_wait": 4,  # B 80 days, E 59, G 30, H 0
        "wait_median": 44.5,
        "wait_p90": 73.7,
    }
    assert values(report, "mentors") == {"mentors_reached": 4}
    assert values(report, "mentors_by_age") == {
        "under_20": 1,  # M1 is 19 at the period's end
        "20_29": 0,
        "30_49": 1,  # M2 turns 30 on its last day
        "50_64": 0,
        "65_plus": 1,
        "unknown": 1,
    }
    assert values(report, "mentors_by_gender") == {"female": 1, "male": 1, "diverse": 1, "not_stated": 1}
    assert values(report, "accompaniment") == {
        "meetings": 2,
        "meeting_hours": 1.5,
        "volunteer_hours": 2.0,
        "checkins_held": 4,
        # every 30 days: A 12 due, 2 held; E 6 due (204 days), none held; H 10 due (325 days), 2 held
        "checkins_missed": 24,
        "rating_avg": 3.5,
        "follow_up_tandems": 2,
    }
    assert values(report, "ratings") == {
        "rating_1": 0,
        "rating_2": 1,
        "rating_3": 1,
        "rating_4": 1,
        "rating_5": 1,
    }
    assert values(report, "events") == {
        # 23:30 on New Year's Eve in Berlin is still 2025; 00:30 on New Year's Day is not.
        "workshop": [1, 3, 2, 2, 66.7],
        "regulars": [1, 1, 1, 0, 0.0],
        "outing": [0, 0, 0, 0, None],
        "training": [0, 0, 0, 0, None],
    }
    assert values(report, "funnel") == {
        "signups": 3,
        "confirmed": 2,
        "screened": 2,
        "ready": 2,
        "matched": 1,
        "active_3m": 1,
    }


async def test_a_programme_counts_only_its_tandems(db: Database, org_a: Org, history: History) -> None:
    async with db.tenant(org_a.id) as s:
        second = await figures.report(s, *YEAR, programme_id=history.second)
        first = await figures.report(s, *YEAR, programme_id=history.programme)
    assert second.programme == "Jobpatenschaften"
    assert values(second, "tandems")["tandems_active"] == 1
    assert values(second, "accompaniment")["checkins_held"] == 2
    assert values(first, "tandems")["tandems_active"] == 4
    assert values(first, "events")["workshop"][0] == 1


async def test_edge_days_one_day_periods(db: Database, org_a: Org, history: History) -> None:
    async with db.tenant(org_a.id) as s:
        first_day = await figures.report(s, date(2025, 1, 1), date(2025, 1, 1))
        last_day = await figures.report(s, date(2025, 12, 31), date(2025, 12, 31))
    # C ends on the first day: active and ended then; A runs; nothing else.
    assert values(first_day, "tandems")["tandems_active"] == 2
    assert values(first_day, "tandems")["tandems_ended"] == 1
    # B starts on the last day.
    assert values(last_day, "tandems")["tandems_started"] == 1
    assert values(last_day, "tandems")["tandems_active"] == 3  # A, B, H


async def test_quarterly_series(db: Database, org_a: Org, history: History) -> None:
    async with db.tenant(org_a.id) as s:
        series = await figures.series(
            s, *YEAR, "quarter", keys=("tandems_started", "tandems_active", "meetings")
        )
    assert [b.label for b in series.buckets] == ["2025 Q1", "2025 Q2", "2025 Q3", "2025 Q4"]
    by_key = {f.key: f.values for f in series.figures}
    assert by_key == {
        "tandems_started": [2, 0, 0, 1],
        "tandems_active": [4, 3, 3, 3],
        "meetings": [1, 0, 0, 1],
    }


async def test_monthly_series_cut_to_the_period(db: Database, org_a: Org, history: History) -> None:
    async with db.tenant(org_a.id) as s:
        series = await figures.series(s, date(2025, 2, 15), date(2025, 4, 10), "month")
    assert [(b.start, b.end) for b in series.buckets] == [
        (date(2025, 2, 15), date(2025, 2, 28)),
        (date(2025, 3, 1), date(2025, 3, 31)),
        (date(2025, 4, 1), date(2025, 4, 10)),
    ]
    started = next(f for f in series.figures if f.key == "tandems_started")
    assert started.values == [0, 1, 0]  # H started on 10 February, before the cut


async def test_breakdowns(db: Database, org_a: Org, history: History) -> None:
    async with db.tenant(org_a.id) as s:
        by_funder = await figures.breakdown(s, *YEAR, "match.funder", locale="de")
        by_programme = await figures.breakdown(s, *YEAR, "programme")
        by_gender = await figures.breakdown(s, *YEAR, "gender")
        by_school = await figures.breakdown(s, *YEAR, "contact.school")
    cols = [c.key for c in by_funder.table.columns]
    started, active = cols.index("tandems_started"), cols.index("tandems_active")

    def rows(b: figures.Breakdown) -> dict[str, tuple[str, Any, Any]]:
        return {r.key: (r.label, r.values[started], r.values[active]) for r in b.table.rows}

    assert by_funder.by_label == "Förderer"
    assert rows(by_funder) == {
        "stadt": ("Stadt", 1, 2),  # A, B
        "stiftung": ("Stiftung", 1, 2),  # C, E
        "unknown": ("not recorded", 1, 1),  # H
    }
    assert rows(by_programme) == {
        str(history.second): ("Jobpatenschaften", 1, 1),
        str(history.programme): ("Lesepatenschaften", 2, 4),
    }
    assert rows(by_gender) == {
        "female": ("female", 0, 2),  # E1, E3
        "male": ("male", 2, 2),  # E2, E8
        "diverse": ("diverse", 1, 1),  # E5
        "not_stated": ("not stated", 0, 0),
    }
    assert rows(by_school)["gs"] == ("Primary", 0, 1)


@pytest.mark.parametrize(
    ("by", "message"),
    [
        ("funder", "break down by"),
        ("match.nothing", "no such field"),
        ("match.note", "not one"),
        ("contact.remark", "not one"),
        ("contact.Robert'); DROP TABLE", "break down by"),
    ],
)
async def test_bad_breakdowns_name_by(
    db: Database, org_a: Org, history: History, by: str, message: str
) -> None:
    async with db.tenant(org_a.id) as s:
        with pytest.raises(ValidationFailed) as caught:
            await figures.breakdown(s, *YEAR, by)
    assert caught.value.field == "by" and message in caught.value.detail


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        ("2025-02-30", None, "from"),
        ("2025-01-01", "31.12.2025", "to"),
        ("2025-06-01", "2025-01-01", "from"),
        ("2015-01-01", "2025-01-01", "from"),  # ten years and a day
    ],
)
def test_bad_periods_name_the_parameter(first: str, last: str | None, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        figures.period(first, last)
    assert caught.value.field == field


def test_ten_years_exactly_are_allowed_and_default_is_twelve_months() -> None:
    assert figures.period("2015-01-02", "2025-01-01") == (date(2015, 1, 2), date(2025, 1, 1))
    assert figures.period(None, "2025-12-31") == (date(2025, 1, 1), date(2025, 12, 31))
    assert len(figures.buckets(date(2015, 1, 2), date(2025, 1, 1), "month")) == 121
    with pytest.raises(ValidationFailed) as caught:
        figures.buckets(date(2025, 1, 1), date(2025, 2, 1), "week")
    assert caught.value.field == "interval"


async def test_small_numbers_are_suppressed_for_reporters(db: Database, org_a: Org, history: History) -> None:
    async with db.tenant(org_a.id) as s:
        report = suppress_report(await figures.report(s, *YEAR))
    tandems = values(report, "tandems")
    assert tandems["tandems_started"] == 3 and tandems["tandems_ended"] == "< 3"
    assert tandems["tandems_ended_early"] == "< 3"
    # An average over two tandems would single them out.
    assert tandems["duration_avg"] == "< 3" and tandems["days_to_start_avg"] == 10.0
    assert values(report, "mentors_by_age")["under_20"] == "< 3"
    assert values(report, "mentors_by_age")["20_29"] == 0
    assert values(report, "events")["workshop"] == [1, 3, "< 3", "< 3", 66.7]


async def test_another_organisations_rows_never_count(
    db: Database, org_a: Org, org_b: Org, history: History
) -> None:
    async with db.tenant(org_b.id) as s:
        report = await figures.report(s, *YEAR)
        series = await figures.series(s, *YEAR, "quarter")
    assert values(report, "tandems")["tandems_active"] == 0
    assert values(report, "funnel")["signups"] == 0
    assert all(v in (0, None) for f in series.figures for v in f.values)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spans=st.lists(
        st.tuples(st.integers(0, 120), st.one_of(st.none(), st.integers(0, 60))), min_size=0, max_size=8
    ),
    period=st.tuples(st.integers(0, 150), st.integers(0, 60)),
)
def _active_matches_brute_force(
    spans: list[tuple[int, int | None]], period: tuple[int, int], run: Any
) -> None:
    run(spans, period)


async def test_active_at_any_time_equals_a_brute_force_count(db: Database, org_a: Org) -> None:
    """Hypothesis draws tandems (start, optional length) and a period; the SQL must agree with
    counting in Python which tandems started by the period's end and had not ended before its start."""
    base = date(2025, 1, 1)
    loop = asyncio.get_running_loop()
    async with db.tenant(org_a.id) as s:
        mentor = Contact(organization_id=org_a.id, kinds=["mentor"], last_name="Pate")
        mentees = [Contact(organization_id=org_a.id, kinds=["mentee"], last_name=f"K{i}") for i in range(8)]
        for c in (mentor, *mentees):
            derive(c)
            s.add(c)
    mentor_id, mentee_ids = mentor.id, [c.id for c in mentees]

    async def check(spans: list[tuple[int, int | None]], period: tuple[int, int]) -> None:
        first, last = base + timedelta(days=period[0]), base + timedelta(days=period[0] + period[1])
        async with db.session(org_a.id) as s:
            tx = await s.begin()
            for i, (start, length) in enumerate(spans):
                started = base + timedelta(days=start)
                ended = None if length is None else started + timedelta(days=length)
                s.add(Match(organization_id=org_a.id, mentor_id=mentor_id, mentee_id=mentee_ids[i],
                            status="ended" if ended else "active", proposed_on=started, started_on=started,
                            ended_on=ended))  # fmt: skip
            await s.flush()
            report = await figures.report(s, first, last)
            await tx.rollback()
        expected = sum(
            1
            for start, length in spans
            if base + timedelta(days=start) <= last
            and (length is None or base + timedelta(days=start + length) >= first)
        )
        assert values(report, "tandems")["tandems_active"] == expected

    def run(spans: list[tuple[int, int | None]], period: tuple[int, int]) -> None:
        asyncio.run_coroutine_threadsafe(check(spans, period), loop).result()

    await asyncio.to_thread(_active_matches_brute_force, run=run)


# Days a check-in falls on that sit at the edges of the months of the test's period.
_EDGE_DAYS = [
    day for month in range(1, 9) for day in (date(2025, month, 1), date(2025, month, 1) - timedelta(days=1))
]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tandems=st.lists(
        st.tuples(
            st.integers(0, 2),  # mentor
            st.integers(0, 150),  # proposed, days after the base
            st.one_of(st.none(), st.integers(0, 40)),  # days from proposal to start
            st.one_of(st.none(), st.integers(0, 120)),  # length
            st.lists(st.integers(0, 200), max_size=3),  # check-ins, days after the start
            st.lists(st.sampled_from(_EDGE_DAYS), max_size=3),  # check-ins on a month's first or last day
            # a pause: days after the start, and its length (none: it lasts until the tandem ends
            # or, for one still running, until today)
            st.one_of(st.none(), st.tuples(st.integers(0, 90), st.one_of(st.none(), st.integers(1, 70)))),
        ),
        max_size=6,
    ),
)
def _series_against_each_month(tandems: list[Any], run: Any) -> None:
    run(tandems)


def _missed_by_hand(
    first: date,
    last: date,
    started: date,
    ended: date | None,
    pauses: list[tuple[date, date]],
    held: list[date],
    every: int = 30,
) -> int:
    """Check-ins due but missed in one month: every ``every`` days the tandem ran and did not rest
    (a pause's days from its first to the day before it ended), less those held that month."""
    if started > last or (ended is not None and ended < first):
        return 0
    lo, hi = max(started, first), min(ended or last, last)
    resting = sum(
        max((min(until - timedelta(days=1), hi) - max(since, lo)).days + 1, 0) for since, until in pauses
    )
    due = ((hi - lo).days + 1 - resting) // every
    return max(due - sum(1 for day in held if first <= day <= last), 0)


async def test_a_monthly_series_equals_the_report_of_each_month(db: Database, org_a: Org) -> None:
    """A series counts every month as the report of that month alone does; the tandems active, the
    mentors reached and the check-ins missed in a month (pauses, check-ins on a month's edge) are
    also counted here in Python, tandem by tandem."""
    base, first, last = date(2025, 1, 1), date(2025, 1, 15), date(2025, 7, 31)
    loop = asyncio.get_running_loop()
    async with db.tenant(org_a.id) as s:
        mentors = [Contact(organization_id=org_a.id, kinds=["mentor"], last_name=f"P{i}") for i in range(3)]
        mentees = [Contact(organization_id=org_a.id, kinds=["mentee"], last_name=f"K{i}") for i in range(6)]
        for c in (*mentors, *mentees):
            derive(c)
            s.add(c)
    mentor_ids, mentee_ids = [c.id for c in mentors], [c.id for c in mentees]
    compared = (
        "tandems_started", "tandems_active", "tandems_ended", "mentors_reached", "checkins_missed",
        "checkins_held", "days_to_start_avg", "duration_avg", "matched_after_wait", "waiting_at_end",
        "rating_avg", "follow_up_tandems",
    )  # fmt: skip

    async def check(tandems: list[Any]) -> None:
        async with db.session(org_a.id) as s:
            tx = await s.begin()
            spans = []
            for i, (mentor, proposed, wait, length, after, edges, pause) in enumerate(tandems):
                proposed_on = base + timedelta(days=proposed)
                started = None if wait is None else proposed_on + timedelta(days=wait)
                ended = None if started is None or length is None else started + timedelta(days=length)
                # The match's log: started, perhaps paused (and active again), perhaps ended.
                moves: list[tuple[str, date]] = []
                pauses: list[tuple[date, date]] = []
                paused_on = None
                if started is not None:
                    moves.append(("active", started))
                    since = None if pause is None else started + timedelta(days=pause[0])
                    if since is not None and (ended is None or since < ended):
                        moves.append(("paused", since))
                        until = None if pause[1] is None else since + timedelta(days=pause[1])
                        if until is not None and (ended is None or until < ended):
                            moves.append(("active", until))
                            pauses.append((since, until))
                        elif ended is not None:
                            pauses.append((since, ended))
                        else:
                            paused_on = since
                            pauses.append((since, last + timedelta(days=1)))
                    if ended is not None:
                        moves.append(("ended", ended))
                status = (
                    "ended" if ended else ("paused" if paused_on else ("active" if started else "proposed"))
                )
                match = Match(organization_id=org_a.id, mentor_id=mentor_ids[mentor], mentee_id=mentee_ids[i],
                              status=status, proposed_on=proposed_on, started_on=started, ended_on=ended,
                              paused_on=paused_on)  # fmt: skip
                s.add(match)
                await s.flush()
                previous = "proposed"
                for to, on in moves:
                    s.add(MatchEvent(organization_id=org_a.id, match_id=match.id, from_status=previous,
                                     to_status=to, occurred_on=on))  # fmt: skip
                    previous = to
                held = []
                if started is not None:
                    held = [started + timedelta(days=day) for day in after] + list(edges)
                for n, on in enumerate(held):
                    s.add(CheckIn(organization_id=org_a.id, match_id=match.id, occurred_on=on,
                                  channel="phone", rating=1 + n % 5, follow_up=n % 2 == 1))  # fmt: skip
                spans.append((mentor, started, ended, pauses, held))
            await s.flush()
            series = await figures.series(s, first, last, "month")
            months = [await figures.report(s, b.start, b.end) for b in series.buckets]
            await tx.rollback()
        by_key = {f.key: f.values for f in series.figures}
        for n, (bucket, report) in enumerate(zip(series.buckets, months, strict=True)):
            each = {k: v for section in ("tandems", "mentors", "people", "accompaniment")
                    for k, v in values(report, section).items()}  # fmt: skip
            assert {k: by_key[k][n] for k in compared} == {k: each[k] for k in compared}, bucket
            active = [
                (mentor, started, ended, pauses, held)
                for mentor, started, ended, pauses, held in spans
                if started is not None and started <= bucket.end and (ended is None or ended >= bucket.start)
            ]
            assert by_key["tandems_active"][n] == len(active), bucket
            assert by_key["mentors_reached"][n] == len({a[0] for a in active}), bucket
            missed = sum(
                _missed_by_hand(bucket.start, bucket.end, started, ended, pauses, held)
                for _mentor, started, ended, pauses, held in active
            )
            assert by_key["checkins_missed"][n] == missed, bucket

    def run(tandems: list[Any]) -> None:
        asyncio.run_coroutine_threadsafe(check(tandems), loop).result()

    await asyncio.to_thread(_series_against_each_month, run=run)
