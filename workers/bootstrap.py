"""The app context every job runs in: built once per worker process, a DB connection per job.

Once the app is built, the start-up heap is frozen (`server.heap.freeze_startup_heap`): the
full garbage-collection passes a job's allocations trigger then walk only what the jobs made.
"""

from __future__ import annotations

import functools

from flask import Flask

from server import create_app
from server.heap import freeze_startup_heap
from server.persistence.db import db

_app: Flask | None = None


def worker_app() -> Flask:
    global _app
    if _app is None:
        _app = create_app(web=False)
        freeze_startup_heap()
    return _app


def job(fn):
    """Run an RQ job function inside the worker's app context with its own DB connection."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with worker_app().app_context(), db.connection_context():
            return fn(*args, **kwargs)

    return wrapper
