"""`codo api` as its own process, the way it runs in production, for tests that attack it over HTTP."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.localstack import free_port
from shared.settings import Settings
from tests.conftest import settings_env


@dataclass
class ApiProcess:
    base: str
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module")
def api_process(settings: Settings) -> Iterator[ApiProcess]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkdtemp(prefix="codo-api-")) / "stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "api", "--host", "127.0.0.1", "--port", str(port)],
            env=settings_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                raise AssertionError(log.read_text())
            time.sleep(0.1)
        yield ApiProcess(base, process, log)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
