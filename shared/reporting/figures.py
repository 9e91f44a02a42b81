"""The standard figures of a programme, for one period, as a series of periods, or broken down.

Every figure is aggregated by PostgreSQL in a handful of statements over a list of periods
("buckets"): the report of one period is the series of one bucket, and a breakdown groups the same
statements by one more expression. Everything runs inside the session's organisation (row-level
security); nothing here reads across organisations. The definitions are in the README
("Reporting: the figures, exactly").

Labels are English message ids, translated by whoever shows them; option labels of custom fields
and programme names are data and come in the requested locale.
"""

# The statements are put together from the fixed fragments below only; every value a caller gives
# (dates, programme, a field's key) is a bound parameter. En dashes are the labels' typography.
# ruff: noqa: S608, RUF001

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta  # type: ignore[import-untyped]
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import today as today
from shared.contacts.models import Programme
from shared.db import current_org
from shared.errors import NotFound, ValidationFailed
from shared.reporting.schemas import (
    Breakdown,
    Bucket,
    Column,
    Report,
    Row,
    Section,
    Series,
    SeriesFigure,
    Table,
)

BERLIN = ZoneInfo("Europe/Berlin")
MAX_YEARS = 10
INTERVALS = ("month", "quarter")
AGE_BANDS = ("under_20", "20_29", "30_49", "50_64", "65_plus", "unknown")
AGE_BAND_LABELS = {
    "under_20": "under 20",
    "20_29": "20–29",
    "30_49": "30–49",
    "50_64": "50–64",
    "65_plus": "65 and older",
    "unknown": "unknown",
}
GENDER_LABELS = {
    "female": "female",
    "male": "male",
    "diverse": "diverse",
    "not_stated": "not stated",
}
EVENT_KIND_LABELS = {
    "workshop": "Workshop",
    "regulars": "Regulars' meeting",
    "outing": "Outing",
    "training": "Training",
}
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Figure:
    """One scalar figure. ``unit``: people (suppressed below 3 for reporters), count (not of people),
    days, hours, rating, rate. ``base`` names the people figure an average is taken over."""

    key: str
    label: str
    unit: str
    section: str
    base: str | None = None


FIGURES: tuple[Figure, ...] = (
    Figure("tandems_started", "Tandems started", "people", "tandems"),
    Figure("tandems_active", "Tandems active at any time", "people", "tandems"),
    Figure("tandems_ended", "Tandems ended", "people", "tandems"),
    Figure("tandems_ended_early", "of them ended early", "people", "tandems"),
    Figure(
        "days_to_start_avg", "Days from proposal to start (average)", "days", "tandems", "tandems_started"
    ),
    Figure(
        "days_to_start_median", "Days from proposal to start (median)", "days", "tandems", "tandems_started"
    ),
    Figure("duration_avg", "Days an ended tandem lasted (average)", "days", "tandems", "tandems_ended"),
    Figure("mentors_reached", "Mentors reached", "people", "tandems"),
    Figure("signups_mentees", "Sign-ups confirmed: mentees", "people", "people"),
    Figure("signups_mentors", "Sign-ups confirmed: mentors", "people", "people"),
    Figure("ready_mentees", "Mentees who became ready", "people", "people"),
    Figure("ready_mentors", "Mentors who became ready", "people", "people"),
    Figure("waiting_at_end", "Mentees waiting at the end of the period", "people", "people"),
    Figure("matched_after_wait", "Mentees matched after waiting", "people", "people"),
    Figure("wait_median", "Days from ready to match (median)", "days", "people", "matched_after_wait"),
    Figure("wait_p90", "Days from ready to match (90th percentile)", "days", "people", "matched_after_wait"),
    Figure("meetings", "Meetings", "count", "accompaniment"),
    Figure("meeting_hours", "Meeting hours", "hours", "accompaniment"),
    Figure("volunteer_hours", "Volunteer hours", "hours", "accompaniment"),
    Figure("checkins_held", "Check-ins held", "count", "accompaniment"),
    Figure("checkins_missed", "Check-ins due but missed", "count", "accompaniment"),
    Figure("rating_avg", "Check-in rating (average, 1–5)", "rating", "accompaniment", "checkins_held"),
    Figure("follow_up_tandems", "Tandems flagged for follow-up", "people", "accompaniment"),
)
BY_KEY = {f.key: f for f in FIGURES}
SECTIONS = {
    "tandems": "Tandems",
    "people": "Mentees and mentors",
    "mentors": "Mentors reached",
    "accompaniment": "Accompaniment",
    "events": "Events",
    "funnel": "From sign-up to tandem",
}
# What a breakdown shows: figures that belong to a tandem, grouped by the tandem's (mentee's) value.
BREAKDOWN_FIGURES = (
    "tandems_started",
    "tandems_active",
    "tandems_ended",
    "tandems_ended_early",
    "mentors_reached",
    "meetings",
    "meeting_hours",
    "volunteer_hours",
    "checkins_held",
    "follow_up_tandems",
)
FUNNEL = (
    ("signups", "Sign-up forms sent"),
    ("confirmed", "E-mail address confirmed"),
    ("screened", "Screening done"),
    ("ready", "Ready"),
    ("matched", "Matched"),
    ("active_3m", "Active 3 months later"),
)

# ---------------------------------------------------------------- periods and parameters


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed("a day is written YYYY-MM-DD", field=field) from None


def period(first: str | None, last: str | None, now: date | None = None) -> tuple[date, date]:
    """The period asked for, by default the last twelve months up to today (both days included)."""
    now = now or today()
    end = _day(last, "to") or now
    start = _day(first, "from") or end - relativedelta(years=1) + timedelta(days=1)
    if start > end:
        raise ValidationFailed("the period must start before it ends", field="from")
    if start < end - relativedelta(years=MAX_YEARS) + timedelta(days=1) or start.year < 1900:
        raise ValidationFailed("a period is at most 10 years", field="from")
    return start, end


