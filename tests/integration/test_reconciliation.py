"""Reconciliation (SPEC §4.6) in this process against the real PostgreSQL, Redis and exchange
simulator over ccxt (no workers): a fill the engine missed, an order sent but never stored,
an order the exchange does not know (→ `lost` after RECONCILE_LOST_AFTER = 3 passes, and
found again), an orphan, and a balance below what the groups hold.

The leg of every test is the BTCUSDT default grid's leg 1 at 64,250.5: 0.00062 at 63,929.24
(tests/integration/test_lifecycle_grid.py works those numbers from SPEC §3)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal as D

import pytest

from server.clock import utcnow
from server.domain.enums import OrderPurpose
from server.domain.grid import client_order_id
from server.exchange.types import OrderSide, OrderType
from server.persistence.models import (
    DcaOrder,
    Fill,
    PositionEvent,
    PositionGroup,
    Pyramid,
    SystemLog,
)
from server.services import orders, reconciliation
from server.services.exchanges import client_for
from tests.signal_support import make_account

P = D("64250.5")


@pytest.fixture
def book(app, make_user, sim):
    """A live group with one pyramid on the simulator's funded `test-key` (Binance spot)."""
    sim.price("BTCUSDT", P)
    user, _ = make_user("trader")
    account = make_account(app, user)
    with app.app_context():
        group = PositionGroup.create(
            user=user.id, account=account.id, exchange="binance", symbol="BTCUSDT",
            timeframe=60, side="long", status="live",
        )  # fmt: skip
        pyramid = Pyramid.create(group=group.id, index=0, entry_price=P, capital_usd=D("200"))
    return app, account, group, pyramid


def _leg(group, pyramid, leg=1, order_type="limit", price=D("63929.24"), qty=D("0.00062")):
    return orders.new_order(
        group, pyramid, leg, OrderPurpose.ENTRY, "buy", order_type, qty, price, tp_percent=D("0.5")
    )


def _age(order, seconds=30) -> None:
    """Make a pending order older than ORDER_RESEND_AFTER_SEC (2 s in the tests)."""
    when = utcnow() - timedelta(seconds=seconds)
    DcaOrder.update(created_at=when, updated_at=when).where(DcaOrder.id == order.id).execute()


def _lines(user_id, text: str) -> list[SystemLog]:
    return list(
        SystemLog.select()
        .where((SystemLog.user == user_id) & SystemLog.message.contains(text))
        .order_by(SystemLog.created_at)
    )


def test_a_fill_while_no_worker_ran_is_picked_up(book, sim):
    """Leg 1 rests at 63,929.24; the price falls to 63,900 while nothing watches: the exchange
    fills it (0.00062 at its limit, fee 0.1 % in BTC = 0.00000062). The pass sees it missing
    from the open orders, reads it, applies the fill and its trade, logs the repair, and the
    group becomes `active` (its only leg filled): avg entry 63,929.24."""
    app, account, group, pyramid = book
    with app.app_context():
        order = _leg(group, pyramid)
        assert orders.send(order.id).status == "open"
        sim.price("BTCUSDT", "63900")
        counts = reconciliation.reconcile_account(account.id, "test")
        stored = DcaOrder.get_by_id(order.id)
        fresh = PositionGroup.get_by_id(group.id)
        lines = _lines(group.user_id, "Reconciliation repaired")
    assert counts.get("repaired") == 1
    assert (stored.status, stored.filled_quantity, stored.avg_fill_price) == (
        "filled", D("0.00062"), D("63929.24"),
    )  # fmt: skip
    assert stored.fee_base == D("0.00000062")
    assert Fill.select().where(Fill.order == order.id).count() == 1
    assert (fresh.status, fresh.weighted_avg_entry) == ("active", D("63929.24"))
    assert len(lines) == 1 and "was open with 0 filled" in lines[0].message
    assert "now filled with 0.00062 filled" in lines[0].message
    assert lines[0].category == "ORDER"
    with app.app_context():  # a second pass finds nothing to repair
        again = reconciliation.reconcile_account(account.id, "test")
    assert "repaired" not in again


