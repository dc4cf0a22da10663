"""Per-user engine flags in Redis: trading paused (and why), shared by every process.

Key: ``{prefix}engine:paused:{user_id}`` → JSON ``{"reason", "status", "account_id", "at"}``.
No expiry: a pause lasts until something lifts it (keys that validate again, the trader's
resume). The system log holds the durable record of every pause and resume.
"""

from __future__ import annotations

import json

import redis

PAUSED = "{prefix}engine:paused:{user_id}"


class EngineFlags:
    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, user_id) -> str:
        return PAUSED.format(prefix=self.prefix, user_id=user_id)

    def pause(self, user_id, record: dict) -> bool:
        """Store the pause unless one is stored; True when the user was not paused before
        (the first reason is kept: it is the one the trader must fix)."""
        return bool(self.client.set(self._key(user_id), json.dumps(record), nx=True))

    def paused(self, user_id) -> dict | None:
        raw = self.client.get(self._key(user_id))
        return json.loads(raw) if raw else None

    def paused_many(self, user_ids) -> dict[str, dict]:
        ids = [str(u) for u in user_ids]
        if not ids:
            return {}
        raws = self.client.mget([self._key(u) for u in ids])
        return {u: json.loads(r) for u, r in zip(ids, raws, strict=True) if r}

    def resume(self, user_id) -> bool:
        return bool(self.client.delete(self._key(user_id)))
