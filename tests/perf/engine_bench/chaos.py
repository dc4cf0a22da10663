"""`make chaos`: failure drills against the engine's real stack, one at a time, each under a
continuous stream of signals and price moves and each ending with an invariant check.

    .venv/bin/python -m tests.perf.engine_bench.chaos [--quick] [--only drill,...]
        [--json chaos-results.json] [--doc docs/reliability.md | --no-doc]

The stack is tests/stack.py's (launcher.start_engine) with a private redis-server and a private
PostgreSQL cluster, each on its own port: the `redis_restart` drill kills the redis-server and
starts it again empty, the `postgres_restart` drill stops the PostgreSQL server (once cleanly,
once as a crash) and starts it again after a few seconds of refused connections. The shared
6379 and 5432 are never touched.

Every drill starts from an empty pool and queue (exit signals, then manual closes) and its
stream mixes entries and exits, so groups open and close (entry and close orders) while the
fault is on. `kill9_mid_send` is the reconciliation's drill: workers SIGKILLed while an
order's answer is withheld leave it filled at the exchange and pending in the database.

Invariants after each drill (once the stream stopped and the engine settled):
- lost: an accepted signal (202) with no recorded outcome (still `received`);
- duplicates: more than one accepted exchange order per (group, pyramid, leg, purpose), from
  the simulator's own order log (GET /__sim/orders client ids);
- fills: every simulator fill reflected in the database (dca_order.filled_quantity equals
  the simulator's executed quantity) after reconciliation; `repaired` counts the ones missing
  at a look (when the fault ended; after each kill in `kill9_mid_send`) that were in by the
  last, whoever brought them in (`kill9_mid_send` must have some; how many the
  reconciliation's own repair lines name is in the JSON);
- pool: open (slot-holding) groups never above max_open_groups (sampled every 0.25 s);
- no 5xx from the webhook endpoint while PostgreSQL and Redis are up (a Redis or PostgreSQL
  restart's down time and 3 s after it are exempt, and reported);
- the engine status (GET /api/engine) shows `degraded` while the exchange is down and comes
  back by itself;
- the drill placed at least `min_entries` entry orders (`sim_down`: tried while down).
Exit status 1 on any violation.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import redis

from server.domain.grid import parse_client_order_id
from tests.perf.bench_webhooks import tree_pids
from tests.perf.common import register_trader
from tests.perf.engine_bench import report
from tests.perf.engine_bench.launcher import ROOT, EngineRun, pg, start_engine
from tests.stack import wait_healthy

KEY, SECRET = "chaos-key", "chaos-secret"
PASSWORD = "Chaos-Passw0rd"
MAX_OPEN = 4
SYMBOLS = {"BTCUSDT": Decimal("64000"), "ETHUSDT": Decimal("2500")}
TIMEFRAMES = (1, 5, 15, 60, 240)
SLOT_HOLDING = ("live", "partially_filled", "active", "closing")

KEYS = tuple((symbol, tf) for symbol in SYMBOLS for tf in TIMEFRAMES)
EXIT_SHARE = 0.5  # half the stream closes a group (and drops its queued signal): slots turn over
# min_entries: a drill that placed fewer entry orders than this proved little (a violation).
FULL = {
    "drill_s": 30,
    "rate": 4,
    "settle_s": 90,
    "sim_down_s": 30,
    "pg_down_s": 5,
    "kill_every_s": 4,
    "recover_s": 30,
    "drain_s": 60,  # at most, emptying the pool before a drill
    "min_entries": 15,
}
QUICK = {
    "drill_s": 6,
    "rate": 3,
    "settle_s": 45,
    "sim_down_s": 12,
    "pg_down_s": 2,
    "kill_every_s": 2,
    "recover_s": 4,
    "drain_s": 10,
    "min_entries": 1,
}
REPAIR_DRILLS = ("kill9_mid_send",)  # must show fills missing at a look repaired
DRILLS = (
    "worker_kill9",
    "kill9_mid_send",
    "web_restart",
    "postgres_restart",
    "redis_restart",
    "sim_faults",
    "sim_down",
)


# --------------------------------------------------------------------------- background load


@dataclass
class Load:
    """The stream of signals and price moves, and the samplers, for one drill."""

    run: EngineRun
    webhook: tuple[str, str]
    auth: dict
    user_id: int
    rate: float
    stop: threading.Event = field(default_factory=threading.Event)
    accepted: list[str] = field(default_factory=list)
    statuses: list[tuple[float, int]] = field(default_factory=list)
    client_errors: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    pool_max: int = 0
    engine_statuses: list[tuple[float, str]] = field(default_factory=list)
    prices: dict = field(default_factory=lambda: dict(SYMBOLS))
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for target in (self._signals, self._prices, self._pool, self._engine):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self.threads.append(thread)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=40)

    def send(self, http: httpx.Client, kind: str, symbol: str, timeframe: int) -> None:
        """One webhook (`entry` or `exit` of a long), its answer recorded."""
        url, secret = self.webhook
        flat = kind == "exit"
        body = {
            "secret": secret,
            "signal_id": secrets.token_hex(8),
            "tv": {
                "exchange": "BINANCE",
                "symbol": symbol,
                "timeframe": str(timeframe),
                "action": "sell" if flat else "buy",
                "market_position": "flat" if flat else "long",
                "prev_market_position": "long" if flat else "flat",
                "entry_price": str(self.prices[symbol]),
                "order_id": "Close" if flat else "Long",
            },
            "execution_intent": {"type": kind, "side": "long", "strategy": "grid"},
        }
        try:
            r = http.post(url, json=body)
            self.statuses.append((time.monotonic(), r.status_code))
            if r.status_code == 202:
                self.accepted.append(r.json()["signal_id"])
                self.kinds[kind] += 1
        except httpx.HTTPError as exc:
            self.client_errors[type(exc).__name__] += 1

    def _signals(self) -> None:
        """Entries and exits over the trader's 10 lanes. An exit goes to a lane that had an
        entry since its last exit: it closes the lane's group (freeing its slot, so a queued
        signal is promoted) or drops its queued signal."""
        rng = random.Random()
        entered: set[tuple[str, int]] = set()
        with httpx.Client(timeout=10) as http:
            while not self.stop.is_set():
                if entered and rng.random() < EXIT_SHARE:
                    lane = rng.choice(sorted(entered))
                    entered.discard(lane)
                    self.send(http, "exit", *lane)
                else:
                    lane = rng.choice(KEYS)
                    entered.add(lane)
                    self.send(http, "entry", *lane)
                self.stop.wait(1 / self.rate)

    def _prices(self) -> None:
        rng = random.Random()
        with httpx.Client(base_url=self.run.sim_base, timeout=2) as sim:
            while not self.stop.is_set():
                for symbol, price in list(self.prices.items()):
                    step = Decimal(rng.choice((-3, -2, -1, 1, 2, 3, 4))) / 1000  # ±0.1–0.4 %
                    new = (price * (1 + step)).quantize(Decimal("0.01"))
                    with contextlib.suppress(httpx.HTTPError):
                        sim.post("/__sim/price", json={"symbol": symbol, "price": str(new)})
                        self.prices[symbol] = new
                self.stop.wait(0.5)

    def _pool(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(Exception):
                count = open_slots(self.run, self.user_id)
                self.pool_max = max(self.pool_max, count)
            self.stop.wait(0.25)

    def _engine(self) -> None:
        with httpx.Client(base_url=self.run.base_url, timeout=3, headers=self.auth) as http:
            while not self.stop.is_set():
                with contextlib.suppress(Exception):
                    status = http.get("/api/engine").json().get("status")
                    self.engine_statuses.append((time.monotonic(), status))
                self.stop.wait(1)


def open_slots(run: EngineRun, user_id: int) -> int:
    return pg(
        "SELECT count(*) FROM position_group WHERE user_id = %s AND status = ANY(%s)",
        run.db_url,
        (user_id, list(SLOT_HOLDING)),
    )[0][0]


# --------------------------------------------------------------------------- set-up


def setup_trader(run: EngineRun) -> tuple[tuple[str, str], dict, int]:
    """One trader: a simulated Binance spot account, a small pool (so signals queue and get
    promoted), a one-leg market grid and a 0.5 % aggregate take-profit (the price walk closes
    groups, freeing slots)."""
    settings = {
        "pool": {"max_open_groups": MAX_OPEN},
        "capital": {
            "total_capital_usd": "100000",
            "max_pyramids": 2,
            "pyramid_weights": ["50", "50"],
        },
        "grid": {"legs": [{"gap_percent": "0", "weight_percent": "100", "tp_percent": "0.5"}]},
        "take_profit": {"tp_mode": "aggregate", "tp_aggregate_percent": "0.5"},
        "signals": {"max_signal_age_seconds": 3600},
    }
    fund_simulator(run)
    name = f"chaos_{secrets.token_hex(2)}"
    auth, webhook = register_trader(
        run.base_url, name, KEY, SECRET, settings, label="chaos", password=PASSWORD
    )
    user_id = pg('SELECT id FROM "user" WHERE username = %s', run.db_url, (name,))[0][0]
    return webhook, auth, user_id


def fund_simulator(run: EngineRun) -> None:
    with run.sim() as sim:
        sim.post(
            "/__sim/balances",
            json={"api_key": KEY, "api_secret": SECRET, "balances": {"USDT": "100000000"}},
        ).raise_for_status()
        for symbol, price in SYMBOLS.items():
            sim.post("/__sim/price", json={"symbol": symbol, "price": str(price)})


def open_groups(run: EngineRun, user_id: int) -> list[tuple[str, str]]:
    return pg(
        "SELECT id::text, status FROM position_group WHERE user_id = %s "
        "AND status NOT IN ('closed', 'failed')",
        run.db_url,
        (user_id,),
    )


def empty_pool(run: EngineRun, load: Load, seconds: float = 60) -> dict:
    """Start a drill from an empty pool and queue: an exit signal on every lane (closes its
    group, drops its queued signal), then the manual close (POST /api/positions/<id>/close)
    of any group still holding a slot, until nothing is open or queued (or `seconds`).
    Their close orders are the drill's too (checked with the rest)."""
    before = len(open_groups(run, load.user_id))
    with httpx.Client(timeout=10) as http:
        for key in KEYS:
            load.send(http, "exit", *key)
    closed: set[str] = set()
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=run.base_url, timeout=10, headers=load.auth) as http:
        while True:
            groups = open_groups(run, load.user_id)
            queued = pg(
                "SELECT count(*) FROM queued_signal WHERE user_id = %s AND status = 'queued'",
                run.db_url,
                (load.user_id,),
            )[0][0]
            if (not groups and not queued) or time.monotonic() > deadline:
                break
            time.sleep(2)  # the exits first; a group still open after that is closed by hand
            for group_id, status in groups:
                if status in SLOT_HOLDING and status != "closing" and group_id not in closed:
                    with contextlib.suppress(httpx.HTTPError):
                        http.post(f"/api/positions/{group_id}/close")
                        closed.add(group_id)
    return {"open_before": before, "closed_by_hand": len(closed), "open_at_start": len(groups)}


