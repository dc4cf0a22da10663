"""The system log, alerts and the audit log (API.md "Overview, analytics, operations", SPEC §8):
filters, stable cursor paging, streamed exports, acknowledging, who sees what, `log.created`
after commit, and the daily retention job."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

import pytest

from server import events
from server.clock import utcnow
from server.domain.enums import LogCategory, LogLevel
from server.persistence.db import db
from server.persistence.models import AuditLog, SystemLog, WebhookLog
from server.services import journal

BASE = datetime(2026, 11, 21, 10, 0, 0)


def line(user, message="hello", *, level="INFO", category="SYSTEM", symbol=None, at=None, **kw):
    return SystemLog.create(
        user=user.id if user is not None else None,
        level=level,
        category=category,
        message=message,
        symbol=symbol,
        created_at=at or utcnow(),
        **kw,
    )


def messages(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["message"] for item in response.json["items"]]


# --- filters ------------------------------------------------------------------------------------


def test_filters_level_category_search_symbol_and_time(client, make_user):
    """Each filter narrows the list; level and category take comma-separated lists."""
    user, h = make_user("viewer")
    line(user, "order placed BTC", level="INFO", category="ORDER", symbol="BTCUSDT", at=BASE)
    line(
        user,
        "order rejected ETH",
        level="ERROR",
        category="ORDER",
        symbol="ETHUSDT",
        at=BASE + timedelta(minutes=1),
    )
    line(
        user,
        "risk engine closed a loser",
        level="WARNING",
        category="RISK",
        at=BASE + timedelta(minutes=2),
    )
    line(user, "exchange down", level="CRITICAL", category="SYSTEM", at=BASE + timedelta(minutes=3))

    everything = messages(client.get("/api/logs", headers=h))
    assert everything == [
        "exchange down",
        "risk engine closed a loser",
        "order rejected ETH",
        "order placed BTC",
    ]
    assert messages(client.get("/api/logs?level=ERROR,critical", headers=h)) == [
        "exchange down",
        "order rejected ETH",
    ]
    assert messages(client.get("/api/logs?category=ORDER", headers=h)) == [
        "order rejected ETH",
        "order placed BTC",
    ]
    assert messages(client.get("/api/logs?category=ORDER,RISK&level=WARNING,ERROR", headers=h)) == [
        "risk engine closed a loser",
        "order rejected ETH",
    ]
    assert messages(client.get("/api/logs?q=ORDER", headers=h)) == [
        "order rejected ETH",
        "order placed BTC",
    ]
    assert messages(client.get("/api/logs?q=100%25", headers=h)) == []  # % is literal
    assert messages(client.get("/api/logs?symbol=btc/usdt", headers=h)) == ["order placed BTC"]
    window = "from=2026-11-21T10:01:00Z&to=2026-11-21T10:03:00Z"
    assert messages(client.get(f"/api/logs?{window}", headers=h)) == [
        "risk engine closed a loser",
        "order rejected ETH",
    ]


def test_bad_filters_are_422_on_the_field(client, make_user):
    _, h = make_user("viewer")
    r = client.get("/api/logs?level=LOUD", headers=h)
    assert r.status_code == 422 and "level" in r.json["error"]["fields"]
    r = client.get("/api/logs?from=2026-11-21T10:00:00Z&to=2026-11-21T09:00:00Z", headers=h)
    assert r.status_code == 422 and "to" in r.json["error"]["fields"]
    r = client.get("/api/logs?cursor=not-a-cursor", headers=h)
    assert r.status_code == 422 and "cursor" in r.json["error"]["fields"]
    r = client.get("/api/logs?limit=501", headers=h)
    assert r.status_code == 422 and "limit" in r.json["error"]["fields"]


# --- paging -------------------------------------------------------------------------------------


def test_cursor_paging_is_stable_over_more_than_a_page(client, make_user):
    """55 lines (ten share one timestamp) read 20 at a time: every line once, newest first,
    and lines written while paging do not shift the pages already being read."""
    user, h = make_user("viewer")
    for i in range(45):
        line(user, f"line {i:02d}", at=BASE + timedelta(seconds=i))
    for i in range(10):
        line(user, f"same {i}", at=BASE + timedelta(seconds=20))  # ties broken by id

    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/logs?limit=20" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, headers=h).json
        seen += body["items"]
        pages += 1
        if pages == 1:  # a new line arrives after the first page was read
            line(user, "newest", at=BASE + timedelta(hours=1))
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == 55 and len({item["id"] for item in seen}) == 55
    keys = [(item["created_at"], item["id"]) for item in seen]
    assert keys == sorted(keys, reverse=True)
    assert "newest" not in [item["message"] for item in seen]


# --- visibility ---------------------------------------------------------------------------------


def test_other_users_lines_are_invisible_managers_read_them(client, make_user):
    alice, alice_h = make_user("trader")
    bob, bob_h = make_user("trader")
    _, manager_h = make_user("manager")
    line(alice, "alice's line")
    line(bob, "bob's line")
    line(None, "failed login from 10.0.0.1", level="WARNING", category="SECURITY")

    assert messages(client.get("/api/logs", headers=alice_h)) == ["alice's line"]
    assert messages(client.get("/api/logs", headers=bob_h)) == ["bob's line"]
    r = client.get(f"/api/logs?user_id={alice.id}", headers=bob_h)
    assert r.status_code == 403
    assert messages(client.get(f"/api/logs?user_id={alice.id}", headers=manager_h)) == [
        "alice's line"
    ]
    assert client.get("/api/logs?scope=system", headers=manager_h).status_code == 403
    assert client.get(f"/api/logs/export?user_id={alice.id}", headers=bob_h).status_code == 403


def test_admins_also_see_system_wide_lines(client, make_user):
    admin, admin_h = make_user("admin")
    other, _ = make_user("trader")
    line(admin, "admin's own", at=BASE)
    line(None, "failed login", level="WARNING", category="SECURITY", at=BASE + timedelta(1))
    line(other, "someone else's", at=BASE + timedelta(2))
    assert messages(client.get("/api/logs", headers=admin_h)) == ["failed login", "admin's own"]
    assert messages(client.get("/api/logs?scope=system", headers=admin_h)) == ["failed login"]
    assert messages(client.get("/api/logs?scope=mine", headers=admin_h)) == ["admin's own"]
    assert messages(client.get(f"/api/logs?user_id={other.id}", headers=admin_h)) == [
        "someone else's"
    ]


# --- export -------------------------------------------------------------------------------------


def _filtered_fixture(user):
    line(user, "kept one", category="ORDER", level="ERROR", symbol="BTCUSDT", at=BASE)
    line(user, '=HYPERLINK("http://evil")', category="ORDER", at=BASE + timedelta(seconds=1))
    line(user, "dropped", category="RISK", at=BASE + timedelta(seconds=2))


def test_export_csv_applies_the_filter_and_defuses_formulas(client, make_user):
    user, h = make_user("viewer")
    _filtered_fixture(user)
    r = client.get("/api/logs/export?format=csv&category=ORDER", headers=h)
    assert r.status_code == 200
    assert r.mimetype == "text/csv"
    assert 'attachment; filename="logs-' in r.headers["Content-Disposition"]
    text = r.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["message"] for row in rows] == ['\'=HYPERLINK("http://evil")', "kept one"]
    assert rows[1]["level"] == "ERROR" and rows[1]["symbol"] == "BTCUSDT"
    assert rows[1]["created_at"] == "2026-11-21T10:00:00.000Z"
    assert rows[1]["acknowledged"] == "false"


def test_export_json_applies_the_filter(client, make_user):
    user, h = make_user("viewer")
    _filtered_fixture(user)
    r = client.get("/api/logs/export?format=json&category=ORDER&level=ERROR", headers=h)
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = json.loads(r.get_data(as_text=True))
    assert [item["message"] for item in body] == ["kept one"]
    assert set(body[0]) >= {"id", "created_at", "level", "category", "message", "acknowledged"}


def test_export_streams_every_line_past_one_batch(client, make_user):
    """More lines than one read batch (1,000) come out whole, newest first."""
    user, h = make_user("viewer")
    rows = [
        {
            "user": user.id,
            "level": "INFO",
            "category": "SYSTEM",
            "message": f"bulk {i:04d}",
            "context": "{}",
            "created_at": BASE + timedelta(seconds=i),
        }
        for i in range(1203)
    ]
    with db.atomic():
        for chunk in range(0, len(rows), 300):
            SystemLog.insert_many(rows[chunk : chunk + 300]).execute()
    body = json.loads(client.get("/api/logs/export?format=json", headers=h).get_data(True))
    assert len(body) == 1203
    assert body[0]["message"] == "bulk 1202" and body[-1]["message"] == "bulk 0000"
    capped = json.loads(
        client.get("/api/logs/export?format=json&limit=5", headers=h).get_data(True)
    )
    assert len(capped) == 5


# --- alerts -------------------------------------------------------------------------------------


def test_trader_acknowledges_own_alert_only(client, make_user):
    alice, alice_h = make_user("trader")
    bob, bob_h = make_user("trader")
    mine = line(alice, "order failed", level="ERROR")
    theirs = line(bob, "bob's error", level="ERROR")

    r = client.post(f"/api/logs/{mine.id}/ack", headers=alice_h)
    assert r.status_code == 200 and r.json["acknowledged"] is True
    assert SystemLog.get_by_id(mine.id).acknowledged is True
    assert client.post(f"/api/logs/{mine.id}/ack", headers=alice_h).status_code == 200  # again
    assert client.post(f"/api/logs/{theirs.id}/ack", headers=alice_h).status_code == 404
    assert SystemLog.get_by_id(theirs.id).acknowledged is False
    assert client.post("/api/logs/not-a-uuid/ack", headers=alice_h).status_code == 404
    pinned = client.get("/api/logs?acknowledged=false", headers=alice_h).json["items"]
    assert pinned == []
    assert AuditLog.select().where(AuditLog.action == "log.ack").count() == 1
    assert bob_h  # bob's own view is untouched
    assert client.get("/api/logs?acknowledged=false", headers=bob_h).json["items"][0]["id"] == str(
        theirs.id
    )


def test_viewer_cannot_acknowledge(client, make_user):
    viewer, h = make_user("viewer")
    row = line(viewer, "error", level="ERROR")
    r = client.post(f"/api/logs/{row.id}/ack", headers=h)
    assert r.status_code == 403 and r.json["error"]["code"] == "forbidden"
    assert SystemLog.get_by_id(row.id).acknowledged is False


def test_admin_acknowledges_system_wide_lines_and_ack_all(client, make_user):
    _, admin_h = make_user("admin")
    trader, trader_h = make_user("trader")
    system = line(None, "failed login", level="WARNING", category="SECURITY")
    assert client.post(f"/api/logs/{system.id}/ack", headers=trader_h).status_code == 404
    assert client.post(f"/api/logs/{system.id}/ack", headers=admin_h).status_code == 200

    line(trader, "w1", level="WARNING")
    line(trader, "e1", level="ERROR")
    info = line(trader, "just info", level="INFO")
    r = client.post("/api/logs/ack-all", headers=trader_h, json={})
    assert r.status_code == 200 and r.json == {"acknowledged": 2}
    assert SystemLog.get_by_id(info.id).acknowledged is False  # not an alert


# --- live ---------------------------------------------------------------------------------------


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr(
        events,
        "publish",
        lambda event, payload, user_id: sent.append((event, payload, str(user_id))),
    )
    return sent


def test_log_created_is_published_after_commit_only(app, make_user, published):
    user, _ = make_user("trader")
    with app.app_context():
        with db.atomic():
            journal.system_log(LogLevel.ERROR, LogCategory.ORDER, "inside", user_id=user.id)
            assert published == []  # not before the commit
        assert [(e, p["message"], u) for e, p, u in published] == [
            (events.Event.LOG_CREATED, "inside", str(user.id))
        ]
        assert published[0][1]["level"] == "ERROR" and published[0][1]["acknowledged"] is False

        published.clear()
        with pytest.raises(RuntimeError), db.atomic():
            journal.system_log(LogLevel.ERROR, LogCategory.ORDER, "rolled back", user_id=user.id)
            raise RuntimeError("boom")
        assert published == []

        journal.system_log(LogLevel.INFO, LogCategory.SYSTEM, "outside", user_id=user.id)
        assert [p["message"] for _, p, _ in published] == ["outside"]
        published.clear()
        journal.system_log(LogLevel.INFO, LogCategory.SYSTEM, "no user")
        assert published == []  # system-wide lines are not pushed


# --- audit --------------------------------------------------------------------------------------


def test_audit_is_admin_only_and_paged(client, make_user):
    admin, admin_h = make_user("admin")
    _, manager_h = make_user("manager")
    for i in range(7):
        AuditLog.create(
            actor=admin.id,
            action="settings.save",
            detail={"version": i},
            created_at=BASE + timedelta(seconds=i),
        )
    AuditLog.create(actor=admin.id, action="user.login", created_at=BASE + timedelta(minutes=1))
    assert client.get("/api/audit", headers=manager_h).status_code == 403

    first = client.get("/api/audit?action=settings&limit=5", headers=admin_h).json
    assert [i["detail"]["version"] for i in first["items"]] == [6, 5, 4, 3, 2]
    assert first["items"][0]["actor"] == admin.username
    second = client.get(
        f"/api/audit?action=settings&cursor={first['next_cursor']}", headers=admin_h
    ).json
    assert [i["detail"]["version"] for i in second["items"]] == [1, 0]
    assert second["next_cursor"] is None
    login = client.get("/api/audit?action=user.login", headers=admin_h).json["items"]
    assert [i["action"] for i in login] == ["user.login"]


# --- retention ----------------------------------------------------------------------------------


def test_retention_deletes_per_user_settings(app, client, make_user):
    """System and webhook lines older than each user's system retention go, audit lines older
    than the actor's audit retention go; lines without a user keep the defaults (30/90)."""
    from server.services.logs import purge_expired

    short, short_h = make_user("trader")
    default, _ = make_user("trader")
    r = client.put(
        "/api/settings",
        headers=short_h,
        json={"logs": {"system_retention_days": 2, "audit_retention_days": 5}},
    )
    assert r.status_code == 200, r.json
    now = utcnow()
    day = timedelta(days=1)

    old_short = line(short, "3 days old", at=now - 3 * day)
    fresh_short = line(short, "1 day old", at=now - day)
    kept_default = line(default, "10 days old", at=now - 10 * day)
    old_default = line(default, "31 days old", at=now - 31 * day)
    old_system = line(None, "system 31 days", at=now - 31 * day)
    kept_system = line(None, "system 29 days", at=now - 29 * day)
    WebhookLog.create(user=short.id, status="accepted", http_status=202, created_at=now - 3 * day)
    hook_kept = WebhookLog.create(
        user=short.id, status="accepted", http_status=202, created_at=now - day
    )
    AuditLog.create(actor=short.id, action="a.old", created_at=now - 6 * day)
    audit_kept = AuditLog.create(actor=short.id, action="a.new", created_at=now - 4 * day)
    AuditLog.create(actor=default.id, action="d.old", created_at=now - 91 * day)
    AuditLog.create(actor=None, action="n.old", created_at=now - 91 * day)

    with app.app_context():
        report = purge_expired(now).as_dict()
    assert report == {"system_logs": 3, "audit_logs": 3, "webhook_logs": 1}
    left = {row.id for row in SystemLog.select()}
    assert left == {fresh_short.id, kept_default.id, kept_system.id}
    assert old_short.id not in left and old_default.id not in left and old_system.id not in left
    assert [w.id for w in WebhookLog.select()] == [hook_kept.id]
    remaining_audit = {a.action for a in AuditLog.select()}
    assert "a.old" not in remaining_audit and "d.old" not in remaining_audit
    assert audit_kept.action in remaining_audit and "n.old" not in remaining_audit


def test_retention_job_is_scheduled_daily():
    """The scheduler registers the purge once a day, calling the maintenance job."""
    from workers.jobs import maintenance
    from workers.scheduler import PERIODIC_JOBS, register_periodic_jobs

    assert callable(maintenance.purge_logs)
    scheduled = []

    class FakeScheduler:
        def cancel(self, job_id):
            pass

        def schedule(self, **kw):
            scheduled.append(kw)

    class Cfg:
        RQ_QUEUE_PREFIX = "t:"
        PRECISION_REFRESH_SEC = 60
        SIGNAL_LANE_SWEEP_SEC = 10

    cfg = Cfg()
    for _, _, setting in PERIODIC_JOBS:
        if isinstance(setting, str) and not hasattr(cfg, setting):
            setattr(cfg, setting, 60)
    register_periodic_jobs(FakeScheduler(), cfg)
    purge = [s for s in scheduled if s["func"] == "workers.jobs.maintenance.purge_logs"]
    assert len(purge) == 1 and purge[0]["interval"] == 86400
