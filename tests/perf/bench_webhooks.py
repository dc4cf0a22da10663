"""Benchmark of webhook ingestion (run as a script; not collected by pytest).

    .venv/bin/python tests/perf/bench_webhooks.py [--rates 100,500,1000] [--duration 10]
                                                  [--workers 2] [--web-workers 1]
                                                  [--lanes 30] [--json out.json]

Starts the real stack (`tests/stack.py`: gunicorn+gevent web, RQ worker pool, scheduler) and
the exchange simulator against a fresh PostgreSQL database and a Redis database of its own,
registers traders with simulated accounts, then for each rate sends TradingView-rendered
webhooks (unique bodies, `text/plain`, spread over `--lanes` position groups) open-loop for
`--duration` seconds from an asyncio client in this process, and reports:

- accepted/s (202s per second of the run) and every other status seen;
- latency p50/p95/p99/max in ms, measured from each request's *scheduled* send time (a client
  that falls behind shows as latency, not as a quietly lower rate);
- web process CPU ms per request (from /proc), the one-core ceiling that implies;
- how long the workers took to classify everything that was accepted.

Rate limits stay on (their Redis round trips are part of the path) but are set high enough not
to trip. Client, server, PostgreSQL and Redis share the machine: the numbers include that.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.perf.common import pct, register_trader  # noqa: E402
from tests.perf.engine_bench.launcher import pg, start_engine  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT")
TIMEFRAMES = ("5", "15", "60", "240", "1D")


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_pids(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid] + [p for c in children for p in tree_pids(int(c))]


def signal_tree(pid: int, signum: int) -> None:
    for each in tree_pids(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(each, signum)


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and its children (the worker pool forks its workers)."""
    total = proc_cpu_seconds(pid)
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return total + sum(tree_cpu_seconds(int(c)) for c in children)


