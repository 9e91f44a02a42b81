"""Row-level security, proven over raw SQL as the runtime role (never as a superuser)."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, func, select, update

from shared.db import Database, plain_url
from shared.models import ApiToken, tenant_tables
from shared.settings import Settings
from shared.tasks.models import Task
from tests.conftest import Org, Servers, create_org
from tests.seeds import seed_every_tenant_table

TENANT_TABLES = tenant_tables()


@pytest.fixture
async def two_orgs(db: Database, org_a: Org, org_b: Org) -> tuple[Org, Org]:
    await seed_every_tenant_table(db, org_a)
    await seed_every_tenant_table(db, org_b)
    return org_a, org_b


@pytest.fixture
async def app_conn(servers: Servers) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(plain_url(servers.app_url))
    yield conn
    await conn.close()


async def _tenant_tables(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1"""
    )
    return [r["relname"] for r in rows]


async def test_every_tenant_table_is_forced_under_rls_with_a_policy(app_conn: asyncpg.Connection) -> None:
    tables = await _tenant_tables(app_conn)
    assert sorted(tables) == sorted(TENANT_TABLES), (
        "a tenant table is missing from the models or the database"
    )
    for table in tables:
        row = await app_conn.fetchrow(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = $1", table
        )
        assert row["relrowsecurity"] and row["relforcerowsecurity"], table
        policies = await app_conn.fetch(
            "SELECT polname, polwithcheck IS NOT NULL AS checks FROM pg_policy WHERE polrelid = $1::regclass",
            table,
        )
        assert {p["polname"] for p in policies} >= {"tenant_isolation"}, table
        assert all(p["checks"] for p in policies), f"{table}: a policy without WITH CHECK"


async def test_policies_read_the_scope_once_per_statement_not_per_row(app_conn: asyncpg.Connection) -> None:
    """A report reads 100,000 rows of a table; calling current_setting() for each of them cost
    two thirds of the scan. Every tenant table's policies must compare each row with values read
    once (an InitPlan); the isolation tests prove they still keep other organisations out."""
    org = "00000000-0000-4000-8000-0000000000aa"
    for table in TENANT_TABLES:
        async with app_conn.transaction():
            await app_conn.execute("SELECT set_config('codo.org_id', $1, true)", org)
            plan = "\n".join(r[0] for r in await app_conn.fetch(f"EXPLAIN SELECT * FROM {table}"))
            assert "current_setting" not in plan and "InitPlan" in plan, f"{table}:\n{plan}"


async def test_tenant_keys_and_references_include_the_organisation(app_conn: asyncpg.Connection) -> None:
    for table in TENANT_TABLES:
        pk = await app_conn.fetchval(
            """SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_constraint c
               CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
               WHERE c.conrelid = $1::regclass AND c.contype = 'p'""",
            table,
        )
        assert pk == ["organization_id", "id"], table
        fks = await app_conn.fetch(
            """SELECT c.conname, c.confrelid::regclass::text AS target,
                      (SELECT array_agg(a.attname) FROM unnest(c.conkey) k
                       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k) AS cols
               FROM pg_constraint c WHERE c.conrelid = $1::regclass AND c.contype = 'f'""",
            table,
        )
        for fk in fks:
            if fk["target"] in TENANT_TABLES:
                assert "organization_id" in fk["cols"], f"{table}.{fk['conname']} can cross organisations"


async def test_the_runtime_role_owns_nothing_and_cannot_bypass_rls(app_conn: asyncpg.Connection) -> None:
    role = await app_conn.fetchrow(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
    )
    assert not any(role.values())
    owned = await app_conn.fetchval(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = current_user"
    )
    assert owned == 0
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await app_conn.execute("ALTER TABLE memberships DISABLE ROW LEVEL SECURITY")


async def test_with_an_organisation_set_every_table_shows_only_its_rows(
    app_conn: asyncpg.Connection, two_orgs: tuple[Org, Org]
) -> None:
    a, b = two_orgs
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('codo.org_id', $1, true)", str(a.id))
        for table in TENANT_TABLES:
            # An empty table would prove nothing: tests/seeds must write a row into each.
            orgs = await app_conn.fetch(f"SELECT DISTINCT organization_id FROM {table}")
            assert [r["organization_id"] for r in orgs] == [a.id], table
            assert (
                await app_conn.fetchval(f"SELECT count(*) FROM {table} WHERE organization_id = $1", b.id) == 0
            )


