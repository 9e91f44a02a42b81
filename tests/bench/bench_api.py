"""API load test: a real ``codo api`` process next to its floor, both driven by wrk.

    .venv/bin/python -m tests.bench.bench_api [--contacts 2000] [--orgs 0] [--seconds 10]
        [--connections 32] [--workers 1] [--profile] [--keep DIR]

Needs ``wrk`` (Debian/Ubuntu: ``apt-get install wrk``). Starts its own PostgreSQL and Redis (as the
test harness does), migrates, seeds one organisation ``alpha`` with ``--contacts`` contacts (and
``--orgs`` further organisations of ``--org-contacts`` each, written with one INSERT ... SELECT
generate_series per table in the system context, to see whether the list, one contact and a change
stay flat in the number of organisations; ``bench_flat.py`` measures the list at both sizes in one
run, interleaved), then starts two servers, each one process under uvicorn:

- ``codo api``, with the settings a deployment has (JSON request logs at info level, to /dev/null);
- the floor, ``tests/bench/floor.py``: bare Litestar + asyncpg running the same SQL under the
  same row-level security, without authentication, ORM or domain rules.

Each case runs wrk for ``--seconds`` at ``--connections`` connections against codo, then against
the floor, and prints requests/s, p50/p99 latency, the server's CPU time per request (its own and
its worker processes'; steadier than requests/s on a machine shared with other work), PostgreSQL's
CPU time per request (all its processes; what a query plan costs) and codo's share of the floor's
requests/s.
Codo authenticates with an API token; the browser-session rows use a signed-in session's cookie
(the list page and the same API call). ``--profile`` records a py-spy flame graph of codo in each
case (``pip install py-spy``; ``--profile raw`` for collapsed stacks).

``--keep DIR`` keeps the seeded database in ``DIR`` and reuses it on the next run with the same
``--keep`` (migrating it to the current head first, so a new migration is measured on the same
rows): seeding a thousand organisations takes minutes on a busy machine, the measurement seconds.
With ``--profile`` the flame graphs are written there too, named after their case.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis
from sqlalchemy import func, select

from services.localstack import EmbeddedPostgres, EmbeddedRedis, free_port, provision_database
from shared import migrate
from shared.db import Database, plain_url
from shared.identity.sessions import COOKIE, SessionStore
from shared.models import User
from tests.bench.bench_contacts import seed_contacts
from tests.conftest import Servers, create_org, make_settings, settings_env

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    rps: float
    p50: float
    p99: float
    errors: int
    requests: int = 0
    cpu_ms: float = 0.0  # CPU time of the server process per request
    p95: float = 0.0
    db_ms: float = 0.0  # CPU time of PostgreSQL (every backend) per request

    def cells(self) -> str:
        latency = f"{self.p50:8.1f} {self.p95:8.1f} {self.p99:8.1f}"
        return f"{self.rps:9,.0f} {latency} {self.cpu_ms:6.2f} {self.db_ms:5.2f}"


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children (the workers of a multi-process server,
    PostgreSQL's backends), the children that have exited included: their time moves to the parent's
    count of reaped children (cutime, cstime), so a backend exiting between two readings (a browser
    session's, for one) is not lost from the difference."""
    total = 0.0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
        if p == pid:
            total += int(fields[13]) + int(fields[14])
    return total / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in found] + [g for c in found for g in _children(int(c))]


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(
    url: str, script: Path, seconds: int, connections: int, pid: int | None = None, db_pid: int | None = None
) -> Result:
    cpu_before = cpu_seconds(pid) if pid else 0.0
    db_before = cpu_seconds(db_pid) if db_pid else 0.0
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    count = int(bad.group(1)) if bad else 0
    count += sum(int(n) for n in errors.groups()) if errors else 0
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    cpu = (cpu_seconds(pid) - cpu_before) * 1000 / max(total, 1) if pid else 0.0
    db = (cpu_seconds(db_pid) - db_before) * 1000 / max(total, 1) if db_pid else 0.0
    p95 = int(re.search(r"^p95 (\d+)$", out, re.M).group(1)) / 1000  # type: ignore[union-attr]
    return Result(rps, p50, p99, count, total, cpu, p95, db)


