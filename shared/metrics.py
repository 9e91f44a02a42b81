"""Prometheus metrics of the API and the worker.

Each process serves them on its own port (CODO_METRICS_PORT), apart from the public API
port, so the ingress never exposes them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from shared.logs import get_logger

log = get_logger(__name__)

HTTP_REQUESTS = Counter("codo_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "codo_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
JOBS = Counter("codo_worker_jobs_total", "Worker jobs finished", ["function", "outcome"])
JOB_DURATION = Histogram(
    "codo_worker_job_duration_seconds",
    "Time a worker job ran",
    ["function"],
    buckets=(0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900),
)
QUEUE_DEPTH = Gauge("codo_worker_queue_depth", "Jobs waiting in the arq queue", multiprocess_mode="livemax")
OUTBOX_PENDING = Gauge(
    "codo_outbox_pending", "Outbox messages not yet delivered", multiprocess_mode="livemax"
)
OUTBOX_OLDEST_AGE = Gauge(
    "codo_outbox_oldest_pending_age_seconds",
    "Age of the oldest undelivered outbox message (0 if none)",
    multiprocess_mode="livemax",
)
OUTBOX_FAILED = Gauge(
    "codo_outbox_failed", "Outbox messages that gave up after their last attempt", multiprocess_mode="livemax"
)


def serve_multiprocess(port: int) -> None:
    """Serve /metrics summed over the worker processes this process is about to start.

    prometheus_client's multiprocess mode: each worker writes its values to files in
    PROMETHEUS_MULTIPROC_DIR, which must be set before the workers import this module and be
    empty at the start; this process reads and adds them up.
    """
    import os
    import shutil
    import tempfile

    from prometheus_client import CollectorRegistry, multiprocess

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="codo-metrics-")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    start_http_server(port, addr="0.0.0.0", registry=registry)  # noqa: S104 (scraped inside the cluster)
    log.info("metrics served for all worker processes", port=port)


def serve(port: int) -> None:
    """Serve /metrics on ``port`` from a background thread of this process."""
    start_http_server(port, addr="0.0.0.0")  # noqa: S104 (scraped from inside the cluster)
    log.info("metrics served", port=port)
