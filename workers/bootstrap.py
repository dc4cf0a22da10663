"""The app context every job runs in: built once per worker process, a DB connection per job.

Once the app is built (and the exchange layer imported), the start-up heap is frozen
(`gc.freeze`): the ~220,000 objects of Flask, the models and ccxt's exchange classes move to
the permanent generation, so the full garbage-collection passes a job's allocations trigger
(the risk evaluation builds ~25,000 objects per 5,000 groups) walk only what the jobs made —
a few milliseconds instead of 90–300 ms landing in the middle of an evaluation
(docs/performance.md, "Risk evaluation over 5,000 open groups").
"""

from __future__ import annotations

import functools
import gc

from flask import Flask

from server import create_app
from server.persistence.db import db

_app: Flask | None = None


def worker_app() -> Flask:
    global _app
    if _app is None:
        _app = create_app(web=False)
        freeze_startup_heap()
    return _app


def freeze_startup_heap() -> int:
    """Collect once, then move every object alive now to the permanent generation (it is
    never walked by a collection again; it is still freed when nothing refers to it).
    Returns how many objects were frozen."""
    import server.exchange.ccxt_client  # noqa: F401 - every worker loads it; freeze it too

    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def job(fn):
    """Run an RQ job function inside the worker's app context with its own DB connection."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with worker_app().app_context(), db.connection_context():
            return fn(*args, **kwargs)

    return wrapper
