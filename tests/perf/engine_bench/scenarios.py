"""Benchmark scenarios on one running stack (launcher.EngineRun). Each returns a list of rows
in the shape of `bench-results.json` (see `row`). They are built on the per-issue benchmark
scripts in tests/perf/ (their load generators, trader set-ups and measurements), not copies of
them; `queue_promote` and `risk_eval` run those scripts as they are (in-process against the
services, on a fresh database of their own), since they time a Lua script and a pure
evaluation rather than anything the HTTP stack adds."""

from __future__ import annotations

import json
import os
import random
import secrets
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import redis

from tests.perf import bench_risk, bench_signal_to_order, bench_tick_to_close, bench_webhooks
from tests.perf.common import register_trader
from tests.perf.engine_bench.launcher import ROOT, EngineRun, pg
from tests.sim_support import free_port
from tests.stack import web_command

PASSWORD = "Bench-Passw0rd"


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def row(
    name, unit, values, *, throughput=None, errors=0, floor=None, target=None, met=None, extra=None
) -> dict:
    """One result: latency percentiles in `unit` over `values`, the floor's p99 and the ratio
    of this p99 to it, the target and whether it was met (None: no target)."""
    out = {
        "name": name,
        "unit": unit,
        "p50": pct(values, 0.50),
        "p95": pct(values, 0.95),
        "p99": pct(values, 0.99),
        "max": round(max(values), 3) if values else None,
        "throughput": throughput,
        "n": len(values),
        "errors": errors,
        "floor": floor,
        "ratio_to_floor": None,
        "target": target,
        "met": met,
    }
    if floor and floor.get("p99") and out["p99"] is not None:
        out["ratio_to_floor"] = round(out["p99"] / floor["p99"], 2)
    if extra:
        out["extra"] = extra
    return out


def floor_of(values: list[float], throughput=None) -> dict:
    return {
        "p50": pct(values, 0.5),
        "p99": pct(values, 0.99),
        "n": len(values),
        "throughput": throughput,
    }


# --------------------------------------------------------------------------- webhook_ingest