async def test_with_no_organisation_set_nothing_is_visible(
    app_conn: asyncpg.Connection, two_orgs: tuple[Org, Org]
) -> None:
    for table in TENANT_TABLES:
        assert await app_conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    # A set_config that ended with its transaction leaves '' behind, not NULL: still nothing.
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('codo.org_id', $1, true)", str(two_orgs[0].id))
    assert await app_conn.fetchval("SELECT current_setting('codo.org_id', true)") == ""
    assert await app_conn.fetchval("SELECT count(*) FROM memberships") == 0


async def test_writing_a_row_of_another_organisation_is_refused(
    app_conn: asyncpg.Connection, two_orgs: tuple[Org, Org]
) -> None:
    a, b = two_orgs
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with app_conn.transaction():
            await app_conn.execute("SELECT set_config('codo.org_id', $1, true)", str(a.id))
            await app_conn.execute(
                "INSERT INTO outbox (organization_id, id, kind, to_address, subject, body_text) "
                "VALUES ($1, gen_random_uuid(), 'x', 'x@y.example', 's', 'b')",
                b.id,
            )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with app_conn.transaction():
            await app_conn.execute("SELECT set_config('codo.org_id', $1, true)", str(a.id))
            await app_conn.execute("UPDATE outbox SET organization_id = $1", b.id)
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('codo.org_id', $1, true)", str(a.id))
        assert await app_conn.execute("DELETE FROM outbox WHERE organization_id = $1", b.id) == "DELETE 0"


async def test_composite_keys_stop_references_across_organisations(
    db: Database, two_orgs: tuple[Org, Org]
) -> None:
    a, b = two_orgs
    async with db.tenant(b.id) as session:
        b_token = (await session.execute(select(ApiToken.id).limit(1))).scalar_one()
    # Even the system context, which sees both organisations, cannot link A's row to B's.
    with pytest.raises(Exception, match="foreign key"):
        async with db.system_context("test: composite keys") as session:
            session.add(
                ApiToken(
                    organization_id=a.id,
                    name="x",
                    role="viewer",
                    token_hash=b"\x01" * 32,
                    hint="x",
                    created_by_token_id=b_token,
                )
            )
            await session.flush()


async def test_a_pooled_connection_carries_no_organisation_into_the_next_request(
    settings: Settings, two_orgs: tuple[Org, Org]
) -> None:
    a, _ = two_orgs
    from shared.db import create_engine

    single = Database(create_engine(settings, pool_size=1))
    try:
        async with single.tenant(a.id) as session:
            assert (await session.execute(select(func.count()).select_from(ApiToken))).scalar_one() > 0
            first = (await session.execute(select(func.pg_backend_pid()))).scalar_one()
        async with single.platform() as session:
            assert (await session.execute(select(func.pg_backend_pid()))).scalar_one() == first
            assert (await session.execute(select(func.count()).select_from(ApiToken))).scalar_one() == 0
        # A commit in the middle of a unit of work does not drop the organisation either.
        async with single.session(a.id) as session:
            await session.commit()
            assert (await session.execute(select(func.count()).select_from(ApiToken))).scalar_one() > 0
            await session.commit()
    finally:
        await single.dispose()


