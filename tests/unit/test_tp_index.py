"""The take-profit trigger index in the real Redis: a price only reaches the groups whose
trigger it crossed (longs at or below it, shorts at or above it), per venue and symbol;
crossings are handed over once until evaluated; a rebuild never overwrites a fresher entry."""

from __future__ import annotations

import secrets
from decimal import Decimal as D

import pytest

from server.state.tp_index import (
    FIRED,
    HANDED_OVER_MS,
    RECROSS_AFTER_MS,
    TriggerIndex,
    Watched,
)

VENUE = "binance.simulated.spot"


@pytest.fixture
def idx(redis_client):
    prefix = f"tpidx-{secrets.token_hex(3)}:"
    yield TriggerIndex(redis_client, prefix)
    for key in redis_client.scan_iter(match=f"{prefix}*"):
        redis_client.delete(key)


def _w(group, side, trigger, symbol="BTCUSDT", venue=VENUE, held="0.001"):
    return Watched(group, "user-1", "acct-1", venue, symbol, side, D(held), D(held),
                   D("64"), None if trigger is None else D(trigger))  # fmt: skip


def _crossed(idx, price, symbol="BTCUSDT", venue=VENUE):
    return sorted(g for g, _ in idx.crossed([(venue, symbol, D(price))]))


def test_longs_trigger_at_or_above_their_lowest_target(idx):
    """Longs scored 64,248.89 / 64,730.77 / 64,893.01: 64,248.88 reaches none, 64,248.89 the
    first (at the target counts), 64,800 the first two, 65,000 all three."""
    for group, trigger in (("a", "64248.89"), ("b", "64730.77"), ("c", "64893.01")):
        idx.put(_w(group, "long", trigger))
    assert _crossed(idx, "64248.88") == []
    assert _crossed(idx, "64248.89") == ["a"]
    assert _crossed(idx, "64800") == ["a", "b"]
    assert _crossed(idx, "65000") == ["a", "b", "c"]


def test_shorts_trigger_at_or_below_their_highest_target(idx):
    """Shorts scored 63,900.0 and 63,500.0: 63,900.1 reaches none, 63,900.0 one, 63,000 both."""
    idx.put(_w("s1", "short", "63900.0"))
    idx.put(_w("s2", "short", "63500.0"))
    assert _crossed(idx, "63900.1") == []
    assert _crossed(idx, "63900.0") == ["s1"]
    assert _crossed(idx, "63000") == ["s1", "s2"]


def test_a_price_only_reaches_its_own_venue_and_symbol(idx):
    """Same trigger on another symbol or venue is not crossed by BTCUSDT's price."""
    idx.put(_w("btc", "long", "100"))
    idx.put(_w("eth", "long", "100", symbol="ETHUSDT"))
    idx.put(_w("fut", "long", "100", venue="binance.simulated.futures"))
    assert _crossed(idx, "200") == ["btc"]


def test_tiny_prices_keep_their_order(idx):
    """PEPEUSDT targets one tick (1e-8) apart stay distinct and ordered as doubles."""
    idx.put(_w("p1", "long", "0.00001234", symbol="PEPEUSDT"))
    idx.put(_w("p2", "long", "0.00001235", symbol="PEPEUSDT"))
    assert _crossed(idx, "0.00001234", symbol="PEPEUSDT") == ["p1"]
    assert _crossed(idx, "0.00001235", symbol="PEPEUSDT") == ["p1", "p2"]


def test_reindex_moves_and_remove_forgets(idx):
    """Re-putting a group moves its score; without a trigger it is priced but never
    crossed; removing it forgets both the score and its figures."""
    idx.put(_w("a", "long", "64248.89"))
    idx.put(_w("a", "long", "64730.77"))
    assert _crossed(idx, "64500") == []
    idx.put(_w("a", "long", None))
    assert _crossed(idx, "99999") == [] and idx.get("a").trigger is None
    version = idx.version()
    idx.remove("a")
    assert idx.get("a") is None and idx.all() == [] and idx.version() > version


def test_figures_round_trip_exactly(idx):
    """The monitor prices a group from the figures stored with it, digit for digit."""
    entry = Watched("g", "u", "a", VENUE, "BTCUSDT", "long", D("0.00061938"), D("0.00062"),
                    D("39.7357194"), D("64730.77"))  # fmt: skip
    idx.put(entry)
    assert idx.get("g") == entry


