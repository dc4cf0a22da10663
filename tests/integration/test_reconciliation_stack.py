"""Reconciliation through the real stack (web, RQ worker pool, PostgreSQL, Redis, the simulator
over ccxt): the worker process is SIGKILLed — pool and workers at once — and so is the
scheduler, so that nothing but the restarted worker's start-up reconciliation can repair the
database. The scheduler is started again at the end of each test (the session's stack lives on).

Numbers: the default BTCUSDT grid at 64,250.5 (tests/integration/test_lifecycle_grid.py works
them from SPEC §3): leg 0 market 0.00062 (fee 0.1 % in BTC = 0.00000062), leg 1 limit 0.00062
at 63,929.24, legs 2–4 lower.
"""

from __future__ import annotations

import time

import redis
from rq import Queue

from server.persistence.models import DcaOrder, SystemLog
from server.queues import PRIORITY_ORDER
from tests.conftest import TEST_REDIS
from tests.lifecycle_support import D, entries, legs, make_trader, only_group, settled, wait_for

P = "64250.5"


def _repairs(user_id) -> list[str]:
    return [
        row.message
        for row in SystemLog.select().where(
            (SystemLog.user == user_id) & SystemLog.message.startswith("Reconciliation repaired")
        )
    ]


def _drop_queued_jobs(test_env) -> None:
    """Empty the stack's RQ queues: a fill-monitor pass the scheduler queued just before the
    kill would otherwise run first on restart and apply the fill itself (correct too, but then
    the start-up reconciliation, which this test is about, finds nothing to repair)."""
    connection = redis.Redis.from_url(TEST_REDIS)
    for name in PRIORITY_ORDER:
        Queue(f"{test_env['RQ_QUEUE_PREFIX']}{name}", connection=connection).empty()


def test_a_fill_while_no_worker_ran_is_picked_up_at_start_up(
    app, stack, sim, make_user, test_env, down
):
    """The grid is placed (leg 0 filled, legs 1–4 resting). Every worker and the scheduler are
    killed; the price falls to 63,900 and the exchange fills leg 1 (0.00062 at 63,929.24)
    while nothing runs. The restarted worker's start-up reconciliation applies that fill: 2 of
    5 legs filled, 0.00124 in total, average (64,250.5 + 63,929.24) / 2 = 64,089.87, and a
    "Reconciliation repaired" line names leg 1."""
    trader = make_trader(app, stack, make_user)
    sim.price("BTCUSDT", P)
    trader.signal(entry_price=P)
    group = only_group(trader)
    settled(trader, group["id"], "partially_filled", filled_dca_legs=1)
    wait_for(lambda: all(g["status"] == "open" for g in legs(trader.position(group["id"]))[1:]))
    down()
    _drop_queued_jobs(test_env)
    sim.price("BTCUSDT", "63900")
    time.sleep(1)
    leg1_id = legs(trader.position(group["id"]))[1]["client_order_id"]
    assert DcaOrder.get(DcaOrder.client_order_id == leg1_id).status == "open"  # not yet known
    stack.start("worker")
    detail = settled(trader, group["id"], "partially_filled", filled_dca_legs=2, timeout=40)
    assert D(detail["total_filled_quantity"]) == D("0.00124")
    assert D(detail["weighted_avg_entry"]) == D("64089.87")
    leg1 = legs(detail)[1]
    assert (leg1["status"], D(leg1["avg_fill_price"])) == ("filled", D("63929.24"))
    repairs = wait_for(lambda: _repairs(trader.user_id), what="the repair's log line")
    assert any(
        "pyramid 0 leg 1 was open with 0 filled" in m and "now filled with 0.00062" in m
        for m in repairs
    )
    assert len(entries(sim)) == 5


def test_killed_between_sent_and_stored_then_restarted(app, stack, sim, make_user, test_env, down):
    """The worker dies (os._exit, as SIGKILL) after leg 0 reached the exchange and filled,
    before its answer was stored; then the whole worker pool and the scheduler are SIGKILLed.
    On restart, reconciliation waits out the dead sender's lock, finds leg 0 by its client id
    and applies its fill (0.00062, fee 0.00000062 BTC) instead of buying again, and sends legs
    1–4 once each: exactly five orders at the exchange, one per client id."""
    trader = make_trader(app, stack, make_user)
    sim.price("BTCUSDT", P)
    redis.Redis.from_url(TEST_REDIS).set(
        f"{test_env['RQ_QUEUE_PREFIX']}engine:test-crash:after_send", 1
    )
    trader.signal(entry_price=P)
    group = only_group(trader)
    wait_for(lambda: len(entries(sim)) == 1, what="leg 0 at the exchange")
    down()
    time.sleep(2.5)  # the stored legs are older than ORDER_RESEND_AFTER_SEC (2 s)
    rows = DcaOrder.select().where(DcaOrder.group == group["id"])
    assert [r.status for r in rows] == ["pending"] * 5
    stack.start("worker")
    detail = settled(trader, group["id"], "partially_filled", filled_dca_legs=1, timeout=40)
    wait_for(
        lambda: all(leg["status"] != "pending" for leg in legs(trader.position(group["id"]))),
        timeout=30,
        what="every leg acknowledged",
    )
    time.sleep(2)
    sent = entries(sim)
    detail = trader.position(group["id"])
    assert sorted(r["client_order_id"] for r in sent) == sorted(
        leg["client_order_id"] for leg in legs(detail)
    )
    assert len(sent) == 5
    leg0 = legs(detail)[0]
    assert (leg0["status"], D(leg0["filled_quantity"]), D(leg0["fee_base"])) == (
        "filled",
        D("0.00062"),
        D("0.00000062"),
    )
    assert any("found at the exchange under its client order id" in m for m in _repairs(
        trader.user_id
    ))  # fmt: skip