# --------------------------------------------------------------------------- drills


def worker_children(run: EngineRun) -> list[int]:
    pool = run.stack.processes["worker"].pid
    return [p for p in tree_pids(pool) if p != pool]


def drill_worker_kill9(run: EngineRun, p: dict, exempt: list) -> dict:
    """SIGKILL a random worker of the pool every few seconds (the pool restarts it)."""
    killed = 0
    deadline = time.monotonic() + p["drill_s"]
    while time.monotonic() < deadline:
        time.sleep(p["kill_every_s"])
        children = worker_children(run)
        if children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(random.choice(children), signal.SIGKILL)
                killed += 1
    return {"killed": killed}


SEND_HELD_S = 1.0  # a send lock held this long: the sender waits on a withheld answer (≤ 1.5 s)
SEND_TIMEOUT_RATE = 0.5
# Rounds further apart than a dead sender's lock lives (ORDER_SEND_LOCK_MS, 9.5 s here), so
# the reconciliation pass that waits for it is not itself killed by the next round.
SEND_KILL_EVERY_S = 12


def held_send_locks(client: redis.Redis, run: EngineRun) -> set[bytes]:
    return set(client.scan_iter(match=f"{run.prefix}engine:lock:order-send:*", count=1000))


def drill_kill9_mid_send(run: EngineRun, p: dict, exempt: list) -> dict:
    """Workers SIGKILLed between an order's send and storing its answer. The simulator holds
    the answer to half the order requests for 3 s after executing them (the engine would give
    up after 1.5 s and find the order by its client id); when an order's send lock has been
    held SEND_HELD_S, every worker of the pool is SIGKILLed (rounds SEND_KILL_EVERY_S apart,
    the last one after the drill's time). The order stays `pending` in the database, filled
    at the exchange, its send lock held by the dead worker until it expires
    (ORDER_SEND_LOCK_MS): only then may a pass look it up — the reconciliation, whose pass
    waits for the lock, repairs it (`repaired`; the fill monitor may come first)."""
    client = redis.Redis.from_url(run.redis_url)
    since = time.time_ns()
    missing: set[str] = set()
    first_seen: dict[bytes, float] = {}
    acted: set[bytes] = set()
    rounds = killed = 0
    last_round = -1e9
    start = time.monotonic()
    deadline = start + p["drill_s"]
    with run.sim() as sim:
        sim.post(
            "/__sim/faults",
            json={
                "match": {"method": "POST", "path": "/api/v3/order"},
                "rate": SEND_TIMEOUT_RATE,
                "kind": "timeout",
                "ms": 3000,
            },
        ).raise_for_status()
        try:
            # Until the drill's time is up and a round fell after it (at most 20 s more), so
            # the last round's orders are still unrepaired when the fault ends (first look).
            while True:
                now = time.monotonic()
                if now > deadline and (last_round > deadline or now > deadline + 20):
                    break
                held = held_send_locks(client, run)
                for key in held - first_seen.keys():
                    first_seen[key] = now
                waiting = {k for k in held - acted if now - first_seen[k] >= SEND_HELD_S}
                if waiting and now - last_round >= SEND_KILL_EVERY_S:
                    for pid in worker_children(run):
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                            killed += 1
                    acted |= held
                    rounds += 1
                    last_round = now
                    time.sleep(1)  # a look after each round: what the database misses now
                    missing |= set(unreflected_fills(run, sim_orders(run, since)))
                time.sleep(0.05)
        finally:
            hits = sum(f["hits"] for f in sim.get("/__sim/faults").json()["faults"])
            sim.delete("/__sim/faults")
    return {"kill_rounds": rounds, "killed": killed, "orders_caught_mid_send": len(acted),
            "fault_hits": hits, "missing": missing}  # fmt: skip


