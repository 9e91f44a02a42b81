"""The rate limits count the real client address: `codo api` believes X-Forwarded-For only from
the proxies named in CODO_TRUSTED_PROXIES (none by default), tested against the real process."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import msgspec
import pytest
import redis

from services.cli import proxy_options
from services.localstack import free_port
from shared.settings import Settings, SettingsError, load_settings
from tests.conftest import Org, settings_env
from tests.fixtures.intake import IntakeApi
from tests.intake.test_public_forms import answers, make_form, stamp


@contextmanager
def api_process(settings: Settings) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "api", "--host", "127.0.0.1", "--port", str(port)],
        env=settings_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode() if process.stderr else "the server died")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def forget_sign_in_attempts(settings: Settings) -> None:
    # A fixed one-minute window: start early in a minute, and with no earlier test's attempts.
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)
    client = redis.Redis.from_url(settings.redis_dsn)
    for key in client.scan_iter("codo:ratelimit:signin:*"):
        client.delete(key)
    client.close()


def sign_in_attempts(base: str, count: int) -> list[int]:
    codes = []
    for n in range(count):
        r = httpx.get(
            f"{base}/auth/start?provider=platform:nobody",
            headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
            follow_redirects=False,
        )
        codes.append(r.status_code)
    return codes


def test_a_rotated_x_forwarded_for_does_not_escape_the_sign_in_limit(settings: Settings) -> None:
    limited = msgspec.structs.replace(settings, signin_attempts_per_minute=3)
    forget_sign_in_attempts(settings)
    with api_process(limited) as base:
        assert sign_in_attempts(base, 5) == [403, 403, 403, 429, 429]


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(settings: Settings) -> None:
    behind = msgspec.structs.replace(settings, signin_attempts_per_minute=3, trusted_proxies="127.0.0.0/8")
    forget_sign_in_attempts(settings)
    with api_process(behind) as base:
        assert sign_in_attempts(base, 5) == [403] * 5, "the proxy's forwarded addresses are believed"
        same = [
            httpx.get(
                f"{base}/auth/start?provider=platform:nobody", headers={"X-Forwarded-For": "198.51.100.7"}
            ).status_code
            for _ in range(4)
        ]
        assert same == [403, 403, 403, 429]


async def test_a_rotated_x_forwarded_for_does_not_escape_the_public_form_limit(
    settings: Settings, intake: IntakeApi, org_a: Org
) -> None:
    from shared.intake import forms

    form = await make_form(intake, slug="schutz")
    with api_process(settings) as base:
        codes = []
        for n in range(forms.PER_CLIENT_PER_HOUR + 1):
            body = {
                **answers(f"p{n}-{secrets.token_hex(3)}@example.org"),
                "_stamp": stamp(settings, org_a, form),
            }
            async with httpx.AsyncClient() as http:
                r = await http.post(
                    f"{base}/f/{org_a.slug}/schutz",
                    data=body,
                    headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
                )
            codes.append(r.status_code)
    assert codes == [200] * forms.PER_CLIENT_PER_HOUR + [429]


def test_trusted_proxies_are_networks_and_none_by_default() -> None:
    base = {"CODO_DATABASE_URL": "postgresql://u:p@db/codo", "CODO_REDIS_URL": "redis://r:6379/0"}
    assert proxy_options(load_settings(base)) == {"proxy_headers": False, "forwarded_allow_ips": []}
    configured = load_settings({**base, "CODO_TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8"})
    assert proxy_options(configured) == {
        "proxy_headers": True,
        "forwarded_allow_ips": ["10.0.0.0/8", "fd00::/8"],
    }
    with pytest.raises(SettingsError, match="CODO_TRUSTED_PROXIES"):
        load_settings({**base, "CODO_TRUSTED_PROXIES": "the ingress"})
