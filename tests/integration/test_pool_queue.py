"""The execution pool and the queue (SPEC §5) in this process, against the real PostgreSQL,
Redis and exchange simulator: queueing when the pool is full, replacement, exit drops, live
re-scoring, promotion on a slot release anchored at the market, manual actions over the API,
expiry and the rebuild after Redis lost its copy. (Races with real workers:
tests/integration/test_pool_concurrency.py.)"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
import redis

from server.clock import utcnow
from server.persistence.models import (
    AuditLog,
    PositionGroup,
    Pyramid,
    QueuedSignal,
    Signal,
    SystemLog,
    WebhookLog,
)
from server.services import closing, pool, queue_sweep, signal_lanes
from tests.conftest import TEST_REDIS
from tests.signal_support import body, make_account, tv_alert


@pytest.fixture
def trader(app, client, make_user, sim):
    user, headers = make_user("trader")
    account = make_account(app, user, market_type="spot", label="Main spot")
    secret = client.post("/api/auth/webhook-secret", headers=headers).json["webhook_secret"]
    return user, headers, secret, account


def _send(app, client, user, doc) -> Signal:
    r = client.post(f"/api/webhook/{user.id}", data=body(doc), content_type="text/plain")
    assert r.status_code == 202, r.json
    signal = Signal.get_by_id(r.json["signal_id"])
    with app.app_context():
        signal_lanes.drive(signal.lane)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        fresh = Signal.get_by_id(signal.id)
        if fresh.status != "received":
            return fresh
        time.sleep(0.05)
    raise AssertionError("signal not processed")


def _entry(secret, tf, price="64250.5"):
    return tv_alert(secret, timeframe=str(tf), entry_price=price)


def _settings(client, headers, **pool_settings):
    r = client.put("/api/settings", headers=headers, json={"pool": pool_settings})
    assert r.status_code == 200, r.json


def test_full_pool_queues_replaces_and_exit_drops(app, client, trader, sim):
    """max_open_groups 2: two lanes open groups, the third entry is queued; a later entry of
    that lane replaces it (same queued_at, one more replacement, the first signal becomes
    `replaced`); an exit of that lane drops the queued entry."""
    user, headers, secret, account = trader
    sim.price("BTCUSDT", "64250.5")
    _settings(client, headers, max_open_groups=2)
    opened = [_send(app, client, user, _entry(secret, tf)) for tf in (60, 240)]
    assert [s.classification for s in opened] == ["new_group", "new_group"]
    first = _send(app, client, user, _entry(secret, 15))
    assert first.classification == "queued"
    assert first.reason == (
        "queued: the pool is full (2 of 2 slots); the new group waits for a slot (SPEC §5)"
    )
    assert PositionGroup.select().count() == 2
    (row,) = QueuedSignal.select()
    queued_at = row.queued_at
    assert (row.symbol, row.timeframe, row.side, row.entry_price) == (
        "BTCUSDT", 15, "long", Decimal("64250.5"),
    )  # fmt: skip

    pool_view = client.get("/api/pool", headers=headers).json
    assert (pool_view["max_open_groups"], pool_view["used"], pool_view["free"]) == (2, 2, 0)
    assert sorted(pool_view["groups"]) == sorted(str(g.id) for g in PositionGroup.select())
    (item,) = client.get("/api/queue", headers=headers).json["items"]
    # expected profit: group capital 10000 / 2 = 5000; default grid Σ weight × tp = 20×1 +
    # 4 × 20×0.5 = 60 → 5000 × 60 / 10000 = 30.00 USD.
    assert item | {"queued_at": None, "time_in_queue_seconds": None} == {
        "id": str(row.id), "signal_id": str(first.id), "account_id": str(account.id),
        "symbol": "BTCUSDT", "timeframe": 15, "side": "long", "entry_price": "64250.5",
        "replacement_count": 0, "current_loss_percent": item["current_loss_percent"],
        "expected_profit_usd": "30.00", "queued_at": None, "time_in_queue_seconds": None,
        "priority_rank": 1, "is_pyramid_continuation": False,
    }  # fmt: skip

    second = _send(app, client, user, _entry(secret, 15, price="64000"))
    assert second.classification == "queued"
    assert "replaces the queued entry of this lane (replacement 1)" in second.reason
    row = QueuedSignal.get_by_id(row.id)
    assert (row.signal_id, row.replacement_count, row.entry_price, row.queued_at) == (
        second.id, 1, Decimal("64000"), queued_at,
    )  # fmt: skip
    first = Signal.get_by_id(first.id)
    assert first.classification == "replaced"
    assert WebhookLog.get(WebhookLog.signal == first.id).classification == "replaced"

    exit_ = _send(
        app, client, user,
        tv_alert(secret, timeframe="15", intent={"type": "exit", "side": "long"}),
    )  # fmt: skip
    assert exit_.classification == "exit"
    assert "dropped from the queue" in exit_.reason
    row = QueuedSignal.get_by_id(row.id)
    assert row.status == "dropped" and row.finished_at is not None
    assert Signal.get_by_id(second.id).classification == "dropped"
    assert client.get("/api/queue", headers=headers).json["items"] == []
    with app.app_context():
        assert pool.usage(user.id) == {"used": 2, "max": 2, "free": 0, "queued": 0}


def test_sweep_rescores_then_a_release_promotes_at_the_market(app, client, trader, sim):
    """Two queued lanes: the sweep reads the live price and ranks the deeper loss first; a
    close frees a slot and, in the same call, the top signal opens its group anchored at the
    market price (promotion_anchor `market`).

    Worked by hand: price 63360. Lane 15 queued at 64000 → (63360 − 64000)/64000 = −1.00 %;
    lane 30 queued at 63680 → (63360 − 63680)/63680 = −0.5025… → −0.51 % (rounded down).
    Lane 30 was queued first, but lane 15 has the deeper loss: rank 1."""
    user, headers, secret, _ = trader
    sim.price("BTCUSDT", "64250.5")
    _settings(client, headers, max_open_groups=1)
    _send(app, client, user, _entry(secret, 60))
    (group,) = PositionGroup.select()
    assert _send(app, client, user, _entry(secret, 30, "63680")).classification == "queued"
    assert _send(app, client, user, _entry(secret, 15, "64000")).classification == "queued"
    sim.price("BTCUSDT", "63360")
    expected = [(15, "-1.00", 1), (30, "-0.51", 2)]

    def ranked():
        # a running stack's price monitor may hold the old price for up to one cycle
        with app.app_context():
            queue_sweep.sweep()
        items = client.get("/api/queue", headers=headers).json["items"]
        seen = [(i["timeframe"], i["current_loss_percent"], i["priority_rank"]) for i in items]
        return seen if seen == expected else None

    deadline = time.monotonic() + 10
    while ranked() is None and time.monotonic() < deadline:
        time.sleep(0.3)
    assert ranked() == expected
    with app.app_context():
        closed = closing.close_group(group.id, reason="test close", trigger="manual")
    assert closed.status == "closed"
    promoted = PositionGroup.get(PositionGroup.timeframe == 15)
    assert promoted.status in ("live", "partially_filled", "active")
    pyramid = Pyramid.get(Pyramid.group == promoted.id)
    assert pyramid.entry_price == Decimal("63360")  # the market, not the queued 64000
    row = QueuedSignal.get(QueuedSignal.timeframe == 15)
    assert row.status == "promoted"
    assert "promoted (slot freed)" in row.reason and "anchored at 63360" in row.reason
    signal = Signal.get_by_id(row.signal_id)
    assert (signal.classification, signal.group_id) == ("promoted", promoted.id)
    assert WebhookLog.get(WebhookLog.signal == signal.id).classification == "promoted"
    with app.app_context():
        assert pool.usage(user.id) == {"used": 1, "max": 1, "free": 0, "queued": 1}
        assert pool.pool_out(user.id)["groups"] == [str(promoted.id)]


def test_manual_promote_force_and_remove(app, client, trader, make_user, sim):
    """Promote answers 409 while the pool is full; force opens over the limit (flagged and
    audited); delete removes; viewers may read but not act; another trader's id is a 404."""
    user, headers, secret, _ = trader
    sim.price("BTCUSDT", "64250.5")
    _settings(client, headers, max_open_groups=1)
    _send(app, client, user, _entry(secret, 60))
    _send(app, client, user, _entry(secret, 240))
    _send(app, client, user, _entry(secret, 15))
    rows = {r.timeframe: r for r in QueuedSignal.select()}
    forced, removed = rows[240], rows[15]

    _, viewer_headers = make_user("viewer")
    assert client.get("/api/queue", headers=viewer_headers).status_code == 200
    r = client.post(f"/api/queue/{forced.id}/promote", headers=viewer_headers)
    assert r.status_code == 403
    _, other_headers = make_user("trader")
    r = client.post(f"/api/queue/{forced.id}/force", headers=other_headers)
    assert r.status_code == 404 and r.json["error"]["code"]
    assert client.delete("/api/queue/not-a-uuid", headers=headers).status_code == 404

    r = client.post(f"/api/queue/{forced.id}/promote", headers=headers)
    assert r.status_code == 409
    assert "pool is full" in r.json["error"]["message"]
    assert QueuedSignal.get_by_id(forced.id).status == "queued"

    r = client.post(f"/api/queue/{forced.id}/force", headers=headers)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "promoted" and r.json["group_id"]
    assert QueuedSignal.get_by_id(forced.id).force_added is True
    view = client.get("/api/pool", headers=headers).json
    assert (view["used"], view["free"], view["over_limit"]) == (2, 0, 1)
    assert [s["forced"] for s in view["slots"]] == [False, True]

    r = client.delete(f"/api/queue/{removed.id}", headers=headers)
    assert r.status_code == 200 and r.json["status"] == "removed"
    assert Signal.get_by_id(removed.signal_id).classification == "removed"
    assert client.delete(f"/api/queue/{removed.id}", headers=headers).status_code == 409
    actions = [a.action for a in AuditLog.select().order_by(AuditLog.created_at)]
    assert actions[-2:] == ["queue.force", "queue.remove"]


