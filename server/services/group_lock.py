"""One worker at a time acts on a group's exit side: closing it, booking a take-profit,
placing a leg's TP order (SPEC §4.5: a group is never closed twice).

A Redis lock (`state.locks`, `group:<id>`) spans the exchange calls — a database transaction
must not — and is re-entrant within a thread, so the close routine can call the take-profit
booking (and the order service's hooks can call back) without deadlocking on itself. A holder
that dies leaves the lock to expire after `TTL_MS`; the close is resumable, so whoever takes
it next simply continues.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app

from server import runtime
from server.state.locks import Locks

TTL_MS = 120_000  # longer than any close: cancels, a market order and its fills
WAIT_SECONDS = 30.0

_held = threading.local()


class GroupBusy(RuntimeError):
    """Another worker held the group's lock for longer than the wait."""


def _locks() -> Locks:
    return Locks(runtime.redis_client(), current_app.config["RQ_QUEUE_PREFIX"])


def _mine() -> dict[str, str]:
    if not hasattr(_held, "tokens"):
        _held.tokens = {}
    return _held.tokens


def held_here(group_id) -> bool:
    """This thread holds the group's lock (a nested call goes straight through)."""
    return str(group_id) in _mine()


def is_locked(group_id) -> bool:
    return _locks().held(f"group:{group_id}")


@contextmanager
def group_lock(group_id, *, wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the group's lock for the block; waits up to `wait` seconds, else `GroupBusy`."""
    key = str(group_id)
    if key in _mine():
        yield  # this thread already holds it
        return
    locks = _locks()
    deadline = time.monotonic() + wait
    pause = 0.005
    token = locks.acquire(f"group:{key}", TTL_MS)
    while token is None:
        if time.monotonic() >= deadline:
            raise GroupBusy(f"group {key} is busy (another worker is acting on it)")
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
        token = locks.acquire(f"group:{key}", TTL_MS)
    with _holding(key, token, locks):
        yield


def try_group_lock(group_id):
    """`group_lock` without waiting: a context manager, or None when another worker holds
    the lock (the caller hands the work to a job instead of blocking)."""
    key = str(group_id)
    if key in _mine():
        return group_lock(key)
    locks = _locks()
    token = locks.acquire(f"group:{key}", TTL_MS)
    return None if token is None else _holding(key, token, locks)


@contextmanager
def _holding(key: str, token: str, locks: Locks) -> Iterator[None]:
    _mine()[key] = token
    try:
        yield
    finally:
        _mine().pop(key, None)
        locks.release(f"group:{key}", token)


def claim(name: str, ttl_seconds: int) -> bool:
    """True for the first caller of `name` in `ttl_seconds` (rate-limits repeated work)."""
    locks = _locks()
    return bool(locks.client.set(locks.key(f"claim:{name}"), "1", nx=True, ex=ttl_seconds))
