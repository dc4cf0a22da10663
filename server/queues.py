"""RQ queue names and enqueueing by dotted path (the server never imports `workers/`).

Queues in priority order: a worker drains `signals` before `orders` before `monitor`.
Every name is prefixed with RQ_QUEUE_PREFIX so several stacks can share one Redis.
"""

from __future__ import annotations

import time

from flask import current_app
from rq import Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.worker import Worker

from server import runtime
from server.state.locks import is_gone

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


# How long this process trusts that a queue is in RQ's set of queues (`rq:queues`) after it
# registered it there itself (enqueue_unique).
REGISTERED_FOR_SEC = 60.0
_registered: dict[str, float] = {}


def enqueue(name: str, func_path: str, *args, job_id: str | None = None, **kwargs):
    """Enqueue `func_path` (e.g. "workers.jobs.signals.process_signal") on queue `name`."""
    return queue(name).enqueue(func_path, *args, job_id=job_id, **kwargs)


def enqueue_unique(name: str, func_path: str, *args, job_id: str):
    """`enqueue(..., unique=True)` in one Redis round trip instead of two.

    RQ saves and pushes a unique job with one atomic script, and before it adds the queue to
    its set of queues (`SADD rq:queues`) in a pipeline of its own — a second round trip on
    every call, for a set that changes only the first time. Here that `SADD` goes into a
    pipeline of ours, sent only when this process has not registered the queue within
    `REGISTERED_FOR_SEC` (so a flushed Redis has it back within a minute; workers listen on
    queue names and never need the set). Should RQ ever queue anything else on the pipeline,
    it is sent as RQ would. `DuplicateJobError` as with `enqueue`."""
    q = queue(name)
    pipe = q.connection.pipeline()
    try:
        job = q.enqueue(func_path, *args, job_id=job_id, unique=True, pipeline=pipe)
        only_registration = len(pipe.command_stack) == 1 and pipe.command_stack[0][0][0] == "SADD"
        now = time.monotonic()
        if not only_registration or now - _registered.get(q.key, -REGISTERED_FOR_SEC) >= (
            REGISTERED_FOR_SEC
        ):
            pipe.execute()
            _registered[q.key] = now
        return job
    finally:
        pipe.reset()


_STILL_COMING = (JobStatus.CREATED, JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED)


def enqueue_once(name: str, func_path: str, *args, job_id: str, **kwargs) -> bool:
    """Enqueue `func_path` as `job_id` unless a job of that id still waits or runs (one pass
    per account, say); True when enqueued.

    RQ's `unique=True` refuses while a job of that id exists at all: a failed one kept for
    its `failure_ttl`, or one whose worker was killed mid-run (left `started` until RQ's
    clean-up) would block the next pass for minutes — the start-up reconciliation after the
    whole worker pool was killed among them. Such a job is over: it is deleted and the new
    one enqueued. A `started` job whose worker is on another host is taken as running."""
    q = queue(name)
    for _ in range(3):
        try:
            q.enqueue(func_path, *args, job_id=job_id, unique=True, **kwargs)
            return True
        except DuplicateJobError:
            try:
                old = Job.fetch(job_id, connection=q.connection)
            except NoSuchJobError:
                continue  # gone meanwhile: try again
            status = old.get_status(refresh=False)
            if status in _STILL_COMING or (
                status == JobStatus.STARTED and not _worker_gone(q, old.worker_name)
            ):
                return False
            old.delete()
    return False


def _worker_gone(q: Queue, worker_name: str | None) -> bool:
    if not worker_name:
        return False
    fields = q.connection.hmget(
        f"{Worker.redis_worker_namespace_prefix}{worker_name}", "hostname", "pid"
    )
    if None in fields:
        return True  # its registration expired: it has not beaten for minutes
    host, pid = (v.decode() if isinstance(v, bytes) else str(v) for v in fields)
    return is_gone(f"{host}:{pid}")
