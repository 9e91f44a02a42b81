"""Contacts benchmark: import 10,000 spreadsheet rows, then list and search 100,000 contacts.

    .venv/bin/python -m tests.bench.bench_contacts [--import-rows 10000] [--contacts 100000] [--runs 40]

Starts its own PostgreSQL (as the test harness does), migrates, and measures in one process:

- the import: dry run and the batched commit, rows per second, next to a bare SQL baseline that
  inserts the same number of rows with one executemany;
- the list: p50/p95 latency of the API (HTTP through the real app), of the domain service, and of
  the bare SQL statement that answers the same question (same filters, ORDER BY, LIMIT 50).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import secrets
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient
from openpyxl import Workbook

from services.localstack import EmbeddedPostgres, free_port, provision_database
from shared import migrate
from shared.contacts import imports
from shared.contacts.models import Contact
from shared.contacts.service import ContactQuery, derive, list_contacts, terms_of
from shared.db import Database, plain_url
from shared.ids import new_id
from tests.conftest import Servers, create_org, make_settings

FIRST = [
    "Jürgen",
    "Anna",
    "Özlem",
    "Mehmet",
    "Lena",
    "Lukas",
    "Sophie",
    "Ali",
    "Maria",
    "Jörg",
    "Ayşe",
    "Paul",
    "Fatima",
    "Jonas",
    "Emma",
    "Björn",
    "Leyla",
    "Max",
    "Marie",
    "Yusuf",
    "Hannah",
    "Elias",
    "Mia",
    "Noah",
]
LAST = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Krause",
    "Meier",
    "Lehmann",
    "Y\u0131lmaz",
    "Kaya",
    "Demir",
    "Şahin",
    "Çelik",
    "Öztürk",
    "Nowak",
    "Kowalski",
    "Groß",
    "Weiß",
]
KINDS = ["mentee", "mentor", "guardian"]
STATUSES = ["interested", "screening", "ready", "matched", "paused", "alumni"]
TAGS = ["Lesen", "Mathe", "Sport", "Musik", "Jobpaten", "Lesepaten", "neu", "Warteliste"]  # fmt: skip


def person(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "first_name": rng.choice(FIRST),
        "last_name": rng.choice(LAST),
        "email": f"person{i}@beispiel{rng.randint(1, 50)}.de",
        "phone": f"0{rng.randint(150, 179)} {rng.randint(1000000, 9999999)}",
        "postal_code": f"{rng.randint(1000, 99999):05d}",
        "kind": rng.choice(KINDS),
        "status": rng.choice(STATUSES),
        "tags": rng.sample(TAGS, rng.randint(0, 2)),
        "birth": f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(1950, 2015)}",
    }


def workbook(rows: int) -> bytes:
    rng = random.Random(7)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Teilnehmende")
    sheet.append(["Vorname", "Nachname", "E-Mail", "Telefon", "PLZ", "Geburtsdatum", "Rolle", "Tags"])
    for i in range(rows):
        p = person(rng, i)
        sheet.append([p["first_name"], p["last_name"], p["email"], p["phone"], p["postal_code"], p["birth"],
                      p["kind"], ", ".join(p["tags"])])  # fmt: skip
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# The statement the service sends for one search word, written by hand.
TERM = "SELECT contact_id FROM contact_search_terms WHERE organization_id = $1 AND term >="


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


async def timed(fn: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, float]:
    await fn()  # warm up caches and prepared statements
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


async def seed_contacts(conn: asyncpg.Connection, org_id: uuid.UUID, count: int) -> None:
    rng = random.Random(11)
    columns = ["organization_id", "id", "kinds", "first_name", "last_name", "email", "phone", "postal_code",
               "status", "tags", "search_text", "sort_name"]  # fmt: skip
    records = []
    terms = []
    for i in range(count):
        p = person(rng, 100_000 + i)
        c = Contact(organization_id=org_id, id=new_id(), first_name=p["first_name"], last_name=p["last_name"],
                    email=p["email"], phone=p["phone"], tags=p["tags"])  # fmt: skip
        derive(c)
        records.append((org_id, c.id, [p["kind"]], c.first_name, c.last_name, c.email, c.phone,
                        p["postal_code"], p["status"], c.tags, c.search_text, c.sort_name))  # fmt: skip
        terms += [(org_id, new_id(), c.id, term) for term in terms_of(c)]
    async with conn.transaction():
        await conn.execute("SELECT set_config('codo.org_id', $1, true)", str(org_id))
        # COPY is refused under row-level security; executemany pipelines the inserts instead.
        placeholders = ", ".join(f"${i + 1}" for i in range(len(columns)))
        await conn.executemany(
            f"INSERT INTO contacts ({', '.join(columns)}) VALUES ({placeholders})", records
        )
        await conn.executemany(
            "INSERT INTO contact_search_terms (organization_id, id, contact_id, term) "
            "VALUES ($1, $2, $3, $4)",
            terms,
        )


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
        print(f"PostgreSQL {await conn.fetchval('SHOW server_version')}, {args.import_rows:,} import rows, "
              f"{args.contacts:,} contacts, {args.runs} runs per measurement\n")  # fmt: skip

        # --- import ---------------------------------------------------------------------------
        content = workbook(args.import_rows)
        start = time.perf_counter()
        async with db.tenant(org.id) as session:
            imp = await imports.dry_run(session, org.id, content=content, filename="bench.xlsx", mapping=None)
            import_id, counts = imp.id, {r["action"] for r in imp.report}
        dry = time.perf_counter() - start
        async with db.tenant(org.id) as session:
            await imports.start(session, import_id)
        start = time.perf_counter()
        outcome = await imports.run(db, org.id, import_id)
        commit = time.perf_counter() - start
        async with db.tenant(org.id) as session:
            imp = await imports.get_import(session, import_id)
            created, rejected = imp.created_count, imp.rejected_count
        assert outcome == "done", outcome
        rng = random.Random(3)
        baseline_rows = [(org.id, uuid.uuid4(), ["mentee"], rng.choice(FIRST), rng.choice(LAST), f"b{i}@x.de")
                         for i in range(args.import_rows)]  # fmt: skip
        async with conn.transaction():
            await conn.execute("SELECT set_config('codo.org_id', $1, true)", str(org.id))
            start = time.perf_counter()
            await conn.executemany(
                "INSERT INTO contacts (organization_id, id, kinds, first_name, last_name, email) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                baseline_rows,
            )
            bare = time.perf_counter() - start
            await conn.execute("DELETE FROM contacts WHERE email LIKE 'b%@x.de'")
        n = args.import_rows
        print("import of an .xlsx (rows per second)")
        print(f"  dry run                 {n / dry:10,.0f} rows/s  ({dry:.2f} s, actions {sorted(counts)})")
        print(f"  commit (worker batches) {n / commit:10,.0f} rows/s  ({commit:.2f} s, {created:,} created, "
              f"{rejected:,} rejected)")  # fmt: skip
        print(f"  dry run + commit        {n / (dry + commit):10,.0f} rows/s  ({dry + commit:.2f} s)")
        print(f"  bare SQL executemany    {n / bare:10,.0f} rows/s  ({bare:.2f} s)\n")

        # --- list and search ------------------------------------------------------------------
        await seed_contacts(conn, org.id, args.contacts - created)
        owner_id, programme_id = await seed_filters(conn, org.id)
        # Only the owner may ANALYZE; autovacuum would do it in a while, the benchmark does it now.
        owner = await asyncpg.connect(plain_url(owner_url))
        await owner.execute("ANALYZE contacts")
        await owner.execute("ANALYZE contact_search_terms")
        await owner.execute("ANALYZE contact_programme_members")
        await owner.execute("ANALYZE contact_consents")
        await owner.close()
        total = await count_all(conn, org.id)
        from services.api.app import create_app

        headers = {"Authorization": f"Bearer {org.tokens[next(iter(org.tokens))]}"}
        cases: list[tuple[str, dict[str, Any], str, list[Any]]] = [
            ("first page by name", {}, "TRUE ORDER BY sort_name, id", []),
            ("search 'müller'", {"q": "müller"},
             f"id IN ({TERM} $2 AND term < $3) ORDER BY sort_name, id", ["mueller", "mueller~"]),
            ("search 'schmi ann'", {"q": "schmi ann"},
             f"id IN ({TERM} $2 AND term < $3) AND id IN ({TERM} $4 AND term < $5) ORDER BY sort_name, id",
             ["schmi", "schmi~", "ann", "ann~"]),
            ("kind=mentor&status=ready", {"kind": "mentor", "status": "ready"},
             "kinds @> $2 AND status = 'ready' ORDER BY sort_name, id", [["mentor"]]),
            ("tag=Lesen, newest first", {"tag": "Lesen", "sort": "-created"},
             "id IN (SELECT contact_id FROM contact_search_terms WHERE organization_id = $1 AND term = $2) "
             "ORDER BY created_at DESC, id DESC", ["#lesen"]),
            ("owner (5 % of contacts)", {"owner": str(owner_id)},
             "owner_membership_id = $2 ORDER BY sort_name, id", [owner_id]),
            ("programme (2 % of contacts)", {"programme": str(programme_id)},
             "id IN (SELECT contact_id FROM contact_programme_members WHERE organization_id = $1 "
             "AND programme_id = $2) ORDER BY sort_name, id", [programme_id]),
            ("custom field (1 %)", {"field": ["schulform:foerderschule"]},
             "custom @> $2::jsonb ORDER BY sort_name, id", ['{"schulform": "foerderschule"}']),
            ("missing consent (3 %)", {"missing_consent": True},
             "id NOT IN (SELECT contact_id FROM contact_consents WHERE organization_id = $1 "
             "AND status = 'given') ORDER BY sort_name, id", []),
        ]  # fmt: skip
        if args.explain:
            async with conn.transaction():
                await conn.execute("SELECT set_config('codo.org_id', $1, true)", str(org.id))
                for _, _, where, sql_args in cases:
                    plan = await conn.fetch(
                        "EXPLAIN ANALYZE SELECT * FROM contacts WHERE organization_id = $1 "
                        f"AND erased_at IS NULL AND {where} LIMIT 51",
                        org.id,
                        *sql_args,
                    )
                    print("\n".join(r[0] for r in plan), "\n")
        print(f"list latency over {total:,} contacts, 50 per page (p50 / p95 in ms)")
        print(f"  {'query':28} {'API (HTTP)':>16} {'service':>16} {'bare SQL':>16}")
        async with AsyncTestClient(app=create_app(settings)) as client:
            for label, params, where, sql_args in cases:

                async def api(params: dict[str, Any] = params) -> None:
                    r = await client.get(
                        "/api/v1/orgs/bench/contacts", params={**params, "limit": 50}, headers=headers
                    )
                    assert r.status_code == 200, r.text

                async def service(params: dict[str, Any] = params) -> None:
                    async with db.tenant(org.id) as session:
                        await list_contacts(session, ContactQuery(**params), limit=50, cursor=None)

                async def bare_sql(where: str = where, sql_args: list[Any] = sql_args) -> None:
                    async with conn.transaction():
                        await conn.execute("SELECT set_config('codo.org_id', $1, true)", str(org.id))
                        await conn.fetch(
                            "SELECT * FROM contacts WHERE organization_id = $1 AND erased_at IS NULL "
                            f"AND {where} LIMIT 51",
                            org.id,
                            *sql_args,
                        )

                a = await timed(api, args.runs)
                s = await timed(service, args.runs)
                b = await timed(bare_sql, args.runs)
                cells = " ".join(f"{p50:7.1f} / {p95:6.1f}" for p50, p95 in (a, s, b))
                print(f"  {label:28} {cells}")
            # A deep page: the cursor keeps it as fast as the first.
            cursor = None
            for _ in range(20):
                r = await client.get(
                    "/api/v1/orgs/bench/contacts",
                    params={"limit": 200, **({"cursor": cursor} if cursor else {})},
                    headers=headers,
                )
                cursor = r.json()["next_cursor"]

            async def deep() -> None:
                r = await client.get(
                    "/api/v1/orgs/bench/contacts", params={"limit": 50, "cursor": cursor}, headers=headers
                )
                assert r.status_code == 200

            d = await timed(deep, args.runs)
            print(f"  {'page after 4,000 rows':28} {d[0]:7.1f} / {d[1]:6.1f}")
        await conn.close()
        await db.dispose()
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


async def seed_filters(conn: asyncpg.Connection, org_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """What the list's filters select, in proportions a programme has: an owner of 5 % of the
    contacts, a small programme of 2 %, a rare custom value (1 %), 3 % without consent."""
    async with conn.transaction():
        await conn.execute("SELECT set_config('codo.org_id', $1, true)", str(org_id))
        owner = await conn.fetchval("SELECT id FROM memberships LIMIT 1")
        programme = uuid.uuid4()
        await conn.execute(
            "INSERT INTO contact_programmes (organization_id, id, name) VALUES ($1, $2, 'Lesepaten')",
            org_id,
            programme,
        )
        await conn.execute(
            "INSERT INTO contact_fields (organization_id, id, key, label_de, label_en, type, options) "
            "VALUES ($1, $2, 'schulform', 'Schulform', 'Type of school', 'choice', $3::jsonb)",
            org_id,
            uuid.uuid4(),
            '[{"value": "gymnasium", "label_de": "Gymnasium"}, {"value": "foerderschule", '
            '"label_de": "Förderschule"}, {"value": "gesamtschule", "label_de": "Gesamtschule"}]',
        )
        # Spread over the alphabet by hashing the id, so that no filter finds its rows first.
        await conn.execute(
            "UPDATE contacts SET owner_membership_id = $1 WHERE abs(hashtext(id::text)) % 100 < 5", owner
        )
        await conn.execute(
            "UPDATE contacts SET custom = jsonb_build_object('schulform', CASE "
            "WHEN abs(hashtext(id::text || 'f')) % 100 = 0 THEN 'foerderschule' ELSE 'gymnasium' END)"
        )
        await conn.execute(
            "INSERT INTO contact_programme_members (organization_id, id, contact_id, programme_id) "
            "SELECT organization_id, gen_random_uuid(), id, $1 FROM contacts "
            "WHERE abs(hashtext(id::text || 'p')) % 100 < 2",
            programme,
        )
        await conn.execute(
            "INSERT INTO contact_consents (organization_id, id, contact_id, purpose, status, effective_on) "
            "SELECT organization_id, gen_random_uuid(), id, 'data_processing', 'given', DATE '2026-01-01' "
            "FROM contacts WHERE abs(hashtext(id::text || 'c')) % 100 >= 3"
        )
    return owner, programme


async def count_all(conn: asyncpg.Connection, org_id: uuid.UUID) -> int:
    async with conn.transaction():
        await conn.execute("SELECT set_config('codo.org_id', $1, true)", str(org_id))
        return int(await conn.fetchval("SELECT count(*) FROM contacts"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--explain", action="store_true", help="print the query plans of the bare SQL")
    asyncio.run(main(parser.parse_args()))
