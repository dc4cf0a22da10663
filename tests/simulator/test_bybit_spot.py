"""Bybit v5 spot through ccxt's own code (built by the engine's build_ccxt) over HTTP."""

from __future__ import annotations

import time

import ccxt
import pytest

BTC = "BTC/USDT"
ACK = {"acknowledged": True}  # ccxt's bybit fetch_order refuses to run without it


def test_load_markets_gives_real_spot_rules(sim):
    """Precision and limits come from the recorded instruments-info (PEPE min amount 280000)."""
    markets = sim.bybit_spot().markets
    assert len(markets) == 16
    pepe = markets["PEPE/USDT"]
    assert pepe["limits"]["amount"]["min"] == 280000
    assert pepe["precision"]["amount"] == 1
    assert pepe["precision"]["price"] == 1e-9
    assert pepe["limits"]["cost"]["min"] == 1
    btc = markets[BTC]
    assert btc["precision"] == {"amount": 0.000001, "price": 0.01}
    assert btc["limits"]["amount"] == {"min": 0.000048, "max": 71.73956243}
    assert btc["limits"]["cost"] == {"min": 1, "max": 4000000}
    assert btc["spot"] and btc["active"]


def test_public_market_data_follows_last_price(sim):
    """Ticker, order book, klines and time report the price set through the control API."""
    ex = sim.bybit_spot()
    sim.price("ETHUSDT", "2500.55")
    ticker = ex.fetch_ticker("ETH/USDT")
    assert ticker["last"] == ticker["bid"] == ticker["ask"] == 2500.55
    book = ex.fetch_order_book("ETH/USDT", 5)
    assert book["bids"][0][0] == book["asks"][0][0] == 2500.55
    assert book["bids"][1][0] == 2500.54 and book["asks"][1][0] == 2500.56
    assert ex.fetch_ohlcv("ETH/USDT", "1m", limit=2)[-1][4] == 2500.55
    assert len(ex.fetch_tickers()) == 16
    assert abs(ex.fetch_time() - ex.milliseconds()) < 5000


def test_default_prices_come_from_real_candles_or_the_rules(sim):
    """BTCUSDT starts at the first close of the Bybit CSV; PEPE at minOrderAmt/minOrderQty."""
    ex = sim.bybit_spot()
    assert ex.fetch_ticker(BTC)["last"] == 17205
    assert ex.fetch_ticker("PEPE/USDT")["last"] == 0.000003571


def test_limit_order_create_fetch_by_id_and_link_then_cancel(sim):
    """A resting limit order is found by orderId and by orderLinkId, listed open, cancelled."""
    ex = sim.bybit_spot()
    sim.price("BTCUSDT", 60000)
    created = ex.create_order(BTC, "limit", "buy", 0.01, 50000, {"clientOrderId": "s-1"})
    assert created["info"] == {"orderId": created["id"], "orderLinkId": "s-1"}
    assert created["status"] is None and created["amount"] is None  # Bybit's answer is terse
    order = ex.fetch_order(created["id"], BTC, ACK)
    assert order["status"] == "open" and order["clientOrderId"] == "s-1"
    assert order["amount"] == 0.01 and order["price"] == 50000 and order["remaining"] == 0.01
    by_link = ex.fetch_open_orders(BTC, params={"orderLinkId": "s-1"})
    assert [o["id"] for o in by_link] == [created["id"]]
    assert [o["id"] for o in ex.fetch_open_orders(BTC)] == [created["id"]]
    assert ex.fetch_balance()["USDT"]["used"] == 500
    cancelled = ex.cancel_order(created["id"], BTC)
    assert cancelled["id"] == created["id"] and cancelled["status"] is None
    assert ex.fetch_open_orders(BTC) == []
    assert ex.fetch_order(created["id"], BTC, ACK)["status"] == "canceled"
    assert ex.fetch_open_orders(BTC, params={"orderLinkId": "s-1"})[0]["status"] == "canceled"
    assert [o["id"] for o in ex.fetch_canceled_orders(BTC)] == [created["id"]]
    assert ex.fetch_balance()["USDT"]["free"] == 100000


