"""Binance USDⓈ-M futures through ccxt's binanceusdm: rules, orders, positions, margin, fees."""

from __future__ import annotations

import ccxt
import pytest

from server.simulator.binance_common import sign

BTC = "BTC/USDT:USDT"


def test_load_markets_gives_real_futures_rules(sim):
    """BTCUSDT perpetual: tick 0.1, step 0.001, min notional 100, as in the fapi file."""
    markets = sim.futures().markets
    btc = markets[BTC]
    assert btc["precision"]["price"] == 0.1
    assert btc["precision"]["amount"] == 0.001
    assert btc["limits"]["cost"]["min"] == 100
    assert btc["limits"]["amount"]["min"] == 0.001
    assert len(markets) == 11


def test_limit_order_create_fetch_cancel(sim):
    """Futures limit orders are found by id and client id and cancelled."""
    ex = sim.futures()
    sim.price("BTCUSDT", 60000, market="futures")
    order = ex.create_order(BTC, "limit", "buy", 0.01, 50000, {"clientOrderId": "f-1"})
    assert order["status"] == "open"
    assert ex.fetch_order(None, BTC, {"origClientOrderId": "f-1"})["id"] == order["id"]
    assert len(ex.fetch_open_orders(BTC)) == 1
    assert ex.cancel_order(order["id"], BTC)["status"] == "canceled"
    assert ex.fetch_orders(BTC)[-1]["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_order(order["id"], BTC)


def test_position_tracking_and_realized_pnl(sim):
    """Buys build a long with an average entry; a reduce-only sell realises PnL."""
    ex = sim.futures()
    sim.price("BTCUSDT", 50000, market="futures")
    ex.create_order(BTC, "market", "buy", 0.01)
    sim.price("BTCUSDT", 52000, market="futures")
    ex.create_order(BTC, "market", "buy", 0.01)
    position = ex.fetch_positions([BTC])[0]
    assert position["contracts"] == 0.02 and position["side"] == "long"
    assert position["entryPrice"] == 51000
    sim.price("BTCUSDT", 53000, market="futures")
    ex.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})
    assert ex.fetch_positions([BTC])[0]["contracts"] == 0.01
    last = ex.fetch_my_trades(BTC)[-1]
    assert last["info"]["realizedPnl"] == "20.00000000"
    fees = 0.0005 * (500 + 520 + 530)
    unrealized = (53000 - 51000) * 0.01
    assert ex.fetch_balance()["USDT"]["total"] == pytest.approx(100000 + 20 + unrealized - fees)


def test_reduce_only_that_would_increase_is_rejected(sim):
    """reduceOnly with no position, or on the position's side, gets -2022."""
    ex = sim.futures()
    with pytest.raises(ccxt.InvalidOrder, match="ReduceOnly Order is rejected"):
        ex.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})
    ex.create_order(BTC, "market", "buy", 0.01)
    with pytest.raises(ccxt.InvalidOrder) as info:
        ex.create_order(BTC, "market", "buy", 0.01, None, {"reduceOnly": True})
    assert '{"code":-2022,"msg":"ReduceOnly Order is rejected."}' in str(info.value)


def test_reduce_only_never_flips_the_position(sim):
    """A reduce-only order larger than the position only closes it."""
    ex = sim.futures()
    ex.create_order(BTC, "market", "buy", 0.01)
    order = ex.create_order(BTC, "market", "sell", 0.05, None, {"reduceOnly": True})
    assert order["filled"] == 0.01
    assert ex.fetch_positions([BTC]) == []


def test_fees_taker_and_maker_in_usdt(sim):
    """Taker 0.05 % and maker 0.02 %, both charged in USDT."""
    ex = sim.futures()
    sim.price("BTCUSDT", 50000, market="futures")
    ex.create_order(BTC, "market", "buy", 0.01)
    ex.create_order(BTC, "limit", "sell", 0.01, 51000)
    sim.price("BTCUSDT", 51000, market="futures")
    taker, maker = ex.fetch_my_trades(BTC)
    assert taker["fee"] == {"currency": "USDT", "cost": 0.25}
    assert maker["fee"] == {"currency": "USDT", "cost": 0.102}
    assert maker["takerOrMaker"] == "maker"


