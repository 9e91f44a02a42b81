"""Benchmark: the questionnaire scan over 1,000 organisations with 100 active tandems each, and
answering a questionnaire through the API.

Run: ``.venv/bin/python tests/bench/bench_questionnaires.py [--orgs 1000] [--per-org 100]``

Starts a throwaway PostgreSQL and Redis (or uses CODO_TEST_DATABASE_URL), migrates, writes the
tandems with COPY (each organisation has a check-in questionnaire scheduled for mentors 28 days
after the start, every tandem is due), then measures in the same run:

* baseline: bare SQL as the superuser, one statement that writes every due invitation (with a
  random token hash) and its outbox row: no per-organisation fan-out, no RLS, no letters in the
  person's language, no consent check; rolled back afterwards so the real run finds the same work;
* codo, as the worker's tick does it: ``sending.scan`` and ``sending.send_invitations`` as the
  runtime role in the named system context, 50 organisations per transaction: one statement
  reads each due person's language, form of address and consent, one writes the invitations
  (personal link) and letters for the ones it won;
* codo per organisation: the scan, then ``sending.send_due`` for each organisation, 4 at a time
  (what an organisation's own job does);
* the scan with nothing due: right after sending (every organisation checked today at its
  revision), and the first scan of the next day (every organisation's tandems joined once);
* answering: ``POST /api/v1/q/{token}`` of the real app (in-process ASGI client) for 300 links,
  p50/p95, next to the bare floor of the same writes (asyncpg, one transaction with the
  organisation set, the invitation locked, the response and its answers inserted).

Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import msgspec

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from services.localstack import EmbeddedPostgres, EmbeddedRedis, free_port, provision_database  # noqa: E402
from shared import migrate, personal_links  # noqa: E402
from shared.db import Database, create_engine, plain_url  # noqa: E402
from shared.ids import new_id  # noqa: E402
from shared.logs import configure_logging  # noqa: E402
from shared.questionnaires import sending  # noqa: E402
from shared.questionnaires.service import encode_content  # noqa: E402
from shared.questionnaires.templates import CHECKIN  # noqa: E402
from shared.settings import Settings  # noqa: E402

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
STARTED = date(2027, 1, 31)  # 29 days before NOW: the first check-in (day 28) is due
ANSWERS = 300

BASELINE = """
WITH due AS (
    SELECT s.organization_id, s.id AS schedule_id, s.questionnaire_id, v.id AS version_id,
           m.id AS match_id, m.mentor_id, c.email
    FROM questionnaire_schedules s
    JOIN questionnaire_versions v ON v.organization_id = s.organization_id
         AND v.questionnaire_id = s.questionnaire_id
    JOIN matches m ON m.organization_id = s.organization_id AND m.status = 'active'
         AND m.started_on + s.after_days <= $2::date
    JOIN contacts c ON c.organization_id = m.organization_id AND c.id = m.mentor_id
    WHERE s.active AND NOT EXISTS (
        SELECT 1 FROM questionnaire_invitations i WHERE i.organization_id = s.organization_id
          AND i.schedule_id = s.id AND i.match_id = m.id AND i.contact_id = m.mentor_id AND i.occurrence = 0)
), invited AS (
    INSERT INTO questionnaire_invitations (organization_id, id, questionnaire_id, version_id, schedule_id,
        match_id, contact_id, audience, occurrence, token_hash, expires_at, sent_at)
    SELECT organization_id, gen_random_uuid(), questionnaire_id, version_id, schedule_id, match_id, mentor_id,
           'mentor', 0, sha256(gen_random_uuid()::text::bytea), $1::timestamptz + interval '21 days',
           $1::timestamptz
    FROM due
    ON CONFLICT DO NOTHING
    RETURNING organization_id
)
INSERT INTO outbox (organization_id, id, kind, to_address, subject, body_text)
SELECT d.organization_id, gen_random_uuid(), 'questionnaire', d.email, 'Fragebogen', 'Fragebogen' FROM due d
"""


async def seed(superuser_url: str, orgs: int, per_org: int) -> list[tuple[uuid.UUID, list[uuid.UUID]]]:
    """Every organisation with its schedule and tandems; returns each organisation's mentor ids."""
    conn = await asyncpg.connect(superuser_url)
    content = msgspec.json.encode(encode_content(CHECKIN)).decode()
    out = []
    try:
        rows: dict[str, list[tuple[object, ...]]] = {
            k: [] for k in ("organizations", "contacts", "contact_consents", "matches", "questionnaires",
                            "questionnaire_versions", "questionnaire_schedules")
        }  # fmt: skip
        for i in range(orgs):
            org = new_id()
            rows["organizations"].append((org, f"bench-{i:04d}", f"Verein {i}"))
            q, v = new_id(), new_id()
            rows["questionnaires"].append((org, q, "checkin"))
            rows["questionnaire_versions"].append((org, v, q, 1, content))
            rows["questionnaire_schedules"].append((org, new_id(), q, "mentor", "during", 28, 60))
            mentors = []
            for j in range(per_org):
                mentor, mentee = new_id(), new_id()
                mentors.append(mentor)
                lang = ["de"] if j % 3 else ["en"]
                rows["contacts"].append(
                    (org, mentor, ["mentor"], "Mara", f"M{j}", f"m{j}@o{i}.example", lang)
                )
                rows["contacts"].append((org, mentee, ["mentee"], "Kemal", f"K{j}", None, ["de"]))
                rows["contact_consents"].append((org, new_id(), mentor, "contact_by_email", "given", STARTED))
                rows["matches"].append((org, new_id(), mentor, mentee, "active", STARTED))
            out.append((org, mentors))
        columns = {
            "organizations": ["id", "slug", "name"],
            "contacts": ["organization_id", "id", "kinds", "first_name", "last_name", "email", "languages"],
            "contact_consents": ["organization_id", "id", "contact_id", "purpose", "status", "effective_on"],
            "matches": ["organization_id", "id", "mentor_id", "mentee_id", "status", "started_on"],
            "questionnaires": ["organization_id", "id", "kind"],
            "questionnaire_versions": ["organization_id", "id", "questionnaire_id", "number", "content"],
            "questionnaire_schedules": [
                "organization_id", "id", "questionnaire_id", "audience", "trigger", "after_days",
                "every_days",
            ],
        }  # fmt: skip
        # COPY is binary: jsonb's binary form is a version byte and the text.
        await conn.set_type_codec(
            "jsonb",
            encoder=lambda v: b"\x01" + v.encode(),
            decoder=lambda v: v[1:].decode(),
            schema="pg_catalog",
            format="binary",
        )
        for table, records in rows.items():
            await conn.copy_records_to_table(table, records=records, columns=columns[table])
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return out