def drill_web_restart(run: EngineRun, p: dict, exempt: list) -> dict:
    """kill -9 the web process mid-stream, start it again on the same port."""
    time.sleep(p["drill_s"] / 2)
    run.stack.kill("web")
    run.stack.start("web")
    wait_healthy(run.base_url, run.stack)
    time.sleep(p["drill_s"] / 2)
    return {}


def drill_postgres_restart(run: EngineRun, p: dict, exempt: list) -> dict:
    """The run's private PostgreSQL server restarted twice mid-stream, down `pg_down_s` each
    time (connections refused meanwhile): first a clean shutdown (`pg_ctl stop -m fast`, what
    a service restart does), then a crash (`-m immediate`: no shutdown checkpoint, crash
    recovery at the next start)."""
    downs = []
    for mode in ("fast", "immediate"):
        time.sleep(p["drill_s"] / 3)
        t = time.monotonic()
        run.private_postgres.stop(mode)
        time.sleep(p["pg_down_s"])
        run.private_postgres.start()
        downs.append(round(time.monotonic() - t, 1))
        exempt.append((t, time.monotonic() + 3))
    time.sleep(p["drill_s"] / 3)
    return {"restarts": ["fast", "immediate"], "down_s": downs}


def drill_redis_restart(run: EngineRun, p: dict, exempt: list) -> dict:
    """The private redis-server killed and started again with its data gone."""
    time.sleep(p["drill_s"] / 2)
    t = time.monotonic()
    run.private_redis.kill()
    time.sleep(1)
    run.private_redis.start()
    exempt.append((t, time.monotonic() + 3))
    time.sleep(p["drill_s"] / 2)
    return {}


