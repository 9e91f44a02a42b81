"""Flat in the number of organisations: the contacts list at 1 and at many organisations, interleaved.

    .venv/bin/python -m tests.bench.bench_flat [--orgs 1000] [--org-contacts 1000] [--contacts 2000]
        [--rounds 5] [--seconds 5] [--connections 32] [--keep DIR]

Needs ``wrk``. One PostgreSQL server (so one configuration and one buffer cache) holds two
databases: ``one`` with the organisation ``alpha`` only (``--contacts`` contacts) and ``many`` with
the same ``alpha`` and ``--orgs`` further organisations of ``--org-contacts`` contacts each (seeded
as in ``bench_api.py --orgs``). Each database gets its own ``codo api`` process and its own floor
(``tests/bench/floor.py``, the same SQL under the same row-level security).

The same request, ``GET /api/v1/orgs/alpha/contacts?limit=50`` with an API token, then runs
``--rounds`` times on both sides in turn, codo and then its floor, for ``--seconds`` each; every
other round starts with the other side. Whatever else the machine does while the benchmark runs
thus falls on both sides alike, which a comparison of two separate runs cannot promise on a shared
machine. Each side's figure is the median over the rounds, with the range (min-max) beside it;
the difference is the many-organisation side's median against the one-organisation side's, and
next to it the median (and range) of the differences within each round, which pairs runs seconds
apart. Per request it also shows the process's CPU time, PostgreSQL's CPU time, and the blocks
PostgreSQL had to read from outside its buffer cache.

Before the load it shows, for each statement the request can send, PostgreSQL's own account at
both sizes: the plan, planning and execution time and buffers of ``EXPLAIN (ANALYZE, BUFFERS)``,
run as the runtime role inside alpha's scope, and which plan a prepared statement (as the driver
keeps them) settles on after its first executions.

``--keep DIR`` keeps both databases in ``DIR`` and reuses them on the next run with the same
sizes (migrated to the current head first): seeding a thousand organisations takes minutes on a
busy machine. Remove ``DIR`` when done; at 1,000 organisations it holds about 2.5 GB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from services.localstack import EmbeddedPostgres, EmbeddedRedis, free_port, provision_database
from shared import migrate
from shared.contacts.service import _plain_list_sql
from shared.db import Database, plain_url
from shared.tokens import _BY_HASH, digest
from tests.bench.bench_api import REPO, Result, cpu_seconds, lua, seed_orgs, stop, wait_for, wrk
from tests.bench.bench_contacts import seed_contacts
from tests.conftest import Servers, create_org, make_settings, settings_env

LIST = "/api/v1/orgs/alpha/contacts?limit=50"
# What the organisation's lookup by slug sends (shared.organizations.get_by_slug).
BY_SLUG = (
    "SELECT organizations.id, organizations.slug, organizations.name, organizations.created_at,"
    " organizations.privacy_url, organizations.imprint_url, organizations.benchmarks_opt_in"
    " FROM organizations WHERE organizations.slug = $1::VARCHAR"
)


@dataclass
class Side:
    label: str
    database: str
    org: uuid.UUID
    token: str
    owner_url: str = ""
    app_url: str = ""
    codo: subprocess.Popen[bytes] | None = None
    floor: subprocess.Popen[bytes] | None = None
    codo_url: str = ""
    floor_url: str = ""
    runs: dict[str, list[Result]] = field(default_factory=lambda: {"codo": [], "floor": []})
    reads: dict[str, list[float]] = field(default_factory=lambda: {"codo": [], "floor": []})


def migrated(pg: EmbeddedPostgres, database: str, password: str) -> tuple[str, str]:
    """Create (or find) the database and its roles and migrate it; return the owner's and the app's URL."""
    owner_url, app_url = asyncio.run(provision_database(pg.superuser_url, database, password))
    migrate.upgrade(owner_url)
    asyncio.run(migrate.grant_runtime_role(owner_url, migrate.runtime_role(app_url)))
    return owner_url, app_url


async def seed(side: Side, args: argparse.Namespace, orgs: int, redis_url: str) -> None:
    servers = Servers("", side.owner_url, side.app_url, redis_url, "")
    db = Database.from_settings(make_settings(servers, free_port()))
    org = await create_org(db, "alpha")
    await db.dispose()
    side.org, side.token = org.id, org.tokens[next(iter(org.tokens))]
    conn = await asyncpg.connect(plain_url(side.app_url))
    await seed_contacts(conn, org.id, args.contacts)
    await conn.close()
    if orgs:
        print(f"seeding {orgs:,} more organisations of {args.org_contacts:,} contacts each", flush=True)
        await seed_orgs(side.owner_url, orgs, args.org_contacts)


async def describe(side: Side) -> None:
    owner = await asyncpg.connect(plain_url(side.owner_url))
    await owner.execute("ANALYZE")
    counts = await owner.fetchrow(
        "SELECT (SELECT count(*) FROM organizations), pg_database_size(current_database())"
    )
    await owner.close()
    side.label = f"{counts[0]:,} org" + ("s" if counts[0] > 1 else "")
    print(f"{side.label}: database {counts[1] / 2**20:,.0f} MB", flush=True)


def _plan_line(node: dict[str, Any]) -> str:
    """The plan's outermost nodes down to the first scan, as one line."""
    parts = []
    while True:
        name = node["Node Type"]
        if "Index Name" in node:
            name += f" {node['Index Name']}"
        parts.append(name)
        if "Plans" not in node or name.startswith(("Index", "Seq", "Bitmap")):
            return " > ".join(parts)
        node = node["Plans"][0]


