"""The shared exchange request budget (`state.rate_budget`): its Lua sliding window and
penalty against the real Redis (TEST_REDIS_URL), with the clock passed in so every number
is worked by hand.

A budget of 10 per 1,000 ms has buckets of floor(1000 / 60) = 16 ms and counts the last
ceil(1000 / 16) = 63 buckets before the current one: 64 × 16 = 1,024 ms ≥ the window, so it
never under-counts. At now = 1,000,000 ms the current bucket is 1,000,000 / 16 = 62,500; a
weight counted there leaves the window when bucket 62,500 + 63 + 1 = 62,564 starts, at
62,564 × 16 = 1,001,024 ms — 1.024 s later.
"""

from __future__ import annotations

import threading
import uuid

import pytest
import redis

from server.state.rate_budget import Budget, RateBudget
from tests.conftest import TEST_REDIS

NOW = 1_000_000


@pytest.fixture
def budget():
    client = redis.Redis.from_url(TEST_REDIS)
    prefix = f"test-budget-{uuid.uuid4().hex[:8]}"
    yield RateBudget(client), prefix
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)


def test_goes_at_once_while_there_is_room_then_says_how_long_to_wait(budget):
    """4 + 4 fit in 10 (both in bucket 62,500); another 4 at now + 10 does not: wait until that
    bucket leaves the window at 1,001,024 ms, 1.014 s later, and nothing is counted; a 2
    still fits (8 + 2 = 10)."""
    rates, prefix = budget
    ip = Budget(f"{prefix}:ip", 10, 1000)
    assert rates.take([ip], 4, NOW) == 0
    assert rates.take([ip], 4, NOW + 5) == 0
    assert rates.take([ip], 4, NOW + 10) == pytest.approx(1.014)
    assert rates.used(ip, NOW + 10) == 8
    assert rates.take([ip], 2, NOW + 10) == 0
    assert rates.used(ip, NOW + 10) == 10


def test_the_window_slides(budget):
    """Full at 1,000,000: 1 ms before 1,001,024 still 0.001 s to wait; at 1,001,024 the 10
    have left the window and 10 more go."""
    rates, prefix = budget
    ip = Budget(f"{prefix}:ip", 10, 1000)
    assert rates.take([ip], 10, NOW) == 0
    assert rates.take([ip], 1, NOW + 1023) == pytest.approx(0.001)
    assert rates.take([ip], 10, NOW + 1024) == 0


def test_the_oldest_buckets_free_first(budget):
    """3 at bucket 62,500 and 7 at 62,510 (now + 160 ms). Asking 5 at now + 500: without the
    3 it is still 7 + 5 = 12 > 10, so the 7 must leave too — at bucket 62,510 + 64 = 62,574,
    i.e. 1,001,184 ms: 0.684 s to wait. Asking 3 needs only the 3 gone (7 + 3 = 10): bucket
    62,564 → 1,001,024 ms, 0.524 s."""
    rates, prefix = budget
    ip = Budget(f"{prefix}:ip", 10, 1000)
    assert rates.take([ip], 3, NOW) == 0
    assert rates.take([ip], 7, NOW + 160) == 0
    assert rates.take([ip], 5, NOW + 500) == pytest.approx(0.684)
    assert rates.take([ip], 3, NOW + 500) == pytest.approx(0.524)


def test_all_budgets_or_none(budget):
    """An order counts on the IP budget and on the API key's; when the key's 2 orders per
    second are used, a third is refused and the IP budget is not charged for it."""
    rates, prefix = budget
    ip, key = Budget(f"{prefix}:ip", 100, 1000), Budget(f"{prefix}:key", 2, 1000)
    assert rates.take([ip, key], 1, NOW) == 0
    assert rates.take([ip, key], 1, NOW) == 0
    assert rates.take([ip, key], 1, NOW) == pytest.approx(1.024)
    assert (rates.used(ip, NOW), rates.used(key, NOW)) == (2, 2)
    assert rates.take([ip], 1, NOW) == 0  # a read still goes: only the IP budget


def test_fractional_weights(budget):
    """ccxt's costs can be fractional: 0.5 twenty times is exactly 10."""
    rates, prefix = budget
    ip = Budget(f"{prefix}:ip", 10, 1000)
    assert all(rates.take([ip], 0.5, NOW) == 0 for _ in range(20))
    assert rates.take([ip], 0.5, NOW) > 0


def test_a_penalty_stops_everyone_until_it_ends(budget):
    """Retry-After 1.5 s at now: every caller waits 1.5 s (then 0.5 s a second later); a
    shorter penalty meanwhile does not shorten it; at now + 1,500 requests go again."""
    rates, prefix = budget
    ip = Budget(f"{prefix}:ip", 10, 1000)
    rates.penalize([ip.key], 1.5, NOW)
    assert rates.take([ip], 1, NOW) == pytest.approx(1.5)
    rates.penalize([ip.key], 0.2, NOW + 1000)
    assert rates.take([ip], 1, NOW + 1000) == pytest.approx(0.5)
    assert rates.used(ip, NOW + 1000) == 0
    assert rates.take([ip], 1, NOW + 1500) == 0


def test_a_weight_beyond_the_capacity_is_an_error(budget):
    rates, prefix = budget
    with pytest.raises(ValueError):
        rates.take([Budget(f"{prefix}:ip", 10, 1000)], 11, NOW)


def test_racing_callers_never_overspend(budget):
    """20 threads (each its own connection) ask for 1 of a budget of 10 at the same instant:
    exactly 10 are granted — the script is atomic."""
    _, prefix = budget
    ip = Budget(f"{prefix}:ip", 10, 1000)
    granted = []
    barrier = threading.Barrier(20)

    def ask():
        rates = RateBudget(redis.Redis.from_url(TEST_REDIS))
        barrier.wait()
        granted.append(rates.take([ip], 1, NOW) == 0)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert granted.count(True) == 10
