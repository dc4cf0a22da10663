"""The console's Settings, Logs and Users pages in a real browser against the real stack:
settings validation as you type, the live grid preview, Apply & Restart Engine and its history;
the log filtered by category, exported as CSV and updated live; read-only settings for a viewer;
an admin inviting a user. Screenshots go to test-results/ and are looked at."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

import httpx
from playwright.sync_api import expect

from tests.helpers import GOOD_PASSWORD

WIDTH = {"width": 1280, "height": 900}  # the console must work at 1280 px


def _register(stack, name: str) -> dict:
    r = httpx.post(
        f"{stack.base_url}/api/auth/register",
        json={"email": f"{name}@example.com", "username": name, "password": GOOD_PASSWORD},
    )
    assert r.status_code == 201, r.text
    return r.json()


def _headers(session: dict) -> dict:
    return {"Authorization": f"Bearer {session['access_token']}"}


def _login(page, name: str) -> None:
    page.set_viewport_size(WIDTH)
    page.goto("/login")
    page.get_by_test_id("login-login").fill(name)
    page.get_by_test_id("login-password").fill(GOOD_PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("logout-button")).to_be_visible(timeout=15000)


def _simulated_account(stack, sim, session: dict) -> str:
    """A Binance spot account on the simulator, its key funded there."""
    key, secret = f"E2EKey-{uuid.uuid4().hex[:12]}", f"E2ESecret-{uuid.uuid4().hex}"
    sim.balances(key, {"USDT": "10000"}, secret)
    r = httpx.post(
        f"{stack.base_url}/api/accounts",
        headers=_headers(session),
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
    assert r.status_code == 201, r.text
    assert r.json()["validation"] == {"valid": True, "error": None}
    return r.json()["id"]


def test_trader_validates_previews_and_applies_settings(page, stack, sim, shots_dir):
    """Weights summing to 99 show the field error and disable Apply; fixed, the preview shows
    BTCUSDT's legs at 64,250.5 rounded by the market's rules; applied, history has version 1."""
    _register(stack, "boss")  # the first user is the admin
    trader = _register(stack, "trader1")
    _simulated_account(stack, sim, trader)
    _login(page, "trader1")
    page.get_by_test_id("nav-settings").click()

    weight = page.get_by_test_id("setting-grid.legs.4.weight_percent")
    expect(weight).to_have_value("20", timeout=15000)
    expect(page.get_by_test_id("account-row")).to_have_count(1)
    expect(page.get_by_test_id("account-key").first).not_to_contain_text("E2EKey-")  # masked

    weight.fill("19")
    error = page.get_by_test_id("setting-error-grid.legs")
    expect(error).to_be_visible()
    expect(error).to_contain_text("leg weights sum to 99")
    expect(page.get_by_test_id("legs-sum-grid.legs")).to_have_attribute("data-sum", "99")
    expect(page.get_by_test_id("settings-apply")).to_be_disabled()
    expect(page.get_by_test_id("settings-status")).to_contain_text("Fix 1 field")
    error.scroll_into_view_if_needed()
    page.screenshot(path=str(shots_dir / "settings-weights-99.png"))

    weight.fill("20")
    expect(error).to_have_count(0)
    expect(page.get_by_test_id("settings-apply")).to_be_enabled()

    page.get_by_test_id("preview-symbol").fill("BTCUSDT")
    page.get_by_test_id("preview-price").fill("64,250.5")
    legs = page.get_by_test_id("preview-leg")
    expect(legs).to_have_count(5, timeout=15000)
    expect(page.get_by_test_id("preview-status")).to_have_attribute("data-valid", "true")
    expect(legs.nth(0).get_by_test_id("preview-price")).to_have_text("64,250.5")
    expect(legs.nth(1).get_by_test_id("preview-price")).to_have_text("63,929.24")
    expect(legs.nth(1).get_by_test_id("preview-quantity")).to_have_text("0.00062")
    page.get_by_test_id("grid-preview").scroll_into_view_if_needed()
    page.screenshot(path=str(shots_dir / "settings-preview.png"))

    # 100 USD over 5 pyramids and 5 legs is 4 USD a leg, under BTCUSDT's 5 USD minimum notional:
    # the preview flags the legs with the engine's reason before anything is saved.
    capital = page.get_by_test_id("setting-capital.total_capital_usd")
    capital.fill("100")
    expect(page.get_by_test_id("preview-status")).to_have_attribute("data-valid", "false")
    expect(page.get_by_test_id("preview-reason").first).to_contain_text("notional")
    page.get_by_test_id("grid-preview").scroll_into_view_if_needed()
    page.screenshot(path=str(shots_dir / "settings-preview-invalid.png"))
    capital.fill("10000")
    expect(page.get_by_test_id("preview-status")).to_have_attribute("data-valid", "true")

    page.get_by_test_id("setting-pool.max_open_groups").fill("8")
    expect(page.get_by_test_id("settings-diff-row")).to_have_count(1)
    page.get_by_test_id("settings-apply").click()
    expect(page.get_by_test_id("settings-apply-confirm")).to_be_visible()
    page.wait_for_timeout(400)  # the modal's fade-in
    page.screenshot(path=str(shots_dir / "settings-apply-confirm.png"))
    page.get_by_test_id("settings-apply-confirm").click()

    expect(page.get_by_test_id("settings-version")).to_have_attribute("data-version", "1")
    history = page.get_by_test_id("history-row")
    expect(history).to_have_count(1, timeout=10000)
    expect(history.first).to_have_attribute("data-version", "1")
    expect(page.get_by_test_id("settings-status")).to_contain_text("No unsaved changes")
    saved = httpx.get(f"{stack.base_url}/api/settings", headers=_headers(trader)).json()
    assert saved["version"] == 1 and saved["settings"]["pool"]["max_open_groups"] == 8
    page.get_by_test_id("settings-history").scroll_into_view_if_needed()
    page.screenshot(path=str(shots_dir / "settings-history.png"))


def _write_lines(user_id: str) -> None:
    """Log lines for the user, written straight into the shared database."""
    from server.domain.enums import LogCategory, LogLevel
    from server.services.journal import system_log

    system_log(
        LogLevel.INFO,
        LogCategory.ORDER,
        "BTCUSDT 60m long: leg 0 filled",
        user_id=user_id,
        symbol="BTCUSDT",
    )
    system_log(
        LogLevel.ERROR,
        LogCategory.ORDER,
        "ETHUSDT 15m long: leg 2 rejected: min notional",
        user_id=user_id,
        symbol="ETHUSDT",
    )
    system_log(
        LogLevel.WARNING,
        LogCategory.RISK,
        "risk engine: SOLUSDT timer started",
        user_id=user_id,
        symbol="SOLUSDT",
    )
    system_log(
        LogLevel.CRITICAL, LogCategory.SYSTEM, "exchange unreachable for 60 s", user_id=user_id
    )
    for i in range(30):
        system_log(LogLevel.INFO, LogCategory.WEBHOOK, f"webhook {i} accepted", user_id=user_id)


def test_logs_filter_by_category_export_csv_and_live_lines(app, page, stack, sim, shots_dir):
    """The Logs page filters by category, exports exactly the filtered lines as CSV, pins
    unacknowledged alerts with an Ack button, and shows a new line live; the Webhooks tab
    shows a received alert with its redacted payload and replays it."""
    _register(stack, "boss")
    trader = _register(stack, "logtrader")
    user_id = trader["user"]["id"]
    _simulated_account(stack, sim, trader)
    with app.app_context():
        _write_lines(user_id)
    _login(page, "logtrader")
    page.get_by_test_id("nav-logs").click()

    rows = page.get_by_test_id("log-row")
    expect(rows.first).to_be_visible(timeout=15000)
    expect(page.get_by_test_id("alerts-strip")).to_have_attribute("data-count", "3")
    page.screenshot(path=str(shots_dir / "logs-all.png"))

    page.get_by_test_id("log-filter-category").click()
    page.locator(".n-base-select-option", has_text="ORDER").click()
    page.keyboard.press("Escape")
    expect(rows).to_have_count(2, timeout=10000)
    for i in range(2):
        expect(rows.nth(i)).to_have_attribute("data-category", "ORDER")
    page.screenshot(path=str(shots_dir / "logs-filtered.png"))

    with page.expect_download() as info:
        page.get_by_test_id("log-export-csv").click()
    download = info.value
    assert download.suggested_filename.startswith("logs-") and download.suggested_filename.endswith(
        ".csv"
    )
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert [r["category"] for r in exported] == ["ORDER", "ORDER"]
    assert {r["message"] for r in exported} == {
        "BTCUSDT 60m long: leg 0 filled",
        "ETHUSDT 15m long: leg 2 rejected: min notional",
    }

    # A new ORDER line arrives over Socket.IO and shows without a reload.
    with app.app_context():
        from server.domain.enums import LogCategory, LogLevel
        from server.services.journal import system_log

        system_log(LogLevel.INFO, LogCategory.ORDER, "live: BNBUSDT leg 1 placed", user_id=user_id)
    expect(rows).to_have_count(3, timeout=10000)
    expect(rows.first).to_contain_text("live: BNBUSDT leg 1 placed")

    # Acknowledge the critical alert from the pinned strip.
    critical = page.locator('[data-testid="alert-item"][data-level="CRITICAL"]')
    critical.get_by_test_id("alert-ack").click()
    expect(page.get_by_test_id("alerts-strip")).to_have_attribute("data-count", "2")
    page.screenshot(path=str(shots_dir / "logs-live-acked.png"))

    # The webhook log: a received alert, its stored payload (secret redacted), and a replay.
    rotated = httpx.post(f"{stack.base_url}/api/auth/webhook-secret", headers=_headers(trader))
    secret = rotated.json()["webhook_secret"]
    body = {
        "secret": secret,
        "tv": {"exchange": "BINANCE", "symbol": "SOLUSDT", "timeframe": "15", "action": "buy"},
        "execution_intent": {"type": "entry", "side": "long"},
    }
    sent = httpx.post(rotated.json()["webhook_url"], json=body)
    assert sent.status_code == 202, sent.text
    page.get_by_test_id("logs-tab-webhooks").click()
    hooks = page.get_by_test_id("webhook-row")
    expect(hooks).to_have_count(1, timeout=10000)
    expect(hooks.first).to_have_attribute("data-status", "accepted")
    hooks.first.get_by_test_id("webhook-payload").click()
    payload = page.get_by_test_id("webhook-payload-json")
    expect(payload).to_contain_text("SOLUSDT")
    expect(payload).not_to_contain_text(secret)
    page.wait_for_timeout(400)
    page.screenshot(path=str(shots_dir / "logs-webhook-payload.png"))
    page.keyboard.press("Escape")
    expect(payload).to_have_count(0)

    hooks.first.get_by_test_id("webhook-replay").click()
    page.get_by_test_id("webhook-replay-confirm").click()
    expect(hooks).to_have_count(2, timeout=10000)
    page.screenshot(path=str(shots_dir / "logs-webhooks.png"))


def test_viewer_sees_settings_read_only(app, page, stack, shots_dir):
    """A viewer's settings page shows every value with inputs disabled and no actions."""
    _register(stack, "boss")
    viewer = _register(stack, "viewer1")
    with app.app_context():
        from server.persistence.models import User

        User.update(role="viewer").where(User.id == viewer["user"]["id"]).execute()
    _login(page, "viewer1")
    page.get_by_test_id("nav-settings").click()

    expect(page.get_by_test_id("settings-readonly")).to_be_visible(timeout=15000)
    weight = page.get_by_test_id("setting-grid.legs.0.weight_percent")
    expect(weight).to_have_value("20")
    expect(weight).to_be_disabled()
    expect(page.get_by_test_id("setting-pool.max_open_groups")).to_be_disabled()
    expect(page.get_by_test_id("settings-apply")).to_have_count(0)
    expect(page.get_by_test_id("legs-editor-add")).to_have_count(0)
    expect(page.get_by_test_id("account-add")).to_have_count(0)
    expect(page.get_by_test_id("settings-reset")).to_have_count(0)
    expect(page.get_by_test_id("webhook-secret-rotate")).to_have_count(0)
    page.screenshot(path=str(shots_dir / "settings-viewer.png"))


