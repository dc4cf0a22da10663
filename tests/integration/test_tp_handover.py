"""The price monitor hands a crossed group to the workers once, until its evaluation reports
back — on the real stack (web, workers, price monitor, PostgreSQL, Redis, the simulator).

Found by `make bench`: a price move crossed ~4,000 groups' take-profit triggers while the
workers were behind, and the monitor re-sent every crossing every 2 s, so the `orders` queue
grew by thousands of duplicate evaluations a second (118,000 queued after a minute) and
starved everything else on it. Now a group stays handed over until its evaluation ends
(`TriggerIndex.evaluated`), then for `RECROSS_AFTER_MS` if its trigger did not move.

Numbers: one market leg at 64,250.5 per group, aggregate take-profit 1 % → target
64,250.5 × 1.01 = 64,893.005 → 64,893.01 (up to the tick); 65,000 crosses it.
"""

from __future__ import annotations

import time
from collections import Counter

import redis
from rq import Queue

from server.domain.grid import parse_client_order_id
from server.queues import ORDERS
from server.services.position_book import index
from server.state.tp_index import RECROSS_AFTER_MS
from tests.conftest import TEST_REDIS
from tests.lifecycle_support import make_trader, settled, sim_orders, wait_for

P = "64250.5"
SETTINGS = {
    "capital": {"max_pyramids": 1, "pyramid_weights": ["100"]},
    "grid": {"legs": [{"gap_percent": "0", "weight_percent": "100", "tp_percent": "1"}]},
    "take_profit": {"tp_mode": "aggregate", "tp_aggregate_percent": "1"},
}
TIMEFRAMES = ("5", "15", "60")


def _queued_evaluations(test_env) -> Counter:
    """Group id → take-profit evaluations waiting in the stack's `orders` queue."""
    queue = Queue(
        f"{test_env['RQ_QUEUE_PREFIX']}{ORDERS}", connection=redis.Redis.from_url(TEST_REDIS)
    )
    return Counter(
        job.args[0] for job in queue.get_jobs() if job.func_name.endswith(".evaluate_take_profit")
    )


def _watched(app, ids: set[str]) -> bool:
    """Every group's target is in the trigger index (the worker indexes it after the fill,
    so a group can be `active` a moment before the monitor can see it cross)."""
    with app.app_context():
        entries = [index().get(group_id) for group_id in ids]
    return all(entry is not None and entry.trigger is not None for entry in entries)


def test_a_crossed_group_waits_in_the_queue_once(app, stack, sim, make_user, test_env, down):
    """Three groups open at 64,250.5; the workers are killed; the price jumps to 65,000,
    over all three targets. For 3 × RECROSS_AFTER_MS (the old code re-sent each crossing
    every 2 s) the queue holds exactly one evaluation per group. A worker started again
    closes each group with exactly one sell at the exchange."""
    trader = make_trader(app, stack, make_user, settings=SETTINGS)
    sim.price("BTCUSDT", P)
    for timeframe in TIMEFRAMES:
        trader.signal(entry_price=P, timeframe=timeframe)
    groups = wait_for(
        lambda: (
            len(found := trader.groups("open")) == 3
            and all(g["status"] == "active" for g in found)
            and found
        ),
        what="three active groups",
    )
    ids = {g["id"] for g in groups}
    wait_for(lambda: _watched(app, ids), what="the three targets in the trigger index")
    down()
    sim.price("BTCUSDT", "65000")
    wait_for(lambda: set(_queued_evaluations(test_env)) == ids, what="all three handed over")
    time.sleep(3 * RECROSS_AFTER_MS / 1000)
    assert _queued_evaluations(test_env) == Counter({group_id: 1 for group_id in ids})

    stack.start("worker")
    for group_id in ids:
        settled(trader, group_id, "closed")
    sells = Counter(
        str(ref.group_id)
        for row in sim_orders(sim)
        if row["side"] == "SELL"
        and row["status"] != "REJECTED"
        and (ref := parse_client_order_id(row["client_order_id"] or ""))
    )
    assert sells == Counter({group_id: 1 for group_id in ids})
