"""The worker's part of a signal, run in this process against the real PostgreSQL, Redis and
exchange simulator: symbol resolution, SPEC §2.3 classification, the keep-alive hand-off,
what is recorded on the signal and its webhook-log row, and lane repair after a crash."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from server.clock import utcnow
from server.persistence.models import ExchangeAccount, PositionGroup, Signal, WebhookLog
from server.services import signal_lanes
from tests.signal_support import body, make_account, tv_alert


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
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        fresh = Signal.get_by_id(signal.id)
        if fresh.status != "received":
            return fresh
        time.sleep(0.05)
    raise AssertionError(f"signal {signal.id} was not processed")


def _log(signal: Signal) -> WebhookLog:
    return WebhookLog.get(WebhookLog.signal == signal.id)


def test_first_entry_opens_a_waiting_group(app, client, trader):
    """An entry with no open group: new_group, a waiting group on the signal's account, and
    the classification recorded on the signal and its log row."""
    user, headers, secret, account = trader
    client.put("/api/settings", headers=headers, json={"capital": {"max_pyramids": 3}})
    signal = _settle(app, _send(client, user, tv_alert(secret, timeframe="240")))
    (group,) = PositionGroup.select()
    assert (group.account_id, group.symbol, group.timeframe, group.side, group.status) == (
        account.id,
        "BTCUSDT",
        240,
        "long",
        "waiting",
    )
    assert group.max_pyramids == 3 and group.exchange == "binance"
    assert (signal.status, signal.classification, signal.group_id) == (
        "processed",
        "new_group",
        group.id,
    )
    assert signal.reason == (
        "new group: opened as waiting; grid and orders come with the position lifecycle "
        "not built yet"
    )
    assert signal.arrival_seq >= 1 and signal.processing_seq >= 1
    assert signal.processing_started_at <= signal.processed_at
    row = _log(signal)
    assert (row.status, row.classification, row.group_id) == ("accepted", "new_group", group.id)


def test_pyramid_exit_and_cancel_are_recorded_only(app, client, trader):
    """Later entries are pyramids, exits and cancels are recorded; nothing is closed yet."""
    user, _, secret, _ = trader
    first = _settle(app, _send(client, user, tv_alert(secret)))
    pyramid = _settle(app, _send(client, user, tv_alert(secret, entry_price="64000")))
    exit_ = _settle(
        app,
        _send(client, user, tv_alert(secret, intent={"type": "exit", "side": "long"})),
    )
    cancel = _settle(
        app, _send(client, user, tv_alert(secret, intent={"type": "cancel", "side": "long"}))
    )
    (group,) = PositionGroup.select()
    assert group.status == "waiting" and group.pyramid_count == 0
    assert [s.classification for s in (first, pyramid, exit_, cancel)] == [
        "new_group",
        "pyramid",
        "exit",
        "cancel",
    ]
    assert {s.group_id for s in (first, pyramid, exit_, cancel)} == {group.id}
    assert pyramid.reason == (
        "pyramid (position lifecycle not built yet): open group has 0 of 5 pyramids: adds a pyramid"
    )
    assert (
        exit_.reason
        == "exit recorded; the group is not closed yet (position lifecycle not built yet)"
    )
    assert _log(cancel).reason == (
        "cancel recorded; no DCA order is cancelled yet (position lifecycle not built yet)"
    )


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
    PositionGroup.update(pyramid_count=5).execute()
    full = _settle(app, _send(client, user, tv_alert(secret, entry_price="1")))
    assert full.classification == "ignored"
    assert full.reason == "open group already has 5 of 5 pyramids (max_pyramids): entry ignored"


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
    second = _send(client, user, tv_alert(secret, entry_price="2"))
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