async def explain(side: Side, statements: list[tuple[str, str, list[Any]]]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement as the runtime role in alpha's scope, and the
    plan a prepared statement settles on (the driver prepares each statement once per connection;
    PostgreSQL plans its first five executions for their values, then may keep a generic plan)."""
    conn = await asyncpg.connect(plain_url(side.app_url))
    try:
        for name, sql, params in statements:
            timings = []
            for _ in range(5):
                async with conn.transaction():
                    await conn.execute("SELECT set_config('codo.org_id', $1, true)", str(side.org))
                    plan = json.loads(
                        await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", *params)
                    )[0]
                timings.append(plan)
            best = min(timings, key=lambda p: p["Planning Time"] + p["Execution Time"])
            top = best["Plan"]
            hit = top.get("Shared Hit Blocks", 0) + best.get("Planning", {}).get("Shared Hit Blocks", 0)
            read = top.get("Shared Read Blocks", 0) + best.get("Planning", {}).get("Shared Read Blocks", 0)
            prepared = await conn.prepare(sql)
            async with conn.transaction():
                await conn.execute("SELECT set_config('codo.org_id', $1, true)", str(side.org))
                for _ in range(8):
                    await prepared.fetch(*params)
            generic, custom = await conn.fetchrow(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1",
                prepared.get_name(),
            )
            kept = "generic" if generic else "custom"
            print(
                f"  {side.label:>11} {name:14} plan {best['Planning Time']:5.2f} ms, run "
                f"{best['Execution Time']:5.2f} ms, buffers {hit} hit {read} read; prepared: {kept} "
                f"({generic}/{custom}); {_plan_line(top)}"
            )
    finally:
        await conn.close()


async def block_reads(superuser_url: str, database: str) -> int:
    conn = await asyncpg.connect(plain_url(superuser_url))
    try:
        # Statistics reach the shared counters when a backend is idle for a moment; ask for them fresh.
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        return int(await conn.fetchval("SELECT blks_read FROM pg_stat_database WHERE datname = $1", database))
    finally:
        await conn.close()


def start(side: Side, redis_url: str) -> None:
    servers = Servers("", side.owner_url, side.app_url, redis_url, "")
    settings = make_settings(servers, free_port(), log_level="info", db_pool_size=10, db_max_overflow=0)
    env = settings_env(settings)
    codo_port, floor_port = free_port(), free_port()
    side.codo = subprocess.Popen(
        [str(Path(sys.executable).parent / "codo"), "api", "--port", str(codo_port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    side.floor = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.floor", "--port", str(floor_port), "--dsn",
         plain_url(side.app_url), "--org", str(side.org), "--pool-size", "10"],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for(codo_port, side.codo, f"codo api ({side.label})")
    wait_for(floor_port, side.floor, f"the floor app ({side.label})")
    side.codo_url, side.floor_url = f"http://127.0.0.1:{codo_port}", f"http://127.0.0.1:{floor_port}"


def _spread(values: list[float]) -> str:
    return f"{min(values):,.1f}-{max(values):,.1f}"


def _pct(new: float, old: float) -> float:
    return (new / old - 1) * 100 if old else 0.0


def summary(sides: list[Side], args: argparse.Namespace) -> None:
    one, many = sides
    print(
        f"\nmedians of {args.rounds} interleaved rounds (range min-max); difference: {many.label} against "
        f"{one.label}, of the medians | median (range) of the differences within each round"
    )
    print(f"{'':22} {one.label:>22} {many.label:>22} {'difference':>11} | {'within rounds':>24}")
    rows: list[tuple[str, str, str]] = [
        ("codo req/s", "codo", "rps"),
        ("codo p50 ms", "codo", "p50"),
        ("codo p99 ms", "codo", "p99"),
        ("codo CPU ms/request", "codo", "cpu_ms"),
        ("DB CPU ms/request", "codo", "db_ms"),
        ("floor req/s", "floor", "rps"),
        ("floor p50 ms", "floor", "p50"),
        ("floor CPU ms/request", "floor", "cpu_ms"),
        ("floor DB CPU ms/req", "floor", "db_ms"),
    ]
    verdict = {}
    for label, who, attr in rows:
        a = [getattr(r, attr) for r in one.runs[who]]
        b = [getattr(r, attr) for r in many.runs[who]]
        paired = [_pct(y, x) for x, y in zip(a, b, strict=True)]
        ma, mb = statistics.median(a), statistics.median(b)
        diff = _pct(mb, ma)
        verdict[(who, attr)] = diff
        print(
            f"{label:22} {ma:10,.2f} ({_spread(a):>10}) {mb:10,.2f} ({_spread(b):>10}) {diff:+10.1f}% | "
            f"{statistics.median(paired):+7.1f}% ({min(paired):+.0f}…{max(paired):+.0f}%)"
        )
    for who in ("codo", "floor"):
        a, b = one.reads[who], many.reads[who]
        print(
            f"{who + ' blocks read/req':22} {statistics.median(a):10.3f} {'':12} {statistics.median(b):10.3f}"
        )
    ok = abs(verdict[("codo", "rps")]) <= 20 and abs(verdict[("codo", "p50")]) <= 20
    print(
        f"\ntarget (p50 and req/s within 20 %): {'met' if ok else 'not met'} — req/s "
        f"{verdict[('codo', 'rps')]:+.1f} %, p50 {verdict[('codo', 'p50')]:+.1f} %"
    )


def main(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        sys.exit("this benchmark needs wrk: apt-get install wrk (Debian/Ubuntu)")
    tmp = Path(tempfile.mkdtemp(prefix="codo-bench-flat-"))
    kept = args.keep / "bench-flat.json" if args.keep else None
    seeded: dict[str, Any] | None = json.loads(kept.read_text()) if kept and kept.exists() else None
    sizes = {"contacts": args.contacts, "orgs": args.orgs, "org_contacts": args.org_contacts}
    if seeded and seeded["sizes"] != sizes:
        sys.exit(f"{args.keep} holds {seeded['sizes']}")
    pg = EmbeddedPostgres((args.keep or tmp) / "pg", free_port())
    pg.init()
    pg.start()
    postmaster = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    redis = EmbeddedRedis(tmp / "redis", free_port(), persist=False)
    redis.start()
    sides: list[Side] = []
    try:
        password = seeded["password"] if seeded else secrets.token_urlsafe(12)
        if seeded:
            sides = [Side(s["label"], s["database"], uuid.UUID(s["org"]), s["token"])
                     for s in seeded["sides"]]  # fmt: skip
        else:
            sides = [Side(label, f"codo_flat_{label}_{secrets.token_hex(3)}", uuid.UUID(int=0), "")
                     for label in ("one", "many")]  # fmt: skip
        for side, orgs in zip(sides, (0, args.orgs), strict=True):
            side.owner_url, side.app_url = migrated(pg, side.database, password)
            if not seeded:
                asyncio.run(seed(side, args, orgs, redis.url))
        if kept and not seeded:
            saved = [{"label": s.label, "database": s.database, "org": str(s.org), "token": s.token}
                     for s in sides]  # fmt: skip
            kept.write_text(json.dumps({"sizes": sizes, "password": password, "sides": saved}))
        for side in sides:
            asyncio.run(describe(side))

        print("\nPostgreSQL's account of each statement, as the runtime role in alpha's scope (best of 5):")
        for side in sides:
            token = side.token
            statements = [
                ("contacts list", _plain_list_sql("name", False, False, 51), [side.org]),
                ("token lookup", _BY_HASH, [side.org, digest(token)]),
                ("organisation", BY_SLUG, ["alpha"]),
            ]
            asyncio.run(explain(side, statements))

        for i, side in enumerate(sides):
            # Separate Redis databases: nothing one codo process keeps there reaches the other's.
            start(side, redis.url.rsplit("/", 1)[0] + f"/{i}")
        scripts = tmp / "lua"
        scripts.mkdir()
        scripts_for = {
            side.label: {
                "codo": lua(
                    scripts / f"codo-{i}.lua", "GET", [LIST], {"Authorization": f"Bearer {side.token}"}
                ),
                "floor": lua(scripts / f"floor-{i}.lua", "GET", [LIST], {}),
            }
            for i, side in enumerate(sides)
        }
        for side in sides:  # warm up: pools, prepared statements, caches, buffers
            wrk(side.codo_url, scripts_for[side.label]["codo"], 3, args.connections)
            wrk(side.floor_url, scripts_for[side.label]["floor"], 2, args.connections)

        print(
            f"\n{args.contacts:,} contacts in alpha; wrk {args.seconds} s at {args.connections} connections "
            f"per run; one codo api process per side; load average {os.getloadavg()[0]:.1f}\n"
        )
        columns = f"{'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'CPU ms':>6} {'DB ms':>5}"
        print(f"{'round':5} {'side':>11} {'':4} {columns} {'reads':>6} {'load':>5}")
        for n in range(args.rounds):
            order = sides if n % 2 == 0 else sides[::-1]
            for who in ("codo", "floor"):
                for side in order:
                    process = side.codo if who == "codo" else side.floor
                    assert process is not None
                    url = side.codo_url if who == "codo" else side.floor_url
                    before = asyncio.run(block_reads(pg.superuser_url, side.database))
                    db_before = cpu_seconds(postmaster)
                    result = wrk(url, scripts_for[side.label][who], args.seconds, args.connections,
                                 process.pid)  # fmt: skip
                    result.db_ms = (cpu_seconds(postmaster) - db_before) * 1000 / max(result.requests, 1)
                    reads = (asyncio.run(block_reads(pg.superuser_url, side.database)) - before) / max(
                        result.requests, 1
                    )
                    side.runs[who].append(result)
                    side.reads[who].append(reads)
                    flag = f"  ({result.errors} failed)" if result.errors else ""
                    print(
                        f"{n + 1:5} {side.label:>11} {who:5}{result.cells()} {reads:6.3f} "
                        f"{os.getloadavg()[0]:5.1f}{flag}",
                        flush=True,
                    )
        summary(sides, args)
        print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        for side in sides:
            for process in (side.codo, side.floor):
                if process is not None:
                    stop(process)
        redis.stop()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=2_000, help="contacts of alpha on both sides")
    parser.add_argument("--orgs", type=int, default=1_000, help="further organisations on the many side")
    parser.add_argument(
        "--org-contacts", type=int, default=1_000, help="contacts in each further organisation"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--keep", type=Path, help="keep the seeded databases here and reuse them next time")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main(parser.parse_args())
