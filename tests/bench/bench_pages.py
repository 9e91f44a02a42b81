"""The pages a coordinator opens every day, with the demo programme, next to a floor.

    .venv/bin/python -m tests.bench.bench_pages [--requests 60] [--warmup 5] [--only tandem reports]

Starts its own PostgreSQL and Redis (as the test harness does), migrates, seeds the demo programme
of `codo dev` (``shared/demo.py``), signs a coordinator in (a browser session cookie, as Chromium
would send it) and starts two servers, each one process under uvicorn:

- ``codo api``, with the settings a deployment has (JSON request logs at info level, to /dev/null);
- the floor, ``tests/bench/floor.py``: bare Litestar + asyncpg answering a page of 50 contacts with
  the same SQL under the same row-level security, without authentication, ORM, templates or
  domain rules.

Then it requests each page one after the other (``--requests`` times, after ``--warmup``
requests), as one person clicking through, and prints p50 and p95 per page next to the floor's,
measured in the same run with the same client, with p99 and the server's CPU per request (which a
busy machine inflates far less than the latencies). The aim is a p95 under 200 ms for every page.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import asyncpg
import httpx
import redis.asyncio as aioredis
from sqlalchemy import select, text

from services.localstack import EmbeddedPostgres, EmbeddedRedis, free_port, provision_database
from shared import demo, migrate
from shared.db import Database, plain_url
from shared.identity.sessions import COOKIE, SessionStore
from shared.models import User
from tests.bench.bench_api import REPO, stop, wait_for
from tests.conftest import Servers, make_settings, settings_env

AIM_MS = 200.0


async def prepare(servers: Servers) -> tuple[dict[str, str], str, list[tuple[str, str]], str]:
    """Seed the demo; return codo's environment, the coordinator's cookie, the pages and the org id."""
    settings = make_settings(servers, free_port(), log_level="info", db_pool_size=10, db_max_overflow=0)
    db = Database.from_settings(settings)
    seeded = await demo.seed(db, settings.env, public_url="http://127.0.0.1")
    async with db.platform() as session:
        user_id = (
            await session.execute(select(User.id).where(User.email == "kemal.koordination@example.org"))
        ).scalar_one()
    async with db.tenant(seeded.org_id) as session:
        one = (await session.execute(text("SELECT id FROM matching_runs LIMIT 1"))).scalar_one()
        event = (
            await session.execute(text("SELECT id FROM intake_events ORDER BY starts_at LIMIT 1"))
        ).scalar_one()
        appointment = (await session.execute(text("SELECT id FROM appointments LIMIT 1"))).scalar_one()
        task = (await session.execute(text("SELECT id FROM tasks LIMIT 1"))).scalar_one()
        match = (
            await session.execute(
                text("SELECT id FROM matches WHERE mentor_id = :a AND mentee_id = :b"),
                {"a": seeded.people["sabine"], "b": seeded.people["leon"]},
            )
        ).scalar_one()
    await db.dispose()
    redis = aioredis.Redis.from_url(servers.redis_url)
    web = await SessionStore(redis, settings).create(user_id=user_id)
    await redis.aclose()
    owner = await asyncpg.connect(plain_url(servers.migrations_url))
    await owner.execute("ANALYZE")
    await owner.close()
    o = f"/o/{demo.SLUG}"
    sabine = seeded.people["sabine"]
    pages = [
        ("dashboard", o),
        ("my day", f"{o}/my-day"),
        ("contacts", f"{o}/contacts"),
        ("contacts: mentees waiting", f"{o}/contacts?kind=mentee&status=ready"),
        ("contact", f"{o}/contacts/{sabine}"),
        ("matching board", f"{o}/matching"),
        ("cohort run", f"{o}/matching/runs/{one}"),
        ("tandems", f"{o}/matches"),
        ("tandem", f"{o}/matches/{match}"),
        ("tasks", f"{o}/tasks"),
        ("task", f"{o}/tasks/{task}"),
        ("calendar", f"{o}/calendar"),
        ("appointment", f"{o}/appointments/{appointment}"),
        ("events", f"{o}/intake/events"),
        ("event", f"{o}/intake/events/{event}"),
        ("forms", f"{o}/intake/forms"),
        ("preparation", f"{o}/intake/people/{sabine}"),
        ("reports (this year)", f"{o}/reports"),
    ]
    return settings_env(settings), f"{COOKIE}={web.id}", pages, str(seeded.org_id)


def cpu_ms(pid: int) -> float:
    """User + system CPU the process has used so far (Linux), in milliseconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