FAULTS = (  # (match, fault): 2.5 % each, 10 % of order requests together
    ({"path": "/api/v3/"}, {"kind": "timeout", "ms": 3000}),
    ({"path": "/api/v3/"}, {"kind": "http_500"}),
    ({"path": "/api/v3/"}, {"kind": "http_429", "ms": 1000}),
    # Only an order creation is refused for funds: an exchange never answers a lookup so.
    ({"method": "POST", "path": "/api/v3/order"}, {"kind": "insufficient_funds"}),
)


def drill_sim_faults(run: EngineRun, p: dict, exempt: list) -> dict:
    """Faults on the venue's REST requests (orders, order status, balances, tickers): timeouts
    (executed, answer withheld 3 s), 500s, 429 with Retry-After — 2.5 % each of every request —
    and insufficient funds on 2.5 % of order creations."""
    with run.sim() as sim:
        for match, fault in FAULTS:
            sim.post(
                "/__sim/faults", json={"match": match, "rate": 0.025, **fault}
            ).raise_for_status()
        time.sleep(p["drill_s"])
        hits = sum(f["hits"] for f in sim.get("/__sim/faults").json()["faults"])
        sim.delete("/__sim/faults")
    return {"fault_hits": hits}


def drill_sim_down(run: EngineRun, p: dict, exempt: list) -> dict:
    """The simulator frozen (SIGSTOP: connections hang, its book stays) for `sim_down_s`,
    then `recover_s` more of the stream with the exchange back (retries, closes resumed,
    promotions). No order can reach a frozen exchange and a close waits for it too, so the
    pool fills once: the floor is an entry tried on every slot while it was down."""
    down = time.time_ns()
    os.kill(run.simulator.pid, signal.SIGSTOP)
    try:
        time.sleep(p["sim_down_s"])
    finally:
        os.kill(run.simulator.pid, signal.SIGCONT)
    up = time.time_ns()
    time.sleep(p["recover_s"])
    return {"down_s": p["sim_down_s"], "down_window": (down, up)}


