"""Anonymised benchmarks: only opted-in organisations, spreads over at least five of them, and
nothing but aggregates ever leaves an organisation."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import event, select, update

from shared import clock
from shared.contacts.models import Contact, Programme
from shared.contacts.service import derive
from shared.db import Database
from shared.matching.models import Match
from shared.models import Organization
from shared.permissions import Role
from shared.reporting import benchmarks
from shared.settings import Settings
from tests.conftest import Org, create_org, settings_env

TODAY = clock.today()


async def _programme_with_tandems(db: Database, org_id: uuid.UUID, lasted: list[int], early: int) -> None:
    """Tandems of a reading programme that ended after ``lasted`` days, the first ``early`` early."""
    async with db.tenant(org_id) as s:
        programme = Programme(organization_id=org_id, name="Lesen", kind="reading")
        s.add(programme)
        await s.flush()
        for i, days in enumerate(lasted):
            mentor = Contact(
                organization_id=org_id, kinds=["mentor"], first_name="Geheim", last_name=f"Pate{i}"
            )
            waiting = TODAY - timedelta(days=days + 40)
            mentee = Contact(organization_id=org_id, kinds=["mentee"], first_name="Geheim",
                             last_name=f"Kind{i}", waiting_since=waiting)  # fmt: skip
            for c in (mentor, mentee):
                derive(c)
                s.add(c)
            await s.flush()
            started = TODAY - timedelta(days=days + 5)
            s.add(
                Match(organization_id=org_id, mentor_id=mentor.id, mentee_id=mentee.id,
                      programme_id=programme.id, status="ended", proposed_on=started - timedelta(days=10),
                      started_on=started,
                      ended_on=started + timedelta(days=days), ended_early=i < early)
            )  # fmt: skip


@pytest.fixture
async def nobody_opted_in(db: Database) -> None:
    async with db.platform() as s:
        await s.execute(update(Organization).values(benchmarks_opt_in=False))


async def _opt_in(client: AsyncTestClient[Any], org: Org, value: bool = True) -> None:
    r = await client.put(
        f"/api/v1/orgs/{org.slug}/reports/benchmarks/opt-in", json={"opt_in": value}, headers=org.auth()
    )
    assert r.status_code == 200, r.text


async def test_benchmarks_compare_with_at_least_five_others_and_only_aggregates_cross(
    client: AsyncTestClient[Any], db: Database, org_a: Org, nobody_opted_in: None, settings: Settings,
    tmp_path: Path,
) -> None:  # fmt: skip
    await _programme_with_tandems(db, org_a.id, [100, 200], early=1)
    others = [await create_org(db) for _ in range(6)]
    # Five contributing organisations: tandems of 100..140 days, one of four ended early.
    for i, org in enumerate(others[:5]):
        await _programme_with_tandems(db, org.id, [100 + 10 * i] * 4, early=1)
    # A sixth that did not opt in, with figures that would stand out.
    await _programme_with_tandems(db, others[5].id, [900] * 4, early=4)

    # A programme's kind is the admins' to say, from a fixed list.
    async with db.tenant(org_a.id) as s:
        lesen = (await s.execute(select(Programme.id))).scalar_one()
    kind_url = f"/api/v1/orgs/{org_a.slug}/reports/programmes/{lesen}/kind"
    r = await client.put(kind_url, json={"kind": "knitting"}, headers=org_a.auth())
    assert r.status_code == 422 and r.json()["field"] == "kind"
    r = await client.put(kind_url, json={"kind": "reading"}, headers=org_a.auth(Role.COORDINATOR))
    assert r.status_code == 403
    r = await client.put(kind_url, json={"kind": "reading"}, headers=org_a.auth())
    assert r.status_code == 200

    # Only admins decide; a reporter may look but not opt in.
    r = await client.put(
        f"/api/v1/orgs/{org_a.slug}/reports/benchmarks/opt-in", json={"opt_in": True},
        headers=org_a.auth(Role.REPORTER),
    )  # fmt: skip
    assert r.status_code == 403
    r = await client.get(f"/api/v1/orgs/{org_a.slug}/reports/benchmarks", headers=org_a.auth(Role.REPORTER))
    assert r.json() == {"opted_in": False, "minimum_organisations": 5, "comparisons": []}

    await _opt_in(client, org_a)
    for org in others[:4]:
        await _opt_in(client, org)
    r = await client.get(f"/api/v1/orgs/{org_a.slug}/reports/benchmarks", headers=org_a.auth(Role.REPORTER))
    # Four others are too few: A sees its own figures, theirs not at all.
    tandem = next(c for c in r.json()["comparisons"] if c["metric"] == "tandem_days")
    assert tandem == {"kind": "reading", "metric": "tandem_days", "own": 150.0,
                      "others": {"organisations": 4, "median": None, "q1": None, "q3": None}}  # fmt: skip

    await _opt_in(client, others[4])
    r = await client.get(f"/api/v1/orgs/{org_a.slug}/reports/benchmarks", headers=org_a.auth())
    by_metric = {c["metric"]: c for c in r.json()["comparisons"]}
    assert by_metric["tandem_days"]["others"] == {
        "organisations": 5,
        "median": 120.0,
        "q1": 110.0,
        "q3": 130.0,
    }
    assert by_metric["early_end_share"]["own"] == 0.5
    assert by_metric["early_end_share"]["others"]["median"] == 0.25

    # What crosses organisations, statement by statement: the opt-in list, then per organisation
    # one aggregate grouped by programme kind (inside that organisation's own transaction).
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        contributions = await benchmarks.collect(db, TODAY)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    # (Each transaction first sets its organisation or the system context: set_config.)
    queries = [
        q for q in statements if q.lstrip().upper().startswith(("SELECT", "WITH")) and "set_config" not in q
    ]
    assert len(queries) == 1 + 6
    assert "organizations.benchmarks_opt_in" in queries[0] and "organizations.id" in queries[0]
    assert all("GROUP BY m.kind" in q for q in queries[1:])
    for aggregates in contributions.values():
        assert len(aggregates) == 1  # one programme kind, however many tandems
        for a in aggregates:
            assert set(vars(a)) == {"kind", *benchmarks.METRIC_KEYS}
            assert all(isinstance(getattr(a, k), float | None) for k in benchmarks.METRIC_KEYS)

    # The open data set: spreads only, nothing that names an organisation or a person.
    out = tmp_path / "benchmarks.csv"
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "report", "benchmarks", "--out", str(out)],
        env=settings_env(settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = out.read_text()
    # A (150 days) is one of the six now: 100, 110, 120, 130, 140, 150.
    assert "reading,tandem_days,6,112.5,125.0,137.5," in data
    for secret in ["Geheim", org_a.slug, str(org_a.id), *(o.slug for o in others), "900"]:
        assert secret not in data
    dictionary = (tmp_path / "benchmarks.dictionary.csv").read_text()
    assert "early_end_share" in dictionary and "at least 5" in dictionary

    # Opting out removes an organisation from the next computation.
    await _opt_in(client, others[0], False)
    r = await client.get(f"/api/v1/orgs/{org_a.slug}/reports/benchmarks", headers=org_a.auth())
    by_metric = {c["metric"]: c for c in r.json()["comparisons"]}
    assert by_metric["tandem_days"]["others"]["organisations"] == 4
