"""POST /api/positions/<id>/close (API.md, SPEC §4.5) through Flask's test client: the group
is marked `closing` at once and the close goes to a worker (a job on the `orders` queue);
ownership, role and conflicts; equity snapshots from the same groups."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from server import queues
from server.domain.enums import GroupStatus
from server.persistence.models import EquitySnapshot, PositionEvent, PositionGroup
from server.services import equity
from tests.signal_support import make_group


@pytest.fixture
def enqueued(monkeypatch):
    """The jobs the route enqueues, captured (a running stack's workers must not take them)."""
    calls = []
    monkeypatch.setattr(queues, "enqueue", lambda *args, **kw: calls.append(args))
    return calls


def test_close_marks_closing_and_enqueues_the_close(app, client, make_user, enqueued):
    """202 `closing` with a message; the group is `closing` with its event; one close job
    with the reason and the `manual` trigger; a second close is 409."""
    user, headers = make_user("trader")
    group = make_group(app, user)
    r = client.post(f"/api/positions/{group.id}/close", headers=headers)
    assert r.status_code == 202, r.json
    assert r.json["status"] == "closing" and r.json["message"]
    assert r.json["group"]["status"] == "closing"
    assert PositionGroup.get_by_id(group.id).status == GroupStatus.CLOSING.value
    (event,) = PositionEvent.select().where(PositionEvent.group == group.id)
    assert (event.from_status, event.to_status, event.detail["trigger"]) == (
        "active",
        "closing",
        "manual",
    )
    assert event.detail["message"].startswith("BTCUSDT 60m long: active → closing (manual close")
    assert enqueued == [
        (
            queues.ORDERS,
            "workers.jobs.positions.close_position",
            str(group.id),
            f"manual close by {user.username}",
            "manual",
        )
    ]
    again = client.post(f"/api/positions/{group.id}/close", headers=headers)
    assert again.status_code == 409
    assert again.json["error"]["message"] == "the position cannot be closed: it is closing"


def test_finished_groups_are_409_and_others_groups_404(app, client, make_user, enqueued):
    user, headers = make_user("trader")
    _, other_headers = make_user("trader")
    closed = make_group(app, user, status="closed")
    assert client.post(f"/api/positions/{closed.id}/close", headers=headers).status_code == 409
    mine = make_group(app, user)
    assert client.post(f"/api/positions/{mine.id}/close", headers=other_headers).status_code == 404
    _, manager_headers = make_user("manager")  # may read everyone's positions, not close them
    assert (
        client.post(f"/api/positions/{mine.id}/close", headers=manager_headers).status_code == 404
    )
    _, viewer_headers = make_user("viewer")
    assert client.post(f"/api/positions/{mine.id}/close", headers=viewer_headers).status_code == 403
    assert client.post("/api/positions/not-a-uuid/close", headers=headers).status_code == 404
    assert enqueued == []


def test_a_waiting_group_is_closed_at_once(app, client, make_user, enqueued):
    """Nothing of a queued group is at the exchange: it is `closed` in the request."""
    user, headers = make_user("trader")
    group = make_group(app, user, status="waiting")
    r = client.post(f"/api/positions/{group.id}/close", headers=headers)
    assert r.status_code == 202
    assert r.json["status"] == "closed"
    fresh = PositionGroup.get_by_id(group.id)
    assert fresh.status == "closed" and fresh.closed_at is not None
    assert enqueued == []


def test_equity_snapshot_sums_realised_unrealised_and_allocation(app, make_user):
    """Capital 10,000 (default) + realised (2.5 closed + 0.25 from an open group's leg TPs)
    + unrealised of the open groups (−1.5) = 10,001.25; allocated 150 (open groups only)."""
    user, _ = make_user("trader")
    make_group(app, user, status="closed", realized_pnl_usd=D("2.5"), total_invested_usd=D("99"))
    make_group(app, user, realized_pnl_usd=D("0.25"), unrealized_pnl_usd=D("-2"),
           total_invested_usd=D("100"))  # fmt: skip
    make_group(app, user, status="partially_filled", unrealized_pnl_usd=D("0.5"),
           total_invested_usd=D("50"))  # fmt: skip
    with app.app_context():
        assert equity.snapshot_all() == 1
    (snap,) = EquitySnapshot.select()
    assert (snap.equity_usd, snap.realized_usd, snap.unrealized_usd, snap.allocated_usd) == (
        D("10001.25"),
        D("2.75"),
        D("-1.5"),
        D("150"),
    )


def test_group_lock_is_reentrant_here_and_exclusive_elsewhere(app):
    """The close routine's lock: a nested take in the same thread goes through; another
    thread waits and gives up with GroupBusy; after release anyone may take it."""
    import threading

    from server.services.group_lock import GroupBusy, group_lock, is_locked, try_group_lock

    outcome = []

    def other_thread():
        with app.app_context():
            try:
                with group_lock("g-1", wait=0.2):
                    outcome.append("took it")
            except GroupBusy:
                outcome.append("busy")
            outcome.append(try_group_lock("g-1"))

    with app.app_context():
        with group_lock("g-1"), group_lock("g-1"):
            assert is_locked("g-1")
            thread = threading.Thread(target=other_thread)
            thread.start()
            thread.join()
        assert outcome == ["busy", None]
        assert not is_locked("g-1")
        with try_group_lock("g-1"):
            assert is_locked("g-1")