def test_expiry_and_rebuild_after_redis_lost_its_copy(app, client, trader, sim):
    """A queued signal older than queue_max_age_minutes expires on the sweep with a log line;
    after the pool/queue keys vanish, the next read rebuilds them from PostgreSQL (log line)
    with the same slots and queue."""
    user, headers, secret, _ = trader
    sim.price("BTCUSDT", "64250.5")
    _settings(client, headers, max_open_groups=1, queue_max_age_minutes=30)
    _send(app, client, user, _entry(secret, 60))
    _send(app, client, user, _entry(secret, 240))
    _send(app, client, user, _entry(secret, 15))
    old = QueuedSignal.get(QueuedSignal.timeframe == 240)
    QueuedSignal.update(queued_at=utcnow() - timedelta(minutes=31)).where(
        QueuedSignal.id == old.id
    ).execute()
    with app.app_context():
        totals = queue_sweep.sweep()
    assert totals["expired"] == 1
    old = QueuedSignal.get_by_id(old.id)
    assert old.status == "expired"
    assert old.reason.startswith("expired after 31 min in the queue (queue_max_age_minutes 30)")
    assert Signal.get_by_id(old.signal_id).classification == "expired"
    assert SystemLog.select().where(SystemLog.message.contains("queued signal expired")).exists()

    raw = redis.Redis.from_url(TEST_REDIS)
    doomed = [k for k in raw.scan_iter(match=b"*engine:pool*")] + [
        k for k in raw.scan_iter(match=b"*engine:queue*")
    ]
    assert doomed
    raw.delete(*doomed)
    with app.app_context():
        assert pool.usage(user.id) == {"used": 1, "max": 1, "free": 0, "queued": 1}
    assert SystemLog.select().where(SystemLog.message.contains("rebuilt from PostgreSQL")).exists()
    (item,) = client.get("/api/queue", headers=headers).json["items"]
    assert item["timeframe"] == 15


