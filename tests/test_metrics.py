"""Prometheus metrics of the API and the worker, each on its own port."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from services.localstack import free_port
from shared.settings import Settings
from tests.conftest import Org, settings_env


def _wait(url: str, needle: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url, timeout=2).text
            if needle in last:
                return last
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{needle!r} not found at {url}:\n{last[-2000:]}")


def test_api_and_worker_metrics(settings: Settings, org_a: Org) -> None:
    import msgspec

    api_port, api_metrics, worker_metrics = free_port(), free_port(), free_port()
    api_env = settings_env(msgspec.structs.replace(settings, metrics_enabled=True, metrics_port=api_metrics))
    worker_env = settings_env(
        msgspec.structs.replace(settings, metrics_enabled=True, metrics_port=worker_metrics)
    )
    api = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "api", "--port", str(api_port)],
        env=api_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "worker"],
        env=worker_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(f"http://127.0.0.1:{api_port}/health", "ok")
        httpx.get(f"http://127.0.0.1:{api_port}/api/v1/orgs/{org_a.slug}/members", headers=org_a.auth())
        text = _wait(f"http://127.0.0.1:{api_metrics}/metrics", "codo_http_requests_total{")
        assert 'route="/api/v1/orgs/{slug}/members"' in text and 'status="200"' in text
        assert "codo_http_request_duration_seconds_bucket" in text
        assert org_a.slug not in text, "metrics are labelled by route template, never by organisation or path"
        assert httpx.get(f"http://127.0.0.1:{api_port}/metrics").status_code == 404, "not on the public port"

        text = _wait(f"http://127.0.0.1:{worker_metrics}/metrics", "codo_outbox_pending ")
        assert "codo_worker_queue_depth" in text and "codo_outbox_oldest_pending_age_seconds" in text
        text = _wait(
            f"http://127.0.0.1:{worker_metrics}/metrics", 'codo_worker_jobs_total{function="sweep_outbox"'
        )
    finally:
        for p in (api, worker):
            p.terminate()
        for p in (api, worker):
            p.wait(20)