def _named_cpu_seconds(names: tuple[str, ...]) -> float:
    """CPU of every process whose command name is one of `names` (PostgreSQL, Redis)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        if name in names or any(name.startswith(n) for n in names):
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (from /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """Where the CPU went during a run, per component, in ms per accepted signal."""

    def __init__(self, stack, simulator_pid: int) -> None:
        self.pids = {
            "web": stack.processes["web"].pid,
            "workers": stack.processes["worker"].pid,
            "scheduler": stack.processes["scheduler"].pid,
            "simulator": simulator_pid,
        }

    def read(self) -> dict[str, float]:
        out = {name: tree_cpu_seconds(pid) for name, pid in self.pids.items()}
        out["postgres"] = _named_cpu_seconds(("postgres",))
        out["redis"] = _named_cpu_seconds(("redis-server",))
        out["client"] = time.process_time()
        out["machine"] = _machine_busy_seconds()
        return out

    @staticmethod
    def split(before: dict, after: dict, accepted: int, wall: float) -> dict:
        used = {k: after[k] - before[k] for k in before}
        known = sum(v for k, v in used.items() if k != "machine")
        used["other (not this benchmark)"] = max(0.0, used["machine"] - known)
        per = {k: round(v * 1000 / max(accepted, 1), 2) for k, v in used.items()}
        per["machine_busy_cores"] = round(used["machine"] / wall, 2)
        return per


# --------------------------------------------------------------------------- setup


def setup_traders(base: str, count: int) -> list[tuple[str, str]]:
    """Register traders, give each a simulated Binance spot account; (webhook URL, secret)."""
    out = []
    for n in range(count):
        name = f"bench{n}_{secrets.token_hex(2)}"
        _, webhook = register_trader(base, name, "bench-key-" + name, "bench-secret-" + name)
        out.append(webhook)
    return out


def rendered_body(secret: str, lane: int, n: int) -> bytes:
    """A strategy alert as TradingView renders the docs/tradingview.md template."""
    symbol = SYMBOLS[lane % len(SYMBOLS)]
    timeframe = TIMEFRAMES[(lane // len(SYMBOLS)) % len(TIMEFRAMES)]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = {
        "secret": secret,
        "signal_id": f"bench-{n}",
        "tv": {
            "exchange": "BINANCE",
            "symbol": symbol,
            "timeframe": timeframe,
            "action": "buy",
            "market_position": "long",
            "prev_market_position": "flat",
            "entry_price": f"{100 + n}.5",
            "order_id": "Long 1",
            "time": now,
        },
        "execution_intent": {"type": "entry", "side": "long", "strategy": "grid"},
    }
    return json.dumps(doc).encode()


# --------------------------------------------------------------------------- load


async def _load(targets, rate: float, duration: float, lanes: int, start_n: int) -> dict:
    import aiohttp

    total = int(rate * duration)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: dict[str, int] = {}
    connector = aiohttp.TCPConnector(limit=512, force_close=False)
    headers = {"Content-Type": "text/plain"}
    loop = asyncio.get_running_loop()

    async def one(session, i: int, due: float) -> None:
        url, secret = targets[i % len(targets)]
        data = rendered_body(secret, i % lanes, start_n + i)
        try:
            async with session.post(url, data=data, headers=headers) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
        except Exception as exc:  # report, do not stop the run
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return
        latencies.append(loop.time() - due)

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        t0 = loop.time() + 0.2
        tasks = []
        sent = 0
        while sent < total:
            now = loop.time()
            due_count = min(total, int((now - t0) * rate) + 1) if now >= t0 else 0
            while sent < due_count:
                due = t0 + sent / rate
                tasks.append(asyncio.create_task(one(session, sent, due)))
                sent += 1
            await asyncio.sleep(0.001)
        send_done = loop.time()
        await asyncio.gather(*tasks)
        finished = loop.time()
    return {
        "sent": total,
        "statuses": dict(sorted(statuses.items())),
        "errors": errors,
        "latencies": latencies,
        "send_seconds": send_done - t0,
        "wall_seconds": finished - t0,
    }


def signals_pending(db_url: str) -> int:
    return pg("SELECT count(*) FROM signal WHERE status = 'received'", db_url)[0][0]


def run_rate(stack, meter, db_url, targets, rate, duration, lanes, start_n, pause=False) -> dict:
    web_pid = stack.processes["web"].pid  # gunicorn's master; its workers are children
    worker_pid = stack.processes["worker"].pid
    web_before, workers_before = tree_cpu_seconds(web_pid), tree_cpu_seconds(worker_pid)
    client_before = time.process_time()
    cpu_before = meter.read()
    if pause:  # ingestion alone: the workers catch up afterwards
        signal_tree(worker_pid, signal.SIGSTOP)
    try:
        result = asyncio.run(_load(targets, rate, duration, lanes, start_n))
    finally:
        if pause:
            signal_tree(worker_pid, signal.SIGCONT)
    client_cpu = time.process_time() - client_before
    web_cpu = tree_cpu_seconds(web_pid) - web_before
    drain_start = time.monotonic()
    while signals_pending(db_url) and time.monotonic() - drain_start < 300:
        time.sleep(0.25)
    drained = time.monotonic() - drain_start
    workers_cpu = tree_cpu_seconds(worker_pid) - workers_before
    lat_ms = [x * 1000 for x in result.pop("latencies")]
    accepted = result["statuses"].get(202, 0)
    cpu = CpuMeter.split(cpu_before, meter.read(), accepted, result["wall_seconds"] + drained)
    return {
        "target_rps": rate,
        "duration_s": duration,
        **result,
        "accepted_per_s": round(accepted / result["wall_seconds"], 1),
        "p50_ms": round(pct(lat_ms, 0.50), 2),
        "p95_ms": round(pct(lat_ms, 0.95), 2),
        "p99_ms": round(pct(lat_ms, 0.99), 2),
        "max_ms": round(max(lat_ms), 2) if lat_ms else None,
        "web_cpu_ms_per_request": round(web_cpu * 1000 / result["sent"], 3),
        "web_cpu_share_of_one_core": round(web_cpu / result["wall_seconds"], 2),
        "client_cpu_share_of_one_core": round(client_cpu / result["wall_seconds"], 2),
        "workers_cpu_ms_per_signal": round(workers_cpu * 1000 / max(accepted, 1), 3),
        "workers_drained_after_s": round(drained, 2),
        "cpu_ms_per_accepted_signal_incl_drain": cpu,
    }


# --------------------------------------------------------------------------- main


def machine() -> dict:
    return {
        "uname": " ".join(platform.uname()),
        "nproc": os.cpu_count(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg(),  # other work on the machine skews everything
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,500,1000")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--web-workers", type=int, default=1)
    parser.add_argument("--traders", type=int, default=3)
    parser.add_argument("--lanes", type=int, default=30)
    parser.add_argument(
        "--pause-workers",
        action="store_true",
        help="SIGSTOP the worker pool during each run (ingestion alone; they drain after)",
    )
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args(argv)

    # The engine's own price-monitor period (the bench never moves a price).
    run = start_engine(
        workers=args.workers, web_workers=args.web_workers, monitor_ms=None, redis_url=REDIS_URL
    )
    report = {"machine": machine(), "settings": vars(args), "runs": []}
    print(json.dumps(report["machine"]))
    try:
        targets = setup_traders(run.base_url, args.traders)
        meter = CpuMeter(run.stack, run.simulator.pid)
        run_rate(run.stack, meter, run.db_url, targets, 50, 2, args.lanes, 10_000_000)  # warm-up
        n = 0
        for rate in [float(r) for r in args.rates.split(",")]:
            result = run_rate(
                run.stack,
                meter,
                run.db_url,
                targets,
                rate,
                args.duration,
                args.lanes,
                n,
                args.pause_workers,
            )
            n += result["sent"]
            report["runs"].append(result)
            print(json.dumps(result))
    finally:
        run.close(keep_logs=args.keep_logs)
        if args.keep_logs:
            print(f"logs in {run.tmp}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