def entries_tried(run: EngineRun, window: tuple[int, int]) -> int:
    """Entry orders the engine created (stored, then sent or retried) within `window` (ns)."""
    return pg(
        "SELECT count(*) FROM dca_order WHERE purpose = 'entry' AND created_at BETWEEN "
        "(to_timestamp(%s) AT TIME ZONE 'UTC') AND (to_timestamp(%s) AT TIME ZONE 'UTC')",
        run.db_url,
        (window[0] / 1e9, window[1] / 1e9),
    )[0][0]


# --------------------------------------------------------------------------- invariants


def sim_orders(run: EngineRun, since: int) -> list[dict]:
    with run.sim() as sim:
        return sim.get("/__sim/orders", params={"api_key": KEY, "since": since}).json()["orders"]


def duplicates_of(orders: list[dict]) -> list[str]:
    seen = Counter()
    for row in orders:
        ref = parse_client_order_id(row.get("client_order_id") or "")
        if ref is None or row["status"] == "REJECTED":
            continue
        seen[(str(ref.group_id), ref.pyramid_index, ref.leg_index, ref.purpose.value)] += 1
    return [f"{k[0][:8]}/{k[1]}/{k[2]}/{k[3]}×{n}" for k, n in seen.items() if n > 1]


def unreflected_fills(run: EngineRun, orders: list[dict]) -> list[str]:
    filled = {
        r["client_order_id"]: Decimal(r["executed_qty"])
        for r in orders
        if r.get("client_order_id") and Decimal(r["executed_qty"] or "0") > 0
    }
    if not filled:
        return []
    rows = pg(
        "SELECT client_order_id, filled_quantity FROM dca_order WHERE client_order_id = ANY(%s)",
        run.db_url,
        (list(filled),),
    )
    db = {cid: Decimal(q or 0) for cid, q in rows or []}
    return [cid for cid, qty in filled.items() if db.get(cid) != qty]