def start_floor_app(run: EngineRun) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [*web_command(port)[:-1], "tests.perf.engine_bench.floor_app:app"]
    log = open(run.tmp / "floor_app.log", "w")  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen(
        command,
        cwd=str(ROOT),
        env=run.stack.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.post(f"{base}/webhook/x", content=b"{}", timeout=1)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("floor app did not start")


def _drain(run: EngineRun, limit_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if not bench_webhooks.signals_pending(run.db_url):
            break
        time.sleep(0.25)
    return round(time.monotonic() - started, 2)


def wait_quiet(run: EngineRun, limit_s: float = 300, steady_s: float = 2) -> float:
    """Until the previous scenario's work is done: no signal still `received` and the
    `signals` and `orders` queues empty for `steady_s` in a row (or `limit_s`). The periodic
    jobs (`monitor`, `default`) are the engine's own steady background and keep running.
    Seconds waited."""
    client = redis.Redis.from_url(run.redis_url)
    keys = [f"rq:queue:{run.prefix}{name}" for name in ("signals", "orders")]
    started = time.monotonic()
    quiet_since = None
    while time.monotonic() - started < limit_s:
        busy = sum(client.llen(k) for k in keys) or bench_webhooks.signals_pending(run.db_url)
        now = time.monotonic()
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= steady_s:
            break
        time.sleep(0.25)
    return round(time.monotonic() - started, 1)


def webhook_ingest(
    run: EngineRun, rates: list[float], saturation: float, duration: float, lanes: int = 30
) -> list[dict]:
    """Open-loop webhooks (bench_webhooks' aiohttp client, run in a child process so the load
    never shares this process's interpreter with anything else) at each fixed rate, then at
    `saturation`; the same load against the floor app right after each engine run."""
    targets = bench_webhooks.setup_traders(run.base_url, 3)
    floor_proc, floor_base = start_floor_app(run)
    floor_targets = [(f"{floor_base}/webhook/floor", "x")]
    rows, n = [], 10_000_000
    try:
        _load_child(targets, 50, min(2, duration), lanes, n)  # warm-up
        for rate in [*rates, saturation]:
            n += 100_000
            got = _load_child(targets, rate, duration, lanes, n)
            drained = _drain(run, 120)
            base = _load_child(floor_targets, rate, duration, lanes, n)
            accepted = got["statuses"].get("202", 0)
            thr = round(accepted / got["wall_seconds"], 1)
            floor_thr = round(base["statuses"].get("202", 0) / base["wall_seconds"], 1)
            saturated = rate == saturation
            p99 = pct(got["latencies_ms"], 0.99)
            if saturated:
                target, met = "≥ 1000/s accepted", thr >= 1000
            elif rate <= 100:
                target, met = "p99 < 10 ms", p99 is not None and p99 < 10
            else:
                target, met = "p99 < 25 ms", p99 is not None and p99 < 25
            bad = got["sent"] - accepted
            name = "webhook_ingest@saturation" if saturated else f"webhook_ingest@{int(rate)}/s"
            rows.append(
                row(
                    name,
                    "ms",
                    got["latencies_ms"],
                    throughput=thr,
                    errors=bad,
                    floor=floor_of(base["latencies_ms"], floor_thr),
                    target=target,
                    met=met,
                    extra={
                        "offered_per_s": rate,
                        "statuses": got["statuses"],
                        "client_errors": got["errors"],
                        "workers_drained_after_s": drained,
                    },
                )
            )
    finally:
        floor_proc.kill()
        floor_proc.wait(timeout=10)
    return rows


def _load_child(targets, rate, duration, lanes, start_n) -> dict:
    """bench_webhooks._load in a separate process (the load generator), result as JSON."""
    code = (
        "import asyncio, json, sys\n"
        "from tests.perf.bench_webhooks import _load\n"
        "a = json.loads(sys.argv[1])\n"
        "r = asyncio.run(_load([tuple(t) for t in a['targets']], a['rate'], a['duration'],"
        " a['lanes'], a['start_n']))\n"
        "r['latencies_ms'] = [x * 1000 for x in r.pop('latencies')]\n"
        "print(json.dumps(r))\n"
    )
    arg = json.dumps(
        {"targets": targets, "rate": rate, "duration": duration, "lanes": lanes, "start_n": start_n}
    )
    out = subprocess.run(
        [sys.executable, "-c", code, arg],
        cwd=str(ROOT),
        check=True,
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        timeout=duration + 120,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    got["statuses"] = {str(k): v for k, v in got["statuses"].items()}
    return got


# --------------------------------------------------------------------------- signal_to_order


def signal_to_order(run: EngineRun, rate: float, seconds: float, floor_count: int) -> list[dict]:
    """bench_signal_to_order: webhook posted → first order `received_at` at the simulator; the
    floor is ccxt `create_order` straight at the simulator at the same rate."""
    mod = bench_signal_to_order
    with run.sim() as sim:
        for key, secret in ((mod.KEY, mod.SECRET), (mod.FLOOR_KEY, mod.FLOOR_SECRET)):
            sim.post(
                "/__sim/balances",
                json={"api_key": key, "api_secret": secret, "balances": {"USDT": "100000000"}},
            )
        sim.post("/__sim/price", json={"symbol": "BTCUSDT", "price": mod.PRICE})
        webhook = mod.setup_trader(run.base_url)
        sent = mod.send_signals(webhook, rate, seconds)
        latencies = mod.wait_for_orders(sim, run.db_url, sent, timeout=60)
        stages = mod.breakdown(run.db_url, sim, sent)
        time.sleep(1)
        floor = mod.floor(run.sim_base, sim, rate, floor_count)
    expected = int(rate * seconds)
    values = list(latencies.values())
    p99 = pct(values, 0.99)
    return [
        row(
            f"signal_to_order@{int(rate)}/s",
            "ms",
            values,
            throughput=rate,
            errors=expected - len(values),
            floor=floor_of(floor),
            target="p99 < 15 ms",
            met=p99 is not None and p99 < 15 and len(values) == expected,
            extra={"stages_ms": stages},
        )
    ]


# --------------------------------------------------------------------------- tick_to_close


def tick_to_close(
    run: EngineRun, phases: list[int], samples: int, monitor_ms: int, per_user: int = 1000
) -> list[dict]:
    """bench_tick_to_close: the price is set onto one group's take-profit trigger; latency to
    its closing order at the simulator, measured with `phases` open groups in turn (e.g. 1,000
    then 5,000). max_open_groups is capped at 1,000 per user, so the groups are opened by
    several traders of `per_user` groups each, every trader's below the one before (its own
    simulator key and price band: opening a band never crosses an earlier band's triggers).
    Each measurement crosses the lowest triggers of the newest band, one at a time, while
    every other group stays open and indexed."""
    mod = bench_tick_to_close
    saved = (mod.KEY, mod.SECRET, mod.TOP_PRICE)
    rows, open_now, band = [], 0, 0
    try:
        with run.sim() as sim:
            for target in phases:
                opened, fills = 0, []
                while open_now < target:
                    count = min(per_user, target - open_now)
                    mod.KEY, mod.SECRET = f"bench-close-key-{band}", f"bench-close-secret-{band}"
                    mod.TOP_PRICE = saved[2] - mod.STEP * per_user * band - 10 * band
                    sim.post(
                        "/__sim/balances",
                        json={
                            "api_key": mod.KEY,
                            "api_secret": mod.SECRET,
                            "balances": {"USDT": "10000000"},
                        },
                    )
                    webhook = mod.setup_trader(run.base_url, count)
                    started = time.monotonic()
                    fills = mod.open_groups(sim, webhook, count)
                    print(
                        f"[bench]   band {band}: {count} groups open in "
                        f"{time.monotonic() - started:.0f} s",
                        flush=True,
                    )
                    open_now += count
                    opened += count
                    band += 1
                mod.wait_indexed(sim, open_now, run.redis_url, run.prefix)
                triggers = sorted(mod.trigger_of(f) for f in fills)
                values = mod.measure(sim, triggers, min(samples, len(triggers)), monitor_ms / 1000)
                open_now -= len(values)
                p99 = pct(values, 0.99)
                rows.append(
                    row(
                        f"tick_to_close@{target}_groups",
                        "ms",
                        values,
                        target="p99 < 100 ms" if target == 1000 else None,
                        met=(p99 is not None and p99 < 100) if target == 1000 else None,
                        extra={"monitor_ms": monitor_ms, "traders": band},
                    )
                )
    finally:
        mod.KEY, mod.SECRET, mod.TOP_PRICE = saved
    return rows


# --------------------------------------------------------------------------- scripts as they are


def _script(name: str, args: list[str], redis_url: str, tmp: Path) -> dict:
    out = tmp / f"{name}.json"
    subprocess.run(
        [sys.executable, str(ROOT / "tests" / "perf" / f"{name}.py"), *args, "--json", str(out)],
        cwd=str(ROOT),
        check=True,
        capture_output=True,
        env=os.environ | {"BENCH_REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    return json.loads(out.read_text())


def queue_promote(run: EngineRun, queued: int, ops: int) -> list[dict]:
    """bench_queue: the promotion decision (take the top queued signal and its slot in one Lua
    step) with `queued` signals queued. Not the whole slot release → first order path: that
    is a promotion job plus signal_to_order's path, timed there."""
    got = _script(
        "bench_queue",
        ["--queued", str(queued), "--ops", str(ops), "--full", "5"],
        run.redis_url,
        run.tmp,
    )
    d = got["promotion_decision_ms"]
    out = row(
        f"queue_promote@{queued}_queued",
        "ms",
        [],
        target="decision < 1 ms",
        met=d["p99"] < 1,
        extra={"enqueue_full_ms": got["enqueue_full_ms"]},
    )
    out.update({"p50": d["p50"], "p99": d["p99"], "max": d["max"], "n": d["n"]})
    return [out]


def risk_eval(run: EngineRun, groups: int, rounds: int) -> list[dict]:
    """bench_risk: one scheduled evaluation of a user with `groups` open groups (read from
    PostgreSQL, rules from Redis, the decision); floor: the pure decision
    (domain.risk.evaluate over every group) alone. `extra`: CPU time and the bound when every
    group can change the choice."""
    got = _script(
        "bench_risk", ["--groups", str(groups), "--rounds", str(rounds)], run.redis_url, run.tmp
    )
    e, d = got["evaluation_ms"], got["decision_ms"]
    out = row(
        f"risk_eval@{groups}_groups",
        "ms",
        [],
        target="p99 < 50 ms",
        met=e["p99"] < 50,
        floor={
            "p50": d["p50"],
            "p99": d["p99"],
            "n": d["n"],
            "throughput": None,
            "what": "domain.risk.evaluate alone",
        },
        extra={
            "cpu_ms": got["evaluation_cpu_ms"],
            "every_group_matters_ms": got["evaluation_every_group_matters_ms"],
        },
    )
    out.update({"p50": e["p50"], "p95": e["p95"], "p99": e["p99"], "max": e["max"], "n": e["n"]})
    out["ratio_to_floor"] = round(e["p99"] / d["p99"], 2) if d["p99"] else None
    return [out]


# --------------------------------------------------------------------------- api_read


def _register(base: str) -> tuple[dict, str]:
    """A reader with a simulated Binance spot account: (auth header, username)."""
    name = f"reader_{secrets.token_hex(3)}"
    auth, _ = register_trader(
        base, name, f"reader-key-{name}", "reader-secret", label="reader", password=PASSWORD
    )
    return auth, name


def seed_groups(db_url: str, username: str, count: int) -> None:
    """`count` active groups for one user straight into PostgreSQL through the engine's own
    model (its defaults), with bench_risk's figures: what a trader with that many open groups
    has in the database. The pool is bypassed on purpose: the per-user cap (1,000) is a
    setting, not a property of the reads measured here."""
    from server.persistence.db import db, init_db
    from server.persistence.models import PositionGroup

    user_id, account_id = pg(
        'SELECT u.id, a.id FROM "user" u JOIN exchange_account a ON a.user_id = u.id '
        "WHERE u.username = %s",
        db_url,
        (username,),
    )[0]
    rng = random.Random(7)
    symbols = list(bench_risk.SYMBOLS)
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for i in range(count):
        symbol = symbols[i % len(symbols)]
        rows.append(
            {
                "id": uuid.uuid4(),
                "user": user_id,
                "account": account_id,
                "exchange": "binance",
                "symbol": symbol,
                "timeframe": 5 * (1 + i // len(symbols)),
                "side": "long",
                "status": "active",
                "pyramid_count": 1,
                "max_pyramids": 5,
                "total_dca_legs": 5,
                "filled_dca_legs": 5,
                "created_at": now - timedelta(minutes=rng.randint(60, 6000)),
                **bench_risk._figures(rng, symbol),
            }
        )
    previous = db.obj  # the caller's database (a test session's): put back afterwards
    database = init_db(db_url)
    try:
        with db.atomic():
            for start in range(0, len(rows), 500):
                PositionGroup.insert_many(rows[start : start + 500]).execute()
    finally:
        database.close_all()
        if previous is not None:
            db.initialize(previous)


def api_read(run: EngineRun, groups: int, requests: int) -> list[dict]:
    """GET /api/positions and /api/dashboard through the web process, one trader with
    `groups` open groups; floor: GET /api/health (the same server, JSON, no user data)."""
    auth, username = _register(run.base_url)
    seed_groups(run.db_url, username, groups)
    rows = []
    with httpx.Client(base_url=run.base_url, timeout=30, headers=auth) as http:
        floor = _timed(http, "/api/health", requests)
        for path in ("/api/positions", "/api/dashboard"):
            _timed(http, path, 3)  # warm
            values, errors = _timed(http, path, requests)
            p95 = pct(values, 0.95)
            rows.append(
                row(
                    f"api_read {path}@{groups}_groups",
                    "ms",
                    values,
                    errors=errors,
                    floor=floor_of(floor[0]),
                    target="p95 < 50 ms",
                    met=p95 is not None and p95 < 50 and not errors,
                )
            )
    return rows


def _timed(http: httpx.Client, path: str, n: int) -> tuple[list[float], int]:
    values, errors = [], 0
    for _ in range(n):
        t = time.perf_counter()
        r = http.get(path)
        if r.status_code >= 400:
            errors += 1
        values.append((time.perf_counter() - t) * 1000)
    return values, errors


# --------------------------------------------------------------------------- memory


def _tree(pid: int) -> list[int]:
    return bench_webhooks.tree_pids(pid)


def peak_rss(run: EngineRun) -> list[dict]:
    """VmHWM (peak resident set) of the web process tree and of each worker process."""
    out = []

    def hwm(pid: int) -> float | None:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
        except OSError:
            return None
        return None

    web = [hwm(p) for p in _tree(run.stack.processes["web"].pid)]
    web_peak = max((x for x in web if x), default=None)
    r = row(
        "peak_rss web", "MB", [], target="< 250 MB", met=web_peak is not None and web_peak < 250
    )
    r.update({"max": web_peak, "n": len(web)})
    out.append(r)
    for i, pid in enumerate(_tree(run.stack.processes["worker"].pid)):
        r = row(f"peak_rss worker[{i}]", "MB", [])
        r.update({"max": hwm(pid), "n": 1})
        out.append(r)
    return out
