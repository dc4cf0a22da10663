"""Benchmark of `GET /api/performance` (run as a script; not collected by pytest).

    .venv/bin/python tests/perf/bench_performance.py [--days 365] [--groups 10000]
                                                     [--requests 200] [--json out.json]

Seeds a fresh PostgreSQL database with one trader's year of 5-minute equity snapshots
(365 × 288 = 105,120) and 10,000 closed position groups spread over the year (7 symbols,
5 timeframes, PnL with up to 8 decimals), then times the endpoint through Flask's test client
(the whole request: JWT, role check, query validation, ledger catch-up against PostgreSQL and
Redis, figures, JSON):

- cold: the first request (the ledger built from the database and written to Redis);
- from Redis: a process that has no ledger in memory (loaded from Redis, then caught up);
- warm: the steady state, per range (all, 1y, 90d, 30d, 7d);
- live: a new snapshot before every request and a newly closed group before every 10th, so
  each request catches up with the database (the page while the engine trades).

p50/p95/p99 in milliseconds, and the median CPU the process spent per request (`cpu_p50`,
PostgreSQL and Redis not included: a figure that other load on the machine hardly moves).
Client, PostgreSQL and Redis share the machine; the load average is printed with the result.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.perf.common import emit, host, load_1m_before_after, pct, throwaway_engine  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT")
TIMEFRAMES = (5, 15, 60, 240, 1440)


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50": round(pct(values, 0.50), 2),
        "p95": round(pct(values, 0.95), 2),
        "p99": round(pct(values, 0.99), 2),
        "max": round(max(values), 2),
        "mean": round(statistics.fmean(values), 2),
    }


def seed(user, days: int, groups: int, end: datetime) -> None:
    from server.persistence.db import db
    from server.persistence.models import EquitySnapshot, PositionGroup

    rng = random.Random(10)
    start = end - timedelta(days=days)
    equity = Decimal("10000")
    snapshots = []
    for i in range(days * 288):
        equity = max(Decimal("100"), equity + Decimal(rng.randint(-2500, 2600)) / 100)
        snapshots.append(
            {
                "id": uuid.uuid4(),
                "user": user.id,
                "taken_at": start + timedelta(minutes=5 * i),
                "equity_usd": equity,
                "realized_usd": Decimal(0),
                "unrealized_usd": Decimal(0),
                "allocated_usd": Decimal(0),
            }
        )
    rows = []
    for _ in range(groups):
        closed = start + timedelta(seconds=rng.randint(0, days * 86400 - 1))
        rows.append(
            {
                "id": uuid.uuid4(),
                "user": user.id,
                "exchange": "binance",
                "symbol": rng.choice(SYMBOLS),
                "timeframe": rng.choice(TIMEFRAMES),
                "side": rng.choice(("long", "short")),
                "status": "closed",
                "closed_at": closed,
                "created_at": closed - timedelta(hours=rng.randint(1, 72)),
                "realized_pnl_usd": Decimal(rng.randint(-5_000_000_000, 7_000_000_000))
                / 100_000_000,
                "total_invested_usd": Decimal(rng.randint(100, 2000)),
            }
        )
    with db.atomic():
        for at in range(0, len(snapshots), 5000):
            EquitySnapshot.insert_many(snapshots[at : at + 5000]).execute()
        for at in range(0, len(rows), 2000):
            PositionGroup.insert_many(rows[at : at + 2000]).execute()
    db.execute_sql("ANALYZE")


CPU_MS: list[float] = []  # this process's CPU per request (PostgreSQL and Redis not included)


def timed(client, headers, query: dict) -> tuple[float, int]:
    started, cpu = time.perf_counter(), time.process_time()
    response = client.get("/api/performance", headers=headers, query_string=query)
    elapsed = (time.perf_counter() - started) * 1000
    CPU_MS.append((time.process_time() - cpu) * 1000)
    if response.status_code != 200:
        raise SystemExit(f"HTTP {response.status_code}: {response.get_data(as_text=True)}")
    return elapsed, len(response.get_data())


def run(args) -> dict:
    from flask_jwt_extended import create_access_token

    from server import create_app
    from server.api import performance as performance_api
    from server.domain.enums import Role
    from server.persistence.db import db
    from server.persistence.migrate import upgrade
    from server.persistence.models import EquitySnapshot, PositionGroup
    from server.services import performance as service
    from server.services.users import create_user

    app = create_app("test")
    if "performance" not in app.blueprints:  # until server/api/__init__.py registers it
        app.register_blueprint(performance_api.bp)
    upgrade(db.obj)
    client = app.test_client()
    end = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    with app.app_context():
        user = create_user("bench@example.com", "bench", "Bench-Passw0rd", Role.TRADER)
        token = create_access_token(identity=str(user.id))
        t0 = time.perf_counter()
        seed(user, args.days, args.groups, end)
        seeded_s = time.perf_counter() - t0
        snapshot_count = EquitySnapshot.select().count()
        group_count = PositionGroup.select().count()
    headers = {"Authorization": f"Bearer {token}"}
    today = end.date()
    ranges = {
        "all": {},
        "1y": {"from": (today - timedelta(days=364)).isoformat(), "to": today.isoformat()},
        "90d": {"from": (today - timedelta(days=89)).isoformat()},
        "30d": {"from": (today - timedelta(days=29)).isoformat()},
        "7d": {"from": (today - timedelta(days=6)).isoformat()},
    }
    out: dict = {"seeded_seconds": round(seeded_s, 1), "snapshots": snapshot_count}
    out["closed_groups"] = group_count

    cold, size = timed(client, headers, {})
    out["cold_ms"] = round(cold, 1)
    out["response_bytes_all"] = size

    redis_loads = []
    for _ in range(5):
        service._memo.clear()
        redis_loads.append(timed(client, headers, {})[0])
    out["from_redis"] = summary(redis_loads)

    out["warm"] = {}
    for name, query in ranges.items():
        for _ in range(10):  # settle
            timed(client, headers, query)
        CPU_MS.clear()
        times = [timed(client, headers, query)[0] for _ in range(args.requests)]
        out["warm"][name] = summary(times) | {"cpu_p50": round(pct(CPU_MS, 0.5), 2)}

    live = []
    CPU_MS.clear()
    next_at = end + timedelta(minutes=5)
    rng = random.Random(11)
    with app.app_context():
        uid = user.id
    for i in range(args.requests):
        with app.app_context():
            EquitySnapshot.create(
                user=uid,
                taken_at=next_at,
                equity_usd=Decimal(10000 + i),
                realized_usd=Decimal(0),
                unrealized_usd=Decimal(0),
            )
            if i % 10 == 0:
                PositionGroup.create(
                    user=uid,
                    exchange="binance",
                    symbol=rng.choice(SYMBOLS),
                    timeframe=60,
                    side="long",
                    status="closed",
                    closed_at=next_at,
                    realized_pnl_usd=Decimal(rng.randint(-500, 700)) / 10,
                )
        next_at += timedelta(minutes=5)
        live.append(timed(client, headers, {})[0])
    out["live_all"] = summary(live) | {"cpu_p50": round(pct(CPU_MS, 0.5), 2)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    with throwaway_engine("perf", REDIS_URL, "bp"):
        load_before = os.getloadavg()
        result = run(args)
    result["machine"] = host() | {
        "date": date.today().isoformat(),
        "loadavg_1m_before_after": load_1m_before_after(load_before),
    }
    emit(result, args.json)


if __name__ == "__main__":
    main()
