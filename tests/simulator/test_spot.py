"""Binance spot through ccxt's own code over HTTP: markets, orders, fills, fees, errors."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest


def test_load_markets_gives_real_precision(sim):
    """load_markets exposes the real exchangeInfo rules (PEPE tick 1e-8, step 1, notional 1)."""
    markets = sim.spot().markets
    pepe = markets["PEPE/USDT"]
    assert pepe["precision"]["price"] == 1e-8
    assert pepe["precision"]["amount"] == 1
    assert pepe["limits"]["cost"]["min"] == 1
    btc = markets["BTC/USDT"]
    assert btc["precision"]["price"] == 0.01
    assert btc["precision"]["amount"] == 0.00001
    assert btc["limits"]["cost"]["min"] == 5
    assert len(markets) == 18


def test_public_market_data_follows_last_price(sim):
    """Ticker, bid/ask, order book and klines all report the price set by the control API."""
    ex = sim.spot()
    sim.price("ETHUSDT", "2500.5")
    assert ex.fetch_ticker("ETH/USDT")["last"] == 2500.5
    bidask = ex.fetch_bids_asks(["ETH/USDT"])["ETH/USDT"]
    assert bidask["bid"] == bidask["ask"] == 2500.5
    book = ex.fetch_order_book("ETH/USDT", 5)
    assert book["bids"][0][0] == book["asks"][0][0] == 2500.5
    assert book["bids"][1][0] == 2500.49
    candle = ex.fetch_ohlcv("ETH/USDT", "1m", limit=2)[-1]
    assert candle[4] == 2500.5
    assert abs(ex.fetch_time() - ex.milliseconds()) < 5000


def test_default_price_is_first_close_of_real_csv(sim):
    """Without a price set, BTCUSDT starts at the first close of the 5m 2021 CSV."""
    assert sim.spot().fetch_ticker("BTC/USDT")["last"] == 57777.03


def test_limit_order_create_fetch_cancel(sim):
    """A resting limit order is found by id and by client id, listed open, then cancelled."""
    ex = sim.spot()
    sim.price("BTCUSDT", 60000)
    order = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000, {"clientOrderId": "cid-1"})
    assert order["status"] == "open" and order["clientOrderId"] == "cid-1"
    assert ex.fetch_order(order["id"], "BTC/USDT")["clientOrderId"] == "cid-1"
    by_cid = ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": "cid-1"})
    assert by_cid["id"] == order["id"]
    assert [o["id"] for o in ex.fetch_open_orders("BTC/USDT")] == [order["id"]]
    assert ex.fetch_balance()["USDT"]["used"] == 500
    assert ex.cancel_order(order["id"], "BTC/USDT")["status"] == "canceled"
    assert ex.fetch_open_orders("BTC/USDT") == []
    assert ex.fetch_balance()["USDT"]["free"] == 100000
    assert ex.fetch_orders("BTC/USDT")[-1]["status"] == "canceled"


def test_market_order_fills_at_last_price_with_fee(sim):
    """A market buy fills at the last price; the FULL fills and myTrades carry the 0.1 % fee."""
    ex = sim.spot()
    sim.price("BTCUSDT", "40000")
    order = ex.create_order("BTC/USDT", "market", "buy", 0.01)
    assert order["status"] == "closed" and order["average"] == 40000
    fill = order["info"]["fills"][0]
    assert fill["price"] == "40000.00000000" and fill["commission"] == "0.00001000"
    assert fill["commissionAsset"] == "BTC"
    trades = ex.fetch_my_trades("BTC/USDT")
    assert len(trades) == 1
    assert trades[0]["fee"] == {"currency": "BTC", "cost": 0.00001}
    assert trades[0]["takerOrMaker"] == "taker"
    balance = ex.fetch_balance()
    assert balance["BTC"]["free"] == 0.00999
    assert balance["USDT"]["free"] == 99600


def test_sell_fee_is_charged_in_quote(sim):
    """A market sell pays 0.1 % of the proceeds in USDT (the asset received)."""
    sim.balances(balances={"ETH": "2", "USDT": "0"})
    ex = sim.spot()
    sim.price("ETHUSDT", 2000)
    order = ex.create_order("ETH/USDT", "market", "sell", 1)
    assert order["info"]["fills"][0]["commissionAsset"] == "USDT"
    assert order["info"]["fills"][0]["commission"] == "2.00000000"
    assert ex.fetch_balance()["USDT"]["free"] == 1998


def test_price_move_fills_resting_limit_as_maker(sim):
    """A price update crossing a resting buy limit fills it at its limit price, maker side."""
    ex = sim.spot()
    sim.price("BTCUSDT", 60000)
    order = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 55000)
    sim.price("BTCUSDT", 56000)
    assert ex.fetch_order(order["id"], "BTC/USDT")["status"] == "open"
    sim.price("BTCUSDT", 54000)
    filled = ex.fetch_order(order["id"], "BTC/USDT")
    assert filled["status"] == "closed" and filled["average"] == 55000
    trade = ex.fetch_my_trades("BTC/USDT")[0]
    assert trade["takerOrMaker"] == "maker" and trade["price"] == 55000
    assert ex.fetch_balance()["USDT"]["total"] == 100000 - 550


def test_partial_fills_with_configured_ratio(sim):
    """With partial_fill_ratio 0.5 a resting order fills in two price events."""
    ex = sim.spot()
    sim.config(partial_fill_ratio="0.5", symbol="BTCUSDT")
    sim.price("BTCUSDT", 60000)
    order = ex.create_order("BTC/USDT", "limit", "buy", 0.02, 59000)
    sim.price("BTCUSDT", 58000)
    half = ex.fetch_order(order["id"], "BTC/USDT")
    assert half["status"] == "open" and half["filled"] == 0.01
    assert half["info"]["status"] == "PARTIALLY_FILLED"
    sim.price("BTCUSDT", 58500)
    assert ex.fetch_order(order["id"], "BTC/USDT")["status"] == "closed"
    assert len(ex.fetch_my_trades("BTC/USDT")) == 2


def test_partial_market_order_expires_rest(sim):
    """A market order under ratio 0.5 fills half and expires the rest (Binance EXPIRED)."""
    ex = sim.spot()
    sim.config(partial_fill_ratio="0.5")
    order = ex.create_order("BTC/USDT", "market", "buy", 0.02)
    assert order["info"]["status"] == "EXPIRED"
    assert order["filled"] == 0.01
    assert ex.fetch_balance()["USDT"]["used"] == 0


def test_duplicate_client_order_id_refused_while_open(sim):
    """A second order with an open order's client id is refused with -2010 Duplicate."""
    ex = sim.spot()
    sim.price("BTCUSDT", 60000)
    first = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000, {"clientOrderId": "dup"})
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000, {"clientOrderId": "dup"})
    ex.cancel_order(first["id"], "BTC/USDT")
    again = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000, {"clientOrderId": "dup"})
    assert again["id"] != first["id"]


