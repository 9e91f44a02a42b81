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
QUEUE_DEPTH = Gauge("codo_worker_queue_depth", "Jobs waiting in the arq queue")
OUTBOX_PENDING = Gauge("codo_outbox_pending", "Outbox messages not yet delivered")
OUTBOX_OLDEST_AGE = Gauge(
    "codo_outbox_oldest_pending_age_seconds", "Age of the oldest undelivered outbox message (0 if none)"
)
OUTBOX_FAILED = Gauge("codo_outbox_failed", "Outbox messages that gave up after their last attempt")


def serve(port: int) -> None:
    """Serve /metrics on ``port`` from a background thread of this process."""
    start_http_server(port, addr="0.0.0.0")  # noqa: S104 (scraped from inside the cluster)
    log.info("metrics served", port=port)
