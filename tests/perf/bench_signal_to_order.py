"""Benchmark: TradingView webhook sent → first order at the exchange (run as a script; not
collected by pytest).

    .venv/bin/python tests/perf/bench_signal_to_order.py [--rate 50] [--seconds 20]
                                [--workers 2] [--floor 200] [--json out.json]

Starts the exchange simulator and the real stack (`tests/stack.py`: gunicorn+gevent web, RQ
worker pool, scheduler, price monitor) against a fresh PostgreSQL database and the Redis
database in BENCH_REDIS_URL (default 12). One trader with a simulated Binance spot account, a
one-leg market grid and the aggregate take-profit (watched, nothing resting: Binance refuses a
201st open order per symbol, MAX_NUM_ORDERS, which 1,000 five-leg groups would pass).
Webhooks are sent open-loop at `--rate` per second for `--seconds` from a pool of client
threads, each a new group (its own timeframe: a lane of its own, as different strategies
are). The latency of a signal is the simulator's `received_at` of its group's first order
(the earliest order whose client id carries the group) minus the wall clock just before the
webhook was posted — same machine, same clock. The signal → group mapping, and the stage
breakdown (`breakdown`), are read from PostgreSQL afterwards.

The floor, in the same run: `--floor` market orders sent by ccxt directly to the simulator (the
engine's own ccxt configuration, no rate limiter), paced at the same rate; latency = the
order's `received_at` minus the clock just before `create_order`.

Reported: p50 / p90 / p99 / max in ms for both, with the machine, the date and the load.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")

import httpx  # noqa: E402

from server.domain.grid import parse_client_order_id  # noqa: E402
from tests.perf.bench_webhooks import machine  # noqa: E402
from tests.perf.common import ONE_LEG_SETTINGS, pct, register_trader  # noqa: E402
from tests.perf.engine_bench.launcher import pg, start_engine  # noqa: E402
from tests.simulator.ccxt_factory import make_binance_spot  # noqa: E402

KEY, SECRET = "bench-order-key", "bench-order-secret"
FLOOR_KEY, FLOOR_SECRET = "bench-floor-key", "bench-floor-secret"
PRICE = "64250.5"


def setup_trader(base: str) -> tuple[str, str]:
    """A trader on the one-leg settings, trading on the simulator's KEY: (webhook URL, secret)."""
    _, webhook = register_trader(
        base, f"orders_{secrets.token_hex(2)}", KEY, SECRET, ONE_LEG_SETTINGS
    )
    return webhook


def _alert(secret: str, timeframe: int) -> dict:
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
            "entry_price": PRICE,
            "order_id": "Long",
        },
        "execution_intent": {"type": "entry", "side": "long", "strategy": "grid"},
    }


def send_signals(webhook: tuple[str, str], rate: float, seconds: float) -> dict[str, int]:
    """Open-loop: signal i is posted at start + i / rate. Returns signal id → send time (ns)."""
    url, secret = webhook
    count = int(rate * seconds)
    sent: dict[str, int] = {}
    lock = threading.Lock()
    local = threading.local()
    start = time.monotonic() + 0.2

    def one(i: int) -> None:
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = httpx.Client(timeout=30)
        body = _alert(secret, 100 + i)
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t0 = time.time_ns()
        r = http.post(url, json=body)
        if r.status_code != 202:
            print(f"signal {i}: {r.status_code} {r.text[:200]}", file=sys.stderr)
            return
        with lock:
            sent[r.json()["signal_id"]] = t0

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, range(count)))
    return sent


def first_orders(sim: httpx.Client, key: str) -> dict[str, int]:
    """Group id → `received_at` of its earliest order at the simulator."""
    first: dict[str, int] = {}
    for row in sim.get("/__sim/orders", params={"api_key": key}).json()["orders"]:
        ref = parse_client_order_id(row.get("client_order_id") or "")
        if ref is None or row["status"] == "REJECTED":
            continue
        group = str(ref.group_id)
        first[group] = min(first.get(group, row["received_at"]), row["received_at"])
    return first


STAGES = ("intake", "queued", "decided", "sent")


def breakdown(db_url: str, sim, sent: dict[str, int]) -> dict:
    """Median and p99 ms of each stage: webhook posted → signal stored (`created_at`, the web
    process) → picked up by a worker (`processing_started_at`) → classified, group and legs
    stored (`processed_at`, just before the commit) → first order at the simulator."""
    rows = pg(
        "SELECT id::text, group_id::text, EXTRACT(EPOCH FROM created_at), "
        "EXTRACT(EPOCH FROM processing_started_at), EXTRACT(EPOCH FROM processed_at) "
        "FROM signal WHERE group_id IS NOT NULL",
        db_url,
    )
    first = first_orders(sim, KEY)
    stages: dict[str, list[float]] = {name: [] for name in STAGES}
    for sid, gid, created, started, processed in rows or []:
        if sid not in sent or gid not in first:
            continue
        marks = [sent[sid] / 1e9, float(created), float(started), float(processed)]
        marks.append(first[gid] / 1e9)
        for name, a, b in zip(STAGES, marks, marks[1:], strict=False):
            stages[name].append((b - a) * 1000)
    return {
        name: {"p50": round(pct(v, 0.5), 2), "p99": round(pct(v, 0.99), 2)}
        for name, v in stages.items()
    }


