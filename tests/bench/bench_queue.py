"""Queue benchmark: sending jobs through the one pool per process against a pool per send.

    .venv/bin/python -m tests.bench.bench_queue [--jobs 500]

Starts its own Redis and sends the same jobs twice: through ``shared.queue`` (one pool reused,
as every request and job now does) and, as the baseline, the way each of the three earlier enqueue functions
did it (``create_pool`` per send, closed afterwards). Prints sends per second and the number of
pools each way opened.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from arq import create_pool
from arq.connections import RedisSettings

from services.localstack import EmbeddedRedis, free_port
from shared import queue


async def _measure(url: str, jobs: int) -> None:
    queue.configure(url)
    opened = queue.pools_opened()
    start = time.perf_counter()
    for i in range(jobs):
        assert await queue.send(queue.RUN_MATCHING, "org", f"one-pool-{i}")
    pooled = time.perf_counter() - start
    pools = queue.pools_opened() - opened
    await queue.close()

    start = time.perf_counter()
    for i in range(jobs):
        pool = await create_pool(RedisSettings.from_dsn(url), retry=0)
        try:
            await pool.enqueue_job(queue.RUN_MATCHING, "org", f"pool-per-send-{i}")
        finally:
            await pool.aclose()
    per_send = time.perf_counter() - start

    print(f"{jobs} jobs")
    print(f"  codo (one pool, {pools} opened):      {jobs / pooled:8.0f} sends/s")
    print(f"  baseline (a pool per send, {jobs} opened): {jobs / per_send:8.0f} sends/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        redis = EmbeddedRedis(Path(folder), free_port(), persist=False)
        redis.start()
        try:
            asyncio.run(_measure(redis.url, args.jobs))
        finally:
            redis.stop()


if __name__ == "__main__":
    main()
