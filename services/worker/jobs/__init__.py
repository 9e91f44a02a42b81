"""Job modules: each ``services/worker/jobs/<domain>.py`` may define ``FUNCTIONS`` (arq functions)
and ``CRON_JOBS`` (arq cron jobs); the worker collects them all.

Jobs receive ``ctx`` with ``ctx["db"]`` (shared.db.Database), ``ctx["settings"]`` and
``ctx["worker_name"]``. They may run more than once: make each idempotent.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def collect() -> tuple[list[Any], list[Any]]:
    functions: list[Any] = []
    cron_jobs: list[Any] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        functions.extend(getattr(module, "FUNCTIONS", []))
        cron_jobs.extend(getattr(module, "CRON_JOBS", []))
    return functions, cron_jobs
