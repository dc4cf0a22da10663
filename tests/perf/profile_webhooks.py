"""Per-request cost of the webhook fast path (run as a script; not collected by pytest).

    .venv/bin/python tests/perf/profile_webhooks.py [--requests 1000] [--profile 25]
                                                    [--redis redis://127.0.0.1:6379/11]

Throughput on a shared 2-core machine is noise; what one accepted webhook costs is not. This
sends `--requests` TradingView-rendered alerts (unique bodies, `text/plain`, 30 lanes) to
`POST /api/webhook/<user>` through Flask's test client in this process, against a fresh
PostgreSQL database and the given Redis database (no workers: the jobs stay queued), and
reports per accepted webhook:

- process CPU (`time.process_time`) p50/mean/best batch of 100 — the web side's CPU,
  PostgreSQL/Redis excluded — and Python function calls per request (cProfile's count: the
  same on a busy machine as on a quiet one, a proxy for CPU when the machine is shared);
- database round trips: statements sent (`Database.execute_sql`), commits/rollbacks and the
  connection pool's `SELECT 1` liveness check on check-out;
- Redis round trips: packed commands sent on a connection (a pipeline counts once);
- the `--profile` hottest functions by own and by cumulative CPU time (cProfile with a CPU
  clock over the whole run, so waiting on PostgreSQL or Redis does not count).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from tests.perf.common import throwaway_engine  # noqa: E402


class RoundTrips:
    """Counts database statements/commits and Redis packed commands while `active`."""

    def __init__(self) -> None:
        self.db = Counter()
        self.redis = Counter()
        self.active = False

    def install(self, database) -> None:
        """Wrap the statement, commit and rollback calls of every Peewee database, the pool's
        liveness check of `database` (`SELECT 1` on check-out) and redis-py's sends."""
        from peewee import Database
        from redis.connection import Connection

        counter = self
        execute_sql, commit, rollback = Database.execute_sql, Database.commit, Database.rollback
        send = Connection.send_packed_command

        def counted_execute(db, sql, params=None, *a, **kw):
            if counter.active:
                counter.db[sql.split(None, 1)[0].upper() if sql.strip() else "?"] += 1
            return execute_sql(db, sql, params, *a, **kw)

        def counted_commit(db, *a, **kw):
            if counter.active:
                counter.db["COMMIT"] += 1
            return commit(db, *a, **kw)

        def counted_rollback(db, *a, **kw):
            if counter.active:
                counter.db["ROLLBACK"] += 1
            return rollback(db, *a, **kw)

        def counted_send(conn, command, *a, **kw):
            if counter.active:
                counter.redis[_redis_name(command)] += 1
            return send(conn, command, *a, **kw)

        adapter = getattr(database, "_adapter", None)
        if adapter is not None:
            is_closed = adapter.is_connection_closed

            def counted_ping(conn):
                if counter.active and not conn.closed:
                    counter.db["SELECT 1 (pool check-out)"] += 1
                return is_closed(conn)

            adapter.is_connection_closed = counted_ping
        Database.execute_sql = counted_execute
        Database.commit = counted_commit
        Database.rollback = counted_rollback
        Connection.send_packed_command = counted_send


def _redis_name(command) -> str:
    """The first command's name of a packed command (a pipeline shows as its first)."""
    try:
        head = command[0] if isinstance(command, list) else command
        head = bytes(head)
        parts = head.split(b"\r\n")
        return parts[2].decode().upper() if len(parts) > 2 else "?"
    except Exception:
        return "?"


