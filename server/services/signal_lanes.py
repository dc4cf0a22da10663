"""Signal lanes: strict arrival order per position group across any number of workers.

Every accepted signal joins the lane of its position group (account, symbol, timeframe, side)
and gets a job. The job's worker tries to take the lane's baton: if it gets it, it works
through the lane front to back, one signal at a time, until the lane is empty; if another worker
holds the baton, the job leaves at once — the holder gives the baton back only when the lane is
empty (atomically), so it will reach this signal too. Different lanes are driven in parallel.

The lane sweep (scheduled) repairs what a crash can leave behind: signals committed to
PostgreSQL but never in a lane (web process died between commit and lane join, or Redis was
flushed), and lanes with signals waiting but no baton (a worker died mid-lane).

A worker that dies holding a baton would block its lane until the baton expires
(`BATON_TTL_MS`); the worker pool, which sees the death, calls `free_dead_drivers` instead:
the batons go back at once and each freed lane gets a driver. The signal the dead worker was
on is still the lane's front (a signal leaves its lane only once processed), so the new driver
takes it first — the path an expired baton takes, only sooner — and `process` handles it
exactly once (it skips a signal already recorded; a record the dead worker had not committed
was rolled back with its connection).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import redis
from flask import current_app
from peewee import fn
from rq import Queue
from rq.exceptions import DuplicateJobError

from server import queues, runtime
from server.clock import utcnow
from server.persistence.models import Signal
from server.state.locks import new_token
from server.state.signal_lanes import SignalLanes

log = logging.getLogger(__name__)

BATON_TTL_MS = 30_000  # extended before every signal; a dead driver's lane waits at most this
# (unless the worker pool frees it first, see `free_dead_drivers`)
MAX_PER_TURN = 200  # then the baton is handed on through a fresh job (RQ job timeouts)
STUCK_AFTER = timedelta(seconds=30)
PROCESS_JOB = "workers.jobs.signals.process_signal"
DRIVE_JOB = "workers.jobs.signals.drive_lane"

_instances: dict[tuple[int, str], SignalLanes] = {}


def lanes() -> SignalLanes:
    """This process's lanes for the configured Redis and key prefix."""
    client = runtime.redis_client()
    prefix = current_app.config["RQ_QUEUE_PREFIX"]
    key = (id(client), prefix)
    found = _instances.get(key)
    if found is None:
        found = _instances[key] = SignalLanes(client, prefix)
    return found


def dispatch(signal_id: str, lane: str) -> None:
    """After the signal is committed: join its lane and, unless a worker is driving it or
    has been called to (either will reach this signal), enqueue a job to drive it (id
    `signal-<id>`, unique, so a signal is never queued twice). A Redis failure here loses
    nothing: the signal is in PostgreSQL and the lane sweep joins it later."""
    try:
        _seq, call_driver = lanes().join(lane, signal_id)
        if not call_driver:
            return
        queues.enqueue_unique(
            queues.SIGNALS, PROCESS_JOB, signal_id, lane, job_id=f"signal-{signal_id}"
        )
    except DuplicateJobError:
        pass
    except (redis.RedisError, OSError) as exc:
        log.error("signal %s accepted, not queued (%s); the lane sweep retries", signal_id, exc)


def drive(lane: str) -> int:
    """Work through `lane` if no other worker is; returns how many signals this call handled."""
    from server.services.signal_processing import process  # the lane does not need it to load

    store = lanes()
    token = new_token()  # names this process: the pool frees it at once should we die
    taken, head = store.take_baton_and_head(lane, token, BATON_TTL_MS)
    if not taken:
        return 0  # the baton holder will reach our signal: it only stops on an empty lane
    done = 0
    try:
        while True:
            if head is None:
                if store.release_if_empty(lane, token) == 0:
                    head = store.head(lane)  # a signal joined while we were looking
                    continue
                return done
            if done >= MAX_PER_TURN:
                store.release(lane, token)
                queues.enqueue(queues.SIGNALS, DRIVE_JOB, lane)
                return done
            if done and not store.extend(lane, token, BATON_TTL_MS):  # taken just now: fresh
                log.warning("lost the baton of lane %s; its new holder carries on", lane)
                return done
            signal_id, arrival_seq = head
            process(signal_id, arrival_seq, store.next_processing_seq)
            store.leave(lane, signal_id)
            done += 1
            head = store.head(lane)
    except BaseException:
        store.release(lane, token)  # let another worker, or the sweep, take over
        raise


def drive_signal(signal_id: str, lane: str | None) -> int:
    """The job of one accepted signal: drive its lane (found in PostgreSQL when not given)."""
    if lane is None:
        signal = Signal.get_or_none(Signal.id == signal_id)
        if signal is None or signal.lane is None:
            return 0
        lane = signal.lane
    return drive(lane)


def sweep() -> dict[str, int]:
    """Repair lanes after crashes or a Redis flush (scheduled every SIGNAL_LANE_SWEEP_SEC)."""
    store = lanes()
    if not store.counters_present():
        top = Signal.select(
            fn.MAX(Signal.arrival_seq).alias("arrival"),
            fn.MAX(Signal.processing_seq).alias("processing"),
        ).dicts()[0]
        store.ensure_counters(top["arrival"] or 0, top["processing"] or 0)
    stuck = (
        Signal.select(Signal.id, Signal.lane)
        .where(
            (Signal.status == "received")
            & (Signal.created_at < utcnow() - STUCK_AFTER)
            & Signal.lane.is_null(False)
        )
        .order_by(Signal.created_at)
        .limit(1000)
    )
    rejoined = 0
    for signal in stuck:
        store.join(signal.lane, str(signal.id))
        rejoined += 1
    driven = call_drivers(store, store.active_lanes(), queues.queue(queues.SIGNALS))
    if rejoined or driven:
        log.info("lane sweep: %d stuck signal(s) re-joined, %d lane(s) driven", rejoined, driven)
    return {"rejoined": rejoined, "driven": driven}


def call_drivers(store: SignalLanes, names: list[str], signals: Queue) -> int:
    """Enqueue a driver (on the `signals` queue) for each lane of `names` with signals waiting
    and no baton — lanes left without a driver — and drop the empty ones from the active set;
    how many lanes were given a driver."""
    driven = 0
    for lane in names:
        if store.forget_if_empty(lane):
            continue
        if not store.baton_held(lane):
            signals.enqueue(DRIVE_JOB, lane)
            driven += 1
    return driven


def free_dead_drivers(store: SignalLanes, dead: str, signals: Queue) -> list[str]:
    """The worker pool found `dead` (a `locks.holder()`) dead: give back its batons and call a
    driver for each freed lane that still has signals waiting; the lanes freed."""
    freed = store.free_batons_held_by(dead)
    call_drivers(store, freed, signals)
    return freed
