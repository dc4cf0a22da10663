"""Signed-request checks: API keys, HMAC signatures, timestamps, and the key rule."""

from __future__ import annotations

import time

import ccxt
import httpx
import pytest

from server.simulator.binance_common import sign
from tests.sim_support import free_port, start_simulator, stop


def test_hmac_matches_the_documented_worked_example():
    """The simulator's signer reproduces the signature in Binance's rest-api.md example."""
    payload = (
        b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        b"&recvWindow=5000&timestamp=1499827319559"
    )
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    assert sign(payload, secret) == (
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )


def test_unknown_key_is_refused(sim):
    """A key never given a balance gets -2015 → ccxt AuthenticationError."""
    ex = sim.spot(key="nobody", secret="sim-secret-nobody")
    with pytest.raises(ccxt.AuthenticationError):
        ex.fetch_balance()
    assert '"code":-2015' in ex.last_http_response


def test_malformed_key_is_refused(sim):
    """A key with illegal characters gets -2014 API-key format invalid."""
    resp = sim.http.get("/api/v3/account", headers={"X-MBX-APIKEY": "bad key!"})
    assert resp.status_code == 401
    assert resp.json() == {"code": -2014, "msg": "API-key format invalid."}


def test_wrong_signature_is_refused(sim):
    """A request signed with the wrong secret gets -1022 → AuthenticationError."""
    ex = sim.spot(secret="not-the-secret")
    with pytest.raises(ccxt.AuthenticationError):
        ex.fetch_balance()
    assert (
        ex.last_http_response == '{"code":-1022,"msg":"Signature for this request is not valid."}'
    )


def test_registered_secret_replaces_the_default(sim):
    """After /__sim/balances with api_secret, the default sim-secret-<key> no longer signs."""
    sim.balances(key="k2", secret=None)
    assert sim.spot(key="k2", secret="sim-secret-k2").fetch_balance()["USDT"]["free"] == 100000
    sim.balances(key="k2", secret="own-secret")
    with pytest.raises(ccxt.AuthenticationError):
        sim.spot(key="k2", secret="sim-secret-k2").fetch_balance()
    assert sim.spot(key="k2", secret="own-secret").fetch_balance()["USDT"]["free"] == 100000


def test_stale_timestamp_is_refused(sim):
    """A timestamp older than recvWindow gets -1021 → ccxt InvalidNonce."""
    ex = sim.spot()
    ex.options["timeDifference"] = 20_000  # ccxt sends now - 20 s with recvWindow 10 s
    with pytest.raises(ccxt.InvalidNonce):
        ex.fetch_balance()
    assert "outside of the recvWindow" in ex.last_http_response
    ts = int(time.time() * 1000) + 5000
    query = f"timestamp={ts}"
    signed = f"{query}&signature={sign(query.encode(), 'test-secret')}"
    ahead = sim.http.get(f"/api/v3/account?{signed}", headers={"X-MBX-APIKEY": "test-key"})
    assert ahead.json() == {
        "code": -1021,
        "msg": "Timestamp for this request was 1000ms ahead of the server's time.",
    }


def test_missing_signature_is_a_missing_parameter(sim):
    """A signed endpoint called without `signature` answers -1102."""
    resp = sim.http.get(
        f"/api/v3/account?timestamp={int(time.time() * 1000)}", headers={"X-MBX-APIKEY": "test-key"}
    )
    assert resp.json()["code"] == -1102


def test_open_keys_accept_any_key_with_the_default_secret():
    """With --open-keys any key works when signed with sim-secret-<key>; others still fail."""
    port = free_port()
    proc = start_simulator(port, "127.0.0.1", "--open-keys")
    try:
        from tests.simulator.ccxt_factory import make_binance_spot

        base = f"http://127.0.0.1:{port}"
        ok = make_binance_spot(base, "anyone", "sim-secret-anyone")
        ok.load_markets()
        assert ok.fetch_balance()["info"]["balances"] == []
        bad = make_binance_spot(base, "anyone", "wrong")
        bad.load_markets()
        with pytest.raises(ccxt.AuthenticationError):
            bad.fetch_balance()
        assert httpx.get(f"{base}/__sim/health").json()["open_keys"] is True
    finally:
        stop(proc)
