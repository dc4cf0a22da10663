"""Short-lived Redis locks with an owner token (SET NX PX; released only by their owner).

Used where two processes must not do the same exchange work at once: sending one order
(`order-send:<order id>`), and one account's fill-monitor pass (`fill-monitor:<account id>`).
A holder that dies leaves the lock to expire; nothing here is the truth, PostgreSQL and the
exchange are.
"""

from __future__ import annotations

import uuid

import redis

KEY = "{prefix}engine:lock:{name}"

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Locks:
    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix
        self._release = client.register_script(_RELEASE)

    def key(self, name: str) -> str:
        return KEY.format(prefix=self.prefix, name=name)

    def acquire(self, name: str, ttl_ms: int) -> str | None:
        """A token when the lock was free (now ours for `ttl_ms`), else None."""
        token = uuid.uuid4().hex
        if self.client.set(self.key(name), token, nx=True, px=max(int(ttl_ms), 1)):
            return token
        return None

    def release(self, name: str, token: str | None) -> bool:
        if not token:
            return False
        return bool(self._release(keys=[self.key(name)], args=[token]))

    def held(self, name: str) -> bool:
        return bool(self.client.exists(self.key(name)))

    def once(self, name: str) -> bool:
        """True the first time it is asked for `name` (until the key is deleted)."""
        return bool(self.client.set(self.key(f"once:{name}"), "1", nx=True))
