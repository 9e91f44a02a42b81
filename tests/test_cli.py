"""The `codo` command as an operator runs it: only environment variables, real processes."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from services.localstack import free_port, provision_database
from shared.settings import Settings
from tests.conftest import Mailbox, Servers, make_settings, settings_env


def codo(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def env(settings: Settings) -> dict[str, str]:
    return settings_env(settings)


@contextmanager
def running_api(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError(proc.stdout.read() if proc.stdout else "api did not start")
    try:
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.fixture(scope="module")
def api_server(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    with running_api(env) as server:
        yield server


def test_org_create_list_and_token_create(env: dict[str, str], api_server: tuple[str, Any]) -> None:
    slug = f"cli-{secrets.token_hex(3)}"
    r = codo(env, "org", "create", slug, "--name", "Jobpaten Köln")
    assert r.returncode == 0, r.stderr
    listed = codo(env, "org", "list")
    assert any(line.split("\t")[:2] == [slug, "Jobpaten Köln"] for line in listed.stdout.splitlines())

    r = codo(env, "token", "create", "--org", slug, "--role", "admin", "--name", "integration")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("codo_") and " " not in token
    base, _ = api_server
    answer = httpx.get(f"{base}/api/v1/orgs/{slug}", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json()["name"] == "Jobpaten Köln"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["org", "create", "Bad Slug!", "--name", "x"], "slug"),
        (["token", "create", "--org", "nowhere-at-all", "--role", "admin", "--name", "x"], "no organisation"),
        (["token", "create", "--org", "x", "--role", "king", "--name", "x"], "unknown role"),
    ],
)
def test_bad_input_exits_non_zero_with_a_clear_message(
    env: dict[str, str], args: list[str], message: str
) -> None:
    r = codo(env, *args)
    assert r.returncode != 0
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_a_duplicate_slug_is_refused(env: dict[str, str]) -> None:
    slug = f"dup-{secrets.token_hex(3)}"
    assert codo(env, "org", "create", slug, "--name", "Erste").returncode == 0
    r = codo(env, "org", "create", slug, "--name", "Zweite")
    assert r.returncode != 0 and "already exists" in r.stderr


def test_missing_settings_are_named(env: dict[str, str]) -> None:
    bare = {k: v for k, v in env.items() if not k.startswith("CODO_")}
    r = codo(bare, "org", "list")
    assert r.returncode != 0 and "CODO_DATABASE_URL" in r.stderr
    r = codo({**env, "CODO_DB_POOL_SIZE": "lots"}, "org", "list")
    assert r.returncode != 0 and "CODO_DB_POOL_SIZE" in r.stderr


def test_the_api_logs_json_with_request_id_and_organisation(env: dict[str, str]) -> None:
    slug = f"log-{secrets.token_hex(3)}"
    codo(env, "org", "create", slug, "--name", "Logverein")
    token = codo(env, "token", "create", "--org", slug, "--role", "viewer", "--name", "x").stdout.split()[-1]
    with running_api(env) as (base, proc):
        r = httpx.get(
            f"{base}/api/v1/orgs/{slug}/members",
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-4711"},
        )
        assert r.headers["x-request-id"] == "req-4711"
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    [line] = [
        entry for entry in lines if entry.get("request_id") == "req-4711" and entry["event"] == "request"
    ]
    assert line["org"] == slug
    assert line["route"] == "/api/v1/orgs/{slug}/members"
    assert token not in out


def test_migrate_then_api_and_worker_start_from_the_environment_alone(
    servers: Servers, smtp_port: int, mailbox: Mailbox
) -> None:
    """The image's entrypoints as the chart runs them, against a database nobody migrated yet."""
    import asyncio

    owner_url, app_url = asyncio.run(
        provision_database(servers.superuser_url, f"codo_ep_{secrets.token_hex(4)}", servers.password)
    )
    env = settings_env(
        make_settings(
            servers, smtp_port, database_url=app_url, migrations_database_url=owner_url, outbox_poll_seconds=1
        )
    )
    r = codo(env, "migrate")
    assert r.returncode == 0, r.stderr
    assert "granted the runtime role codo_app" in r.stdout
    assert codo(env, "migrate").returncode == 0, "migrate must be safe to run again"
    slug = f"ep-{secrets.token_hex(3)}"
    assert codo(env, "org", "create", slug, "--name", "Entrypoint e.V.").returncode == 0

    port = free_port()
    api = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        to = f"operator-{secrets.token_hex(3)}@ops.example"
        r = codo(env, "mail", "test", "--to", to)
        assert r.returncode == 0, r.stderr
        asyncio.run(mailbox.wait_for(to, timeout=30))
        deadline = time.monotonic() + 30
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None and ready.status_code == 200
        assert codo(env, "worker", "check").returncode == 0
    finally:
        for p in (api, worker):
            p.terminate()
        for p in (api, worker):
            p.wait(20)


def test_migrate_refuses_a_runtime_role_that_bypasses_rls(servers: Servers, smtp_port: int) -> None:
    env = settings_env(make_settings(servers, smtp_port, database_url=servers.migrations_url))
    r = codo(env, "migrate")
    assert r.returncode != 0 and "same role" in r.stderr


def test_the_api_refuses_development_sign_in_outside_development(env: dict[str, str]) -> None:
    r = codo({**env, "CODO_ENV": "production", "CODO_DEV_SIGNIN": "true", "CODO_SECRET_KEY": "k" * 40}, "api")
    assert r.returncode != 0
    assert "CODO_DEV_SIGNIN" in r.stderr and "Traceback" not in r.stderr
