"""The risk endpoints (API.md) through Flask's test client: roles, ownership, validation and
the contract error shape; controls are audited and change only the group they name."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from server import events
from server.clock import isoformat
from server.persistence.models import AuditLog, PositionGroup
from tests.signal_support import make_group


class _Recorder:
    """The Socket.IO emitter's place: `events.publish` runs as it does in production and the
    events it emits land here, serialised to JSON as Socket.IO would send them."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict]] = []

    def emit(self, event, payload, to=None, namespace=None) -> None:
        self.sent.append((event, to, json.loads(json.dumps(payload))))


@pytest.fixture
def emitted():
    previous = events._emitter
    recorder = _Recorder()
    events.use_emitter(recorder)
    yield recorder.sent
    events.use_emitter(previous)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.removesuffix("Z"))


def _error(r, status: int) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)
    body = r.json["error"]
    assert {"code", "message", "fields"} <= set(body)
    return body


def test_panel_lists_open_groups_and_a_plan(app, client, make_user):
    """One open group with no price yet: listed with its flags; the plan acts on nothing."""
    user, headers = make_user("viewer")
    group = make_group(app, user, pyramid_count=1, total_dca_legs=1, filled_dca_legs=1)
    body = client.get("/api/risk", headers=headers).json
    (row,) = body["groups"]
    assert row["group_id"] == str(group.id)
    assert {"loss_percent", "loss_usd", "timer_started_at", "timer_expires_at",
            "pyramids_reached", "age_filter_passed", "eligible", "blocked",
            "skip_once"} <= set(row)  # fmt: skip
    assert row["eligible"] is False and row["timer_expires_at"] is not None
    plan = body["plan"]
    assert {"loser", "required_usd", "winners", "covered_usd", "will_act", "reason"} <= set(plan)
    assert (plan["loser"], plan["will_act"], plan["reason"]) == (None, False, "no_eligible_loser")
    assert {"enabled", "last_run_at", "next_run_at", "last_action"} <= set(body)
    assert client.get("/api/risk/actions", headers=headers).json == {"items": []}


def test_controls_are_owned_audited_and_validated(app, client, make_user):
    user, headers = make_user("trader")
    group = make_group(app, user)
    r = client.post(f"/api/risk/{group.id}/block", headers=headers)
    assert r.status_code == 200 and r.json == {
        "group_id": str(group.id), "blocked": True, "skip_once": False}  # fmt: skip
    assert client.post(f"/api/risk/{group.id}/skip", headers=headers).json["skip_once"] is True
    assert client.post(f"/api/risk/{group.id}/unblock", headers=headers).json["blocked"] is False
    with app.app_context():
        fresh = PositionGroup.get_by_id(group.id)
        assert (fresh.risk_blocked, fresh.risk_skip_once) == (False, True)
        actions = [a.action for a in AuditLog.select().order_by(AuditLog.created_at)]
    assert actions == ["risk.block", "risk.skip", "risk.unblock"]

    _, other = make_user("trader")
    assert _error(client.post(f"/api/risk/{group.id}/block", headers=other), 404)
    assert _error(client.post("/api/risk/not-a-uuid/skip", headers=headers), 404)
    _, viewer = make_user("viewer")
    assert _error(client.post(f"/api/risk/{group.id}/block", headers=viewer), 403)
    assert _error(client.post("/api/risk/run", headers=viewer), 403)
    closed = make_group(app, user, status="closed")
    assert "closed" in _error(client.post(f"/api/risk/{closed.id}/block", headers=headers),
                              409)["message"]  # fmt: skip
    for bad in ("0", "501", "x", "-1"):
        body = _error(client.get(f"/api/risk/actions?limit={bad}", headers=headers), 422)
        assert "limit" in body["fields"]
    assert _error(client.get("/api/risk"), 401)


