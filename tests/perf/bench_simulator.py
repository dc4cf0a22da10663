"""Benchmark of the exchange simulator (run as a script; not collected by pytest).

    .venv/bin/python tests/perf/bench_simulator.py [--orders 2000] [--clients 1,2,4,8]
                                                   [--duration 5] [--json out.json]

Starts `python -m server.simulator` on a free loopback port and measures:
1. ccxt `create_order` (MARKET, BTC/USDT spot, configured like the engine: rate limiter off)
   round trips from one client: p50 / p95 / p99 / max in ms;
2. the same order sent with raw httpx (keep-alive, HMAC signed by hand) — the floor that the
   simulator itself imposes, without ccxt's client-side cost;
3. orders/s with N concurrent ccxt clients, each in its own process (so client CPU does not
   share one GIL), for `--duration` seconds each; latency percentiles under that load.
Client and server share the machine, so throughput numbers include the clients' CPU.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.perf.common import pct  # noqa: E402
from tests.sim_support import free_port, start_simulator, stop  # noqa: E402
from tests.simulator.ccxt_factory import make_binance_spot  # noqa: E402

KEY, SECRET = "bench-key", "bench-secret"


def summary(lat_s: list[float]) -> dict:
    ms = [x * 1000 for x in lat_s]
    return {
        "n": len(ms),
        "p50_ms": round(pct(ms, 0.50), 3),
        "p95_ms": round(pct(ms, 0.95), 3),
        "p99_ms": round(pct(ms, 0.99), 3),
        "max_ms": round(max(ms), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


class ServerCpu:
    """CPU seconds used by the simulator process (Linux /proc), to separate server cost."""

    def __init__(self, pid: int) -> None:
        self.path = Path(f"/proc/{pid}/stat")

    def seconds(self) -> float | None:
        try:
            fields = self.path.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def measure(self, fn, *args) -> dict:
        """Run fn, add server CPU ms per order and the one-core capacity it implies."""
        before = self.seconds()
        result = fn(*args)
        after = self.seconds()
        if before is not None and after is not None and result["n"]:
            per_order = (after - before) * 1000 / result["n"]
            result["server_cpu_ms_per_order"] = round(per_order, 3)
            result["server_capacity_orders_per_s"] = round(1000 / per_order) if per_order else None
        return result


def ccxt_client(base: str):
    ex = make_binance_spot(base, KEY, SECRET)
    ex.load_markets()
    return ex


def bench_ccxt(base: str, n: int) -> dict:
    ex = ccxt_client(base)
    for _ in range(50):  # warm-up: connection, caches
        ex.create_order("BTC/USDT", "market", "buy", 0.001)
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        ex.create_order("BTC/USDT", "market", "buy", 0.001)
        lat.append(time.perf_counter() - t0)
    return summary(lat)


def bench_raw(base: str, n: int) -> dict:
    lat = []
    with httpx.Client(base_url=base, headers={"X-MBX-APIKEY": KEY}) as client:
        for i in range(n + 50):
            body = (
                "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newOrderRespType=FULL"
                f"&timestamp={int(time.time() * 1000)}"
            )
            sig = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
            t0 = time.perf_counter()
            resp = client.post(
                "/api/v3/order",
                content=f"{body}&signature={sig}",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            elapsed = time.perf_counter() - t0
            assert resp.status_code == 200, resp.text
            if i >= 50:
                lat.append(elapsed)
    return summary(lat)


def _worker(base: str, duration: float, start_at: float, out) -> None:
    ex = ccxt_client(base)
    ex.create_order("BTC/USDT", "market", "buy", 0.001)
    while time.time() < start_at:
        time.sleep(0.001)
    lat = []
    end = start_at + duration
    while time.time() < end:
        t0 = time.perf_counter()
        ex.create_order("BTC/USDT", "market", "buy", 0.001)
        lat.append(time.perf_counter() - t0)
    out.put(lat)


def bench_concurrent(base: str, clients: int, duration: float) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.time() + 3.0  # let every process import ccxt and load markets first
    procs = [
        ctx.Process(target=_worker, args=(base, duration, start_at, queue)) for _ in range(clients)
    ]
    for p in procs:
        p.start()
    lat: list[float] = []
    for _ in procs:
        lat.extend(queue.get(timeout=duration + 60))
    for p in procs:
        p.join()
    return {"clients": clients, "orders_per_s": round(len(lat) / duration, 1), **summary(lat)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--clients", default="1,2,4,8")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()

    port = free_port()
    proc = start_simulator(port)
    base = f"http://127.0.0.1:{port}"
    try:
        httpx.post(
            f"{base}/__sim/balances",
            json={"api_key": KEY, "api_secret": SECRET, "balances": {"USDT": "1000000000"}},
        )
        cpu = ServerCpu(proc.pid)
        results = {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "machine": " ".join(platform.uname()),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "ccxt_sequential": cpu.measure(bench_ccxt, base, args.orders),
            "raw_httpx_sequential": cpu.measure(bench_raw, base, args.orders),
            "concurrent": [
                cpu.measure(bench_concurrent, base, int(c), args.duration)
                for c in args.clients.split(",")
            ],
        }
    finally:
        stop(proc)
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
