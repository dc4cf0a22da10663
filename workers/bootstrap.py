"""The app context every job runs in: built once per worker process, a DB connection per job."""

from __future__ import annotations

import functools

from flask import Flask

from server import create_app
from server.persistence.db import db

_app: Flask | None = None


def worker_app() -> Flask:
    global _app
    if _app is None:
        _app = create_app(web=False)
    return _app


def job(fn):
    """Run an RQ job function inside the worker's app context with its own DB connection."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with worker_app().app_context(), db.connection_context():
            return fn(*args, **kwargs)

    return wrapper