class Figures(NamedTuple):
    p50: float
    p95: float
    p99: float
    cpu: float  # ms of the server's CPU per request: what a request costs, whatever the load
    status: int


def measure(client: httpx.Client, url: str, requests: int, warmup: int, pid: int) -> Figures:
    times, status, cpu = [], 0, 0.0
    for n in range(warmup + requests):
        if n == warmup:
            cpu = cpu_ms(pid)
        started = time.perf_counter()
        r = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        status = r.status_code
        if n >= warmup:
            times.append(elapsed)
    cpu = (cpu_ms(pid) - cpu) / requests
    times.sort()

    def pct(p: float) -> float:
        return times[min(len(times) - 1, max(round(p * len(times)) - 1, 0))]

    return Figures(statistics.median(times), pct(0.95), pct(0.99), cpu, status)


def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="codo-bench-pages-"))
    pg = EmbeddedPostgres(tmp / "pg", free_port())
    pg.init()
    pg.start()
    redis = EmbeddedRedis(tmp / "redis", free_port(), persist=False)
    redis.start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        password = secrets.token_urlsafe(12)
        owner_url, app_url = asyncio.run(
            provision_database(pg.superuser_url, f"codo_bench_{secrets.token_hex(3)}", password)
        )
        migrate.upgrade(owner_url)
        asyncio.run(migrate.grant_runtime_role(owner_url, migrate.runtime_role(app_url)))
        servers = Servers(pg.superuser_url, owner_url, app_url, redis.url, password)
        print("seeding the demo programme …", flush=True)
        env, cookie, pages, org_id = asyncio.run(prepare(servers))
        codo_port, floor_port = free_port(), free_port()
        codo = subprocess.Popen(
            [str(Path(sys.executable).parent / "codo"), "api", "--port", str(codo_port)],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        processes.append(codo)
        floor = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.floor", "--port", str(floor_port),
             "--dsn", plain_url(app_url), "--org", org_id, "--pool-size", "10"],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        processes.append(floor)
        wait_for(codo_port, codo, "codo api")
        wait_for(floor_port, floor, "the floor app")
        name, value = cookie.split("=", 1)
        base = f"http://127.0.0.1:{codo_port}"
        with (
            httpx.Client(base_url=base, cookies={name: value}, timeout=30) as client,
            httpx.Client(base_url=f"http://127.0.0.1:{floor_port}", timeout=30) as bare,
        ):
            floor_f = measure(
                bare, f"/api/v1/orgs/{demo.SLUG}/contacts", args.requests, args.warmup, floor.pid
            )
            health = measure(client, "/health", args.requests, args.warmup, codo.pid)
            print(
                f"\n{args.requests} requests per page, one at a time, as a signed-in coordinator "
                f"(aim: p95 under {AIM_MS:.0f} ms); load average {os.getloadavg()[0]:.1f}\n"
            )
            print(
                f"{'page':32} {'status':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'CPU ms':>7}"
                f"   {'floor p95':>9}  {'x floor':>7}"
            )

            def row(label: str, f: Figures, mark: str = "", ratio: str = "") -> None:
                print(
                    f"{label:32} {f.status:6} {f.p50:8.1f} {f.p95:8.1f} {f.p99:8.1f} {f.cpu:7.1f}"
                    f"{ratio}{mark}"
                )

            row("floor: 50 contacts, bare SQL", floor_f)
            row("floor: codo /health", health)
            slow = []
            for label, url in pages:
                if args.only and not any(word in label for word in args.only):
                    continue
                f = measure(client, url, args.requests, args.warmup, codo.pid)
                mark = (
                    ""
                    if f.p95 < AIM_MS and f.status == 200
                    else "  <-- over the aim"
                    if f.status == 200
                    else "  <-- !"
                )
                if mark:
                    slow.append(label)
                row(label, f, mark, f"   {floor_f.p95:9.1f}  {f.p95 / floor_f.p95:7.1f}")
            print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
            print("every page under the aim" if not slow else f"over the aim: {', '.join(slow)}")
    finally:
        for process in processes:
            stop(process)
        redis.stop()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=[], help="pages whose name contains one of these words")
    main(parser.parse_args())
