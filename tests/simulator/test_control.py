"""Control API: order log with ns clock, replay along real candles, loopback-only access."""

from __future__ import annotations

import csv
import socket
import time
from decimal import Decimal

import httpx
import pytest

from server.simulator import candles
from tests.sim_support import free_port, start_simulator, stop

CSV = "binance_BTC_USDT_5m_2021-05_2021-06.csv"


def test_order_log_has_nanosecond_received_at(sim):
    """/__sim/orders lists every order request with a time_ns() `received_at` and its fate."""
    ex = sim.spot()
    before = time.time_ns()
    ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000, {"clientOrderId": "log-1"})
    with pytest.raises(Exception, match="PRICE_FILTER"):
        ex.create_order("BTC/USDT", "limit", "buy", 0.01, 5_000_000, {"clientOrderId": "log-2"})
    after = time.time_ns()
    accepted, rejected = sim.orders()
    assert before <= accepted["received_at"] <= rejected["received_at"] <= after
    assert accepted["client_order_id"] == "log-1" and accepted["status"] == "NEW"
    assert accepted["api_key"] == "test-key" and accepted["order_id"] > 0
    assert rejected["status"] == "REJECTED"
    assert rejected["error"] == {"code": -1013, "msg": "Filter failure: PRICE_FILTER"}
    sim.price("BTCUSDT", 49000)
    filled = sim.orders(client_order_id="log-1")[0]
    assert filled["status"] == "FILLED" and filled["fills"][0]["price"] == "50000"


def test_replay_moves_price_along_real_candles(sim):
    """Replay walks open/low/high/close of the real CSV rows and ends on the last close."""
    with open(candles.OHLCV_DIR / CSV, newline="") as fh:
        rows = [r for _, r in zip(range(6), csv.DictReader(fh), strict=False)]
    allowed = {Decimal(r[k]) for r in rows for k in ("open", "high", "low", "close")}
    ex = sim.spot()
    sim.post("/__sim/replay", {"symbol": "BTCUSDT", "file": CSV, "speed": 20, "count": 6})
    seen = set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        seen.add(Decimal(ex.publicGetTickerPrice({"symbol": "BTCUSDT"})["price"]))
        status = sim.http.get("/__sim/replay").json()["replays"]
        if status and not status[0]["running"]:
            break
        time.sleep(0.01)
    assert status[0]["candles_done"] == 6
    final = Decimal(ex.publicGetTickerPrice({"symbol": "BTCUSDT"})["price"])
    assert final == Decimal(rows[-1]["close"])
    assert seen - {Decimal("57777.03")} <= allowed
    assert len(seen) > 3


def test_replay_fills_resting_orders_and_stops(sim):
    """A replay crossing a resting limit fills it; {"stop": true} stops a running replay."""
    ex = sim.spot()
    sim.price("BTCUSDT", 60000)
    order = ex.create_order("BTC/USDT", "limit", "buy", 0.001, 57500)
    sim.post("/__sim/replay", {"symbol": "BTCUSDT", "file": CSV, "speed": 400, "count": 3})
    time.sleep(0.3)
    assert ex.fetch_order(order["id"], "BTC/USDT")["status"] == "closed"
    sim.post("/__sim/replay", {"symbol": "BTCUSDT", "file": CSV, "speed": 1})
    assert sim.post("/__sim/replay", {"stop": True}) == {"stopped": ["BTCUSDT"]}


def test_replay_refuses_unknown_files(sim):
    """Only bare file names from data/ohlcv can be replayed."""
    resp = sim.http.post(
        "/__sim/replay", json={"symbol": "BTCUSDT", "file": "../x.csv", "speed": 1}
    )
    assert resp.status_code == 400


def test_reset_restores_defaults(sim):
    """Reset empties books, orders, balances and puts prices back to their defaults."""
    ex = sim.spot()
    sim.price("BTCUSDT", 30000)
    ex.create_order("BTC/USDT", "limit", "buy", 0.01, 20000)
    sim.reset()
    assert sim.orders() == []
    assert ex.fetch_ticker("BTC/USDT")["last"] == 57777.03
    body = sim.http.get("/__sim/balances", params={"api_key": "sim-demo-key"}).json()
    assert body["venues"]["binance-spot"]["USDT"]["free"] == "10000"


def _public_ip() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


def test_control_api_is_loopback_only():
    """From a non-loopback address the control API answers 403; exchange paths still work."""
    ip = _public_ip()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    port = free_port()
    proc = start_simulator(port, "0.0.0.0")  # noqa: S104 - a non-loopback peer is the point
    try:
        remote = f"http://{ip}:{port}"
        assert httpx.post(f"{remote}/__sim/reset").status_code == 403
        assert httpx.get(f"{remote}/__sim/health").status_code == 200
        assert httpx.get(f"{remote}/api/v3/time").status_code == 200
        assert httpx.post(f"http://127.0.0.1:{port}/__sim/reset").status_code == 200
    finally:
        stop(proc)