async def baseline(superuser_url: str) -> tuple[int, float]:
    conn = await asyncpg.connect(superuser_url)
    try:
        tx = conn.transaction()
        await tx.start()
        started = time.perf_counter()
        status = await conn.execute(BASELINE, NOW, NOW.date())
        elapsed = time.perf_counter() - started
        await tx.rollback()
        return int(status.split()[-1]), elapsed
    finally:
        await conn.close()


async def codo_sweep(db: Database) -> tuple[int, float, float]:
    started = time.perf_counter()
    found = await sending.scan(db, NOW)
    scanned = time.perf_counter() - started
    report = await sending.send_invitations(db, found.invitations, NOW, "https://codo.example")
    return report.invited, time.perf_counter() - started, scanned


async def codo_run(db: Database, concurrency: int) -> tuple[int, float, float]:
    started = time.perf_counter()
    due = await sending.organisations_due(db, NOW)
    scanned = time.perf_counter() - started
    gate = asyncio.Semaphore(concurrency)
    total = 0

    async def one(org_id: uuid.UUID) -> None:
        nonlocal total
        async with gate:
            sent = (await sending.send_due(db, org_id, NOW, "https://codo.example")).invited
            total += sent

    await asyncio.gather(*(one(o) for o in due))
    return total, time.perf_counter() - started, scanned


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


async def reset(superuser_url: str) -> None:
    conn = await asyncpg.connect(superuser_url)
    try:
        await conn.execute(
            "TRUNCATE questionnaire_answers, questionnaire_responses, questionnaire_invitations, "
            "outbox_attempts, outbox"
        )
        # TRUNCATE fires no row triggers: the organisations' scan rows would still say "all sent".
        await conn.execute("UPDATE questionnaire_scans SET checked_on = NULL, checked_revision = NULL")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


