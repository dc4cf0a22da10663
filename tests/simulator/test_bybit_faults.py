"""Every injected fault kind on Bybit paths, observed through ccxt as the engine will see it."""

from __future__ import annotations

import time

import ccxt
import pytest

CREATE = "/v5/order/create"
BTC = "BTC/USDT"


def test_latency_delays_the_answer(sim):
    """`latency` holds matching requests for `ms` and then answers normally."""
    ex = sim.bybit_spot()
    sim.fault("latency", path="/v5/market/tickers", ms=300)
    start = time.perf_counter()
    assert ex.fetch_ticker(BTC)["last"] > 0
    assert time.perf_counter() - start >= 0.3
    start = time.perf_counter()
    ex.fetch_time()
    assert time.perf_counter() - start < 0.3


def test_timeout_executes_then_a_lookup_by_link_finds_the_order(sim):
    """`timeout` executes unanswered; the orderLinkId lookup finds it and a re-send is refused."""
    ex = sim.bybit_spot(timeout_ms=400)
    sim.fault("timeout", path=CREATE, method="POST", ms=3000)
    with pytest.raises(ccxt.RequestTimeout):
        ex.create_order(BTC, "market", "buy", 0.001, None, {"clientOrderId": "t-1"})
    sim.http.delete("/__sim/faults")
    (found,) = ex.fetch_open_orders(BTC, params={"orderLinkId": "t-1"})
    assert found["status"] == "closed" and found["filled"] == 0.001
    with pytest.raises(ccxt.InvalidOrder, match="170141"):
        ex.create_order(BTC, "market", "buy", 0.001, None, {"clientOrderId": "t-1"})
    assert [o["client_order_id"] for o in sim.orders()] == ["t-1", "t-1"]
    assert [o["status"] for o in sim.orders()] == ["FILLED", "REJECTED"]


def test_timeout_without_execution_drops_the_request(sim):
    """`timeout` with execute=false drops the order: the lookup by orderLinkId finds nothing."""
    ex = sim.bybit_linear(timeout_ms=400)
    sim.fault("timeout", path=CREATE, method="POST", ms=2000, execute=False)
    with pytest.raises(ccxt.RequestTimeout):
        ex.create_order("BTC/USDT:USDT", "market", "buy", 0.01, None, {"clientOrderId": "t-2"})
    sim.http.delete("/__sim/faults")
    assert ex.fetch_open_orders("BTC/USDT:USDT", params={"orderLinkId": "t-2"}) == []


def test_http_500_is_exchange_not_available(sim):
    """`http_500` answers 500 without executing → ccxt ExchangeNotAvailable."""
    ex = sim.bybit_spot()
    sim.fault("http_500", path=CREATE)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        ex.create_order(BTC, "market", "buy", 0.001)
    assert ex.fetch_my_trades(BTC) == []
    entry = sim.orders()[0]
    assert entry["error"] == {"fault": "http_500", "status": 500}
    assert entry["venue"] == "bybit-spot"


def test_http_429_is_rate_limit_exceeded(sim):
    """`http_429` answers HTTP 429 with retCode 10006, Retry-After and X-Bapi-Limit headers."""
    ex = sim.bybit_linear()
    sim.fault("http_429", path="/v5/account/wallet-balance", ms=2500)
    with pytest.raises(ccxt.RateLimitExceeded, match="10006"):
        ex.fetch_balance()
    raw = sim.http.get("/v5/account/wallet-balance")
    assert raw.status_code == 429 and raw.headers["Retry-After"] == "3"
    assert raw.headers["X-Bapi-Limit-Status"] == "0"
    assert int(raw.headers["X-Bapi-Limit-Reset-Timestamp"]) > int(time.time() * 1000)
    assert (raw.json()["retCode"], raw.json()["retMsg"]) == (10006, "Too many visits!")


def test_insufficient_funds_fault_answers_in_the_category(sim):
    """`insufficient_funds` answers 170131 on spot and 110007 on linear → InsufficientFunds."""
    sim.fault("insufficient_funds", path=CREATE)
    with pytest.raises(ccxt.InsufficientFunds, match="170131"):
        sim.bybit_spot().create_order(BTC, "market", "buy", 0.001)
    with pytest.raises(ccxt.InsufficientFunds, match="110007"):
        sim.bybit_linear().create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    assert [o["venue"] for o in sim.orders()] == ["bybit-spot", "bybit-linear"]


def test_invalid_key_fault(sim):
    """`invalid_key` answers 10003 → AuthenticationError, for a key that is otherwise valid."""
    ex = sim.bybit_spot()
    sim.fault("invalid_key", path="/v5/order/realtime")
    with pytest.raises(ccxt.AuthenticationError, match="10003"):
        ex.fetch_open_orders(BTC)
    assert ex.fetch_balance()["USDT"]["free"] == 100000
