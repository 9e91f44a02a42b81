"""``codo api`` with several worker processes (CODO_API_WORKERS): one port, metrics that add up."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import msgspec
import pytest

from services.localstack import free_port
from shared.settings import Settings
from tests.conftest import Org, settings_env
from tests.test_metrics import _wait


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.mark.slow
def test_several_worker_processes_serve_one_port_and_their_metrics_add_up(
    settings: Settings, org_a: Org
) -> None:
    port, metrics = free_port(), free_port()
    env = settings_env(
        msgspec.structs.replace(settings, api_workers=2, metrics_enabled=True, metrics_port=metrics)
    )
    api = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(f"http://127.0.0.1:{port}/health", "ok", timeout=60)
        deadline = time.monotonic() + 30
        while len(_children(api.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _children(api.pid)
        # uvicorn's supervisor may keep a helper process besides the workers.
        assert len(workers) >= 2, workers
        url = f"http://127.0.0.1:{port}/api/v1/orgs/{org_a.slug}/members"
        with httpx.Client() as client:
            for _ in range(40):
                # A fresh connection each time, so the kernel spreads them over the workers.
                assert client.get(url, headers={**org_a.auth(), "Connection": "close"}).status_code == 200
        text = _wait(f"http://127.0.0.1:{metrics}/metrics", 'route="/api/v1/orgs/{slug}/members"')
        route = r'route="/api/v1/orgs/\{slug\}/members"'
        series = r"codo_http_requests_total\{[^}]*" + route + r'[^}]*status="200"[^}]*\}'
        counted = sum(float(m.group(1)) for m in re.finditer(series + r" (\S+)", text))
        assert counted == 40, text[-3000:]
    finally:
        api.send_signal(signal.SIGTERM)
        code = api.wait(40)
    assert code in (0, -signal.SIGTERM), code
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    assert not [(w, _cmdline(w)) for w in workers if _alive(w)], "every worker stopped with the server"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""
