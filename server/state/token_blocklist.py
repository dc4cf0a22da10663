"""Revoked JWTs, kept in Redis until they would have expired anyway."""

from __future__ import annotations

import time

import redis

KEY = "engine:revoked:{jti}"


def revoke(client: redis.Redis, jti: str, expires_at: int) -> None:
    ttl = max(int(expires_at - time.time()), 1)
    client.set(KEY.format(jti=jti), "1", ex=ttl)


def is_revoked(client: redis.Redis, jti: str) -> bool:
    return bool(client.exists(KEY.format(jti=jti)))
