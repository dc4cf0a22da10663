"""The performance ledger of each user cached in Redis, rebuildable at any time from PostgreSQL.

Keys (prefix = `RQ_QUEUE_PREFIX`):

- ``{prefix}engine:performance:{user}:epoch`` — a random token naming the current build. Deleting
  it (`invalidate`) makes every process drop its copy and rebuild from the database.
- ``{prefix}engine:performance:{user}`` — a hash: ``meta`` (schema, epoch, watermarks) and one
  field per day, ``t:YYYY-MM-DD`` (trades) and ``e:YYYY-MM-DD`` (equity), each the JSON of
  `analytics_ledger.encode_*`. Only the days that changed are written.

A hash whose ``meta`` names another epoch or schema is ignored (a rebuild overwrites it). Both
keys expire after `TTL_SECONDS` without a write, so an idle user's cache goes away by itself.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from datetime import date, datetime, timedelta

import redis

from server.domain.analytics_codec import (
    decode_equity,
    decode_trades,
    encode_equity,
    encode_trades,
)
from server.domain.analytics_ledger import Ledger

SCHEMA = 1
TTL_SECONDS = 30 * 24 * 3600
KEY = "{prefix}engine:performance:{user}"
_EPOCH = datetime(1970, 1, 1)


def _keys(prefix: str, user_id) -> tuple[str, str]:
    key = KEY.format(prefix=prefix, user=user_id)
    return key, f"{key}:epoch"


def _micros(moment: datetime | None) -> int | None:
    return None if moment is None else (moment - _EPOCH) // timedelta(microseconds=1)


def _moment(micros: int | None) -> datetime | None:
    return None if micros is None else _EPOCH + timedelta(microseconds=micros)


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def read_epoch(client: redis.Redis, prefix: str, user_id) -> str | None:
    return client.get(_keys(prefix, user_id)[1])


def claim_epoch(client: redis.Redis, prefix: str, user_id) -> str:
    """A new build's epoch; if another process claimed one first, that one (both builds are
    the same database, so either may write)."""
    _, epoch_key = _keys(prefix, user_id)
    client.set(epoch_key, secrets.token_hex(8), nx=True, ex=TTL_SECONDS)
    return client.get(epoch_key) or ""


def load(client: redis.Redis, prefix: str, user_id, epoch: str) -> Ledger | None:
    """The cached ledger of `epoch`, or None (absent, another build, unreadable)."""
    key, _ = _keys(prefix, user_id)
    raw = client.hgetall(key)
    try:
        meta = json.loads(raw.pop("meta"))
        if meta.get("schema") != SCHEMA or meta.get("epoch") != epoch:
            return None
        ledger = Ledger(
            trades_through=_moment(meta.get("trades_through")),
            snapshots_through=_moment(meta.get("snapshots_through")),
        )
        for field, value in raw.items():
            kind, _, day = field.partition(":")
            if kind == "t":
                ledger.trades[date.fromisoformat(day)] = decode_trades(json.loads(value))
            elif kind == "e":
                ledger.equity[date.fromisoformat(day)] = decode_equity(json.loads(value))
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return ledger


def store(
    client: redis.Redis,
    prefix: str,
    user_id,
    epoch: str,
    ledger: Ledger,
    trade_days: Iterable[date] | None = None,
    equity_days: Iterable[date] | None = None,
) -> None:
    """Write the days that changed (None: the whole ledger, replacing what was there) and the
    watermarks, in one transaction."""
    key, epoch_key = _keys(prefix, user_id)
    full = trade_days is None and equity_days is None
    meta = {
        "schema": SCHEMA,
        "epoch": epoch,
        "trades_through": _micros(ledger.trades_through),
        "snapshots_through": _micros(ledger.snapshots_through),
    }
    fields: dict[str, str] = {"meta": _dumps(meta)}
    gone: list[str] = []
    for prefix_, days, store_, encode in (
        ("t", ledger.trades if full else trade_days or (), ledger.trades, encode_trades),
        ("e", ledger.equity if full else equity_days or (), ledger.equity, encode_equity),
    ):
        for day in days:
            name = f"{prefix_}:{day.isoformat()}"
            if day in store_:
                fields[name] = _dumps(encode(store_[day]))
            else:
                gone.append(name)
    pipe = client.pipeline(transaction=True)
    if full:
        pipe.delete(key)
    if gone:
        pipe.hdel(key, *gone)
    pipe.hset(key, mapping=fields)
    pipe.expire(key, TTL_SECONDS)
    pipe.expire(epoch_key, TTL_SECONDS)
    pipe.execute()


def invalidate(client: redis.Redis, prefix: str, user_id) -> None:
    client.delete(*_keys(prefix, user_id))
