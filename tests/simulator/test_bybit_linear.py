"""Bybit v5 linear (USDT perpetuals) through ccxt: rules, orders, positions, margin, fees."""

from __future__ import annotations

import ccxt
import pytest

BTC = "BTC/USDT:USDT"
ACK = {"acknowledged": True}


def test_load_markets_gives_real_linear_rules(sim):
    """BTCUSDT: tick 0.1, qtyStep 0.001, min notional 5, max leverage 100, as recorded."""
    markets = sim.bybit_linear().markets
    assert len(markets) == 7
    btc = markets[BTC]
    assert btc["precision"] == {"amount": 0.001, "price": 0.1}
    assert btc["limits"]["amount"] == {"min": 0.001, "max": 1190}
    assert btc["limits"]["price"] == {"min": 0.1, "max": 1999999.8}
    assert btc["limits"]["cost"]["min"] == 5
    assert btc["limits"]["leverage"]["max"] == 100
    assert btc["swap"] and btc["linear"] and btc["settle"] == "USDT"
    assert markets["ETH/USDT:USDT"]["precision"]["amount"] == 0.01
    assert markets["ADA/USDT:USDT"]["precision"] == {"amount": 1, "price": 0.0001}


def test_instruments_info_pages_with_a_cursor(sim):
    """linear instruments-info honours `limit` and `cursor`; the last page has no cursor."""
    first = sim.http.get(
        "/v5/market/instruments-info", params={"category": "linear", "limit": 4}
    ).json()["result"]
    assert len(first["list"]) == 4 and first["nextPageCursor"]
    rest = sim.http.get(
        "/v5/market/instruments-info",
        params={"category": "linear", "limit": 4, "cursor": first["nextPageCursor"]},
    ).json()["result"]
    names = [e["symbol"] for e in first["list"] + rest["list"]]
    assert len(set(names)) == 7 and rest["nextPageCursor"] == ""
    prelaunch = sim.http.get(
        "/v5/market/instruments-info", params={"category": "linear", "status": "PreLaunch"}
    ).json()["result"]
    assert prelaunch["list"] == []


def test_limit_order_create_fetch_cancel(sim):
    """Linear limit orders are found by orderId and orderLinkId, and cancelled."""
    ex = sim.bybit_linear()
    sim.price("BTCUSDT", 60000, exchange="bybit", market="linear")
    created = ex.create_order(BTC, "limit", "buy", 0.01, 50000, {"clientOrderId": "l-1"})
    assert created["info"] == {"orderId": created["id"], "orderLinkId": "l-1"}
    order = ex.fetch_order(created["id"], BTC, ACK)
    assert order["status"] == "open" and order["reduceOnly"] is False
    assert order["info"]["tpslMode"] == "" and order["info"]["positionIdx"] == 0
    assert ex.fetch_open_orders(BTC, params={"orderLinkId": "l-1"})[0]["id"] == created["id"]
    assert len(ex.fetch_open_orders()) == 1  # settleCoin=USDT, as ccxt sends without a symbol
    ex.cancel_order(created["id"], BTC)
    assert ex.fetch_order(created["id"], BTC, ACK)["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound, match="110001"):
        ex.cancel_order(created["id"], BTC)


def test_market_and_maker_fees_in_usdt(sim):
    """Taker 0.055 % and maker 0.02 %, both in USDT, reported per execution."""
    ex = sim.bybit_linear()
    sim.price("BTCUSDT", 50000, market="linear")
    market = ex.create_order(BTC, "market", "buy", 0.01)
    limit = ex.create_order(BTC, "limit", "sell", 0.01, 51000)
    sim.price("BTCUSDT", 51000, market="linear")
    (taker,) = ex.fetch_order_trades(market["id"], BTC)
    (maker,) = ex.fetch_order_trades(limit["id"], BTC)
    assert taker["fee"]["currency"] == "USDT" and taker["fee"]["cost"] == 0.275
    assert taker["takerOrMaker"] == "taker" and taker["fee"]["rate"] == 0.00055
    assert maker["fee"]["currency"] == "USDT" and maker["fee"]["cost"] == 0.102
    assert maker["takerOrMaker"] == "maker" and maker["price"] == 51000
    assert ex.fetch_order(limit["id"], BTC, ACK)["fee"] == {"cost": 0.102, "currency": "USDT"}


def test_position_tracking_and_realized_pnl(sim):
    """Buys build a long with an average entry; a reduce-only sell realises PnL."""
    ex = sim.bybit_linear()
    sim.price("BTCUSDT", 50000, market="linear")
    ex.create_order(BTC, "market", "buy", 0.01)
    sim.price("BTCUSDT", 52000, market="linear")
    ex.create_order(BTC, "market", "buy", 0.01)
    position = ex.fetch_position(BTC)
    assert position["contracts"] == 0.02 and position["side"] == "long"
    assert position["entryPrice"] == 51000
    sim.price("BTCUSDT", 53000, market="linear")
    close = ex.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})
    assert ex.fetch_order(close["id"], BTC, ACK)["reduceOnly"] is True
    assert ex.fetch_position(BTC)["contracts"] == 0.01
    assert ex.fetch_order_trades(close["id"], BTC)[0]["info"]["closedSize"] == "0.010"
    fees = 0.00055 * (500 + 520 + 530)
    unrealized = (53000 - 51000) * 0.01
    usdt = ex.fetch_balance()["USDT"]
    assert usdt["total"] == pytest.approx(100000 + 20 - fees)
    raw = ex.privateGetV5AccountWalletBalance({"accountType": "UNIFIED"})["result"]["list"][0]
    assert float(raw["coin"][0]["unrealisedPnl"]) == pytest.approx(unrealized)
    assert float(raw["coin"][0]["cumRealisedPnl"]) == pytest.approx(20)