def test_a_queued_pyramid_continuation_goes_first_and_joins_its_group(app, client, trader, sim):
    """count_pyramids_toward_pool, max_open_groups 2: groups on lanes 60 and 240 hold both
    slots. An entry for lane 15 queues first (a new group); then a second entry for lane 60
    needs a slot for its pyramid and queues too — as a pyramid continuation it is ranked
    first although it is younger. Closing lane 240 frees a slot: the continuation takes it and
    becomes pyramid 1 of the lane-60 group (which then holds two slots); lane 15 waits."""
    user, headers, secret, _ = trader
    sim.price("BTCUSDT", "64250.5")
    _settings(client, headers, max_open_groups=2, count_pyramids_toward_pool=True)
    _send(app, client, user, _entry(secret, 60))
    _send(app, client, user, _entry(secret, 240))
    assert _send(app, client, user, _entry(secret, 15)).classification == "queued"
    pyramid_signal = _send(app, client, user, _entry(secret, 60, "64000"))
    assert pyramid_signal.classification == "queued"
    assert "the pyramid (count_pyramids_toward_pool) waits" in pyramid_signal.reason
    items = client.get("/api/queue", headers=headers).json["items"]
    assert [(i["timeframe"], i["is_pyramid_continuation"], i["priority_rank"]) for i in items] == [
        (60, True, 1),
        (15, False, 2),
    ]
    sixty = PositionGroup.get(PositionGroup.timeframe == 60)
    two_forty = PositionGroup.get(PositionGroup.timeframe == 240)
    with app.app_context():
        closing.close_group(two_forty.id, reason="test close", trigger="manual")
    sixty = PositionGroup.get_by_id(sixty.id)
    assert sixty.pyramid_count == 2
    row = QueuedSignal.get(QueuedSignal.signal == pyramid_signal.id)
    assert row.status == "promoted" and "pyramid 1 of the open group" in row.reason
    with app.app_context():
        view = pool.pool_out(user.id)
    assert view["used"] == 2 and view["groups"] == [str(sixty.id)]
    (waiting,) = client.get("/api/queue", headers=headers).json["items"]
    assert waiting["timeframe"] == 15


