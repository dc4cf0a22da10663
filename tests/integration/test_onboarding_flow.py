"""Onboarding end to end on the real processes: the simulator account, then the test signal
through the web process's webhook intake, an RQ worker and the simulator, until the position
group is open — what the tour shows the trader."""

from __future__ import annotations

import httpx

from tests.lifecycle_support import wait_for


def test_test_signal_becomes_a_position(stack, sim, make_user):
    """The group opens on the simulated account with its grid sent: the market leg fills at
    once on the simulator, so the group is at least `partially_filled`."""
    sim.reset()  # funds the simulator's demo key again
    _user, h = make_user("trader")
    base = stack.base_url
    r = httpx.post(f"{base}/api/onboarding/simulator-account", headers=h, timeout=20)
    assert r.status_code == 201, r.text
    assert r.json()["validation"]["valid"] is True
    account_id = r.json()["id"]

    r = httpx.post(f"{base}/api/onboarding/test-signal", json={}, headers=h, timeout=20)
    assert r.status_code == 202, r.text

    def opened():
        body = httpx.get(f"{base}/api/onboarding", headers=h, timeout=10).json()
        group = body["test_group"]
        return body if group and group["status"] in ("partially_filled", "active") else None

    body = wait_for(opened, 30, what="the test group to fill its market leg")
    assert body["test_group"]["symbol"] == "BTCUSDT"
    assert body["test_group"]["account_id"] == account_id
    done = {s["key"]: s["done"] for s in body["steps"]}
    assert done == {"exchange_key": True, "capital": False, "webhook": True, "test_signal": True}
    dashboard = httpx.get(f"{base}/api/dashboard", headers=h, timeout=10).json()
    assert dashboard["active_groups"] == 1 and dashboard["pool"]["used"] == 1
    assert dashboard["last_webhook_at"] is not None
