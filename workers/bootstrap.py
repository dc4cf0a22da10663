"""The app context every job runs in: built once per worker process, a DB connection per job.

Once the app is built, the start-up heap is frozen (`server.heap.freeze_startup_heap`): the
full garbage-collection passes a job's allocations trigger then walk only what the jobs made.
"""

from __future__ import annotations

import functools
import logging
import os
import time

from flask import Flask

from server import create_app
from server.heap import freeze_startup_heap
from server.persistence.db import db

_app: Flask | None = None
log = logging.getLogger("workers.jobs")
# JOB_TIMING=1 (the benchmarks) logs every job's CPU and wall time at WARNING, else at DEBUG
TIMING_LEVEL = logging.WARNING if os.environ.get("JOB_TIMING") == "1" else logging.DEBUG


def worker_app() -> Flask:
    global _app
    if _app is None:
        _app = create_app(web=False)
        freeze_startup_heap()
    return _app


def job(fn):
    """Run an RQ job function inside the worker's app context with its own DB connection;
    logs the job's CPU time (`time.process_time`: this worker process only, waits on
    PostgreSQL, Redis and the exchange excluded) and wall time (docs/performance.md)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            with worker_app().app_context(), db.connection_context():
                return fn(*args, **kwargs)
        finally:
            log.log(
                TIMING_LEVEL,
                "job %s: cpu %.2f ms, wall %.2f ms",
                fn.__name__,
                (time.process_time() - cpu) * 1000,
                (time.perf_counter() - wall) * 1000,
            )

    return wrapper
