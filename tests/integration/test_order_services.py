"""The order and fill services in this process against the real PostgreSQL, Redis and
exchange simulator (no workers): sending once, finding an order sent but never stored,
idempotent fills, withdrawing what never reached the exchange, and the helpers around them."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal as D

import peewee
import psycopg2
import pytest

from server.clock import utcnow
from server.domain.enums import OrderPurpose
from server.exchange.types import Fee, OrderSide, Trade
from server.persistence.db import db
from server.persistence.models import DcaOrder, Fill, Pyramid
from server.services import engine_state, fills, group_state, orders, trail
from server.services.exchanges import client_for
from server.services.precision import rules_for
from server.state.locks import Locks
from tests.conftest import ADMIN_PG
from tests.signal_support import make_account, make_group


@pytest.fixture
def book(app, make_user, sim):
    """A live group with one pyramid on the simulator's funded `test-key` (Binance spot)."""
    sim.price("BTCUSDT", "64250.5")
    user, _ = make_user("trader")
    account = make_account(app, user)
    group = make_group(app, user, account, status="live")
    with app.app_context():
        pyramid = Pyramid.create(
            group=group.id, index=0, entry_price=D("64250.5"), capital_usd=D("200")
        )
    return app, account, group, pyramid


def _leg(group, pyramid, leg=1, order_type="limit", price=D("63929.24"), qty=D("0.00062")):
    return orders.new_order(
        group, pyramid, leg, OrderPurpose.ENTRY, "buy", order_type, qty, price, tp_percent=D("0.5")
    )


def test_send_is_once_and_a_second_send_changes_nothing(book, sim):
    """A pending limit is sent under its client id and acknowledged (`open`, exchange id
    stored); sending it again sends nothing."""
    app, _, group, pyramid = book
    with app.app_context():
        order = _leg(group, pyramid)
        sent = orders.send(order.id)
        again = orders.send(order.id)
    assert (sent.status, sent.send_count) == ("open", 1)
    assert sent.exchange_order_id and again.exchange_order_id == sent.exchange_order_id
    assert len(sim.orders(api_key="test-key", client_order_id=order.client_order_id)) == 1


def test_resend_finds_an_order_sent_but_never_stored(book, sim):
    """The order reached the exchange (a worker died before storing the answer): `resend` asks
    for the client id, finds it filled and applies it — with its trade and base-asset fee —
    instead of buying a second time."""
    app, account, group, pyramid = book
    with app.app_context():
        order = _leg(group, pyramid, leg=0, order_type="market", price=D("64250.5"))
        client_for(account).create_order(
            "BTCUSDT", OrderSide.BUY, orders.OrderType.MARKET, D("0.00062"), None,
            order.client_order_id,
        )  # fmt: skip
        found = orders.resend(order.id)
    assert (found.status, found.filled_quantity, found.avg_fill_price) == (
        "filled",
        D("0.00062"),
        D("64250.5"),
    )
    assert (found.fee_base, found.fee, found.fee_currency) == (
        D("0.00000062"),
        D("0.00000062") * D("64250.5"),
        "USDT",
    )
    assert found.tp_price == D("64571.76")  # 64,250.5 × 1.005 = 64,571.7525 → up to the tick
    assert len(sim.orders(api_key="test-key", client_order_id=order.client_order_id)) == 1
    assert Fill.select().where(Fill.order == order.id).count() == 1


def _trade(trade_id, price, amount, fee, currency) -> Trade:
    return Trade(
        trade_id, "x", "BTCUSDT", OrderSide.BUY, D(price), D(amount), Fee(D(fee), currency), None
    )