def test_admin_invites_a_user(page, stack, shots_dir):
    """An admin invites a trader and gets the one-time link with a copy button."""
    _register(stack, "admin1")
    _login(page, "admin1")
    page.get_by_test_id("nav-users").click()
    expect(page.get_by_test_id("user-row")).to_have_count(1, timeout=15000)

    page.get_by_test_id("user-invite").click()
    page.get_by_test_id("invite-email").fill("newbie@example.com")
    page.get_by_test_id("invite-username").fill("newbie")
    page.get_by_test_id("invite-submit").click()
    link = page.get_by_test_id("invite-link")
    expect(link).to_contain_text("/reset-password?token=", timeout=10000)
    expect(page.get_by_test_id("invite-link-copy")).to_be_visible()
    page.screenshot(path=str(shots_dir / "users-invite-link.png"))
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("invite-link")).to_have_count(0)

    row = page.locator('[data-testid="user-row"][data-username="newbie"]')
    expect(row).to_have_attribute("data-role", "trader")
    page.screenshot(path=str(shots_dir / "users-list.png"), full_page=True)


def test_log_list_pages_on_scroll_and_renders_only_visible_rows(app, page, stack, shots_dir):
    """2,600 lines: the list reads further pages as it is scrolled and keeps only the visible
    rows in the DOM (the virtual list that keeps 100,000 lines smooth)."""
    from datetime import timedelta

    from server.clock import utcnow
    from server.persistence.db import db
    from server.persistence.models import SystemLog

    _register(stack, "boss")
    trader = _register(stack, "bulk")
    start = utcnow() - timedelta(hours=1)
    rows = [
        {
            "user": trader["user"]["id"],
            "level": "INFO",
            "category": "ORDER",
            "message": f"bulk line {i:05d}",
            "context": "{}",
            "created_at": start + timedelta(milliseconds=i),
        }
        for i in range(2600)
    ]
    with app.app_context(), db.atomic():
        for chunk in range(0, len(rows), 500):
            SystemLog.insert_many(rows[chunk : chunk + 500]).execute()
    _login(page, "bulk")
    page.get_by_test_id("nav-logs").click()
    listing = page.get_by_test_id("log-list")
    expect(listing).to_have_attribute("data-count", "500", timeout=15000)
    expect(page.get_by_test_id("log-row").nth(1)).to_contain_text("bulk line 02599")

    viewport = page.locator(".log-list .v-vl")
    for _ in range(40):
        viewport.evaluate("el => el.scrollTo(0, el.scrollHeight)")
        page.wait_for_timeout(150)
        if listing.get_attribute("data-count") == "2601":
            break
    expect(listing).to_have_attribute("data-count", "2601")  # and "user bulk registered"
    expect(page.get_by_test_id("log-end")).to_be_visible()
    viewport.evaluate("el => el.scrollTo(0, el.scrollHeight)")
    expect(page.get_by_test_id("log-row").last).to_contain_text("bulk line 00000")
    assert page.get_by_test_id("log-row").count() < 80  # only what is on screen is rendered
    page.screenshot(path=str(shots_dir / "logs-scrolled-to-oldest.png"))
