"""Pool and queue jobs (SPEC §5): the periodic queue sweep and the start-up rebuild."""

from __future__ import annotations

from server.services import pool, queue_sweep
from workers.bootstrap import job


@job
def sweep_queue() -> dict[str, int]:
    """Rebuild if Redis lost the copy, reconcile, expire, re-score and promote (scheduled)."""
    return queue_sweep.sweep()


@job
def rebuild_pool(why: str = "start-up") -> dict[str, int]:
    """Rebuild every pool and queue from PostgreSQL (enqueued when the scheduler starts)."""
    return pool.rebuild(why)
