"""`queues.enqueue_unique`: the job is saved and queued exactly as RQ's `enqueue(unique=True)`
does, the queue is registered in RQ's set of queues, a repeated job id is refused — and the
registration is not sent again on every call."""

from __future__ import annotations

import pytest
from rq.exceptions import DuplicateJobError
from rq.job import Job

from server import queues, runtime

FUNC = "workers.jobs.signals.process_signal"


@pytest.fixture
def ctx(app, monkeypatch):
    monkeypatch.setattr(queues, "_registered", {})
    with app.app_context():
        yield


def _sent(monkeypatch) -> list[str]:
    """The first command name of everything sent to Redis from now on."""
    from redis.connection import Connection

    names: list[str] = []
    send = Connection.send_packed_command

    def counted(conn, command, *a, **kw):
        head = bytes(command[0] if isinstance(command, list) else command)
        names.append(head.split(b"\r\n")[2].decode().upper())
        return send(conn, command, *a, **kw)

    monkeypatch.setattr(Connection, "send_packed_command", counted)
    return names


def test_the_job_is_saved_queued_and_the_queue_registered(ctx):
    q = queues.queue(queues.SIGNALS)
    job = queues.enqueue_unique(queues.SIGNALS, FUNC, "sig-1", "lane-1", job_id="signal-sig-1")
    assert q.job_ids == ["signal-sig-1"]
    stored = Job.fetch("signal-sig-1", connection=runtime.rq_connection())
    assert (stored.func_name, stored.args, stored.origin) == (FUNC, ("sig-1", "lane-1"), q.name)
    assert job.id == "signal-sig-1"
    assert q.key.encode() in runtime.rq_connection().smembers(q.redis_queues_keys)
    with pytest.raises(DuplicateJobError):
        queues.enqueue_unique(queues.SIGNALS, FUNC, "sig-1", "lane-1", job_id="signal-sig-1")
    assert q.job_ids == ["signal-sig-1"]


def test_one_round_trip_once_the_queue_is_registered(ctx, monkeypatch):
    """First call: the unique-job script and the registration (MULTI … SADD … EXEC); later
    calls within REGISTERED_FOR_SEC: the script alone. After it, the registration again."""
    queues.enqueue_unique(queues.SIGNALS, FUNC, "a", "lane", job_id="signal-a")
    sent = _sent(monkeypatch)
    queues.enqueue_unique(queues.SIGNALS, FUNC, "b", "lane", job_id="signal-b")
    assert sent == ["EVALSHA"]
    monkeypatch.setattr(queues, "REGISTERED_FOR_SEC", 0.0)
    sent.clear()
    queues.enqueue_unique(queues.SIGNALS, FUNC, "c", "lane", job_id="signal-c")
    assert sent == ["EVALSHA", "MULTI"]
    assert queues.queue(queues.SIGNALS).job_ids == ["signal-a", "signal-b", "signal-c"]