def test_insufficient_margin(sim):
    """Opening more than balance x leverage raises InsufficientFunds (-2019)."""
    ex = sim.futures()
    sim.price("BTCUSDT", 50000, market="futures")
    with pytest.raises(ccxt.InsufficientFunds, match="Margin is insufficient"):
        ex.create_order(BTC, "market", "buy", 41)
    ex.set_leverage(1, BTC)
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order(BTC, "market", "buy", 2.1)


def test_min_notional_and_filters(sim):
    """Below 100 USDT notional → -4164; off-tick price → -4014; off-step qty → -4023."""
    ex = sim.futures()
    sim.price("BTCUSDT", 50000, market="futures")
    with pytest.raises(ccxt.InvalidOrder, match="-4164"):
        ex.create_order(BTC, "limit", "buy", 0.001, 50000)
    ts = ex.milliseconds()
    for query, code in [
        (
            f"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=50000.05&timestamp={ts}",
            -4014,
        ),
        (
            f"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.0105&price=50000&timestamp={ts}",
            -1111,
        ),
        (
            f"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=50000.1&timestamp={ts}",
            -4164,
        ),
    ]:
        signed = query + "&signature=" + sign(query.encode(), "test-secret")
        resp = sim.http.post(f"/fapi/v1/order?{signed}", headers={"X-MBX-APIKEY": "test-key"})
        assert resp.status_code == 400 and resp.json()["code"] == code


def test_balance_account_and_leverage(sim):
    """fetch_balance (v3 account) shows wallet, margin in use; leverage is per symbol."""
    ex = sim.futures()
    sim.price("BTCUSDT", 50000, market="futures")
    assert ex.fetch_balance()["USDT"]["free"] == 100000
    assert ex.set_leverage(10, BTC)["leverage"] == 10
    ex.create_order(BTC, "limit", "buy", 0.1, 40000)
    balance = ex.fetch_balance()
    assert balance["USDT"]["used"] == 400
    assert balance["USDT"]["free"] == 100000 - 400
    v2 = ex.fapiPrivateV2GetAccount()
    assert v2["positions"][0]["leverage"] in ("10", "20")


def test_spot_and_futures_prices_are_separate_when_asked(sim):
    """`market` narrows /__sim/price to one venue; without it both venues move."""
    spot, fut = sim.spot(), sim.futures()
    sim.price("BTCUSDT", 41000, market="futures")
    assert fut.fetch_ticker(BTC)["last"] == 41000
    assert spot.fetch_ticker("BTC/USDT")["last"] == 57777.03
    sim.price("BTCUSDT", 42000)
    assert spot.fetch_ticker("BTC/USDT")["last"] == fut.fetch_ticker(BTC)["last"] == 42000


def test_v2_reads_and_cancel_all(sim):
    """positionRisk v2, balance v2 and allOpenOrders answer in Binance's shapes."""
    ex = sim.futures()
    sim.price("BTCUSDT", 50000, market="futures")
    ex.create_order(BTC, "market", "sell", 0.01)
    risk = ex.fapiPrivateV2GetPositionRisk({"symbol": "BTCUSDT"})
    assert risk[0]["positionAmt"] == "-0.010" and risk[0]["leverage"] == "20"
    usdt = next(b for b in ex.fapiPrivateV2GetBalance() if b["asset"] == "USDT")
    assert usdt["balance"] == "99999.75000000"
    ex.create_order(BTC, "limit", "buy", 0.01, 40000)
    ex.cancel_all_orders(BTC)
    assert ex.fetch_open_orders(BTC) == []


def test_post_only_that_would_take_is_refused(sim):
    """postOnly (spot LIMIT_MAKER / futures GTX) crossing the last price is refused."""
    sim.price("BTCUSDT", 50000)
    with pytest.raises(ccxt.OrderImmediatelyFillable):
        sim.spot().create_order("BTC/USDT", "limit", "buy", 0.01, 50100, {"postOnly": True})
    fut = sim.futures()
    with pytest.raises(ccxt.InvalidOrder, match="-5022"):
        fut.create_order(BTC, "limit", "buy", 0.01, 50100, {"postOnly": True})
    resting = fut.create_order(BTC, "limit", "buy", 0.01, 49900, {"postOnly": True})
    assert resting["info"]["timeInForce"] == "GTX" and resting["status"] == "open"
