"""Benchmark: price crossing → closing order at the simulator, with 1,000+ open groups (run as
a script; not collected by pytest).

    .venv/bin/python tests/perf/bench_tick_to_close.py [--groups 1100] [--samples 200]
                                [--monitor-ms 25] [--workers 2] [--json out.json]

Starts the real stack (`tests/stack.py`: gunicorn+gevent web, RQ worker pool, scheduler, price
monitor) and the exchange simulator against a fresh PostgreSQL database and a Redis database of
its own. One trader (aggregate take-profit at 1 %, a one-leg market grid, 1,000 groups of
capital) opens `--groups` long BTCUSDT groups through webhooks, each filled at its own price
(66,000 − 5 × i: falling, so no trigger is crossed while they open), so every group's
trigger — its fill × 1.01 rounded up to the tick — is its own. Then, for each sample, the
price is set (`POST /__sim/price`) exactly onto the lowest trigger not yet crossed: one group
crosses while all the others stay open. The latency is the simulator's
`received_at` of that group's closing market order minus the wall clock just before the price
was set (same machine, same clock). A random pause of up to one monitor period between samples
spreads the crossings over the monitor's polling phase.

Reported: p50 / p90 / p99 / max in ms, with the machine and the date. The path measured: the
monitor's batched ticker read and index lookup → an RQ job → the close routine (cancel nothing,
one market sell). Client, stack, PostgreSQL, Redis and the simulator share the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sys
import time
from decimal import ROUND_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from server.domain.grid import parse_client_order_id  # noqa: E402
from tests.perf.bench_webhooks import machine  # noqa: E402
from tests.perf.common import ONE_LEG_SETTINGS, pct, register_trader  # noqa: E402
from tests.perf.engine_bench.launcher import start_engine  # noqa: E402

KEY, SECRET = "bench-close-key", "bench-close-secret"
TOP_PRICE = Decimal("66000")
STEP = Decimal("5")
TICK = Decimal("0.01")


def trigger_of(fill: Decimal) -> Decimal:
    """fill × 1.01 rounded UP to the tick (a long's aggregate target, SPEC §4.4)."""
    return (fill * Decimal("1.01")).quantize(TICK, rounding=ROUND_UP)


def setup_trader(base: str, groups: int) -> tuple[str, str]:
    """A trader on the one-leg settings, trading on the simulator's KEY (read when called: the
    engine bench gives each band of `groups` its own): (webhook URL, secret)."""
    _, webhook = register_trader(
        base, f"closer_{secrets.token_hex(2)}", KEY, SECRET, ONE_LEG_SETTINGS
    )
    return webhook


def _alert(secret: str, timeframe: int, price: Decimal) -> dict:
    return {
        "secret": secret,
        "signal_id": secrets.token_hex(8),
        "tv": {
            "exchange": "BINANCE",
            "symbol": "BTCUSDT",
            "timeframe": str(timeframe),
            "action": "buy",
            "market_position": "long",
            "prev_market_position": "flat",
            "entry_price": str(price),
            "order_id": "Long",
        },
        "execution_intent": {"type": "entry", "side": "long", "strategy": "grid"},
    }


def _orders_since(sim: httpx.Client, since: int) -> list[dict]:
    return sim.get("/__sim/orders", params={"api_key": KEY, "since": since}).json()["orders"]


def _purpose(row: dict) -> str | None:
    ref = parse_client_order_id(row.get("client_order_id") or "")
    return ref.purpose.value if ref else None


def open_groups(sim: httpx.Client, webhook: tuple[str, str], count: int) -> list[Decimal]:
    """Open `count` groups, each filled at its own price; returns the fill prices."""
    url, secret = webhook
    fills = []
    with httpx.Client(timeout=30) as http:
        for i in range(count):
            price = TOP_PRICE - STEP * i
            sim.post("/__sim/price", json={"symbol": "BTCUSDT", "price": str(price)})
            since = time.time_ns()
            r = http.post(url, json=_alert(secret, i + 1, price))
            assert r.status_code == 202, r.text
            deadline = time.monotonic() + 30
            while not any(_purpose(o) == "entry" for o in _orders_since(sim, since)):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"group {i}: no entry order reached the simulator")
                time.sleep(0.005)
            fills.append(price)
            if i % 100 == 99:
                print(f"  {i + 1} groups open", flush=True)
    return fills


def wait_indexed(sim: httpx.Client, expected: int, redis_url: str, prefix: str) -> None:
    """Until every group's trigger is in the index (fills are booked, the sweep re-indexed)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    key = f"{prefix}engine:tp:binance.simulated.spot:BTCUSDT:long"
    deadline = time.monotonic() + 120
    while client.zcard(key) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {client.zcard(key)} of {expected} groups indexed")
        time.sleep(0.2)


def measure(sim: httpx.Client, triggers: list[Decimal], samples: int, period_s: float) -> list:
    latencies = []
    for trigger in triggers[:samples]:
        time.sleep(random.uniform(0, period_s) + 0.05)
        t0 = time.time_ns()
        sim.post("/__sim/price", json={"symbol": "BTCUSDT", "price": str(trigger)})
        deadline = time.monotonic() + 10
        found = None
        while found is None:
            rows = [o for o in _orders_since(sim, t0) if _purpose(o) == "close"]
            if rows:
                found = rows[0]
            elif time.monotonic() > deadline:
                raise RuntimeError(f"no close reached the simulator for the crossing at {trigger}")
            else:
                time.sleep(0.01)
        latencies.append((found["received_at"] - t0) / 1e6)
    return latencies


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=1100)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--monitor-ms", type=int, default=25)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args(argv)
    if args.samples > args.groups - 1000 and args.groups >= 1000:
        print("note: fewer than 1,000 groups stay open towards the end", file=sys.stderr)

    run = start_engine(
        workers=args.workers,
        monitor_ms=args.monitor_ms,
        redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11"),
    )
    sim = run.sim()
    report = {"machine": machine(), "settings": vars(args)}
    print(json.dumps(report["machine"]), flush=True)
    try:
        sim.post(
            "/__sim/balances",
            json={"api_key": KEY, "api_secret": SECRET, "balances": {"USDT": "10000000"}},
        ).raise_for_status()
        webhook = setup_trader(run.base_url, args.groups)
        started = time.monotonic()
        fills = open_groups(sim, webhook, args.groups)
        report["open_seconds"] = round(time.monotonic() - started, 1)
        wait_indexed(sim, args.groups, run.redis_url, run.prefix)
        triggers = sorted(trigger_of(f) for f in fills)
        latencies = measure(sim, triggers, args.samples, args.monitor_ms / 1000)
        report["tick_to_close_ms"] = {
            "samples": len(latencies),
            "open_groups_at_start": args.groups,
            "p50": round(pct(latencies, 0.50), 2),
            "p90": round(pct(latencies, 0.90), 2),
            "p99": round(pct(latencies, 0.99), 2),
            "max": round(max(latencies), 2),
        }
        print(json.dumps(report["tick_to_close_ms"]), flush=True)
    finally:
        run.close(keep_logs=args.keep_logs)
        if args.keep_logs:
            print(f"logs in {run.tmp}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
