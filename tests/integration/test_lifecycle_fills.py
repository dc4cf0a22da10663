"""Fills, pyramids and cancel signals through the real stack, driven only by webhooks and
simulator price moves; numbers worked by hand (BTCUSDT spot: tick 0.01, step 0.00001)."""

from __future__ import annotations

from tests.lifecycle_support import (
    D,
    entries,
    legs,
    make_trader,
    only_group,
    settled,
    wait_for,
)

P = "64250.5"
CANCEL = {"type": "cancel", "side": "long"}


def test_partial_fills_and_a_cancel_that_keeps_them(app, stack, sim, make_user):
    """With partial_fill_ratio 0.5 every matching event fills half an order:

    - leg 0 (market 0.00062) takes 0.00031 at 64,250.5 and the exchange expires the rest:
      the leg is `cancelled` holding 0.00031, and the group is `partially_filled` with 0/5
      legs counted filled (a leg counts only when completely filled);
    - at 63,900 leg 1 (0.00062 @ 63,929.24) fills 0.00031: `partially_filled`; the group
      holds 0.00062 at (19.917655 + 19.8180644) / 0.00062 = 64,089.87;
    - a cancel signal then cancels every unfilled DCA order at the exchange; leg 1 keeps its
      0.00031 and the group is `active` (filled quantity kept, nothing working).
    """
    sim.config(partial_fill_ratio="0.5")
    trader = make_trader(app, stack, make_user)
    sim.price("BTCUSDT", P)
    trader.signal(entry_price=P)
    group = only_group(trader)
    detail = settled(trader, group["id"], "partially_filled")
    leg0 = legs(detail)[0]
    assert (leg0["status"], D(leg0["filled_quantity"])) == ("cancelled", D("0.00031"))
    assert detail["filled_dca_legs"] == 0

    sim.price("BTCUSDT", "63900")

    def half_filled():
        found = trader.position(group["id"])
        return found if legs(found)[1]["status"] == "partially_filled" else None

    detail = wait_for(half_filled, 25, what="leg 1 half filled")
    assert D(legs(detail)[1]["filled_quantity"]) == D("0.00031")
    assert D(detail["total_filled_quantity"]) == D("0.00062")
    assert D(detail["weighted_avg_entry"]) == D("64089.87")

    trader.signal(CANCEL, action="sell", market_position="flat")
    detail = settled(trader, group["id"], "active")
    grid = legs(detail)
    assert [leg["status"] for leg in grid] == ["cancelled"] * 5
    assert [D(leg["filled_quantity"]) for leg in grid] == [
        D("0.00031"),
        D("0.00031"),
        D("0"),
        D("0"),
        D("0"),
    ]
    assert D(detail["total_filled_quantity"]) == D("0.00062")
    at_sim = {r["client_order_id"]: r["status"] for r in entries(sim)}
    assert sorted(at_sim.values()) == ["CANCELED"] * 4 + ["EXPIRED"]


def test_pyramids_up_to_max_and_the_one_after_is_ignored(app, stack, sim, make_user):
    """max_pyramids 2 → weights 50/50: 1,000 per group, 500 per pyramid, 100 USD per leg.

    Pyramid 0 anchored on 64,250.5: market 0.00155 (100 / 64,250.5 = 0.0015564… ↓), limits
    0.00156 @ 63,929.24, 0.00157 @ 63,607.99, 0.00158 @ 62,965.49, 0.00162 @ 61,680.48.
    The price moves to 63,000 (legs 1 and 2 fill at their prices); a second entry at 63,000
    adds pyramid 1 anchored there: market 0.00158 (100 / 63,000 = 0.0015873… ↓), limits
    0.00159 @ 62,685 (× 0.995), 0.0016 @ 62,370 (× 0.99), 0.00161 @ 61,740 (× 0.98),
    0.00165 @ 60,480 (× 0.96). A third entry finds 2 of 2 pyramids: ignored with the reason,
    nothing sent."""
    trader = make_trader(app, stack, make_user, settings={"capital": {"max_pyramids": 2}})
    sim.price("BTCUSDT", P)
    trader.signal(entry_price=P)
    group = only_group(trader)
    settled(trader, group["id"], "partially_filled", filled_dca_legs=1)
    sim.price("BTCUSDT", "63000")
    settled(trader, group["id"], "partially_filled", filled_dca_legs=3)
    trader.signal(entry_price="63000")
    detail = settled(trader, group["id"], "partially_filled", pyramid_count=2, filled_dca_legs=4)
    assert [(leg["order_type"], D(leg["price"]), D(leg["quantity"])) for leg in legs(detail)] == [
        ("market", D("64250.50"), D("0.00155")),
        ("limit", D("63929.24"), D("0.00156")),
        ("limit", D("63607.99"), D("0.00157")),
        ("limit", D("62965.49"), D("0.00158")),
        ("limit", D("61680.48"), D("0.00162")),
    ]
    second = legs(detail, 1)
    assert [(leg["order_type"], D(leg["price"]), D(leg["quantity"])) for leg in second] == [
        ("market", D("63000"), D("0.00158")),
        ("limit", D("62685"), D("0.00159")),
        ("limit", D("62370"), D("0.0016")),
        ("limit", D("61740"), D("0.00161")),
        ("limit", D("60480"), D("0.00165")),
    ]
    assert detail["total_dca_legs"] == 10
    assert [p["capital_usd"] for p in detail["pyramids"]] == ["500", "500"]

    trader.signal(entry_price="62000")

    def ignored():
        rows = trader.get("/api/webhooks")["items"]
        return [r for r in rows if r.get("classification") == "ignored"]

    (row,) = wait_for(ignored, what="the third entry ignored")
    assert row["reason"] == "open group already has 2 of 2 pyramids (max_pyramids): entry ignored"
    assert len(entries(sim)) == 10
    assert trader.position(group["id"])["pyramid_count"] == 2
