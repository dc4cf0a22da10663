"""Helpers for the position-lifecycle tests on the real stack: a trader with a simulated
account on a funded simulator key, webhooks over HTTP, polling the positions API, and reading
what reached the simulator."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

import httpx

from server import runtime
from server.domain.enums import OrderPurpose
from server.domain.grid import parse_client_order_id
from server.persistence.models import ExchangeAccount
from server.services import settings as settings_service
from tests.signal_support import tv_alert


@dataclass
class Trader:
    base: str
    user_id: str
    headers: dict
    webhook_url: str
    secret: str
    account_id: str
    key: str

    def signal(self, intent: dict | None = None, **tv) -> dict:
        """Post one TradingView alert (rendered as TradingView does); returns the answer."""
        doc = tv_alert(self.secret, intent, **tv) | {"signal_id": uuid.uuid4().hex}
        r = httpx.post(self.webhook_url, json=doc, timeout=10)
        assert r.status_code == 202, r.text
        return r.json()

    def get(self, path: str) -> dict:
        r = httpx.get(f"{self.base}{path}", headers=self.headers, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def groups(self, status: str = "all") -> list[dict]:
        return self.get(f"/api/positions?status={status}")["items"]

    def position(self, group_id: str) -> dict:
        return self.get(f"/api/positions/{group_id}")


def make_trader(
    app,
    stack,
    make_user,
    *,
    exchange: str = "binance",
    market_type: str = "spot",
    key: str = "test-key",
    secret: str = "test-secret",
    settings: dict | None = None,
) -> Trader:
    """A trader (made in-process: HTTP registration is rate-limited) with a webhook secret,
    `settings` laid over the defaults, and one active simulated account on `key`."""
    user, headers = make_user("trader")
    with app.app_context():
        if settings:
            settings_service.save_settings(user, user, settings)
        vault = runtime.vault()
        account = ExchangeAccount(
            user=user.id,
            exchange=exchange,
            market_type=market_type,
            mode="simulated",
            label=f"{exchange}-{market_type}-{uuid.uuid4().hex[:4]}",
            api_key_masked=f"{key[:4]}…",
        )
        account.api_key_enc = vault.encrypt(key, f"account:{account.id}:api_key")
        account.api_secret_enc = vault.encrypt(secret, f"account:{account.id}:api_secret")
        account.save(force_insert=True)
    rotated = httpx.post(f"{stack.base_url}/api/auth/webhook-secret", headers=headers).json()
    return Trader(
        stack.base_url,
        str(user.id),
        headers,
        rotated["webhook_url"],
        rotated["webhook_secret"],
        str(account.id),
        key,
    )


def wait_for(probe, timeout: float = 20.0, interval: float = 0.2, what: str = "condition"):
    """Call `probe` until it returns something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def only_group(trader: Trader, timeout: float = 20.0) -> dict:
    """The trader's one group, once the worker has opened it."""
    groups = wait_for(lambda: trader.groups(), timeout, what="a group")
    assert len(groups) == 1, groups
    return groups[0]


def legs(detail: dict, pyramid: int = 0, purpose: str = "entry") -> list[dict]:
    """The pyramid's orders of one purpose (its DCA legs by default), by leg."""
    found = next(p for p in detail["pyramids"] if p["index"] == pyramid)["legs"]
    return [leg for leg in found if leg["purpose"] == purpose]


def settled(trader: Trader, group_id: str, status: str, timeout: float = 25.0, **more) -> dict:
    """Wait until the group has `status` (and every `more` field equals its value)."""

    def probe():
        detail = trader.position(group_id)
        ok = detail["status"] == status and all(detail.get(k) == v for k, v in more.items())
        return detail if ok else None

    return wait_for(probe, timeout, what=f"group {status} {more}")


def sim_orders(sim, key: str = "test-key", **query) -> list[dict]:
    """What reached the simulator for `key`, oldest first."""
    return sim.orders(api_key=key, **query)


def entries(sim, key: str = "test-key", venue: str | None = None) -> list[dict]:
    """The DCA entry orders (client id purpose `e`) the simulator accepted for `key` (requests
    it refused — 429, bad key, insufficient funds — are in its log as REJECTED: left out)."""
    rows = sim_orders(sim, key, **({"venue": venue} if venue else {}))
    return [
        r
        for r in rows
        if _purpose(r["client_order_id"]) == OrderPurpose.ENTRY and r["status"] != "REJECTED"
    ]


def _purpose(client_id: str | None):
    ref = parse_client_order_id(client_id or "")
    return ref.purpose if ref else None


def D(text) -> Decimal:
    return Decimal(str(text))
