"""The first-login tour (issue #9 "Onboarding"): progress read from the user's real data, the
simulator account added through the real connectivity check, and the test signal through the
real webhook intake (only ever to the user's own simulated account)."""

from __future__ import annotations

from server.persistence.models import ExchangeAccount, Signal, WebhookLog
from tests.signal_support import make_account


def steps(body: dict) -> dict:
    return {s["key"]: s["done"] for s in body["steps"]}


def test_new_user_starts_at_the_exchange_key(client, make_user):
    user, h = make_user("trader")
    r = client.get("/api/onboarding", headers=h)
    assert r.status_code == 200
    assert steps(r.json) == {
        "exchange_key": False,
        "capital": False,
        "webhook": False,
        "test_signal": False,
    }
    assert r.json["current"] == "exchange_key" and r.json["complete"] is False
    assert r.json["has_account"] is False and r.json["simulator_account"] is None
    assert r.json["webhook_url"].endswith(f"/api/webhook/{user.id}")
    assert r.json["settings"]["max_open_groups"] == 10  # the SPEC §5 default, not yet saved


def test_simulator_account_then_capital_then_test_signal(app, client, make_user, sim):
    """Step 1 adds the simulator account through the real connectivity check (ccxt → the
    simulator); adding it again reuses it. Step 2 is done once settings are saved. The test
    signal is accepted by the webhook intake (202), logged in the webhook log with the secret
    redacted, names the simulated account, and marks the webhook step done."""
    user, h = make_user("trader")
    r = client.post("/api/onboarding/test-signal", json={}, headers=h)
    assert r.status_code == 409 and r.json["error"]["code"] == "no_simulator_account"

    r = client.post("/api/onboarding/simulator-account", headers=h)
    assert r.status_code == 201, r.json
    assert r.json["mode"] == "simulated" and r.json["validation"] == {"valid": True, "error": None}
    again = client.post("/api/onboarding/simulator-account", headers=h)
    assert again.status_code == 200 and again.json["id"] == r.json["id"]
    with app.app_context():
        assert ExchangeAccount.select().where(ExchangeAccount.user == user.id).count() == 1
    progress = client.get("/api/onboarding", headers=h).json
    assert steps(progress)["exchange_key"] is True and progress["current"] == "capital"

    client.put(
        "/api/settings",
        json={"capital": {"total_capital_usd": "2000"}, "pool": {"max_open_groups": 3}},
        headers=h,
    )
    progress = client.get("/api/onboarding", headers=h).json
    assert progress["current"] == "webhook"
    assert progress["settings"] == {"version": 1, "total_capital_usd": "2000", "max_open_groups": 3}

    r = client.post("/api/onboarding/test-signal", json={}, headers=h)
    assert r.status_code == 202, r.json
    assert (
        r.json["status"] == "accepted"
        and r.json["account_id"] == progress["simulator_account"]["id"]
    )
    with app.app_context():
        row = WebhookLog.get(WebhookLog.user == user.id)
        assert row.status == "accepted" and row.authenticated is True
        assert row.payload["secret"] == "***"
        assert row.payload["execution_intent"]["account"] == r.json["account_id"]
        signal = Signal.get(Signal.user == user.id)
        assert str(signal.account_id) == r.json["account_id"] and signal.symbol == "BTCUSDT"
    progress = client.get("/api/onboarding", headers=h).json
    assert steps(progress)["webhook"] is True and progress["current"] == "test_signal"


def test_test_signal_never_goes_to_a_live_account(app, client, make_user, sim):
    """A user with a live-mode account and a simulated one: the test signal names the simulated
    account, so the intake routes it there even though both would fit a Binance spot alert."""
    user, h = make_user("trader")
    make_account(app, user, mode="live", label="Real money")
    sim_account = make_account(app, user, mode="simulated", label="Practice")
    r = client.post("/api/onboarding/test-signal", json={"symbol": "ETHUSDT"}, headers=h)
    assert r.status_code == 202, r.json
    assert r.json["account_id"] == str(sim_account.id)
    with app.app_context():
        assert str(Signal.get(Signal.user == user.id).account_id) == str(sim_account.id)


def test_input_and_roles(client, make_user):
    """A symbol that is not a USDT pair is a 422 naming the field; viewers may read their
    progress but not add accounts or send signals."""
    _, h = make_user("trader")
    r = client.post("/api/onboarding/test-signal", json={"symbol": "BTC; DROP"}, headers=h)
    assert r.status_code == 422 and "symbol" in r.json["error"]["fields"]
    _, viewer = make_user("viewer")
    assert client.get("/api/onboarding", headers=viewer).status_code == 200
    for path in ("/api/onboarding/simulator-account", "/api/onboarding/test-signal"):
        assert client.post(path, json={}, headers=viewer).status_code == 403, path
