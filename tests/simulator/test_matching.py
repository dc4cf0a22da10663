"""The pure matching and ledger code the paper exchange will reuse (no HTTP, no clock)."""

from __future__ import annotations

from decimal import Decimal as D
from itertools import count

from hypothesis import given
from hypothesis import strategies as st

from server.simulator.ledgers import LinearLedger, SpotLedger
from server.simulator.matching import Book, FeeSchedule, Order, chunk_qty

SPOT = FeeSchedule(D("0.001"), D("0.001"), "received")


def order(side="BUY", otype="LIMIT", qty="1", price="100", tif="GTC", oid=1, **kw) -> Order:
    return Order(
        order_id=oid,
        owner="k",
        symbol="XUSDT",
        base="X",
        quote="USDT",
        side=side,
        type=otype,
        qty=D(qty),
        price=None if price is None else D(price),
        time_in_force=tif,
        client_order_id=f"c{oid}",
        step=D("0.01"),
        created_ms=0,
        **kw,
    )


def test_marketable_limit_takes_at_last_and_market_expires_rest():
    """A marketable limit fills at the last price as taker; an unfilled market remainder expires."""
    book, ids = Book(), count(1)
    o = order(price="110")
    fills = book.place(o, D(100), 5, SPOT, D(1), ids.__next__)
    assert [(f.price, f.qty, f.is_maker, f.time_ms) for f in fills] == [(D(100), D(1), False, 5)]
    m = order(otype="MARKET", price=None, oid=2)
    book.place(m, D(100), 6, SPOT, D("0.5"), ids.__next__)
    assert (m.status, m.executed) == ("EXPIRED", D("0.5"))


def test_resting_order_fills_in_chunks_at_its_price():
    """Ratio 0.4: a resting buy fills 0.4, 0.4, 0.2 on three crossing prices, all as maker."""
    book, ids = Book(), count(1)
    o = order(price="90")
    book.place(o, D(100), 0, SPOT, D("0.4"), ids.__next__)
    assert len(book) == 1
    for expected in ("0.4", "0.8", "1.0"):
        book.on_price(D(89), 1, SPOT, D("0.4"), ids.__next__)
        assert o.executed == D(expected)
    assert o.status == "FILLED" and len(book) == 0
    assert {f.price for f in o.fills} == {D(90)} and all(f.is_maker for f in o.fills)


def test_fok_and_ioc():
    """FOK with a partial chunk expires untouched; IOC keeps its chunk and expires the rest."""
    book, ids = Book(), count(1)
    fok = order(tif="FOK", price="120")
    book.place(fok, D(100), 0, SPOT, D("0.5"), ids.__next__)
    assert (fok.status, fok.executed) == ("EXPIRED", D(0))
    ioc = order(tif="IOC", price="120", oid=2)
    book.place(ioc, D(100), 0, SPOT, D("0.5"), ids.__next__)
    assert (ioc.status, ioc.executed) == ("EXPIRED", D("0.5"))


@given(
    qty=st.integers(min_value=1, max_value=10_000).map(lambda n: D(n) / 100),
    ratio=st.sampled_from([D("0.1"), D("0.25"), D("0.5"), D("0.77"), D(1)]),
)
def test_chunks_always_complete_the_order(qty, ratio):
    """Repeated chunks are on the step, never exceed the remainder, and fill the order exactly."""
    o = order(qty=str(qty))
    events = 0
    while o.remaining > 0:
        chunk = chunk_qty(o, ratio)
        assert D(0) < chunk <= o.remaining and chunk % o.step == 0
        o.executed += chunk
        events += 1
    assert o.executed == qty and events <= 101


def test_spot_ledger_refunds_price_improvement():
    """A limit buy locks price x qty; filling below it refunds the difference; fee in base."""
    ledger, book, ids = SpotLedger(), Book(), count(1)
    ledger.set_balances("k", {"USDT": D(1000)}, 0)
    o = order(price="110")
    assert ledger.reserve(o, D(100))
    for fill in book.place(o, D(100), 0, SPOT, D(1), ids.__next__):
        ledger.settle(o, fill)
    ledger.release(o)
    assert ledger.balances("k") == {"USDT": (D(900), D(0)), "X": (D("0.999"), D(0))}


def test_linear_ledger_position_flip_and_pnl():
    """A sell larger than a long closes it with realised PnL and opens a short at the fill price."""
    prices = {"XUSDT": D(100)}
    ledger = LinearLedger(lambda s: prices[s])
    ledger.set_balances("k", {"USDT": D(1000)}, 0)
    fees = FeeSchedule(D("0.0002"), D("0.0005"), "quote")
    book, ids = Book(), count(1)
    buy = order(otype="MARKET", price=None)
    for f in book.place(buy, D(100), 0, fees, D(1), ids.__next__):
        ledger.settle(buy, f)
    sell = order(side="SELL", otype="MARKET", price=None, qty="3", oid=2)
    for f in book.place(sell, D(110), 0, fees, D(1), ids.__next__):
        ledger.settle(sell, f)
        assert f.realized_pnl == D(10)
    pos = ledger.position("k", "XUSDT")
    assert (pos.amount, pos.entry) == (D(-2), D(110))
    assert ledger.account("k").wallet["USDT"] == D(1000) + 10 - D("0.05") - D("0.165")