def test_cancel_by_order_link_id(sim):
    """POST /v5/order/cancel also takes orderLinkId alone."""
    ex = sim.bybit_spot()
    ex.create_order(BTC, "limit", "buy", 0.01, 10000, {"clientOrderId": "s-2"})
    ex.cancel_order(None, BTC, {"orderLinkId": "s-2"})
    assert ex.fetch_open_orders(BTC, params={"orderLinkId": "s-2"})[0]["status"] == "canceled"


def test_fetch_order_without_id_sends_order_id_none(sim):
    """ccxt sends `orderId=None` for fetch_order(None, …); orderId wins, so nothing is found."""
    ex = sim.bybit_spot()
    ex.create_order(BTC, "limit", "buy", 0.01, 10000, {"clientOrderId": "s-3"})
    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order(None, BTC, {**ACK, "orderLinkId": "s-3"})
    assert "orderId=None" in ex.last_request_url


def test_market_buy_fills_at_last_price_with_fee_in_base(sim):
    """A market buy by quantity fills at the last price; the 0.1 % taker fee is paid in BTC."""
    ex = sim.bybit_spot()
    sim.price("BTCUSDT", "40000")
    created = ex.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "m-1"})
    order = ex.fetch_order(created["id"], BTC, ACK)
    assert order["status"] == "closed" and order["average"] == 40000 and order["filled"] == 0.01
    assert order["info"]["marketUnit"] == "baseCoin"
    assert order["fee"] == {"cost": 0.00001, "currency": "BTC"}
    trades = ex.fetch_order_trades(created["id"], BTC)
    assert len(trades) == 1
    assert trades[0]["fee"]["currency"] == "BTC" and trades[0]["fee"]["cost"] == 0.00001
    assert trades[0]["takerOrMaker"] == "taker" and trades[0]["price"] == 40000
    assert trades[0]["info"]["feeCurrency"] == "BTC"
    assert (
        ex.fetch_order_trades(None, BTC, params={"clientOrderId": "m-1"})[0]["id"]
        == trades[0]["id"]
    )
    assert [t["id"] for t in ex.fetch_my_trades(BTC)] == [trades[0]["id"]]
    balance = ex.fetch_balance()
    assert balance["BTC"]["free"] == 0.00999
    assert balance["USDT"]["free"] == 99600
    assert [o["id"] for o in ex.fetch_closed_orders(BTC)] == [created["id"]]


def test_market_buy_by_cost_is_sent_in_quote_units(sim):
    """With a price or `cost` ccxt sends marketUnit=quoteCoin; the quote amount is spent."""
    ex = sim.bybit_spot()
    sim.price("BTCUSDT", "40000")
    created = ex.create_market_buy_order_with_cost(BTC, 400)
    order = ex.fetch_order(created["id"], BTC, ACK)
    assert order["info"]["marketUnit"] == "quoteCoin" and order["info"]["qty"] == "400"
    assert order["cost"] == 400 and order["filled"] == 0.01  # ccxt fills amount in from filled
    with_price = ex.create_order(BTC, "market", "buy", 0.02, 40000)
    assert ex.fetch_order(with_price["id"], BTC, ACK)["filled"] == 0.02
    assert ex.fetch_balance()["USDT"]["free"] == 100000 - 400 - 800


def test_sell_fee_is_charged_in_quote(sim):
    """A market sell pays 0.1 % of the proceeds in USDT (the asset received)."""
    sim.balances(balances={"ETH": "2", "USDT": "0"})
    ex = sim.bybit_spot()
    sim.price("ETHUSDT", 2000)
    created = ex.create_order("ETH/USDT", "market", "sell", 1)
    trade = ex.fetch_order_trades(created["id"], "ETH/USDT")[0]
    assert trade["fee"]["currency"] == "USDT" and trade["fee"]["cost"] == 2
    assert trade["info"]["feeCurrency"] == "USDT"
    balance = ex.fetch_balance()
    assert balance["USDT"]["free"] == 1998 and balance["ETH"]["free"] == 1


