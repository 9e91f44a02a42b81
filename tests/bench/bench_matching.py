"""Matching benchmark (a script, not a test): suggestion latency and cohort time.

    .venv/bin/python tests/bench/bench_matching.py [--quick] [--db]

Suggestions: one person against 1,000 and 10,000 candidates of one organisation (the pool
encoded once, as the API caches it), median and p95 over many people. Cohort: n mentees x n
mentors (capacity 1-2), scoring plus exact assignment, next to the floor: scipy's bare
linear_sum_assignment on the same capacity-expanded matrix.

With --db, the same through PostgreSQL (a throwaway embedded server): GET .../matching/suggestions
over HTTP with 1,000 and 10,000 mentors in the organisation (first request, which loads and
encodes the pool, and later ones, which reuse it), and a whole cohort run as the worker does it
(load 2 x n contacts, score, assign, write the pairs).

    .venv/bin/python -m tests.bench.bench_matching --load [--mentors 10000] [--seconds 10]
        [--connections 32] [--writes-per-second 5] [--profile]

With --load, under the load of the API benchmark (``bench_api.py``: wrk, 32 connections, a real
``codo api`` process and the floor app, ``tests/bench/floor.py``, which reads the person and the
pool's revision under the same row-level security): suggestions for 200 mentees among
``--mentors`` mentors, first with nobody writing, then while one more connection changes a
mentor's availability ``--writes-per-second`` times a second (each write moves the revision and
the pool catches up with the changed mentor; the floor takes the same writes). Prints p50/p95/p99,
requests/s, the server's CPU ms per request, the floor beside it and the load average.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scipy.optimize import linear_sum_assignment
from sqlalchemy import insert

from shared import clock
from shared.actor import Actor
from shared.ids import new_id
from shared.matching import geo, texts
from shared.matching.assignment import Cohort
from shared.matching.config import HardRules, MatchingConfig
from shared.matching.profile import Preferences, Profile
from shared.matching.scoring import CandidatePool

TODAY = date(2026, 11, 25)
LANGS = ["de"] * 6 + ["ar", "tr", "fa", "ru", "uk", "en", "pl", "ku"]
INTERESTS = [f"interest {i}" for i in range(60)]
SUPPORT = ["Hausaufgaben", "Sprache", "Bewerbung", "Freizeit", "Behörden", "Ausbildung"]


def region_codes() -> list[str]:
    # Berlin and Brandenburg: a city programme, so distances matter.
    return [code for code in geo._table() if code[:2] in {"10", "12", "13", "14", "15", "16"}]


def make_people(n: int, rng: random.Random, codes: list[str], mentor: bool) -> list[Profile]:
    people = []
    for _ in range(n):
        wishes = Preferences()
        if rng.random() < 0.2:
            wishes = Preferences(genders=[rng.choice(["female", "male"])])
        if rng.random() < 0.1:
            low = rng.randint(6, 30)
            wishes = Preferences(genders=wishes.genders, age_min=low, age_max=low + rng.randint(5, 40))
        people.append(
            Profile(
                id=uuid.uuid4(),
                languages=sorted({rng.choice(LANGS) for _ in range(rng.randint(1, 3))}),
                interests=rng.sample(INTERESTS, rng.randint(2, 6)),
                availability=rng.sample(texts.SLOTS, rng.randint(2, 6)),
                postal_code=rng.choice(codes) if rng.random() < 0.95 else None,
                gender=rng.choice(["female", "male", "diverse", None]),
                birth_date=TODAY
                - timedelta(days=rng.randint(25 if mentor else 8, 75 if mentor else 25) * 365),
                preferences=wishes,
                support_kinds=rng.sample(SUPPORT, rng.randint(1, 3)),
                capacity=rng.randint(1, 2) if mentor else 1,
                waiting_since=None if mentor else TODAY - timedelta(days=rng.randint(0, 400)),
            )
        )
    return people


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def bench_suggestions(sizes: list[int], rng: random.Random, codes: list[str], config: MatchingConfig) -> None:
    print("suggestions (best 10 with breakdowns, one organisation)")
    print("  rank: one person against the pool's columns; pair matrix: the same totals as a 1 x n block")
    print(
        f"  {'candidates':>10} {'encode pool':>12} {'patch one':>11} {'median':>11} {'p95':>11} "
        f"{'rank only':>11} {'pair matrix':>11} {'asked again':>11}"
    )
    for n in sizes:
        mentors = make_people(n, rng, codes, mentor=True)
        mentees = make_people(51, rng, codes, mentor=False)
        started = time.perf_counter()
        pool = CandidatePool(mentors, "mentor", config, TODAY)
        encode = time.perf_counter() - started
        # One person changed: what a pool does after each write instead of encoding everyone.
        patches = []
        for changed in make_people(5, rng, codes, mentor=True):
            t0 = time.perf_counter()
            pool.patched([mentors[0].id], [msgspec.structs.replace(changed, id=mentors[0].id)])
            patches.append(time.perf_counter() - t0)
        pool.suggest(mentees.pop(), limit=10)  # warm-up
        full, rank, matrix, again = [], [], [], []
        for person in mentees:
            t0 = time.perf_counter()
            got = pool.suggest(person, limit=10)
            full.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            pool.rank(person, 10)
            rank.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            pool._block(person, pool.side)
            matrix.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            pool.suggest(person, limit=10)
            again.append(time.perf_counter() - t0)
            assert len(got) <= 10
        p95 = statistics.quantiles(full, n=20)[-1]
        print(
            f"  {n:>10,} {ms(encode):>12} {ms(statistics.median(patches)):>11} "
            f"{ms(statistics.median(full)):>11} {ms(p95):>11} "
            f"{ms(statistics.median(rank)):>11} {ms(statistics.median(matrix)):>11} "
            f"{ms(statistics.median(again)):>11}"
        )


def bench_cohorts(sizes: list[int], rng: random.Random, codes: list[str], config: MatchingConfig) -> None:
    print("cohort matching (n mentees x n mentors, capacity 1-2, exact)")
    print(
        f"  {'n':>6} {'encode':>11} {'score':>11} {'assign':>11} {'total':>11} "
        f"{'bare LSA':>11} {'pairs':>7} {'allowed':>8}"
    )
    for n in sizes:
        mentees = make_people(n, rng, codes, mentor=False)
        mentors = make_people(n, rng, codes, mentor=True)
        t0 = time.perf_counter()
        cohort = Cohort(mentees, mentors, config, TODAY)
        t1 = time.perf_counter()
        for _ in cohort.score():
            pass
        t2 = time.perf_counter()
        result = cohort.solve()
        t3 = time.perf_counter()
        # The floor: the assignment alone on the same capacity-expanded matrix.
        places = cohort._mentors.capacity_left
        expanded = np.repeat(np.arange(len(mentors)), places)
        gain = np.where(cohort.feasible, cohort.scores, 0.0)[:, expanded]
        t4 = time.perf_counter()
        linear_sum_assignment(gain, maximize=True)
        bare = time.perf_counter() - t4
        print(
            f"  {n:>6,} {ms(t1 - t0):>11} {ms(t2 - t1):>11} {ms(t3 - t2):>11} {ms(t3 - t0):>11} "
            f"{ms(bare):>11} {len(result.pairs):>7,} {cohort.feasible.mean():>7.0%}"
        )


async def _insert(db: Any, org_id: uuid.UUID, people: list[Profile], kind: str) -> list[uuid.UUID]:
    from shared.contacts.models import Contact

    async with db.tenant(org_id) as session:
        rows = [
            {
                "organization_id": org_id,
                "id": new_id(),
                "kinds": [kind],
                "first_name": f"{kind} {i}",
                "last_name": "Bench",
                "status": "ready",
                "languages": p.languages,
                "interests": p.interests,
                "availability": p.availability,
                "postal_code": p.postal_code,
                "gender": p.gender,
                "birth_date": p.birth_date,
                "preferences": msgspec.to_builtins(p.preferences),
                "support_kinds": p.support_kinds,
                "capacity": p.capacity,
                "waiting_since": p.waiting_since,
            }
            for i, p in enumerate(people)
        ]
        for start in range(0, len(rows), 2_000):
            await session.execute(insert(Contact), rows[start : start + 2_000])
    return [r["id"] for r in rows]


async def bench_database(args: argparse.Namespace, rng: random.Random, codes: list[str]) -> None:
    import asyncio
    import secrets
    import shutil
    import tempfile

    from litestar.testing import AsyncTestClient

    from services.api.app import create_app
    from services.localstack import EmbeddedPostgres, free_port, provision_database
    from shared import migrate, organizations, tokens
    from shared.db import Database
    from shared.matching import runs
    from shared.matching.schemas import RunIn
    from shared.permissions import Role
    from shared.settings import Settings

    folder = Path(tempfile.mkdtemp(prefix="codo-bench-"))
    pg = EmbeddedPostgres(folder / "pg", free_port())
    pg.init()
    pg.start()
    try:
        owner_url, app_url = await provision_database(pg.superuser_url, "bench", secrets.token_urlsafe(8))
        await asyncio.to_thread(migrate.upgrade, owner_url)
        await migrate.grant_runtime_role(owner_url, migrate.runtime_role(app_url))
        settings = msgspec.convert(
            {
                "env": "test",
                "database_url": app_url,
                "redis_url": "redis://127.0.0.1:1/0",
                "log_level": "warning",
            },
            Settings,
        )
        db = Database.from_settings(settings)
        print("through PostgreSQL and the HTTP API")
        print(f"  {'mentors':>8} {'first request':>14} {'median':>11} {'p95':>11}")
        async with AsyncTestClient(app=create_app(settings)) as client:
            for n in [1_000] if args.quick else [1_000, 10_000]:
                async with db.platform() as session:
                    org = await organizations.create_organization(session, f"bench-{n}", f"Bench {n}")
                async with db.tenant(org.id) as session:
                    token = (
                        await tokens.create_token(session, org.id, name="bench", role=Role.COORDINATOR)
                    ).token
                await _insert(db, org.id, make_people(n, rng, codes, mentor=True), "mentor")
                mentees = await _insert(db, org.id, make_people(40, rng, codes, mentor=False), "mentee")
                url = f"/api/v1/orgs/{org.slug}/matching/suggestions"
                headers = {"Authorization": f"Bearer {token}"}
                t0 = time.perf_counter()
                r = await client.get(url, params={"contact_id": str(mentees[0])}, headers=headers)
                first = time.perf_counter() - t0
                assert r.status_code == 200 and r.json()["candidates"] > 0, r.text
                times = []
                for mentee in mentees[1:]:
                    t0 = time.perf_counter()
                    r = await client.get(url, params={"contact_id": str(mentee)}, headers=headers)
                    times.append(time.perf_counter() - t0)
                    assert r.status_code == 200
                p95 = statistics.quantiles(times, n=20)[-1]
                print(f"  {n:>8,} {ms(first):>14} {ms(statistics.median(times)):>11} {ms(p95):>11}")
        print("cohort run as the worker does it (load, score, assign, write pairs)")
        for n in [200] if args.quick else [500, 1_000, 2_000]:
            async with db.platform() as session:
                org = await organizations.create_organization(session, f"cohort-{n}", f"Cohort {n}")
            await _insert(db, org.id, make_people(n, rng, codes, mentor=False), "mentee")
            await _insert(db, org.id, make_people(n, rng, codes, mentor=True), "mentor")
            async with db.tenant(org.id) as session:
                run = await runs.create_run(
                    session, RunIn(), actor=Actor.system("bench"), today=clock.today()
                )
            t0 = time.perf_counter()
            outcome = await runs.execute(db, org.id, run.id)
            elapsed = time.perf_counter() - t0
            async with db.tenant(org.id) as session:
                done = await runs.read_run(session, run.id)
            assert outcome == "done", done.error
            print(f"  {n:>6,} x {n:<6,} {ms(elapsed):>11}  {len(done.pairs or []):,} pairs")
        await db.dispose()
    finally:
        pg.stop()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--db", action="store_true", help="also through PostgreSQL and the HTTP API")
    parser.add_argument("--load", action="store_true", help="only: over HTTP under load, next to the floor")
    parser.add_argument("--mentors", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--writes-per-second", type=float, default=5.0)
    parser.add_argument("--profile", nargs="?", const="svg", choices=["svg", "raw"], help="py-spy codo")
    args = parser.parse_args()
    if args.load:
        bench_load(args)
        return
    rng = random.Random(20261125)
    codes = region_codes()
    config = MatchingConfig(rules=HardRules(max_distance_km=25))
    bench_suggestions([1_000] if args.quick else [1_000, 10_000], rng, codes, config)
    bench_cohorts([200] if args.quick else [500, 1_000, 2_000], rng, codes, config)
    if args.db:
        import asyncio

        asyncio.run(bench_database(args, rng, codes))


def bench_load(args: argparse.Namespace) -> None:
    import asyncio
    import os
    import secrets
    import shutil
    import subprocess
    import tempfile

    import asyncpg

    from services.localstack import EmbeddedPostgres, EmbeddedRedis, free_port, provision_database
    from shared import migrate
    from shared.db import Database, plain_url
    from tests.bench.bench_api import REPO, lua, profile, stop, wait_for, wrk
    from tests.conftest import Servers, create_org, make_settings, settings_env

    if shutil.which("wrk") is None:
        sys.exit("--load needs wrk: apt-get install wrk (Debian/Ubuntu)")
    rng = random.Random(20261126)
    codes = region_codes()
    tmp = Path(tempfile.mkdtemp(prefix="codo-bench-matching-"))
    pg = EmbeddedPostgres(tmp / "pg", free_port())
    pg.init()
    pg.start()
    redis = EmbeddedRedis(tmp / "redis", free_port(), persist=False)
    redis.start()
    processes: list[subprocess.Popen[bytes]] = []

    async def seed(servers: Servers) -> tuple[dict[str, str], str, str, list[uuid.UUID], list[uuid.UUID]]:
        settings = make_settings(servers, free_port(), log_level="info", db_pool_size=10, db_max_overflow=0)
        db = Database.from_settings(settings)
        org = await create_org(db, "alpha")
        mentors = await _insert(db, org.id, make_people(args.mentors, rng, codes, mentor=True), "mentor")
        mentees = await _insert(db, org.id, make_people(200, rng, codes, mentor=False), "mentee")
        await db.dispose()
        owner = await asyncpg.connect(plain_url(servers.migrations_url))
        await owner.execute("ANALYZE")
        await owner.close()
        return settings_env(settings), str(org.id), next(iter(org.tokens.values())), mentors, mentees

    try:
        password = secrets.token_urlsafe(12)
        owner_url, app_url = asyncio.run(
            provision_database(pg.superuser_url, f"codo_bench_{secrets.token_hex(3)}", password)
        )
        migrate.upgrade(owner_url)
        asyncio.run(migrate.grant_runtime_role(owner_url, migrate.runtime_role(app_url)))
        servers = Servers(pg.superuser_url, owner_url, app_url, redis.url, password)
        env, org_id, token, mentors, mentees = asyncio.run(seed(servers))
        codo_port, floor_port = free_port(), free_port()
        codo = subprocess.Popen(
            [str(Path(sys.executable).parent / "codo"), "api", "--port", str(codo_port)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(codo)
        floor = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.floor", "--port", str(floor_port), "--dsn",
             plain_url(app_url), "--org", org_id, "--pool-size", "10"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        processes.append(floor)
        wait_for(codo_port, codo, "codo api")
        wait_for(floor_port, floor, "the floor app")

        bearer = {"Authorization": f"Bearer {token}"}
        scripts = tmp / "lua"
        scripts.mkdir()
        suggest = [f"/api/v1/orgs/alpha/matching/suggestions?contact_id={i}" for i in mentees]
        suggest_codo = lua(scripts / "suggest.lua", "GET", suggest, bearer)
        suggest_floor = lua(scripts / "suggest-floor.lua", "GET", suggest, {})
        # One connection changes a random mentor, pausing between writes (wrk's delay()).
        changed = [f"/api/v1/orgs/alpha/contacts/{i}" for i in rng.sample(mentors, 500)]
        pause = f"delay = function() return {int(1000 / args.writes_per_second)} end\n"
        json = {"Content-Type": "application/json"}
        write_codo = lua(
            scripts / "write.lua",
            "PATCH",
            changed,
            {**bearer, **json},
            '{"availability":["mon-evening","sat-morning"]}',
        )
        write_floor = lua(scripts / "write-floor.lua", "PATCH", changed, json, '{"city":"Berlin"}')
        for script in (write_codo, write_floor):
            script.write_text(script.read_text() + pause)
        codo_url, floor_url = f"http://127.0.0.1:{codo_port}", f"http://127.0.0.1:{floor_port}"

        # The first request builds the pool (seconds for thousands of mentors), then it is kept;
        # each mentee asks once, as every one of them has asked before on a day in use.
        import urllib.request

        for path in suggest:
            with urllib.request.urlopen(urllib.request.Request(codo_url + path, headers=bearer), timeout=60):
                pass
        wrk(codo_url, suggest_codo, 2, 2)
        wrk(floor_url, suggest_floor, 2, 2)
        print(
            f"\nsuggestions among {args.mentors:,} mentors for 200 mentees; wrk {args.seconds} s at "
            f"{args.connections} connections; codo api and the floor, one process each\n"
        )
        columns = f"{'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'CPU ms':>6}"
        print(f"{'case':26} {columns} | {columns} | ratio | writes | load average")
        for label, writing in (("nobody writing", False), ("mentors changing", True)):
            results = []
            for url, script, writes, pid in (
                (codo_url, suggest_codo, write_codo, codo.pid),
                (floor_url, suggest_floor, write_floor, floor.pid),
            ):
                writer = None
                if writing:
                    writer = subprocess.Popen(
                        ["wrk", "-t1", "-c1", f"-d{args.seconds}s", "-s", str(writes), url],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL,
                        text=True,
                    )
                spy = None
                if args.profile and url == codo_url:
                    kept = Path(tempfile.gettempdir()) / f"codo-bench-matching-{os.getpid()}"
                    kept.mkdir(exist_ok=True)
                    spy = profile(pid, kept / f"suggest-{'writes' if writing else 'reads'}.svg", args)
                results.append(wrk(url, script, args.seconds, args.connections, pid))
                done = 0
                if writer is not None:
                    out, _ = writer.communicate()
                    found = re.search(r"(\d+) requests in", out)
                    done = int(found.group(1)) if found else 0
                if spy is not None:
                    spy.wait()
                    print(f"  py-spy: {spy.args[3]}")
            a, b = results
            load = " ".join(f"{x:.1f}" for x in os.getloadavg())
            flag = f"  ({a.errors} failed)" if a.errors or b.errors else ""
            print(
                f"{label:26} {a.cells()} | {b.cells()} | {a.rps / b.rps:5.2f} | {done:6,} | {load}{flag}",
                flush=True,
            )
    finally:
        for process in processes:
            stop(process)
        redis.stop()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
