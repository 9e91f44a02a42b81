"""Import benchmark: commit a 10,000-row spreadsheet in the worker, next to a bare insert floor.

    .venv/bin/python -m tests.bench.bench_imports [--rows 10000] [--existing 2000] [--batch-size N]

The sheet holds ``--rows`` people; ``--existing`` of them are already contacts (same e-mail), so
the commit creates most rows and updates some, as a real second import of a list does. Printed:

- the dry run (read, map, plan every row; nothing written) in rows per second;
- the commit as the worker runs it (the rows the dry run checked, written batch by batch with
  history, undo records, search terms and progress), in rows per second, with the CPU time per
  1,000 rows of codo's process and of the database's processes (read from /proc), which depends
  far less on the machine's load than the elapsed time;
- the floor measured in the same run: one ``INSERT … SELECT FROM unnest`` of the same number of
  bare contact rows under the same row-level security, with nothing else written;
- undo of the whole import, so the benchmark also shows that it stays usable at this size;
- the commit once more after a contact was changed between the review and the commit: the
  worker then reads the kept file and checks every row again (``--kept-plan-only`` skips it).

The load average is printed beside the figures: on a shared machine the ratio and the CPU
times are telling, the elapsed times much less.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from services.localstack import EmbeddedPostgres, free_port, provision_database
from shared import migrate
from shared.contacts import imports
from shared.db import Database, plain_url
from tests.bench.bench_contacts import FIRST, LAST, person, workbook
from tests.conftest import Servers, create_org, make_settings


def database_cpu(pg: EmbeddedPostgres) -> float:
    """CPU seconds used so far by the cluster's processes (postmaster and its children).

    Unlike the elapsed time it hardly depends on what else the machine is running.
    """
    postmaster = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid, ..., utime (12th), stime (13th).
        if int(entry.name) == postmaster or int(fields[1]) == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / tick


async def seed_existing(app_url: str, org_id: uuid.UUID, rows: int, existing: int) -> None:
    """The first ``existing`` people of the sheet as contacts already (the same e-mails)."""
    rng = random.Random(7)
    people = [person(rng, i) for i in range(rows)][:existing]
    conn = await asyncpg.connect(plain_url(app_url))
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('codo.org_id', $1, true)", str(org_id))
            await conn.executemany(
                "INSERT INTO contacts (organization_id, id, kinds, first_name, last_name, email, notes) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                [(org_id, uuid.uuid4(), [p["kind"]], p["first_name"], p["last_name"], p["email"],
                  "schon bekannt") for p in people],
            )  # fmt: skip
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="codo-bench-"))
    pg = EmbeddedPostgres(tmp / "pg", free_port())
    pg.init()
    pg.start()
    try:
        password = secrets.token_urlsafe(12)
        owner_url, app_url = await provision_database(
            pg.superuser_url, f"codo_bench_{secrets.token_hex(3)}", password
        )
        await asyncio.to_thread(migrate.upgrade, owner_url)
        await migrate.grant_runtime_role(owner_url, migrate.runtime_role(app_url))
        servers = Servers(pg.superuser_url, owner_url, app_url, "redis://127.0.0.1:1/0", password)
        settings = make_settings(servers, free_port(), log_level="warning")
        db = Database.from_settings(settings)
        org = await create_org(db, "bench")
        conn = await asyncpg.connect(plain_url(app_url))
        n = args.rows
        print(f"PostgreSQL {await conn.fetchval('SHOW server_version')}, {n:,} rows, "
              f"{args.existing:,} of them already contacts\n")  # fmt: skip
        await seed_existing(app_url, org.id, n, args.existing)

        floor_db_cpu: list[float] = []

        async def floor() -> float:
            """Seconds for one multi-row insert of ``n`` bare contact rows (then removed again)."""
            rng = random.Random(3)
            floor_rows = [(org.id, uuid.uuid4(), ["mentee"], rng.choice(FIRST), rng.choice(LAST),
                           f"b{i}@x.de") for i in range(n)]  # fmt: skip
            async with conn.transaction():
                await conn.execute("SELECT set_config('codo.org_id', $1, true)", str(org.id))
                start, cpu = time.perf_counter(), database_cpu(pg)
                # One statement, as the fastest bare insert is: an executemany would fire the
                # statement-level triggers on contacts once per row, which the commit does not.
                await conn.execute(
                    "INSERT INTO contacts (organization_id, id, kinds, first_name, last_name, email) "
                    "SELECT $1, r.id, ARRAY['mentee'], r.first_name, r.last_name, r.email "
                    "FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[]) "
                    "AS r(id, first_name, last_name, email)",
                    org.id,
                    [row[1] for row in floor_rows],
                    [row[3] for row in floor_rows],
                    [row[4] for row in floor_rows],
                    [row[5] for row in floor_rows],
                )
                took = time.perf_counter() - start
                floor_db_cpu.append(database_cpu(pg) - cpu)
                await conn.execute("DELETE FROM contacts WHERE email LIKE 'b%@x.de'")
            return took

        async def commit(changed_meanwhile: bool) -> tuple[float, float, float, uuid.UUID]:
            """Dry run, start and commit; seconds, CPU seconds of codo and of the database, of the
            commit alone."""
            async with db.tenant(org.id) as session:
                imp = await imports.dry_run(
                    session, org.id, content=content, filename="bench.xlsx", mapping=None, **batching
                )
                import_id = imp.id
            async with db.tenant(org.id) as session:
                await imports.start(session, import_id)
            if changed_meanwhile:
                # Someone edits a contact between the review and the commit: the plan is made again.
                async with conn.transaction():
                    await conn.execute("SELECT set_config('codo.org_id', $1, true)", str(org.id))
                    await conn.execute("UPDATE contacts SET city = 'Kassel' WHERE email LIKE 'person1@%'")
            start, cpu, db_cpu = time.perf_counter(), time.process_time(), database_cpu(pg)
            outcome = await imports.run(db, org.id, import_id)
            took, cpu = time.perf_counter() - start, time.process_time() - cpu
            db_cpu = database_cpu(pg) - db_cpu
            assert outcome == "done", outcome
            return took, cpu, db_cpu, import_id

        content = workbook(n)
        batching = {"batch_size": args.batch_size} if args.batch_size else {}
        start = time.perf_counter()
        async with db.tenant(org.id) as session:
            await imports.dry_run(session, org.id, content=content, filename="bench.xlsx", mapping=None)
        dry = time.perf_counter() - start
        # The floor right before and right after codo's commit: on a shared machine the load changes
        # within a minute, and the ratio is taken against the faster of the two.
        load_before = os.getloadavg()[0]
        bare_before = await floor()
        took, cpu, db_cpu, import_id = await commit(changed_meanwhile=False)
        bare_after = await floor()
        load_after = os.getloadavg()[0]
        bare = min(bare_before, bare_after)
        async with db.tenant(org.id) as session:
            imp = await imports.get_import(session, import_id)
            created, updated, rejected = imp.created_count, imp.updated_count, imp.rejected_count
            batch_size = imp.batch_size
        start = time.perf_counter()
        async with db.tenant(org.id) as session:
            await imports.undo(session, import_id)
        undo = time.perf_counter() - start
        replanned = None
        if not args.kept_plan_only:
            replanned = await commit(changed_meanwhile=True)
            async with db.tenant(org.id) as session:
                await imports.undo(session, replanned[3])
        await conn.close()
        print(f"import of an .xlsx (rows per second; load average {load_before:.1f} -> {load_after:.1f})")
        print(f"  dry run                  {n / dry:10,.0f} rows/s  ({dry:.2f} s)")
        print(f"  codo commit (worker)     {n / took:10,.0f} rows/s  ({took:.2f} s, {created:,} created, "
              f"{updated:,} updated, {rejected:,} rejected, batches of {batch_size:,})")  # fmt: skip
        print(f"  bare insert (floor)      {n / bare:10,.0f} rows/s  (before {n / bare_before:,.0f}, after "
              f"{n / bare_after:,.0f})")  # fmt: skip
        print(f"  codo / floor             {bare / took:10.2f}")
        print(f"  CPU per 1,000 rows       codo {1e6 * cpu / n:.0f} ms + database {1e6 * db_cpu / n:.0f} ms; "
              f"floor: database {1e6 * min(floor_db_cpu) / n:.0f} ms")  # fmt: skip
        print(f"  undo of the import       {n / undo:10,.0f} rows/s  ({undo:.2f} s)")
        if replanned is not None:
            print(f"  commit, contacts changed {n / replanned[0]:10,.0f} rows/s  ({replanned[0]:.2f} s, "
                  f"planned again in the worker; CPU per 1,000 rows: codo {1e6 * replanned[1] / n:.0f} ms + "
                  f"database {1e6 * replanned[2] / n:.0f} ms)")  # fmt: skip
        await db.dispose()
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--existing", type=int, default=2_000)
    parser.add_argument("--batch-size", type=int, help="rows per batch (default: codo's default)")
    parser.add_argument(
        "--kept-plan-only", action="store_true", help="leave out the commit after a change to contacts"
    )
    asyncio.run(main(parser.parse_args()))
