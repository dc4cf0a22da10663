"""Circuit breaker transitions (pure) and the Guard that applies them to exchange calls."""

from __future__ import annotations

import pytest

from server.domain.breaker import (
    BreakerPolicy,
    BreakerState,
    BreakerStatus,
    admit,
    on_failure,
    on_success,
)
from server.exchange.errors import CircuitOpen, InvalidOrder, RateLimited, TemporaryError
from server.exchange.resilience import Guard, RetryPolicy
from server.state.breakers import MemoryBreakerStore

POLICY = BreakerPolicy(failure_threshold=3, cool_down_seconds=30)


def test_opens_at_threshold_and_half_opens_after_cool_down():
    """Three failures open it; 30 s later one trial is admitted; success closes it."""
    state = BreakerState()
    for t in (0, 1, 2):
        state = on_failure(state, POLICY, t, "timeout")
    assert state.status is BreakerStatus.OPEN and state.opened_at == 2
    assert admit(state, POLICY, 31.9) == (False, state)
    allowed, trial = admit(state, POLICY, 32)
    assert allowed and trial.status is BreakerStatus.HALF_OPEN
    assert on_success(trial) == BreakerState()


def test_failed_trial_reopens_at_once():
    """A failure while half-open re-opens the breaker and restarts the cool-down."""
    trial = BreakerState(BreakerStatus.HALF_OPEN, 3, 2, "x")
    reopened = on_failure(trial, POLICY, 40, "still down")
    assert reopened.status is BreakerStatus.OPEN and reopened.opened_at == 40


def test_success_resets_the_count():
    """Failures must be consecutive: a success in between starts the count again."""
    state = on_failure(on_failure(BreakerState(), POLICY, 0, "a"), POLICY, 1, "b")
    state = on_success(state)
    state = on_failure(state, POLICY, 2, "c")
    assert state.status is BreakerStatus.CLOSED and state.consecutive_failures == 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _guard(clock: Clock) -> Guard:
    return Guard("acct", MemoryBreakerStore(), POLICY, clock=clock.time, sleep=clock.sleep)


def test_guard_refuses_calls_while_open_without_calling():
    """Once open, the Guard raises CircuitOpen and never invokes the exchange."""
    clock = Clock()
    guard = _guard(clock)
    calls = []

    def failing():
        calls.append(1)
        raise TemporaryError("HTTP 500")

    for _ in range(3):
        with pytest.raises(TemporaryError):
            guard.call(failing)
    with pytest.raises(CircuitOpen) as info:
        guard.call(failing)
    assert len(calls) == 3
    assert info.value.retry_in == pytest.approx(30)
    clock.now += 30
    assert guard.call(lambda: "ok") == "ok"
    assert guard.store.load("acct").status is BreakerStatus.CLOSED


def test_reads_retry_with_backoff_and_honour_retry_after():
    """A read is retried on temporary errors, waiting at least a rate limit's Retry-After."""
    clock = Clock()
    guard = _guard(clock)
    outcomes = [RateLimited("429", retry_after=2.5), TemporaryError("timeout"), "done"]

    def flaky():
        result = outcomes.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    assert guard.read(flaky, RetryPolicy(attempts=3, base_delay=0.1)) == "done"
    assert len(clock.slept) == 2
    assert clock.slept[0] >= 2.5
    assert 0 <= clock.slept[1] <= 0.2


def test_reads_do_not_retry_permanent_errors():
    """An invalid order is not temporary: one attempt, no sleep, breaker untouched."""
    clock = Clock()
    guard = _guard(clock)
    with pytest.raises(InvalidOrder):
        guard.read(lambda: (_ for _ in ()).throw(InvalidOrder("filter failure")))
    assert clock.slept == []
    assert guard.store.load("acct") == BreakerState()
