"""Where the time goes in the engine bench's missed targets (run as a script; not collected).

    .venv/bin/python tests/perf/profile_stack.py api     [--groups 5000] [--requests 100]
    .venv/bin/python tests/perf/profile_stack.py ingest  [--rate 2500] [--seconds 8]
    .venv/bin/python tests/perf/profile_stack.py promote [--queued 10000] [--ops 2000]

Each mode starts the engine's stack the way `make bench` does (`engine_bench.launcher`: web
under gunicorn + gevent, 4 workers, scheduler, price monitor, simulator; a fresh PostgreSQL
database) but on a private redis-server of its own, so Redis's CPU and its server-side
command timings belong to this run alone. It then runs the scenario's load and reports:

- CPU per operation of every process taking part, from /proc (utime + stime): the web
  process, the worker pool, the scheduler, the price monitor, the PostgreSQL backends of this
  run's database, the private redis-server and the load generator (this process or its
  child) — what the work costs on a 2-core machine, whatever the load average;
- `py-spy record` of the web process (and of the busiest worker, `ingest`) during a second,
  identical load, as the hottest functions by own and by inclusive samples;
- `promote`: the promotion decision's wall time split per sample into the Lua script's
  execution in Redis (SLOWLOG, microseconds), this process's CPU, its wait for a CPU
  (/proc/self/schedstat run-queue delay) and garbage collection passes — and Redis's own
  `INFO latencystats` for EVALSHA.

The load average is printed before and after; nothing is written to the repository.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.perf import bench_webhooks  # noqa: E402
from tests.perf.common import throwaway_engine  # noqa: E402
from tests.perf.engine_bench import scenarios  # noqa: E402
from tests.perf.engine_bench.launcher import pg, start_engine  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
PY_SPY = Path(sys.executable).parent / "py-spy"


# --------------------------------------------------------------------------- CPU per process


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def _pids_named(fragment: str) -> list[int]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if fragment in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                    out.append(int(proc.name))
    return out


def process_groups(run) -> dict[str, list[int]]:
    """Name → pids of each process taking part (PostgreSQL: this database's backends)."""
    procs = run.stack.processes
    tree = scenarios._tree
    backends = [
        int(r[0])
        for r in pg("SELECT pid FROM pg_stat_activity WHERE datname = %s", args=(run.db_name,))
    ]
    workers = tree(procs["worker"].pid)
    return {
        "web": tree(procs["web"].pid),
        "worker pool (parent)": workers[:1],
        "workers (children)": workers[1:],
        **{f"worker[{i}]": [pid] for i, pid in enumerate(workers[1:], 1)},
        "scheduler": tree(procs["scheduler"].pid),
        "price monitor": tree(procs["price_monitor"].pid),
        "simulator": tree(run.simulator.pid),
        "postgres (this db)": backends,
        "postgres (all)": _pids_named("postgres"),
        "redis-server (private)": [run.private_redis.proc.pid] if run.private_redis else [],
    }


def snapshot(run) -> dict[str, dict[int, float]]:
    """Process group → {pid: CPU seconds so far}; the groups are looked up again each time
    (a PostgreSQL backend opened meanwhile counts from zero)."""
    out = {name: {p: cpu_seconds(p) for p in pids} for name, pids in process_groups(run).items()}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    out["load generator"] = {0: children.ru_utime + children.ru_stime}
    out["this process"] = {0: time.process_time()}
    return out


def per_op(before: dict, after: dict, ops: int) -> dict[str, float]:
    """CPU milliseconds per operation, by process group."""
    return {
        name: round(
            sum(cpu - before.get(name, {}).get(pid, 0.0) for pid, cpu in pids.items())
            * 1000
            / max(ops, 1),
            3,
        )
        for name, pids in after.items()
    }


# --------------------------------------------------------------------------- py-spy


def py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(PY_SPY), "record", "--pid", str(pid), "--duration", str(int(seconds)),
         "--rate", "250", "--format", "raw", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def hottest(raw: Path, top: int = 18) -> dict:
    """Own and inclusive samples per function from py-spy's collapsed stacks."""
    own: Counter = Counter()
    inclusive: Counter = Counter()
    total = 0
    if not raw.exists():
        return {"samples": 0}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].split("/")[-1] + ")"
                  for f in stack.split(";") if f]  # fmt: skip
        if frames:
            own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    share = lambda c: [(f, round(100 * n / total, 1)) for f, n in c.most_common(top)]  # noqa: E731
    return {"samples": total, "own_percent": share(own), "inclusive_percent": share(inclusive)}


# --------------------------------------------------------------------------- modes