async def test_the_driver_connection_is_scoped_in_every_transaction_of_a_unit_of_work(
    settings: Settings, two_orgs: tuple[Org, Org]
) -> None:
    """The hot paths run their SQL on the driver's connection, kept from the transaction's start:
    after a commit, a rollback or a failed statement it is again the scoped connection of the
    new transaction, never the one of a transaction that ended."""
    a, b = two_orgs
    from shared.db import create_engine, driver_connection

    single = Database(create_engine(settings, pool_size=1))
    count = "SELECT count(*) FROM api_tokens WHERE organization_id = $1"
    try:
        async with single.session(a.id) as session:
            driver = await driver_connection(session)
            assert driver.is_in_transaction() and await driver.fetchval(count, a.id) > 0
            await session.commit()
            assert not driver.is_in_transaction(), "the commit ended the transaction"
            driver = await driver_connection(session)
            assert driver.is_in_transaction() and await driver.fetchval(count, a.id) > 0
            await session.rollback()
            driver = await driver_connection(session)
            assert await driver.fetchval("SELECT current_setting('codo.org_id')") == str(a.id)
            assert await driver.fetchval(count, b.id) == 0
        with pytest.raises(asyncpg.PostgresError):
            async with single.tenant(a.id) as session:
                await (await driver_connection(session)).fetchval("SELECT 1/0")
        async with single.tenant(b.id) as session:
            driver = await driver_connection(session)
            assert await driver.fetchval(count, a.id) == 0 and await driver.fetchval(count, b.id) > 0
        async with single.platform() as session:
            assert await (await driver_connection(session)).fetchval(count, b.id) == 0
    finally:
        await single.dispose()


async def test_a_bare_driver_transaction_is_scoped_like_a_session_and_leaves_nothing_behind(
    settings: Settings, two_orgs: tuple[Org, Org]
) -> None:
    """``Database.tenant_driver`` (the API's reads of contacts) sees one organisation's rows only,
    and the pooled connection it gave back carries no organisation into the next request, whether
    the transaction committed or failed."""
    a, b = two_orgs
    from shared.db import create_engine

    single = Database(create_engine(settings, pool_size=1))
    try:
        for org, other in ((a, b), (b, a)):
            async with single.tenant_driver(org.id) as tx:
                assert tx.connection.is_in_transaction()
                for table in TENANT_TABLES:
                    orgs = await tx.connection.fetch(f"SELECT DISTINCT organization_id FROM {table}")
                    assert [r["organization_id"] for r in orgs] == [org.id], table
                    assert (
                        await tx.connection.fetchval(
                            f"SELECT count(*) FROM {table} WHERE organization_id = $1", other.id
                        )
                        == 0
                    ), table
                first = await tx.connection.fetchval("SELECT pg_backend_pid()")
            async with single.platform() as session:
                assert (await session.execute(select(func.pg_backend_pid()))).scalar_one() == first
                assert (await session.execute(select(func.count()).select_from(ApiToken))).scalar_one() == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with single.tenant_driver(a.id) as tx:
                await tx.connection.execute(
                    "INSERT INTO outbox (organization_id, id, kind, to_address, subject, body_text) "
                    "VALUES ($1, gen_random_uuid(), 'x', 'x@y.example', 's', 'b')",
                    b.id,
                )
        async with single.platform() as session:
            assert (await session.execute(select(func.count()).select_from(ApiToken))).scalar_one() == 0
    finally:
        await single.dispose()


async def test_the_system_context_sees_every_organisation_and_only_where_named(
    db: Database, two_orgs: tuple[Org, Org]
) -> None:
    a, b = two_orgs
    async with db.system_context("test: cross-organisation read") as session:
        seen = set((await session.execute(select(ApiToken.organization_id).distinct())).scalars())
    assert {a.id, b.id} <= seen
    async with db.tenant(a.id) as session:
        assert set((await session.execute(select(ApiToken.organization_id).distinct())).scalars()) == {a.id}