@pytest.mark.parametrize(
    ("amount", "price", "exc", "body"),
    [
        (0.01, 2_000_000, ccxt.InvalidOrder, '{"code":-1013,"msg":"Filter failure: PRICE_FILTER"}'),
        (9001, 1, ccxt.InvalidOrder, '{"code":-1013,"msg":"Filter failure: LOT_SIZE"}'),
        (0.00001, 50000, ccxt.BadRequest, '{"code":-1013,"msg":"Filter failure: NOTIONAL"}'),
    ],
)
def test_filter_violations_answer_real_errors(sim, amount, price, exc, body):
    """Orders breaking PRICE_FILTER, LOT_SIZE and NOTIONAL get Binance's -1013 bodies."""
    ex = sim.spot()
    with pytest.raises(exc) as info:
        ex.create_order("BTC/USDT", "limit", "buy", amount, price)
    assert body in str(info.value)


def test_insufficient_balance(sim):
    """Spending more USDT than the key holds raises ccxt InsufficientFunds (-2010)."""
    ex = sim.spot()
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order("BTC/USDT", "limit", "buy", 3, 50000)
    assert ex.last_http_response == (
        '{"code":-2010,"msg":"Account has insufficient balance for requested action."}'
    )


def test_unknown_orders(sim):
    """Fetching or cancelling an unknown order raises OrderNotFound (-2013 / -2011)."""
    ex = sim.spot()
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        ex.fetch_order("999", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        ex.cancel_order("999", "BTC/USDT")


def test_invalid_symbol_and_missing_parameter(sim):
    """Raw calls get -1121 for an unknown symbol and -1102 for a missing parameter."""
    bad = sim.http.get("/api/v3/ticker/price", params={"symbol": "NOPEUSDT"})
    assert bad.status_code == 400 and bad.json() == {"code": -1121, "msg": "Invalid symbol."}
    ex = sim.spot()
    with pytest.raises(ccxt.BadRequest, match="-1102"):
        ex.privateGetMyTrades({})


def test_quote_order_qty_and_order_test(sim):
    """MARKET with quoteOrderQty buys floor(quote/price) on the step; order/test answers {}."""
    ex = sim.spot()
    sim.price("BTCUSDT", 40000)
    order = ex.create_order("BTC/USDT", "market", "buy", None, None, {"quoteOrderQty": 100})
    assert Decimal(order["info"]["executedQty"]) == Decimal("0.0025")
    assert (
        ex.privatePostOrderTest(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
        )
        == {}
    )


def test_trading_fee(sim):
    """fetch_trading_fee reports Binance's default 0.1 % maker and taker."""
    fee = sim.spot().fetch_trading_fee("BTC/USDT")
    assert fee["maker"] == fee["taker"] == 0.001


def test_pepe_trades_on_its_1e8_tick_and_whole_unit_step(sim):
    """PEPEUSDT (no candles) starts inside its PRICE_FILTER and trades whole units at 1e-8."""
    ex = sim.spot()
    assert ex.fetch_ticker("PEPE/USDT")["last"] == 0.00003162
    sim.price("PEPEUSDT", "0.00000712")
    order = ex.create_order("PEPE/USDT", "market", "buy", 1_000_000)
    assert order["info"]["fills"][0]["price"] == "0.00000712"
    assert order["cost"] == 7.12
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
        ex.create_order("PEPE/USDT", "limit", "buy", 100_000, 0.00000712)


def test_cancel_all_open_orders(sim):
    """DELETE /api/v3/openOrders cancels every open order of the symbol; none left → -2011."""
    ex = sim.spot()
    for price in (40000, 41000):
        ex.create_order("BTC/USDT", "limit", "buy", 0.001, price)
    cancelled = ex.cancel_all_orders("BTC/USDT")
    assert sorted(o["status"] for o in cancelled) == ["canceled", "canceled"]
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_all_orders("BTC/USDT")