def mode_api(run, args) -> dict:
    import httpx

    auth, username = scenarios._register(run.base_url)
    scenarios.seed_groups(run.db_url, username, args.groups)
    out: dict = {}
    with httpx.Client(base_url=run.base_url, timeout=30, headers=auth) as http:
        for path in ("/api/positions", "/api/dashboard"):
            for _ in range(3):
                http.get(path).raise_for_status()
            before = snapshot(run)
            walls = []
            for _ in range(args.requests):
                t = time.perf_counter()
                http.get(path).raise_for_status()
                walls.append((time.perf_counter() - t) * 1000)
            after = snapshot(run)
            walls.sort()
            out[path] = {
                "wall_ms": {
                    "p50": round(walls[len(walls) // 2], 1),
                    "p95": round(walls[int(0.95 * len(walls))], 1),
                },
                "cpu_ms_per_request": per_op(before, after, args.requests),
            }
            raw = run.tmp / f"spy-{path.rsplit('/', 1)[1]}.txt"
            spy = py_spy(scenarios._tree(run.stack.processes["web"].pid)[-1], args.spy_seconds, raw)
            deadline = time.monotonic() + args.spy_seconds
            while time.monotonic() < deadline:
                http.get(path)
            spy.wait(timeout=60)
            out[path]["py_spy_web"] = hottest(raw)
    return out


def mode_ingest(run, args) -> dict:
    targets = bench_webhooks.setup_traders(run.base_url, 3)
    n = 20_000_000
    scenarios._load_child(targets, 50, 2, 30, n)  # warm-up
    groups = process_groups(run)
    before = snapshot(run)
    got = scenarios._load_child(targets, args.rate, args.seconds, 30, n + 100_000)
    loaded = snapshot(run)
    drained = scenarios._drain(run, 180)
    after = snapshot(run)
    accepted = got["statuses"].get("202", 0)
    out = {
        "offered_per_s": args.rate,
        "accepted": accepted,
        "accepted_per_s": round(accepted / got["wall_seconds"], 1),
        "statuses": got["statuses"],
        "workers_drained_after_s": drained,
        "cpu_ms_per_accepted_webhook": per_op(before, after, accepted),
        "cpu_ms_per_accepted_webhook_during_load": per_op(before, loaded, accepted),
        "cpu_seconds_total": per_op(before, after, 1000),
        "load_seconds": got["wall_seconds"],
    }
    # second run under py-spy: the web process and the busiest worker
    workers = groups["workers (children)"]
    raw_web, raw_worker = run.tmp / "spy-web.txt", run.tmp / "spy-worker.txt"
    spies = [py_spy(groups["web"][-1], args.seconds + 2, raw_web)]
    cpu0 = {p: cpu_seconds(p) for p in workers}
    result: dict = {}
    load = threading.Thread(
        target=lambda: result.update(
            scenarios._load_child(targets, args.rate, args.seconds, 30, n + 200_000)
        )
    )
    load.start()
    time.sleep(1)
    busiest = max(workers, key=lambda p: cpu_seconds(p) - cpu0[p]) if workers else None
    if busiest:
        spies.append(py_spy(busiest, args.seconds, raw_worker))
    load.join()
    for spy in spies:
        spy.wait(timeout=60)
    scenarios._drain(run, 180)
    out["py_spy_web"] = hottest(raw_web)
    out["py_spy_busiest_worker"] = hottest(raw_worker)
    out["accepted_per_s_under_py_spy"] = round(
        result.get("statuses", {}).get("202", 0) / max(result.get("wall_seconds", 1), 1e-9), 1
    )
    return out


def mode_promote(run, args) -> dict:
    """bench_queue's decision loop, each sample split into its parts."""
    # as the harness runs bench_queue: a database of its own, its own keys on the stack's Redis
    with throwaway_engine("profile_promote", run.redis_url, "pp"):
        return _promote(run, args)


def _promote(run, args) -> dict:
    import redis as redis_lib

    from server import create_app
    from server.domain import queue_priority as qp
    from server.domain.enums import Role
    from server.persistence.db import db
    from server.persistence.migrate import upgrade
    from server.persistence.models import ExchangeAccount
    from server.services import pool
    from server.services.users import create_user
    from server.state.pool_store import slot_value
    from tests.perf.bench_queue import seed

    if args.groups:  # what the stack's periodic jobs work on when queue_promote runs
        _auth, username = scenarios._register(run.base_url)
        scenarios.seed_groups(run.db_url, username, args.groups)
    app = create_app("test")
    upgrade(db.obj)
    client = redis_lib.Redis.from_url(run.redis_url)
    client.config_set("slowlog-log-slower-than", 0)
    client.config_set("slowlog-max-len", 100_000)
    with app.app_context():
        user = create_user(f"pp{uuid.uuid4().hex[:6]}@example.com", f"pp{uuid.uuid4().hex[:6]}",
                           "Bench-Passw0rd", Role.TRADER)  # fmt: skip
        account = ExchangeAccount.create(user=user.id, exchange="binance", market_type="spot",
                                         mode="simulated", label="pp", api_key_masked="x",
                                         api_key_enc="x", api_secret_enc="x")  # fmt: skip
        seed(user, account, args.queued)
        store = pool.store()
        for n in range(10):
            store.take(user.id, f"held-{n}", slot_value(f"held-{n}", 0), 0)
        schedstat = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat")
        gc_ms: list[float] = []
        started: list[float] = []

        def watch(phase, info):
            if phase == "start":
                started.append(time.perf_counter())
            elif started:
                gc_ms.append((time.perf_counter() - started.pop()) * 1000)

        gc.callbacks.append(watch)
        client.slowlog_reset()
        client.config_resetstat()
        samples = []
        before = snapshot(run)
        for _ in range(args.ops):
            slot = uuid.uuid4().hex
            value = slot_value(slot, 0)
            gcs = len(gc_ms)
            wait0 = int(schedstat.read_text().split()[1])
            c0, t0 = time.thread_time(), time.perf_counter()
            taken = store.take_top(user.id, slot, value, 11, qp.CONTINUATION_SCORE, False)
            wall = (time.perf_counter() - t0) * 1000
            cpu = (time.thread_time() - c0) * 1000
            wait = (int(schedstat.read_text().split()[1]) - wait0) / 1e6
            samples.append({"wall": wall, "cpu": cpu, "runq": wait, "gc": len(gc_ms) > gcs,
                            "slot": slot})  # fmt: skip
            member, score, _ = taken
            store.free_slot(user.id, slot)
            store.put(user.id, member, int(score))
        after = snapshot(run)
        gc.callbacks.remove(watch)
        latency = client.info("latencystats")
        commands = client.info("commandstats")
        # SLOWLOG: each EVALSHA of take_top carries its slot id among its arguments
        lua_us = {}
        for entry in client.slowlog_get(100_000):
            cmd = entry["command"]
            if isinstance(cmd, bytes):
                cmd = cmd.decode(errors="replace")
            if cmd.upper().startswith("EVALSHA"):
                for part in cmd.split():
                    if len(part) == 32:
                        lua_us[part] = entry["duration"]
    for s in samples:
        s["lua"] = lua_us.get(s["slot"], 0) / 1000
    samples.sort(key=lambda s: s["wall"])
    n = len(samples)

    def figures(chosen):
        k = max(len(chosen), 1)
        return {
            "n": len(chosen),
            "wall_ms_mean": round(sum(s["wall"] for s in chosen) / k, 3),
            "lua_in_redis_ms_mean": round(sum(s["lua"] for s in chosen) / k, 3),
            "client_cpu_ms_mean": round(sum(s["cpu"] for s in chosen) / k, 3),
            "run_queue_wait_ms_mean": round(sum(s["runq"] for s in chosen) / k, 3),
            "with_gc_pass": sum(1 for s in chosen if s["gc"]),
        }

    worst = samples[int(0.99 * n) :]
    return {
        "ops": n,
        "decision_ms": {
            "p50": round(samples[n // 2]["wall"], 3),
            "p99": round(samples[int(0.99 * n)]["wall"], 3),
            "max": round(samples[-1]["wall"], 3),
        },
        "all_samples": figures(samples),
        "slowest_1_percent": figures(worst),
        "slowest_1_percent_each": [
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in s.items() if k != "slot"}
            for s in worst[-10:]
        ],
        "gc_passes_ms": [round(x, 2) for x in gc_ms],
        "redis_latencystats": {
            k: v for k, v in latency.items() if "evalsha" in k or "zadd" in k or "hdel" in k
        },
        "redis_commandstats_top": sorted(
            ((k, v["calls"], v["usec_per_call"]) for k, v in commands.items()),
            key=lambda x: -x[1] * x[2],
        )[:8],
        "cpu_ms_per_decision_loop": per_op(before, after, n),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("api", "ingest", "promote"))
    parser.add_argument("--groups", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--spy-seconds", type=float, default=8)
    parser.add_argument("--rate", type=float, default=2500)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    load_before = os.getloadavg()
    run = start_engine(workers=4, monitor_ms=25, private_redis=True)
    try:
        result = {"api": mode_api, "ingest": mode_ingest, "promote": mode_promote}[args.mode](
            run, args
        )
    finally:
        run.close()
    result["machine"] = {
        "cpus": os.cpu_count(),
        "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    text = json.dumps(result, indent=1, default=str)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    tempfile.tempdir = None
    main()
