"""The worker's part of a signal, run in this process against the real PostgreSQL, Redis and
exchange simulator: symbol resolution, SPEC §2.3 classification, the hand-off to the position
lifecycle, what is recorded on the signal and its webhook-log row, and lane repair after a
crash. (The grids themselves are pinned by tests/integration/test_lifecycle_*.py.)"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from server import runtime
from server.clock import utcnow
from server.persistence.models import (
    DcaOrder,
    ExchangeAccount,
    PositionEvent,
    PositionGroup,
    Signal,
    WebhookLog,
)
from server.services import signal_lanes
from server.state.locks import Locks
from tests.signal_support import body, make_account, run_placements, tv_alert


@pytest.fixture
def trader(app, client, make_user, sim):
    user, headers = make_user("trader")
    account = make_account(app, user, market_type="spot", label="Main spot")
    secret = client.post("/api/auth/webhook-secret", headers=headers).json["webhook_secret"]
    return user, headers, secret, account


def _send(client, user, doc) -> Signal:
    r = client.post(f"/api/webhook/{user.id}", data=body(doc), content_type="text/plain")
    assert r.status_code == 202, r.json
    return Signal.get_by_id(r.json["signal_id"])


def _settle(app, signal: Signal) -> Signal:
    """Drive the signal's lane here; if a running stack's worker holds the baton, wait for it."""
    with app.app_context():
        signal_lanes.drive(signal.lane)
    run_placements(app)  # the first leg's follow-up job (no worker runs in this process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        fresh = Signal.get_by_id(signal.id)
        if fresh.status != "received":
            return fresh
        time.sleep(0.05)
    raise AssertionError(f"signal {signal.id} was not processed")


def _sent(group_id=None) -> None:
    """Wait until no DCA leg is pending: the orders go out after the signal is recorded (in
    this process, or in a running stack's worker that took the lane)."""
    deadline = time.monotonic() + 15
    query = DcaOrder.select().where(DcaOrder.status == "pending")
    if group_id is not None:
        query = query.where(DcaOrder.group == group_id)
    while query.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def _cancelled(group_id) -> None:
    """Wait until no entry of the group is working (the cancel runs after the commit)."""
    deadline = time.monotonic() + 15
    working = DcaOrder.select().where(
        (DcaOrder.group == group_id)
        & (DcaOrder.purpose == "entry")
        & DcaOrder.status.in_(["pending", "open", "partially_filled"])
    )
    while working.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # the group is recomputed right after the last cancel


def _log(signal: Signal) -> WebhookLog:
    return WebhookLog.get(WebhookLog.signal == signal.id)


def test_first_entry_opens_a_live_group_and_sends_its_grid(app, client, trader, sim):
    """An entry with no open group: new_group, a group on the signal's account with its first
    pyramid sent (leg 0 filled at market, four limits resting: `partially_filled`), and the
    classification recorded on the signal and its log row."""
    user, headers, secret, account = trader
    sim.price("BTCUSDT", "64250.5")
    client.put("/api/settings", headers=headers, json={"capital": {"max_pyramids": 3}})
    signal = _settle(app, _send(client, user, tv_alert(secret, timeframe="240")))
    _sent()
    (group,) = PositionGroup.select()
    assert (group.account_id, group.symbol, group.timeframe, group.side, group.status) == (
        account.id,
        "BTCUSDT",
        240,
        "long",
        "partially_filled",
    )
    assert group.max_pyramids == 3 and group.exchange == "binance"
    assert (group.pyramid_count, group.total_dca_legs, group.filled_dca_legs) == (1, 5, 1)
    assert (signal.status, signal.classification, signal.group_id) == (
        "processed",
        "new_group",
        group.id,
    )
    assert signal.reason == "new group: pyramid 0 with 5 legs stored and sent (anchor 64250.5)"
    assert signal.arrival_seq >= 1 and signal.processing_seq >= 1
    assert signal.processing_started_at <= signal.processed_at
    row = _log(signal)
    assert (row.status, row.classification, row.group_id) == ("accepted", "new_group", group.id)


def test_pyramid_then_cancel_keeps_what_filled(app, client, trader, sim):
    """A later entry adds pyramid 1 anchored on its own price; a cancel signal cancels every
    unfilled DCA order and keeps the filled legs (the group is `active`); an exit is handed
    to the closing side."""
    user, _, secret, _ = trader
    sim.price("BTCUSDT", "64250.5")
    first = _settle(app, _send(client, user, tv_alert(secret)))
    pyramid = _settle(app, _send(client, user, tv_alert(secret, entry_price="64000")))
    _sent()
    (group,) = PositionGroup.select()
    assert (group.pyramid_count, group.total_dca_legs, group.filled_dca_legs) == (2, 10, 2)
    assert pyramid.reason == (
        "pyramid 1: 5 legs stored and sent (anchor 64000); open group has 1 of 5 pyramids: "
        "adds a pyramid"
    )
    cancel = _settle(
        app, _send(client, user, tv_alert(secret, intent={"type": "cancel", "side": "long"}))
    )
    _cancelled(group.id)
    group = PositionGroup.get_by_id(group.id)
    statuses = sorted(o.status for o in DcaOrder.select().where(DcaOrder.purpose == "entry"))
    assert statuses == ["cancelled"] * 8 + ["filled"] * 2
    assert group.status == "active" and group.filled_dca_legs == 2
    assert _log(cancel).reason == (
        "cancel: the group's unfilled DCA orders are being cancelled; filled quantity is kept"
    )
    exit_ = _settle(
        app,
        _send(client, user, tv_alert(secret, intent={"type": "exit", "side": "long"})),
    )
    assert [s.classification for s in (first, pyramid, cancel, exit_)] == [
        "new_group",
        "pyramid",
        "cancel",
        "exit",
    ]
    assert {s.group_id for s in (first, pyramid, cancel, exit_)} == {group.id}


def test_entry_at_max_pyramids_and_exit_without_group_are_ignored(app, client, trader):
    """A group at max_pyramids ignores another entry; an exit with no group is ignored."""
    user, _, secret, _ = trader
    lonely_exit = _settle(
        app, _send(client, user, tv_alert(secret, intent={"type": "exit", "side": "long"}))
    )
    assert (lonely_exit.classification, lonely_exit.reason) == (
        "ignored",
        "exit: no open group to close",
    )
    _settle(app, _send(client, user, tv_alert(secret)))
    # pyramid_count is recomputed from the legs; the limit is the group's own max_pyramids
    PositionGroup.update(max_pyramids=1).execute()
    full = _settle(app, _send(client, user, tv_alert(secret, entry_price="1")))
    assert full.classification == "ignored"
    assert full.reason == "open group already has 1 of 1 pyramids (max_pyramids): entry ignored"


def test_unknown_symbol_is_rejected_by_the_worker(app, client, trader):
    """A well-formed symbol the exchange does not list is rejected with the reason, in the
    signal and in the webhook log (the intake could not know without asking the exchange)."""
    user, _, secret, _ = trader
    signal = _settle(app, _send(client, user, tv_alert(secret, symbol="NOSUCHCOINUSDT")))
    assert (signal.status, signal.classification) == ("rejected", "rejected")
    assert signal.reason == "unknown symbol: NOSUCHCOINUSDT is not traded on binance spot"
    row = _log(signal)
    assert (row.status, row.classification, row.reason) == ("accepted", "rejected", signal.reason)
    assert PositionGroup.select().count() == 0


def test_account_removed_after_intake(app, client, trader):
    """A signal whose account was deactivated before the worker got to it is rejected."""
    user, _, secret, account = trader
    lane = f"{account.id}:BTCUSDT:60:long"
    with app.app_context():  # keep any running worker off the lane meanwhile
        signal_lanes.lanes().take_baton(lane, "x", 10_000)
    signal = _send(client, user, tv_alert(secret))
    ExchangeAccount.update(is_active=False).where(ExchangeAccount.id == account.id).execute()
    with app.app_context():
        signal_lanes.lanes().release(lane, "x")
    done = _settle(app, signal)
    assert done.reason == "the account was deleted or deactivated after intake"


def test_a_held_baton_defers_to_its_holder(app, client, trader):
    """While another worker holds the lane, a job leaves the signal alone; the lane is then
    worked through in arrival order once it is driven."""
    user, _, secret, account = trader
    lane = f"{account.id}:BTCUSDT:60:long"
    with app.app_context():
        lanes = signal_lanes.lanes()
        assert lanes.take_baton(lane, "someone-else", 10_000)
    first = _send(client, user, tv_alert(secret))
    second = _send(client, user, tv_alert(secret, entry_price="64000"))
    assert first.lane == second.lane == lane
    with app.app_context():
        assert signal_lanes.drive(lane) == 0
        assert Signal.get_by_id(first.id).status == "received"
        lanes.release(lane, "someone-else")
    first, second = _settle(app, first), _settle(app, second)
    assert (first.classification, second.classification) == ("new_group", "pyramid")
    assert first.arrival_seq < second.arrival_seq
    assert first.processing_seq < second.processing_seq


def test_sweep_rejoins_a_signal_that_never_reached_its_lane(app, client, trader, redis_client):
    """A committed signal missing from Redis (web died after commit, or a flush) is re-joined
    by the sweep once it is older than 30 s, and processed."""
    user, _, secret, account = trader
    with app.app_context():  # keep any running worker off the lane until Redis "loses" it
        signal_lanes.lanes().take_baton(f"{account.id}:BTCUSDT:60:long", "x", 10_000)
    signal = _send(client, user, tv_alert(secret))
    for key in redis_client.scan_iter(match="*engine:lane*"):
        redis_client.delete(key)
    with app.app_context():
        assert signal_lanes.sweep() == {"rejoined": 0, "driven": 0}  # too young to be stuck
        Signal.update(created_at=utcnow() - timedelta(seconds=31)).execute()
        result = signal_lanes.sweep()
    assert result["rejoined"] == 1 and result["driven"] == 1
    assert _settle(app, signal).classification == "new_group"


def test_entry_is_held_while_market_rules_cannot_be_had(app, client, trader, monkeypatch):
    """SPEC §3.3 hold: when the market rules cannot be read, the entry is not traded and not
    rejected either — the job fails and the lane is driven again later — until
    precision_hold_seconds (120) have passed; then it is rejected with the reason, and no
    group was ever stored."""
    from server.exchange.errors import TemporaryError
    from server.services import positions, precision
    from server.services.signal_handoff import HoldSignal

    user, _, secret, account = trader
    lane = f"{account.id}:BTCUSDT:60:long"
    with app.app_context():  # keep any running worker off the lane
        signal_lanes.lanes().take_baton(lane, "x", 10_000)
    signal = _send(client, user, tv_alert(secret))

    def unreachable(*_args, **_kwargs):
        raise TemporaryError("exchange unreachable")

    monkeypatch.setattr(positions, "rules_for", unreachable)
    monkeypatch.setattr(precision, "rules_for", unreachable)
    with app.app_context():
        signal_lanes.lanes().release(lane, "x")
        with pytest.raises(HoldSignal):
            signal_lanes.drive(lane)
    assert Signal.get_by_id(signal.id).status == "received"
    Signal.update(created_at=utcnow() - timedelta(seconds=121)).where(
        Signal.id == signal.id
    ).execute()
    with app.app_context():
        signal_lanes.drive(lane)
    done = Signal.get_by_id(signal.id)
    assert (done.status, done.classification) == ("rejected", "rejected")
    assert "unavailable for 120 s (precision_hold_seconds)" in done.reason
    assert PositionGroup.select().count() == 0


def test_a_cancel_that_leaves_nothing_ends_the_group(app, client, trader, sim):
    """Every leg a limit (`entry_order_type: limit`) resting below a market at 64,500: nothing
    fills. A cancel signal cancels all five and — nothing filled, nothing working — the group
    is finished by the close routine's `finish_if_done`: `closed` with its `group_closed`
    event (realised 0, trigger `cancelled`), not left to the take-profit sweep — even while
    another worker holds the group's exit-side lock (so the order hook only enqueues)."""
    user, headers, secret, _ = trader
    sim.price("BTCUSDT", "64500")
    r = client.put("/api/settings", headers=headers, json={"grid": {"entry_order_type": "limit"}})
    assert r.status_code == 200, r.json
    _settle(app, _send(client, user, tv_alert(secret)))
    _sent()
    (group,) = PositionGroup.select()
    assert group.status == "live"
    with app.app_context():
        Locks(runtime.redis_client(), app.config["RQ_QUEUE_PREFIX"]).acquire(
            f"group:{group.id}", 5000
        )
    _settle(app, _send(client, user, tv_alert(secret, intent={"type": "cancel", "side": "long"})))
    _cancelled(group.id)
    deadline = time.monotonic() + 10
    closed = None
    while closed is None and time.monotonic() < deadline:
        closed = PositionEvent.get_or_none(
            (PositionEvent.group == group.id) & (PositionEvent.kind == "group_closed")
        )
        time.sleep(0.05)
    group = PositionGroup.get_by_id(group.id)
    assert closed is not None and closed.detail["trigger"] == "cancelled"
    assert (group.status, group.realized_pnl_usd, group.filled_dca_legs) == ("closed", 0, 0)
    assert group.closed_at is not None
