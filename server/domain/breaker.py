"""Circuit breaker per exchange account (SPEC §4.6), as pure state transitions.

closed ──(N consecutive temporary failures)──► open ──(cool-down passed)──► half_open
half_open ──(trial succeeds)──► closed;  half_open ──(trial fails)──► open again.

While open, calls are refused at once instead of hammering a failing exchange; the account
shows as `degraded`. Times are seconds since the epoch, passed in (no clock here).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class BreakerStatus(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 5
    cool_down_seconds: float = 30.0


@dataclass(frozen=True)
class BreakerState:
    status: BreakerStatus = BreakerStatus.CLOSED
    consecutive_failures: int = 0
    opened_at: float | None = None
    last_error: str | None = None

    def to_json(self) -> dict:
        return {
            "status": self.status.value,
            "consecutive_failures": self.consecutive_failures,
            "opened_at": self.opened_at,
            "last_error": self.last_error,
        }

    @classmethod
    def from_json(cls, data: dict | None) -> BreakerState:
        if not data:
            return cls()
        return cls(
            BreakerStatus(data.get("status", "closed")),
            int(data.get("consecutive_failures", 0)),
            data.get("opened_at"),
            data.get("last_error"),
        )


def admit(state: BreakerState, policy: BreakerPolicy, now: float) -> tuple[bool, BreakerState]:
    """May a call go out now? An open breaker becomes half-open once the cool-down passed."""
    if state.status is BreakerStatus.OPEN:
        if state.opened_at is not None and now - state.opened_at >= policy.cool_down_seconds:
            return True, replace(state, status=BreakerStatus.HALF_OPEN)
        return False, state
    return True, state


def on_success(state: BreakerState) -> BreakerState:
    return BreakerState()


def on_failure(state: BreakerState, policy: BreakerPolicy, now: float, error: str) -> BreakerState:
    """Count a temporary failure; open at the threshold, or at once after a failed trial."""
    failures = state.consecutive_failures + 1
    if state.status is BreakerStatus.HALF_OPEN or failures >= policy.failure_threshold:
        return BreakerState(BreakerStatus.OPEN, failures, now, error)
    return BreakerState(BreakerStatus.CLOSED, failures, None, error)


def seconds_until_trial(state: BreakerState, policy: BreakerPolicy, now: float) -> float:
    if state.status is not BreakerStatus.OPEN or state.opened_at is None:
        return 0.0
    return max(0.0, policy.cool_down_seconds - (now - state.opened_at))
