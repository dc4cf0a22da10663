"""Market precision rules cached in Redis (SPEC §3.3), one key per exchange, market type and
symbol, rebuildable at any time from the exchange.

Key: ``{prefix}engine:precision:{exchange}:{market_type}:{symbol}``; value: JSON
``{"rules": MarketRules.to_json(), "fetched_at": "2026-01-01T00:00:00.000Z"}`` — decimals as
strings (every digit kept) and the time the rules were fetched from the exchange, so staleness
is visible to whoever reads them. The TTL bounds how long rules may be used without a refresh.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import redis

from server.clock import isoformat, utcnow
from server.domain.precision import MarketRules

KEY = "{prefix}engine:precision:{exchange}:{market_type}:{symbol}"


@dataclass(frozen=True)
class CachedRules:
    rules: MarketRules
    fetched_at: datetime  # naive UTC, as everywhere in the engine

    def age_seconds(self, now: datetime) -> float:
        return (now - self.fetched_at).total_seconds()


def key_for(prefix: str, exchange: str, market_type: str, symbol: str) -> str:
    return KEY.format(
        prefix=prefix,
        exchange=str(exchange),
        market_type=str(market_type),
        symbol=str(symbol),
    )


def _encode(rules: MarketRules, fetched_at: datetime) -> str:
    return json.dumps(
        {"rules": rules.to_json(), "fetched_at": isoformat(fetched_at)}, separators=(",", ":")
    )


def _decode(raw: str | None) -> CachedRules | None:
    """A stored value, or `None` when absent or unreadable (a bad entry is a cache miss: the
    caller fetches the rules again and overwrites it)."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        fetched_at = datetime.fromisoformat(data["fetched_at"].removesuffix("Z"))
        return CachedRules(MarketRules.from_json(data["rules"]), fetched_at)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def get_entry(
    client: redis.Redis, prefix: str, exchange: str, market_type: str, symbol: str
) -> CachedRules | None:
    """Rules with the time they were fetched, or `None` when not cached."""
    return _decode(client.get(key_for(prefix, exchange, market_type, symbol)))


def get(
    client: redis.Redis, prefix: str, exchange: str, market_type: str, symbol: str
) -> MarketRules | None:
    """Rules of one symbol, or `None` when not cached (the caller fetches them on demand)."""
    entry = get_entry(client, prefix, exchange, market_type, symbol)
    return entry.rules if entry else None


def get_many(
    client: redis.Redis, prefix: str, exchange: str, market_type: str, symbols: Sequence[str]
) -> dict[str, CachedRules]:
    """Cached entries of several symbols in one round trip; missing symbols are left out."""
    if not symbols:
        return {}
    raws = client.mget([key_for(prefix, exchange, market_type, s) for s in symbols])
    out: dict[str, CachedRules] = {}
    for symbol, raw in zip(symbols, raws, strict=True):
        entry = _decode(raw)
        if entry is not None:
            out[symbol] = entry
    return out


def put_many(
    client: redis.Redis,
    prefix: str,
    exchange: str,
    market_type: str,
    rules_list: Iterable[MarketRules],
    ttl_seconds: int | None,
    *,
    fetched_at: datetime | None = None,
) -> int:
    """Store rules (keyed by `rules.symbol`) in one pipeline; returns how many were written.
    `ttl_seconds=None` keeps them until overwritten; `fetched_at` defaults to now."""
    if ttl_seconds is not None and ttl_seconds <= 0:
        raise ValueError(f"ttl_seconds must be positive or None, not {ttl_seconds}")
    stamp = fetched_at or utcnow()
    pipe = client.pipeline(transaction=False)
    count = 0
    for rules in rules_list:
        pipe.set(
            key_for(prefix, exchange, market_type, rules.symbol),
            _encode(rules, stamp),
            ex=ttl_seconds,
        )
        count += 1
    if count:
        pipe.execute()
    return count


def delete(client: redis.Redis, prefix: str, exchange: str, market_type: str, symbol: str) -> None:
    client.delete(key_for(prefix, exchange, market_type, symbol))