def test_reduce_only_that_would_increase_is_rejected(sim):
    """reduceOnly with no position, or on the position's side, answers 110017 (InvalidOrder)."""
    ex = sim.bybit_linear()
    with pytest.raises(ccxt.InvalidOrder, match="Reduce-only rule not satisfied"):
        ex.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})
    ex.create_order(BTC, "market", "buy", 0.01)
    with pytest.raises(ccxt.InvalidOrder) as info:
        ex.create_order(BTC, "limit", "buy", 0.01, 10000, {"reduceOnly": True})
    assert '"retCode":110017,"retMsg":"Reduce-only rule not satisfied"' in str(info.value)


def test_reduce_only_never_flips_the_position(sim):
    """A reduce-only order larger than the position only closes it."""
    ex = sim.bybit_linear()
    ex.create_order(BTC, "market", "buy", 0.01)
    close = ex.create_order(BTC, "market", "sell", 0.05, None, {"reduceOnly": True})
    assert ex.fetch_order(close["id"], BTC, ACK)["filled"] == 0.01
    assert ex.fetch_position(BTC)["contracts"] == 0


def test_insufficient_margin_and_leverage(sim):
    """Opening more than balance x leverage answers 110007 → InsufficientFunds."""
    ex = sim.bybit_linear()
    sim.price("BTCUSDT", 50000, market="linear")
    with pytest.raises(ccxt.InsufficientFunds, match="110007"):
        ex.create_order(BTC, "market", "buy", 41)
    ex.set_leverage(1, BTC)
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order(BTC, "market", "buy", 2.1)
    with pytest.raises(ccxt.BadRequest, match="110043"):
        ex.set_leverage(1, BTC)
    ex.create_order(BTC, "market", "buy", 1.9)
    assert ex.fetch_position(BTC)["leverage"] == 1


def test_min_notional_is_an_invalid_order(sim):
    """Below minNotionalValue (5 USDT) answers 110094 → InvalidOrder, unless reduce-only."""
    ex = sim.bybit_linear()
    sim.price("XRPUSDT", 1, market="linear")
    with pytest.raises(ccxt.InvalidOrder, match="110094"):
        ex.create_order("XRP/USDT:USDT", "limit", "buy", 4, 1)
    ex.create_order("XRP/USDT:USDT", "market", "buy", 10)
    ex.create_order("XRP/USDT:USDT", "market", "sell", 4, None, {"reduceOnly": True})
    assert ex.fetch_position("XRP/USDT:USDT")["contracts"] == 6


