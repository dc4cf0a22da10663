"""Injected faults, each observed through ccxt the way the engine will see it."""

from __future__ import annotations

import time

import ccxt
import pytest

ORDER = "/api/v3/order"


def test_latency_delays_the_answer(sim):
    """`latency` holds matching requests for `ms` and then answers normally."""
    ex = sim.spot()
    sim.fault("latency", path="/api/v3/ticker", ms=300)
    start = time.perf_counter()
    assert ex.fetch_ticker("BTC/USDT")["last"] > 0
    assert time.perf_counter() - start >= 0.3
    start = time.perf_counter()
    ex.fetch_time()
    assert time.perf_counter() - start < 0.3


def test_timeout_executes_then_withholds_the_answer(sim):
    """`timeout` places the order but never answers: RequestTimeout, then found by client id."""
    ex = sim.spot(timeout_ms=400)
    sim.fault("timeout", path=ORDER, method="POST", ms=3000)
    with pytest.raises(ccxt.RequestTimeout):
        ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": "t-1"})
    sim.post("/__sim/faults", {"clear": True})
    found = ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": "t-1"})
    assert found["status"] == "closed"
    assert [o["client_order_id"] for o in sim.orders()] == ["t-1"]


def test_timeout_without_execution_drops_the_request(sim):
    """`timeout` with execute=false drops the order: the lookup by client id finds nothing."""
    ex = sim.spot(timeout_ms=400)
    sim.fault("timeout", path=ORDER, method="POST", ms=2000, execute=False)
    with pytest.raises(ccxt.RequestTimeout):
        ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": "t-2"})
    sim.http.delete("/__sim/faults")
    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": "t-2"})


def test_http_500_is_exchange_not_available(sim):
    """`http_500` answers 500 without executing → ccxt ExchangeNotAvailable."""
    ex = sim.spot()
    sim.fault("http_500", path=ORDER)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        ex.create_order("BTC/USDT", "market", "buy", 0.001)
    assert ex.fetch_my_trades("BTC/USDT") == []
    assert sim.orders()[0]["error"] == {"fault": "http_500", "status": 500}


def test_http_429_sends_retry_after(sim):
    """`http_429` answers 429 with Retry-After → ccxt DDoSProtection (a RateLimit family error)."""
    ex = sim.spot()
    sim.fault("http_429", path="/api/v3/account", ms=2500)
    with pytest.raises(ccxt.DDoSProtection):
        ex.fetch_balance()
    raw = sim.http.get("/api/v3/account")
    assert raw.status_code == 429 and raw.headers["Retry-After"] == "3"
    assert raw.json()["code"] == -1003


def test_insufficient_funds_fault(sim):
    """`insufficient_funds` answers -2010 (spot) / -2019 (futures) → InsufficientFunds."""
    sim.fault("insufficient_funds", path=ORDER)
    with pytest.raises(ccxt.InsufficientFunds):
        sim.spot().create_order("BTC/USDT", "market", "buy", 0.001)
    sim.fault("insufficient_funds", path="/fapi/v1/order")
    with pytest.raises(ccxt.InsufficientFunds):
        sim.futures().create_order("BTC/USDT:USDT", "market", "buy", 0.01)


def test_invalid_key_fault(sim):
    """`invalid_key` answers -2015 → AuthenticationError, for a key that is otherwise valid."""
    ex = sim.spot()
    sim.fault("invalid_key", path="/api/v3/account")
    with pytest.raises(ccxt.AuthenticationError):
        ex.fetch_balance()


def test_rate_count_and_method_matching(sim):
    """rate 0 never fires; `count` removes the fault after N hits; `method` narrows the match."""
    ex = sim.spot()
    sim.fault("http_500", path="/api/v3/time", rate=0)
    ex.fetch_time()
    sim.http.delete("/__sim/faults")
    sim.fault("http_500", path="/api/v3/time", count=1)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        ex.fetch_time()
    ex.fetch_time()
    sim.fault("http_500", path=ORDER, method="DELETE")
    ex.create_order("BTC/USDT", "market", "buy", 0.001)
    assert sim.http.get("/__sim/faults").json()["faults"][0]["hits"] == 0


def test_bad_fault_definition_is_refused(sim):
    """An unknown kind or a rate outside 0..1 answers 400 with a reason."""
    resp = sim.http.post("/__sim/faults", json={"kind": "explode"})
    assert resp.status_code == 400 and "kind" in resp.json()["error"]
    resp = sim.http.post("/__sim/faults", json={"kind": "latency", "rate": 2})
    assert resp.status_code == 400
