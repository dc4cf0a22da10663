"""Bybit v5 signed requests: keys, HMAC signatures, timestamps, permissions, the key rule."""

from __future__ import annotations

import time

import ccxt
import httpx
import pytest

from tests.sim_support import free_port, start_simulator, stop
from tests.simulator.ccxt_factory import make_bybit_spot

WALLET = ("/v5/account/wallet-balance", {"accountType": "UNIFIED"})


def test_hand_signed_get_and_post_are_accepted(sim):
    """Requests signed as guide.mdx documents (not by ccxt) pass, GET and POST alike."""
    resp = sim.bybit("GET", *WALLET)
    assert resp.status_code == 200 and resp.json()["retCode"] == 0
    order = {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit"}
    resp = sim.bybit("POST", "/v5/order/create", {**order, "qty": "0.01", "price": "10000"})
    assert resp.json()["retCode"] == 0 and resp.json()["retMsg"] == "OK"


def test_unknown_key_is_refused(sim):
    """A key never given a balance answers 10003 → ccxt AuthenticationError."""
    ex = sim.bybit_spot(key="nobody", secret="sim-secret-nobody")
    with pytest.raises(ccxt.AuthenticationError, match="10003"):
        ex.fetch_balance()
    assert ex.last_http_response.startswith('{"retCode":10003,"retMsg":"API key is invalid."')


def test_wrong_signature_is_refused(sim):
    """A request signed with the wrong secret answers 10004 → AuthenticationError."""
    ex = sim.bybit_spot(secret="not-the-secret")
    with pytest.raises(ccxt.AuthenticationError, match="10004"):
        ex.create_order("BTC/USDT", "limit", "buy", 0.01, 10000)
    assert "Error sign, please check your signature generation algorithm" in ex.last_http_response
    assert sim.orders()[0]["error"]["retCode"] == 10004
    tampered = sim.bybit("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"})
    assert tampered.json()["retCode"] == 0
    bad = sim.http.get(
        "/v5/account/wallet-balance?accountType=UNIFIED&coin=BTC",
        headers=dict(tampered.request.headers),
    )
    assert bad.status_code == 200 and bad.json()["retCode"] == 10004


def test_missing_auth_headers(sim):
    """Without X-BAPI-* headers a private endpoint answers 10001 'openapi sign params error!'."""
    resp = sim.http.get("/v5/account/wallet-balance", params={"accountType": "UNIFIED"})
    body = resp.json()
    assert resp.status_code == 200 and body["retCode"] == 10001
    assert body["retMsg"].endswith("openapi sign params error!")


def test_stale_and_future_timestamps_are_refused(sim):
    """Outside [server - recv_window, server + 1000) answers 10002 → ccxt InvalidNonce."""
    ex = sim.bybit_spot()
    ex.options["timeDifference"] = 20_000  # ccxt stamps now - 20 s with recv_window 5 s
    with pytest.raises(ccxt.InvalidNonce, match="10002"):
        ex.fetch_balance()
    ahead = sim.bybit("GET", *WALLET, ts=int(time.time() * 1000) + 5000)
    assert ahead.json()["retCode"] == 10002
    assert "req_timestamp[" in ahead.json()["retMsg"]
    wide = sim.bybit("GET", *WALLET, ts=int(time.time() * 1000) - 8000, recv_window=10000)
    assert wide.json()["retCode"] == 0


def test_registered_secret_replaces_the_default(sim):
    """A key funded without a secret signs with sim-secret-<key>; a registered one replaces it."""
    sim.balances(key="k2", secret=None)
    assert (
        sim.bybit_spot(key="k2", secret="sim-secret-k2").fetch_balance()["USDT"]["free"] == 100000
    )
    sim.balances(key="k2", secret="own-secret")
    with pytest.raises(ccxt.AuthenticationError):
        sim.bybit_spot(key="k2", secret="sim-secret-k2").fetch_balance()
    assert sim.bybit_spot(key="k2", secret="own-secret").fetch_balance()["USDT"]["free"] == 100000


def test_query_api_reports_trading_permissions(sim):
    """GET /v5/user/query-api lists the key's permissions (readOnly 0, UTA)."""
    info = sim.bybit_spot().privateGetV5UserQueryApi()["result"]
    assert info["apiKey"] == "test-key" and info["readOnly"] == 0 and info["uta"] == 1
    assert info["permissions"]["Spot"] == ["SpotTrade"]
    assert "Order" in info["permissions"]["ContractTrade"]


def test_read_only_key_cannot_trade(sim):
    """A key registered read_only reads balances but trading answers 10005 (PermissionDenied)."""
    sim.balances(key="viewer", secret="viewer-secret", read_only=True)
    ex = sim.bybit_linear(key="viewer", secret="viewer-secret")
    assert ex.fetch_balance()["USDT"]["free"] == 100000
    info = ex.privateGetV5UserQueryApi()["result"]
    assert info["readOnly"] == 1 and info["permissions"]["ContractTrade"] == []
    with pytest.raises(ccxt.PermissionDenied, match="10005"):
        ex.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    sim.balances(key="viewer", secret="viewer-secret", read_only=False)
    ex.create_order("BTC/USDT:USDT", "market", "buy", 0.01)


def test_open_keys_accept_any_key_with_the_default_secret():
    """With --open-keys any key signs with sim-secret-<key>; other secrets still fail."""
    port = free_port()
    proc = start_simulator(port, "127.0.0.1", "--open-keys")
    try:
        base = f"http://127.0.0.1:{port}"
        ok = make_bybit_spot(base, "anyone", "sim-secret-anyone")
        ok.load_markets()
        assert ok.fetch_balance()["info"]["result"]["list"][0]["coin"] == []
        bad = make_bybit_spot(base, "anyone", "wrong")
        bad.load_markets()
        with pytest.raises(ccxt.AuthenticationError):
            bad.fetch_balance()
        assert httpx.get(f"{base}/__sim/health").json()["open_keys"] is True
    finally:
        stop(proc)


def test_account_probe_ccxt_makes_without_the_unified_options(sim):
    """Without enableUnified* options ccxt probes query-api and account/info first; both work."""
    ex = sim.bybit_spot()
    ex.options.pop("enableUnifiedMargin")
    ex.options.pop("enableUnifiedAccount")
    paths = []
    fetch = ex.fetch

    def traced(url, method="GET", headers=None, body=None):
        paths.append(url.split("?")[0].replace(sim.base, ""))
        return fetch(url, method, headers, body)

    ex.fetch = traced
    assert ex.fetch_balance()["USDT"]["free"] == 100000
    assert paths == ["/v5/user/query-api", "/v5/account/info", "/v5/account/wallet-balance"]
    assert ex.options["enableUnifiedAccount"] is True and ex.options["unifiedMarginStatus"] == 6
