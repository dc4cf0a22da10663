"""Engine status and controls (API.md `GET /api/engine`, `POST /api/engine/pause|resume|apply`;
SPEC §4.6, §9): the four states with the action to take, pause/resume with their log, audit and
`engine.status` event, Apply & Restart Engine, and roles."""

from __future__ import annotations

import time

import pytest

from server import events
from server.domain.breaker import BreakerState, BreakerStatus
from server.persistence.models import AuditLog, SystemLog
from server.services import engine_state
from server.services.exchanges import breaker_store
from server.services.settings import save_settings
from tests.signal_support import make_account


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr(
        events,
        "publish",
        lambda event, payload, user_id: sent.append((event, payload, str(user_id))),
    )
    return sent


def test_running_then_paused_then_resumed(app, client, make_user, published):
    """Pause: status `paused` with the resume action, a WARNING line, an audit row and one
    `engine.status` event in the REST shape; pausing again changes nothing; resume: `running`
    again, an INFO line and the event."""
    user, h = make_user("trader")
    r = client.get("/api/engine", headers=h)
    assert r.status_code == 200
    assert r.json["status"] == "running" and r.json["action"] is None
    assert r.json["can_pause"] is True and r.json["can_resume"] is False

    r = client.post("/api/engine/pause", headers=h)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "paused" and "Resume" in r.json["action"]
    assert r.json["can_resume"] is True
    with app.app_context():
        assert engine_state.pause_of(user.id)["status"] == "paused: by the trader"
        assert AuditLog.select().where(AuditLog.action == "engine.pause").count() == 1
        lines = [(x.level, x.message) for x in SystemLog.select().where(SystemLog.user == user.id)]
    assert lines == [("WARNING", f"trading paused by {user.username}")]
    status_events = [p for e, p, _ in published if e == events.Event.ENGINE_STATUS]
    assert [p["status"] for p in status_events] == ["paused"]
    assert set(status_events[0]) == set(r.json)  # the event has the REST shape

    again = client.post("/api/engine/pause", headers=h)
    assert again.status_code == 200 and again.json["status"] == "paused"
    assert len([e for e, _, _ in published if e == events.Event.ENGINE_STATUS]) == 1

    r = client.post("/api/engine/resume", headers=h)
    assert r.status_code == 200 and r.json["status"] == "running"
    with app.app_context():
        assert engine_state.pause_of(user.id) is None
        assert AuditLog.select().where(AuditLog.action == "engine.resume").count() == 1
    status_events = [p for e, p, _ in published if e == events.Event.ENGINE_STATUS]
    assert [p["status"] for p in status_events] == ["paused", "running"]
    # Resuming a running engine is harmless.
    assert client.post("/api/engine/resume", headers=h).json["status"] == "running"


def test_invalid_credentials_is_error_and_resume_is_refused(app, client, make_user, published):
    """SPEC §4.6: an authentication failure pauses the user with `error: invalid API
    credentials`; the status says to enter new keys, and resume answers 409 (only keys that
    validate again lift it)."""
    user, h = make_user("trader")
    account = make_account(app, user)
    with app.app_context():
        engine_state.pause_user(
            user.id,
            "the exchange rejected the API key",
            status=engine_state.INVALID_CREDENTIALS,
            account_id=account.id,
        )
    r = client.get("/api/engine", headers=h)
    assert r.json["status"] == "error"
    assert r.json["message"] == "error: invalid API credentials"
    assert "API keys" in r.json["action"] and r.json["account_id"] == str(account.id)
    assert r.json["can_resume"] is False and r.json["can_pause"] is False
    # The worker-side pause announces the same shape.
    sent = [p for e, p, _ in published if e == events.Event.ENGINE_STATUS]
    assert sent and sent[-1]["status"] == "error"

    r = client.post("/api/engine/resume", headers=h)
    assert r.status_code == 409 and r.json["error"]["code"] == "invalid_credentials"
    assert client.get("/api/engine", headers=h).json["status"] == "error"
    assert client.get("/api/dashboard", headers=h).json["engine_status"] == "error"


def test_open_breaker_is_degraded(app, client, make_user):
    """An open circuit breaker on one of the user's accounts: `degraded`, naming the account
    and saying the engine retries by itself; another user's open breaker does not count."""
    user, h = make_user("trader")
    other, _ = make_user("trader")
    mine = make_account(app, user, exchange="bybit", market_type="linear")
    make_account(app, user)
    theirs = make_account(app, other)
    with app.app_context():
        store = breaker_store()
        opened = BreakerState(BreakerStatus.OPEN, 5, time.time(), "HTTP 502 from the exchange")
        store.save(str(theirs.id), opened)
    assert client.get("/api/engine", headers=h).json["status"] == "running"
    with app.app_context():
        breaker_store().save(str(mine.id), opened)
    r = client.get("/api/engine", headers=h).json
    assert r["status"] == "degraded"
    assert "bybit linear (simulated)" in r["message"] and "cool-down" in r["action"]
    breakers = {a["account_id"]: a["breaker"] for a in r["accounts"]}
    assert breakers[str(mine.id)] == "open" and len(breakers) == 2
    assert all("api_key" not in k for a in r["accounts"] for k in a)
    # A pause outranks degraded.
    client.post("/api/engine/pause", headers=h)
    assert client.get("/api/engine", headers=h).json["status"] == "paused"


def test_apply_puts_the_current_version_in_force(app, client, make_user, published):
    """Apply & Restart Engine answers the version in force, logs and audits it, and announces
    the status; nothing else changes (no new settings version)."""
    user, h = make_user("trader")
    with app.app_context():
        save_settings(user, user, {"pool": {"max_open_groups": 4}})
    r = client.post("/api/engine/apply", headers=h)
    assert r.status_code == 200, r.json
    assert r.json["applied_version"] == 1 and r.json["status"] == "running"
    with app.app_context():
        line = SystemLog.get(SystemLog.user == user.id)
        assert line.message == f"settings version 1 applied by {user.username}"
        row = AuditLog.get(AuditLog.action == "engine.apply")
        assert row.detail["version"] == 1
    assert client.get("/api/settings", headers=h).json["version"] == 1
    assert [e for e, _, _ in published].count(events.Event.ENGINE_STATUS) == 1


def test_roles(client, make_user):
    """Viewers read the status but may not pause, resume or apply (403, nothing changes);
    managers read another user's status, traders do not."""
    owner, owner_h = make_user("trader")
    _, viewer_h = make_user("viewer")
    for path in ("/api/engine/pause", "/api/engine/resume", "/api/engine/apply"):
        r = client.post(path, headers=viewer_h)
        assert r.status_code == 403 and r.json["error"]["code"] == "forbidden", path
    assert client.get("/api/engine", headers=viewer_h).json["status"] == "running"

    client.post("/api/engine/pause", headers=owner_h)
    _, manager_h = make_user("manager")
    _, trader_h = make_user("trader")
    assert client.get(f"/api/engine?user_id={owner.id}", headers=manager_h).json["status"] == (
        "paused"
    )
    assert client.get(f"/api/engine?user_id={owner.id}", headers=trader_h).status_code == 403
    # Controls act on the caller's own engine only: the manager's pause leaves the owner's alone.
    client.post("/api/engine/resume", headers=manager_h)
    assert client.get("/api/engine", headers=owner_h).json["status"] == "paused"
