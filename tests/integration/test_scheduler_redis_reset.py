"""The scheduler notices that Redis lost its data and registers the periodic jobs again.

Found by `make chaos` (redis_restart drill): rq-scheduler keeps the schedule in Redis, so after
Redis restarted empty no lane sweep, reconciliation or queue sweep ever ran again and signals
whose jobs were lost stayed `received` for good. Real Redis — a redis-server of this test's own,
so the wipe never touches the session's database where the running stack's workers are
registered — and real rq-scheduler; only the wipe is simulated by FLUSHDB (what an empty
restart leaves)."""

from __future__ import annotations

import pytest
import redis

from server.state.connection import rq_redis_for
from tests.perf.engine_bench.launcher import PrivateRedis
from workers.scheduler import (
    PERIODIC_JOBS,
    HeartbeatScheduler,
    register_periodic_jobs,
    registered_key,
)


class Cfg:
    RQ_QUEUE_PREFIX = "reset-test:"

    def __getattr__(self, name: str) -> int:  # every *_SEC interval
        return 60


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server.url
    server.kill()


def test_periodic_jobs_come_back_after_redis_lost_them(private_redis):
    client = redis.Redis.from_url(private_redis)
    cfg = Cfg()
    resets = []
    scheduler = HeartbeatScheduler(
        queue_name="reset-test:default",
        connection=rq_redis_for(private_redis),
        interval=2,
        heartbeat_client=client,
        heartbeat_name="reset-test:heartbeat",
        marker_name=registered_key(cfg.RQ_QUEUE_PREFIX),
    )

    def on_reset() -> None:
        resets.append(1)
        register_periodic_jobs(scheduler, cfg)

    scheduler._on_redis_reset = on_reset
    register_periodic_jobs(scheduler, cfg)
    scheduler.mark_registered()
    assert len(list(scheduler.get_jobs())) == len(PERIODIC_JOBS)

    scheduler.enqueue_jobs()  # nothing lost: no re-registration
    assert resets == []

    client.flushdb()  # Redis restarted without its data
    assert list(scheduler.get_jobs()) == []
    scheduler.enqueue_jobs()
    assert resets == [1]
    assert len(list(scheduler.get_jobs())) == len(PERIODIC_JOBS)

    scheduler.enqueue_jobs()  # once, not on every pass
    assert resets == [1]


def test_scheduler_loop_survives_redis_going_away():
    """rq-scheduler's `run` raises on the first Redis error (and its `finally` once more);
    the process keeps trying instead of exiting, and returns when the loop ends normally."""
    from workers.scheduler import run_forever

    outcomes = [
        redis.exceptions.ConnectionError("Error 111 connecting"),
        ValueError("There's already an active RQ scheduler"),
        None,
    ]

    class Flaky:
        calls = 0

        def run(self):
            Flaky.calls += 1
            outcome = outcomes.pop(0)
            if outcome is not None:
                raise outcome

    run_forever(Flaky(), pause=0)
    assert Flaky.calls == 3
