"""An unexpected database error is logged without the values of the statement that failed."""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from shared.db import plain_url
from shared.permissions import Role
from tests.conftest import Org, Servers


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    """What the app writes to its log, rendered by the app's own formatter (JSON lines)."""
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


async def test_a_failed_insert_logs_no_personal_data(
    client: AsyncTestClient[Any], servers: Servers, org_a: Org, captured_log: io.StringIO
) -> None:
    last_name = f"Fehlerfrau{secrets.token_hex(3)}"
    email = f"geheim.{secrets.token_hex(3)}@example.org"
    notes = f"Diagnose {secrets.token_hex(3)}"
    # A constraint the app knows nothing about makes exactly this insert fail in the database.
    conn = await asyncpg.connect(plain_url(servers.migrations_url))
    constraint = f"fails_for_{secrets.token_hex(3)}"
    try:
        await conn.execute(
            f"ALTER TABLE contacts ADD CONSTRAINT {constraint} CHECK (last_name <> '{last_name}') NOT VALID"
        )
        r = await client.post(
            f"/api/v1/orgs/{org_a.slug}/contacts",
            json={"kinds": ["mentee"], "last_name": last_name, "email": email, "notes": notes},
            headers=org_a.auth(Role.COORDINATOR),
        )
    finally:
        await conn.execute(f"ALTER TABLE contacts DROP CONSTRAINT IF EXISTS {constraint}")
        await conn.close()
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    log = captured_log.getvalue()
    assert "unhandled error" in log and "IntegrityError" in log, "the failure itself is logged"
    for value in (last_name, email, notes):
        assert value not in log, f"{value!r} reached the log"