def test_run_now_while_trading_is_paused_sends_nothing(app, client, make_user):
    """A −7 % loser (10 held at avg 100, price 93: −70 USD) past its timer and a +80 USD winner
    (10 at avg 100, price 108): the plan would act (80 ≥ 70), but the user's trading is paused
    (bad credentials), so Run Now records nothing and no order row is made."""
    from datetime import timedelta
    from decimal import Decimal as D

    from server.clock import utcnow
    from server.persistence.models import DcaOrder, RiskAction
    from server.services import engine_state
    from tests.signal_support import make_account

    user, headers = make_user("trader")
    account = make_account(app, user)
    started = utcnow() - timedelta(hours=2)
    common = dict(user=user.id, account=account.id, exchange="binance", timeframe=60,
                  side="long", status="active", pyramid_count=5, total_dca_legs=5,
                  filled_dca_legs=5, weighted_avg_entry=D("100"), total_filled_quantity=D("10"),
                  total_invested_usd=D("1000"), risk_timer_started_at=started)  # fmt: skip
    with app.app_context():
        loser = PositionGroup.create(symbol="BTCUSDT", last_price=D("93"),
                                     unrealized_pnl_usd=D("-70"), unrealized_pnl_percent=D("-7"),
                                     **common)  # fmt: skip
        PositionGroup.create(symbol="ETHUSDT", last_price=D("108"), unrealized_pnl_usd=D("80"),
                             unrealized_pnl_percent=D("8"), **common)  # fmt: skip
        engine_state.pause_user(user.id, "invalid API credentials")
    body = client.post("/api/risk/run", headers=headers).json
    assert body["outcome"] == "no_action" and body["reason"].startswith("trading is paused")
    assert body["plan"]["loser"] == str(loser.id) and body["plan"]["will_act"] is True
    with app.app_context():
        assert RiskAction.select().count() == 0 and DcaOrder.select().count() == 0


def test_a_run_and_a_control_announce_the_change_without_the_panel(app, client, make_user,
                                                                    emitted):  # fmt: skip
    """`risk.updated` after Run Now and after a control is a notice — who, why, the outcome and
    the schedule — not the panel: no group rows, a few hundred bytes. The next run is the
    last one plus the default `evaluation_interval_sec` (60 s), as `GET /api/risk` says."""
    user, headers = make_user("trader")
    group = make_group(app, user, pyramid_count=1, total_dca_legs=1, filled_dca_legs=1)
    assert client.post("/api/risk/run", headers=headers).json["outcome"] == "no_action"
    ((room, notice),) = [(to, p) for e, to, p in emitted if e == "risk.updated"]
    assert room == f"user:{user.id}"
    assert set(notice) == {"user_id", "cause", "outcome", "enabled", "last_run_at",
                           "next_run_at"}  # fmt: skip
    assert (notice["user_id"], notice["cause"], notice["outcome"], notice["enabled"]) == (
        str(user.id), "manual", "no_action", True)  # fmt: skip
    assert _at(notice["next_run_at"]) - _at(notice["last_run_at"]) == timedelta(seconds=60)
    panel = client.get("/api/risk", headers=headers).json
    assert (panel["last_run_at"], panel["next_run_at"]) == (
        notice["last_run_at"], notice["next_run_at"])  # fmt: skip
    assert len(json.dumps(notice)) < 300

    emitted.clear()
    assert client.post(f"/api/risk/{group.id}/block", headers=headers).status_code == 200
    ((_, notice),) = [(to, p) for e, to, p in emitted if e == "risk.updated"]
    assert (notice["cause"], notice["outcome"]) == ("block", None)
    assert notice["last_run_at"] == panel["last_run_at"]  # a control is not a run


def test_a_timer_no_evaluation_stored_yet_starts_at_the_next_one(app, client, make_user):
    """All legs filled (the default start condition holds) but no evaluation has run: the
    panel flags the timer `timer_pending` — it starts at the next evaluation, it does not
    count down. After Run Now the timer is stored: no longer pending, and its start is the
    stored one, which later reads repeat. A group whose legs are not all filled has no timer
    and nothing pending."""
    user, headers = make_user("trader")
    full = make_group(app, user, pyramid_count=1, total_dca_legs=2, filled_dca_legs=2)
    partial = make_group(app, user, pyramid_count=1, total_dca_legs=2, filled_dca_legs=1)

    def rows() -> dict:
        body = client.get("/api/risk", headers=headers).json
        return {r["group_id"]: r for r in body["groups"]}

    before = rows()
    assert before[str(full.id)]["timer_pending"] is True
    assert before[str(partial.id)]["timer_pending"] is False
    assert before[str(partial.id)]["timer_started_at"] is None

    assert client.post("/api/risk/run", headers=headers).status_code == 200
    with app.app_context():
        stored = PositionGroup.get_by_id(full.id).risk_timer_started_at
    assert stored is not None
    after, again = rows(), rows()
    row = after[str(full.id)]
    assert row["timer_pending"] is False
    assert row["timer_started_at"] == isoformat(stored)
    assert _at(row["timer_expires_at"]) - _at(row["timer_started_at"]) == timedelta(minutes=60)
    assert again[str(full.id)]["timer_started_at"] == row["timer_started_at"]
    assert after[str(partial.id)]["timer_pending"] is False
