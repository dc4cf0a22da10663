"""`scheduler` process: rq-scheduler, plus a heartbeat that `/api/health` reads.

Run exactly one (rq-scheduler takes a Redis lock so a second one waits). Periodic jobs are
registered here as later issues add them (fill monitor, TP sweep, risk, queue sweep, ...).
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime

from rq import Queue
from rq_scheduler import Scheduler

from server.config import load_config
from server.logging_setup import configure_logging
from server.queues import DEFAULT
from server.services.health import heartbeat_key
from server.state.connection import redis_for, rq_redis_for

log = logging.getLogger(__name__)


class HeartbeatScheduler(Scheduler):
    """A scheduler that records a heartbeat every time it looks for due jobs."""

    def __init__(self, *args, heartbeat_client, heartbeat_name: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._heartbeat_client = heartbeat_client
        self._heartbeat_name = heartbeat_name

    def enqueue_jobs(self):
        self._heartbeat_client.set(self._heartbeat_name, str(time.time()), ex=3600)
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


def main() -> None:
    cfg = load_config()
    configure_logging(cfg.LOG_LEVEL)
    scheduler = HeartbeatScheduler(
        queue_name=f"{cfg.RQ_QUEUE_PREFIX}{DEFAULT}",
        connection=rq_redis_for(cfg.REDIS_URL),
        interval=2,
        heartbeat_client=redis_for(cfg.REDIS_URL),
        heartbeat_name=heartbeat_key(cfg.RQ_QUEUE_PREFIX),
    )
    register_periodic_jobs(scheduler, cfg)
    Queue(f"{cfg.RQ_QUEUE_PREFIX}{DEFAULT}", connection=rq_redis_for(cfg.REDIS_URL)).enqueue(
        "workers.jobs.pool.rebuild_pool", "start-up"
    )  # SPEC §5: the pool and queue copy in Redis is rebuilt from PostgreSQL on start-up
    log.info("scheduler started (heartbeat every 2 s, %d periodic jobs)", len(PERIODIC_JOBS))
    scheduler.run()


if __name__ == "__main__":
    main()