def test_a_crossing_is_handed_over_once_until_evaluated(idx, redis_client):
    """fire() lets each group through once and holds it for the lease (HANDED_OVER_MS); an
    evaluation that moved the trigger lets it through at once, one that did not holds it
    RECROSS_AFTER_MS more (instead of the lease)."""
    assert idx.fire(["a", "b"]) == ["a", "b"]
    assert idx.fire(["a", "b", "c"]) == ["c"]
    held = redis_client.pttl(FIRED.format(prefix=idx.prefix, group="b"))
    assert RECROSS_AFTER_MS < held <= HANDED_OVER_MS
    idx.evaluated("a", trigger_moved=True)
    assert idx.fire(["a"]) == ["a"]
    idx.evaluated("b", trigger_moved=False)
    assert idx.fire(["b"]) == []
    assert 0 < redis_client.pttl(FIRED.format(prefix=idx.prefix, group="b")) <= RECROSS_AFTER_MS


def test_rebuild_is_skipped_when_an_entry_changed_meanwhile(idx):
    """The sweep reads the version, then the database; a put in between wins."""
    idx.put(_w("a", "long", "100"))
    version = idx.version()
    idx.put(_w("a", "long", "200"))  # a fill re-indexed the group meanwhile
    assert idx.replace_all([_w("a", "long", "100")], version) is False
    assert idx.get("a").trigger == D("200")
    assert idx.replace_all([_w("b", "short", "50")], idx.version()) is True
    assert [w.group_id for w in idx.all()] == ["b"]
    assert _crossed(idx, "1000") == []


def test_last_prices_and_their_age(idx):
    idx.set_prices(VENUE, {"BTCUSDT": D("64900.01")}, at_ms=1)
    assert idx.price(VENUE, "BTCUSDT") == D("64900.01")
    assert idx.price(VENUE, "BTCUSDT", max_age_ms=10_000) is None
    assert idx.price(VENUE, "ETHUSDT") is None


def test_changes_since_names_only_what_changed(idx):
    """The monitor re-reads only the groups touched after its version: re-indexed ones with
    their entry, removed ones as None; a version the log cannot reach means reload all; an
    unchanged rebuild writes nothing (the version stays)."""
    idx.put(_w("a", "long", "100"))
    idx.put(_w("b", "long", "200"))
    seen = idx.version()
    assert idx.changes_since(seen) == (seen, {})
    idx.put(_w("a", "long", "150"))
    idx.remove("b")
    version, changed = idx.changes_since(seen)
    assert version == seen + 2
    assert changed["a"].trigger == D("150") and changed["b"] is None and set(changed) == {"a", "b"}
    assert idx.changes_since(-1) is None
    assert idx.replace_all([_w("a", "long", "150")], version) is True
    assert idx.version() == version  # nothing differed: nothing written
    assert idx.replace_all([_w("a", "long", "150"), _w("c", "short", "9")], version) is True
    assert set(idx.changes_since(version)[1]) == {"c"}


def test_the_monitor_reloads_after_the_index_was_lost_even_at_the_same_version(app, idx):
    """Redis restarted empty: the index's version counts again from 0. A price monitor that
    knew version 2 and finds version 2 again — two other groups written since — must watch
    them: the index's epoch changed, so it reloads everything (a version alone would say
    "nothing changed" and the new groups would never be priced)."""
    from server.services.price_monitor import PriceMonitor

    class Monitor(PriceMonitor):
        def _index(self):
            return idx

    monitor = Monitor(app)
    idx.put(_w("old-1", "long", None))
    idx.put(_w("old-2", "long", None))
    assert monitor.refresh()
    assert sorted(monitor._watched) == ["old-1", "old-2"]
    known = idx.version()

    for key in idx.client.scan_iter(match=f"{idx.prefix}*"):  # Redis lost the index
        idx.client.delete(key)
    idx.put(_w("new-1", "long", None))
    idx.put(_w("new-2", "long", None))
    assert idx.version() == known  # the trap: the same number, other groups

    assert monitor.refresh()
    assert sorted(monitor._watched) == ["new-1", "new-2"]
