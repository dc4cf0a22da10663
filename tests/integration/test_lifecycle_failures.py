"""Failures of SPEC §4.6 and crash safety through the real stack (web, RQ worker pool,
scheduler with the fill monitor, PostgreSQL, Redis, the simulator over ccxt).

The test environment (tests/conftest.py) re-sends pending orders after 2 s, frees a dead
sender's order lock after 4 s, and lets a test arm the crash points of `services.orders`
(`after_store`: the legs are committed, nothing sent; `after_send`: leg 0 reached the exchange,
its answer was not stored). An armed point makes the worker that reaches it `os._exit(137)`
once — a SIGKILL as far as the engine can tell; the worker pool starts a fresh worker.
"""

from __future__ import annotations

import time

import httpx
import redis

from server.domain.enums import OrderPurpose
from server.persistence.models import DcaOrder, SystemLog
from server.services import engine_state
from tests.conftest import TEST_REDIS
from tests.lifecycle_support import (
    D,
    _purpose,
    entries,
    legs,
    make_trader,
    only_group,
    settled,
    sim_orders,
    wait_for,
)

P = "64250.5"


def test_insufficient_funds_on_the_third_leg(app, stack, sim, make_user):
    """The key holds 100 USDT: leg 0 (market, 39.83531 USDT) and leg 1 (limit locking
    0.00062 × 63,929.24 = 39.6361288) fit, leaving 20.5285612; leg 2 needs 39.4369538 →
    insufficient funds: leg 2 `failed`, a high-priority alert, the group sends no more orders
    (legs 3 and 4 are withdrawn unsent) — and the legs already placed are still managed: at
    63,900 leg 1 fills and the group, with nothing working, is `active`. A later entry adds
    no pyramid."""
    sim.balances("poor-key", {"USDT": "100"}, "poor-secret")
    trader = make_trader(app, stack, make_user, key="poor-key", secret="poor-secret")
    sim.price("BTCUSDT", P)
    trader.signal(entry_price=P)
    group = only_group(trader)
    detail = settled(trader, group["id"], "partially_filled", filled_dca_legs=1)
    grid = legs(detail)
    assert [leg["status"] for leg in grid] == ["filled", "open", "failed", "cancelled", "cancelled"]
    assert grid[2]["failure_reason"].startswith("insufficient funds")
    assert grid[3]["failure_reason"] == (
        "not sent: insufficient funds on pyramid 0 leg 2; no further order is sent for this "
        "group, filled legs are still managed"
    )
    assert detail["no_more_orders"] is True
    assert len(entries(sim, "poor-key")) == 2  # leg 2 was refused, legs 3 and 4 never sent
    alert = SystemLog.get(
        (SystemLog.user == trader.user_id)
        & (SystemLog.level == "ERROR")
        & SystemLog.message.contains("pyramid 0 leg 2")
    )
    assert alert.context["alert"] is True

    sim.price("BTCUSDT", "63900")
    detail = settled(trader, group["id"], "active", filled_dca_legs=2)
    assert D(detail["weighted_avg_entry"]) == D("64089.87")

    trader.signal(entry_price="63000")
    rows = wait_for(
        lambda: [
            r for r in trader.get("/api/webhooks")["items"] if r["classification"] == "ignored"
        ]
    )
    assert rows[0]["reason"].startswith("pyramid refused: insufficient funds on pyramid 0 leg 2")
    assert trader.position(group["id"])["pyramid_count"] == 1


def test_invalid_key_pauses_the_user_and_nothing_is_retried(app, stack, sim, make_user):
    """A key the exchange refuses: leg 0 stays `pending` (sent once, refused), the user's
    trading is paused with engine status `error: invalid API credentials`, the other legs are
    not sent, and nothing is retried — not by the fill monitor either, well past the re-send
    delay. A new entry is rejected while paused. Once the keys validate again, trading resumes
    and the monitor sends the pending legs under their client ids, each exactly once."""
    trader = make_trader(app, stack, make_user, key="unknown-key", secret="unknown-secret")
    sim.price("BTCUSDT", P)
    trader.signal(entry_price=P)
    group = only_group(trader)
    with app.app_context():
        wait_for(lambda: engine_state.pause_of(trader.user_id), what="the pause")
        assert engine_state.status_text(trader.user_id) == "error: invalid API credentials"
    time.sleep(6)  # three re-send delays and monitor passes
    rows = list(DcaOrder.select().where(DcaOrder.group == group["id"]).order_by(DcaOrder.leg_index))
    assert [r.status for r in rows] == ["pending"] * 5
    assert [r.send_count for r in rows] == [1, 0, 0, 0, 0]
    assert rows[0].last_error.startswith("authentication failed")
    assert [r["status"] for r in sim_orders(sim, "unknown-key")] in ([], ["REJECTED"])

    trader.signal(entry_price=P)
    rejected = wait_for(
        lambda: [
            r for r in trader.get("/api/webhooks")["items"] if r["classification"] == "rejected"
        ]
    )
    assert rejected[0]["reason"].startswith("not traded: trading is paused")

    sim.balances("unknown-key", {"USDT": "10000"}, "unknown-secret")
    r = httpx.post(
        f"{trader.base}/api/accounts/{trader.account_id}/validate", headers=trader.headers
    )
    assert r.status_code == 200 and r.json()["valid"] is True, r.text
    with app.app_context():
        assert engine_state.pause_of(trader.user_id) is None
    settled(trader, group["id"], "partially_filled", filled_dca_legs=1)
    wait_for(lambda: len(entries(sim, "unknown-key")) == 5, what="five legs at the exchange")
    time.sleep(3)
    assert len(entries(sim, "unknown-key")) == 5