@pytest.mark.parametrize(
    ("qty", "price", "code", "msg"),
    [
        ("0.0005", "50000", 110017, "orderQty will be truncated to zero"),
        ("0.01", "50000.05", 10001, "Request parameter error."),
        ("0.01", "2000000", 110003, "Order price exceeds the allowable range."),
        (
            "1191",
            "50000",
            10001,
            "The number of contracts exceeds maximum limit allowed: too large, "
            "order_qty:119100000000 > max_qty:119000000000",
        ),
    ],
)
def test_filter_errors_in_raw_requests(sim, qty, price, code, msg):
    """Quantities under one step, off-tick or out-of-range prices, too large quantities."""
    body = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit"}
    resp = sim.bybit("POST", "/v5/order/create", {**body, "qty": qty, "price": price})
    assert (resp.json()["retCode"], resp.json()["retMsg"]) == (code, msg)


def test_quantity_is_truncated_to_the_step(sim):
    """A linear qty off the qtyStep is truncated (110017's wording), not refused."""
    body = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit"}
    resp = sim.bybit("POST", "/v5/order/create", {**body, "qty": "0.0109", "price": "10000"})
    order_id = resp.json()["result"]["orderId"]
    listed = sim.bybit(
        "GET",
        "/v5/order/realtime",
        {"category": "linear", "symbol": "BTCUSDT", "orderId": order_id},
    ).json()["result"]["list"]
    assert listed[0]["qty"] == "0.010"


def test_duplicate_order_link_id(sim):
    """A reused orderLinkId answers 110072 "OrderLinkedID is duplicate" → InvalidOrder."""
    ex = sim.bybit_linear()
    ex.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "dup-l"})
    with pytest.raises(ccxt.InvalidOrder, match="OrderLinkedID is duplicate"):
        ex.create_order(BTC, "limit", "buy", 0.01, 10000, {"clientOrderId": "dup-l"})


def test_hedge_mode_position_index_is_refused(sim):
    """Only one-way mode is simulated: positionIdx 1/2 answers 10001."""
    ex = sim.bybit_linear()
    with pytest.raises(ccxt.BadRequest, match="position idx not match position mode"):
        ex.create_order(BTC, "market", "buy", 0.01, None, {"hedged": True})


def test_post_only_that_would_take_is_cancelled(sim):
    """PostOnly crossing the last price is accepted then Cancelled (the docs' history example)."""
    ex = sim.bybit_linear()
    sim.price("BTCUSDT", 50000, market="linear")
    created = ex.create_order(BTC, "limit", "sell", 0.01, 49000, {"postOnly": True})
    canceled = ex.fetch_canceled_orders(BTC)
    assert [o["id"] for o in canceled] == [created["id"]]
    assert canceled[0]["info"]["rejectReason"] == "EC_PostOnlyWillTakeLiquidity"
    assert ex.fetch_positions() == []


def test_spot_and_linear_share_one_unified_account(sim):
    """Spot-locked USDT is not margin; linear PnL and fees land in the same USDT balance."""
    spot, linear = sim.bybit_spot(), sim.bybit_linear()
    sim.price("BTCUSDT", 50000)
    spot.create_order("BTC/USDT", "limit", "buy", 1.5, 50000 - 10000)  # locks 60000 USDT
    assert linear.fetch_balance()["USDT"]["used"] == 60000
    with pytest.raises(ccxt.InsufficientFunds):
        linear.create_order(BTC, "market", "buy", 17)  # 850k notional / 20 > 40k left
    linear.create_order(BTC, "market", "buy", 0.1)
    balance = spot.fetch_balance()["USDT"]
    assert balance["total"] == pytest.approx(100000 - 0.00055 * 5000)
    assert balance["used"] == pytest.approx(60000 + 5000 / 20)
