"""Recurring tasks: an RFC 5545 RRULE over local wall-clock time.

Occurrences are computed on naive local datetimes and only then placed in the task's time
zone, so a weekly 09:00 task stays at 09:00 in Berlin on both sides of a daylight saving
switch (its UTC instant moves by an hour instead). A local time that does not exist on the
day clocks go forward, or exists twice when they go back, is resolved as RFC 5545 3.3.5
says: with the UTC offset from before the transition.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr  # type: ignore[import-untyped]

from shared.errors import ValidationFailed

PRESETS = {
    "daily": "FREQ=DAILY",
    "weekly": "FREQ=WEEKLY",
    "monthly": "FREQ=MONTHLY",
    "yearly": "FREQ=YEARLY",
}
_ALLOWED_FREQ = {DAILY, WEEKLY, MONTHLY, YEARLY}
_FORBIDDEN_PARTS = ("DTSTART", "BYHOUR", "BYMINUTE", "BYSECOND")
_EVERY_N_WEEKS = re.compile(r"^every\s+(\d{1,2})\s+weeks?$")
# A rule that yields nothing for this long is almost certainly a mistake (e.g. BYMONTHDAY=31;BYMONTH=2).
_LOOKAHEAD_YEARS = 10


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed("unknown time zone %(name)r", field="timezone", name=name) from None


def to_utc(local: datetime, tz: str) -> datetime:
    """A naive local wall-clock time in ``tz`` as a UTC instant (fold=0: the offset before a switch)."""
    return local.replace(tzinfo=zone(tz), fold=0).astimezone(UTC)


def local_now(now: datetime, tz: str) -> datetime:
    return now.astimezone(zone(tz)).replace(tzinfo=None)


def normalize(value: str) -> str:
    """The canonical RRULE text of a preset ('weekly', 'every 2 weeks') or an RRULE; 422 if invalid."""
    raw = value.strip()
    lowered = raw.lower()
    if lowered in PRESETS:
        return PRESETS[lowered]
    if match := _EVERY_N_WEEKS.match(lowered):
        weeks = int(match.group(1))
        return "FREQ=WEEKLY" if weeks == 1 else f"FREQ=WEEKLY;INTERVAL={weeks}"
    rule = raw.upper()
    if rule.startswith("RRULE:"):
        rule = rule[len("RRULE:") :]
    if not rule or "\n" in rule or any(part in rule for part in _FORBIDDEN_PARTS):
        raise ValidationFailed(
            "recurrence must be an RRULE such as FREQ=WEEKLY;INTERVAL=2 (no DTSTART, no times of day)",
            field="recurrence",
        )
    try:
        parsed = rrulestr(rule, dtstart=datetime(2000, 1, 1), forceset=False)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(
            "recurrence is not a valid RRULE: %(exc)s", field="recurrence", exc=exc
        ) from None
    if not isinstance(parsed, rrule) or parsed._freq not in _ALLOWED_FREQ:
        raise ValidationFailed("recurrence must repeat daily, weekly, monthly or yearly", field="recurrence")
    if parsed._interval < 1 or parsed._interval > 366:
        raise ValidationFailed("INTERVAL must be between 1 and 366", field="recurrence")
    return rule


def _rule(rule: str, start: datetime) -> rrule:
    parsed = rrulestr(rule, dtstart=start, forceset=False)
    assert isinstance(parsed, rrule)
    return parsed


def check_yields(rule: str, start: datetime) -> None:
    """Refuse a rule that never produces an occurrence after its start."""
    nxt = _rule(rule, start).after(start, inc=True)
    if nxt is None or nxt > start + timedelta(days=366 * _LOOKAHEAD_YEARS):
        raise ValidationFailed("this recurrence never occurs", field="recurrence")


def first_occurrence(rule: str, start: datetime) -> datetime | None:
    """The series' first occurrence on or after the chosen due date (RFC 5545: DTSTART may not match)."""
    found: datetime | None = _rule(rule, start).after(start, inc=True)
    return found


def next_occurrence(rule: str, start: datetime, after: datetime) -> datetime | None:
    """The occurrence of the series that begins at ``start`` following ``after`` (local, naive)."""
    found: datetime | None = _rule(rule, start).after(after, inc=False)
    return found


def occurrences(rule: str, start: datetime, until: datetime, limit: int = 1000) -> list[datetime]:
    result: list[datetime] = []
    for occurrence in _rule(rule, start):
        if occurrence > until or len(result) >= limit:
            break
        result.append(occurrence)
    return result


def local_due(due_date: date, due_time: time | None) -> datetime:
    return datetime.combine(due_date, due_time or time(0, 0))
