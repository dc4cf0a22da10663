"""One Redis client per URL per process (redis-py clients are thread/greenlet safe)."""

from __future__ import annotations

from functools import cache

import redis


@cache
def redis_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=5,
        socket_connect_timeout=3,
        health_check_interval=30,
    )


@cache
def rq_redis_for(url: str) -> redis.Redis:
    """RQ pickles job data; it needs raw bytes back, not decoded strings."""
    return redis.Redis.from_url(url, socket_connect_timeout=3, health_check_interval=30)