def buckets(start: date, end: date, interval: str) -> list[Bucket]:
    """Calendar months or quarters covering the period; the first and last are cut to it."""
    if interval not in INTERVALS:
        raise ValidationFailed("the interval is month or quarter", field="interval")
    step = 1 if interval == "month" else 3
    first = date(start.year, (start.month - 1) // step * step + 1, 1)
    out = []
    while first <= end:
        nxt = first + relativedelta(months=step)
        label = (
            f"{first.year}-{first.month:02d}"
            if interval == "month"
            else f"{first.year} Q{(first.month - 1) // 3 + 1}"
        )
        out.append(Bucket(start=max(first, start), end=min(nxt - timedelta(days=1), end), label=label))
        first = nxt
    return out


async def programme_of(session: AsyncSession, programme_id: uuid.UUID | None) -> Programme | None:
    if programme_id is None:
        return None
    found = await session.get(Programme, {"organization_id": session.info["org_id"], "id": programme_id})
    if found is None:
        raise NotFound("no such programme")
    return found


# ---------------------------------------------------------------- breakdown dimensions

_KEY = re.compile(r"^(contact|match)\.([a-z][a-z0-9_]{0,49})$")
FIXED_DIMENSIONS = ("programme", "gender", "age_band")


@dataclass(frozen=True)
class Dimension:
    """What a breakdown groups by: ``programme``, ``gender``, ``age_band`` (of the mentee, at the
    period's end), ``contact.<key>`` (a choice field of the mentee) or ``match.<key>``."""

    key: str
    label: str
    field_key: str | None = None
    options: tuple[tuple[str, str], ...] = ()

    def sql(self, person: str, programme: str, match_custom: str, day: str) -> str:
        if self.key == "programme":
            return f"{programme}::text"
        if self.key == "gender":
            return f"coalesce({person}.gender, 'not_stated')"
        if self.key == "age_band":
            return age_band_sql(person, day)
        owner = f"{person}.custom" if self.key.startswith("contact.") else match_custom
        return f"{owner} ->> CAST(:dim_key AS text)"


def age_band_sql(person: str, day: str) -> str:
    age = f"extract(year from age({day}, {person}.birth_date))"
    return (
        f"CASE WHEN {person}.birth_date IS NULL OR {person}.birth_date > {day} THEN 'unknown' "
        f"WHEN {age} < 20 THEN 'under_20' WHEN {age} < 30 THEN '20_29' WHEN {age} < 50 THEN '30_49' "
        f"WHEN {age} < 65 THEN '50_64' ELSE '65_plus' END"
    )


async def dimension(session: AsyncSession, by: str, locale: str = "en") -> Dimension:
    """The breakdown ``by`` names, or a problem naming ``by``: unknown, or not a choice field."""
    if by == "programme":
        return Dimension("programme", "Programme")
    if by == "gender":
        return Dimension("gender", "Gender", options=tuple(GENDER_LABELS.items()))
    if by == "age_band":
        return Dimension("age_band", "Age band", options=tuple(AGE_BAND_LABELS.items()))
    found = _KEY.match(by or "")
    if not found:
        raise ValidationFailed(
            "break down by programme, gender, age_band, contact.<field> or match.<field>", field="by"
        )
    table = "contact_fields" if found.group(1) == "contact" else "match_fields"
    row = (
        await session.execute(
            text(
                f"SELECT type, label_de, label_en, options FROM {table} "
                "WHERE key = :key AND archived_at IS NULL"
            ),
            {"key": found.group(2)},
        )
    ).first()
    if row is None:
        raise ValidationFailed("there is no such field to break down by", field="by")
    if row.type != "choice":
        raise ValidationFailed("only choice fields break down; this field is not one", field="by")
    pick = "label_de" if locale == "de" else "label_en"
    options = tuple((o["value"], o.get(pick) or o["label_de"]) for o in row.options)
    return Dimension(by, getattr(row, pick) or row.label_de, found.group(2), options)


# ---------------------------------------------------------------- the statements

_BUCKETS = """b AS (
  SELECT s, e, i FROM unnest(CAST(:starts AS date[]), CAST(:ends AS date[])) WITH ORDINALITY AS x(s, e, i)
)"""
_PROGRAMME_MATCH = "(CAST(:programme AS uuid) IS NULL OR m.programme_id = CAST(:programme AS uuid))"
_PROGRAMME_CONTACT = """(CAST(:programme AS uuid) IS NULL OR EXISTS (
  SELECT 1 FROM contact_programme_members pm
  WHERE pm.organization_id = :org AND pm.contact_id = c.id AND pm.programme_id = CAST(:programme AS uuid)))"""
# The check-in interval of a tandem's programme, else the organisation's, else 30 days.
_INTERVAL = """coalesce(own.checkin_interval_days,
  (SELECT ms.checkin_interval_days FROM matching_settings ms
   WHERE ms.organization_id = :org AND ms.programme_id IS NULL), 30)"""
# A bucket's number for a day, when the buckets are consecutive (as :starts always is).
_BUCKET_OF = "width_bucket({day}, CAST(:starts AS date[]))"
_BERLIN_DAY = "({column} AT TIME ZONE 'Europe/Berlin')::date"


# Pauses that ended (a tandem paused, then active again or ended), from the match's log; the
# pause a tandem is in now comes from its paused_on.
_PAUSES = """pauses AS MATERIALIZED (
  SELECT e.match_id, e.occurred_on AS since, r.occurred_on AS until
  FROM match_events e
  CROSS JOIN LATERAL (
    SELECT n.occurred_on FROM match_events n
    WHERE n.organization_id = e.organization_id AND n.match_id = e.match_id
      AND n.to_status IN ('active', 'ended') AND (n.occurred_on, n.id) > (e.occurred_on, e.id)
    ORDER BY n.occurred_on, n.id LIMIT 1
  ) r
  WHERE e.organization_id = :org AND e.to_status = 'paused' AND e.occurred_on <= CAST(:last AS date)
    AND r.occurred_on >= CAST(:first AS date)
)"""


# The days of bucket ``b`` that tandem ``m`` spent paused: no check-in falls due while it rests.
_RESTING = """SELECT coalesce(sum(greatest(
    least(pz.until - 1, coalesce(m.ended_on, b.e), b.e) - greatest(pz.since, m.started_on, b.s) + 1, 0)), 0)
  FROM (SELECT pa.since, pa.until FROM pauses pa WHERE pa.match_id = m.id
        UNION ALL SELECT m.paused_since, CAST(:last AS date) + 1 WHERE m.paused_since IS NOT NULL) pz"""
# Mentors reached per bucket without a pair per (mentor, month): each mentor's tandems are active
# from bucket ``lo`` to ``hi`` (numbered as the buckets are, which are consecutive); sorted by first
# bucket, a tandem adds the buckets after the last one its mentor's earlier tandems reached, and a
# running sum over the buckets counts the mentors.
_REACHED = """isl AS (
  SELECT m.hi, greatest(m.lo, coalesce(max(m.hi) OVER (PARTITION BY m.mentor_id ORDER BY m.lo, m.hi
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) + 1) AS lo
  FROM m WHERE m.lo <= m.hi
),
reached AS (
  SELECT b.i, NULL AS dim, (sum(coalesce(d.n, 0)) OVER (ORDER BY b.i))::bigint AS mentors_reached
  FROM b LEFT JOIN (
    SELECT x.at, sum(x.n) AS n
    FROM (SELECT lo AS at, 1 AS n FROM isl WHERE lo <= hi
          UNION ALL SELECT hi + 1, -1 FROM isl WHERE lo <= hi) x
    GROUP BY x.at
  ) d ON d.at = b.i
)"""


# Whole months come from report_activity_months (kept by triggers, migration 0025); the days of
# a month the period cuts (before :whole_from, after :whole_to) from the activities themselves.
_WHOLE_MONTHS = "a.month BETWEEN CAST(:whole_from AS date) AND CAST(:whole_to AS date)"
_CUT_DAYS = (
    "({day} BETWEEN CAST(:first AS date) AND CAST(:head_to AS date) "
    "OR {day} BETWEEN CAST(:tail_from AS date) AND CAST(:last AS date))"
)
_RATINGS = ("rating_1", "rating_2", "rating_3", "rating_4", "rating_5")


def _held_sql(monthly: bool) -> str:
    """Check-ins per tandem and bucket. In monthly buckets a summary row is already one tandem's
    bucket: only the cut days are grouped."""
    ratings = ", ".join(f"(k.rating = {n})::int AS rating_{n}" for n in range(1, 6))
    cut = f"""SELECT k.match_id, {_BUCKET_OF.format(day="k.occurred_on")} AS i, 1 AS n, {ratings},
      k.follow_up::int AS follow_ups
    FROM match_checkins k WHERE k.organization_id = :org AND {_CUT_DAYS.format(day="k.occurred_on")}"""
    whole = f"""SELECT a.match_id, {_BUCKET_OF.format(day="a.month")} AS i, a.checkins AS n,
      {", ".join(f"a.{r}" for r in _RATINGS)}, a.follow_ups
    FROM report_activity_months a WHERE a.organization_id = :org AND a.checkins > 0 AND {_WHOLE_MONTHS}"""
    summed = (
        "x.match_id, x.i, sum(x.n)::int AS n, "
        "sum(x.rating_1 + 2 * x.rating_2 + 3 * x.rating_3 + 4 * x.rating_4 + 5 * x.rating_5) AS rating_sum, "
        + ", ".join(f"sum(x.{r}) AS {r}" for r in _RATINGS)
        + ", bool_or(x.follow_ups > 0) AS follow_up"
    )
    if not monthly:
        return f"""held AS MATERIALIZED (
  SELECT {summed} FROM ({whole} UNION ALL {cut}) x GROUP BY 1, 2
)"""
    as_is = (
        "x.match_id, x.i, x.n, "
        "x.rating_1 + 2 * x.rating_2 + 3 * x.rating_3 + 4 * x.rating_4 + 5 * x.rating_5 AS rating_sum, "
        + ", ".join(f"x.{r}" for r in _RATINGS)
        + ", x.follow_ups > 0 AS follow_up"
    )
    return f"""held AS MATERIALIZED (
  SELECT {as_is} FROM ({whole}) x
  UNION ALL SELECT {summed} FROM ({cut}) x GROUP BY 1, 2
)"""


# What stands in for a part of the statement a series did not ask for (the dashboard's charts
# need neither mentors reached nor meetings).
_NOT_ASKED = {
    "reached": "reached AS (SELECT 0 AS i, NULL::text AS dim, 0::bigint AS mentors_reached WHERE false)",
    "meet": """meet AS (SELECT 0 AS i, NULL::text AS dim, 0::bigint AS meetings, 0::numeric AS meeting_hours,
    0::numeric AS volunteer_hours WHERE false)""",
}
_MEETING_FIGURES = {"meetings", "meeting_hours", "volunteer_hours"}
_WAIT_FIGURES = {"matched_after_wait", "wait_median", "wait_p90"}


def _tandems_sql(
    dim: str, joins: bool, one_bucket: bool, monthly: bool, keys: frozenset[str] | None = None
) -> str:
    # A tandem is counted in a bucket when it was proposed by the bucket's end and had not ended
    # before its start (``span``). Starts, ends and proposals fall into one bucket each: they are
    # found by the day's bucket number. The figures that need every bucket a tandem ran in (active,
    # check-ins missed) do without a row per tandem and bucket (a quarter of a million for a 5-year
    # series): a tandem runs from bucket ``lo`` to ``hi``, so +1 and -1 marks and a running sum over
    # the bucket numbers count it in each; in the buckets it ran whole, floor(days / interval)
    # check-ins fall due, summed the same way per interval. Only its first and last bucket, the
    # buckets with a check-in held and the tandems that rested get rows of their own.
    # Check-ins are read once, per tandem and bucket: what was held there, and the check-in figures.
    span = "m.proposed_on <= b.e AND (m.ended_on IS NULL OR m.ended_on >= b.s)"
    ran = "least(coalesce(m.ended_on, b.e), b.e) - greatest(m.started_on, b.s) + 1"
    bucket_end, bucket_start = "(CAST(:ends AS date[]))[h.i]", "(CAST(:starts AS date[]))[h.i]"
    ran_h = (
        f"least(coalesce(m.ended_on, {bucket_end}), {bucket_end}) "
        f"- greatest(m.started_on, {bucket_start}) + 1"
    )
    one = "CAST(:first AS date) AND CAST(:last AS date)"
    ran_in_period = (
        "m.started_on <= CAST(:last AS date) AND (m.ended_on IS NULL OR m.ended_on >= CAST(:first AS date))"
    )
    if one_bucket:
        # One period (a report, a breakdown): the mentors of its tandems, counted once each.
        reached = """reached AS (
  SELECT 1 AS i, m.dim, count(DISTINCT m.mentor_id) AS mentors_reached
  FROM m WHERE m.lo <= m.hi GROUP BY m.dim
)"""
    else:
        reached = _REACHED
    # Without a programme or a breakdown, the check-ins need neither their tandem nor its mentee.
    held_tables = (
        """JOIN matches m ON m.organization_id = :org AND m.id = h.match_id
  JOIN contacts p ON p.organization_id = :org AND p.id = m.mentee_id
  WHERE (CAST(:programme AS uuid) IS NULL OR m.programme_id = CAST(:programme AS uuid))"""
        if joins
        else ""
    )
    step = "SELECT m.dim, m.every, {at} AS at, {active} AS active, {whole} AS whole FROM m WHERE {where}"
    ev = (
        "SELECT b.i, '{kind}' AS kind, m.dim, m.proposed_on, m.started_on, m.ended_on, m.ended_early, "
        f"m.waiting_since FROM m JOIN b ON b.i = {_BUCKET_OF.format(day='{day}')} WHERE {{where}} AND {span}"
    )
    # The mentee is read only for a breakdown or for how long mentees waited (the dashboard's
    # charts need neither: a join of every tandem with its contact less).
    wait_asked = keys is None or bool(keys & _WAIT_FIGURES)
    mentee = "JOIN contacts p ON p.organization_id = :org AND p.id = m.mentee_id"
    if not wait_asked and dim == "NULL":
        mentee = ""
    waiting_since = "p.waiting_since" if wait_asked else "NULL::date"
    events_of = [
        ev.format(kind="started", day="m.started_on", where=f"m.started_on BETWEEN {one}"),
        ev.format(
            kind="ended", day="m.ended_on", where=f"m.started_on IS NOT NULL AND m.ended_on BETWEEN {one}"
        ),
    ]
    if wait_asked:
        waited = f"m.proposed_on BETWEEN {one} AND m.waiting_since <= m.proposed_on"
        events_of.append(ev.format(kind="waited", day="m.proposed_on", where=waited))
    whole = "NOT m.rests AND m.hi > m.lo + 1"
    return f"""WITH {_BUCKETS},
{_held_sql(monthly)},
-- Tandems flagged in a bucket: those with a check-in there that asks for a follow-up.
checkins AS (
  SELECT h.i, {
        dim
    } AS dim, sum(h.n) AS checkins_held, sum(h.rating_sum) / nullif(sum(h.n), 0)::numeric AS rating_avg,
    sum(h.rating_1) AS rating_1, sum(h.rating_2) AS rating_2, sum(h.rating_3) AS rating_3,
    sum(h.rating_4) AS rating_4, sum(h.rating_5) AS rating_5,
    count(*) FILTER (WHERE h.follow_up) AS follow_up_tandems
  FROM held h
  {held_tables}
  GROUP BY 1, 2
),
{_PAUSES},
-- MATERIALIZED: computed once, not again for every CTE below.
m AS MATERIALIZED (
  SELECT m.id, m.mentor_id, m.proposed_on, m.started_on, m.ended_on, m.ended_early, {
        waiting_since
    } AS waiting_since,
         {dim} AS dim, {_INTERVAL} AS every,
         CASE WHEN m.status = 'paused' THEN m.paused_on END AS paused_since,
         m.status = 'paused' OR m.id IN (SELECT pa.match_id FROM pauses pa) AS rests,
         CASE WHEN {ran_in_period} THEN greatest({_BUCKET_OF.format(day="m.started_on")}, 1) END AS lo,
         CASE WHEN {ran_in_period} THEN {
        _BUCKET_OF.format(day="least(coalesce(m.ended_on, CAST(:last AS date)), CAST(:last AS date))")
    } END AS hi
  FROM matches m {mentee}
  LEFT JOIN matching_settings own ON own.organization_id = :org AND own.programme_id = m.programme_id
  WHERE m.organization_id = :org AND {_PROGRAMME_MATCH} AND m.proposed_on <= CAST(:last AS date)
    AND (m.ended_on IS NULL OR m.ended_on >= CAST(:first AS date))
),
-- One select per kind of event, each reading only the tandems it counts (a row per tandem and
-- kind, most of them empty, cost a fifth of the statement).
ev AS (
  {" UNION ALL ".join(events_of)}
),
events AS (
  SELECT m.i, m.dim,
    count(*) FILTER (WHERE m.kind = 'started') AS tandems_started,
    count(*) FILTER (WHERE m.kind = 'ended') AS tandems_ended,
    count(*) FILTER (WHERE m.kind = 'ended' AND m.ended_early) AS tandems_ended_early,
    avg(m.started_on - m.proposed_on) FILTER (WHERE m.kind = 'started') AS days_to_start_avg,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY m.started_on - m.proposed_on)
      FILTER (WHERE m.kind = 'started') AS days_to_start_median,
    avg(m.ended_on - m.started_on) FILTER (WHERE m.kind = 'ended') AS duration_avg,
    count(*) FILTER (WHERE m.kind = 'waited') AS matched_after_wait,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY m.proposed_on - m.waiting_since)
      FILTER (WHERE m.kind = 'waited') AS wait_median,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY m.proposed_on - m.waiting_since)
      FILTER (WHERE m.kind = 'waited') AS wait_p90
  FROM ev m
  GROUP BY 1, 2
),
-- Marks per check-in interval: active from ``lo`` to ``hi``, ran whole from ``lo + 1`` to ``hi - 1``
-- (a tandem that rested is counted on its own below).
steps AS (
  SELECT x.dim, x.every, x.at, sum(x.active) AS active, sum(x.whole) AS whole
  FROM ({step.format(at="m.lo", active=1, whole=0, where="m.lo <= m.hi")}
        UNION ALL {step.format(at="m.hi + 1", active=-1, whole=0, where="m.lo <= m.hi")}
        UNION ALL {step.format(at="m.lo + 1", active=0, whole=1, where=whole)}
        UNION ALL {step.format(at="m.hi", active=0, whole=-1, where=whole)}) x
  GROUP BY 1, 2, 3
),
running AS (
  SELECT b.i, k.dim, k.every, b.e - b.s + 1 AS days,
    sum(coalesce(s.active, 0)) OVER w AS active, sum(coalesce(s.whole, 0)) OVER w AS whole
  FROM b CROSS JOIN (SELECT DISTINCT s.dim, s.every FROM steps s) k
  LEFT JOIN steps s ON s.dim IS NOT DISTINCT FROM k.dim AND s.every = k.every AND s.at = b.i
  WINDOW w AS (PARTITION BY k.dim, k.every ORDER BY b.i)
),
-- Integer division: it truncates where floor() would round down, but only below zero, which
-- greatest() turns into 0 either way. Summed per bucket here, so the union below is of buckets,
-- not of the 50,000 tandem-months with a check-in. A rested tandem's buckets come from its own
-- range (generate_series), not from comparing every tandem with every bucket.
exact AS (
  -- The first and the last bucket of a tandem that never rested: the days it ran.
  SELECT b.i, m.dim, sum(greatest(({ran}) / m.every, 0)) AS missed
  FROM m CROSS JOIN LATERAL (VALUES (m.lo), (CASE WHEN m.hi > m.lo THEN m.hi END)) x(i)
  JOIN b ON b.i = x.i
  WHERE NOT m.rests AND m.lo <= m.hi
  GROUP BY 1, 2
  UNION ALL
  -- Less the check-ins held in each bucket it ran in, up to those due there. The bucket's days
  -- come from the arrays, not from a join with ``b``: the held rows then meet the tandems in one
  -- hash join, where a join with the buckets first had them sorted by tandem.
  SELECT h.i, m.dim, -sum(least(h.n, greatest(({ran_h}) / m.every, 0)))
  FROM held h JOIN m ON m.id = h.match_id
  WHERE NOT m.rests AND h.i BETWEEN m.lo AND m.hi
  GROUP BY 1, 2
  UNION ALL
  -- A tandem that rested: every bucket it ran in, less its pause days.
  SELECT b.i, m.dim, greatest((({ran}) - ({_RESTING})) / m.every - coalesce(h.n, 0), 0)
  FROM m CROSS JOIN LATERAL generate_series(m.lo, m.hi) g(i) JOIN b ON b.i = g.i
  -- Only the rested tandems' held rows: joined whole, the 50,000 would be sorted for a handful.
  LEFT JOIN (SELECT h.match_id, h.i, h.n FROM held h
             WHERE h.match_id IN (SELECT r.id FROM m r WHERE r.rests)) h
    ON h.match_id = m.id AND h.i = b.i
  WHERE m.rests
),
f AS (
  SELECT t.i, t.dim, sum(t.active) AS tandems_active, sum(t.missed) AS checkins_missed
  FROM (SELECT r.i, r.dim, r.active, r.whole * (r.days / r.every) AS missed FROM running r
        UNION ALL SELECT x.i, x.dim, 0, x.missed FROM exact x) t
  GROUP BY 1, 2
),
{reached if keys is None or "mentors_reached" in keys else _NOT_ASKED["reached"]},
{_meetings_sql(dim, joins) if keys is None or keys & _MEETING_FIGURES else _NOT_ASKED["meet"]},
keys AS (
  SELECT b.i, d.dim FROM b CROSS JOIN (SELECT DISTINCT m.dim FROM m) d
  UNION SELECT c.i, c.dim FROM checkins c
  UNION SELECT t.i, t.dim FROM meet t
)
SELECT k.i, k.dim,
  coalesce(f.tandems_active, 0)::bigint AS tandems_active,
  coalesce(f.checkins_missed, 0)::numeric AS checkins_missed,
  coalesce(r.mentors_reached, 0)::bigint AS mentors_reached,
  coalesce(v.tandems_started, 0) AS tandems_started,
  coalesce(v.tandems_ended, 0) AS tandems_ended,
  coalesce(v.tandems_ended_early, 0) AS tandems_ended_early,
  v.days_to_start_avg, v.days_to_start_median, v.duration_avg,
  coalesce(v.matched_after_wait, 0) AS matched_after_wait, v.wait_median, v.wait_p90,
  coalesce(c.checkins_held, 0) AS checkins_held, c.rating_avg,
  coalesce(c.rating_1, 0) AS rating_1, coalesce(c.rating_2, 0) AS rating_2,
  coalesce(c.rating_3, 0) AS rating_3, coalesce(c.rating_4, 0) AS rating_4,
  coalesce(c.rating_5, 0) AS rating_5, coalesce(c.follow_up_tandems, 0) AS follow_up_tandems,
  coalesce(t.meetings, 0) AS meetings, coalesce(t.meeting_hours, 0) AS meeting_hours,
  coalesce(t.volunteer_hours, 0) AS volunteer_hours
FROM keys k
LEFT JOIN f ON f.i = k.i AND f.dim IS NOT DISTINCT FROM k.dim
LEFT JOIN reached r ON r.i = k.i AND r.dim IS NOT DISTINCT FROM k.dim
LEFT JOIN events v ON v.i = k.i AND v.dim IS NOT DISTINCT FROM k.dim
LEFT JOIN checkins c ON c.i = k.i AND c.dim IS NOT DISTINCT FROM k.dim
LEFT JOIN meet t ON t.i = k.i AND t.dim IS NOT DISTINCT FROM k.dim"""


def _meetings_sql(dim: str, joins: bool) -> str:
    # Without a programme or a breakdown, the match and its mentee are not needed: one pass over
    # the meetings.
    tables = (
        """JOIN matches m ON m.organization_id = :org AND m.id = v.match_id
  JOIN contacts p ON p.organization_id = :org AND p.id = m.mentee_id
  WHERE (CAST(:programme AS uuid) IS NULL OR m.programme_id = CAST(:programme AS uuid))"""
        if joins
        else ""
    )
    return f"""meet AS (
  SELECT v.i, {dim} AS dim, sum(v.meetings) AS meetings,
    sum(v.duration_minutes) / 60.0 AS meeting_hours,
    sum(v.volunteer_minutes) / 60.0 AS volunteer_hours
  FROM (SELECT {_BUCKET_OF.format(day="a.month")} AS i, a.match_id, a.meetings,
               a.meeting_minutes AS duration_minutes, a.volunteer_minutes
        FROM report_activity_months a
        WHERE a.organization_id = :org AND a.meetings > 0 AND {_WHOLE_MONTHS}
        UNION ALL
        SELECT {_BUCKET_OF.format(day="v.occurred_on")}, v.match_id, 1, v.duration_minutes,
               v.volunteer_minutes
        FROM match_meetings v
        WHERE v.organization_id = :org AND {_CUT_DAYS.format(day="v.occurred_on")}) v
  {tables}
  GROUP BY 1, 2
)"""


def _people_sql(dim: str) -> str:
    # A mentee waits from ``waiting_since`` until the day before their next match was proposed;
    # without one, while still ready, or else until their status last changed.
    # Each person by bucket number, not once per month: who became ready falls into one bucket, and
    # a mentee waits at the end of the buckets from the one they became ready in (``lo``) to the
    # last whose end they were still waiting on (``hi``; a running sum over +1 and -1 marks). The
    # bucket numbers are taken in the same pass that finds the next match: a second pass over
    # 20,000 people cost a seventh of the statement.
    return f"""WITH {_BUCKETS},
c AS MATERIALIZED (
  SELECT c.kinds, c.waiting_since,
    greatest(width_bucket(c.waiting_since, CAST(:starts AS date[])), 1) AS lo,
    width_bucket(coalesce(
      min(m.proposed_on) - 1,
      CASE WHEN c.status = 'ready' THEN 'infinity'::date
           ELSE {_BERLIN_DAY.format(column="c.status_changed_at")} - 1 END), CAST(:ends AS date[])) AS hi
  FROM contacts c
  LEFT JOIN matches m ON m.organization_id = :org AND m.mentee_id = c.id
       AND m.proposed_on >= c.waiting_since
  WHERE c.organization_id = :org AND c.waiting_since <= CAST(:last AS date) AND {_PROGRAMME_CONTACT}
  GROUP BY c.organization_id, c.id
),
marks AS (
  SELECT c.lo AS at,
         CASE WHEN 'mentee' = ANY(c.kinds) AND c.waiting_since >= CAST(:first AS date) THEN 1 ELSE 0 END
           AS ready_mentees,
         CASE WHEN 'mentor' = ANY(c.kinds) AND c.waiting_since >= CAST(:first AS date) THEN 1 ELSE 0 END
           AS ready_mentors,
         CASE WHEN 'mentee' = ANY(c.kinds) AND c.lo <= c.hi THEN 1 ELSE 0 END AS waiting
  FROM c
  UNION ALL
  SELECT c.hi + 1, 0, 0, -1 FROM c WHERE 'mentee' = ANY(c.kinds) AND c.lo <= c.hi
),
per AS (
  SELECT k.at, sum(k.ready_mentees) AS ready_mentees, sum(k.ready_mentors) AS ready_mentors,
         sum(k.waiting) AS waiting
  FROM marks k GROUP BY k.at
),
-- Sign-ups confirmed, by the day they were confirmed.
su AS (
  SELECT b.i,
    count(*) FILTER (WHERE f.audience = 'mentee') AS signups_mentees,
    count(*) FILTER (WHERE f.audience = 'mentor') AS signups_mentors
  FROM intake_submissions s
  JOIN intake_forms f ON f.organization_id = :org AND f.id = s.form_id
  JOIN b ON b.i = {_BUCKET_OF.format(day=_BERLIN_DAY.format(column="s.confirmed_at"))}
  WHERE s.organization_id = :org AND s.confirmed_at IS NOT NULL
    AND {_BERLIN_DAY.format(column="s.confirmed_at")} BETWEEN CAST(:first AS date) AND CAST(:last AS date)
    AND (CAST(:programme AS uuid) IS NULL OR f.programme_id = CAST(:programme AS uuid))
  GROUP BY b.i
)
SELECT b.i, {dim} AS dim,
  coalesce(su.signups_mentees, 0) AS signups_mentees, coalesce(su.signups_mentors, 0) AS signups_mentors,
  coalesce(p.ready_mentees, 0)::bigint AS ready_mentees,
  coalesce(p.ready_mentors, 0)::bigint AS ready_mentors,
  (sum(coalesce(p.waiting, 0)) OVER (ORDER BY b.i))::bigint AS waiting_at_end
FROM b LEFT JOIN per p ON p.at = b.i LEFT JOIN su ON su.i = b.i"""


_EXTRA = ("rating_1", "rating_2", "rating_3", "rating_4", "rating_5")
Values = dict[str, float | int | None]


def _number(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return round(float(value), 1)


def _whole_months(first: date, last: date) -> dict[str, date]:
    """The calendar months wholly inside the period, and the cut days before and after them."""
    whole_from = first if first.day == 1 else first.replace(day=1) + relativedelta(months=1)
    after = last + timedelta(days=1)
    whole_to = last if after.day == 1 else last.replace(day=1) - timedelta(days=1)
    if whole_from > whole_to:
        # No whole month: every day is read from the activities.
        return {"whole_from": whole_from, "whole_to": whole_to, "head_to": last, "tail_from": after}
    return {
        "whole_from": whole_from,
        "whole_to": whole_to,
        "head_to": whole_from - timedelta(days=1),
        "tail_from": whole_to + timedelta(days=1),
    }


async def _compute(
    session: AsyncSession,
    spans: list[Bucket],
    programme_id: uuid.UUID | None,
    dim: Dimension | None,
    groups: tuple[str, ...] = ("tandems", "people"),
    keys: tuple[str, ...] | None = None,
) -> dict[tuple[int, str | None], Values]:
    """Every scalar figure (or those of ``keys``, and some more) per (bucket number from 1,
    dimension value)."""
    params = {
        "starts": [b.start for b in spans],
        "ends": [b.end for b in spans],
        "first": spans[0].start,
        "last": spans[-1].end,
        "programme": programme_id,
        "dim_key": dim.field_key if dim else None,
        "org": current_org(session),
        **_whole_months(spans[0].start, spans[-1].end),
    }
    statements = {
        # A breakdown covers one period: a mentee's age band is the one at its end.
        "tandems": _tandems_sql(
            dim.sql("p", "m.programme_id", "m.custom", "CAST(:last AS date)") if dim else "NULL",
            joins=dim is not None or programme_id is not None,
            one_bucket=len(spans) == 1,
            monthly=all((b.start.year, b.start.month) == (b.end.year, b.end.month) for b in spans),
            keys=frozenset(keys) if keys else None,
        ),
        # People and sign-ups are not broken down: a breakdown shows what belongs to tandems.
        "people": _people_sql("NULL"),
    }
    out: dict[tuple[int, str | None], Values] = {}
    # One statement serves one day and 120 months alike: a plan cached for one would ruin the other.
    # A 5-year series groups some 50,000 check-ins by tandem and month: in the default 4 MB of
    # working memory that hash table spills to disk, so this transaction may use more. Set once
    # per transaction (a page asks for a report and a trend in one). The planner's estimates for
    # these statements run far above JIT's thresholds, and a server built with LLVM would spend
    # more on compiling them than they take to run.
    transaction = session.get_transaction()
    if session.info.get("report_settings") is not transaction:
        await session.execute(
            text(
                "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), "
                "set_config('work_mem', '64MB', true), set_config('jit', 'off', true)"
            )
        )
        session.info["report_settings"] = transaction
    for group in groups:
        rows = (await session.execute(text(statements[group]), params)).mappings().all()
        for row in rows:
            values = out.setdefault((int(row["i"]), row["dim"]), {})
            for key, value in row.items():
                if key not in ("i", "dim"):
                    values[key] = _number(value)
    return out


def _zero(values: Values) -> Values:
    """Counts are 0 where no row was found; averages stay unknown (None)."""
    full: Values = {}
    for f in FIGURES:
        v = values.get(f.key)
        full[f.key] = v if v is not None else (0 if f.unit in ("people", "count", "hours") else None)
    for key in _EXTRA:
        full[key] = values.get(key) or 0
    return full


def _rows(keys: tuple[str, ...], values: Values) -> list[Row]:
    return [Row(k, BY_KEY[k].label, [values[k]], unit=BY_KEY[k].unit, base=BY_KEY[k].base) for k in keys]


_VALUE = [Column("value", "Value", "count")]


def _figure_table(key: str, title: str, keys: tuple[str, ...], values: Values) -> Table:
    return Table(key, title, _VALUE, _rows(keys, values))


async def _end_reasons(
    session: AsyncSession, start: date, end: date, programme: uuid.UUID | None, locale: str
) -> Table:
    label = "r.label_de" if locale == "de" else "coalesce(nullif(r.label_en, ''), r.label_de)"
    rows = await session.execute(
        text(f"""
SELECT r.key, {label} AS label, count(*) AS n
FROM matches m
LEFT JOIN match_end_reasons r ON r.organization_id = m.organization_id AND r.id = m.end_reason_id
WHERE m.organization_id = :org AND m.started_on IS NOT NULL AND m.ended_on BETWEEN :first AND :last
  AND {_PROGRAMME_MATCH}
GROUP BY r.key, 2, r.position ORDER BY r.position NULLS LAST, 2"""),
        {"first": start, "last": end, "programme": programme, "org": current_org(session)},
    )
    return Table(
        "end_reasons",
        "End reasons",
        [Column("tandems", "Tandems", "people")],
        [Row(r.key or UNKNOWN, r.label or "no reason recorded", [r.n]) for r in rows],
        chart="bar",
    )


async def _mentors(session: AsyncSession, start: date, end: date, programme: uuid.UUID | None) -> list[Table]:
    # Both tables in one pass over the tandems: grouping sets, one per table.
    age = age_band_sql("r", "CAST(:last AS date)")
    sql = f"""
SELECT {age} AS age, coalesce(r.gender, 'not_stated') AS gender, count(DISTINCT m.mentor_id) AS n
FROM matches m JOIN contacts r ON r.organization_id = :org AND r.id = m.mentor_id
WHERE m.organization_id = :org AND m.started_on <= CAST(:last AS date)
  AND (m.ended_on IS NULL OR m.ended_on >= CAST(:first AS date)) AND {_PROGRAMME_MATCH}
GROUP BY GROUPING SETS ((1), (2))"""
    params = {"first": start, "last": end, "programme": programme, "org": current_org(session)}
    counts: dict[str, dict[str, int]] = {"age": {}, "gender": {}}
    for row in await session.execute(text(sql), params):
        if row.age is not None:
            counts["age"][row.age] = row.n
        else:
            counts["gender"][row.gender] = row.n
    return [
        Table(
            key,
            title,
            [Column("mentors", "Mentors", "people")],
            [Row(k, label, [counts[group].get(k, 0)]) for k, label in labels.items()],
            chart="bar",
        )
        for key, title, group, labels in (
            ("mentors_by_age", "Mentors reached by age band", "age", AGE_BAND_LABELS),
            ("mentors_by_gender", "Mentors reached by gender", "gender", GENDER_LABELS),
        )
    ]


async def _events(session: AsyncSession, start: date, end: date, programme: uuid.UUID | None) -> Table:
    rows = await session.execute(
        text(f"""
WITH e AS (
  SELECT e.id, e.kind FROM intake_events e
  WHERE e.organization_id = :org AND {_BERLIN_DAY.format(column="e.starts_at")} BETWEEN :first AND :last
    AND (CAST(:programme AS uuid) IS NULL OR e.programme_id = CAST(:programme AS uuid))
)
SELECT e.kind, count(DISTINCT e.id) AS events, count(a.id) AS invitations,
       count(a.id) FILTER (WHERE a.status IN ('confirmed', 'present')) AS confirmations,
       count(a.id) FILTER (WHERE a.status = 'present') AS present
FROM e LEFT JOIN intake_event_attendees a ON a.organization_id = :org AND a.event_id = e.id
GROUP BY e.kind"""),
        {"first": start, "last": end, "programme": programme, "org": current_org(session)},
    )
    found = {r.kind: r for r in rows}
    out = []
    for kind, label in EVENT_KIND_LABELS.items():
        r = found.get(kind)
        events, invited, confirmed, present = (
            (r.events, r.invitations, r.confirmations, r.present) if r else (0, 0, 0, 0)
        )
        rate = round(100 * present / invited, 1) if invited else None
        out.append(Row(kind, label, [events, invited, confirmed, present, rate]))
    return Table(
        "events",
        "Events by kind",
        [
            Column("events", "Events", "count"),
            Column("invitations", "Invitations", "people"),
            Column("confirmations", "Confirmations", "people"),
            Column("present", "Present", "people"),
            Column("attendance_rate", "Attendance rate in percent", "rate", base="invitations"),
        ],
        out,
        chart="bar",
    )


async def _funnel(session: AsyncSession, start: date, end: date, programme: uuid.UUID | None) -> Table:
    """The people who sent a sign-up form in the period, and how far each got by today: every stage
    counts those who reached it or a later one."""
    row = (
        (
            await session.execute(
                text(f"""
WITH s AS (
  SELECT DISTINCT ON (coalesce(s.contact_id, s.id))
         s.id, s.organization_id, s.contact_id, s.confirmed_at, f.audience,
         {_BERLIN_DAY.format(column="s.created_at")} AS sent_on
  FROM intake_submissions s JOIN intake_forms f ON f.organization_id = s.organization_id AND f.id = s.form_id
  WHERE s.organization_id = :org AND {_BERLIN_DAY.format(column="s.created_at")} BETWEEN :first AND :last
    AND (CAST(:programme AS uuid) IS NULL OR f.programme_id = CAST(:programme AS uuid))
  ORDER BY coalesce(s.contact_id, s.id), s.created_at
),
p AS (
  SELECT s.*, c.waiting_since IS NOT NULL OR c.status IN ('ready', 'matched', 'paused', 'alumni') AS ready,
    EXISTS (SELECT 1 FROM screening_records r
            WHERE r.organization_id = :org AND r.contact_id = s.contact_id
              AND r.outcome = 'passed') AS screened,
    EXISTS (SELECT 1 FROM matches m WHERE m.organization_id = :org
            AND (m.mentee_id = s.contact_id OR m.mentor_id = s.contact_id)
            AND m.proposed_on >= s.sent_on) AS matched,
    EXISTS (SELECT 1 FROM matches m WHERE m.organization_id = :org
            AND (m.mentee_id = s.contact_id OR m.mentor_id = s.contact_id)
            AND m.started_on >= s.sent_on AND m.started_on + interval '3 months' <= CAST(:today AS date)
            AND (m.ended_on IS NULL OR m.ended_on >= m.started_on + interval '3 months')) AS active_3m
  FROM s LEFT JOIN contacts c ON c.organization_id = s.organization_id AND c.id = s.contact_id
)
SELECT count(*) AS signups,
  count(*) FILTER (WHERE confirmed_at IS NOT NULL OR contact_id IS NOT NULL) AS confirmed,
  count(*) FILTER (WHERE screened OR ready OR matched OR active_3m) AS screened,
  count(*) FILTER (WHERE ready OR matched OR active_3m) AS ready,
  count(*) FILTER (WHERE matched OR active_3m) AS matched,
  count(*) FILTER (WHERE active_3m) AS active_3m
FROM p"""),
                {
                    "first": start,
                    "last": end,
                    "programme": programme,
                    "today": today(),
                    "org": current_org(session),
                },
            )
        )
        .mappings()
        .one()
    )
    return Table(
        "funnel",
        "From sign-up to tandem",
        [Column("people", "People", "people")],
        [Row(k, label, [row[k]]) for k, label in FUNNEL],
        chart="bar",
    )


async def report(
    session: AsyncSession, start: date, end: date, programme_id: uuid.UUID | None = None, locale: str = "en"
) -> Report:
    """Every standard figure of one period, in sections."""
    programme = await programme_of(session, programme_id)
    computed = await _compute(session, [Bucket(start, end, "")], programme_id, None)
    values = _zero(computed.get((1, None), {}))
    ratings = Table(
        "ratings",
        "Check-in ratings",
        [Column("checkins", "Check-ins", "count")],
        [Row(k, k[-1], [values[k]]) for k in _EXTRA],
        chart="bar",
    )
    mentors = await _mentors(session, start, end, programme_id)
    sections = [
        Section(
            "tandems",
            SECTIONS["tandems"],
            [
                _figure_table(
                    "tandems",
                    SECTIONS["tandems"],
                    ("tandems_started", "tandems_active", "tandems_ended", "tandems_ended_early",
                     "days_to_start_avg", "days_to_start_median", "duration_avg"),
                    values,
                ),
                await _end_reasons(session, start, end, programme_id, locale),
            ],
        ),
        Section(
            "people",
            SECTIONS["people"],
            [
                _figure_table(
                    "people",
                    SECTIONS["people"],
                    ("signups_mentees", "signups_mentors", "ready_mentees", "ready_mentors",
                     "waiting_at_end", "matched_after_wait", "wait_median", "wait_p90"),
                    values,
                )
            ],
        ),
        Section(
            "mentors",
            SECTIONS["mentors"],
            [_figure_table("mentors", SECTIONS["mentors"], ("mentors_reached",), values), *mentors],
        ),
        Section(
            "accompaniment",
            SECTIONS["accompaniment"],
            [
                _figure_table(
                    "accompaniment",
                    SECTIONS["accompaniment"],
                    ("meetings", "meeting_hours", "volunteer_hours", "checkins_held", "checkins_missed",
                     "rating_avg", "follow_up_tandems"),
                    values,
                ),
                ratings,
            ],
        ),
        Section("events", SECTIONS["events"], [await _events(session, start, end, programme_id)]),
        Section("funnel", SECTIONS["funnel"], [await _funnel(session, start, end, programme_id)]),
    ]  # fmt: skip
    return Report(
        period_from=start,
        period_to=end,
        programme_id=programme_id,
        programme=programme.name if programme else None,
        created_at=datetime.now(BERLIN),
        sections=sections,
    )


def figure_keys(wanted: str | None) -> tuple[str, ...]:
    """The figures a series asks for (comma-separated keys), or every one; a problem names ``figures``."""
    if not wanted:
        return tuple(f.key for f in FIGURES)
    keys = tuple(k.strip() for k in wanted.split(",") if k.strip())
    unknown = [k for k in keys if k not in BY_KEY]
    if unknown or not keys:
        raise ValidationFailed(
            f"unknown figure {', '.join(unknown)!s}; see the report's keys", field="figures"
        )
    return keys


async def series(
    session: AsyncSession,
    start: date,
    end: date,
    interval: str = "month",
    programme_id: uuid.UUID | None = None,
    keys: tuple[str, ...] | None = None,
) -> Series:
    """Each figure per month or quarter of the period."""
    spans = buckets(start, end, interval)
    await programme_of(session, programme_id)
    keys = keys or tuple(f.key for f in FIGURES)
    wanted = {BY_KEY[k].section for k in keys}
    groups = tuple(
        g
        for g, sections in (
            ("tandems", {"tandems", "people", "accompaniment"}),
            ("people", {"people"}),
        )
        if wanted & sections
    )
    computed = await _compute(session, spans, programme_id, None, groups, keys)
    per_bucket = [_zero(computed.get((i + 1, None), {})) for i in range(len(spans))]
    return Series(
        period_from=start,
        period_to=end,
        interval=interval,
        programme_id=programme_id,
        buckets=spans,
        figures=[
            SeriesFigure(k, BY_KEY[k].label, BY_KEY[k].unit, [values[k] for values in per_bucket])
            for k in keys
        ],
    )


SERIES_BASES = {f.key: f.base for f in FIGURES if f.base}


async def breakdown(
    session: AsyncSession,
    start: date,
    end: date,
    by: str,
    programme_id: uuid.UUID | None = None,
    locale: str = "en",
) -> Breakdown:
    """The tandem figures of the period, grouped by ``by`` (see :class:`Dimension`)."""
    dim = await dimension(session, by, locale)
    await programme_of(session, programme_id)
    computed = await _compute(session, [Bucket(start, end, "")], programme_id, dim, ("tandems",))
    labels: dict[str | None, str] = dict(dim.options)
    if dim.key == "programme":
        labels = {
            str(r.id): r.name
            for r in await session.execute(text("SELECT id, name FROM contact_programmes ORDER BY name"))
        }
    order = list(labels)
    for _i, value in computed:
        if value not in labels:
            labels[value] = UNKNOWN if value is None else value
            order.append(value)
    rows = []
    for value in order:
        values = _zero(computed.get((1, value), {}))
        if value is None and not any(values[k] for k in BREAKDOWN_FIGURES):
            continue
        rows.append(Row(value or UNKNOWN, labels[value] if value is not None else "not recorded",
                        [values[k] for k in BREAKDOWN_FIGURES]))  # fmt: skip
    table = Table(
        "breakdown",
        dim.label,
        [Column(k, BY_KEY[k].label, BY_KEY[k].unit, BY_KEY[k].base) for k in BREAKDOWN_FIGURES],
        rows,
        chart="bar",
    )
    return Breakdown(start, end, programme_id, by, dim.label, table)
