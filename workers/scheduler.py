"""`scheduler` process: rq-scheduler, plus a heartbeat that `/api/health` reads.

Run exactly one (rq-scheduler takes a Redis lock so a second one waits). Periodic jobs are
registered here as later issues add them (fill monitor, TP sweep, risk, queue sweep, ...).
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime

import redis
from rq import Queue
from rq_scheduler import Scheduler

from server.config import load_config
from server.logging_setup import configure_logging
from server.queues import DEFAULT
from server.services.health import heartbeat_key
from server.state.connection import redis_for, rq_redis_for

log = logging.getLogger(__name__)


class HeartbeatScheduler(Scheduler):
    """A scheduler that records a heartbeat every time it looks for due jobs, and notices
    when Redis lost its data (a restart without persistence, a flush): the periodic jobs live
    in Redis, so without this they would be gone for good — no lane sweep to re-join the
    signals whose jobs were lost, no reconciliation, no pool rebuild. A marker key written
    with the schedule is missing then; `on_redis_reset` registers everything again."""

    def __init__(
        self, *args, heartbeat_client, heartbeat_name: str, marker_name=None, on_redis_reset=None,
        **kwargs,
    ) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self._heartbeat_client = heartbeat_client
        self._heartbeat_name = heartbeat_name
        self._marker_name = marker_name
        self._on_redis_reset = on_redis_reset

    def mark_registered(self) -> None:
        if self._marker_name:
            self._heartbeat_client.set(self._marker_name, str(time.time()))

    def enqueue_jobs(self):
        self._heartbeat_client.set(self._heartbeat_name, str(time.time()), ex=3600)
        if (
            self._marker_name
            and self._on_redis_reset is not None
            and not self._heartbeat_client.exists(self._marker_name)
        ):
            self._on_redis_reset()
            self.mark_registered()
        return super().enqueue_jobs()


# (job id, dotted path, interval: a config name or seconds) — registered anew on every start.
PERIODIC_JOBS = (
    ("precision-refresh", "workers.jobs.precision.refresh_precision", "PRECISION_REFRESH_SEC"),
    ("signal-lane-sweep", "workers.jobs.signals.sweep_lanes", "SIGNAL_LANE_SWEEP_SEC"),
    ("fill-monitor", "workers.jobs.fills.monitor_fills", "FILL_MONITOR_SEC"),
    ("take-profit-sweep", "workers.jobs.positions.take_profit_sweep", "TP_SWEEP_SEC"),
    ("equity-snapshots", "workers.jobs.positions.equity_snapshots", "EQUITY_SNAPSHOT_SEC"),
    ("risk-evaluation", "workers.jobs.risk.evaluate_due", "RISK_SWEEP_SEC"),
    ("log-retention", "workers.jobs.maintenance.purge_logs", 24 * 3600),
    ("reconciliation", "workers.jobs.reconcile.reconcile_all", "RECONCILE_SEC"),
    ("queue-sweep", "workers.jobs.pool.sweep_queue", "QUEUE_SWEEP_SEC"),
)


def register_periodic_jobs(scheduler: Scheduler, cfg) -> None:
    """Replace the periodic jobs (a restart must not leave two copies firing)."""
    for job_id, func, interval_setting in PERIODIC_JOBS:
        job_id = re.sub(r"[^A-Za-z0-9_-]", "-", f"{cfg.RQ_QUEUE_PREFIX}{job_id}")
        scheduler.cancel(job_id)
        scheduler.schedule(
            scheduled_time=datetime.now(UTC),
            func=func,
            interval=(
                interval_setting
                if isinstance(interval_setting, int)
                else getattr(cfg, interval_setting)
            ),
            repeat=None,
            id=job_id,
            queue_name=f"{cfg.RQ_QUEUE_PREFIX}{DEFAULT}",
            result_ttl=600,
        )


def registered_key(prefix: str) -> str:
    """Written with the periodic jobs; its absence means Redis lost them."""
    return f"{prefix}engine:scheduler:registered"


def register_all(scheduler: Scheduler, cfg, reason: str) -> None:
    """The periodic jobs, then the pool and queue copy in Redis rebuilt from PostgreSQL
    (SPEC §5: on start-up, and after Redis lost its data)."""
    register_periodic_jobs(scheduler, cfg)
    Queue(f"{cfg.RQ_QUEUE_PREFIX}{DEFAULT}", connection=rq_redis_for(cfg.REDIS_URL)).enqueue(
        "workers.jobs.pool.rebuild_pool", reason
    )


def main() -> None:
    cfg = load_config()
    configure_logging(cfg.LOG_LEVEL)
    scheduler = HeartbeatScheduler(
        queue_name=f"{cfg.RQ_QUEUE_PREFIX}{DEFAULT}",
        connection=rq_redis_for(cfg.REDIS_URL),
        interval=2,
        heartbeat_client=redis_for(cfg.REDIS_URL),
        heartbeat_name=heartbeat_key(cfg.RQ_QUEUE_PREFIX),
        marker_name=registered_key(cfg.RQ_QUEUE_PREFIX),
    )

    def redis_reset() -> None:
        log.warning("Redis lost the schedule (restarted empty?): periodic jobs registered again")
        register_all(scheduler, cfg, "redis data lost")

    scheduler._on_redis_reset = redis_reset
    register_all(scheduler, cfg, "start-up")
    scheduler.mark_registered()
    log.info("scheduler started (heartbeat every 2 s, %d periodic jobs)", len(PERIODIC_JOBS))
    run_forever(scheduler)


def run_forever(scheduler: Scheduler, pause: float = 2.0) -> None:
    """rq-scheduler's loop ends on the first Redis error; a Redis restart must not end the
    process (nothing would sweep lanes or reconcile again). Retry until Redis answers; an
    empty Redis is then noticed by `enqueue_jobs` and everything is registered again. A
    ValueError ("already an active scheduler") is this process's own birth key, which
    outlives the crash by at most interval + 10 s."""
    while True:
        try:
            scheduler.run()
            return
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ValueError) as exc:
            log.warning("scheduler loop stopped (%s); retrying in %.0f s", exc, pause)
            time.sleep(pause)


if __name__ == "__main__":
    main()