def _arm(point: str, test_env: dict) -> None:
    redis.Redis.from_url(TEST_REDIS).set(
        f"{test_env['RQ_QUEUE_PREFIX']}engine:test-crash:{point}", 1
    )


def _one_per_leg(sim, group_id: str, trader) -> dict:
    """Every leg at the exchange exactly once and every fill accounted for."""
    detail = settled(trader, group_id, "partially_filled", filled_dca_legs=1, timeout=40)
    wait_for(
        lambda: all(leg["status"] != "pending" for leg in legs(trader.position(group_id))),
        timeout=30,
        what="every leg acknowledged",
    )
    time.sleep(3)  # more monitor passes: nothing may be sent again
    sent = entries(sim)
    assert sorted(r["client_order_id"] for r in sent) == sorted(
        leg["client_order_id"] for leg in legs(trader.position(group_id))
    )
    assert len(sent) == 5
    return detail


def test_worker_killed_after_the_legs_are_stored(app, stack, sim, make_user, test_env):
    """The worker dies right after the group and its legs are committed, before any order is
    sent. The fill monitor finds the pending legs, asks the exchange for their client ids (it
    never saw them) and sends each exactly once; leg 0 fills at 64,250.5."""
    trader = make_trader(app, stack, make_user)
    sim.price("BTCUSDT", P)
    _arm("after_store", test_env)
    trader.signal(entry_price=P)
    group = only_group(trader)
    _one_per_leg(sim, group["id"], trader)
    leg0 = legs(trader.position(group["id"]))[0]
    assert (D(leg0["filled_quantity"]), D(leg0["avg_fill_price"])) == (D("0.00062"), D(P))


def test_worker_killed_between_sent_and_stored(app, stack, sim, make_user, test_env):
    """The worker dies after leg 0 (market) reached the exchange and filled, before the answer
    was stored: leg 0 is `pending` in the database but filled at the exchange. Once the dead
    sender's lock expires, the monitor looks its client id up, finds the filled order and
    applies it — with its trade and fee — instead of buying again; legs 1–4 are sent once."""
    trader = make_trader(app, stack, make_user)
    sim.price("BTCUSDT", P)
    _arm("after_send", test_env)
    trader.signal(entry_price=P)
    group = only_group(trader)
    detail = _one_per_leg(sim, group["id"], trader)
    leg0 = legs(detail)[0]
    assert leg0["status"] == "filled"
    assert (D(leg0["filled_quantity"]), D(leg0["fee_base"])) == (D("0.00062"), D("0.00000062"))
    assert D(detail["total_filled_quantity"]) == D("0.00062")


def test_worker_killed_before_the_follow_up_job(app, stack, sim, make_user, test_env):
    """The signal job sent leg 0 (market) and handed the rest to its follow-up job on the
    `orders` queue; the worker running that follow-up dies before it stored anything. Leg 0
    is `pending` in the database but filled at the exchange, legs 1–4 were never sent. The
    fill monitor (once the signal job's send lock expires) looks leg 0 up by client id and
    applies the fill, 0.00062 at 64,250.5 with a fee of 0.00000062 BTC (0.1 %), and sends legs
    1–4 once; the applied fill places leg 0's per-leg take-profit (SPEC §4.4) like any fill."""
    trader = make_trader(app, stack, make_user)
    sim.price("BTCUSDT", P)
    _arm("follow_up", test_env)
    trader.signal(entry_price=P)
    group = only_group(trader)
    detail = _one_per_leg(sim, group["id"], trader)
    leg0 = legs(detail)[0]
    assert leg0["status"] == "filled"
    assert (D(leg0["filled_quantity"]), D(leg0["fee_base"])) == (D("0.00062"), D("0.00000062"))
    wait_for(
        lambda: [
            r for r in sim_orders(sim) if _purpose(r["client_order_id"]) == OrderPurpose.TAKE_PROFIT
        ],
        timeout=30,
        what="leg 0's take-profit at the exchange",
    )
    with app.app_context():
        assert (
            not DcaOrder.select()
            .where((DcaOrder.group == group["id"]) & (DcaOrder.status == "pending"))
            .count()
        )


def test_rate_limited_creates_are_retried_under_the_same_client_id(app, stack, sim, make_user):
    """The exchange answers 429 to the first two order requests: those legs stay `pending`
    (rate limited, never re-sent blindly) and the monitor re-sends them under the same client
    order ids after the back-off; every leg reaches the exchange exactly once."""
    trader = make_trader(app, stack, make_user)
    sim.price("BTCUSDT", P)
    sim.fault("http_429", path="/api/v3/order", method="POST", count=2)
    trader.signal(entry_price=P)
    group = only_group(trader)
    _one_per_leg(sim, group["id"], trader)
    retried = [
        r for r in DcaOrder.select().where(DcaOrder.group == group["id"]) if r.send_count > 1
    ]
    assert len(retried) == 2
    refused = [r for r in sim_orders(sim) if r["status"] == "REJECTED"]
    assert len(refused) == 2  # the two 429s, then each of those legs once more, accepted