def test_price_move_fills_resting_limit_as_maker(sim):
    """A price update crossing a resting buy fills it at its own price as maker (0.1 %)."""
    ex = sim.bybit_spot()
    sim.price("BTCUSDT", 60000)
    created = ex.create_order(BTC, "limit", "buy", 0.01, 55000)
    sim.price("BTCUSDT", 56000)
    assert ex.fetch_order(created["id"], BTC, ACK)["status"] == "open"
    sim.price("BTCUSDT", 54000)
    order = ex.fetch_order(created["id"], BTC, ACK)
    assert order["status"] == "closed" and order["average"] == 55000
    trade = ex.fetch_my_trades(BTC)[0]
    assert trade["takerOrMaker"] == "maker" and trade["price"] == 55000
    assert trade["fee"]["rate"] == 0.001
    assert ex.fetch_balance()["USDT"]["total"] == 100000 - 550


def test_partial_fills_with_configured_ratio(sim):
    """With partial_fill_ratio 0.5 a resting order is PartiallyFilled, then Filled."""
    ex = sim.bybit_spot()
    sim.config(partial_fill_ratio="0.5", exchange="bybit", market="spot", symbol="BTCUSDT")
    sim.price("BTCUSDT", 60000)
    created = ex.create_order(BTC, "limit", "buy", 0.02, 59000)
    sim.price("BTCUSDT", 58000)
    half = ex.fetch_order(created["id"], BTC, ACK)
    assert half["status"] == "open" and half["filled"] == 0.01 and half["remaining"] == 0.01
    assert half["info"]["orderStatus"] == "PartiallyFilled"
    sim.price("BTCUSDT", 58500)
    assert ex.fetch_order(created["id"], BTC, ACK)["info"]["orderStatus"] == "Filled"
    assert len(ex.fetch_order_trades(created["id"], BTC)) == 2


def test_partial_market_order_cancels_the_rest(sim):
    """A market order under ratio 0.5 fills half; spot reports PartiallyFilledCanceled."""
    ex = sim.bybit_spot()
    sim.config(partial_fill_ratio="0.5", exchange="bybit")
    created = ex.create_order(BTC, "market", "buy", 0.02)
    order = ex.fetch_order(created["id"], BTC, ACK)
    assert order["info"]["orderStatus"] == "PartiallyFilledCanceled"
    assert order["status"] == "closed" and order["filled"] == 0.01
    assert ex.fetch_balance()["USDT"]["used"] == 0


def test_duplicate_order_link_id_is_refused_even_after_close(sim):
    """orderLinkId is "always unique": reuse answers 170141 (InvalidOrder), open or not."""
    ex = sim.bybit_spot()
    first = ex.create_order(BTC, "limit", "buy", 0.01, 10000, {"clientOrderId": "dup"})
    with pytest.raises(ccxt.InvalidOrder, match="170141"):
        ex.create_order(BTC, "limit", "buy", 0.01, 10000, {"clientOrderId": "dup"})
    ex.cancel_order(first["id"], BTC)
    with pytest.raises(ccxt.InvalidOrder) as info:
        ex.create_order(BTC, "limit", "buy", 0.01, 10000, {"clientOrderId": "dup"})
    assert '"retCode":170141,"retMsg":"Duplicate clientOrderId"' in str(info.value)


@pytest.mark.parametrize(
    ("symbol", "amount", "price", "code"),
    [
        ("PEPE/USDT", 100000, 0.00001, 170136),  # qty under minOrderQty 280000
        (BTC, 0.0001, 5000, 170140),  # value 0.5 under minOrderAmt 1
        (BTC, 70, 60000, 170124),  # value 4.2M over maxOrderAmt 4M
    ],
)
def test_filter_violations_are_invalid_orders(sim, symbol, amount, price, code):
    """Orders breaking the recorded lot-size filter get Bybit's spot codes → InvalidOrder."""
    sim.balances(balances={"USDT": "10000000"})
    ex = sim.bybit_spot()
    with pytest.raises(ccxt.InvalidOrder, match=str(code)):
        ex.create_order(symbol, "limit", "buy", amount, price)