def lua(path: Path, method: str, paths: list[str], headers: dict[str, str], body: str | None = None) -> Path:
    """A wrk script sending ``method`` to one of ``paths`` at random, with ``headers``; ``{n}`` in
    ``body`` becomes a random number in each request."""
    quoted = ", ".join(f'"{p}"' for p in paths)
    lines = [f"local paths = {{{quoted}}}", "local headers = {}"]
    lines += [f'headers["{k}"] = "{v}"' for k, v in headers.items()]
    body_lua = f"'{body}'" if body is not None else "nil"
    if body is not None and "{n}" in body:
        # A new value each time, so that every change really changes the row.
        body_lua = f"(string.gsub('{body}', '{{n}}', tostring(math.random(1000000))))"
    lines += [
        "math.randomseed(os.time())",
        "request = function()",
        f'  return wrk.format("{method}", paths[math.random(#paths)], headers, {body_lua})',
        "end",
        # wrk prints p50/p75/p90/p99 only.
        "done = function(summary, latency, requests)",
        '  io.write(string.format("p95 %d\\n", latency:percentile(95)))',
        "end",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def profile(pid: int, out: Path, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    fmt = ["--format", "raw"] if args.profile == "raw" else []
    return subprocess.Popen(
        [
            shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
            "record",
            "-o",
            str(out.with_suffix(".txt") if fmt else out),
            "-d",
            str(args.seconds),
            "-p",
            str(pid),
            "--nonblocking",
            *fmt,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {port} within 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        # SIGINT: uvicorn stops as for SIGTERM and re-raises it, which lets cProfile write its file.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


# Further organisations, each with what every organisation has on the list's path (tokens, settings,
# field definitions) and ``per_org`` contacts whose consents are complete, one statement per table
# in the system context: a thousand organisations in a minute instead of an hour.
_SEED_ORGS = [
    "INSERT INTO organizations (id, slug, name) SELECT gen_random_uuid(), 'org-' || lpad(i::text, 4, '0'),"
    " 'Verein ' || i FROM generate_series(1, $1) AS i",
    "INSERT INTO api_tokens (organization_id, id, name, role, token_hash, hint)"
    " SELECT o.id, gen_random_uuid(), r, r, sha256((o.id::text || r)::bytea), 'bench'"
    " FROM organizations AS o, unnest(ARRAY['owner', 'admin', 'coordinator', 'viewer']) AS r"
    " WHERE o.slug LIKE 'org-%'",
    "INSERT INTO contact_settings (organization_id, id) SELECT id, gen_random_uuid() FROM organizations"
    " WHERE slug LIKE 'org-%'",
    "INSERT INTO contact_fields (organization_id, id, key, label_de, label_en, type)"
    " SELECT o.id, gen_random_uuid(), k, k, k, 'text' FROM organizations AS o,"
    " unnest(ARRAY['schule', 'beruf']) AS k WHERE o.slug LIKE 'org-%'",
    "INSERT INTO contacts (organization_id, id, kinds, first_name, last_name, email, status, custom,"
    " search_text, sort_name, consent_missing)"
    " SELECT o.id, gen_random_uuid(), ARRAY[(ARRAY['mentor', 'mentee'])[1 + n % 2]], 'Vorname ' || n,"
    " 'Nachname ' || (n * 7919 % $1), 'p' || n || '@' || o.slug || '.example', 'ready',"
    " jsonb_build_object('schule', 'Schule ' || n % 10), '',"
    " 'nachname ' || (n * 7919 % $1) || ' vorname ' || n, false"
    " FROM organizations AS o, generate_series(1, $1) AS n WHERE o.slug LIKE 'org-%'",
]


async def seed_orgs(owner_url: str, count: int, per_org: int) -> None:
    conn = await asyncpg.connect(plain_url(owner_url))
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('codo.system', 'on', true)")
            for i, statement in enumerate(_SEED_ORGS):
                print(f"  {statement[:40]}…", flush=True)
                await conn.execute(statement, *([count if i == 0 else per_org] if "$1" in statement else []))
    finally:
        await conn.close()


async def prepare(
    args: argparse.Namespace, servers: Servers, seeded: dict[str, str] | None
) -> tuple[dict[str, str], dict[str, str], list[str], list[str], dict[str, str]]:
    """Seed (unless ``seeded`` names alpha's id and token from a kept database); return codo's
    environment, the floor's, ids of some contacts and mentees of alpha, and what a reuse needs."""
    settings = make_settings(
        servers, free_port(), log_level="info", db_pool_size=10, db_max_overflow=0, api_workers=args.workers
    )
    db = Database.from_settings(settings)
    if seeded is None:
        org = await create_org(db, "alpha")
        org_id, token = org.id, org.tokens[next(iter(org.tokens))]
        conn = await asyncpg.connect(plain_url(servers.app_url))
        await seed_contacts(conn, org.id, args.contacts)
        await conn.close()
        if args.orgs:
            print(
                f"seeding {args.orgs:,} more organisations of {args.org_contacts:,} contacts each", flush=True
            )
            started = time.perf_counter()
            await seed_orgs(servers.migrations_url, args.orgs, args.org_contacts)
            print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)
    else:
        org_id, token = uuid.UUID(seeded["org"]), seeded["token"]
    owner = await asyncpg.connect(plain_url(servers.migrations_url))
    await owner.execute("ANALYZE")
    organisations = await owner.fetchval("SELECT count(*) FROM organizations")
    await owner.close()
    async with db.platform() as session:
        user_id = (
            await session.execute(select(User.id).where(User.email == "owner@alpha.example"))
        ).scalar_one()
    redis = aioredis.Redis.from_url(servers.redis_url)
    web = await SessionStore(redis, settings).create(user_id=user_id)
    await redis.aclose()
    async with db.tenant(org_id) as session:
        from shared.contacts.models import Contact

        ids = [str(i) for i in (await session.execute(select(Contact.id).limit(200))).scalars()]
        waiting = select(Contact.id).where(Contact.kinds.contains(["mentee"])).limit(200)
        mentees = [str(i) for i in (await session.execute(waiting)).scalars()]
        mentors = await session.scalar(
            select(func.count()).select_from(Contact).where(Contact.kinds.contains(["mentor"]))
        )
    print(f"alpha: {mentors:,} mentors to suggest from; {organisations:,} organisations", flush=True)
    await db.dispose()
    env = settings_env(settings)
    floor_env = {**env, "FLOOR_ORG": str(org_id)}
    env["BENCH_TOKEN"] = token
    env["BENCH_COOKIE"] = f"{COOKIE}={web.id}"
    return env, floor_env, ids, mentees, {"org": str(org_id), "token": token}


def main(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        sys.exit("this benchmark needs wrk: apt-get install wrk (Debian/Ubuntu)")
    tmp = Path(tempfile.mkdtemp(prefix="codo-bench-api-"))
    kept = args.keep / "bench.json" if args.keep else None
    seeded: dict[str, str] | None = json.loads(kept.read_text()) if kept and kept.exists() else None
    if seeded and (int(seeded["contacts"]), int(seeded["orgs"])) != (args.contacts, args.orgs):
        sys.exit(f"{args.keep} holds --contacts {seeded['contacts']} --orgs {seeded['orgs']}")
    pg = EmbeddedPostgres((args.keep or tmp) / "pg", free_port())
    pg.init()
    pg.start()
    postmaster = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    redis = EmbeddedRedis(tmp / "redis", free_port(), persist=False)
    redis.start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        password = seeded["password"] if seeded else secrets.token_urlsafe(12)
        database = seeded["database"] if seeded else f"codo_bench_{secrets.token_hex(3)}"
        owner_url, app_url = asyncio.run(provision_database(pg.superuser_url, database, password))
        migrate.upgrade(owner_url)
        asyncio.run(migrate.grant_runtime_role(owner_url, migrate.runtime_role(app_url)))
        servers = Servers(pg.superuser_url, owner_url, app_url, redis.url, password)
        env, floor_env, ids, mentees, alpha = asyncio.run(prepare(args, servers, seeded))
        if kept and not seeded:
            reuse = {"password": password, "database": database, "contacts": args.contacts, "orgs": args.orgs}
            kept.write_text(json.dumps({**reuse, **alpha}))
        token, cookie = env.pop("BENCH_TOKEN"), env.pop("BENCH_COOKIE")

        codo_port, floor_port = free_port(), free_port()
        command = [str(Path(sys.executable).parent / "codo"), "api", "--port", str(codo_port)]
        if args.cprofile:
            command = [sys.executable, "-m", "cProfile", "-o", str(args.cprofile), *command]
        codo = subprocess.Popen(
            command,
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(codo)
        floor = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.bench.floor",
                "--port",
                str(floor_port),
                "--dsn",
                plain_url(app_url),
                "--org",
                floor_env["FLOOR_ORG"],
                "--pool-size",
                "10",
            ],
            env=floor_env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(floor)
        wait_for(codo_port, codo, "codo api")
        wait_for(floor_port, floor, "the floor app")

        base = "/api/v1/orgs/alpha/contacts"
        bearer = {"Authorization": f"Bearer {token}"}
        session = {"Cookie": cookie}
        patch_headers = {**bearer, "Content-Type": "application/json"}
        one = [f"{base}/{i}" for i in ids]
        scripts = tmp / "lua"
        scripts.mkdir()
        list_codo = lua(scripts / "list.lua", "GET", [f"{base}?limit=50"], bearer)
        list_floor = lua(scripts / "list-floor.lua", "GET", [f"{base}?limit=50"], {})
        one_codo = lua(scripts / "one.lua", "GET", one, bearer)
        one_floor = lua(scripts / "one-floor.lua", "GET", one, {})
        # A different city each time: a change to the value a contact already has writes nothing.
        body = '{"city":"Berlin {n}"}'
        patch_codo = lua(scripts / "patch.lua", "PATCH", one, patch_headers, body)
        patch_floor = lua(
            scripts / "patch-floor.lua", "PATCH", one, {"Content-Type": "application/json"}, body
        )
        session_api = lua(scripts / "session-api.lua", "GET", [f"{base}?limit=50"], session)
        session_page = lua(scripts / "session-page.lua", "GET", ["/o/alpha/contacts"], session)
        suggest = [f"/api/v1/orgs/alpha/matching/suggestions?contact_id={i}" for i in mentees]
        suggest_codo = lua(scripts / "suggest.lua", "GET", suggest, bearer)
        suggest_floor = lua(scripts / "suggest-floor.lua", "GET", suggest, {})
        select1 = lua(scripts / "select1.lua", "GET", ["/select1"], {})
        codo_url, floor_url = f"http://127.0.0.1:{codo_port}", f"http://127.0.0.1:{floor_port}"

        # Warm up both: connection pools, prepared statements, caches.
        wrk(codo_url, list_codo, 2, args.connections)
        wrk(floor_url, list_floor, 2, args.connections)
        # The first suggestion request encodes the pool (seconds for thousands of mentors);
        # what is measured is the pool in use, as after any change it is built once again.
        if not args.only or args.only in "suggestions for a mentee":
            wrk(codo_url, suggest_codo, 5, 2)

        print(
            f"\n{args.contacts:,} contacts in alpha, {args.orgs:,} more organisations; "
            f"wrk {args.seconds} s at {args.connections} connections; "
            f"codo api with {args.workers} process(es), floor 1 process\n"
        )
        print(f"{'':34} {'codo':^49} | {'floor':^49} |")
        columns = f"{'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'CPU ms':>6} {'DB ms':>5}"
        print(f"{'case':34} {columns} | {columns} | ratio")
        cases = [
            ("list 50 by name (API token)", list_codo, list_floor),
            ("one contact (API token)", one_codo, one_floor),
            ("change one contact (API token)", patch_codo, patch_floor),
            ("list 50 by name (browser session)", session_api, list_floor),
            ("list page (browser session)", session_page, list_floor),
            # The floor reads the person and the pool's revision; codo also scores the pool.
            ("suggestions for a mentee", suggest_codo, suggest_floor),
        ]
        for label, mine, theirs in cases:
            if args.only and args.only not in label:
                continue
            spy = profile(codo.pid, (args.keep or tmp) / f"{slug(label)}.svg", args) if args.profile else None
            a = wrk(codo_url, mine, args.seconds, args.connections, codo.pid, postmaster)
            if spy:
                spy.wait()
                print(f"  py-spy: {spy.args[3]}")
            b = wrk(floor_url, theirs, args.seconds, args.connections, floor.pid, postmaster)
            flag = f"  ({a.errors} failed)" if a.errors or b.errors else ""
            print(f"{label:34} {a.cells()} | {b.cells()} | {a.rps / b.rps:5.2f}{flag}", flush=True)
        s = wrk(floor_url, select1, args.seconds, args.connections, floor.pid, postmaster)
        print(f"{'bare SELECT 1 (floor app)':34} {'':49} | {s.cells()} |")

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
    parser.add_argument("--contacts", type=int, default=2_000)
    parser.add_argument("--orgs", type=int, default=0, help="further organisations besides alpha")
    parser.add_argument(
        "--org-contacts", type=int, default=1_000, help="contacts in each further organisation"
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="CODO_API_WORKERS of the codo process")
    parser.add_argument("--cprofile", type=Path, help="run codo under cProfile, writing its statistics here")
    parser.add_argument(
        "--keep", type=Path, help="keep the seeded database here and reuse it on the next run"
    )
    parser.add_argument("--only", default="", help="run only the cases whose label contains this")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="svg",
        choices=["svg", "raw"],
        help="record a py-spy profile of codo in each case (flame graph, or raw collapsed stacks)",
    )
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main(parser.parse_args())
