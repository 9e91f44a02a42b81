"""The test harness: a throwaway PostgreSQL and Redis, a real SMTP server, the app.

With CODO_TEST_DATABASE_URL (a role that may create roles and databases) and
CODO_TEST_REDIS_URL set, tests use those servers instead of starting their own. With
CODO_TEST_PGBOUNCER=1 the application connects through a PgBouncer in transaction mode
(tests/pgbouncer.py).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiosmtpd.controller import Controller
from litestar.testing import AsyncTestClient

from services.localstack import EmbeddedPostgres, EmbeddedRedis, free_port, provision_database
from shared import migrate, organizations, tokens
from shared.db import Database
from shared.permissions import Role
from shared.settings import Settings

REPO = Path(__file__).resolve().parent.parent
THROUGH_PGBOUNCER = os.environ.get("CODO_TEST_PGBOUNCER") == "1"

# Fixture modules of each domain (tests/fixtures/<domain>.py) are loaded as plugins.
pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}" for p in (REPO / "tests" / "fixtures").glob("*.py") if p.stem != "__init__"
)


@dataclass
class Servers:
    superuser_url: str
    migrations_url: str
    app_url: str
    redis_url: str
    password: str
    pg: EmbeddedPostgres | None = None


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    tmp = Path(tempfile.mkdtemp(prefix="codo-test-"))
    pg: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    bouncer: Any = None
    superuser_url = os.environ.get("CODO_TEST_DATABASE_URL")
    redis_url = os.environ.get("CODO_TEST_REDIS_URL")
    try:
        if not superuser_url:
            pg = EmbeddedPostgres(tmp / "pg", free_port())
            pg.init()
            pg.start()
            superuser_url = pg.superuser_url
        if not redis_url:
            redis = EmbeddedRedis(tmp / "redis", free_port(), persist=False)
            redis.start()
            redis_url = redis.url
        password = secrets.token_urlsafe(12)
        database = f"codo_test_{secrets.token_hex(4)}"
        migrations_url, app_url = asyncio.run(provision_database(superuser_url, database, password))
        migrate.upgrade(migrations_url)
        asyncio.run(migrate.grant_runtime_role(migrations_url, migrate.runtime_role(app_url)))
        if THROUGH_PGBOUNCER:
            from tests.pgbouncer import EmbeddedPgBouncer

            bouncer = EmbeddedPgBouncer(tmp / "pgbouncer", free_port())
            bouncer.start(app_url, {migrate.runtime_role(app_url): password})
            app_url = bouncer.url(app_url)
        yield Servers(superuser_url, migrations_url, app_url, redis_url, password, pg)
    finally:
        if bouncer:
            bouncer.stop()
        if redis:
            redis.stop()
        if pg:
            pg.stop()
        # A run leaves about 100 MB of database files behind otherwise.
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class Mailbox:
    """A real SMTP server (aiosmtpd) that keeps what it receives."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]

    async def wait_for(self, address: str, count: int = 1, timeout: float = 20) -> list[Message]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if len(self.to(address)) >= count:
                return self.to(address)
            await asyncio.sleep(0.05)
        raise AssertionError(f"{count} message(s) to {address} expected, got {len(self.to(address))}")


@pytest.fixture(scope="session")
def smtp_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def mailbox(smtp_port: int) -> Iterator[Mailbox]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    yield box
    controller.stop()


def make_settings(servers: Servers, smtp_port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": servers.app_url,
        "migrations_database_url": servers.migrations_url,
        "redis_url": servers.redis_url,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_tls": "none",
        "smtp_timeout": 5.0,
        "mail_from": "codo <noreply@codo.test>",
        "outbox_backoff_seconds": 1,
        "outbox_poll_seconds": 1,
        "db_pool_size": 5,
        "log_format": "json",
        # Behind PgBouncer in transaction mode, as the chart README says.
        "db_statement_cache": not THROUGH_PGBOUNCER,
    }
    values.update(overrides)
    return msgspec.convert(values, Settings)


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as the environment variables a process started by a test reads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODO_")}
    for name in Settings.__struct_fields__:
        value = getattr(settings, name)
        if value is not None:
            env[f"CODO_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


@pytest.fixture(scope="session")
def settings(servers: Servers, smtp_port: int) -> Settings:
    return make_settings(servers, smtp_port)


@pytest.fixture(scope="session")
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database.from_settings(settings)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    from services.api.app import create_app

    async with AsyncTestClient(app=create_app(settings)) as c:
        yield c


@dataclass
class Org:
    id: uuid.UUID
    slug: str
    tokens: dict[Role, str]

    def auth(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


async def create_org(db: Database, slug: str | None = None) -> Org:
    slug = slug or f"org-{secrets.token_hex(4)}"
    async with db.platform() as session:
        org = await organizations.create_organization(session, slug, f"Verein {slug}")
    issued: dict[Role, str] = {}
    async with db.tenant(org.id) as session:
        for role in Role:
            new = await tokens.create_token(session, org.id, name=f"{role.value} token", role=role)
            issued[role] = new.token
        await organizations.add_member(session, org.id, f"owner@{slug}.example", "owner", "Olga Owner")
    return Org(org.id, slug, issued)


@pytest.fixture
async def org_a(db: Database) -> Org:
    return await create_org(db)


@pytest.fixture
async def org_b(db: Database) -> Org:
    return await create_org(db)
