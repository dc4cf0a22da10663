"""`queues.enqueue_once`: one pass per key (an account's reconciliation, its fill check) waits
or runs at a time — but a job of that id that is over no longer blocks the next one.

Found by tests/integration/test_reconciliation_stack.py failing one run in five: the whole
worker pool was SIGKILLed while an account's reconciliation ran; its RQ job stayed `started`,
so RQ's `unique=True` refused the start-up reconciliation of that account and the repair
waited for the next scheduled pass (60 s). A failed pass blocked the next for its
`failure_ttl` (10 minutes) the same way. Real Redis and RQ; the queue is one no worker
listens on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from rq.job import Job, JobStatus
from rq.worker import Worker

from server import queues, runtime

QUEUE = "once-test"
FUNC = "workers.jobs.reconcile.reconcile_account"


@pytest.fixture
def rq(app):
    with app.app_context():
        connection = runtime.rq_connection()
        yield connection
        queues.queue(QUEUE).empty()


def _enqueue(job_id: str) -> bool:
    return queues.enqueue_once(QUEUE, FUNC, "acct-1", job_id=job_id, failure_ttl=600)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=10)
    return proc.pid


def _started_on(rq, job_id: str, worker: str, pid: int | None) -> None:
    """The job as a worker named `worker` (this host, `pid`; None: no registration) left it."""
    job = Job.fetch(job_id, connection=rq)
    job.worker_name = worker
    job.save()
    job.set_status(JobStatus.STARTED)
    key = f"{Worker.redis_worker_namespace_prefix}{worker}"
    rq.delete(key)
    if pid is not None:
        rq.hset(key, mapping={"hostname": socket.gethostname(), "pid": pid})
        rq.expire(key, 60)


def test_a_waiting_job_is_not_queued_twice(rq):
    assert _enqueue("once-a") is True
    assert _enqueue("once-a") is False
    assert len(queues.queue(QUEUE).get_job_ids()) == 1


def test_a_failed_job_no_longer_blocks_the_next(rq):
    """Failed (kept 10 minutes for the job dashboard): the next pass is queued at once."""
    assert _enqueue("once-b")
    queues.queue(QUEUE).remove("once-b")  # taken off the queue by a worker
    Job.fetch("once-b", connection=rq).set_status(JobStatus.FAILED)
    assert _enqueue("once-b") is True
    assert Job.fetch("once-b", connection=rq).get_status() == JobStatus.QUEUED


def test_a_started_job_blocks_while_its_worker_lives_not_after(rq):
    """Started on a live worker of this host: still running, nothing queued. Started on a
    worker whose process is gone (its pool SIGKILLed), or whose registration expired: over,
    the next pass is queued."""
    assert _enqueue("once-c")
    queues.queue(QUEUE).remove("once-c")
    _started_on(rq, "once-c", "w-live", pid=os.getpid())
    assert _enqueue("once-c") is False
    _started_on(rq, "once-c", "w-dead", pid=_dead_pid())
    assert _enqueue("once-c") is True
    queues.queue(QUEUE).remove("once-c")
    _started_on(rq, "once-c", "w-expired", pid=None)
    assert _enqueue("once-c") is True
