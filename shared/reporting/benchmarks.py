"""Anonymised benchmarks across organisations: the one place where figures cross organisations.

How it stays anonymous:

* Only organisations whose admins opted in take part (``organizations.benchmarks_opt_in``);
  opting out removes an organisation from the next computation (nothing is stored).
* The BENCHMARK SYSTEM CONTEXT (:func:`opted_in`) reads one thing across organisations: which
  ones opted in. Everything else is computed inside each organisation's own tenant transaction
  (row-level security applies) by :func:`organisation_aggregates`, which returns only
  :class:`Aggregate` numbers per programme kind: no row, id, name or date leaves it.
* Figures of other organisations are only ever shown or exported as median and quartiles over at
  least :data:`MIN_ORGANISATIONS` organisations, never one organisation's value, and never which
  organisations they are.
"""

from __future__ import annotations

import csv
import io
import statistics
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import msgspec
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contacts.models import Programme
from shared.db import Database
from shared.errors import NotFound, ValidationFailed
from shared.models import Organization

MIN_ORGANISATIONS = 5
PROGRAMME_KINDS = ("reading", "school", "job", "family", "refugees", "seniors", "other")
# (key, unit, definition): the data dictionary of the open data set.
METRICS = (
    ("days_to_match", "days", "median days from a mentee becoming ready to their match being proposed, "
     "over matches proposed in the last 365 days"),
    ("tandem_days", "days", "median days a tandem lasted, over tandems ended in the last 365 days"),
    ("early_end_share", "share 0-1", "tandems ended early / tandems ended, in the last 365 days"),
    ("active_per_coordinator", "tandems", "active tandems today / the organisation's coordinators, "
     "admins and owners"),
)  # fmt: skip
METRIC_KEYS = tuple(m[0] for m in METRICS)


@dataclass(frozen=True)
class Aggregate:
    """What one organisation contributes for one programme kind: numbers only."""

    kind: str
    days_to_match: float | None
    tandem_days: float | None
    early_end_share: float | None
    active_per_coordinator: float | None


class Spread(msgspec.Struct):
    organisations: int
    median: float | None = None
    q1: float | None = None
    q3: float | None = None


class Comparison(msgspec.Struct):
    kind: str
    metric: str
    own: float | None
    others: Spread


class Benchmarks(msgspec.Struct):
    opted_in: bool
    minimum_organisations: int
    comparisons: list[Comparison]


_AGGREGATES = """
WITH k AS (
  SELECT p.id, coalesce(p.kind, 'other') AS kind FROM contact_programmes p
),
m AS (
  SELECT coalesce(k.kind, 'other') AS kind, m.* , c.waiting_since
  FROM matches m LEFT JOIN k ON k.id = m.programme_id
  JOIN contacts c ON c.organization_id = m.organization_id AND c.id = m.mentee_id
),
staff AS (
  SELECT greatest(count(*), 1) AS n FROM memberships WHERE role IN ('owner', 'admin', 'coordinator')
)
SELECT m.kind,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY m.proposed_on - m.waiting_since) FILTER (
    WHERE m.proposed_on > CAST(:since AS date) AND m.waiting_since <= m.proposed_on) AS days_to_match,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY m.ended_on - m.started_on) FILTER (
    WHERE m.started_on IS NOT NULL AND m.ended_on > CAST(:since AS date)) AS tandem_days,
  avg(CASE WHEN m.ended_early THEN 1.0 ELSE 0.0 END) FILTER (
    WHERE m.started_on IS NOT NULL AND m.ended_on > CAST(:since AS date)) AS early_end_share,
  count(*) FILTER (WHERE m.status = 'active')::float / (SELECT n FROM staff) AS active_per_coordinator
FROM m
GROUP BY m.kind
"""


async def organisation_aggregates(session: AsyncSession, today: date) -> list[Aggregate]:
    """One organisation's contribution, computed inside its own tenant transaction: one row per
    programme kind, aggregates only."""
    rows = await session.execute(text(_AGGREGATES), {"since": today - timedelta(days=365)})
    out = []
    for r in rows:
        kind = r.kind if r.kind in PROGRAMME_KINDS else "other"
        out.append(
            Aggregate(
                kind,
                *(None if getattr(r, k) is None else round(float(getattr(r, k)), 3) for k in METRIC_KEYS),
            )
        )
    return out


