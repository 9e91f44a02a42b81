"""`codo dev` (make run): the all-in-one local stack with demo data.

Everything lives under one data folder (``.codo/`` by default) and is kept between runs.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from email import message_from_bytes
from pathlib import Path
from typing import Any

from services.localstack import EmbeddedPostgres, EmbeddedRedis, free_port, provision_database
from shared import demo

DEMO_SLUG = demo.SLUG
DEMO_NAME = demo.NAME


class _MailSink:
    """Stores every message in the data folder and prints who it was for, like a mail catcher."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}.eml"
        (self.folder / name).write_bytes(envelope.content)
        subject = message_from_bytes(envelope.content).get("Subject", "")
        print(f"  mail to {', '.join(envelope.rcpt_tos)}: {subject}  ({self.folder / name})", flush=True)
        return "250 OK"


def _secret(path: Path) -> str:
    if not path.exists():
        path.write_text(secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text().strip()


async def _seed(env: dict[str, str], known_token: str | None) -> tuple[str, bool]:
    """The demo programme (created once, kept between runs) and an admin token for it."""
    from shared import tokens
    from shared.db import Database
    from shared.permissions import Role
    from shared.settings import load_settings

    settings = load_settings(env)
    db = Database.from_settings(settings)
    try:
        seeded = await demo.seed(db, settings.env, public_url=settings.public_url or "")
        async with db.tenant(seeded.org_id) as session:
            if known_token:
                try:
                    await tokens.authenticate(session, known_token)
                    return known_token, seeded.created
                except tokens.TokenRejected:
                    pass
            new = await tokens.create_token(session, seeded.org_id, name="make run", role=Role.ADMIN)
        return new.token, seeded.created
    finally:
        await db.dispose()


def _wait_http(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:  # noqa: S310 (our own loopback URL)
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def run_dev(*, port: int, data_dir: str) -> int:
    from aiosmtpd.controller import Controller

    from shared import migrate

    root = Path(data_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    password = _secret(root / "db-password")
    pg = EmbeddedPostgres(root / "pg", free_port())
    redis = EmbeddedRedis(root / "redis", free_port(), persist=True)
    smtp_port = free_port()
    mail = Controller(_MailSink(root / "mail"), hostname="127.0.0.1", port=smtp_port)
    children: list[subprocess.Popen[bytes]] = []
    print("codo: starting PostgreSQL and Redis …", flush=True)
    pg.init()
    pg.start()
    try:
        redis.start()
        mail.start()
        migrations_url, app_url = asyncio.run(provision_database(pg.superuser_url, "codo", password))
        env = {
            **os.environ,
            "CODO_ENV": "development",
            # Sign in as a demo member without an identity provider (refused outside development).
            "CODO_DEV_SIGNIN": "true",
            "CODO_DATABASE_URL": app_url,
            "CODO_MIGRATIONS_DATABASE_URL": migrations_url,
            "CODO_REDIS_URL": redis.url,
            "CODO_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "CODO_SMTP_HOST": "127.0.0.1",
            "CODO_SMTP_PORT": str(smtp_port),
            "CODO_SMTP_TLS": "none",
            "CODO_MAIL_FROM": "codo <noreply@codo.localhost>",
            "CODO_OUTBOX_POLL_SECONDS": "5",
        }
        migrate.upgrade(migrations_url)
        asyncio.run(migrate.grant_runtime_role(migrations_url, migrate.runtime_role(app_url)))
        token_file = root / "demo-token"
        print("codo: the demo programme …", flush=True)
        token, created = asyncio.run(
            _seed(env, token_file.read_text().strip() if token_file.exists() else None)
        )
        print(f"codo: demo programme {'created' if created else 'already there'}", flush=True)
        token_file.write_text(token)
        token_file.chmod(0o600)
        codo = [sys.executable, "-m", "services.cli"]
        children.append(subprocess.Popen([*codo, "api", "--host", "127.0.0.1", "--port", str(port)], env=env))
        children.append(subprocess.Popen([*codo, "worker"], env=env))
        base = f"http://127.0.0.1:{port}"
        # A laptop from 2016 (or a busy machine) may need a while to import and start everything.
        if not _wait_http(f"{base}/health", 120):
            print("codo: the API did not come up; see the log above", file=sys.stderr)
            return 1
        print(
            f"""
codo is running.
  web app:        {base}/signin   (development sign-in: pick a demo member, no password)
  API:            {base}   (OpenAPI: {base}/schema)
  organisation:   {DEMO_SLUG}  ({DEMO_NAME}): {base}/o/{DEMO_SLUG}
  demo members:   {", ".join(f"{email} ({role})" for email, _name, role in demo.MEMBERS)}
  admin token:    {token}
  try:            curl -H "Authorization: Bearer {token}" {base}/api/v1/orgs/{DEMO_SLUG}/members
  e-mail:         caught in {root / "mail"}
Press Ctrl-C to stop.
""",
            flush=True,
        )
        stop = False

        def _stop(*_: Any) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, _stop)
        try:
            while not stop and all(c.poll() is None for c in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        print("\ncodo: stopping …", flush=True)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(25)
            except subprocess.TimeoutExpired:
                child.kill()
        if mail.loop.is_running():
            mail.stop()
        redis.stop()
        pg.stop()
        print("codo: stopped.", flush=True)
