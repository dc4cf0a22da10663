"""Precision rules cached in the real Redis (database 15, reserved for these tests and flushed
around each one): every digit survives the round trip, with its fetch time."""

from __future__ import annotations

import os
from datetime import datetime
from decimal import Decimal

import pytest
import redis

from server.clock import utcnow
from server.state import precision_cache
from tests.unit.test_precision_properties import RULES

REDIS_URL = os.environ.get("TEST_PRECISION_REDIS_URL", "redis://127.0.0.1:6379/15")
PREFIX = "t:"
FETCHED_AT = datetime(2026, 1, 2, 3, 4, 5, 678000)


@pytest.fixture
def client():
    connection = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


def by_source(source: str) -> list:
    return [rules for key, rules in RULES.items() if key.startswith(f"{source}:")]


def test_round_trip_keeps_every_digit(client):
    sources = {
        ("binance", "spot"): by_source("binance-spot"),
        ("binance", "futures"): by_source("binance-usdm"),
        ("bybit", "spot"): by_source("bybit-spot"),
        ("bybit", "futures"): by_source("bybit-linear"),
    }
    for (exchange, market_type), rules_list in sources.items():
        written = precision_cache.put_many(
            client, PREFIX, exchange, market_type, rules_list, 120, fetched_at=FETCHED_AT
        )
        assert written == len(rules_list)
    for (exchange, market_type), rules_list in sources.items():
        for rules in rules_list:
            back = precision_cache.get(client, PREFIX, exchange, market_type, rules.symbol)
            assert back == rules
            assert back.to_json() == rules.to_json()  # same digits, same places
    pepe = precision_cache.get(client, PREFIX, "bybit", "spot", "PEPEUSDT")
    assert pepe.max_qty == Decimal("288142918887.7683330932")
    assert str(pepe.tick_size) == "1E-9" and pepe.to_json()["tick_size"] == "0.000000001"
    # Same symbol on another exchange or market type is another entry.
    binance_btc = precision_cache.get(client, PREFIX, "binance", "spot", "BTCUSDT")
    futures_btc = precision_cache.get(client, PREFIX, "binance", "futures", "BTCUSDT")
    assert binance_btc.min_notional == 5 and futures_btc.min_notional == 100


def test_key_layout_ttl_and_fetched_at(client):
    rules = RULES["binance-spot:BTCUSDT"]
    precision_cache.put_many(client, PREFIX, "binance", "spot", [rules], 90, fetched_at=FETCHED_AT)
    key = "t:engine:precision:binance:spot:BTCUSDT"
    assert client.keys(f"{PREFIX}*") == [key]  # only its own: the session's stack shares the db
    assert 0 < client.ttl(key) <= 90
    assert '"fetched_at":"2026-01-02T03:04:05.678Z"' in client.get(key)
    assert '"min_notional":"5"' in client.get(key)

    entry = precision_cache.get_entry(client, PREFIX, "binance", "spot", "BTCUSDT")
    assert entry.rules == rules
    assert entry.fetched_at == FETCHED_AT
    assert entry.age_seconds(datetime(2026, 1, 2, 3, 5, 5, 678000)) == 60


def test_missing_stale_and_unreadable_entries(client):
    assert precision_cache.get(client, PREFIX, "binance", "spot", "BTCUSDT") is None
    # Another prefix (another stack sharing the Redis) does not see the entry.
    precision_cache.put_many(
        client, "other:", "binance", "spot", [RULES["binance-spot:BTCUSDT"]], 60
    )
    assert precision_cache.get(client, PREFIX, "binance", "spot", "BTCUSDT") is None
    # A corrupt value is a cache miss (the caller refetches and overwrites it).
    client.set("t:engine:precision:binance:spot:ETHUSDT", "{not json")
    assert precision_cache.get(client, PREFIX, "binance", "spot", "ETHUSDT") is None
    # Without a TTL the entry stays until overwritten; fetched_at defaults to now.
    precision_cache.put_many(
        client, PREFIX, "binance", "spot", [RULES["binance-spot:ETHUSDT"]], None
    )
    assert client.ttl("t:engine:precision:binance:spot:ETHUSDT") == -1
    entry = precision_cache.get_entry(client, PREFIX, "binance", "spot", "ETHUSDT")
    assert entry is not None and abs((utcnow() - entry.fetched_at).total_seconds()) < 60
    with pytest.raises(ValueError, match="ttl_seconds"):
        precision_cache.put_many(client, PREFIX, "binance", "spot", [], 0)
    assert precision_cache.put_many(client, PREFIX, "binance", "spot", [], 60) == 0
    precision_cache.delete(client, PREFIX, "binance", "spot", "ETHUSDT")
    assert precision_cache.get(client, PREFIX, "binance", "spot", "ETHUSDT") is None


def test_get_many_in_one_round_trip(client):
    rules = [RULES["bybit-linear:BTCUSDT"], RULES["bybit-linear:ETHUSDT"]]
    precision_cache.put_many(client, PREFIX, "bybit", "futures", rules, 60, fetched_at=FETCHED_AT)
    found = precision_cache.get_many(
        client, PREFIX, "bybit", "futures", ["BTCUSDT", "ETHUSDT", "NOPEUSDT"]
    )
    assert set(found) == {"BTCUSDT", "ETHUSDT"}
    assert found["ETHUSDT"].rules == rules[1] and found["ETHUSDT"].fetched_at == FETCHED_AT
    assert precision_cache.get_many(client, PREFIX, "bybit", "futures", []) == {}
