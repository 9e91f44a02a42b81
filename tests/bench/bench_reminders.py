"""Benchmark: the reminder scan over 1,000 organisations with 100,000 due task reminders.

Run: ``.venv/bin/python tests/bench/bench_reminders.py [--orgs 1000] [--per-org 100]``

Starts a throwaway PostgreSQL (or uses CODO_TEST_DATABASE_URL, a role that may create
databases), migrates, writes the due tasks with COPY, then measures in the same run:

* baseline: bare SQL as the superuser, one statement that marks every due task, writes its
  ledger row and an outbox row (no per-organisation fan-out, no rendering, no RLS, no in-app
  notification); rolled back afterwards so the real run finds the same work;
* codo, as the worker does it: ``reminders.sweep_tasks`` as the runtime role in the named
  system context, batches of many organisations per transaction (one statement claims and
  marks the tasks, one writes ledger rows, e-mails in German/English with text and HTML, and
  in-app notifications), in one lane and in the worker's default number of lanes; then the
  per-organisation scan and jobs that follow it (which find nothing left);
* codo per organisation: the scan, then ``reminders.send_due`` for each organisation, 4 at a
  time (what an organisation's own job does).

It prints items per second for each, the CPU per item of the codo process and of the database
server processes that served it (when the server runs on this machine), and the load average.
Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from services.localstack import EmbeddedPostgres, free_port, provision_database  # noqa: E402
from shared import migrate  # noqa: E402
from shared.db import Database, create_engine, plain_url  # noqa: E402
from shared.ids import new_id  # noqa: E402
from shared.logs import configure_logging  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.tasks import reminders  # noqa: E402

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)

BASELINE = """
WITH due AS (
    UPDATE tasks t SET reminded_at = $1
    WHERE t.status = 'open' AND t.assignee_id IS NOT NULL AND t.reminded_at IS NULL
      AND t.remind_at <= $1 AND t.remind_at > $1 - interval '36 hours'
    RETURNING t.organization_id, t.id, t.assignee_id, t.title,
              (extract(epoch from t.remind_at)::bigint)::text AS period
), claimed AS (
    INSERT INTO reminders_sent (organization_id, id, kind, subject_id, membership_id, period)
    SELECT organization_id, gen_random_uuid(), 'task_due', id, assignee_id, period FROM due
    ON CONFLICT DO NOTHING
    RETURNING organization_id, subject_id, membership_id
)
INSERT INTO outbox (organization_id, id, kind, to_address, subject, body_text)
SELECT c.organization_id, gen_random_uuid(), 'task_due', u.email, 'Erinnerung', 'Erinnerung'
FROM claimed c
JOIN memberships m ON m.organization_id = c.organization_id AND m.id = c.membership_id
JOIN users u ON u.id = m.user_id
"""


async def seed(superuser_url: str, orgs: int, per_org: int) -> None:
    conn = await asyncpg.connect(superuser_url)
    try:
        org_rows, user_rows, member_rows, task_rows = [], [], [], []
        for i in range(orgs):
            org_id, user_id, member_id = new_id(), new_id(), new_id()
            org_rows.append((org_id, f"bench-{i:04d}", f"Verein {i}"))
            user_rows.append((user_id, f"koordination-{i}@bench.example", "de" if i % 3 else "en"))
            member_rows.append((org_id, member_id, user_id, "coordinator"))
            for j in range(per_org):
                remind = NOW - timedelta(minutes=1 + (j % 50))
                due_at = remind + timedelta(hours=1)
                local = due_at.astimezone(reminders.recurrence.zone("Europe/Berlin"))
                task_rows.append(
                    (org_id, new_id(), f"Aufgabe {j}", member_id, local.date(), local.time(), due_at, remind)
                )
        await conn.copy_records_to_table("organizations", records=org_rows, columns=["id", "slug", "name"])
        await conn.copy_records_to_table("users", records=user_rows, columns=["id", "email", "locale"])
        await conn.copy_records_to_table(
            "memberships", records=member_rows, columns=["organization_id", "id", "user_id", "role"]
        )
        await conn.copy_records_to_table(
            "tasks",
            records=task_rows,
            columns=[
                "organization_id",
                "id",
                "title",
                "assignee_id",
                "due_date",
                "due_time",
                "due_at",
                "remind_at",
            ],
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def baseline(superuser_url: str) -> tuple[int, float]:
    conn = await asyncpg.connect(superuser_url)
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        tx = conn.transaction()
        await tx.start()
        started, cpu = time.perf_counter(), backend_cpu([pid])
        status = await conn.execute(BASELINE, NOW)
        elapsed = time.perf_counter() - started
        cpu = backend_cpu([pid]) - cpu
        await tx.rollback()
        n = int(status.split()[-1])
        print(f"baseline database CPU: {cpu / n * 1e6:.0f} µs per item")
        return n, elapsed
    finally:
        await conn.close()


async def codo_sweep(db: Database, lanes: int) -> tuple[int, float, float]:
    started = time.perf_counter()
    runs = [await reminders.sweep_tasks(db, NOW, "https://codo.example", lanes=lanes)]
    swept = time.perf_counter() - started
    # What the worker's tick does next: the organisations with anything else due get their job.
    rest = 0
    for org_id in await reminders.organisations_due(db, NOW):
        rest += (await reminders.send_due(db, org_id, NOW, "https://codo.example")).total
    return sum(r.tasks for r in runs) + rest, time.perf_counter() - started, swept


async def codo_run(db: Database, concurrency: int) -> tuple[int, float, float]:
    started = time.perf_counter()
    due = await reminders.organisations_due(db, NOW)
    scanned = time.perf_counter() - started
    gate = asyncio.Semaphore(concurrency)
    total = 0

    async def one(org_id: uuid.UUID) -> None:
        nonlocal total
        async with gate:
            sent = (await reminders.send_due(db, org_id, NOW, "https://codo.example")).total
            total += sent

    await asyncio.gather(*(one(o) for o in due))
    return total, time.perf_counter() - started, scanned


def backend_cpu(pids: list[int]) -> float:
    """CPU seconds the database server processes ``pids`` have used, where they run on this machine."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def app_backends(superuser_url: str) -> list[int]:
    conn = await asyncpg.connect(superuser_url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND usename <> current_user"
        )
        return [r["pid"] for r in rows]
    finally:
        await conn.close()


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


