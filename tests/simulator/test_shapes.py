"""The simulator answers with the same keys and JSON types as recorded Binance bodies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def shape(value):
    """Keys and JSON types, recursively (lists by their first element)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return type(value).__name__


def expected(name: str):
    return shape(json.loads((FIXTURES / f"{name}.json").read_text()))


@pytest.fixture
def traded(sim):
    """One filled market order, one open limit order and one cancelled order on BTCUSDT."""
    ex = sim.spot()
    sim.price("BTCUSDT", 60000)
    full = ex.create_order("BTC/USDT", "market", "buy", 0.01)["info"]
    resting = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000)
    doomed = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 40000)
    cancel = ex.cancel_order(doomed["id"], "BTC/USDT")["info"]
    return ex, full, resting, cancel


def test_order_full_response_shape(traded):
    """POST /api/v3/order FULL (with fills) matches the documented example."""
    _, full, _, _ = traded
    assert shape(full) == expected("order_full")


def test_query_open_all_and_cancel_shapes(traded):
    """GET order, openOrders, allOrders and DELETE order match the documented examples."""
    ex, _, resting, cancel = traded
    assert shape(ex.privateGetOrder({"symbol": "BTCUSDT", "orderId": resting["id"]})) == expected(
        "query_order"
    )
    assert shape(ex.privateGetOpenOrders({"symbol": "BTCUSDT"})) == expected("open_orders")
    assert shape(ex.privateGetAllOrders({"symbol": "BTCUSDT"})) == expected("all_orders")
    assert shape(cancel) == expected("cancel_order")


def test_account_and_my_trades_shapes(traded):
    """GET /api/v3/account and /api/v3/myTrades match the documented examples."""
    ex = traded[0]
    assert shape(ex.privateGetAccount()) == expected("account")
    assert shape(ex.privateGetMyTrades({"symbol": "BTCUSDT"})) == expected("my_trades")


def test_exchange_info_symbol_shape(sim):
    """The exchangeInfo BTCUSDT entry is the recorded real entry, key for key and type for type."""
    body = sim.http.get("/api/v3/exchangeInfo", params={"symbol": "BTCUSDT"}).json()
    entry = body["symbols"][0]
    assert shape(entry) == expected("exchange_info_symbol")
    assert entry == json.loads((FIXTURES / "exchange_info_symbol.json").read_text())
    assert isinstance(body["serverTime"], int)
