"""Exchange request budgets shared by every process (Redis, one Lua script per request).

An exchange limits request *weight* per IP address (Binance: 6,000 weight a minute) and
orders per account / API key (Binance spot: 100 per 10 s). ccxt's own limiter spaces each
process's calls by a fixed `rateLimit × cost` — 50 ms before every Binance call even when the
budget is untouched, and blind to the other workers. This budget instead lets a request go at
once while the shared window has room and says how long to wait when it has not.

**Sliding window** per budget key: a Redis hash of weight per time bucket (a sixtieth of the
window). A request of weight `w` is granted when the weight of the buckets that touch the last
`window` (one bucket more than the window, so the count never under-estimates) plus `w` fits
the capacity — for every key it names (an IP budget and an account budget at once, all or
nothing). Otherwise nothing is counted and the answer is the number of milliseconds until
enough old buckets leave the window.

**Penalty**: after an HTTP 429 / 418 with Retry-After, `penalize` stores "nobody sends before
T" on the key; every process then waits (or gives up) until T — the engine backs off as a
whole rather than one worker at a time.

Weights are counted in thousandths (integers in Redis; ccxt's costs can be fractional).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

__all__ = ["WEIGHT_SCALE", "Budget", "RateBudget"]

WEIGHT_SCALE = 1000
BUCKETS_PER_WINDOW = 60

_TAKE = """
local now = tonumber(ARGV[1])
local weight = tonumber(ARGV[2])
local wait = 0
local plan = {}
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  if weight > capacity then return -1 end
  local width = math.max(1, math.floor(window / tonumber(ARGV[#ARGV])))
  local count = math.ceil(window / width)
  local current = math.floor(now / width)
  local penalty = tonumber(redis.call('GET', key .. ':penalty') or '0')
  if penalty > now then wait = math.max(wait, penalty - now) end
  local raw = redis.call('HGETALL', key)
  local used, buckets = 0, {}
  for j = 1, #raw, 2 do
    local index, amount = tonumber(raw[j]), tonumber(raw[j + 1])
    if index < current - count then
      redis.call('HDEL', key, raw[j])
    else
      used = used + amount
      buckets[#buckets + 1] = {index, amount}
    end
  end
  if used + weight > capacity then
    table.sort(buckets, function(a, b) return a[1] < b[1] end)
    local freed = 0
    for _, bucket in ipairs(buckets) do
      freed = freed + bucket[2]
      if used - freed + weight <= capacity then
        wait = math.max(wait, (bucket[1] + count + 1) * width - now)
        break
      end
    end
  end
  plan[i] = {key, current, window}
end
if wait > 0 then return wait end
for _, step in ipairs(plan) do
  redis.call('HINCRBY', step[1], step[2], weight)
  redis.call('PEXPIRE', step[1], step[3] * 2)
end
return 0
"""

_PENALIZE = """
local until_ms = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
  local current = tonumber(redis.call('GET', key .. ':penalty') or '0')
  if until_ms > current then
    redis.call('SET', key .. ':penalty', until_ms, 'PX', math.max(1, until_ms - tonumber(ARGV[2])))
  end
end
return 1
"""


@dataclass(frozen=True)
class Budget:
    """`capacity` weight per `window_ms` on one Redis key (an IP's or an API key's)."""

    key: str
    capacity: float
    window_ms: int


def _now_ms() -> int:
    return int(time.time() * 1000)


class RateBudget:
    """The Lua budget over one Redis connection (see the module docstring)."""

    def __init__(self, client: redis.Redis, clock=_now_ms) -> None:
        self.client = client
        self.clock = clock
        self._take = client.register_script(_TAKE)
        self._penalize = client.register_script(_PENALIZE)

    def take(self, budgets: list[Budget], weight: float, now_ms: int | None = None) -> float:
        """Count `weight` on every budget and return 0.0 when all have room; otherwise count
        nothing and return the seconds to wait before asking again. `ValueError` when the
        weight exceeds a budget's whole capacity (it could never go)."""
        if not budgets:
            return 0.0
        now = self.clock() if now_ms is None else now_ms
        args: list = [now, round(weight * WEIGHT_SCALE)]
        for budget in budgets:
            args += [round(budget.capacity * WEIGHT_SCALE), int(budget.window_ms)]
        args.append(BUCKETS_PER_WINDOW)
        wait = int(self._take(keys=[b.key for b in budgets], args=args))
        if wait < 0:
            raise ValueError(f"weight {weight} exceeds the capacity of {budgets}")
        return wait / 1000

    def penalize(self, keys: list[str], seconds: float, now_ms: int | None = None) -> None:
        """Nobody sends on `keys` for `seconds` (a Retry-After); a longer penalty stays."""
        if not keys or seconds <= 0:
            return
        now = self.clock() if now_ms is None else now_ms
        self._penalize(keys=keys, args=[now + int(seconds * 1000), now])

    def used(self, budget: Budget, now_ms: int | None = None) -> float:
        """The weight counted in the budget's window now (for tests and health reports)."""
        now = self.clock() if now_ms is None else now_ms
        width = max(1, budget.window_ms // BUCKETS_PER_WINDOW)
        current, count = now // width, -(-budget.window_ms // width)
        total = sum(
            int(v) for k, v in self.client.hgetall(budget.key).items() if int(k) >= current - count
        )
        return total / WEIGHT_SCALE
