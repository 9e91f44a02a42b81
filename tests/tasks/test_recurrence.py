"""Recurrence on the wall clock of Europe/Berlin: month ends and daylight saving switches."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from shared.errors import ValidationFailed
from shared.tasks import recurrence
from shared.tasks.tasks import schedule

BERLIN = "Europe/Berlin"


def series(rule: str, start: datetime, n: int) -> list[datetime]:
    found = [recurrence.first_occurrence(rule, start)]
    while len(found) < n:
        last = found[-1]
        assert last is not None
        found.append(recurrence.next_occurrence(rule, found[0] or start, last))
    return [f for f in found if f is not None]


def test_monthly_on_the_31st_skips_months_without_one_as_rfc_5545_says() -> None:
    got = series("FREQ=MONTHLY", datetime(2027, 1, 31, 9), 4)
    assert [d.date() for d in got] == [
        date(2027, 1, 31),
        date(2027, 3, 31),
        date(2027, 5, 31),
        date(2027, 7, 31),
    ]


def test_last_day_of_the_month_lands_on_february_28_and_29() -> None:
    got = series("FREQ=MONTHLY;BYMONTHDAY=-1", datetime(2027, 1, 15), 3)
    assert [d.date() for d in got] == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)]
    leap = series("FREQ=MONTHLY;BYMONTHDAY=-1", datetime(2028, 2, 1), 1)
    assert leap[0].date() == date(2028, 2, 29)


def test_daily_across_the_year_end_and_every_second_week() -> None:
    assert [d.date() for d in series("FREQ=DAILY", datetime(2026, 12, 30), 3)] == [
        date(2026, 12, 30),
        date(2026, 12, 31),
        date(2027, 1, 1),
    ]
    rule = recurrence.normalize("every 2 weeks")
    assert rule == "FREQ=WEEKLY;INTERVAL=2"
    assert [d.date() for d in series(rule, datetime(2026, 12, 21), 3)] == [
        date(2026, 12, 21),
        date(2027, 1, 4),
        date(2027, 1, 18),
    ]


def test_a_weekly_0900_task_stays_at_0900_in_berlin_when_summer_time_starts() -> None:
    # Clocks go forward on Sunday 28 March 2027 (CET +01:00 -> CEST +02:00).
    got = series("FREQ=WEEKLY", datetime(2027, 3, 22, 9), 3)
    due = [schedule(d.date(), time(9), BERLIN)[0] for d in got]
    assert due == [
        datetime(2027, 3, 22, 8, tzinfo=UTC),
        datetime(2027, 3, 29, 7, tzinfo=UTC),
        datetime(2027, 4, 5, 7, tzinfo=UTC),
    ]


def test_and_when_summer_time_ends() -> None:
    # Clocks go back on Sunday 25 October 2026 (CEST -> CET).
    got = series("FREQ=DAILY", datetime(2026, 10, 24, 9), 3)
    due = [schedule(d.date(), time(9), BERLIN)[0] for d in got]
    assert [d.hour for d in due] == [7, 8, 8]


def test_a_time_that_does_not_exist_or_exists_twice_uses_the_offset_before_the_switch() -> None:
    # 02:30 does not exist on 28 March 2027: read with +01:00 it is 01:30 UTC (03:30 summer time).
    assert recurrence.to_utc(datetime(2027, 3, 28, 2, 30), BERLIN) == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    # 02:30 happens twice on 25 October 2026: the first one (+02:00).
    assert recurrence.to_utc(datetime(2026, 10, 25, 2, 30), BERLIN) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )


def test_a_task_without_a_time_is_due_at_the_end_of_its_local_day_and_reminded_at_seven() -> None:
    due_at, remind_at = schedule(date(2027, 3, 27), None, BERLIN)
    # The day after is the switch day: midnight is still +01:00.
    assert due_at == datetime(2027, 3, 27, 23, tzinfo=UTC)
    assert remind_at == datetime(2027, 3, 27, 6, tzinfo=UTC)
    due_at, remind_at = schedule(date(2027, 7, 1), None, BERLIN)
    assert due_at == datetime(2027, 7, 1, 22, tzinfo=UTC) and remind_at == datetime(2027, 7, 1, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "bad",
    [
        "FREQ=HOURLY",
        "FREQ=WEEKLY;BYHOUR=9",
        "DTSTART:20260101T000000\nFREQ=DAILY",
        "nonsense",
        "FREQ=WEEKLY;INTERVAL=0",
    ],
)
def test_rules_we_cannot_keep_are_refused(bad: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        recurrence.normalize(bad)
    assert caught.value.field == "recurrence"


def test_a_rule_that_never_occurs_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        recurrence.check_yields("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", datetime(2027, 1, 1))
