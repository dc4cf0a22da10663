"""Short-lived Redis locks with an owner token (SET NX PX; released only by their owner).

Used where two processes must not do the same exchange work at once: sending one order
(`order-send:<order id>`), and one account's fill-monitor pass (`fill-monitor:<account id>`).
A holder that dies leaves the lock to expire; nothing here is the truth, PostgreSQL and the
exchange are. A token names its holder (`<host>:<pid>:<random>`), so the worker pool frees
the locks of a worker it found dead at once (`free_held_by`) instead of leaving the group,
the fill monitor or the reconciliation of an account blocked for the lock's whole TTL — all
but the order-send locks: the dead sender's request may still reach the exchange, and the
send lock's expiry is the grace that keeps an order from being sent twice.

The lanes' batons (`state.signal_lanes`) carry the same tokens and are freed the same way
(the module-level `free_held_by`, given where their keys start). A pool starting up frees
those of this host's processes that are gone (`dead_holders_here`): the previous pool's, when
it was killed as a whole.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterable

import redis

KEY = "{prefix}engine:lock:{name}"

KEEP_WHEN_HOLDER_DIES = ("order-send:",)

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def holder(pid: int | None = None) -> str:
    """This host and a process id (this process by default): the prefix of its tokens."""
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


def new_token() -> str:
    """A fresh owner token naming this process: `<holder()>:<random>`."""
    return f"{holder()}:{uuid.uuid4().hex}"


def holder_of(token: str) -> str:
    """The `holder()` a token names ('' for a token that names none, e.g. a bare uuid)."""
    named, sep, _ = token.rpartition(":")
    return named if sep else ""


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def dead_holders_here(client: redis.Redis, starts: Iterable[str]) -> set[str]:
    """The holders on this host named by the tokens of keys beginning with one of `starts`
    whose process is gone. A pool killed as a whole (or a host restarted) leaves its workers'
    tokens behind with nobody having seen them die. A pid taken since by a live process is
    not listed (its keys expire by themselves)."""
    found: set[str] = set()
    for start in starts:
        for key in client.scan_iter(match=f"{start}*", count=1000):
            with contextlib.suppress(redis.ResponseError):  # not a string: no token
                named = holder_of(_text(client.get(key)) or "")
                if is_gone(named):
                    found.add(named)
    return found


def is_gone(named: str) -> bool:
    """`named` (a `holder()`: host and pid) is a process of this host that no longer exists.
    False for another host's process (nothing here can tell) and for a live pid."""
    host, _, pid = named.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's live process
        return False
    return False


def free_held_by(
    client: redis.Redis, start: str, dead: str, keep: tuple[str, ...] = ()
) -> list[str]:
    """Release every key beginning with `start` whose token `dead` (the `holder()` of a
    process known dead) holds — compare-and-delete, so a key re-taken since is left alone —
    but those whose name (the rest of the key) begins with one of `keep`; the names freed."""
    release = client.register_script(_RELEASE)
    freed = []
    for key in client.scan_iter(match=f"{start}*", count=1000):
        key = _text(key)
        name = key[len(start) :]
        if name.startswith(keep):
            continue
        token = _text(client.get(key))
        if token and holder_of(token) == dead and release(keys=[key], args=[token]):
            freed.append(name)
    return freed


class Locks:
    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix
        self._release = client.register_script(_RELEASE)

    def key(self, name: str) -> str:
        return KEY.format(prefix=self.prefix, name=name)

    def acquire(self, name: str, ttl_ms: int) -> str | None:
        """A token when the lock was free (now ours for `ttl_ms`), else None."""
        token = new_token()
        if self.client.set(self.key(name), token, nx=True, px=max(int(ttl_ms), 1)):
            return token
        return None

    def release(self, name: str, token: str | None) -> bool:
        if not token:
            return False
        return bool(self._release(keys=[self.key(name)], args=[token]))

    def free_held_by(self, dead: str) -> list[str]:
        """Release every lock `dead` (a `holder()` of a process known dead) holds, but those
        named in KEEP_WHEN_HOLDER_DIES; the names freed."""
        return free_held_by(self.client, self.key(""), dead, KEEP_WHEN_HOLDER_DIES)

    def held(self, name: str) -> bool:
        return bool(self.client.exists(self.key(name)))

    def once(self, name: str) -> bool:
        """True the first time it is asked for `name` (until the key is deleted)."""
        return bool(self.client.set(self.key(f"once:{name}"), "1", nx=True))
