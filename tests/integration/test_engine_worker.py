"""The engine's RQ worker class (`workers.run.EngineWorker`) against the real Redis: it runs
jobs as RQ's SimpleWorker does, keeps its worker key alive, and spends fewer Redis round
trips per job (its heartbeat is one pipeline, at most once a second between jobs)."""

from __future__ import annotations

import uuid
from collections import Counter

import redis
from redis.connection import Connection
from rq import Queue
from rq.worker import SimpleWorker

from tests.conftest import TEST_REDIS
from workers.run import EngineWorker

JOBS = 20


def _run(worker_class, monkeypatch) -> tuple[float, Queue, object]:
    """Run JOBS trivial jobs through a burst worker of `worker_class`; Redis round trips per
    job (redis-py's packed sends: a pipeline counts once), the queue and the worker."""
    connection = redis.Redis.from_url(TEST_REDIS)
    queue = Queue(f"engine-worker-{uuid.uuid4().hex[:8]}", connection=connection)
    jobs = [queue.enqueue("math.sqrt", float(n * n)) for n in range(JOBS)]
    sends: Counter = Counter()
    send = Connection.send_packed_command

    def counted(conn, command, *a, **kw):
        sends["all"] += 1
        return send(conn, command, *a, **kw)

    monkeypatch.setattr(Connection, "send_packed_command", counted)
    worker = worker_class([queue], connection=connection)
    worker.work(burst=True, logging_level="WARNING")
    monkeypatch.undo()
    try:
        for n, job in enumerate(jobs):
            job.refresh()
            assert job.get_status() == "finished" and job.return_value() == float(n)
    finally:
        for job in jobs:
            job.delete()
        queue.delete()
        connection.delete(queue.finished_job_registry.key)
    return sends["all"] / JOBS, queue, worker


def test_runs_jobs_with_fewer_round_trips_than_simple_worker(monkeypatch):
    """Every job finishes with its result; the engine's worker sends at least 6 fewer Redis
    round trips per job than RQ's SimpleWorker (RQ: three heartbeats of three commands each
    per job), and its worker key carries a heartbeat."""
    simple, _, _ = _run(SimpleWorker, monkeypatch)
    engine, _, worker = _run(EngineWorker, monkeypatch)
    print(f"Redis round trips per job: SimpleWorker {simple:.1f}, EngineWorker {engine:.1f}")
    assert engine <= simple - 6
    stored = redis.Redis.from_url(TEST_REDIS).hget(worker.key, "last_heartbeat")
    assert stored is not None
