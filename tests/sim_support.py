"""The exchange simulator as a real subprocess (`python -m server.simulator`) on a free loopback
port, shared by the test session, plus helpers for its control API and for ccxt clients.
The fixtures are registered in tests/conftest.py."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.simulator.ccxt_factory import (
    make_binance_futures,
    make_binance_spot,
    make_bybit_linear,
    make_bybit_spot,
)

ROOT = Path(__file__).resolve().parents[1]
KEY, SECRET = "test-key", "test-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_simulator(port: int, host: str = "127.0.0.1", *args: str, env: dict | None = None):
    """Start `python -m server.simulator` and wait until /__sim/health answers."""
    full_env = {**os.environ, "SIMULATOR_PORT": str(port), "SIMULATOR_HOST": host, **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.simulator", *args],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/__sim/health", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"simulator did not start: {proc.stdout.read().decode()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()


class Sim:
    """Control-API helper bound to one running simulator."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=10)

    def post(self, path: str, body: dict | None = None) -> dict:
        resp = self.http.post(path, json=body or {})
        assert resp.status_code == 200, resp.text
        return resp.json()

    def reset(self) -> None:
        self.post("/__sim/reset")

    def price(self, symbol: str, price, **kw) -> dict:
        return self.post("/__sim/price", {"symbol": symbol, "price": str(price), **kw})

    def balances(
        self, key: str = KEY, balances: dict | None = None, secret: str | None = SECRET, **kw
    ):
        body = {"api_key": key, "balances": balances or {"USDT": "100000"}, **kw}
        if secret:
            body["api_secret"] = secret
        return self.post("/__sim/balances", body)

    def fault(self, kind: str, path: str | None = None, method: str | None = None, **kw) -> dict:
        return self.post(
            "/__sim/faults", {"match": {"method": method, "path": path}, "kind": kind, **kw}
        )

    def config(self, **kw) -> dict:
        return self.post("/__sim/config", kw)

    def orders(self, **query) -> list[dict]:
        return self.http.get("/__sim/orders", params=query).json()["orders"]

    def bybit(
        self,
        method: str,
        path: str,
        params: dict | None = None,
        key: str = KEY,
        secret: str = SECRET,
        ts: int | None = None,
        recv_window: int = 5000,
    ) -> httpx.Response:
        """A Bybit v5 private request signed by hand as guide.mdx documents (not by ccxt):
        HMAC-SHA256(timestamp + key + recv_window + queryString | jsonBody)."""
        stamp = str(ts if ts is not None else int(time.time() * 1000))
        params = params or {}
        if method == "GET":
            payload = "&".join(f"{k}={v}" for k, v in params.items())
            url, body = f"{path}?{payload}" if payload else path, None
        else:
            payload = json.dumps(params, separators=(",", ":"))
            url, body = path, payload.encode()
        signature = hmac.new(
            secret.encode(), f"{stamp}{key}{recv_window}{payload}".encode(), hashlib.sha256
        ).hexdigest()
        headers = {
            "X-BAPI-API-KEY": key,
            "X-BAPI-TIMESTAMP": stamp,
            "X-BAPI-RECV-WINDOW": str(recv_window),
            "X-BAPI-SIGN": signature,
            "Content-Type": "application/json",
        }
        return self.http.request(method, url, content=body, headers=headers)

    def spot(self, key: str = KEY, secret: str = SECRET, **kw):
        ex = make_binance_spot(self.base, key, secret, **kw)
        ex.load_markets()
        return ex

    def futures(self, key: str = KEY, secret: str = SECRET, **kw):
        ex = make_binance_futures(self.base, key, secret, **kw)
        ex.load_markets()
        return ex

    def bybit_spot(self, key: str = KEY, secret: str = SECRET, **kw):
        ex = make_bybit_spot(self.base, key, secret, **kw)
        ex.load_markets()
        return ex

    def bybit_linear(self, key: str = KEY, secret: str = SECRET, **kw):
        ex = make_bybit_linear(self.base, key, secret, **kw)
        ex.load_markets()
        return ex


@pytest.fixture(scope="session")
def simulator_url():
    """Base URL of one simulator process shared by the session."""
    port = free_port()
    proc = start_simulator(port)
    yield f"http://127.0.0.1:{port}"
    stop(proc)


@pytest.fixture
def sim(simulator_url) -> Sim:
    """A freshly reset simulator with `test-key`/`test-secret` funded (100k USDT on every venue;
    Bybit's spot and linear share one unified account)."""
    helper = Sim(simulator_url)
    helper.reset()
    helper.balances()
    yield helper
    helper.http.close()
