"""The execution pool and the queue in Redis (SPEC §5): every change that must be atomic is
one Lua script. A fast copy — PostgreSQL is the truth and `services.pool` rebuilds this.

Keys (under the stack's prefix):
- ``engine:pool:<user>``   hash: slot id → "<group id>|<taken epoch ms>|<n or f>" (f = forced,
                           over the limit). A new group's slot id is its group id; a pyramid
                           that counts toward the pool holds ``<group id>:p<index>``.
- ``engine:queue:<user>``  sorted set: member → score (`domain.queue_priority`).
- ``engine:pool:built``    the marker: set once the pool and queue were rebuilt from
                           PostgreSQL. A flushed (or new) Redis has no marker: every script
                           then answers ``NOT_BUILT`` and changes nothing, so the caller
                           rebuilds first and no slot is ever handed out from an empty copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import redis

POOL = "{prefix}engine:pool:{user}"
QUEUE = "{prefix}engine:queue:{user}"
MARKER = "{prefix}engine:pool:built"
NOT_BUILT = -1

# KEYS: marker, pool. ARGV: slot id, value, max (0 = no limit: forced).
# 1 taken (or already held), 0 pool full, -1 not built.
_TAKE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 1 end
local limit = tonumber(ARGV[3])
if limit > 0 and redis.call('HLEN', KEYS[2]) >= limit then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
"""