def test_fills_are_keyed_by_trade_id(book):
    """Applying the same trades twice changes nothing; a fee in the base asset converts at its
    trade's price and is kept as `fee_base`; a fee in a third currency is left out and named."""
    app, account, group, pyramid = book
    trades = [
        _trade("t1", "64000", "0.0003", "0.0000003", "BTC"),
        _trade("t2", "63000", "0.0001", "0.01", "BNB"),
        _trade("t3", "62000", "0.0001", "0.05", "USDT"),
    ]
    with app.app_context():
        order = _leg(group, pyramid)
        rules = rules_for(account, "BTCUSDT")
        with db.atomic():
            first = fills.apply_fills(order, trades, rules)
            order.save()
        with db.atomic():
            second = fills.apply_fills(order, trades + trades[:1], rules)
            order.save()
        stored = DcaOrder.get_by_id(order.id)
    assert (first.new_trades, second.new_trades) == (3, 0)
    assert first.unconverted == ("BNB",)
    # (64,000 × 0.0003 + 63,000 × 0.0001 + 62,000 × 0.0001) / 0.0005 = 63,400
    assert (stored.filled_quantity, stored.avg_fill_price) == (D("0.0005"), D("63400"))
    assert stored.fee == D("0.0000003") * D("64000") + D("0.05")  # 0.0692 USDT, BNB left out
    assert stored.fee_base == D("0.0000003")
    assert Fill.select().where(Fill.order == order.id).count() == 3


def test_cancel_withdraws_a_pending_order_that_never_reached_the_exchange(book, sim):
    """A fresh pending order is withdrawn (`cancelled`, reason kept) without a call."""
    app, _, group, pyramid = book
    with app.app_context():
        order = _leg(group, pyramid)
        done = orders.cancel(order.id, "cancel signal")
    assert (done.status, done.failure_reason) == ("cancelled", "not sent: cancel signal")
    assert sim.orders(api_key="test-key") == []


def test_cancel_keeps_a_partial_fill(book, sim):
    """A resting limit half filled (partial_fill_ratio 0.5), then cancelled: `cancelled` with
    its 0.00031 kept; `sync` afterwards changes nothing."""
    app, _, group, pyramid = book
    sim.config(partial_fill_ratio="0.5")
    with app.app_context():
        order = _leg(group, pyramid)
        orders.send(order.id)
        sim.price("BTCUSDT", "63900")
        partly = orders.sync(order.id)
        cancelled = orders.cancel(order.id)
        again = orders.sync(order.id)
    assert (partly.status, partly.filled_quantity) == ("partially_filled", D("0.00031"))
    assert (cancelled.status, cancelled.filled_quantity) == ("cancelled", D("0.00031"))
    assert (again.status, again.filled_quantity) == ("cancelled", D("0.00031"))


def test_resend_timing_and_what_may_be_at_the_exchange(book):
    """A pending order is re-sent ORDER_RESEND_AFTER_SEC (2 s in tests) after it was created,
    and then with back-off; only a fresh, never-tried one may be withdrawn unasked."""
    app, _, group, pyramid = book
    with app.app_context():
        order = _leg(group, pyramid)
        now = utcnow()
        assert not orders.resend_due(order, now) and not orders.may_be_at_exchange(order, now)
        later = now + timedelta(seconds=3)
        assert orders.resend_due(order, later) and orders.may_be_at_exchange(order, later)
        order.send_count, order.last_error, order.updated_at = 3, "rate limited", now
        assert orders.may_be_at_exchange(order, now)
        assert not orders.resend_due(order, now + timedelta(seconds=3))  # 2 × 2² × ≥ 0.5
        assert orders.resend_due(order, now + timedelta(seconds=9))


def test_pause_and_resume(app, make_user):
    """A pause is stored once (the first reason wins) and lifted by resume."""
    user, _ = make_user("trader")
    with app.app_context():
        assert engine_state.pause_user(user.id, "bad keys", status=engine_state.INVALID_CREDENTIALS)
        assert not engine_state.pause_user(user.id, "another reason")
        assert engine_state.status_text(user.id) == "error: invalid API credentials"
        assert engine_state.pause_of(user.id)["reason"] == "bad keys"
        assert engine_state.resume_user(user.id, "keys validated")
        assert engine_state.status_text(user.id) == "running"


def test_locks_belong_to_their_owner(app, redis_client):
    """Only the holder releases a lock; `once` answers True the first time only."""
    locks = Locks(redis_client, "tlocks:")
    token = locks.acquire("a", 5000)
    assert token and locks.acquire("a", 5000) is None
    assert not locks.release("a", "someone-else") and locks.held("a")
    assert locks.release("a", token) and not locks.held("a")
    assert locks.once("x") and not locks.once("x")


def test_trail_words():
    """Timeframes and numbers as log lines write them."""
    assert [trail.timeframe_text(m) for m in (15, 60, 240, 1440, 10080, 43200)] == [
        "15m",
        "60m",
        "240m",
        "1D",
        "1W",
        "1M",
    ]
    assert trail.num(D("64250.50")) == "64,250.5"
    assert trail.num(D("0.00000062")) == "0.00000062"
    assert trail.usd(D("198.0521585")) == "198.05"


