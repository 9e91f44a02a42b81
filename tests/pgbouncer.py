"""A throwaway PgBouncer in transaction mode in front of the test PostgreSQL.

With ``CODO_TEST_PGBOUNCER=1`` the harness (``tests/conftest.py``) sends the application's
connections through it, with asyncpg's statement cache off, as a deployment with many replicas
does; migrations and the superuser still connect directly. Uses Debian's ``pgbouncer`` binary
(``infra/scripts/install-test-tools.sh`` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from shared.db import plain_url

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
# Few server connections for many clients: consecutive transactions of different requests (and
# organisations) share server connections, which is what the isolation tests must survive.
POOL_SIZE = 3


def available() -> bool:
    return Path(BINARY).exists()


@dataclass
class EmbeddedPgBouncer:
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    def start(self, server_url: str, roles: dict[str, str]) -> None:
        """Listen on ``port`` for the database of ``server_url``; ``roles`` maps role to password."""
        server = make_url(plain_url(server_url))
        self.directory.mkdir(parents=True, exist_ok=True)
        users = "".join(f'"{role}" "{password}"\n' for role, password in roles.items())
        (self.directory / "userlist.txt").write_text(users)
        (self.directory / "pgbouncer.ini").write_text(
            f"""[databases]
{server.database} = host={server.host} port={server.port} dbname={server.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {self.directory / "userlist.txt"}
pool_mode = transaction
default_pool_size = {POOL_SIZE}
max_client_conn = 500
server_reset_query =
logfile = {self.directory / "pgbouncer.log"}
"""
        )
        # PgBouncer refuses to run as root; the embedded PostgreSQL's system user will do.
        user = "pgserver" if os.geteuid() == 0 else None
        if user:
            shutil.chown(self.directory, user)
            for path in self.directory.iterdir():
                shutil.chown(path, user)
        self.process = subprocess.Popen(
            [BINARY, str(self.directory / "pgbouncer.ini")],
            user=user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.process.poll() is not None:
                    log = self.directory / "pgbouncer.log"
                    said = log.read_text() if log.exists() else ""
                    raise RuntimeError(f"pgbouncer exited: {said}") from None
                time.sleep(0.05)
        raise RuntimeError("pgbouncer did not start within 10 s")

    def url(self, url: str) -> str:
        """``url`` with PgBouncer's address instead of PostgreSQL's."""
        return make_url(url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
