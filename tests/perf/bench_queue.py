"""Benchmark of the queue (run as a script; not collected by pytest).

    .venv/bin/python tests/perf/bench_queue.py [--queued 10000] [--ops 5000] [--full 200]
                                               [--json out.json]

Against the real PostgreSQL (a fresh database, dropped afterwards) and Redis (BENCH_REDIS_URL,
default database 10; only this run's key prefix is touched), one trader with `--queued`
signals already queued (rows in PostgreSQL, ranked in the Redis sorted set), measures:

- **promotion decision**: `PoolStore.take_top` — the Lua script that picks the top signal and
  takes its slot in one step (the slot is given back between samples so the pool never
  fills; the popped signal is put back so the queue stays at `--queued`);
- **enqueue (Redis)** / **replace (Redis)**: the script adding a member / re-scoring one;
- **enqueue (full)** / **replace (full)**: the service path a signal worker runs —
  `queue.enqueue` / `queue.replace` in a transaction (row insert/update, commit, then the
  Redis score from the cached price); events go nowhere (no emitter in this process);
- **re-score all**: one sweep's `ZADD XX` of every queued member.

Client, PostgreSQL and Redis share the machine (2 cores, other test runs): the numbers
include that.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.perf.common import emit, pct, throwaway_engine  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT")


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50": round(pct(values, 0.50), 3),
        "p99": round(pct(values, 0.99), 3),
        "max": round(max(values), 3),
        "mean": round(statistics.fmean(values), 3),
    }


def seed(user, account, count: int):
    """`count` processed entry signals of distinct lanes, queued in PostgreSQL and Redis."""
    from server.domain import queue_priority as qp
    from server.persistence.db import db
    from server.persistence.models import QueuedSignal, Signal
    from server.services import pool

    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
    signals, rows, members = [], [], {}
    for i in range(count):
        signal_id, row_id = uuid.uuid4(), uuid.uuid4()
        symbol, tf = SYMBOLS[i % len(SYMBOLS)], 1 + i // len(SYMBOLS)
        price = Decimal(100 + i % 50)
        queued_at = start + timedelta(milliseconds=i)
        signals.append({"id": signal_id, "user": user.id, "account": account.id,
                        "dedupe_key": f"new:{signal_id}", "intent": "entry", "symbol": symbol,
                        "timeframe": tf, "side": "long", "entry_price": price, "payload": {},
                        "status": "processed", "classification": "queued"})  # fmt: skip
        rows.append({"id": row_id, "user": user.id, "account": account.id, "signal": signal_id,
                     "symbol": symbol, "timeframe": tf, "side": "long", "entry_price": price,
                     "queued_at": queued_at, "replacement_count": i % 4})  # fmt: skip
        members[qp.member(str(row_id), queued_at)] = qp.score(
            False, Decimal(-(i % 700)) / 100, i % 4
        )
    with db.atomic():
        for at in range(0, count, 2000):
            Signal.insert_many(signals[at : at + 2000]).execute()
            QueuedSignal.insert_many(rows[at : at + 2000]).execute()
    pool.ensure_built()
    pool.store().client.zadd(pool.store().queue_key(user.id), members)
    return members


def run(args) -> dict:
    from server import create_app
    from server.domain import queue_priority as qp
    from server.domain.enums import Role
    from server.persistence.db import db
    from server.persistence.migrate import upgrade
    from server.persistence.models import ExchangeAccount, QueuedSignal, Signal
    from server.services import pool, queue
    from server.services.users import create_user
    from server.state.pool_store import slot_value

    app = create_app("test")
    upgrade(db.obj)
    out: dict = {}
    with app.app_context():
        user = create_user("bench@example.com", "bench", "Bench-Passw0rd", Role.TRADER)
        account = ExchangeAccount.create(user=user.id, exchange="binance", market_type="spot",
                                         mode="simulated", label="bench", api_key_masked="x",
                                         api_key_enc="x", api_secret_enc="x")  # fmt: skip
        t0 = time.perf_counter()
        members = seed(user, account, args.queued)
        out["seed_s"] = round(time.perf_counter() - t0, 1)
        store = pool.store()
        assert store.queued(user.id) == args.queued
        for n in range(10):  # a full pool (10 of 10): an enqueue never promotes
            store.take(user.id, f"held-{n}", slot_value(f"held-{n}", 0), 0)

        decision, put, rescore_one = [], [], []
        for _ in range(args.ops):
            slot = uuid.uuid4().hex
            t = time.perf_counter()
            taken = store.take_top(user.id, slot, slot_value(slot, 0), 11, qp.CONTINUATION_SCORE,
                                   False)  # fmt: skip
            decision.append((time.perf_counter() - t) * 1000)
            member, score, _held = taken
            store.free_slot(user.id, slot)
            t = time.perf_counter()
            store.put(user.id, member, int(score))
            put.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            store.put(user.id, member, int(score) + 1, only_existing=True)
            rescore_one.append((time.perf_counter() - t) * 1000)
        out["promotion_decision_ms"] = summary(decision)
        out["enqueue_redis_ms"] = summary(put)
        out["replace_redis_ms"] = summary(rescore_one)

        t = time.perf_counter()
        store.rescore(user.id, members)
        out["rescore_all_ms"] = round((time.perf_counter() - t) * 1000, 1)

        full_enqueue, full_replace = [], []
        for i in range(args.full):
            signal = Signal.create(user=user.id, account=account.id, dedupe_key=f"b:{i}",
                                   intent="entry", symbol="BTCUSDT", timeframe=100_000 + i,
                                   side="long", entry_price=Decimal("64000"), payload={},
                                   status="processed")  # fmt: skip
            t = time.perf_counter()
            with db.atomic():
                row = queue.enqueue(signal, account.id)
            full_enqueue.append((time.perf_counter() - t) * 1000)
            later = Signal.create(user=user.id, account=account.id, dedupe_key=f"r:{i}",
                                  intent="entry", symbol="BTCUSDT", timeframe=100_000 + i,
                                  side="long", entry_price=Decimal("63000"), payload={},
                                  status="processed")  # fmt: skip
            t = time.perf_counter()
            with db.atomic():
                locked = queue.queued_for_lane(account.id, "BTCUSDT", 100_000 + i, "long")
                queue.replace(locked, later)
            full_replace.append((time.perf_counter() - t) * 1000)
            assert QueuedSignal.get_by_id(row.id).replacement_count == 1
        out["enqueue_full_ms"] = summary(full_enqueue)
        out["replace_full_ms"] = summary(full_replace)
        out["queued_at_end"] = store.queued(user.id)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--ops", type=int, default=5_000)
    parser.add_argument("--full", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    with throwaway_engine("queue", REDIS_URL, "bq"):
        load_before = os.getloadavg()
        started = time.perf_counter()
        result = run(args)
    result |= {
        "queued": args.queued,
        "ops": args.ops,
        "full": args.full,
        "wall_s": round(time.perf_counter() - started, 1),
        "loadavg_before": [round(x, 2) for x in load_before],
        "machine": f"{platform.system()} {platform.release()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    emit(result, args.json)


if __name__ == "__main__":
    main()