async def reset(superuser_url: str) -> None:
    conn = await asyncpg.connect(superuser_url)
    try:
        await conn.execute("TRUNCATE reminders_sent, notifications, outbox_attempts, outbox")
        await conn.execute("UPDATE tasks SET reminded_at = NULL")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def main(orgs: int, per_org: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="codo-bench-"))
    pg: EmbeddedPostgres | None = None
    server_url = os.environ.get("CODO_TEST_DATABASE_URL")
    if not server_url:
        pg = EmbeddedPostgres(tmp / "pg", free_port())
        pg.init()
        pg.start()
        server_url = pg.superuser_url
    try:
        password = secrets.token_urlsafe(12)
        name = f"codo_bench_{secrets.token_hex(4)}"
        owner_url, app_url = await provision_database(server_url, name, password)
        await asyncio.to_thread(migrate.upgrade, owner_url)
        await migrate.grant_runtime_role(owner_url, migrate.runtime_role(app_url))
        super_db_url = plain_url(server_url).rsplit("/", 1)[0] + f"/{name}"
        t0 = time.perf_counter()
        await seed(super_db_url, orgs, per_org)
        items = orgs * per_org
        print(f"seeded {orgs} organisations, {items} due reminders in {time.perf_counter() - t0:.1f}s")

        n, secs = await baseline(super_db_url)
        floor = n / secs
        print(
            f"baseline (bare SQL, 1 statement, superuser): {n} items in {secs:.2f}s = {floor:,.0f} items/s "
            f"({load()})"
        )

        settings = Settings(
            database_url=app_url, redis_url="redis://unused", db_pool_size=8, log_level="warning"
        )
        configure_logging(settings)
        db = Database(create_engine(settings, pool_size=10))
        try:
            for lanes in (1, reminders.SWEEP_LANES):
                await reset(super_db_url)
                # The pool's connections, opened before the clock starts, are the sweep's backends.
                async with db.system_context("benchmark: pool"), db.system_context("benchmark: pool"):
                    pids = await app_backends(super_db_url)
                cpu, db_cpu = time.process_time(), backend_cpu(pids)
                n, secs, swept = await codo_sweep(db, lanes)
                cpu, db_cpu = time.process_time() - cpu, backend_cpu(pids) - db_cpu
                print(
                    f"codo sweep, {lanes} lane(s): {n} items in {secs:.2f}s "
                    f"= {n / secs:,.0f} items/s, {n / secs / floor:.2f}x the floor "
                    f"(sweep {swept:.2f}s; CPU per item {cpu / n * 1e6:.0f} µs in codo, "
                    f"{db_cpu / n * 1e6:.0f} µs in the database; {load()})"
                )
                assert n == items, f"expected {items} reminders, sent {n}"
            await reset(super_db_url)
            n, secs, scan = await codo_run(db, 4)
            print(
                f"codo per organisation, 4 at a time: {n} items in {secs:.2f}s = {n / secs:,.0f} items/s "
                f"(cross-organisation scan {scan * 1000:.0f} ms; {load()})"
            )
            assert n == items, f"expected {items} reminders, sent {n}"
            n2, _, _ = await codo_run(db, 4)
            print(f"second run over the same items sends {n2} (the ledger holds)")
            idle_started = time.perf_counter()
            await reminders.organisations_due(db, NOW)
            print(
                f"idle scan (everything already sent): {(time.perf_counter() - idle_started) * 1000:.0f} ms"
            )
        finally:
            await db.dispose()
    finally:
        if pg:
            pg.stop()
        # A seeded server is a gigabyte and more: leave nothing behind on a shared disk.
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--per-org", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.orgs, args.per_org))
