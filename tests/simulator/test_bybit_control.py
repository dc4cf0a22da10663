"""The control API's exchange/market selectors, order log and replay on the Bybit venues."""

from __future__ import annotations

import csv
import time
from decimal import Decimal

from server.simulator import candles

CSV = "bybit_BTC_USDT_1m_2022-12-13.csv"


def test_price_selectors_reach_one_bybit_venue(sim):
    """`exchange`/`market` narrow /__sim/price to bybit-spot or bybit-linear."""
    spot, linear = sim.bybit_spot(), sim.bybit_linear()
    out = sim.price("BTCUSDT", 30000, exchange="bybit", market="linear")
    assert list(out["venues"]) == ["bybit-linear"]
    assert linear.fetch_ticker("BTC/USDT:USDT")["last"] == 30000
    assert spot.fetch_ticker("BTC/USDT")["last"] == 17205
    assert sorted(sim.price("ETHUSDT", 2000, exchange="bybit")["venues"]) == [
        "bybit-linear",
        "bybit-spot",
    ]
    assert sorted(sim.price("BTCUSDT", 31000)["venues"]) == [
        "binance-futures",
        "binance-spot",
        "bybit-linear",
        "bybit-spot",
    ]


def test_balances_are_one_unified_account_per_key(sim):
    """/__sim/balances on bybit sets the key's UTA, seen by both Bybit venues and GET."""
    sim.balances(key="uta", balances={"USDT": "500", "BTC": "0.5"}, exchange="bybit", market="spot")
    body = sim.http.get("/__sim/balances", params={"api_key": "uta"}).json()["venues"]
    assert body["bybit-spot"]["BTC"] == {"free": "0.5", "locked": "0"}
    assert body["bybit-linear"]["wallet"]["USDT"] == "500"
    assert "binance-spot" in body and body["binance-spot"] == {}
    coins = {
        c["coin"]: c["walletBalance"]
        for c in sim.bybit_linear(key="uta").fetch_balance()["info"]["result"]["list"][0]["coin"]
    }
    assert coins == {"BTC": "0.5", "USDT": "500"}


def test_config_narrows_partial_fills_to_a_bybit_venue(sim):
    """partial_fill_ratio set for bybit-linear only leaves bybit-spot filling whole orders."""
    sim.config(partial_fill_ratio="0.5", exchange="bybit", market="linear")
    config = sim.http.get("/__sim/config").json()
    assert config["bybit-linear"]["partial_fill_ratio"] == "0.5"
    assert config["bybit-spot"]["partial_fill_ratio"] == "1"
    linear, spot = sim.bybit_linear(), sim.bybit_spot()
    ack = {"acknowledged": True}
    half = linear.create_order("BTC/USDT:USDT", "market", "buy", 0.02)
    order = linear.fetch_order(half["id"], "BTC/USDT:USDT", ack)
    assert order["filled"] == 0.01 and order["info"]["orderStatus"] == "Cancelled"
    whole = spot.create_order("BTC/USDT", "market", "buy", 0.02)
    assert spot.fetch_order(whole["id"], "BTC/USDT", ack)["filled"] == 0.02


def test_order_log_names_the_bybit_venue(sim):
    """/__sim/orders lists Bybit orders with their venue, ns clock, link id and fate."""
    before = time.time_ns()
    sim.bybit_linear().create_order(
        "BTC/USDT:USDT", "limit", "buy", 0.01, 10000, {"clientOrderId": "log-1"}
    )
    body = {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit"}
    sim.bybit("POST", "/v5/order/create", {**body, "qty": "0.01", "price": "1.001"})
    accepted, rejected = sim.orders()
    assert before <= accepted["received_at"] <= rejected["received_at"] <= time.time_ns()
    assert accepted["venue"] == "bybit-linear" and accepted["client_order_id"] == "log-1"
    assert accepted["status"] == "NEW" and accepted["api_key"] == "test-key"
    assert rejected["venue"] == "bybit-spot" and rejected["status"] == "REJECTED"
    assert rejected["error"]["retCode"] == 170134
    assert [o["client_order_id"] for o in sim.orders(venue="bybit-linear")] == ["log-1"]


def test_replay_moves_bybit_prices_along_real_candles(sim):
    """A replay narrowed to bybit walks the Bybit CSV and ends on its last close."""
    with open(candles.OHLCV_DIR / CSV, newline="") as fh:
        rows = [r for _, r in zip(range(5), csv.DictReader(fh), strict=False)]
    ex = sim.bybit_spot()
    body = {"symbol": "BTCUSDT", "file": CSV, "speed": 50, "count": 5, "exchange": "bybit"}
    sim.post("/__sim/replay", body)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = sim.http.get("/__sim/replay").json()["replays"]
        if status and not status[0]["running"]:
            break
        time.sleep(0.02)
    assert status[0]["candles_done"] == 5
    assert Decimal(str(ex.fetch_ticker("BTC/USDT")["last"])) == Decimal(rows[-1]["close"])
    assert sim.spot().fetch_ticker("BTC/USDT")["last"] == 57777.03  # binance untouched


def test_reset_restores_bybit_defaults(sim):
    """Reset empties Bybit books and orders, and the demo key holds 10,000 USDT again."""
    ex = sim.bybit_spot()
    ex.create_order("BTC/USDT", "limit", "buy", 0.01, 10000)
    sim.price("BTCUSDT", 20000, exchange="bybit")
    sim.reset()
    assert sim.orders() == []
    assert ex.fetch_ticker("BTC/USDT")["last"] == 17205
    body = sim.http.get("/__sim/balances", params={"api_key": "sim-demo-key"}).json()
    assert body["venues"]["bybit-spot"]["USDT"]["free"] == "10000"
    assert body["venues"]["bybit-linear"]["wallet"] == {"USDT": "10000"}