# KEYS: marker, pool. ARGV: group id. Frees every slot the group holds; how many, or -1.
_RELEASE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local all = redis.call('HGETALL', KEYS[2])
local prefix = ARGV[1] .. '|'
local freed = 0
for i = 1, #all, 2 do
  if string.sub(all[i + 1], 1, #prefix) == prefix then
    redis.call('HDEL', KEYS[2], all[i])
    freed = freed + 1
  end
end
return freed
"""

# KEYS: marker, pool, queue. ARGV: slot id, slot value, max, continuation score floor,
# pyramids count toward the pool (1/0).
# Takes the top queued signal and, unless it is a continuation that needs none, a slot — one
# step. {member, score, slot taken (1/0)}; {} when the queue is empty or the pool is full; -1.
_TAKE_TOP = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local top = redis.call('ZREVRANGE', KEYS[3], 0, 0, 'WITHSCORES')
if #top == 0 then return {} end
local continuation = tonumber(top[2]) >= tonumber(ARGV[4])
if continuation and ARGV[5] == '0' then
  redis.call('ZREM', KEYS[3], top[1])
  return {top[1], top[2], 0}
end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[3]) then return {} end
redis.call('ZREM', KEYS[3], top[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return {top[1], top[2], 1}
"""

# KEYS: marker, pool, queue. ARGV: member, slot id, slot value, max (0 = no limit).
# Takes THIS queued signal and a slot (manual promote / force). 1, 0 pool full,
# -2 not queued (any more), -1 not built.
_TAKE_MEMBER = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if not redis.call('ZSCORE', KEYS[3], ARGV[1]) then return -2 end
local limit = tonumber(ARGV[4])
if limit > 0 and redis.call('HLEN', KEYS[2]) >= limit then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

# KEYS: marker, queue. ARGV: member, score, mode ('add' | 'xx'). 1 written, 0 not, -1.
_PUT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[3] == 'xx' then
  if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"""

# KEYS: marker, queue. ARGV: member. 1 removed, 0 was not there, -1.
_REMOVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('ZREM', KEYS[2], ARGV[1])
"""


class NotBuilt(Exception):
    """Redis has no pool copy (flushed or new): rebuild from PostgreSQL, then retry."""


@dataclass(frozen=True)
class Slot:
    slot_id: str
    group_id: str
    taken_ms: int
    forced: bool


def slot_value(group_id: str, taken_ms: int, forced: bool = False) -> str:
    return f"{group_id}|{taken_ms}|{'f' if forced else 'n'}"


def parse_slot(slot_id: str, value: str) -> Slot:
    group_id, taken, kind = value.split("|")
    return Slot(slot_id, group_id, int(taken), kind == "f")


class PoolStore:
    """Pool and queue of one stack (one key prefix) on one Redis."""

    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix
        self._take = client.register_script(_TAKE)
        self._release = client.register_script(_RELEASE)
        self._take_top = client.register_script(_TAKE_TOP)
        self._take_member = client.register_script(_TAKE_MEMBER)
        self._put = client.register_script(_PUT)
        self._remove = client.register_script(_REMOVE)

    # --- keys ---------------------------------------------------------------------------------

    @property
    def marker(self) -> str:
        return MARKER.format(prefix=self.prefix)

    def pool_key(self, user_id) -> str:
        return POOL.format(prefix=self.prefix, user=user_id)

    def queue_key(self, user_id) -> str:
        return QUEUE.format(prefix=self.prefix, user=user_id)

    @staticmethod
    def _checked(answer):
        if answer == NOT_BUILT:
            raise NotBuilt
        return answer

    # --- the marker and the rebuild -----------------------------------------------------------

    def built(self) -> bool:
        return bool(self.client.exists(self.marker))

    def rebuild(
        self,
        pools: dict[str, dict[str, str]],
        queues: dict[str, dict[str, int]],
        user_ids: Iterable[str],
    ) -> None:
        """Replace the pools and queues of `user_ids` (and of everyone in `pools`/`queues`) and
        set the marker — one MULTI/EXEC, so nobody sees half a copy."""
        users = set(user_ids) | set(pools) | set(queues)
        pipe = self.client.pipeline(transaction=True)
        for user in users:
            pipe.delete(self.pool_key(user), self.queue_key(user))
            if pools.get(user):
                pipe.hset(self.pool_key(user), mapping=pools[user])
            if queues.get(user):
                pipe.zadd(self.queue_key(user), queues[user])
        pipe.set(self.marker, "1")
        pipe.execute()

    # --- slots --------------------------------------------------------------------------------

    def take(self, user_id, slot_id: str, value: str, limit: int) -> bool:
        """Take a slot unless `limit` slots are held (limit 0: forced, always)."""
        keys = [self.marker, self.pool_key(user_id)]
        return self._checked(self._take(keys=keys, args=[slot_id, value, limit])) == 1

    def release_group(self, user_id, group_id: str) -> int:
        """Free every slot `group_id` holds; how many were freed."""
        keys = [self.marker, self.pool_key(user_id)]
        return int(self._checked(self._release(keys=keys, args=[group_id])))

    def bind(self, user_id, slot_id: str, value: str) -> None:
        """Point a held slot at its group (a promoted continuation that became a pyramid)."""
        self.client.hset(self.pool_key(user_id), slot_id, value)

    def free_slot(self, user_id, slot_id: str) -> None:
        self.client.hdel(self.pool_key(user_id), slot_id)

    def slots(self, user_id) -> list[Slot]:
        raw = self.client.hgetall(self.pool_key(user_id))
        return [parse_slot(k, v) for k, v in raw.items()]

    def used(self, user_id) -> int:
        return int(self.client.hlen(self.pool_key(user_id)))

    # --- the queue ----------------------------------------------------------------------------

    def put(self, user_id, member: str, score: int, *, only_existing: bool = False) -> bool:
        keys = [self.marker, self.queue_key(user_id)]
        mode = "xx" if only_existing else "add"
        return self._checked(self._put(keys=keys, args=[member, score, mode])) == 1

    def rescore(self, user_id, scores: dict[str, int]) -> None:
        """Update the scores of members still queued (ZADD XX: a signal promoted meanwhile is
        never put back). Not atomic as a whole; each member's update is."""
        if scores:
            self.client.zadd(self.queue_key(user_id), scores, xx=True)

    def remove(self, user_id, member: str) -> bool:
        keys = [self.marker, self.queue_key(user_id)]
        return self._checked(self._remove(keys=keys, args=[member])) == 1

    def take_top(
        self, user_id, slot_id: str, value: str, limit: int, floor: int, pyramids_count: bool
    ) -> tuple[str, float, bool] | None:
        """(member, score, slot taken) of the top signal, taken with its slot; None when the
        queue is empty or the pool is full."""
        keys = [self.marker, self.pool_key(user_id), self.queue_key(user_id)]
        args = [slot_id, value, limit, floor, "1" if pyramids_count else "0"]
        answer = self._checked(self._take_top(keys=keys, args=args))
        if not answer:
            return None
        return str(answer[0]), float(answer[1]), bool(int(answer[2]))

    def take_member(self, user_id, member: str, slot_id: str, value: str, limit: int) -> int:
        """1 taken with a slot, 0 pool full, -2 not queued (any more)."""
        keys = [self.marker, self.pool_key(user_id), self.queue_key(user_id)]
        return int(
            self._checked(self._take_member(keys=keys, args=[member, slot_id, value, limit]))
        )

    def ranked(self, user_id) -> list[tuple[str, float]]:
        """Every queued member with its score, promotion order first."""
        return [
            (str(m), float(s))
            for m, s in self.client.zrevrange(self.queue_key(user_id), 0, -1, withscores=True)
        ]

    def queued(self, user_id) -> int:
        return int(self.client.zcard(self.queue_key(user_id)))

    def score_of(self, user_id, member: str) -> float | None:
        value = self.client.zscore(self.queue_key(user_id), member)
        return None if value is None else float(value)
