"""The dashboard, the onboarding tour and a scripted tour of every page, in headless Chromium
against the real stack (web, RQ workers, scheduler, price monitor, exchange simulator).
Screenshots go to test-results/ and were looked at."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
from playwright.sync_api import expect

WIDTH = {"width": 1280, "height": 900}  # the console must work at 1280 px
PAGE_MARKS = {
    "dashboard": "dashboard-page",
    "positions": "positions-empty",
    "queue": "queue-page",
    "risk": "risk-enabled",
    "logs": "logs-tab-system",
    "performance": "performance-page",
    "settings": "settings-version",
    "users": "users-page",
}


def _login(page, user, password="Passw0rd-ok") -> None:
    page.set_viewport_size(WIDTH)
    page.goto("/login")
    page.get_by_test_id("login-login").fill(user.username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("dashboard-page")).to_be_visible(timeout=15000)  # the landing page


def _webhook(stack, headers: dict) -> tuple[str, str]:
    rotated = httpx.post(f"{stack.base_url}/api/auth/webhook-secret", headers=headers).json()
    return rotated["webhook_url"], rotated["webhook_secret"]


def _entry(url: str, secret: str, symbol: str = "SOLUSDT") -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "secret": secret,
        "tv": {"exchange": "BINANCE", "symbol": symbol, "timeframe": "15", "time": now},
        "execution_intent": {"type": "entry", "side": "long"},
    }
    r = httpx.post(url, content=json.dumps(body), headers={"Content-Type": "text/plain"})
    assert r.status_code == 202, r.text


def _sim_account(stack, sim, headers: dict) -> str:
    key, secret = f"E2EKey-{uuid.uuid4().hex[:12]}", f"E2ESecret-{uuid.uuid4().hex}"
    sim.balances(key, {"USDT": "10000"}, secret)
    r = httpx.post(
        f"{stack.base_url}/api/accounts",
        headers=headers,
        json={
            "exchange": "binance",
            "market_type": "spot",
            "mode": "simulated",
            "api_key": key,
            "api_secret": secret,
            "label": "Simulator",
        },
        timeout=30,
    )
    assert r.status_code == 201 and r.json()["validation"]["valid"], r.text
    return r.json()["id"]


def _visit_every_page(page, role: str, shots_dir, pages: list[str]) -> None:
    for key in pages:
        page.get_by_test_id(f"nav-{key}").click()
        expect(page.get_by_test_id(PAGE_MARKS[key]).first).to_be_visible(timeout=15000)
        page.wait_for_timeout(300)  # let charts and lists settle for the picture
        page.screenshot(path=str(shots_dir / f"tour-{role}-{key}.png"), full_page=True)


def test_scripted_tour_for_a_trader_and_a_viewer(page, stack, sim, make_user, shots_dir):
    """Every page opens for a trader (with a running engine they can pause, confirmed) and for
    a viewer (read-only: no pause, no acknowledge); Users stays hidden from both; the dark and
    light themes both render."""
    trader, th = make_user("trader")
    _sim_account(stack, sim, th)
    _login(page, trader)
    banner = page.get_by_test_id("engine-banner")
    expect(banner).to_have_attribute("data-state", "running")
    expect(page.get_by_test_id("onboarding")).to_have_count(0)  # has an account: no tour
    expect(page.get_by_test_id("nav-users")).to_have_count(0)
    _visit_every_page(
        page,
        "trader",
        shots_dir,
        ["dashboard", "positions", "queue", "risk", "logs", "performance", "settings"],
    )

    page.get_by_test_id("nav-dashboard").click()
    page.get_by_test_id("engine-pause").click()
    page.get_by_test_id("engine-pause-confirm").click()
    expect(banner).to_have_attribute("data-state", "paused", timeout=10000)
    expect(page.get_by_test_id("engine-action")).to_contain_text("Resume")
    # The pause writes a WARNING line: it shows as an alert at once (log.created).
    expect(page.get_by_test_id("dash-alert")).to_have_count(1, timeout=10000)
    page.screenshot(path=str(shots_dir / "dashboard-paused.png"), full_page=True)
    page.get_by_test_id("theme-toggle").click()
    page.wait_for_timeout(300)
    page.screenshot(path=str(shots_dir / "dashboard-paused-other-theme.png"), full_page=True)
    page.get_by_test_id("engine-resume").click()
    page.get_by_test_id("engine-resume-confirm").click()
    expect(banner).to_have_attribute("data-state", "running", timeout=10000)
    page.get_by_test_id("dash-alert-ack").first.click()
    expect(page.get_by_test_id("dash-alerts-empty")).to_be_visible(timeout=10000)
    page.get_by_test_id("logout-button").click()

    viewer, _ = make_user("viewer")
    _login(page, viewer)
    expect(page.get_by_test_id("engine-pause")).to_have_count(0)
    _visit_every_page(
        page,
        "viewer",
        shots_dir,
        ["dashboard", "positions", "queue", "risk", "logs", "performance", "settings"],
    )


def test_dashboard_live_on_webhook_and_price_move(page, stack, sim, make_user, shots_dir):
    """Open dashboard, then a webhook: the active groups, the pool gauge and the last webhook
    change without a reload. Then the price falls 10 %: the price monitor revalues the group and
    the unrealised PnL turns negative (red, with the minus sign and ▼) on the open page."""
    sim.price("SOLUSDT", "150")
    trader, th = make_user("trader")
    _sim_account(stack, sim, th)
    url, secret = _webhook(stack, th)
    _login(page, trader)
    expect(page.get_by_test_id("dash-active-groups")).to_contain_text("0")
    expect(page.get_by_test_id("dash-pool-text")).to_have_text("0 / 10")
    expect(page.get_by_test_id("dash-webhook-empty")).to_be_visible()

    _entry(url, secret)
    expect(page.get_by_test_id("dash-pool-text")).to_have_text("1 / 10", timeout=15000)
    expect(page.get_by_test_id("dash-active-groups")).to_contain_text("1")
    expect(page.get_by_test_id("dash-last-webhook-time")).to_have_text("just now", timeout=10000)
    page.screenshot(path=str(shots_dir / "dashboard-after-webhook.png"), full_page=True)

    sim.price("SOLUSDT", "135")
    unrealised = page.get_by_test_id("dash-pnl-unrealised")
    expect(unrealised).to_contain_text("\u2212", timeout=20000)
    expect(unrealised).to_have_class("tone-loss")
    expect(page.get_by_test_id("dash-pnl")).to_have_attribute("data-tone", "loss")
    expect(page.get_by_test_id("dash-pnl-total")).to_contain_text("▼")
    page.screenshot(path=str(shots_dir / "dashboard-after-price-move.png"), full_page=True)


def test_onboarding_end_to_end(page, stack, sim, make_user, shots_dir):
    """A new trader without an account lands on the dashboard with the tour open: simulator
    account (checked), a quick-start capital, the webhook URL and template, then the test signal
    that they watch become a position; the tour can be skipped and resumed."""
    sim.reset()  # funds the simulator's demo key
    sim.price("BTCUSDT", "64250.5")
    trader, _ = make_user("trader")
    _login(page, trader)
    tour = page.get_by_test_id("onboarding")
    expect(tour).to_have_attribute("data-step", "exchange_key", timeout=10000)
    page.screenshot(path=str(shots_dir / "onboarding-1-exchange.png"), full_page=True)

    # Skip, then resume where it was.
    page.get_by_test_id("onboarding-skip").click()
    expect(tour).to_have_count(0)
    page.get_by_test_id("onboarding-open").click()
    expect(tour).to_have_attribute("data-step", "exchange_key")

    page.get_by_test_id("onboarding-use-simulator").click()
    check = page.get_by_test_id("onboarding-simulator-check")
    expect(check).to_have_attribute("data-valid", "true", timeout=20000)
    page.get_by_test_id("onboarding-next").click()

    expect(tour).to_have_attribute("data-step", "capital")
    page.get_by_test_id("onboarding-quick-practice").click()
    expect(page.get_by_test_id("onboarding-capital-input")).to_have_value("1000")
    page.get_by_test_id("onboarding-capital-input").fill("0")
    expect(page.get_by_test_id("onboarding-save-capital")).to_be_disabled()
    page.get_by_test_id("onboarding-capital-input").fill("2000")
    page.screenshot(path=str(shots_dir / "onboarding-2-capital.png"), full_page=True)
    page.get_by_test_id("onboarding-save-capital").click()

    expect(tour).to_have_attribute("data-step", "webhook", timeout=10000)
    expect(page.get_by_test_id("onboarding-webhook-url")).to_contain_text(
        f"/api/webhook/{trader.id}"
    )
    expect(page.get_by_test_id("onboarding-template")).to_contain_text("execution_intent")
    expect(page.get_by_test_id("onboarding-copy-template")).to_be_visible()
    page.screenshot(path=str(shots_dir / "onboarding-3-webhook.png"), full_page=True)
    page.get_by_test_id("onboarding-next").click()

    expect(tour).to_have_attribute("data-step", "test_signal")
    page.get_by_test_id("onboarding-send-test").click()
    group = page.get_by_test_id("onboarding-test-group")
    expect(group).to_have_attribute("data-status", "partially_filled", timeout=30000)
    expect(group).to_contain_text("BTCUSDT")
    page.screenshot(path=str(shots_dir / "onboarding-4-test-signal.png"), full_page=True)
    # The dashboard behind it shows the group too, live.
    expect(page.get_by_test_id("dash-pool-text")).to_have_text("1 / 3", timeout=15000)
    page.get_by_test_id("onboarding-finish").click()
    expect(tour).to_have_count(0)
