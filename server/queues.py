"""RQ queue names and enqueueing by dotted path (the server never imports `workers/`).

Queues in priority order: a worker drains `signals` before `orders` before `monitor`.
Every name is prefixed with RQ_QUEUE_PREFIX so several stacks can share one Redis.
"""

from __future__ import annotations

from flask import current_app
from rq import Queue

from server import runtime

SIGNALS = "signals"
ORDERS = "orders"
MONITOR = "monitor"
DEFAULT = "default"
PRIORITY_ORDER = (SIGNALS, ORDERS, MONITOR, DEFAULT)


def queue_name(name: str, prefix: str | None = None) -> str:
    prefix = current_app.config["RQ_QUEUE_PREFIX"] if prefix is None else prefix
    return f"{prefix}{name}"


def queue(name: str) -> Queue:
    return Queue(queue_name(name), connection=runtime.rq_connection())


def enqueue(name: str, func_path: str, *args, job_id: str | None = None, **kwargs):
    """Enqueue `func_path` (e.g. "workers.jobs.signals.process_signal") on queue `name`."""
    return queue(name).enqueue(func_path, *args, job_id=job_id, **kwargs)
