"""The pool's Lua scripts on the real Redis (state.pool_store): slots are never over-handed,
the top signal and its slot are taken in one step, and an empty copy refuses everything."""

from __future__ import annotations

import threading

import pytest
import redis

from server.domain import queue_priority as qp
from server.state.pool_store import NotBuilt, PoolStore, slot_value
from tests.conftest import RUN_ID, TEST_REDIS


@pytest.fixture
def store():
    client = redis.Redis.from_url(TEST_REDIS, decode_responses=True)
    prefix = f"ps{RUN_ID}:"
    found = PoolStore(client, prefix)
    found.rebuild({}, {}, [])
    yield found
    doomed = list(client.scan_iter(match=f"{prefix}*"))
    if doomed:
        client.delete(*doomed)


def test_fifty_racers_for_ten_slots_get_exactly_ten(store):
    """50 threads take a slot at once against a limit of 10: exactly 10 succeed."""
    results: list[bool] = []
    start = threading.Barrier(50)

    def racer(n: int) -> None:
        start.wait()
        results.append(store.take("u1", f"g{n}", slot_value(f"g{n}", 1), 10))

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 10 and store.used("u1") == 10
    assert store.take("u1", "forced", slot_value("forced", 1, forced=True), 0)  # force: no limit
    assert store.used("u1") == 11
    assert [s.forced for s in store.slots("u1") if s.slot_id == "forced"] == [True]


def test_release_frees_every_slot_of_the_group(store):
    """A group with two pyramid slots (pyramids counting toward the pool) frees all three."""
    for slot in ("g1", "g1:p1", "g1:p2"):
        assert store.take("u1", slot, slot_value("g1", 1), 10)
    assert store.take("u1", "g2", slot_value("g2", 1), 10)
    assert store.release_group("u1", "g1") == 3
    assert [s.group_id for s in store.slots("u1")] == ["g2"]
    assert store.release_group("u1", "g1") == 0


def test_take_top_takes_the_best_signal_and_a_slot_in_one_step(store):
    """The highest score goes first; a full pool takes nothing; a continuation is taken
    without a slot unless pyramids count toward the pool."""
    store.put("u1", "m-low", qp.score(False, qp.Decimal("-1"), 0))
    store.put("u1", "m-high", qp.score(False, qp.Decimal("-3"), 0))
    assert store.take("u1", "g0", slot_value("g0", 1), 2)
    top = store.take_top("u1", "s1", slot_value("s1", 1), 2, qp.CONTINUATION_SCORE, False)
    assert top[0] == "m-high" and top[2] is True
    assert store.take_top("u1", "s2", slot_value("s2", 1), 2, qp.CONTINUATION_SCORE, False) is None
    assert store.queued("u1") == 1  # m-low still waits: the pool was full
    store.put("u1", "m-cont", qp.score(True, qp.Decimal("5"), 0))
    cont = store.take_top("u1", "s3", slot_value("s3", 1), 2, qp.CONTINUATION_SCORE, False)
    assert cont[0] == "m-cont" and cont[2] is False and store.used("u1") == 2
    store.put("u1", "m-cont", qp.score(True, qp.Decimal("5"), 0))
    assert store.take_top("u1", "s4", slot_value("s4", 1), 2, qp.CONTINUATION_SCORE, True) is None


def test_an_emptied_redis_refuses_until_rebuilt(store):
    """Without the marker (a flushed Redis) every script raises NotBuilt and writes nothing."""
    store.client.delete(store.marker)
    with pytest.raises(NotBuilt):
        store.take("u1", "g1", slot_value("g1", 1), 10)
    with pytest.raises(NotBuilt):
        store.put("u1", "m", 1)
    assert store.used("u1") == 0 and store.queued("u1") == 0
    store.rebuild({"u1": {"g9": slot_value("g9", 1)}}, {"u1": {"m9": 5}}, ["u1"])
    assert store.used("u1") == 1 and store.ranked("u1") == [("m9", 5.0)]