def rendered_body(secret: str, lane: int, n: int) -> bytes:
    """A TradingView-rendered strategy alert (docs/tradingview.md), unique per request."""
    doc = {
        "secret": secret,
        "tv": {
            "exchange": "BINANCE",
            "symbol": ("BTCUSDT", "ETHUSDT", "SOLUSDT")[lane % 3],
            "timeframe": ("5", "15", "60", "240", "1D")[lane % 5],
            "action": "buy",
            "market_position": "long",
            "prev_market_position": "flat",
            "entry_price": f"{64000 + n % 997}.5",
            "order_id": f"Long {n}",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "execution_intent": {"type": "entry", "side": "long", "strategy": "grid"},
    }
    return json.dumps(doc).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--profile", type=int, default=25, help="functions listed; 0: no profile")
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
    )
    parser.add_argument(
        "--idle-lanes",
        action="store_true",
        help="clear each lane's 'driver called' flag after every request (untimed), so every "
        "request enqueues its RQ job as on a stack whose workers keep up",
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    # The engine's logging level as configured (INFO unless LOG_LEVEL says otherwise): the
    # per-request cost includes it.
    extra_env = {
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        "WEBHOOK_RATE_LIMIT_ADDRESS": "1000000/minute",
        "WEBHOOK_RATE_LIMIT_USER": "1000000/minute",
    }
    with throwaway_engine("profile", args.redis, "p", extra_env):
        result = _run(args)
    print(json.dumps(result["summary"], indent=2))
    print(result["profile"])
    if args.json:
        Path(args.json).write_text(json.dumps(result["summary"], indent=2))


def _run(args) -> dict:
    from server import create_app
    from server.domain.enums import Role
    from server.persistence.db import db
    from server.persistence.migrate import upgrade
    from server.services.users import create_user, rotate_webhook_secret
    from tests.signal_support import make_account

    app = create_app("test")
    upgrade(db.obj)
    with app.app_context():
        user = create_user("profile@example.com", "profile", "Profile-Passw0rd", Role.TRADER)
        make_account(app, user)
        secret = rotate_webhook_secret(user, "127.0.0.1")
    client = app.test_client()
    url = f"/api/webhook/{user.id}"
    rds = redis.Redis.from_url(args.redis)
    called = f"{app.config['RQ_QUEUE_PREFIX']}engine:lane-called:*"

    def post(n: int) -> int:
        raw = rendered_body(secret, n % 30, n)
        return client.post(url, data=raw, content_type="text/plain").status_code

    def idle_lanes() -> None:
        if args.idle_lanes:
            keys = list(rds.scan_iter(match=called, count=1000))
            if keys:
                rds.delete(*keys)

    for n in range(50):  # warm-up: imports, caches, connections
        assert post(n) == 202
    trips = RoundTrips()
    trips.install(db.obj)
    n = args.requests
    # 1. round trips and CPU without the profiler, in batches of 100: on a shared machine a
    #    batch's mean CPU swings with the neighbours, the best batch is the steadier figure
    plain: list[float] = []
    trips.active = True
    for i in range(50, 50 + n):
        c0 = time.process_time()
        assert post(i) == 202
        plain.append((time.process_time() - c0) * 1000)
        trips.active = False
        idle_lanes()
        trips.active = True
    trips.active = False
    batches = [statistics.fmean(plain[k : k + 100]) for k in range(0, n - 99, 100)]
    # 2. where the CPU goes (cProfile with a CPU clock: waits on PostgreSQL/Redis excluded)
    out = io.StringIO()
    calls = None
    if args.profile:
        profiler = cProfile.Profile(time.process_time)
        profiled = min(n, 500)
        for i in range(50 + n, 50 + n + profiled):
            profiler.enable()
            assert post(i) == 202
            profiler.disable()
            idle_lanes()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(args.profile)
        stats.sort_stats("cumulative").print_stats(args.profile)
        calls = round(stats.total_calls / profiled)  # deterministic: a CPU proxy immune to load
    summary = {
        "requests": n,
        "idle_lanes": args.idle_lanes,
        "cpu_ms_p50": round(statistics.median(plain), 3),
        "cpu_ms_mean": round(statistics.fmean(plain), 3),
        "cpu_ms_best_batch_mean": round(min(batches), 3) if batches else None,
        "cpu_ms_p90": round(sorted(plain)[int(0.9 * n)], 3),
        "python_calls_per_request": calls,
        "db_round_trips_per_request": round(sum(trips.db.values()) / n, 2),
        "db_by_kind": {k: round(v / n, 2) for k, v in trips.db.most_common()},
        "redis_round_trips_per_request": round(sum(trips.redis.values()) / n, 2),
        "redis_by_command": {k: round(v / n, 2) for k, v in trips.redis.most_common()},
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    return {"summary": summary, "profile": out.getvalue()}


if __name__ == "__main__":
    main()