async def test_a_page_of_an_organisation_reads_its_index_in_order_however_many_organisations_share_the_table(
    app_conn: asyncpg.Connection,
) -> None:
    """PostgreSQL ORs the two policies into every tenant query and multiplies their estimated
    selectivity into the query's own ``organization_id`` filter. If that shrinks an organisation's
    rows to a handful, the planner sorts all of them for a page of 50 instead of walking the
    ``(organization_id, sort_name, id)`` index: the contacts list then slows down as codo gains
    organisations (12 ms instead of 0.2 ms at a thousand). Proven on a table of 500
    organisations under the very policies every tenant table has."""
    policies = await app_conn.fetch(
        """SELECT DISTINCT p.polname, pg_get_expr(p.polqual, p.polrelid) AS qual,
                  pg_get_expr(p.polwithcheck, p.polrelid) AS checks
           FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"""
    )
    assert sorted(p["polname"] for p in policies) == ["system_context", "tenant_isolation"], (
        "every tenant table should carry the same two policies"
    )
    org = "00000000-0000-4000-8000-000000000007"
    async with app_conn.transaction():
        await app_conn.execute(
            "CREATE TEMPORARY TABLE listed (organization_id uuid NOT NULL, id int NOT NULL, sort_name text"
            " NOT NULL, payload text NOT NULL, PRIMARY KEY (organization_id, id)) ON COMMIT DROP"
        )
        await app_conn.execute(
            "INSERT INTO listed SELECT ('00000000-0000-4000-8000-' || lpad(o::text, 12, '0'))::uuid, n,"
            " md5(o::text || n::text), repeat('x', 200)"
            " FROM generate_series(1, 500) AS o, generate_series(1, 400) AS n"
        )
        await app_conn.execute("CREATE INDEX ON listed (organization_id, sort_name, id)")
        await app_conn.execute("ANALYZE listed")
        await app_conn.execute("ALTER TABLE listed ENABLE ROW LEVEL SECURITY")
        await app_conn.execute("ALTER TABLE listed FORCE ROW LEVEL SECURITY")
        for p in policies:
            await app_conn.execute(
                f"CREATE POLICY {p['polname']} ON listed USING ({p['qual']}) WITH CHECK ({p['checks']})"
            )
        await app_conn.execute("SELECT set_config('codo.org_id', $1, true)", org)
        page = "SELECT * FROM listed WHERE organization_id = $1 ORDER BY sort_name, id LIMIT 51"
        assert len(await app_conn.fetch(page, org)) == 51
        plan = await app_conn.fetchval(f"EXPLAIN (FORMAT JSON) {page}", org)
    assert '"Sort"' not in plan and "listed_organization_id_sort_name_id_idx" in plan, plan


def _index_conditions(node: dict[str, Any]) -> list[str]:
    found = [node["Index Cond"]] if "Index Cond" in node else []
    return found + [c for child in node.get("Plans", []) for c in _index_conditions(child)]


async def test_a_lookup_by_id_reaches_the_row_through_its_organisations_key(
    db: Database, two_orgs: tuple[Org, Org]
) -> None:
    """A tenant table's primary key is ``(organization_id, id)``, and the policy is no index
    condition (PostgreSQL ORs it with the system context's). A lookup by ``id`` alone walks the
    key of every organisation: one contact at 1,000 organisations of 1,000 contacts read 8,000
    index pages (120 ms) instead of 4. So a tenant session names its organisation in every ORM
    statement, reads and changes alike; the system context names none and still sees all."""
    a, b = two_orgs
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        sent.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with db.tenant(a.id) as session:
            task_id = (await session.execute(select(Task.id).limit(1))).scalar_one()
            sent.clear()
            task = (await session.execute(select(Task).where(Task.id == task_id))).scalar_one()
            await session.execute(update(Task).where(Task.id == task_id).values(title=task.title))
            (lookup, parameters), (change, _) = sent[:2]
            connection = await session.connection()
            # Whatever the table's size: the question is which conditions the index can take.
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = (
                await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {lookup}", parameters)
            ).scalar_one()
        async with db.system_context("test: a lookup across organisations") as session:
            sent.clear()
            other = (
                await session.execute(select(Task.id).where(Task.organization_id == b.id).limit(1))
            ).scalar_one()
            assert (
                await session.execute(select(Task).where(Task.id == other))
            ).scalar_one().organization_id == b.id
            system_lookup = sent[-1][0]
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
    conditions = _index_conditions(json.loads(plan)[0]["Plan"] if isinstance(plan, str) else plan[0]["Plan"])
    assert any("organization_id" in c and "id =" in c for c in conditions), (lookup, conditions)
    assert "tasks.organization_id =" in change.split("WHERE", 1)[1], change
    assert "organization_id" not in system_lookup.split("WHERE", 1)[1], system_lookup