def test_a_partial_take_profit_lowers_what_the_group_holds(book):
    """Legs 0 (0.00062 at 64,250.5) and 1 (0.00062 at 63,929.24) filled; leg 0's TP sold
    0.0003 of it so far (partially filled, leg not `tp_hit`). The group holds leg 0's
    remaining 0.00032 at its own price plus leg 1: filled 0.00032 + 0.00062 = 0.00094,
    invested 64,250.5 × 0.00032 + 63,929.24 × 0.00062 = 20.56016 + 39.6361288 = 60.1962888,
    average 60.1962888 / 0.00094 = 64,038.605106382978723404 (18 places, half-even) — not
    the 0.00124 the two legs filled."""
    app, _, group, pyramid = book
    filled = {"status": "filled", "filled_quantity": D("0.00062")}
    with app.app_context():
        _leg(group, pyramid, leg=0, order_type="market", price=D("64250.5"))
        _leg(group, pyramid, leg=1)
        DcaOrder.update(avg_fill_price=D("64250.5"), **filled).where(
            (DcaOrder.group == group.id) & (DcaOrder.leg_index == 0)
        ).execute()
        DcaOrder.update(avg_fill_price=D("63929.24"), **filled).where(
            (DcaOrder.group == group.id) & (DcaOrder.leg_index == 1)
        ).execute()
        tp = orders.new_order(
            group, pyramid, 0, OrderPurpose.TAKE_PROFIT, "sell", "limit", D("0.00061"),
            D("64571.76"),
        )  # fmt: skip
        DcaOrder.update(
            status="partially_filled", filled_quantity=D("0.0003"), avg_fill_price=D("64571.76")
        ).where(DcaOrder.id == tp.id).execute()
        fresh = group_state.recompute(group.id)
    assert (fresh.total_filled_quantity, fresh.total_invested_usd) == (
        D("0.00094"),
        D("60.1962888"),
    )
    assert fresh.weighted_avg_entry == D("64038.605106382978723404")
    assert (fresh.filled_dca_legs, fresh.status) == (2, "active")


def _terminate(backend_pid: int) -> None:
    conn = psycopg2.connect(ADMIN_PG)
    conn.autocommit = True
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (backend_pid,))
    conn.close()


def test_an_answer_the_database_could_not_store_keeps_the_send_lock(book, sim):
    """Found by `make chaos` (postgres_restart): the exchange filled a market entry and the
    database connection was cut before its answer was stored, so the row is still `pending`
    with no trace of the send. Its send lock is left to expire like a dead sender's: a close
    meanwhile (the cancel of its working orders) leaves it pending instead of withdrawing it
    as never sent (it is younger than ORDER_RESEND_AFTER_SEC, 2 s in the tests) — which
    would lose the fill, coins bought and never sold. Once the lock has expired
    (ORDER_SEND_LOCK_MS 4 s) the cancel finds the order at the exchange, filled: 0.00062 at
    the simulator's 64,250.5, bought once."""
    app, _, group, pyramid = book
    with app.app_context():
        order = _leg(group, pyramid, leg=0, order_type="market", price=D("64250.5"))
        backend = db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
        sim.fault("latency", path="/api/v3/order", method="POST", ms=400)
        cut = threading.Timer(0.1, _terminate, args=(backend,))  # while the answer is awaited
        cut.start()
        with pytest.raises(peewee.DatabaseError):
            orders.send(order.id)
        cut.join()
        sim.post("/__sim/faults", {"clear": True})
        db.close()  # the pool drops the dead connection
        locks = Locks(orders.runtime.redis_client(), app.config["RQ_QUEUE_PREFIX"])
        assert locks.held(f"order-send:{order.id}")
        during = orders.cancel(order.id, "group closing")
        time.sleep(app.config["ORDER_SEND_LOCK_MS"] / 1000)
        after = orders.cancel(order.id, "group closing")
    assert during.status in ("pending", "filled")  # waited for the lock; never withdrawn
    assert (after.status, after.filled_quantity) == ("filled", D("0.00062"))
    assert len(sim.orders(api_key="test-key", client_order_id=order.client_order_id)) == 1