def unfinished(run: EngineRun, accepted: list[str]) -> list[str]:
    if not accepted:
        return []
    rows = pg(
        "SELECT id::text, status FROM signal WHERE id::text = ANY(%s)", run.db_url, (accepted,)
    )
    done = {sid for sid, status in rows or [] if status != "received"}
    return [sid for sid in accepted if sid not in done]


def settle(run: EngineRun, load: Load, seconds: float) -> None:
    """Until every accepted signal has an outcome and no order is pending (or `seconds`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pending = pg("SELECT count(*) FROM dca_order WHERE status = 'pending'", run.db_url)[0][0]
        if not unfinished(run, load.accepted) and not pending:
            return
        time.sleep(1)


def reconciliation_repairs(run: EngineRun, since_ns: int) -> set[str]:
    """Client ids of the orders the reconciliation's own log lines say it repaired."""
    rows = pg(
        "SELECT context FROM system_log WHERE message LIKE 'Reconciliation repaired%%' "
        "AND created_at >= (to_timestamp(%s) AT TIME ZONE 'UTC')",
        run.db_url,
        (since_ns / 1e9,),
    )
    contexts = [c if isinstance(c, dict) else json.loads(c) for (c,) in rows or []]
    return {c["client_order_id"] for c in contexts if c.get("client_order_id")}


def order_counts(orders: list[dict], start_ns: int, end_ns: int) -> dict:
    """Accepted exchange orders by purpose, and the entries placed while the fault was on."""
    refs = [
        (parse_client_order_id(o.get("client_order_id") or ""), o)
        for o in orders
        if o["status"] != "REJECTED"
    ]
    by_purpose = Counter(ref.purpose.value for ref, _ in refs if ref is not None)
    entries = [o for ref, o in refs if ref is not None and ref.purpose.value == "entry"]
    during = sum(1 for o in entries if start_ns <= o["received_at"] <= end_ns)
    return {"by_purpose": dict(by_purpose), "entries_during_fault": during}


def stuck_report(run: EngineRun, signal_ids: list[str]) -> dict:
    """What an unfinished signal was and which engine locks are held (why it waits)."""
    rows = pg(
        "SELECT intent, symbol, timeframe, created_at::text FROM signal WHERE id::text = ANY(%s)",
        run.db_url,
        (signal_ids,),
    )
    client = redis.Redis.from_url(run.redis_url)
    locks = Counter(
        k.decode().split("engine:lock:", 1)[1].split(":", 1)[0]
        for k in client.scan_iter(match=f"{run.prefix}engine:lock:*", count=1000)
    )
    return {"signals": [list(r) for r in rows or []][:10], "locks_held": dict(locks)}


def unreflected_report(run: EngineRun, orders: list[dict], cids: set[str]) -> list:
    """A fill missing from the database: the exchange's view beside the database's."""
    rows = pg(
        "SELECT o.client_order_id, o.status, o.filled_quantity::text, o.send_count, g.status "
        "FROM dca_order o JOIN position_group g ON g.id = o.group_id "
        "WHERE o.client_order_id = ANY(%s)",
        run.db_url,
        (sorted(cids),),
    )
    db = {r[0]: list(r[1:]) for r in rows or []}
    sim = {o["client_order_id"]: [o["status"], o["executed_qty"]] for o in orders}
    return [[cid, sim.get(cid), db.get(cid)] for cid in sorted(cids)[:10]]


