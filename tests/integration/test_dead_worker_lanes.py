"""A worker that dies driving a signal lane (found by `make chaos`: the lane of a SIGKILLed
worker stayed blocked for its baton's 30 s, every later signal of that group waiting): the
worker pool gives the dead worker's batons back at once and calls a driver for each freed
lane. The new driver starts with the signal the dead worker was on — processed exactly once
whether or not the dead worker had recorded it — then the signals behind it, in order.

Real processes (a child that drives the lane through the real `drive` and `process` and is
SIGKILLed mid-signal), the real PostgreSQL, Redis, an RQ worker and the exchange simulator."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from rq import Queue
from rq.worker_pool import WorkerData

from server import queues, runtime
from server.persistence.models import PositionGroup, Pyramid, Signal
from server.services import signal_lanes
from server.state.locks import Locks
from tests.conftest import ROOT
from tests.signal_support import body, make_account, tv_alert
from workers.run import EngineWorker, ReconcilingPool

# The child drives the lane and stops for good at `stall`: "deciding" (process() has the
# signal, before its transaction: nothing recorded) or "recorded" (the signal's outcome is
# committed, its orders not yet sent and the signal not yet out of its lane).
DRIVER = """
import sys, time
from server import create_app
from server.persistence.db import db
from server.services import signal_lanes, signal_processing

stall, lane = sys.argv[1], sys.argv[2]

def stop(*args):
    print("stalled", flush=True)
    time.sleep(120)

signal_processing._jitter = stop if stall == "deciding" else signal_processing._jitter
signal_processing._after_commit = stop if stall == "recorded" else signal_processing._after_commit
with create_app(web=False).app_context(), db.connection_context():
    signal_lanes.drive(lane)
"""
FEW_SECONDS = 5  # the baton's TTL is 30 s


@pytest.fixture
def trader(app, client, make_user, sim):
    user, headers = make_user("trader")
    make_account(app, user, market_type="spot", label="Main spot")
    secret = client.post("/api/auth/webhook-secret", headers=headers).json["webhook_secret"]
    return user, secret


def _send(client, user, doc) -> Signal:
    r = client.post(f"/api/webhook/{user.id}", data=body(doc), content_type="text/plain")
    assert r.status_code == 202, r.json
    return Signal.get_by_id(r.json["signal_id"])


def _killed_mid_signal(stall: str, lane: str) -> tuple[int, float]:
    """A process that took the lane's baton and stalled on its front signal, SIGKILLed:
    (its pid, the moment it died)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, stall, lane], cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout.readline().strip() == b"stalled"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    return proc.pid, time.monotonic()


@pytest.mark.parametrize("stall", ["deciding", "recorded"])
def test_a_dead_drivers_lane_is_driven_again_at_once_in_order(app, client, trader, down, stall):
    down()  # the session's stack shares the queues: its workers must not take the lane's jobs
    user, secret = trader
    first = _send(client, user, tv_alert(secret))
    lane = first.lane
    with app.app_context():
        signals = queues.queue(queues.SIGNALS)
        signals.empty()  # the job of `first` is the one the dying worker took
        pid, died_at = _killed_mid_signal(stall, lane)
        second = _send(client, user, tv_alert(secret, entry_price="64000"))
        third = _send(client, user, tv_alert(secret, entry_price="63500"))
        lanes = signal_lanes.lanes()
        assert lanes.baton_held(lane) and signals.count == 0  # 30 s of waiting, by itself
        prefix = app.config["RQ_QUEUE_PREFIX"]
        connection = runtime.rq_connection()
        pool = ReconcilingPool(
            [signals.name],
            connection=connection,
            reconcile_queue=Queue(f"{prefix}{queues.MONITOR}", connection=connection),
            locks=Locks(connection, prefix),
            lanes=lanes,
            signals_queue=signals,
        )

        pool.handle_dead_worker(WorkerData("w1", pid, None))

        assert not lanes.baton_held(lane)
        assert [(job.func_name, job.args) for job in signals.jobs] == [
            (signal_lanes.DRIVE_JOB, (lane,))
        ]
        EngineWorker([signals], connection=connection).work(burst=True, logging_level="WARNING")
    settled = time.monotonic() - died_at
    print(f"{stall}: the lane settled {settled:.2f} s after its driver died")

    rows = [Signal.get_by_id(s.id) for s in (first, second, third)]
    assert [r.status for r in rows] == ["processed"] * 3
    assert settled < FEW_SECONDS, f"the lane waited {settled:.1f} s after its driver died"
    assert [r.classification for r in rows] == ["new_group", "pyramid", "pyramid"]
    assert rows[0].processing_seq < rows[1].processing_seq < rows[2].processing_seq
    assert rows[0].processed_at <= rows[1].processing_started_at
    assert rows[1].processed_at <= rows[2].processing_started_at
    assert PositionGroup.select().count() == 1 and Pyramid.select().count() == 3
    with app.app_context():
        assert lanes.waiting(lane) == 0 and not lanes.baton_held(lane)