@pytest.mark.parametrize(
    ("qty", "price", "code", "msg"),
    [
        ("0.01", "50000.001", 170134, "Order price decimal too long."),
        ("0.0000015", "50000", 170137, "Order volume decimal too long"),
        ("72", "1", 170381, "Order quantity too large."),
    ],
)
def test_precision_and_quantity_errors_in_raw_requests(sim, qty, price, code, msg):
    """Off-tick prices, over-precise quantities and qty > maxOrderQty get their real codes."""
    body = {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit"}
    resp = sim.bybit("POST", "/v5/order/create", {**body, "qty": qty, "price": price})
    assert resp.status_code == 200
    assert (resp.json()["retCode"], resp.json()["retMsg"]) == (code, msg)


def test_insufficient_balance(sim):
    """Spending more USDT than the key holds answers 170131 → InsufficientFunds."""
    ex = sim.bybit_spot()
    with pytest.raises(ccxt.InsufficientFunds, match="170131"):
        ex.create_order(BTC, "limit", "buy", 3, 50000)
    assert ex.fetch_open_orders(BTC) == []


def test_unknown_orders(sim):
    """Cancelling an unknown order answers 170213 → OrderNotFound; fetching finds nothing."""
    ex = sim.bybit_spot()
    with pytest.raises(ccxt.OrderNotFound, match="170213"):
        ex.cancel_order("999", BTC)
    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order("999", BTC, ACK)
    filled = ex.create_order(BTC, "market", "buy", 0.001)
    with pytest.raises(ccxt.OrderNotFound, match="170213"):
        ex.cancel_order(filled["id"], BTC)


def test_post_only_that_would_take_is_accepted_then_cancelled(sim):
    """A PostOnly buy above the last price is created, then Cancelled (EC_PostOnly…)."""
    ex = sim.bybit_spot()
    sim.price("BTCUSDT", 50000)
    created = ex.create_order(BTC, "limit", "buy", 0.01, 50100, {"postOnly": True})
    order = ex.fetch_order(created["id"], BTC, ACK)
    assert order["status"] == "canceled" and order["filled"] == 0
    assert order["info"]["rejectReason"] == "EC_PostOnlyWillTakeLiquidity"
    assert order["timeInForce"] == "PO"
    resting = ex.create_order(BTC, "limit", "buy", 0.01, 49900, {"postOnly": True})
    assert ex.fetch_order(resting["id"], BTC, ACK)["status"] == "open"


def test_trading_fee_and_cancel_all(sim):
    """fee-rate reports 0.1 %/0.1 %; cancel-all cancels every open spot order."""
    ex = sim.bybit_spot()
    fee = ex.fetch_trading_fee(BTC)
    assert fee["maker"] == fee["taker"] == 0.001
    for price in (10000, 11000):
        ex.create_order(BTC, "limit", "buy", 0.001, price)
    assert len(ex.cancel_all_orders(BTC)) == 2
    assert ex.fetch_open_orders(BTC) == []


def test_open_orders_are_paged_newest_first(sim):
    """realtime pages newest first with `limit` and `cursor` (ccxt re-sorts oldest first)."""
    ex = sim.bybit_spot()
    ids = []
    for i in range(3):
        ids.append(ex.create_order(BTC, "limit", "buy", 0.001, 10000 + i)["id"])
        time.sleep(0.005)  # distinct millisecond timestamps: ccxt's re-sort keeps ties' order
    first = ex.fetch_open_orders(BTC, limit=2)
    assert [o["id"] for o in first] == ids[1:]
    cursor = next(o["info"]["nextPageCursor"] for o in first if "nextPageCursor" in o["info"])
    rest = ex.fetch_open_orders(BTC, params={"cursor": cursor, "limit": 2})
    assert [o["id"] for o in rest] == [ids[0]]
    assert "nextPageCursor" not in rest[0]["info"]