def test_sweep_frees_a_leaked_slot_and_promotes(app, client, trader, sim):
    """A release lost in a crash (the group is `closed` in PostgreSQL, its slot still held) and
    a slot left by a rolled-back transaction (no such group) are freed by the sweep once older
    than the 30 s grace, and the queued signal is promoted into the freed slot."""
    user, headers, secret, _ = trader
    sim.price("BTCUSDT", "64250.5")
    _settings(client, headers, max_open_groups=2)
    _send(app, client, user, _entry(secret, 60))
    (group,) = PositionGroup.select()
    raw = redis.Redis.from_url(TEST_REDIS, decode_responses=True)
    (key,) = [k for k in raw.scan_iter(match=f"*engine:pool:{user.id}")]
    long_ago = int(time.time() * 1000) - 60_000
    raw.hset(key, "ghost", f"ghost|{long_ago}|n")  # a rolled-back transaction's slot
    assert _send(app, client, user, _entry(secret, 15)).classification == "queued"
    PositionGroup.update(status="closed").where(PositionGroup.id == group.id).execute()
    raw.hset(key, str(group.id), f"{group.id}|{long_ago}|n")  # ... whose release was lost
    with app.app_context():
        totals = queue_sweep.sweep()
    assert totals["reconciled"] == 2 and totals["promoted"] == 1
    promoted = PositionGroup.get(PositionGroup.timeframe == 15)
    with app.app_context():
        assert pool.pool_out(user.id)["groups"] == [str(promoted.id)]


def test_a_promotion_that_cannot_read_the_market_puts_the_signal_back(app, client, trader, sim):
    """Force add with `promotion_anchor = market` while the exchange answers 500 to ticker
    reads: 409, nothing opened, the slot freed and the signal back in the queue."""
    user, headers, secret, _ = trader
    sim.price("BTCUSDT", "64250.5")
    _settings(client, headers, max_open_groups=1)
    _send(app, client, user, _entry(secret, 60))
    _send(app, client, user, _entry(secret, 15))
    (row,) = QueuedSignal.select()
    sim.fault("http_500", path="/api/v3/ticker")
    try:
        r = client.post(f"/api/queue/{row.id}/force", headers=headers)
    finally:
        sim.http.delete("/__sim/faults")
    assert r.status_code == 409, r.json
    assert "market cannot be read" in r.json["error"]["message"]
    assert QueuedSignal.get_by_id(row.id).status == "queued"
    assert PositionGroup.select().count() == 1
    view = client.get("/api/pool", headers=headers).json
    assert (view["used"], view["over_limit"]) == (1, 0)
    (item,) = client.get("/api/queue", headers=headers).json["items"]
    assert item["id"] == str(row.id)
