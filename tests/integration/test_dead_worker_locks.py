"""A worker that dies holding engine locks (found by `make chaos`: a worker SIGKILLed while
closing a group left the group's lock for its whole 2-minute TTL, so every signal of that
group waited 30 s and failed GroupBusy, and a reconciliation killed mid-pass kept the
account unreconciled for 40 s): the worker pool frees the dead worker's locks at once —
all but its order-send locks, whose expiry keeps an order in flight from being sent twice.

Real processes (a child that takes locks and is SIGKILLed) and the real Redis."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.worker_pool import WorkerData

from server.state.locks import Locks, holder
from server.state.signal_lanes import SignalLanes
from tests.conftest import TEST_REDIS
from workers.run import RECONCILE_JOB, ReconcilingPool

ROOT = Path(__file__).resolve().parents[2]
TTL_MS = 120_000  # the group lock's TTL: what a dead holder used to block for
DEAD_NAMES = ("group:g1", "fill-monitor:a1", "reconcile:a1", "order-send:o1")

HOLDER = f"""
import sys, time, redis
from server.state.locks import Locks
locks = Locks(redis.Redis.from_url(sys.argv[1]), sys.argv[2])
for name in sys.argv[3:]:
    assert locks.acquire(name, {TTL_MS})
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def prefix():
    value = f"dl{secrets.token_hex(3)}:"
    yield value
    client = redis.Redis.from_url(TEST_REDIS)
    for key in list(client.scan_iter(match=f"*{value}*", count=1000)):
        client.delete(key)


def killed_holder(prefix: str) -> int:
    """A process that took DEAD_NAMES and was then SIGKILLed; its pid."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, TEST_REDIS, prefix, *DEAD_NAMES],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout.readline().strip() == b"held"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    return proc.pid


def test_the_pool_frees_a_dead_workers_locks_but_not_its_order_sends(prefix):
    raw = redis.Redis.from_url(TEST_REDIS)
    locks = Locks(raw, prefix)
    ours = locks.acquire("group:g2", TTL_MS)  # a live holder's lock (this process)
    pid = killed_holder(prefix)
    assert all(locks.held(name) for name in DEAD_NAMES)  # the TTL alone would keep them
    monitor = Queue(f"{prefix}monitor", connection=raw)
    signals = Queue(f"{prefix}signals", connection=raw)
    pool = ReconcilingPool(
        [f"{prefix}default"],
        connection=raw,
        reconcile_queue=monitor,
        locks=locks,
        lanes=SignalLanes(raw, prefix),
        signals_queue=signals,
    )

    pool.handle_dead_worker(WorkerData("w1", pid, None))

    assert not locks.held("group:g1")
    assert not locks.held("fill-monitor:a1")
    assert not locks.held("reconcile:a1")
    assert locks.held("order-send:o1")  # expires by itself: its send may still arrive
    assert locks.held("group:g2") and locks.release("group:g2", ours)
    assert [job.func_name for job in monitor.jobs] == [RECONCILE_JOB]
    assert signals.jobs == []  # it drove no lane: none to drive again


def test_freeing_names_only_the_dead_holders_locks(prefix):
    """Another holder on the same host (a live pid) keeps its locks; a token is only
    released by compare-and-delete, so a lock re-taken since is not touched."""
    locks = Locks(redis.Redis.from_url(TEST_REDIS), prefix)
    pid = killed_holder(prefix)
    ours = locks.acquire("group:mine", TTL_MS)
    freed = locks.free_held_by(holder(pid))
    assert sorted(freed) == ["fill-monitor:a1", "group:g1", "reconcile:a1"]
    assert locks.held("group:mine") and locks.release("group:mine", ours)
    assert locks.free_held_by(holder(pid)) == []


def test_a_pool_starting_up_frees_what_a_killed_pool_left(prefix):
    """A pool killed as a whole: nobody saw its workers die. The next pool, before its
    start-up reconciliation, finds this host's holders whose process is gone and frees their
    locks (not the order-sends) and lane batons, as a dead worker's; a live process's lock
    (this one's) and a baton of another host stay."""
    raw = redis.Redis.from_url(TEST_REDIS)
    locks, lanes = Locks(raw, prefix), SignalLanes(raw, prefix)
    ours = locks.acquire("group:g2", TTL_MS)
    pid = killed_holder(prefix)
    dead_baton = lanes.baton_start() + "acct:BTCUSDT:60:long"
    raw.set(dead_baton, f"{holder(pid)}:baton", px=30_000)
    elsewhere = lanes.baton_start() + "acct:ETHUSDT:60:long"
    raw.set(elsewhere, f"another-host:{pid}:baton", px=30_000)
    pool = ReconcilingPool(
        [f"{prefix}default"],
        connection=raw,
        reconcile_queue=Queue(f"{prefix}monitor", connection=raw),
        locks=locks,
        lanes=lanes,
        signals_queue=Queue(f"{prefix}signals", connection=raw),
    )

    assert pool.free_orphans() == [holder(pid)]

    assert not any(locks.held(name) for name in ("group:g1", "fill-monitor:a1", "reconcile:a1"))
    assert locks.held("order-send:o1")
    assert not raw.exists(dead_baton)
    assert raw.exists(elsewhere)
    assert locks.held("group:g2") and locks.release("group:g2", ours)
    pool.free_orphans()  # a second pool start: the order-send lock is still left to expire
    assert locks.held("order-send:o1")
