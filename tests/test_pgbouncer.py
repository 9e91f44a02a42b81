"""Through PgBouncer in transaction mode: organisation scoping, no prepared-statement trouble.

``make test`` runs the isolation and outbox tests a second time with the application's
connections going through a real PgBouncer (transaction pooling, three server connections for
many clients, asyncpg's statement cache off). codo takes no advisory locks; the outbox claims
rows with ``FOR UPDATE SKIP LOCKED`` inside one transaction, which transaction pooling keeps.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import text

from shared.db import Database
from tests import pgbouncer
from tests.conftest import REPO, THROUGH_PGBOUNCER, Org

# The tests that prove isolation and exactly-once delivery, run again through PgBouncer.
THROUGH = [
    "tests/test_tenancy.py",
    "tests/platform/test_api_orgs.py",
    "tests/test_outbox.py",
    "tests/test_pgbouncer.py::test_concurrent_requests_of_two_organisations_share_server_connections_unmixed",
]


@pytest.mark.slow
@pytest.mark.skipif(THROUGH_PGBOUNCER, reason="this is the run through PgBouncer")
@pytest.mark.skipif(
    not pgbouncer.available(),
    reason="pgbouncer is not installed (infra/scripts/install-test-tools.sh installs Debian's pgbouncer)",
)
def test_isolation_and_outbox_tests_pass_through_pgbouncer() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("CODO_TEST_DATABASE_URL", "PYTEST_ADDOPTS")}
    env["CODO_TEST_PGBOUNCER"] = "1"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *THROUGH],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "passed" in summary and "skipped" not in summary, summary


@pytest.mark.skipif(not THROUGH_PGBOUNCER, reason="runs only through PgBouncer (CODO_TEST_PGBOUNCER=1)")
async def test_concurrent_requests_of_two_organisations_share_server_connections_unmixed(
    db: Database, org_a: Org, org_b: Org
) -> None:
    served: dict[int, set[uuid.UUID]] = {}

    async def request(org: Org) -> None:
        async with db.tenant(org.id) as session:
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await asyncio.sleep(0.005)
            scope = (await session.execute(text("SELECT current_setting('codo.org_id')"))).scalar_one()
            foreign = (
                await session.execute(
                    text("SELECT count(*) FROM api_tokens WHERE organization_id <> :org"), {"org": org.id}
                )
            ).scalar_one()
            mine = (await session.execute(text("SELECT count(*) FROM api_tokens"))).scalar_one()
        assert scope == str(org.id)
        assert foreign == 0 and mine > 0
        served.setdefault(pid, set()).add(org.id)

    async def driver_request(org: Org) -> None:
        # The API's reads of contacts: a bare driver transaction, begun together with its scope.
        async with db.tenant_driver(org.id) as tx:
            pid = await tx.connection.fetchval("SELECT pg_backend_pid()")
            await asyncio.sleep(0.005)
            scope = await tx.connection.fetchval("SELECT current_setting('codo.org_id')")
            others = "SELECT count(*) FROM api_tokens WHERE organization_id <> $1"
            foreign = await tx.connection.fetchval(others, org.id)
            mine = await tx.connection.fetchval("SELECT count(*) FROM api_tokens")
        assert scope == str(org.id)
        assert foreign == 0 and mine > 0
        served.setdefault(pid, set()).add(org.id)

    await asyncio.gather(
        *((request if i % 3 else driver_request)(org_a if i % 2 else org_b) for i in range(120))
    )
    # Few server connections served both organisations in turn: exactly where a setting that
    # outlived its transaction would have shown the wrong organisation's rows.
    assert len(served) <= pgbouncer.POOL_SIZE, served.keys()
    assert any(len(orgs) == 2 for orgs in served.values())
    async with db.platform() as session:
        leftover = (await session.execute(text("SELECT current_setting('codo.org_id', true)"))).scalar_one()
    assert leftover in ("", None), "no organisation outlives its transaction on a pooled connection"
