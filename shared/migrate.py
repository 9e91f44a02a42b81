"""Running the alembic migrations and granting the runtime role what it needs."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import async_url

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def runtime_role(database_url: str) -> str:
    user = make_url(async_url(database_url)).username
    if not user:
        raise ValueError("CODO_DATABASE_URL names no user: the runtime role cannot be granted")
    return user


async def grant_runtime_role(migrations_url: str, role: str) -> None:
    """Let the runtime role use every table but alembic's, and check it cannot bypass RLS."""
    engine = create_async_engine(async_url(migrations_url))
    quoted = '"' + role.replace('"', '""') + '"'
    try:
        async with engine.begin() as conn:
            flags = (
                await conn.execute(
                    text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": role}
                )
            ).first()
            if flags is None:
                raise ValueError(f"the runtime role {role!r} of CODO_DATABASE_URL does not exist")
            if flags.rolsuper or flags.rolbypassrls:
                raise ValueError(
                    f"the runtime role {role!r} is a superuser or has BYPASSRLS: row-level security "
                    "would not protect organisations from each other"
                )
            owner = (await conn.execute(text("SELECT current_user"))).scalar_one()
            if owner == role:
                raise ValueError("CODO_DATABASE_URL and CODO_MIGRATIONS_DATABASE_URL use the same role")
            await conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {quoted}"))
            await conn.execute(
                text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}")
            )
            await conn.execute(text(f"REVOKE ALL ON TABLE alembic_version FROM {quoted}"))
    finally:
        await engine.dispose()
