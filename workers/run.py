"""`worker` process: a pool of RQ SimpleWorkers on the engine's queues, in priority order.

    python -m workers.run [--workers N] [--burst]

SimpleWorker runs jobs in the worker process (no fork per job: ~4 ms instead of ~13 ms per
job, see STACK.md) — `EngineWorker`, whose heartbeat is one Redis round trip; the pool
supervises N of them and restarts any that dies.

Reconciliation (SPEC §4.6) is enqueued when the pool starts (after freeing what this host's
gone processes still hold: `ReconcilingPool.free_orphans`) and whenever it finds a worker
dead (a crash: the job it ran may have left an order sent but not stored): the repair runs as
an ordinary job on the restarted workers. Before that, the dead worker's locks are freed
(`Locks.free_held_by`, all but order-send locks): a group it was closing, an account it was
monitoring or reconciling is free again at once, not after the lock's TTL (up to 2 minutes).
So are its lanes' batons (`signal_lanes.free_dead_drivers`): each lane it was driving gets a
new driver at once, which starts with the signal the dead worker was on, instead of waiting
out the baton's 30 s.
"""

from __future__ import annotations

import argparse
import logging
import os
import time

from rq import Queue
from rq.worker import SimpleWorker
from rq.worker_pool import WorkerPool

from server.config import load_config
from server.queues import MONITOR, PRIORITY_ORDER, SIGNALS
from server.services.signal_lanes import free_dead_drivers
from server.state.connection import rq_redis_for
from server.state.locks import Locks, dead_holders_here, holder
from server.state.signal_lanes import SignalLanes

log = logging.getLogger(__name__)

RECONCILE_JOB = "workers.jobs.reconcile.reconcile_all"


class EngineWorker(SimpleWorker):
    """A SimpleWorker whose heartbeat costs one Redis round trip, not three, and is sent at
    most once a second between jobs.

    RQ's heartbeat sends HSET + EXPIRE + EXPIRE one by one, three times around every job
    (before waiting, after dequeueing, after the job): 9 of the ~20 Redis round trips RQ
    spends per job, paid by the signal job and its follow-up alike. Here the three commands go
    in one pipeline, and a heartbeat within `HEARTBEAT_EVERY_SEC` of the previous one (with
    the default timeout) is skipped: the worker key's TTL is worker_ttl + 60 s (~8 minutes),
    so a second's difference changes nothing for RQ's registries or the pool, which watches
    its processes, not the key. A heartbeat with an explicit timeout or pipeline is RQ's own.
    """

    HEARTBEAT_EVERY_SEC = 1.0

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        if timeout is not None or pipeline is not None:
            return super().heartbeat(timeout, pipeline)
        beat = time.monotonic()
        if beat - getattr(self, "_beat_at", float("-inf")) < self.HEARTBEAT_EVERY_SEC:
            return None
        with self.connection.pipeline(transaction=False) as batch:
            super().heartbeat(None, batch)
            batch.execute()
        self._beat_at = beat
        return None


class ReconcilingPool(WorkerPool):
    """A worker pool that asks for a reconciliation on start-up and after a worker died, and
    frees a dead worker's locks and lane batons."""

    def __init__(
        self,
        *args,
        reconcile_queue: Queue,
        locks: Locks,
        lanes: SignalLanes,
        signals_queue: Queue,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._reconcile_queue = reconcile_queue
        self._locks = locks
        self._lanes = lanes
        self._signals_queue = signals_queue

    def reconcile(self, reason: str) -> None:
        try:
            self._reconcile_queue.enqueue(RECONCILE_JOB, reason, result_ttl=0, failure_ttl=600)
        except Exception:  # Redis away: the scheduled pass repairs later
            log.exception("could not enqueue a reconciliation (%s)", reason)

    def free_locks(self, dead: str, name: str) -> None:
        """`dead`: the `holder()` of a process known dead; `name`: it, for the log."""
        try:
            freed = self._locks.free_held_by(dead)
        except Exception:  # Redis away: the locks expire by themselves
            log.exception("could not free the locks of worker %s", name)
            return
        if freed:
            log.warning("worker %s died holding %s: freed", name, ", ".join(freed))

    def free_lanes(self, dead: str, name: str) -> None:
        try:
            freed = free_dead_drivers(self._lanes, dead, self._signals_queue)
        except Exception:  # Redis away: the batons expire, the lane sweep drives the lanes
            log.exception("could not free the lane batons of worker %s", name)
            return
        if freed:
            log.warning("worker %s died driving lane(s) %s: driven again", name, ", ".join(freed))

    def free_orphans(self) -> list[str]:
        """At start-up, before the start-up reconciliation: the locks and batons of this
        host's processes that are gone — the previous pool's, when it was killed as a whole
        and nobody saw its workers die — are freed as a dead worker's would be. Otherwise a
        reconciliation pass killed mid-way keeps its account locked for up to 34 s and the
        start-up pass skips it. The holders found dead."""
        try:
            dead = dead_holders_here(
                self._locks.client, (self._locks.key(""), self._lanes.baton_start())
            )
        except Exception:  # Redis away: the locks expire by themselves
            log.exception("could not look for locks left by dead processes")
            return []
        for name in sorted(dead):
            self.free_locks(name, name)
            self.free_lanes(name, name)
        return sorted(dead)

    def handle_dead_worker(self, worker_data) -> None:
        super().handle_dead_worker(worker_data)
        dead = holder(worker_data.pid)
        self.free_locks(dead, worker_data.name)
        self.free_lanes(dead, worker_data.name)
        if self.status != self.Status.STOPPED:
            self.reconcile(f"worker {worker_data.name} died")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="run the engine's RQ workers")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "2")))
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    args = parser.parse_args(argv)
    cfg = load_config()
    names = [f"{cfg.RQ_QUEUE_PREFIX}{name}" for name in PRIORITY_ORDER]
    connection = rq_redis_for(cfg.REDIS_URL)
    pool = ReconcilingPool(
        names,
        connection=connection,
        num_workers=args.workers,
        worker_class=EngineWorker,
        reconcile_queue=Queue(f"{cfg.RQ_QUEUE_PREFIX}{MONITOR}", connection=connection),
        locks=Locks(connection, cfg.RQ_QUEUE_PREFIX),
        lanes=SignalLanes(connection, cfg.RQ_QUEUE_PREFIX),
        signals_queue=Queue(f"{cfg.RQ_QUEUE_PREFIX}{SIGNALS}", connection=connection),
    )
    if not args.burst:
        pool.free_orphans()
        pool.reconcile("worker start-up")
    pool.start(burst=args.burst, logging_level=cfg.LOG_LEVEL)


if __name__ == "__main__":
    main()
