"""Benchmark of one risk evaluation over 5,000 open groups (run as a script; not collected).

    .venv/bin/python tests/perf/bench_risk.py [--groups 5000] [--rounds 30] [--json out.json]
                                               [--no-freeze] [--profile]

Two figures, p50/p95/max in milliseconds over `--rounds` evaluations:

- `decision`: `domain.risk.evaluate` alone over 5,000 `GroupView`s (wall clock; `decision_cpu`:
  the CPU time the process spent, which other load hardly moves) — timers, eligibility, the
  loser's ranking, the winners and their rounded quantities) — the target (< 50 ms);
- `evaluation`: what one scheduled evaluation of a user costs before it acts —
  `services.risk._decide`: one statement reads every group's timer counts and the figures
  of the groups that can change the choice (their fixed facts and the market rules come
  from the process's caches, filled by the first evaluation: `first_evaluation`), the
  timers are checked, then the decision on those groups;
- `evaluation_every_group_matters`: the same when every group can change the choice — the
  threshold moved past every group's loss (+100 %, beyond what settings accept) and no
  wait, so all 5,000 are past their timer and at or below it (as in a market falling
  together): the upper bound of `evaluation`;
- `panel_read`: `services.risk._evaluate`, the risk panel's read (`GET /api/risk`): all
  5,000 groups' changing columns and the decision over all;
- `run`: `services.risk.run` as the scheduler calls it, with the user's trading paused (so
  the plan is decided and the timers kept, but nothing is sent), including its
  `risk.updated` event serialised to JSON as Socket.IO would (`run_event_bytes`: its size;
  `run_sql_statements`: the statements of one run).

Nothing that changes between evaluations is cached, so a book whose prices move every
second (as the price monitor writes them) costs what this unchanging one does.

The groups are one trader's, on 7 symbols (real Binance spot rules from
/work/shared/data), 1–5 pyramids, losses and profits between −9 % and +6 %, timers started
between 0 and 3 hours ago; about one in seven is past its timer and below −5 %, so the
ranking and the winner selection both have real work. PostgreSQL and Redis share the
machine with other test runs; the load average is printed with the result, and so are the
figures other load moves less: CPU time of the process (`*_cpu_ms`), SQL statements and
rows per evaluation, and the objects one evaluation leaves alive (`gc`-tracked containers
and allocated memory blocks, measured with the collector off).

Before timing, the heap is frozen the way a worker freezes it after start-up
(`server.heap.freeze_startup_heap`); `--no-freeze` measures without it. Full
(generation-2) collections are timed with `gc.callbacks` (`gc_full_passes_ms`).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.perf.common import emit, host, load_1m_before_after, throwaway_engine  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
SYMBOLS = {  # symbol: a price near its 2024 level
    "BTCUSDT": "60000",
    "ETHUSDT": "2500",
    "SOLUSDT": "140",
    "BNBUSDT": "550",
    "LTCUSDT": "65",
    "XRPUSDT": "0.55",
    "ADAUSDT": "0.35",
}


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": round(ordered[len(ordered) // 2], 2),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
        "p99": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
        "max": round(ordered[-1], 2),
    }


def _figures(rng: random.Random, symbol: str) -> dict:
    price = Decimal(SYMBOLS[symbol])
    pct = Decimal(rng.randint(-900, 600)) / 100
    invested = Decimal(rng.randint(100, 1000))
    qty = (invested / price).quantize(Decimal("0.001"))
    usd = (invested * pct / 100).quantize(Decimal("0.00000001"))
    now_price = price * (1 + pct / 100)
    return {
        "weighted_avg_entry": price,
        "last_price": now_price.quantize(Decimal("0.00000001")),
        "total_filled_quantity": qty,
        "total_invested_usd": invested,
        "unrealized_pnl_usd": usd,
        "unrealized_pnl_percent": pct,
    }


def run(args) -> dict:
    from server import create_app, events, runtime
    from server.clock import utcnow
    from server.domain import risk as domain
    from server.domain.enums import Role
    from server.domain.precision import rules_from_binance_symbol
    from server.persistence.db import db
    from server.persistence.migrate import upgrade
    from server.persistence.models import PositionGroup
    from server.services import engine_state
    from server.services import risk as service
    from server.services.users import create_user
    from server.state import precision_cache
    from tests.signal_support import make_account

    app = create_app("test")
    upgrade(db.obj)
    rng = random.Random(7)
    info = json.loads((Path("/work/shared/data") / "binance_exchangeInfo.json").read_text())
    rules = [rules_from_binance_symbol(s) for s in info["symbols"] if s["symbol"] in SYMBOLS]
    with app.app_context():
        precision_cache.put_many(runtime.redis_client(), app.config["RQ_QUEUE_PREFIX"],
                                 "binance.simulated", "spot", rules, None)  # fmt: skip
        user = create_user("bench@example.com", "bench", "Bench-Passw0rd", Role.TRADER)
        account = make_account(app, user)
        now = utcnow()
        rows = []
        for i in range(args.groups):
            symbol = list(SYMBOLS)[i % len(SYMBOLS)]
            pyramids = rng.randint(1, 5)
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "user": user.id,
                    "account": account.id,
                    "exchange": "binance",
                    "symbol": symbol,
                    "timeframe": 5 * (1 + i // len(SYMBOLS)),
                    "side": "long",
                    "status": "active",
                    "pyramid_count": pyramids,
                    "max_pyramids": 5,
                    "total_dca_legs": pyramids * 5,
                    "filled_dca_legs": pyramids * 5,
                    "risk_timer_started_at": now - timedelta(minutes=rng.randint(0, 180)),
                    "created_at": now - timedelta(minutes=rng.randint(60, 6000)),
                    **_figures(rng, symbol),
                }
            )
        with db.atomic():
            for start in range(0, len(rows), 500):
                PositionGroup.insert_many(rows[start : start + 500]).execute()
        del rows  # the seed is not part of a worker's heap
        settings = service.settings_of(user)
        t0, c0 = time.perf_counter(), time.process_time()
        decided = service._decide(user, now)[1]  # warm-up (and a sanity check below)
        first = {
            "wall_ms": round((time.perf_counter() - t0) * 1000, 2),
            "cpu_ms": round((time.process_time() - c0) * 1000, 2),
        }
        group_views = [
            service.view_of(g, 0, (Decimal("0.001"), Decimal("0.001")))
            for g in PositionGroup.select().where(PositionGroup.user == user.id)
        ]
        full = service._evaluate(user, now)[2]  # the panel's warm-up, and its plan
        assert (full.loser, full.winners) == (decided.loser, decided.winners), "plans differ"
        statements = _count_statements(db.obj)
        before = statements[0]
        service._decide(user, now)
        per_evaluation = statements[0] - before
        before = statements[0]
        rows = len(service._evaluate(user, now)[0])
        per_panel = statements[0] - before
        kept = {
            "decision": _kept(lambda: domain.evaluate(group_views, settings, now)),
            "evaluation": _kept(lambda: service._decide(user, now)),
            "panel_read": _kept(lambda: service._evaluate(user, now)),
        }
        # past every group's loss (not a valid setting: the bound) and no wait
        everything = replace(settings, loss_threshold_percent=Decimal("100"),
                             post_full_wait_minutes=0)  # fmt: skip
        frozen = 0
        if not args.no_freeze:
            from server.heap import freeze_startup_heap

            frozen = freeze_startup_heap()
        heap = len(gc.get_objects())
        times: dict[str, list[float]] = {}
        gc_passes: list[float] = []
        started: list[float] = []

        def watch(phase: str, info: dict) -> None:
            if info["generation"] != 2:
                return
            if phase == "start":
                started.append(time.perf_counter())
            elif started:
                gc_passes.append((time.perf_counter() - started.pop()) * 1000)

        gc.callbacks.append(watch)

        def timed(name: str, call) -> None:
            wall, cpu = times.setdefault(name, []), times.setdefault(f"{name}_cpu", [])
            t0, c0 = time.perf_counter(), time.process_time()
            call()
            wall.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)

        plan = domain.evaluate(group_views, settings, now)
        for _ in range(args.rounds):
            timed("decision", lambda: domain.evaluate(group_views, settings, now))
        if args.profile:
            import cProfile
            import pstats

            profile = cProfile.Profile()
            profile.runcall(service._decide, user, now)
            pstats.Stats(profile).sort_stats("cumtime").print_stats(25)
        for _ in range(args.rounds):  # interleaved: the same minutes for each
            timed("evaluation", lambda: service._decide(user, now))
            timed("panel_read", lambda: service._evaluate(user, now))
        real_settings_of = service.settings_of
        service.settings_of = lambda _user: everything
        try:
            chosen = service._decide(user, now)[1]
            for _ in range(args.rounds):
                timed("evaluation_every_group_matters", lambda: service._decide(user, now))
        finally:
            service.settings_of = real_settings_of
        sent = JsonEmitter()
        events.use_emitter(sent)
        engine_state.pause_user(user.id, "bench: nothing may be sent")
        service.run(user.id, "scheduled")  # the first run keeps the timers the seed lacks
        before = statements[0]
        service.run(user.id, "scheduled")
        per_run = statements[0] - before
        for _ in range(args.rounds):
            timed("run", lambda: service.run(user.id, "scheduled"))
        gc.callbacks.remove(watch)
    return {
        "groups": args.groups,
        "eligible": sum(1 for r in plan.groups if r.eligible),
        "plan": {
            "loser": bool(plan.loser),
            "winners": len(plan.winners),
            "will_act": plan.will_act,
            "reason": plan.reason,
        },
        "service_plan_acts": decided.will_act,
        "every_group_matters_plan_acts": chosen.will_act,
        **{f"{name}_ms": summary(values) for name, values in times.items()},
        "gc_full_passes_ms": [round(x, 1) for x in gc_passes],
        "first_evaluation": first,
        "evaluation_sql_statements": per_evaluation,
        "panel_read_sql_statements": per_panel,
        "run_sql_statements": per_run,
        "run_event_bytes": max(sent.sizes.get(events.Event.RISK_UPDATED.value, [0])),
        "rows": rows,
        "kept_alive_per_call": kept,
        "heap": {"frozen": frozen, "tracked_when_timing": heap},
    }


class JsonEmitter:
    """Stands in for Socket.IO's emitter: serialises each payload to JSON (what Socket.IO does
    before sending) and keeps the sizes by event name."""

    def __init__(self) -> None:
        self.sizes: dict[str, list[int]] = {}

    def emit(self, event, payload, to=None, namespace=None) -> None:
        self.sizes.setdefault(event, []).append(len(json.dumps(payload)))


def _count_statements(database) -> list[int]:
    """Count the SQL statements the database runs from now on (`[n]`, updated in place)."""
    count = [0]
    original = database.execute_sql

    def counting(sql, params=None, *args, **kwargs):
        count[0] += 1
        return original(sql, params, *args, **kwargs)

    database.execute_sql = counting
    return count


def _kept(call) -> dict:
    """What one call leaves alive while its result is held: gc-tracked containers (what a
    collection walks) and allocated memory blocks (Decimals and strings too)."""
    gc.collect()
    gc.disable()
    try:
        tracked, blocks = len(gc.get_objects()), sys.getallocatedblocks()
        result = call()
        kept = {
            "tracked_objects": len(gc.get_objects()) - tracked,
            "memory_blocks": sys.getallocatedblocks() - blocks,
        }
        del result
    finally:
        gc.enable()
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--profile", action="store_true", help="print one evaluation's profile")
    parser.add_argument("--no-freeze", action="store_true", help="do not freeze the heap first")
    args = parser.parse_args()
    with throwaway_engine("risk", REDIS_URL, "br"):
        load_before = os.getloadavg()
        result = run(args)
    result["machine"] = host() | {
        "date": date.today().isoformat(),
        "at": datetime.now(UTC).strftime("%H:%M UTC"),
        "loadavg_1m_before_after": load_1m_before_after(load_before),
    }
    emit(result, args.json)


if __name__ == "__main__":
    main()
