"""Grids through the real stack (gunicorn web, RQ workers, scheduler, PostgreSQL, Redis, the
simulator over ccxt), driven only by webhooks and simulator price moves. Every number is worked
by hand from SPEC §3 and the venues' real rules (see tests/unit/test_grid.py for the spot
grid's derivation).

Default settings: 10,000 USD over 10 groups → 1,000 per group; 5 pyramids at 20 % → 200 per
pyramid; 5 legs at 20 % → 40 USD per leg; legs (gap, tp): (0, 1) (−0.5, 0.5) (−1, 0.5)
(−2, 0.5) (−4, 0.5); leg 0 at market.
"""

from __future__ import annotations

from tests.lifecycle_support import D, entries, legs, make_trader, only_group, settled, sim_orders

P = "64250.5"


def _sent(sim, key="test-key", venue=None):
    """The entry orders (DCA legs) the simulator received, oldest first."""
    return [
        (r["side"], r["type"], D(r["price"]) if r["price"] else None, D(r["qty"]))
        for r in entries(sim, key, venue)
    ]


def test_long_grid_on_binance_spot_to_the_digit(app, stack, sim, make_user):
    """BTCUSDT spot at 64,250.5: the simulator receives leg 0 as a market buy of 0.00062 and
    four limit buys — 0.00062 @ 63,929.24, 0.00062 @ 63,607.99, 0.00063 @ 62,965.49,
    0.00064 @ 61,680.48 — each once, under the engine's client order ids. Leg 0 fills at
    64,250.5 (fee 0.1 % in BTC: 0.00000062), so the group is `partially_filled` with 1/5
    legs, 0.00062 filled, 39.83531 USD invested, average 64,250.5.

    The price then walks down through the legs:
    - 63,900 fills leg 1 at its own price: Σ = 39.83531 + 39.6361288 = 79.4714388 over
      0.00124 → weighted_avg_entry 64,089.87;
    - 63,600 fills leg 2, 61,000 fills legs 3 and 4: Σ notional 198.0521585 over
      0.00313 → 63,275.45, 5/5 legs, `active`.
    Fees come from the trades: 0.1 % of each buy in BTC, converted at the fill price."""
    trader = make_trader(app, stack, make_user)
    sim.price("BTCUSDT", P)
    trader.signal(entry_price=P)
    group = only_group(trader)
    detail = settled(trader, group["id"], "partially_filled", filled_dca_legs=1)
    assert _sent(sim) == [
        ("BUY", "MARKET", None, D("0.00062")),
        ("BUY", "LIMIT", D("63929.24"), D("0.00062")),
        ("BUY", "LIMIT", D("63607.99"), D("0.00062")),
        ("BUY", "LIMIT", D("62965.49"), D("0.00063")),
        ("BUY", "LIMIT", D("61680.48"), D("0.00064")),
    ]
    at_sim = {r["client_order_id"] for r in entries(sim)}
    grid = legs(detail)
    assert {leg["client_order_id"] for leg in grid} == at_sim
    assert [(leg["leg"], leg["status"], leg["order_type"]) for leg in grid] == [
        (0, "filled", "market"),
        (1, "open", "limit"),
        (2, "open", "limit"),
        (3, "open", "limit"),
        (4, "open", "limit"),
    ]
    first = grid[0]
    assert (D(first["avg_fill_price"]), D(first["filled_quantity"])) == (D(P), D("0.00062"))
    assert (D(first["fee_base"]), first["fee_currency"]) == (D("0.00000062"), "USDT")
    assert D(first["fee"]) == D("0.00000062") * D(P)  # 0.03983531 USDT
    assert D(first["tp_price"]) == D("64893.01")  # 64,250.5 × 1.01 → up to the tick
    assert (detail["pyramid_count"], detail["total_dca_legs"]) == (1, 5)
    assert D(detail["weighted_avg_entry"]) == D(P)
    assert D(detail["total_invested_usd"]) == D("39.83531")
    assert detail["pyramids"][0]["capital_usd"] == "200"

    sim.price("BTCUSDT", "63900")
    detail = settled(trader, group["id"], "partially_filled", filled_dca_legs=2)
    assert D(detail["weighted_avg_entry"]) == D("64089.87")
    assert D(detail["total_filled_quantity"]) == D("0.00124")
    assert D(legs(detail)[1]["avg_fill_price"]) == D("63929.24")

    sim.price("BTCUSDT", "63600")
    settled(trader, group["id"], "partially_filled", filled_dca_legs=3)
    sim.price("BTCUSDT", "61000")
    detail = settled(trader, group["id"], "active", filled_dca_legs=5)
    assert D(detail["weighted_avg_entry"]) == D("63275.45")
    assert D(detail["total_filled_quantity"]) == D("0.00313")
    assert D(detail["total_invested_usd"]) == D("198.0521585")
    assert len(entries(sim)) == 5  # no leg was ever sent twice
    transitions = [
        (e["from_status"], e["to_status"])
        for e in detail["events"]
        if e["kind"] == "status_changed"
    ]
    assert transitions == [("live", "partially_filled"), ("partially_filled", "active")]


