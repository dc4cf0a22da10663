"""The Risk page in a real browser against the real stack: two groups opened through webhooks
(BTCUSDT losing −6.993 %, ETHUSDT winning +2.997 %; numbers as in
tests/integration/test_risk_engine.py), their risk lines with a live timer, the projected plan,
and a block confirmed through the page."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from server.persistence.models import User
from tests.integration.test_risk_engine import GROUPS, SETTINGS, _open_groups, _post
from tests.lifecycle_support import make_trader


def test_trader_sees_the_panel_and_blocks_a_group(app, page, stack, sim, make_user, shots_dir):
    trader = make_trader(app, stack, make_user, settings=SETTINGS)
    groups = _open_groups(trader, sim, GROUPS[:2])
    # The first scheduled evaluation may have run before the groups were filled, and the next
    # is a day away (SETTINGS): an evaluation now starts the loser's 60-minute timer.
    assert _post(trader, "/api/risk/run").status_code == 200
    with app.app_context():
        name = User.get_by_id(trader.user_id).username
    page.goto("/login")
    page.get_by_test_id("login-login").fill(name)
    page.get_by_test_id("login-password").fill("Passw0rd-ok")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("logout-button")).to_be_visible(timeout=15000)
    page.get_by_test_id("nav-risk").click()

    rows = page.get_by_test_id("risk-row")
    expect(rows).to_have_count(2, timeout=15000)
    loser = page.locator(f'[data-group="{groups["BTCUSDT"]["id"]}"]')
    expect(loser).to_contain_text("−6.99")
    # the stored 60-minute timer counts down (mm:ss)
    timer = loser.get_by_test_id("risk-timer")
    expect(timer).to_have_text(re.compile(r"^\d{2}:\d{2}$"), timeout=20000)
    first = timer.inner_text()
    page.wait_for_timeout(1500)
    assert timer.inner_text() != first
    expect(page.get_by_test_id("risk-plan")).to_contain_text("Nothing to do")

    loser.get_by_test_id("risk-block").click()
    page.get_by_role("button", name="Yes").click()
    expect(loser.get_by_test_id("risk-unblock")).to_be_visible(timeout=10000)
    expect(loser.get_by_test_id("risk-eligible")).to_contain_text("blocked")
    page.screenshot(path=str(shots_dir / "risk-page.png"))