async def opted_in(db: Database) -> list[uuid.UUID]:
    """BENCHMARK SYSTEM CONTEXT: the organisations that agreed to take part, and nothing else."""
    async with db.system_context("anonymised benchmarks: which organisations opted in") as session:
        found = await session.execute(select(Organization.id).where(Organization.benchmarks_opt_in.is_(True)))
        return list(found.scalars())


async def collect(db: Database, today: date) -> dict[uuid.UUID, list[Aggregate]]:
    """Every opted-in organisation's aggregates, each read in its own tenant transaction. The keys
    never leave this module: they only tell one organisation's contribution from another's."""
    contributions = {}
    for org_id in await opted_in(db):
        async with db.tenant(org_id) as session:
            contributions[org_id] = await organisation_aggregates(session, today)
    return contributions


def spread(values: list[float]) -> Spread:
    if len(values) < MIN_ORGANISATIONS:
        return Spread(organisations=len(values))
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return Spread(len(values), round(median, 2), round(q1, 2), round(q3, 2))


def _values(contributions: dict[uuid.UUID, list[Aggregate]], kind: str, metric: str) -> list[float]:
    out = []
    for aggregates in contributions.values():
        for a in aggregates:
            value = getattr(a, metric)
            if a.kind == kind and value is not None:
                out.append(float(value))
    return out


async def set_opt_in(session: AsyncSession, org_id: uuid.UUID, value: bool) -> None:
    await session.execute(
        update(Organization).where(Organization.id == org_id).values(benchmarks_opt_in=value)
    )


async def for_organisation(db: Database, org_id: uuid.UUID, today: date) -> Benchmarks:
    """An organisation's own figures next to the spread of the other opted-in organisations."""
    contributions = await collect(db, today)
    if org_id not in contributions:
        return Benchmarks(False, MIN_ORGANISATIONS, [])
    own = {a.kind: a for a in contributions.pop(org_id)}
    comparisons = []
    for kind in PROGRAMME_KINDS:
        for metric in METRIC_KEYS:
            others = spread(_values(contributions, kind, metric))
            mine = getattr(own[kind], metric) if kind in own else None
            if mine is not None or others.median is not None:
                comparisons.append(Comparison(kind, metric, mine, others))
    return Benchmarks(True, MIN_ORGANISATIONS, comparisons)


async def open_data(db: Database, today: date) -> tuple[str, str]:
    """The open data set (CSV) and its data dictionary (CSV): spreads over at least five
    organisations per programme kind and metric; cells over fewer are left out."""
    contributions = await collect(db, today)
    data = io.StringIO()
    writer = csv.writer(data)
    writer.writerow(["programme_kind", "metric", "organisations", "q1", "median", "q3", "computed_on"])
    for kind in PROGRAMME_KINDS:
        for metric in METRIC_KEYS:
            s = spread(_values(contributions, kind, metric))
            if s.median is not None:
                writer.writerow([kind, metric, s.organisations, s.q1, s.median, s.q3, today.isoformat()])
    dictionary = io.StringIO()
    described = csv.writer(dictionary)
    described.writerow(["column or value", "unit", "meaning"])
    for row in (
        ("programme_kind", "", f"kind of mentoring programme: {', '.join(PROGRAMME_KINDS)}"),
        ("metric", "", "which figure the row describes (see below)"),
        ("organisations", "count", f"opted-in organisations with a value; at least {MIN_ORGANISATIONS}"),
        ("q1, median, q3", "of the metric", "quartiles of the organisations' values"),
        ("computed_on", "date", "the day the data set was computed"),
        *METRICS,
    ):
        described.writerow(row)
    return data.getvalue(), dictionary.getvalue()


async def set_programme_kind(session: AsyncSession, programme_id: uuid.UUID, kind: str | None) -> None:
    """What a programme is, so its figures are compared with programmes of the same kind."""
    if kind is not None and kind not in PROGRAMME_KINDS:
        raise ValidationFailed(f"the kind is one of {', '.join(PROGRAMME_KINDS)}", field="kind")
    found = await session.get(Programme, {"organization_id": session.info["org_id"], "id": programme_id})
    if found is None:
        raise NotFound("no such programme")
    found.kind = kind
    await session.flush()
