"""The signal job's work in front of the first order (issue 5: signal → first order p99 < 15 ms;
"no REST call in front of an order"): run in this process against the real PostgreSQL, Redis
and exchange simulator, counting from the start of the signal job (`drive_signal`, what
`workers.jobs.signals.process_signal` calls) to the moment ccxt sends the order's HTTP request
(so the request budget's Redis call is counted).

The bounds are the statements the hand-off needs, listed in `EXPECTED_*` below; one more is
a regression someone must explain (docs/performance.md, "Signal → first order").
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter

import ccxt
import pytest
from peewee import Database
from redis.connection import Connection

from server import queues
from server.domain.signal_routing import lane_of
from server.persistence.models import DcaOrder, Signal
from server.services import positions, signal_lanes
from tests.signal_support import body, make_account, tv_alert

# Statements from job start to the order's request for a new group, on a warm worker (market
# rules, the user's validated settings and the ccxt client cached), counted 2026-12-05:
#  1 SELECT the signal with its account               (signal_processing._load)
#  2 SELECT the lane's open group                     (_open_group; the transaction begins)
#  3 SELECT the user's settings version               (effective_settings_of)
#  4 SELECT a queued entry of the lane                (queue.queued_for_lane, SPEC §5)
#  5 SELECT pg_advisory_xact_lock_shared              (the pool's slot, SPEC §5)
#  6 INSERT the group   7 INSERT the pyramid   8 INSERT the legs (one bulk INSERT)
#  9 INSERT the two position events (one bulk INSERT)
# 10 UPDATE the signal (its outcome; locks its row: two workers never both act on it)
# 11 UPDATE its webhook-log row
# 12 COMMIT: the order is stored before it is sent
# 13 SELECT the order's committed status under its send lock (a close may have withdrawn it)
MAX_STATEMENTS = 13
# Redis: lane baton and the lane's head (EVALSHA, one script), processing sequence (INCRBY),
# market rules (GET, once: handed on to the grid), pool copy present (EXISTS), pause flag
# (GET), pool slot (EVALSHA), send lock (SET), circuit breaker (GET), request budget (EVALSHA)
# — and, in the test environment only, the armed-crash-point check (DEL). Before: 14 (a
# second market-rules GET, a second pause GET, a baton extension right after taking it), then
# 11 (the head read by a ZRANGE of its own).
MAX_REDIS_ROUND_TRIPS = 10


class _Counts:
    def __init__(self) -> None:
        self.sql: list[str] = []
        self.redis: Counter = Counter()
        self.active = False
        self.at_order: tuple[list[str], Counter] | None = None
        self.rest: list[str] = []


@pytest.fixture
def counts(monkeypatch):
    """Count statements (peewee `execute_sql`, commits) and Redis round trips (redis-py's
    packed sends: a pipeline or a script counts once) while `active`; freeze them at the first
    `create_order` of the ccxt client."""
    c = _Counts()
    execute_sql, commit = Database.execute_sql, Database.commit
    send = Connection.send_packed_command

    def counted_execute(db, sql, params=None, *a, **kw):
        if c.active:
            c.sql.append(sql)
        return execute_sql(db, sql, params, *a, **kw)

    def counted_commit(db, *a, **kw):
        if c.active:
            c.sql.append("COMMIT")
        return commit(db, *a, **kw)

    def counted_send(conn, command, *a, **kw):
        if c.active:
            c.redis[_redis_name(command)] += 1
        return send(conn, command, *a, **kw)

    fetch = ccxt.Exchange.fetch

    def frozen_fetch(self, url, method="GET", *a, **kw):
        if c.active and method == "POST" and c.at_order is None:
            c.at_order = (list(c.sql), Counter(c.redis))  # the order's HTTP request leaves
        if c.active:
            c.rest.append(f"{method} {url.split('?')[0]}")
        return fetch(self, url, method, *a, **kw)

    monkeypatch.setattr(Database, "execute_sql", counted_execute)
    monkeypatch.setattr(Database, "commit", counted_commit)
    monkeypatch.setattr(Connection, "send_packed_command", counted_send)
    monkeypatch.setattr(ccxt.Exchange, "fetch", frozen_fetch)
    return c


def _redis_name(command) -> str:
    with contextlib.suppress(Exception):
        head = bytes(command[0] if isinstance(command, list) else command)
        parts = head.split(b"\r\n")
        return parts[2].decode().upper() if len(parts) > 2 else "?"
    return "?"


def _accept(app, client, user, secret, account, timeframe: str) -> Signal:
    """Post the webhook while this test holds the lane's baton, so a running stack's worker
    (the session may have started one) leaves the signal to this process."""
    lane = lane_of(account.id, "BTCUSDT", int(timeframe), "long")
    token = uuid.uuid4().hex
    with app.app_context():
        store = signal_lanes.lanes()
        assert store.take_baton(lane, token, 30_000)
        try:
            doc = tv_alert(secret, timeframe=timeframe, order_id=f"Long {timeframe}")
            r = client.post(f"/api/webhook/{user.id}", data=body(doc), content_type="text/plain")
            assert r.status_code == 202, r.json
        finally:
            store.release(lane, token)
    signal = Signal.get_by_id(r.json["signal_id"])
    assert signal.lane == lane
    return signal


def test_statements_and_redis_round_trips_in_front_of_the_first_order(
    app, client, make_user, sim, counts
):
    """A second new-group signal (its own lane, timeframe 240) on a warm process: the work in
    front of its first order stays within the listed statements and Redis round trips, and no
    REST call other than the order itself reaches the simulator in between."""
    user, headers = make_user("trader")
    account = make_account(app, user, market_type="spot", label="Main spot")
    secret = client.post("/api/auth/webhook-secret", headers=headers).json["webhook_secret"]
    sim.price("BTCUSDT", "64250.5")
    warm = _accept(app, client, user, secret, account, "60")
    with app.app_context():
        signal_lanes.drive_signal(str(warm.id), warm.lane)  # markets, settings, ccxt client
    signal = _accept(app, client, user, secret, account, "240")
    with app.app_context():
        counts.active = True
        try:
            signal_lanes.drive_signal(str(signal.id), signal.lane)
        finally:
            counts.active = False
    assert counts.at_order is not None, "no order was sent"
    sql, redis_calls = counts.at_order
    listing = "\n".join(s.split(" WHERE ")[0][:110] for s in sql)
    print(f"{len(sql)} statements:\n{listing}\nRedis: {dict(redis_calls)}")
    assert len(sql) <= MAX_STATEMENTS, listing
    assert sum(redis_calls.values()) <= MAX_REDIS_ROUND_TRIPS, dict(redis_calls)
    assert counts.rest[0].startswith("POST"), counts.rest  # no REST call in front of it
    first = Signal.get_by_id(signal.id)
    assert first.status == "processed" and first.classification == "new_group"
    leg0 = DcaOrder.get((DcaOrder.group == first.group_id) & (DcaOrder.leg_index == 0))
    at_sim = [o["client_order_id"] for o in sim.orders(api_key="test-key")]
    assert at_sim.count(leg0.client_order_id) == 1  # the order the job sent, once


# The follow-up job (`positions.finish_placement`, queue `orders`) of a one-leg market group
# whose order filled at once, counted 2026-12-05:
#  1-4 SELECT the pyramid, its group, the account, its entry legs
#  5 SELECT the group FOR UPDATE   6 SELECT the order FOR UPDATE      (orders._store)
#  7 SELECT the order's known trade ids   8 INSERT the fill   9 SELECT its fills
# 10 UPDATE the order  11 INSERT its event  12 INSERT its log line
# 13 SELECT the group's orders  14 INSERT the group's event  15 INSERT its log line
# 16 UPDATE the group (with its recomputed figures; recompute_in_tx takes the row locked in
#    5 — before: UPDATE, SELECT FOR UPDATE again, UPDATE)  17 UPDATE the pyramid  18 COMMIT
# the take-profit hook (take_profit.on_leg_filled → settle), after the commit:
# 19 SELECT the order  20 SELECT the group FOR UPDATE  21 SELECT the group's book  22 COMMIT
# (before: the book read three times and the group twice more)
# 23 SELECT the account (trigger index)  24 INSERT "pyramid placed"  25 SELECT the group
# Before this was measured: 31.
MAX_FOLLOW_UP_STATEMENTS = 25
BOOK_READ = 'LEFT OUTER JOIN "pyramid"'  # the group's orders with their pyramids


def test_follow_up_reads_the_book_once(app, client, make_user, sim, counts, monkeypatch):
    """The follow-up of a filled market entry stores the answer (the group's orders read once
    to recompute it) and runs the take-profit hook, which reads the group's book once: two
    reads of the group's orders in all, within the listed statements."""
    user, headers = make_user("trader")
    account = make_account(app, user, market_type="spot", label="Main spot")
    secret = client.post("/api/auth/webhook-secret", headers=headers).json["webhook_secret"]
    sim.price("BTCUSDT", "64250.5")
    one_leg = {  # the benchmark's grid: one market leg, the aggregate take-profit
        "pool": {"max_open_groups": 10},
        "capital": {"total_capital_usd": "10000", "max_pyramids": 1, "pyramid_weights": ["100"]},
        "grid": {"legs": [{"gap_percent": "0", "weight_percent": "100", "tp_percent": "1"}]},
        "take_profit": {"tp_mode": "aggregate", "tp_aggregate_percent": "1"},
    }
    assert client.put("/api/settings", headers=headers, json=one_leg).status_code == 200
    follow_ups = []
    monkeypatch.setattr(  # run here, not by a worker the session may have started
        queues, "enqueue_unique", lambda name, func, *args, job_id: follow_ups.append(args)
    )
    for timeframe in ("60", "240"):
        signal = _accept(app, client, user, secret, account, timeframe)
        with app.app_context():
            signal_lanes.drive_signal(str(signal.id), signal.lane)
    assert len(follow_ups) == 2
    with app.app_context():
        positions.finish_placement(*follow_ups[0])  # warm
        counts.active = True
        try:
            positions.finish_placement(*follow_ups[1])
        finally:
            counts.active = False
    listing = "\n".join(s.split(" WHERE ")[0][:110] for s in counts.sql)
    print(f"{len(counts.sql)} statements:\n{listing}")
    assert sum(BOOK_READ in s for s in counts.sql) == 2, listing
    assert len(counts.sql) <= MAX_FOLLOW_UP_STATEMENTS, listing
    leg0 = DcaOrder.get(DcaOrder.pyramid == follow_ups[1][0])
    assert leg0.status == "filled" and leg0.filled_quantity > 0