def test_reject_policy_sends_nothing_for_a_leg_below_min_notional(app, stack, sim, make_user):
    """USDⓈ-M BTCUSDT (step 0.001, min notional 100) with 40 USD legs: 40 / 64,250.5 rounds
    to 0 — the whole pyramid is refused: the group is `failed` with the plan's reason and the
    simulator receives nothing."""
    trader = make_trader(app, stack, make_user, market_type="futures")
    sim.price("BTCUSDT", P)
    trader.signal(symbol="BTCUSDT.P", entry_price=P)
    group = only_group(trader)
    assert group["status"] == "failed"
    assert (
        "pyramid 0 refused (min_notional_policy=reject), nothing is sent"
        in (group["failure_reason"])
    )
    assert sim_orders(sim) == []


SHORT = {"type": "entry", "side": "short"}


def test_short_grid_on_binance_usdm_with_bump(app, stack, sim, make_user):
    """USDⓈ-M BTCUSDT (tick 0.1, step 0.001, min notional 100), short at 64,250.5, policy
    bump: every 40 USD leg is raised to the smallest step multiple with notional ≥ 100, i.e.
    0.002, at prices P × (1 − gap/100) rounded UP to the tick: market 0.002 (sized at
    64,250.5, notional 128.501), then sell limits 0.002 @ 64,571.8 (64,571.7525 ↑),
    @ 64,893.1 (64,893.005 ↑), @ 65,535.6 (65,535.51 ↑), @ 66,820.6 (66,820.52 ↑).
    Leg 0 fills at 64,250.5 with the 0.05 % taker fee in USDT: 0.0642505. At 64,600 leg 1
    fills at its own 64,571.8 (maker 0.02 %: 0.02582872): weighted average
    (128.501 + 129.1436) / 0.004 = 64,411.15. Leg 0's TP (a buy) is 64,250.5 × 0.99 =
    63,607.995 → DOWN to 63,607.9."""
    trader = make_trader(
        app,
        stack,
        make_user,
        market_type="futures",
        settings={"precision": {"min_notional_policy": "bump"}},
    )
    sim.price("BTCUSDT", P)
    trader.signal(SHORT, symbol="BTCUSDT.P", action="sell", market_position="short", entry_price=P)
    group = only_group(trader)
    detail = settled(trader, group["id"], "partially_filled", filled_dca_legs=1)
    assert _sent(sim, venue="binance-futures") == [
        ("SELL", "MARKET", None, D("0.002")),
        ("SELL", "LIMIT", D("64571.8"), D("0.002")),
        ("SELL", "LIMIT", D("64893.1"), D("0.002")),
        ("SELL", "LIMIT", D("65535.6"), D("0.002")),
        ("SELL", "LIMIT", D("66820.6"), D("0.002")),
    ]
    first = legs(detail)[0]
    assert (D(first["fee"]), first["fee_currency"], D(first["fee_base"])) == (
        D("0.0642505"),
        "USDT",
        D("0"),
    )
    assert D(first["tp_price"]) == D("63607.9")
    sim.price("BTCUSDT", "64600")
    detail = settled(trader, group["id"], "partially_filled", filled_dca_legs=2)
    assert D(detail["weighted_avg_entry"]) == D("64411.15")
    assert D(legs(detail)[1]["fee"]) == D("0.02582872")
    assert D(detail["total_invested_usd"]) == D("257.6446")