def test_database_urls_are_accepted_in_every_spelling() -> None:
    from shared.db import async_url

    for url in ("postgresql://u:p@h:5432/d", "postgres://u:p@h:5432/d", "postgresql+asyncpg://u:p@h:5432/d"):
        assert async_url(url) == "postgresql+asyncpg://u:p@h:5432/d"
    assert plain_url("postgresql+asyncpg://u:p@h/d") == "postgresql://u:p@h/d"


async def test_deleting_an_organisation_deletes_its_search_terms(
    db: Database, servers: Servers, org_b: Org
) -> None:
    # The terms have no foreign key to organizations (one check per term made imports slow): a
    # trigger deletes them with the organisation instead, as the key's cascade did.
    await seed_every_tenant_table(db, org_b)
    owner = await asyncpg.connect(plain_url(servers.migrations_url))
    try:
        gone = await owner.fetchval(
            "INSERT INTO organizations (id, slug, name) "
            "VALUES (gen_random_uuid(), $1, 'Verein weg') RETURNING id",
            f"weg-{secrets.token_hex(4)}",
        )
        terms = "SELECT count(*) FROM contact_search_terms WHERE organization_id = $1"
        async with owner.transaction():
            await owner.execute("SELECT set_config('codo.system', 'on', true)")
            await owner.execute(
                "INSERT INTO contact_search_terms (organization_id, id, contact_id, term) "
                "SELECT $1, gen_random_uuid(), gen_random_uuid(), 'anna' FROM generate_series(1, 3)",
                gone,
            )
            kept = await owner.fetchval(terms, org_b.id)
        async with owner.transaction():
            assert await owner.execute("DELETE FROM organizations WHERE id = $1", gone) == "DELETE 1"
            # The system context it named for its one statement does not outlive it.
            assert await owner.fetchval("SELECT current_setting('codo.system', true)") in ("", None)
        async with owner.transaction():
            await owner.execute("SELECT set_config('codo.system', 'on', true)")
            assert await owner.fetchval(terms, gone) == 0
            assert await owner.fetchval(terms, org_b.id) == kept > 0, "another organisation keeps its terms"
    finally:
        await owner.close()


async def _rows_per_table(owner: asyncpg.Connection, tables: list[str], org: Any) -> dict[str, int]:
    async with owner.transaction():
        await owner.execute("SELECT set_config('codo.system', 'on', true)")
        return {
            table: await owner.fetchval(f"SELECT count(*) FROM {table} WHERE organization_id = $1", org)
            for table in tables
        }


@pytest.mark.parametrize("context", ["none", "system", "its own"])
async def test_deleting_an_organisation_with_data_leaves_nothing_of_it_and_everything_of_the_others(
    db: Database, servers: Servers, org_b: Org, context: str
) -> None:
    """Counters, stamps, summaries and change rows are kept by triggers on the tables a deletion
    cascades through: they must not write (or refuse to write) rows of the organisation going."""
    gone = await create_org(db)
    await seed_every_tenant_table(db, gone)
    await seed_every_tenant_table(db, org_b)
    owner = await asyncpg.connect(plain_url(servers.migrations_url))
    try:
        tables = await _tenant_tables(owner)
        before = await _rows_per_table(owner, tables, gone.id)
        assert all(before.values()), [t for t, n in before.items() if not n]
        kept = await _rows_per_table(owner, tables, org_b.id)
        async with owner.transaction():
            if context == "system":
                await owner.execute("SELECT set_config('codo.system', 'on', true)")
            elif context == "its own":
                await owner.execute("SELECT set_config('codo.org_id', $1, true)", str(gone.id))
            assert await owner.execute("DELETE FROM organizations WHERE id = $1", gone.id) == "DELETE 1"
        assert await owner.fetchval("SELECT count(*) FROM organizations WHERE id = $1", gone.id) == 0
        left = {t: n for t, n in (await _rows_per_table(owner, tables, gone.id)).items() if n}
        assert left == {}, "rows of the deleted organisation are left"
        assert await _rows_per_table(owner, tables, org_b.id) == kept, "another organisation lost rows"
    finally:
        await owner.close()
