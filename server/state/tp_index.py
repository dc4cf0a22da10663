"""The take-profit trigger index and the last prices, in Redis (SPEC §4.4, §7).

A price monitor must not scan every group on every price: each open group that holds a
position is indexed under its venue and symbol by its **trigger price**
(`domain.take_profit.trigger_price`): a long group needs evaluating once the price is at or
above its lowest relevant target, a short group once it is at or below its highest. Longs and
shorts of a symbol live in two sorted sets, so a price `P` only touches the groups whose
trigger it crossed: `ZRANGEBYSCORE longs -inf P` and `ZRANGEBYSCORE shorts P +inf`.

Keys (under the stack's prefix):
- ``engine:tp:<venue>:<symbol>:long`` / ``:short``  sorted set: group id → trigger price
- ``engine:tp-meta``       hash: group id → JSON of what the monitor needs without the
                           database (venue, symbol, side, user, held / filled / invested)
- ``engine:tp-version``    counter bumped on every change, and ``engine:tp-changes`` the
                           list of the groups each change touched (`*`: everything), so
                           the monitor re-reads only what changed since its version
- ``engine:tp-fired:<group>``  set for a moment once a crossing was handed to a worker
- ``engine:price:<venue>`` hash: symbol → "<price>|<epoch ms>", the last price seen

Scores are doubles. Rounding to the nearest double is monotone, so a price at or beyond a
trigger always scores at or beyond it (no crossing is missed); two decimals that differ only
beyond ~15 significant digits could compare equal, which at worst evaluates a group one tick
early — the evaluation itself compares exact Decimals. Everything here is rebuilt from
PostgreSQL by the take-profit sweep.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import redis

SORTED = "{prefix}engine:tp:{venue}:{symbol}:{side}"
META = "{prefix}engine:tp-meta"
VERSION = "{prefix}engine:tp-version"
EPOCH = "{prefix}engine:tp-epoch"  # a token per life of the index: a new one after Redis lost it
CHANGES = "{prefix}engine:tp-changes"
CHANGES_KEPT = 10_000

# KEYS: version, change log. ARGV: entries kept, group ids. Returns the new version.
_LOG_CHANGE = """
local v = redis.call('INCR', KEYS[1])
for i = 2, #ARGV do redis.call('RPUSH', KEYS[2], v .. ':' .. ARGV[i]) end
if #ARGV == 1 then redis.call('RPUSH', KEYS[2], v .. ':') end
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[1]), -1)
return v
"""
FIRED = "{prefix}engine:tp-fired:{group}"
# A crossing handed to a worker is not handed over again until its evaluation reports back
# (`evaluated`) — at most one evaluation per group waits in the queue, however many groups a
# price move crosses and however far behind the workers are — or until this lease ran out (the
# worker died mid-evaluation; the take-profit sweep finishes a stuck close meanwhile).
HANDED_OVER_MS = 60_000
# After an evaluation that left the group's trigger where it was (a resting TP not filled yet,
# a lock not got), the same crossing is handed over again after this long.
RECROSS_AFTER_MS = 2_000
PRICE = "{prefix}engine:price:{venue}"


@dataclass(frozen=True)
class Watched:
    """One open group as the monitor sees it."""

    group_id: str
    user_id: str
    account_id: str
    venue: str
    symbol: str
    side: str
    held: Decimal
    filled: Decimal
    invested: Decimal
    trigger: Decimal | None

    def to_json(self) -> str:
        return json.dumps(
            {
                "user": self.user_id,
                "account": self.account_id,
                "venue": self.venue,
                "symbol": self.symbol,
                "side": self.side,
                "held": str(self.held),
                "filled": str(self.filled),
                "invested": str(self.invested),
                "trigger": None if self.trigger is None else str(self.trigger),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, group_id: str, text: str) -> Watched:
        raw = json.loads(text)
        return cls(
            group_id=group_id,
            user_id=raw["user"],
            account_id=raw["account"],
            venue=raw["venue"],
            symbol=raw["symbol"],
            side=raw["side"],
            held=Decimal(raw["held"]),
            filled=Decimal(raw["filled"]),
            invested=Decimal(raw["invested"]),
            trigger=None if raw.get("trigger") is None else Decimal(raw["trigger"]),
        )


class TriggerIndex:
    """The index of one stack (one key prefix) on one Redis."""

    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix

    def _sorted(self, venue: str, symbol: str, side: str) -> str:
        return SORTED.format(prefix=self.prefix, venue=venue, symbol=symbol, side=side)

    @property
    def _meta(self) -> str:
        return META.format(prefix=self.prefix)

    @property
    def _version(self) -> str:
        return VERSION.format(prefix=self.prefix)

    # --- writes -------------------------------------------------------------------------------

    @property
    def _changes(self) -> str:
        return CHANGES.format(prefix=self.prefix)

    def _changed(self, pipe, *group_ids: str) -> None:
        """Within `pipe`'s transaction: bump the version, log `<version>:<group>` for each
        touched group."""
        pipe.eval(_LOG_CHANGE, 2, self._version, self._changes, CHANGES_KEPT, *group_ids)

    def put(self, watched: Watched) -> None:
        """Index (or re-index) one open group; without a trigger it is watched for its price
        and unrealised PnL only."""
        key = self._sorted(watched.venue, watched.symbol, watched.side)
        pipe = self.client.pipeline(transaction=True)
        if watched.trigger is None:
            pipe.zrem(key, watched.group_id)
        else:
            pipe.zadd(key, {watched.group_id: float(watched.trigger)})
        pipe.hset(self._meta, watched.group_id, watched.to_json())
        self._changed(pipe, watched.group_id)
        pipe.execute()

    def remove(self, group_id: str) -> None:
        """Forget a group (closed, failed, or nothing to watch)."""
        text = self.client.hget(self._meta, group_id)
        if text is None:
            return
        old = Watched.from_json(group_id, text)
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(self._sorted(old.venue, old.symbol, old.side), group_id)
        pipe.hdel(self._meta, group_id)
        self._changed(pipe, group_id)
        pipe.execute()

    def replace_all(self, watched: Iterable[Watched], expected_version: int) -> bool:
        """Make the index equal to `watched` (the sweep: PostgreSQL is the truth), writing only
        what differs — and only if no group was re-indexed since `expected_version` was read
        (before the database was), so a rebuild from an older snapshot never overwrites a
        fresher entry. False = skipped; nothing differing = nothing written."""
        wanted = {w.group_id: w for w in watched}
        with self.client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(self._version)
                if int(pipe.get(self._version) or 0) != expected_version:
                    return False
                current = {
                    g: Watched.from_json(g, text) for g, text in pipe.hgetall(self._meta).items()
                }
                stale = [g for g in current if g not in wanted]
                fresh = [w for g, w in wanted.items() if current.get(g) != w]
                if not stale and not fresh:
                    return True
                pipe.multi()
                for group_id in stale:
                    old = current[group_id]
                    pipe.zrem(self._sorted(old.venue, old.symbol, old.side), group_id)
                    pipe.hdel(self._meta, group_id)
                for item in fresh:
                    key = self._sorted(item.venue, item.symbol, item.side)
                    if item.trigger is None:
                        pipe.zrem(key, item.group_id)
                    else:
                        pipe.zadd(key, {item.group_id: float(item.trigger)})
                    pipe.hset(self._meta, item.group_id, item.to_json())
                self._changed(pipe, *stale, *(w.group_id for w in fresh))
                pipe.execute()
            except redis.WatchError:
                return False
        return True

    def changes_since(self, version: int) -> tuple[int, dict[str, Watched | None]] | None:
        """(current version, {group id: its entry, or None when it is gone}) of what changed
        after `version`; None when the log does not reach back that far (reload all)."""
        current = int(self.client.get(self._version) or 0)
        if current == version:
            return current, {}
        if current < version or version < 0:
            return None
        size = 256
        while True:
            entries = self.client.lrange(self._changes, -size, -1)
            stamps = [int(e.partition(":")[0]) for e in entries]
            if stamps and stamps[0] <= version:
                break  # everything after `version` is in hand
            if len(entries) < size:
                return None  # the whole log, and it starts after `version`
            size *= 4
        touched = list(
            dict.fromkeys(
                e.partition(":")[2] for e, at in zip(entries, stamps, strict=True) if at > version
            )
        )
        ids = [g for g in touched if g]
        texts = self.client.hmget(self._meta, ids) if ids else []
        changed = {
            g: None if t is None else Watched.from_json(g, t)
            for g, t in zip(ids, texts, strict=True)
        }
        return current, changed

    # --- reads --------------------------------------------------------------------------------

    def version(self) -> int:
        return int(self.client.get(self._version) or 0)

    def epoch(self) -> str:
        """This index's life: a token made by the first reader after the keys were lost
        (Redis restarted empty). The version counts again from 0 then, so a reader that saw an
        older epoch must reload everything: a version number alone may come back to the one it
        knew and hide every change in between."""
        key = EPOCH.format(prefix=self.prefix)
        self.client.set(key, secrets.token_hex(8), nx=True)
        token = self.client.get(key)
        return token.decode() if isinstance(token, bytes) else str(token)

    def all(self) -> list[Watched]:
        return [Watched.from_json(g, text) for g, text in self.client.hgetall(self._meta).items()]

    def get(self, group_id: str) -> Watched | None:
        text = self.client.hget(self._meta, group_id)
        return None if text is None else Watched.from_json(group_id, text)

    def crossed(self, prices: Iterable[tuple[str, str, Decimal]]) -> list[tuple[str, Decimal]]:
        """(group id, price) of every group whose trigger the (venue, symbol, price) updates
        crossed: longs scored ≤ price, shorts scored ≥ price. One round trip."""
        prices = list(prices)
        if not prices:
            return []
        pipe = self.client.pipeline(transaction=False)
        for venue, symbol, price in prices:
            score = float(price)
            pipe.zrangebyscore(self._sorted(venue, symbol, "long"), "-inf", score)
            pipe.zrangebyscore(self._sorted(venue, symbol, "short"), score, "+inf")
        answers = pipe.execute()
        out: list[tuple[str, Decimal]] = []
        for i, (_venue, _symbol, price) in enumerate(prices):
            for group_id in (*answers[2 * i], *answers[2 * i + 1]):
                out.append((group_id, price))
        return out

    def fire(self, group_ids: Iterable[str], ttl_ms: int = HANDED_OVER_MS) -> list[str]:
        """The groups not handed to a worker now (and marks them handed over for `ttl_ms`)."""
        group_ids = list(group_ids)
        if not group_ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for group_id in group_ids:
            pipe.set(FIRED.format(prefix=self.prefix, group=group_id), "1", nx=True, px=ttl_ms)
        return [g for g, fresh in zip(group_ids, pipe.execute(), strict=True) if fresh]

    def evaluated(self, group_id: str, trigger_moved: bool) -> None:
        """An evaluation of `group_id` finished: a moved trigger may be crossed at once; the
        same trigger is handed over again after RECROSS_AFTER_MS."""
        key = FIRED.format(prefix=self.prefix, group=group_id)
        if trigger_moved:
            self.client.delete(key)
        else:
            self.client.set(key, "1", px=RECROSS_AFTER_MS)

    # --- last prices --------------------------------------------------------------------------

    def set_prices(self, venue: str, prices: dict[str, Decimal], at_ms: int | None = None) -> None:
        if not prices:
            return
        stamp = int(time.time() * 1000) if at_ms is None else at_ms
        self.client.hset(
            PRICE.format(prefix=self.prefix, venue=venue),
            mapping={s: f"{p}|{stamp}" for s, p in prices.items()},
        )

    def price(self, venue: str, symbol: str, max_age_ms: int | None = None) -> Decimal | None:
        """The last price the monitor saw for `symbol` on `venue` (None if unknown or older
        than `max_age_ms`)."""
        text = self.client.hget(PRICE.format(prefix=self.prefix, venue=venue), symbol)
        if not text:
            return None
        price, _, stamp = text.partition("|")
        if max_age_ms is not None and time.time() * 1000 - int(stamp or 0) > max_age_ms:
            return None
        return Decimal(price)