def signal_groups(db_url: str, ids: list[str]) -> dict[str, str]:
    rows = pg("SELECT id::text, group_id::text FROM signal WHERE group_id IS NOT NULL", db_url)
    wanted = set(ids)
    return {sid: gid for sid, gid in rows or [] if sid in wanted}


def wait_for_orders(sim, db_url, sent, timeout=60.0) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        groups = signal_groups(db_url, list(sent))
        first = first_orders(sim, KEY)
        done = {sid: (first[g] - sent[sid]) / 1e6 for sid, g in groups.items() if g in first}
        if len(done) == len(sent) or time.monotonic() > deadline:
            return done
        time.sleep(0.5)


def floor(sim_base: str, sim: httpx.Client, rate: float, count: int) -> list[float]:
    """ccxt → simulator directly: one market order at a time, paced at `rate`."""
    exchange = make_binance_spot(sim_base, FLOOR_KEY, FLOOR_SECRET)
    exchange.load_markets()
    sent = {}
    start = time.monotonic()
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        cid = f"floor{secrets.token_hex(6)}"
        sent[cid] = time.time_ns()
        exchange.create_order("BTC/USDT", "market", "buy", 0.0002, None, {"clientOrderId": cid})
    rows = sim.get("/__sim/orders", params={"api_key": FLOOR_KEY}).json()["orders"]
    return [(r["received_at"] - sent[r["client_order_id"]]) / 1e6 for r in rows if r[
        "client_order_id"] in sent]  # fmt: skip


def summary(values: list[float]) -> dict:
    return {
        "samples": len(values),
        "p50": round(pct(values, 0.50), 2),
        "p90": round(pct(values, 0.90), 2),
        "p99": round(pct(values, 0.99), 2),
        "max": round(max(values), 2) if values else None,
    }


def job_times(log: Path) -> dict:
    """CPU and wall ms per job kind from the workers' `job <name>: cpu X ms, wall Y ms` lines
    (`workers.bootstrap.job`, JOB_TIMING=1): count, mean and p50/p99 of CPU, mean wall."""
    times: dict[str, list[tuple[float, float]]] = {}
    if not log.exists():
        return {}
    for line in log.read_text(errors="replace").splitlines():
        if " job " not in line or ": cpu " not in line:
            continue
        name = line.split(" job ", 1)[1].split(":", 1)[0]
        cpu = float(line.split(": cpu ", 1)[1].split(" ms", 1)[0])
        wall = float(line.split(", wall ", 1)[1].split(" ms", 1)[0])
        times.setdefault(name, []).append((cpu, wall))
    out = {}
    for name, rows in sorted(times.items()):
        cpus = [c for c, _ in rows]
        out[name] = {
            "jobs": len(rows),
            "cpu_mean": round(sum(cpus) / len(cpus), 2),
            "cpu_p50": pct(cpus, 0.5),
            "cpu_p99": pct(cpus, 0.99),
            "wall_mean": round(sum(w for _, w in rows) / len(rows), 2),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--floor", type=int, default=200)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args(argv)

    # The engine's own price-monitor period (the bench never moves a price); JOB_TIMING=1 for
    # the workers' per-job CPU lines.
    run = start_engine(
        workers=args.workers,
        monitor_ms=None,
        extra_env={"JOB_TIMING": "1"},
        redis_url=os.environ["BENCH_REDIS_URL"],
    )
    sim_base, sim = run.sim_base, run.sim()
    report = {"machine": machine(), "settings": vars(args)}
    print(json.dumps(report["machine"]), flush=True)
    try:
        for key, secret in ((KEY, SECRET), (FLOOR_KEY, FLOOR_SECRET)):
            sim.post(
                "/__sim/balances",
                json={"api_key": key, "api_secret": secret, "balances": {"USDT": "100000000"}},
            ).raise_for_status()
        sim.post("/__sim/price", json={"symbol": "BTCUSDT", "price": PRICE}).raise_for_status()
        webhook = setup_trader(run.base_url)
        sent = send_signals(webhook, args.rate, args.seconds)
        latencies = wait_for_orders(sim, run.db_url, sent)
        report["signal_to_first_order_ms"] = summary(list(latencies.values())) | {
            "signals": len(sent),
            "rate_per_s": args.rate,
        }
        print(json.dumps(report["signal_to_first_order_ms"]), flush=True)
        report["stages_ms"] = breakdown(run.db_url, sim, sent)
        print(json.dumps(report["stages_ms"]), flush=True)
        time.sleep(2)  # let the last grids finish before the floor shares the simulator
        report["floor_ccxt_to_simulator_ms"] = summary(floor(sim_base, sim, args.rate, args.floor))
        print(json.dumps(report["floor_ccxt_to_simulator_ms"]), flush=True)
        report["loadavg_at_end"] = os.getloadavg()
    finally:
        run.stack.stop()
        report["worker_cpu_ms_per_job"] = job_times(run.tmp / "worker.log")
        print(json.dumps(report["worker_cpu_ms_per_job"]), flush=True)
        run.close(keep_logs=args.keep_logs)
        if args.keep_logs:
            print(f"logs in {run.tmp}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
