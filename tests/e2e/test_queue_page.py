"""The Queue page in a real browser against the real stack (SPEC §5): the pool drawn as
filled/empty slots, queued signals in priority order, a signal queued while the page is open
appearing live (`queue.updated` over Socket.IO), and a removal after confirmation. A
screenshot goes to test-results/ and is looked at."""

from __future__ import annotations

import time
import uuid

import httpx
from playwright.sync_api import expect

from tests.e2e.test_console_pages import _headers, _login, _register, _simulated_account
from tests.signal_support import tv_alert


def _signal(stack, session: dict, secret: str, timeframe: str) -> None:
    doc = tv_alert(secret, timeframe=timeframe) | {"signal_id": uuid.uuid4().hex}
    r = httpx.post(f"{stack.base_url}/api/webhook/{session['user']['id']}", json=doc)
    assert r.status_code == 202, r.text


def _queued(stack, session: dict, count: int) -> None:
    for _ in range(100):
        r = httpx.get(f"{stack.base_url}/api/queue", headers=_headers(session))
        if len(r.json()["items"]) == count:
            return
        time.sleep(0.2)
    raise AssertionError(f"queue never had {count} signals: {r.json()}")


def test_queue_page_shows_slots_and_updates_live(page, stack, sim, shots_dir):
    name = f"queue_{uuid.uuid4().hex[:8]}"
    session = _register(stack, name)
    sim.price("BTCUSDT", "64250.5")
    _simulated_account(stack, sim, session)
    r = httpx.put(
        f"{stack.base_url}/api/settings",
        headers=_headers(session),
        json={"pool": {"max_open_groups": 2}},
    )
    assert r.status_code == 200, r.text
    secret = httpx.post(
        f"{stack.base_url}/api/auth/webhook-secret", headers=_headers(session)
    ).json()["webhook_secret"]
    for timeframe in ("60", "240", "15"):
        _signal(stack, session, secret, timeframe)
    _queued(stack, session, 1)

    _login(page, name)
    page.get_by_test_id("nav-queue").click()
    expect(page.get_by_test_id("queue-row")).to_have_count(1, timeout=15000)
    slots = page.get_by_test_id("pool-slot")
    expect(slots).to_have_count(2)
    expect(page.locator('[data-testid="pool-slot"][data-state="held"]')).to_have_count(2)
    expect(page.get_by_test_id("pool-count")).to_contain_text("2 of 2 slots used")

    _signal(stack, session, secret, "30")  # arrives while the page is open
    expect(page.get_by_test_id("queue-row")).to_have_count(2, timeout=15000)
    expect(page.get_by_test_id("queue-rank").first).to_have_text("1")
    page.screenshot(path=str(shots_dir / "queue-page.png"), full_page=True)

    page.get_by_test_id("queue-remove").first.click()
    page.get_by_test_id("queue-confirm-remove").click()
    expect(page.get_by_test_id("queue-row")).to_have_count(1, timeout=15000)
    remaining = httpx.get(f"{stack.base_url}/api/queue", headers=_headers(session)).json()
    assert len(remaining["items"]) == 1