def test_long_grid_on_bybit_spot(app, stack, sim, make_user):
    """Bybit spot BTCUSDT (tick 0.01, basePrecision 0.000001), 40 USD legs at 64,250.5:
    market 0.000622 (40 / 64,250.5 = 0.00062256… ↓), limits 0.000625 @ 63,929.24,
    0.000628 @ 63,607.99, 0.000635 @ 62,965.49, 0.000648 @ 61,680.48. The market leg fills
    at 64,250.5 with a 0.1 % fee in BTC: 0.000000622, charged to 8 decimals → 0.00000062."""
    trader = make_trader(app, stack, make_user, exchange="bybit")
    sim.price("BTCUSDT", P)
    trader.signal(exchange="BYBIT", entry_price=P)
    group = only_group(trader)
    detail = settled(trader, group["id"], "partially_filled", filled_dca_legs=1)
    grid = legs(detail)
    assert [(g["order_type"], D(g["price"]), D(g["quantity"])) for g in grid] == [
        ("market", D("64250.50"), D("0.000622")),
        ("limit", D("63929.24"), D("0.000625")),
        ("limit", D("63607.99"), D("0.000628")),
        ("limit", D("62965.49"), D("0.000635")),
        ("limit", D("61680.48"), D("0.000648")),
    ]
    sent = entries(sim, venue="bybit-spot")
    assert [(D(r["price"]) if r["price"] else None, D(r["qty"])) for r in sent] == [
        (None, D("0.000622")),
        (D("63929.24"), D("0.000625")),
        (D("63607.99"), D("0.000628")),
        (D("62965.49"), D("0.000635")),
        (D("61680.48"), D("0.000648")),
    ]
    assert (D(grid[0]["avg_fill_price"]), D(grid[0]["fee_base"])) == (D(P), D("0.00000062"))


def test_long_grid_on_bybit_linear(app, stack, sim, make_user):
    """Bybit linear BTCUSDT (tick 0.1, step 0.001), 100,000 USD capital → 400 USD legs:
    0.006 at market (400 / 64,250.5 = 0.0062256… ↓), then 0.006 @ 63,929.2, @ 63,607.9,
    @ 62,965.4, @ 61,680.4 (prices rounded DOWN to the tick). At 63,000 legs 1 and 2 fill at
    their prices: Σ = 385.503 + 383.5752 + 381.6474 = 1,150.7256 over 0.018 → 63,929.2."""
    trader = make_trader(
        app,
        stack,
        make_user,
        exchange="bybit",
        market_type="futures",
        settings={"capital": {"total_capital_usd": "100000"}},
    )
    sim.price("BTCUSDT", P)
    trader.signal(exchange="BYBIT", symbol="BTCUSDT.P", entry_price=P)
    group = only_group(trader)
    settled(trader, group["id"], "partially_filled", filled_dca_legs=1)
    sent = entries(sim, venue="bybit-linear")
    assert [(D(r["price"]) if r["price"] else None, D(r["qty"])) for r in sent] == [
        (None, D("0.006")),
        (D("63929.2"), D("0.006")),
        (D("63607.9"), D("0.006")),
        (D("62965.4"), D("0.006")),
        (D("61680.4"), D("0.006")),
    ]
    sim.price("BTCUSDT", "63000")
    detail = settled(trader, group["id"], "partially_filled", filled_dca_legs=3)
    assert D(detail["weighted_avg_entry"]) == D("63929.2")
    assert D(detail["total_filled_quantity"]) == D("0.018")


def test_pepe_legs_are_whole_coins(app, stack, sim, make_user):
    """PEPEUSDT (tick 0.00000001, step 1) at 0.00001234: 3,241,491 at market, then
    3,259,983 @ 0.00001227, 3,276,003 @ 0.00001221, 3,308,519 @ 0.00001209,
    3,378,378 @ 0.00001184 — whole coins, as sent."""
    trader = make_trader(app, stack, make_user)
    sim.price("PEPEUSDT", "0.00001234")
    trader.signal(symbol="PEPEUSDT", entry_price="0.00001234")
    group = only_group(trader)
    settled(trader, group["id"], "partially_filled", filled_dca_legs=1)
    assert _sent(sim, venue="binance-spot") == [
        ("BUY", "MARKET", None, D("3241491")),
        ("BUY", "LIMIT", D("0.00001227"), D("3259983")),
        ("BUY", "LIMIT", D("0.00001221"), D("3276003")),
        ("BUY", "LIMIT", D("0.00001209"), D("3308519")),
        ("BUY", "LIMIT", D("0.00001184"), D("3378378")),
    ]
