"""Circuit-breaker state per exchange account, shared by every process through Redis.

Workers trip it; the web process reads it for `/api/health` and the engine status. Losing it
(Redis flushed) only closes the breakers, which is the safe default.
"""

from __future__ import annotations

import json

import redis

from server.domain.breaker import BreakerState

KEY = "{prefix}engine:breaker:{account_id}"
TTL_SECONDS = 24 * 3600


class RedisBreakerStore:
    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, account_id: str) -> str:
        return KEY.format(prefix=self.prefix, account_id=account_id)

    def load(self, account_id: str) -> BreakerState:
        raw = self.client.get(self._key(account_id))
        return BreakerState.from_json(json.loads(raw) if raw else None)

    def save(self, account_id: str, state: BreakerState) -> None:
        self.client.set(self._key(account_id), json.dumps(state.to_json()), ex=TTL_SECONDS)


class MemoryBreakerStore:
    """In-process store for one-off clients (connectivity checks, scripts)."""

    def __init__(self) -> None:
        self.states: dict[str, BreakerState] = {}

    def load(self, account_id: str) -> BreakerState:
        return self.states.get(account_id, BreakerState())

    def save(self, account_id: str, state: BreakerState) -> None:
        self.states[account_id] = state
