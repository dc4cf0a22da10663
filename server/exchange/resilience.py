"""Retries for reads (exponential backoff with jitter) and the per-account circuit breaker.

Writes are never retried here: `CcxtExchange.create_order` decides itself, after looking the
order up by its client order id.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from server.domain.breaker import BreakerPolicy, BreakerStatus, admit, on_failure, on_success
from server.domain.breaker import seconds_until_trial as _until
from server.exchange.errors import BudgetExhausted, CircuitOpen, RateLimited, TemporaryError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int, error: Exception) -> float:
        """Full-jitter backoff; a rate limit's Retry-After wins when it is longer."""
        backoff = random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))
        retry_after = error.retry_after if isinstance(error, RateLimited) else None
        return max(backoff, retry_after or 0.0)


class Guard:
    """Runs exchange calls through the account's circuit breaker (state shared via a store)."""

    def __init__(
        self,
        account_id: str,
        store,
        policy: BreakerPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account_id = account_id
        self.store = store
        self.policy = policy or BreakerPolicy()
        self.clock = clock
        self.sleep = sleep

    def call(self, fn: Callable[[], T]) -> T:
        """One attempt: refused at once while the breaker is open."""
        state = self.store.load(self.account_id)
        allowed, state = admit(state, self.policy, self.clock())
        if not allowed:
            raise CircuitOpen(
                f"circuit open after {state.consecutive_failures} failures "
                f"({state.last_error}); next trial in "
                f"{_until(state, self.policy, self.clock()):.0f}s",
                _until(state, self.policy, self.clock()),
            )
        try:
            result = fn()
        except TemporaryError as exc:
            if not isinstance(exc, BudgetExhausted):  # never sent: the exchange is not failing
                self.store.save(
                    self.account_id, on_failure(state, self.policy, self.clock(), str(exc)[:200])
                )
            raise
        if state.status is not BreakerStatus.CLOSED or state.consecutive_failures:
            self.store.save(self.account_id, on_success(state))
        return result

    def read(self, fn: Callable[[], T], retry: RetryPolicy | None = None) -> T:
        """A read: retried on temporary failures with backoff and jitter."""
        retry = retry or RetryPolicy()
        for attempt in range(retry.attempts):
            try:
                return self.call(fn)
            except CircuitOpen:
                raise
            except TemporaryError as exc:
                if attempt == retry.attempts - 1:
                    raise
                self.sleep(retry.delay(attempt, exc))
        raise AssertionError("unreachable")