def test_sent_but_never_stored_is_found_and_never_sent_twice(book, sim):
    """A market leg reached the exchange (the worker died before storing the answer) and a
    limit leg was stored but never sent. Reconciliation finds the first by client id and
    applies its fill (0.00062 at 64,250.5), sends the second once; a second pass sends
    nothing: one order per client id at the exchange."""
    app, account, group, pyramid = book
    with app.app_context():
        market = _leg(group, pyramid, leg=0, order_type="market", price=P)
        limit = _leg(group, pyramid, leg=1)
        client_for(account).create_order(
            "BTCUSDT", OrderSide.BUY, OrderType.MARKET, D("0.00062"), None,
            market.client_order_id,
        )  # fmt: skip
        _age(market)
        _age(limit)
        first = reconciliation.reconcile_account(account.id, "test")
        second = reconciliation.reconcile_account(account.id, "test")
        m, lim = DcaOrder.get_by_id(market.id), DcaOrder.get_by_id(limit.id)
    assert (first.get("found"), first.get("resent")) == (1, 1)
    assert "found" not in second and "resent" not in second
    assert (m.status, m.filled_quantity, m.avg_fill_price, m.send_count) == (
        "filled", D("0.00062"), P, 0,
    )  # fmt: skip
    assert (lim.status, lim.send_count) == ("open", 1)
    for row in (m, lim):
        assert len(sim.orders(api_key="test-key", client_order_id=row.client_order_id)) == 1


def test_an_order_the_exchange_does_not_know_ends_lost_and_is_watched(book, sim, down):
    """The exchange loses its book (simulator reset): leg 1 is `open` in the database and
    unknown at the exchange. Passes 1 and 2 log "lookup n of 3"; pass 3 marks it `lost`
    (event `order_lost`, WARNING + alert); the group, with nothing working and nothing filled,
    ends `closed`. Pass 4 still asks for it. When the order turns up (the exchange lists it
    again under its client id), the next pass applies it: `open` again."""
    down()  # the session stack's fill monitor would look the order up too (its own last_error)
    app, account, group, pyramid = book
    with app.app_context():
        order = _leg(group, pyramid)
        assert orders.send(order.id).status == "open"
        group_id = group.id
        sim.reset()
        sim.balances()
        sim.price("BTCUSDT", P)
        passes = [reconciliation.reconcile_account(account.id, "test") for _ in range(3)]
        lost = DcaOrder.get_by_id(order.id)
        events = [e.kind for e in PositionEvent.select().where(PositionEvent.order == order.id)]
        misses = _lines(group.user_id, "the exchange does not know it")
        warning = _lines(group.user_id, "lost:")
        fourth = reconciliation.reconcile_account(account.id, "test")
    assert [p.get("missing", 0) for p in passes] == [1, 1, 0]
    assert passes[2].get("lost") == 1 and fourth.get("still_lost") == 1
    assert ["lookup 1 of 3" in misses[0].message, "lookup 2 of 3" in misses[1].message] == [
        True, True,
    ]  # fmt: skip
    assert lost.status == "lost" and "neither its exchange id" in lost.last_error
    assert "order_lost" in events
    assert warning[0].level == "WARNING" and warning[0].context["alert"] is True
    with app.app_context():
        client_for(account).create_order(
            "BTCUSDT", OrderSide.BUY, OrderType.LIMIT, D("0.00062"), D("63929.24"),
            order.client_order_id,
        )  # fmt: skip
        back = reconciliation.reconcile_account(account.id, "test")
        found = DcaOrder.get_by_id(order.id)
        repair = _lines(group.user_id, "found again at the exchange")
    assert back.get("repaired") == 1 and found.status == "open" and found.last_error is None
    assert len(repair) == 1
    assert PositionGroup.get_by_id(group_id).status in ("live", "closed")


def test_orphans_and_short_balances_are_reported_not_touched(book, sim):
    """An open order with an engine client id the database does not know is reported and left
    on the exchange. A group recorded as holding 0.00062 BTC (its leg filled, the coins then
    moved by hand) with an account holding 0.0001 BTC — below 0.00062 less the 0.1 % fee
    allowance and a step (0.00060938): the balance warning names both figures."""
    app, account, group, _ = book
    stranger = client_order_id(uuid.uuid4(), 0, 1, OrderPurpose.ENTRY, 0)
    with app.app_context():
        PositionGroup.update(status="active", total_filled_quantity=D("0.00062")).where(
            PositionGroup.id == group.id
        ).execute()
        client_for(account).create_order(
            "BTCUSDT", OrderSide.BUY, OrderType.LIMIT, D("0.0001"), D("60000"), stranger
        )
        sim.balances("test-key", {"BTC": "0.0001"})
        counts = reconciliation.reconcile_account(account.id, "test")
        orphan = _lines(group.user_id, stranger)
        short = _lines(group.user_id, "hold 0.00062 BTC but the exchange balance is 0.0001")
    assert counts.get("orphans") == 1 and counts.get("balance_warnings") == 1
    assert len(orphan) == 1 and orphan[0].level == "WARNING"
    assert len(short) == 1
    assert [o["status"] for o in sim.orders(api_key="test-key", client_order_id=stranger)] == [
        "NEW"
    ]
