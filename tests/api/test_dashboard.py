"""`GET /api/dashboard` (API.md "Overview, analytics, operations"; SPEC §4.1, §5, §6, §7):
every figure worked by hand from rows written here, only the caller's own rows, and who may
read whose dashboard."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from server.clock import utcnow
from server.persistence.models import (
    PositionGroup,
    QueuedSignal,
    RiskAction,
    Signal,
    SystemLog,
    WebhookLog,
)
from tests.signal_support import make_account


def group(user, status, realized="0", unrealized="0", symbol="BTCUSDT"):
    return PositionGroup.create(
        user=user.id,
        exchange="binance",
        symbol=symbol,
        timeframe=60,
        side="long",
        status=status,
        realized_pnl_usd=Decimal(realized),
        unrealized_pnl_usd=Decimal(unrealized),
    )


def queued(app, user, account, status="queued"):
    signal = Signal.create(user=user.id, dedupe_key=f"new:{uuid.uuid4()}", payload={})
    return QueuedSignal.create(
        user=user.id,
        account=account.id,
        signal=signal.id,
        symbol="ETHUSDT",
        timeframe=15,
        side="long",
        status=status,
    )


def test_empty_dashboard_of_a_new_user(client, make_user):
    """No rows: zeros, the default pool of 10 (SPEC §5), no webhook, running, risk enabled by
    default and never run, no alerts."""
    _, h = make_user("viewer")
    r = client.get("/api/dashboard", headers=h)
    assert r.status_code == 200, r.json
    d = r.json
    assert d["active_groups"] == 0
    assert d["pool"] == {"used": 0, "max": 10, "free": 10, "queued": 0}
    assert d["queued"] == 0
    assert d["pnl"]["realized_usd"] == "0" and d["pnl"]["unrealized_usd"] == "0"
    assert d["pnl"]["total_usd"] == "0" and d["pnl"]["total_percent"] == "0"
    assert d["last_webhook_at"] is None
    assert d["engine_status"] == "running" and d["engine"]["action"] is None
    assert d["risk"] == {
        "enabled": True,
        "last_run_at": None,
        "next_run_at": None,
        "last_action": None,
    }
    assert d["alerts"] == [] and d["alerts_total"] == 0


def test_figures_worked_by_hand(app, client, make_user):
    """Groups of the trader (another user's rows must not count):

    | status           | realised | unrealised | active? | slot? |
    | active           |  12.5    | −30.25     | yes     | yes   |
    | partially_filled |   0      |  40        | yes     | yes   |
    | closing          |   0      |   5        | yes     | yes   |
    | waiting          |   0      |   0        | yes     | no    |
    | live             |   0      |   0        | yes     | yes   |
    | closed           | 100.1    | 999 (stale, ignored: not open)  |
    | failed           |  −2.35   |   0        | no      | no    |

    active = 5, used = 4 (live, partially_filled, active, closing — SPEC §4.1);
    realised = 12.5 + 100.1 − 2.35 = 110.25; unrealised = −30.25 + 40 + 5 = 14.75;
    total = 125. With capital 3000: 125 / 3000 × 100 = 4.1666…, 8 decimals toward zero →
    4.16666666. Pool max 7 from the settings → free 3. Queued: 2 `queued` rows (a `promoted`
    one does not count)."""
    user, h = make_user("trader")
    other, _ = make_user("trader")
    r = client.put(
        "/api/settings",
        json={
            "capital": {"total_capital_usd": "3000"},
            "pool": {"max_open_groups": 7},
            "risk": {"enabled": False},
        },
        headers=h,
    )
    assert r.status_code == 200, r.json
    with app.app_context():
        group(user, "active", "12.5", "-30.25")
        group(user, "partially_filled", "0", "40")
        group(user, "closing", "0", "5")
        group(user, "waiting")
        group(user, "live")
        group(user, "closed", "100.1", "999")
        group(user, "failed", "-2.35")
        group(other, "active", "1000", "1000")
        account = make_account(app, user)
        queued(app, user, account)
        queued(app, user, account)
        queued(app, user, account, status="promoted")
        other_account = make_account(app, other)
        queued(app, other, other_account)

    d = client.get("/api/dashboard", headers=h).json
    assert d["active_groups"] == 5
    assert d["pool"] == {"used": 4, "max": 7, "free": 3, "queued": 2}
    assert d["queued"] == 2
    assert d["pnl"] == {
        "realized_usd": "110.25",
        "unrealized_usd": "14.75",
        "total_usd": "125",
        "total_percent": "4.16666666",
        "capital_usd": "3000",
    }
    assert d["risk"]["enabled"] is False


def test_negative_total_percent_rounds_toward_zero(app, client, make_user):
    """A loss: unrealised −10 on capital 3000: −10 / 3000 × 100 = −0.3333…, 8 decimals toward
    zero → −0.33333333 (not −0.33333334)."""
    user, h = make_user("trader")
    client.put("/api/settings", json={"capital": {"total_capital_usd": "3000"}}, headers=h)
    with app.app_context():
        group(user, "active", "0", "-10")
    d = client.get("/api/dashboard", headers=h).json
    assert d["pnl"]["total_usd"] == "-10" and d["pnl"]["total_percent"] == "-0.33333333"


def test_last_webhook_risk_action_and_alerts(app, client, make_user):
    """The newest webhook row (whatever its outcome) gives `last_webhook_at`; the newest risk
    action gives the last run; unacknowledged WARNING+ lines are the alerts, newest first."""
    user, h = make_user("trader")
    other, _ = make_user("trader")
    now = utcnow().replace(microsecond=0)
    with app.app_context():
        WebhookLog.create(
            user=user.id, status="accepted", http_status=202, created_at=now - timedelta(minutes=5)
        )
        WebhookLog.create(
            user=user.id,
            status="rejected",
            http_status=401,
            symbol="ETHUSDT",
            created_at=now - timedelta(minutes=1),
        )
        WebhookLog.create(user=other.id, status="accepted", http_status=202, created_at=now)
        RiskAction.create(
            user=user.id,
            trigger="scheduled",
            outcome="insufficient_winners",
            created_at=now - timedelta(minutes=10),
        )
        RiskAction.create(
            user=user.id,
            trigger="manual",
            outcome="executed",
            required_usd=Decimal("12.5"),
            created_at=now - timedelta(minutes=2),
        )
        for i, level in enumerate(["INFO", "WARNING", "ERROR", "CRITICAL"]):
            SystemLog.create(
                user=user.id,
                level=level,
                category="ORDER",
                message=level,
                created_at=now - timedelta(seconds=60 - i),
            )
        SystemLog.create(
            user=user.id,
            level="ERROR",
            category="ORDER",
            message="seen",
            acknowledged=True,
            created_at=now,
        )
        SystemLog.create(user=other.id, level="ERROR", category="ORDER", message="theirs")

    d = client.get("/api/dashboard", headers=h).json
    minute_ago = (now - timedelta(minutes=1)).isoformat(timespec="milliseconds") + "Z"
    assert d["last_webhook_at"] == minute_ago
    assert d["last_webhook"] == {"at": minute_ago, "status": "rejected", "symbol": "ETHUSDT"}
    # The risk block is the risk engine's own status: the rows above were written by hand, no
    # evaluation ran, so there is no last run (nor a next one) — only the newest action.
    assert d["risk"]["last_run_at"] is None
    assert d["risk"]["next_run_at"] is None
    assert d["risk"]["last_action"]["outcome"] == "executed"
    assert d["risk"]["last_action"]["trigger"] == "manual"
    assert d["risk"]["last_action"]["required_usd"] == "12.5"
    assert [a["message"] for a in d["alerts"]] == ["CRITICAL", "ERROR", "WARNING"]
    assert d["alerts_total"] == 3

    # Acknowledging one (the existing endpoint) takes it off the dashboard.
    first = d["alerts"][0]["id"]
    assert client.post(f"/api/logs/{first}/ack", headers=h).status_code == 200
    d = client.get("/api/dashboard", headers=h).json
    assert [a["message"] for a in d["alerts"]] == ["ERROR", "WARNING"]
    # ...and acknowledge-all empties the list.
    assert client.post("/api/logs/ack-all", json={}, headers=h).json["acknowledged"] == 2
    assert client.get("/api/dashboard", headers=h).json["alerts"] == []


def test_who_reads_whose_dashboard(app, client, make_user):
    """Viewers read their own; another user's needs manager (403 below it); an unknown user is
    404; a malformed id is a 422 in the error shape."""
    owner, _ = make_user("trader")
    with app.app_context():
        group(owner, "active", "0", "7")
    _, viewer_h = make_user("viewer")
    _, trader_h = make_user("trader")
    _, manager_h = make_user("manager")

    mine = client.get("/api/dashboard", headers=viewer_h)
    assert mine.status_code == 200 and mine.json["active_groups"] == 0

    r = client.get(f"/api/dashboard?user_id={owner.id}", headers=trader_h)
    assert r.status_code == 403 and r.json["error"]["code"] == "forbidden"

    r = client.get(f"/api/dashboard?user_id={owner.id}", headers=manager_h)
    assert r.status_code == 200 and r.json["active_groups"] == 1
    assert r.json["pnl"]["unrealized_usd"] == "7"

    r = client.get(f"/api/dashboard?user_id={uuid.uuid4()}", headers=manager_h)
    assert r.status_code == 404 and r.json["error"]["code"] == "not_found"

    r = client.get("/api/dashboard?user_id=nope", headers=manager_h)
    assert r.status_code == 422 and "user_id" in r.json["error"]["fields"]

    assert client.get("/api/dashboard").status_code == 401