async def answering(
    super_url: str, app_url: str, settings: Settings, seeded: list[tuple[uuid.UUID, list[uuid.UUID]]]
) -> None:
    """p50/p95 of answering through the API, next to the bare floor of the same writes."""
    from litestar.testing import AsyncTestClient

    from services.api.app import create_app

    conn = await asyncpg.connect(super_url)
    tokens: list[str] = []
    floor_ids: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID]] = []
    try:
        rows = await conn.fetch(
            "SELECT i.organization_id, i.id, i.questionnaire_id, i.version_id, i.match_id, i.contact_id "
            "FROM questionnaire_invitations i ORDER BY i.id LIMIT $1",
            ANSWERS * 2,
        )
        for n, r in enumerate(rows):
            if n < ANSWERS:
                token, digest = personal_links.issue(r["organization_id"])
                await conn.execute(
                    "UPDATE questionnaire_invitations SET token_hash = $1 WHERE id = $2", digest, r["id"]
                )
                tokens.append(token)
            else:
                floor_ids.append(tuple(r.values()))  # type: ignore[arg-type]
    finally:
        await conn.close()

    body = {"answers": {"satisfaction": 4, "meetings": "few", "worry": False, "comment": "Alles gut."}}
    times: list[float] = []
    async with AsyncTestClient(app=create_app(settings)) as client:
        for token in tokens[:20]:  # warm-up: connections, prepared statements, catalogues
            await client.get(f"/api/v1/q/{token}")
        for token in tokens:
            started = time.perf_counter()
            r = await client.post(f"/api/v1/q/{token}", json=body)
            times.append(time.perf_counter() - started)
            assert r.status_code == 201, r.text

    app = await asyncpg.connect(plain_url(app_url))
    floor: list[float] = []
    try:
        for org, inv, q, v, m, c in floor_ids[:ANSWERS]:
            started = time.perf_counter()
            async with app.transaction():
                await app.execute("SELECT set_config('codo.org_id', $1, true)", str(org))
                await app.fetchrow(
                    "SELECT id FROM questionnaire_invitations WHERE id = $1 AND submitted_at IS NULL "
                    "FOR UPDATE",
                    inv,
                )
                rid = new_id()
                await app.execute(
                    "INSERT INTO questionnaire_responses (organization_id, id, invitation_id, "
                    "questionnaire_id, version_id, match_id, contact_id, audience, lang, rating) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, 'mentor', 'de', 4)",
                    org, rid, inv, q, v, m, c,
                )  # fmt: skip
                await app.executemany(
                    "INSERT INTO questionnaire_answers (organization_id, id, response_id, question_key, "
                    "question_type, wording, number, choices, text_value) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    [
                        (org, new_id(), rid, "satisfaction", "scale", "Wie zufrieden?", 4, [], None),
                        (org, new_id(), rid, "meetings", "single", "Wie oft?", None, ["few"], None),
                        (org, new_id(), rid, "worry", "yes_no", "Sorgen?", None, ["no"], None),
                        (org, new_id(), rid, "comment", "long_text", "Noch etwas?", None, [], "Alles gut."),
                    ],
                )
                await app.execute(
                    "UPDATE questionnaire_invitations SET submitted_at = now() WHERE id = $1", inv
                )
            floor.append(time.perf_counter() - started)
    finally:
        await app.close()
    print(
        f"answering through the API: {len(times)} answers, "
        f"p50 {p(times, 50):.1f} ms, p95 {p(times, 95):.1f} ms "
        f"(floor, bare asyncpg writes: p50 {p(floor, 50):.1f} ms, p95 {p(floor, 95):.1f} ms)"
    )


async def main(orgs: int, per_org: int, concurrencies: list[int]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="codo-bench-"))
    pg: EmbeddedPostgres | None = None
    redis = EmbeddedRedis(tmp / "redis", free_port(), persist=False)
    redis.start()
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
        seeded = await seed(super_db_url, orgs, per_org)
        items = orgs * per_org
        print(f"seeded {orgs} organisations, {items} active tandems in {time.perf_counter() - t0:.1f}s")

        n, floor_secs = await baseline(super_db_url)
        print(f"baseline (bare SQL, 1 statement, superuser): {n} invitations in {floor_secs:.2f}s ({load()})")

        settings = Settings(
            env="test",
            database_url=app_url,
            redis_url=redis.url,
            db_pool_size=8,
            log_level="warning",
            public_url="https://codo.example",
        )
        configure_logging(settings)
        db = Database(create_engine(settings, pool_size=10))
        try:
            await reset(super_db_url)
            if os.environ.get("CODO_BENCH_PROFILE"):
                import cProfile
                import pstats

                profile = cProfile.Profile()
                profile.enable()
                n, secs, scan = await codo_sweep(db)
                profile.disable()
                pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
            else:
                n, secs, scan = await codo_sweep(db)
            print(
                f"codo scan and send, the worker's sweep: {n} invitations in {secs:.2f}s "
                f"= {n / secs:,.0f}/s, {floor_secs / secs:.2f}x the floor's speed "
                f"(cross-organisation scan {scan * 1000:.0f} ms; {load()})"
            )
            assert n == items, f"expected {items} invitations, sent {n}"
            for concurrency in concurrencies:
                await reset(super_db_url)
                n, secs, scan = await codo_run(db, concurrency)
                print(
                    f"codo per organisation, {concurrency} at a time: {n} invitations in {secs:.2f}s "
                    f"= {n / secs:,.0f}/s (cross-organisation scan {scan * 1000:.0f} ms; {load()})"
                )
                assert n == items, f"expected {items} invitations, sent {n}"
            n2, _, _ = await codo_sweep(db)
            print(f"second run over the same tandems sends {n2} (the ledger holds)")
            for label, when in (
                ("right after sending", NOW),
                ("first of the next day", NOW + timedelta(days=1)),
            ):
                idle_started = time.perf_counter()
                found = await sending.scan(db, when)
                print(
                    f"scan with nothing due, {label}: {(time.perf_counter() - idle_started) * 1000:.0f} ms "
                    f"({len(found.organisations)} organisations due; {load()})"
                )
            idle_started = time.perf_counter()
            await sending.scan(db, NOW + timedelta(days=1))
            print(f"and the next scan that day: {(time.perf_counter() - idle_started) * 1000:.0f} ms")
        finally:
            await db.dispose()
        await answering(super_db_url, app_url, settings, seeded)
    finally:
        redis.stop()
        if pg:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--per-org", type=int, default=100)
    parser.add_argument(
        "--concurrency", default="4", help="per-organisation runs after the sweep: organisations at a time"
    )
    args = parser.parse_args()
    asyncio.run(main(args.orgs, args.per_org, [int(c) for c in args.concurrency.split(",")]))
