"""Signal lanes in Redis: per position group, signals wait in arrival order and exactly one
worker at a time — the one holding the lane's *baton* — works through them (SPEC §2.3).

Keys (all under the stack's prefix):
- ``engine:lane:<lane>``         sorted set: signal id → arrival sequence (the lane's order)
- ``engine:lane-baton:<lane>``   the baton: a token with a TTL, held while a worker drives the lane
                                 (a `locks.new_token()`: it names its holder, so the worker pool
                                 frees a dead worker's batons at once, `free_batons_held_by`)
- ``engine:lane-called:<lane>``  set while a job has been enqueued to drive the lane and has
                                 not yet tried for the baton (so one job per idle lane suffices)
- ``engine:lanes``               set of lanes that have signals waiting (for the sweeper)
- ``engine:lane-seq``            arrival counter; ``engine:processing-seq`` processing counter

Joining a lane (`join`) assigns the arrival sequence and adds the signal in one script, after
the signal is committed to PostgreSQL, so the lane's order is the order signals were durably
accepted. The script also says whether a driver must be called: not when the baton is held (the
holder gives it back only when the lane is empty — `release_if_empty`, atomic with the
emptiness check — so it is bound to reach the new signal) and not when a driver has already
been called and has not yet tried for the baton. A worker that cannot take the baton simply
leaves. Everything here can be rebuilt from PostgreSQL (`signal.status = 'received'`), see
`services.signal_lanes.sweep`, which also calls drivers for lanes left without one.
"""

from __future__ import annotations

import redis

from server.state.locks import free_held_by

LANE = "{prefix}engine:lane:{lane}"
BATON = "{prefix}engine:lane-baton:{lane}"
CALLED = "{prefix}engine:lane-called:{lane}"
CALL_TTL_MS = 60_000  # a called driver that never shows up is replaced by the lane sweep
ACTIVE = "{prefix}engine:lanes"
ARRIVAL_SEQ = "{prefix}engine:lane-seq"
PROCESSING_SEQ = "{prefix}engine:processing-seq"

# KEYS: lane, active set, arrival counter, baton, called flag. ARGV: signal id, lane name, ttl ms.
# Returns {arrival sequence (the existing one when it already waits), 1 if a driver must be
# called (and marks the lane as called)}.
_JOIN = """
local seq = redis.call('ZSCORE', KEYS[1], ARGV[1])
if seq then
  seq = tonumber(seq)
else
  seq = redis.call('INCR', KEYS[3])
  redis.call('ZADD', KEYS[1], seq, ARGV[1])
  redis.call('SADD', KEYS[2], ARGV[2])
end
if redis.call('EXISTS', KEYS[4]) == 1 then return {seq, 0} end
if redis.call('SET', KEYS[5], '1', 'NX', 'PX', ARGV[3]) then return {seq, 1} end
return {seq, 0}
"""

# KEYS: baton, called flag. ARGV: token, ttl ms. Whoever tries for the baton answers the call.
_TAKE_BATON = """
local taken = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
if taken then return 1 end
return 0
"""

# `_TAKE_BATON`, and when taken also the lane's front (what the new driver reads first: one
# round trip instead of two in front of a lane's first order). KEYS: baton, called flag, lane.
# ARGV: token, ttl ms. Returns {0} (not taken), {1} (taken, lane empty) or {1, id, seq}.
_TAKE_BATON_AND_HEAD = """
local taken = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
if not taken then return {0} end
local front = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
if #front == 0 then return {1} end
return {1, front[1], front[2]}
"""