def engine_status(run: EngineRun, auth: dict) -> str | None:
    with contextlib.suppress(Exception):
        return httpx.get(f"{run.base_url}/api/engine", headers=auth, timeout=5).json()["status"]
    return None


def check(name: str, run: EngineRun, load: Load, window: tuple, exempt: list, p: dict,
          info: dict, first_unreflected: set[str]) -> dict:  # fmt: skip
    """The invariants after a drill; `window`: (since, fault start, fault end) in ns;
    `first_unreflected`: the fills missing from the database when the fault ended."""
    since, fault_start, fault_end = window
    t = time.monotonic()
    settle(run, load, p["settle_s"])
    info = info | {"settle_s": round(time.monotonic() - t, 1)}
    orders = sim_orders(run, since)
    deadline = time.monotonic() + p["settle_s"]
    remaining = set(unreflected_fills(run, orders))
    while remaining and time.monotonic() < deadline:  # reconciliation runs every few seconds
        time.sleep(2)
        orders = sim_orders(run, since)
        remaining = set(unreflected_fills(run, orders))
    logged = reconciliation_repairs(run, since)
    repaired = first_unreflected - remaining
    counts = order_counts(orders, fault_start, fault_end)
    entries = counts["by_purpose"].get("entry", 0)
    violations = []
    lost = unfinished(run, load.accepted)
    if lost:
        violations.append(f"{len(lost)} accepted signals without an outcome")
    dups = duplicates_of(orders)
    if dups:
        violations.append(f"duplicate orders: {', '.join(dups[:5])}")
    if remaining:
        violations.append(f"{len(remaining)} simulator fills not in the database")
    if load.pool_max > MAX_OPEN:
        violations.append(f"pool at {load.pool_max} > {MAX_OPEN}")
    tried = entries_tried(run, info["down_window"]) if "down_window" in info else None
    # a frozen exchange lets the pool fill once (its closes wait for the exchange too)
    floor, least = (
        (entries, p["min_entries"]) if tried is None else (tried, min(p["min_entries"], MAX_OPEN))
    )
    if floor < least:
        what = "entry orders" if tried is None else "entry orders tried"
        violations.append(f"{floor} {what} < {least}: the drill proved little")
    if name in REPAIR_DRILLS and not repaired:
        violations.append("no fill missing at the first look was repaired")

    def exempted(t: float) -> bool:
        return any(a <= t <= b for a, b in exempt)

    five = [s for t, s in load.statuses if s >= 500 and not exempted(t)]
    five_exempt = [s for t, s in load.statuses if s >= 500 and exempted(t)]
    if five:
        violations.append(f"{len(five)} webhook 5xx while PostgreSQL and Redis were up")
    seen = {s for _, s in load.engine_statuses}
    status_end = engine_status(run, load.auth)
    deadline = time.monotonic() + p["settle_s"]
    while status_end == "degraded" and time.monotonic() < deadline:
        time.sleep(2)
        status_end = engine_status(run, load.auth)
    if name == "sim_down" and "degraded" not in seen:
        violations.append(f"engine status never degraded while the exchange was down ({seen})")
    if status_end != "running":
        violations.append(f"engine status {status_end!r} after the drill (not recovered)")
    notes = [
        f"{entries} entry orders ({counts['entries_during_fault']} while the fault was on), "
        f"{counts['by_purpose'].get('close', 0)} closes"
    ]
    if tried is not None:
        notes.append(f"{tried} entry orders tried while the exchange was down")
    return {
        "drill": name,
        "signals": len(load.accepted),
        "orders": sum(1 for o in orders if o["status"] != "REJECTED"),
        "duplicates": len(dups),
        "lost": len(lost) + len(remaining),
        "repaired": len(repaired),
        "ok": not violations,
        "violations": violations,
        "notes": notes,
        "detail": info
        | {
            "signals_by_kind": dict(load.kinds),
            "orders_by_purpose": counts["by_purpose"],
            "entries_during_fault": counts["entries_during_fault"],
            "missing_at_first_look": len(first_unreflected),
            "unfinished": stuck_report(run, lost) if lost else None,
            "unreflected": unreflected_report(run, orders, remaining) if remaining else None,
            "reconciliation_repair_lines": len(logged),
            "repaired_by_reconciliation": len(repaired & logged),
            "webhook_statuses": dict(Counter(s for _, s in load.statuses)),
            "webhook_5xx_exempt": len(five_exempt),
            "client_errors": dict(load.client_errors),
            "pool_max": load.pool_max,
            "engine_statuses_seen": sorted(s for s in seen if s),
            "engine_status_end": status_end,
        },
    }


