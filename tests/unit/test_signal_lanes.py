"""Signal lanes in the real Redis: arrival order, one baton per lane, a driver called only when
needed, and the release that never strands a signal."""

from __future__ import annotations

import secrets

import pytest

from server.state.signal_lanes import SignalLanes

LANE = "acc:BTCUSDT:60:long"


@pytest.fixture
def lanes(redis_client):
    """Lanes under a prefix of their own (the session's Redis database)."""
    prefix = f"lanes-{secrets.token_hex(3)}:"
    yield SignalLanes(redis_client, prefix)
    for key in redis_client.scan_iter(match=f"{prefix}*"):
        redis_client.delete(key)


def test_signals_wait_in_arrival_order(lanes):
    """Joined signals come out front first, with increasing sequences; joining twice keeps
    the first place."""
    assert lanes.join(LANE, "s1")[0] == 1
    assert lanes.join(LANE, "s2")[0] == 2
    assert lanes.join("other:ETHUSDT:60:long", "s3")[0] == 3
    assert lanes.join(LANE, "s1")[0] == 1
    assert lanes.head(LANE) == ("s1", 1)
    lanes.leave(LANE, "s1")
    assert lanes.head(LANE) == ("s2", 2)
    assert lanes.waiting(LANE) == 1


def test_a_driver_is_called_once_per_idle_lane(lanes):
    """The first join calls a driver; later joins do not while that call is pending or while
    the baton is held; once the lane is released empty, the next join calls again."""
    assert lanes.join(LANE, "s1")[1] is True
    assert lanes.join(LANE, "s2")[1] is False  # the called driver will see s2
    assert lanes.take_baton(LANE, "w1", 5000)
    assert lanes.join(LANE, "s3")[1] is False  # the holder will see s3
    for signal in ("s1", "s2", "s3"):
        lanes.leave(LANE, signal)
    assert lanes.release_if_empty(LANE, "w1") == 1
    assert lanes.join(LANE, "s4")[1] is True


def test_only_one_baton_per_lane(lanes):
    """A second worker cannot take a held baton; another lane's baton is free."""
    assert lanes.take_baton(LANE, "w1", 5000)
    assert not lanes.take_baton(LANE, "w2", 5000)
    assert lanes.take_baton("other:ETHUSDT:60:long", "w2", 5000)
    assert lanes.baton_held(LANE)


def test_release_keeps_the_baton_while_signals_wait(lanes):
    """release_if_empty refuses while the lane holds signals (0), releases when empty (1),
    and reports a baton that is no longer ours (-1)."""
    lanes.join(LANE, "s1")
    assert lanes.take_baton(LANE, "w1", 5000)
    assert lanes.release_if_empty(LANE, "w1") == 0
    lanes.leave(LANE, "s1")
    assert lanes.release_if_empty(LANE, "w2") == -1
    assert lanes.release_if_empty(LANE, "w1") == 1
    assert not lanes.baton_held(LANE)
    assert lanes.active_lanes() == []


def test_extend_only_by_the_holder(lanes):
    """Only the holder's token extends the baton."""
    assert lanes.take_baton(LANE, "w1", 5000)
    assert lanes.extend(LANE, "w1", 5000)
    assert not lanes.extend(LANE, "w2", 5000)


def test_counters_restart_above_the_database(lanes):
    """After a flush the counters restart from what PostgreSQL holds, never below."""
    assert not lanes.counters_present()
    lanes.ensure_counters(41, 7)
    assert lanes.join(LANE, "s1")[0] == 42
    assert lanes.next_processing_seq() == 8
    lanes.ensure_counters(1, 1)  # present: left alone
    assert lanes.next_processing_seq() == 9


def test_forget_only_empty_lanes(lanes):
    """The sweep's housekeeping drops a lane from the active set only when nothing waits."""
    lanes.join(LANE, "s1")
    assert not lanes.forget_if_empty(LANE)
    lanes.leave(LANE, "s1")
    assert lanes.forget_if_empty(LANE)
    assert lanes.active_lanes() == []


def test_taking_the_baton_hands_back_the_front(lanes):
    """take_baton_and_head: the baton and the lane's front in one script — (True, front) on a
    lane with signals, (True, None) on an empty one, (False, None) when another worker holds
    the baton; it answers the lane's pending call like take_baton (a later join calls)."""
    assert lanes.join(LANE, "s1") == (1, True)
    lanes.join(LANE, "s2")
    assert lanes.take_baton_and_head(LANE, "w1", 5000) == (True, ("s1", 1))
    assert lanes.take_baton_and_head(LANE, "w2", 5000) == (False, None)
    for signal in ("s1", "s2"):
        lanes.leave(LANE, signal)
    assert lanes.release_if_empty(LANE, "w1") == 1
    assert lanes.take_baton_and_head(LANE, "w3", 5000) == (True, None)
    lanes.release(LANE, "w3")
    assert lanes.join(LANE, "s3")[1] is True  # the call was answered: a new one is made


def test_a_dead_holders_batons_are_given_back_and_nothing_else(lanes):
    """Batons held by a process known dead go back; another holder's baton, and the lanes'
    signals (the front one included), stay."""
    dead, alive = "host-a:101", "host-a:1011"  # one pid the prefix of the other
    lanes.join(LANE, "s1")
    lanes.join(LANE, "s2")
    assert lanes.take_baton(LANE, f"{dead}:aa", 30_000)
    assert lanes.take_baton("other:ETHUSDT:60:long", f"{alive}:bb", 30_000)
    assert lanes.take_baton("old:SOLUSDT:15:long", "9f86d081884c7d65", 30_000)  # names none

    assert lanes.free_batons_held_by(dead) == [LANE]

    assert not lanes.baton_held(LANE)
    assert lanes.head(LANE) == ("s1", 1) and lanes.waiting(LANE) == 2
    assert lanes.baton_held("other:ETHUSDT:60:long")
    assert lanes.baton_held("old:SOLUSDT:15:long")
    assert lanes.free_batons_held_by(dead) == []