# KEYS: baton, lane, active set. ARGV: token, lane name.
# 1 = released (lane empty), 0 = kept (signals waiting), -1 = the baton is not ours any more.
_RELEASE_IF_EMPTY = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[2])
return 1
"""

# KEYS: lane, active set. ARGV: lane name. 1 = the empty lane was dropped from the set.
_FORGET_IF_EMPTY = """
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
"""

# KEYS: baton. ARGV: token, ttl ms. 1 = extended, 0 = not ours.
_EXTEND = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS: baton. ARGV: token. Gives the baton back whatever the lane holds.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class SignalLanes:
    """The lanes of one stack (one key prefix) on one Redis."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._join = client.register_script(_JOIN)
        self._take_baton = client.register_script(_TAKE_BATON)
        self._take_baton_and_head = client.register_script(_TAKE_BATON_AND_HEAD)
        self._release_if_empty = client.register_script(_RELEASE_IF_EMPTY)
        self._extend = client.register_script(_EXTEND)
        self._release = client.register_script(_RELEASE)
        self._forget_if_empty = client.register_script(_FORGET_IF_EMPTY)

    def _lane(self, lane: str) -> str:
        return LANE.format(prefix=self.prefix, lane=lane)

    def _baton(self, lane: str) -> str:
        return BATON.format(prefix=self.prefix, lane=lane)

    @property
    def _active(self) -> str:
        return ACTIVE.format(prefix=self.prefix)

    def join(self, lane: str, signal_id: str) -> tuple[int, bool]:
        """Add a signal at the back of its lane: (arrival sequence, call a driver). No driver
        is needed while the baton is held or a called driver is on its way."""
        keys = [
            self._lane(lane),
            self._active,
            ARRIVAL_SEQ.format(prefix=self.prefix),
            self._baton(lane),
            CALLED.format(prefix=self.prefix, lane=lane),
        ]
        seq, call = self._join(keys=keys, args=[signal_id, lane, CALL_TTL_MS])
        return int(seq), bool(call)

    def head(self, lane: str) -> tuple[str, int] | None:
        """The signal at the front of the lane and its arrival sequence, or `None`."""
        front = self.client.zrange(self._lane(lane), 0, 0, withscores=True)
        if not front:
            return None
        member, score = front[0]
        return str(member), int(score)

    def leave(self, lane: str, signal_id: str) -> None:
        """Take a signal out of its lane (it has been processed)."""
        self.client.zrem(self._lane(lane), signal_id)

    def take_baton(self, lane: str, token: str, ttl_ms: int) -> bool:
        """Become the lane's only driver until released or `ttl_ms` passes without `extend`.
        Either way the lane's pending call is answered (a later join may call a driver)."""
        keys = [self._baton(lane), CALLED.format(prefix=self.prefix, lane=lane)]
        return bool(self._take_baton(keys=keys, args=[token, ttl_ms]))

    def take_baton_and_head(
        self, lane: str, token: str, ttl_ms: int
    ) -> tuple[bool, tuple[str, int] | None]:
        """`take_baton` and, when taken, `head` — in one script (atomic, one round trip):
        (taken, the lane's front or None)."""
        keys = [
            self._baton(lane),
            CALLED.format(prefix=self.prefix, lane=lane),
            self._lane(lane),
        ]
        answer = self._take_baton_and_head(keys=keys, args=[token, ttl_ms])
        if not int(answer[0]):
            return False, None
        if len(answer) < 3:
            return True, None
        member = answer[1].decode() if isinstance(answer[1], bytes) else str(answer[1])
        return True, (member, int(float(answer[2])))

    def extend(self, lane: str, token: str, ttl_ms: int) -> bool:
        return bool(self._extend(keys=[self._baton(lane)], args=[token, ttl_ms]))

    def release_if_empty(self, lane: str, token: str) -> int:
        """1 released, 0 kept (signals waiting: keep driving), -1 the baton is not ours."""
        keys = [self._baton(lane), self._lane(lane), self._active]
        return int(self._release_if_empty(keys=keys, args=[token, lane]))

    def release(self, lane: str, token: str) -> None:
        self._release(keys=[self._baton(lane)], args=[token])

    def free_batons_held_by(self, dead: str) -> list[str]:
        """Give back every baton `dead` (the `holder()` of a process known dead) holds: the
        lanes freed. Their signals stay where they are, the front one included."""
        return free_held_by(self.client, self._baton(""), dead)

    def baton_start(self) -> str:
        """Where every baton key begins (for `locks.dead_holders_here`)."""
        return self._baton("")

    def baton_held(self, lane: str) -> bool:
        return bool(self.client.exists(self._baton(lane)))

    def active_lanes(self) -> list[str]:
        return sorted(str(name) for name in self.client.smembers(self._active))

    def waiting(self, lane: str) -> int:
        return int(self.client.zcard(self._lane(lane)))

    def forget_if_empty(self, lane: str) -> bool:
        """Drop a lane with nothing waiting from the active set (the sweep's housekeeping)."""
        return bool(self._forget_if_empty(keys=[self._lane(lane), self._active], args=[lane]))

    def next_processing_seq(self) -> int:
        return int(self.client.incr(PROCESSING_SEQ.format(prefix=self.prefix)))

    def counters_present(self) -> bool:
        keys = [ARRIVAL_SEQ.format(prefix=self.prefix), PROCESSING_SEQ.format(prefix=self.prefix)]
        return self.client.exists(*keys) == 2

    def ensure_counters(self, min_arrival: int, min_processing: int) -> None:
        """After a Redis flush, restart missing counters above what PostgreSQL already holds."""
        self.client.set(ARRIVAL_SEQ.format(prefix=self.prefix), min_arrival, nx=True)
        self.client.set(PROCESSING_SEQ.format(prefix=self.prefix), min_processing, nx=True)