def run_drill(name: str, run: EngineRun, trader, p: dict) -> dict:
    """Empty the pool, start the stream, run the fault, stop the stream, check."""
    webhook, auth, user_id = trader
    load = Load(run, webhook, auth, user_id, p["rate"])
    since = time.time_ns()
    t = time.monotonic()
    start = empty_pool(run, load, p["drain_s"]) | {"empty_pool_s": 0.0}
    start["empty_pool_s"] = round(time.monotonic() - t, 1)
    exempt: list = []
    load.start()
    fault_start = time.time_ns()
    try:
        info = start | globals()[f"drill_{name}"](run, p, exempt)
        fault_end = time.time_ns()
        first_unreflected = set(unreflected_fills(run, sim_orders(run, since)))
        first_unreflected |= info.pop("missing", set())  # looks the drill took itself
        time.sleep(1)
    finally:
        load.finish()
    window = (since, fault_start, fault_end)
    return check(name, run, load, window, exempt, p, info, first_unreflected)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated drill names")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--json", default=str(ROOT / "chaos-results.json"))
    parser.add_argument("--doc", default=str(ROOT / "docs" / "reliability.md"))
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args(argv)
    p = QUICK if args.quick else FULL
    only = [d for d in args.only.split(",") if d] or list(DRILLS)
    results = {
        "machine": report.machine(),
        "mode": "quick" if args.quick else "full",
        "settings": p,
        "drills": [],
    }
    run = start_engine(
        workers=args.workers,
        private_redis=True,
        private_postgres=True,
        # Reconciliation every 5 s and a 1.5 s exchange timeout, so a drill's repairs and the
        # breaker (5 consecutive failures) happen within the drill's minute, not after it.
        # The fill monitor every 10 s (2 s by default): it repairs what a dead sender left as
        # well, and at 2 s it beats the reconciliation to most of kill9_mid_send's orders.
        extra_env={
            "RECONCILE_SEC": "5",
            "FILL_MONITOR_SEC": "10",
            "ORDER_RESEND_AFTER_SEC": "5",
            "EXCHANGE_TIMEOUT_MS": "1500",
        },
    )
    failed = False
    try:
        trader = setup_trader(run)
        for name in only:
            print(f"[chaos] {name} …", flush=True)
            try:
                result = run_drill(name, run, trader, p)
            except Exception as exc:  # the drill itself broke: a failure, the rest still run
                result = {
                    "drill": name,
                    "signals": 0,
                    "orders": 0,
                    "duplicates": 0,
                    "lost": 0,
                    "repaired": 0,
                    "ok": False,
                    "violations": [f"drill error {type(exc).__name__}: {exc}"[:300]],
                }
            results["drills"].append(result)
            failed |= not result["ok"]
            print(f"[chaos]   {json.dumps(result, default=str)}", flush=True)
    finally:
        if args.keep_logs:
            print(f"logs in {run.tmp}")
        run.close(keep_logs=args.keep_logs)
    Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    table = report.chaos_table(results)
    print(table)
    if not args.no_doc:
        report.write_between_markers(Path(args.doc), "engine-chaos", table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
