"""A newcomer's first five minutes in a real browser: register, log in, send a webhook, and
watch the new position group appear on the Positions page without reloading."""

from __future__ import annotations

import json

import httpx
from playwright.sync_api import expect

from tests.helpers import GOOD_PASSWORD


def test_register_login_webhook_appears_live(page, stack, sim, shots_dir):
    """The group created by a webhook shows up on the open Positions page by itself, with its
    grid sent to the simulator: the market leg filled, the limits resting."""
    sim.balances("test-key-e2e", {"USDT": "10000"}, "test-secret-e2e")
    page.goto("/register")
    page.get_by_test_id("register-email").fill("trader@example.com")
    page.get_by_test_id("register-username").fill("trader1")
    page.get_by_test_id("register-password").fill(GOOD_PASSWORD)
    page.get_by_test_id("register-submit").click()
    expect(page.get_by_test_id("logout-button")).to_be_visible(timeout=15000)

    page.get_by_test_id("logout-button").click()
    expect(page.get_by_test_id("login-login")).to_be_visible(timeout=10000)
    page.get_by_test_id("login-login").fill("trader1")
    page.get_by_test_id("login-password").fill(GOOD_PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("nav-positions").click()
    expect(page.get_by_test_id("positions-empty")).to_be_visible(timeout=10000)
    webhook_url = page.get_by_test_id("webhook-url").first.inner_text().strip()

    # The secret is shown only on rotation; a curl-like client rotates and sends the signal.
    tokens = httpx.post(
        f"{stack.base_url}/api/auth/login", json={"login": "trader1", "password": GOOD_PASSWORD}
    ).json()
    secret = httpx.post(
        f"{stack.base_url}/api/auth/webhook-secret",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    ).json()["webhook_secret"]
    assert webhook_url.endswith(f"/api/webhook/{tokens['user']['id']}")
    account = httpx.post(
        f"{stack.base_url}/api/accounts",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        json={
            "exchange": "binance",
            "market_type": "spot",
            "mode": "simulated",
            "api_key": "test-key-e2e",
            "api_secret": "test-secret-e2e",
            "label": "Simulator",
        },
    )
    assert account.status_code == 201, account.text  # a signal needs an account to trade on
    body = json.dumps(
        {
            "secret": secret,
            "tv": {"exchange": "BINANCE", "symbol": "SOLUSDT", "timeframe": "15", "action": "buy"},
            "execution_intent": {"type": "entry", "side": "long"},
        }
    )
    r = httpx.post(webhook_url, content=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 202, r.text

    row = page.get_by_test_id("position-row")
    expect(row).to_have_count(1, timeout=15000)
    expect(row.first).to_contain_text("SOLUSDT")
    expect(row.first).to_have_attribute("data-status", "partially_filled", timeout=15000)
    page.screenshot(path=str(shots_dir / "positions-live.png"), full_page=True)


def test_login_error_is_shown(page, stack):
    """A wrong password shows the server's message on the login page."""
    page.goto("/login")
    page.get_by_test_id("login-login").fill("nobody")
    page.get_by_test_id("login-password").fill("Wrong-Passw0rd")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_text("wrong login or password")).to_be_visible(timeout=10000)
