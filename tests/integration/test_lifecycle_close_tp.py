"""Take-profit in its three modes through the real stack (web, workers, scheduler, price
monitor, PostgreSQL, Redis, the simulator over ccxt), driven only by webhooks and simulator
price moves. Numbers are worked by hand from SPEC §3, §4.4, §7 on Binance spot BTCUSDT (tick
0.01, step 0.00001, min notional 5, fee 0.1 %: a buy pays it in BTC, a sell in USDT).

Default grid at 64,250.5 (see test_lifecycle_grid): leg 0 market-buys 0.00062 at 64,250.5 (fee
0.00000062 BTC = 0.03983531 USDT, held 0.00061938), leg 1 rests at 63,929.24 for 0.00062 and
fills there when the price reaches 63,900 (fee 0.00000062 BTC = 0.0396361288 USDT, held
0.00061938). Both legs: invested 39.83531 + 39.6361288 = 79.4714388 over 0.00124 → weighted
average 64,089.87. Leg TPs from the actual fills: leg 0 1 % → 64,893.005 → up to 64,893.01;
leg 1 0.5 % → 64,248.8862 → 64,248.89. A leg's TP sells its held 0.00061938 rounded down to
the step: 0.00061.
"""

from __future__ import annotations

from server.domain.enums import OrderPurpose
from server.domain.grid import parse_client_order_id
from tests.lifecycle_support import D, legs, make_trader, only_group, settled, sim_orders, wait_for

P = "64250.5"


def _at_sim(sim, purpose: OrderPurpose, key="test-key") -> list[dict]:
    """What reached the simulator for one purpose, oldest first."""
    rows = sim_orders(sim, key)
    return [
        r
        for r in rows
        if (ref := parse_client_order_id(r["client_order_id"] or "")) and ref.purpose is purpose
    ]


def _shape(rows) -> list[tuple]:
    return [
        (r["side"], r["type"], D(r["price"]) if r["price"] else None, D(r["qty"]), r["status"])
        for r in rows
    ]


def _two_legs_filled(trader, sim, **wanted) -> dict:
    """Leg 0 at market at 64,250.5, then 63,900 fills leg 1."""
    sim.price("BTCUSDT", P)
    trader.signal(entry_price=P)
    group = only_group(trader)
    settled(trader, group["id"], "partially_filled", filled_dca_legs=1)
    sim.price("BTCUSDT", "63900")
    return settled(trader, group["id"], "partially_filled", filled_dca_legs=2, **wanted)


def _tp_orders_resting(sim, count: int) -> list[dict]:
    return wait_for(
        lambda: (rows := _at_sim(sim, OrderPurpose.TAKE_PROFIT)) and len(rows) >= count and rows,
        what=f"{count} TP orders at the simulator",
    )


def test_per_leg_tp_rests_on_the_exchange_and_closes_one_leg(app, stack, sim, make_user):
    """per_leg: each filled leg gets a resting sell limit at its target for what it holds —
    leg 0 0.00061 @ 64,893.01, leg 1 0.00061 @ 64,248.89. At 64,300 the exchange fills leg 1's
    TP at its own price: leg 1 is `tp_hit`, the group stays open (legs 2–4 still work, leg 0
    still held). Realised: 0.00061 × 64,248.89 = 39.1918229 proceeds, fee 0.1 % =
    0.0391918229 which the exchange charges to 8 decimals: 0.03919182; cost 0.00061 ×
    63,929.24 = 38.9968364; leg 1's whole entry fee 0.0396361288 →
    39.1918229 − 38.9968364 − 0.0396361288 − 0.03919182 = 0.1161585512 USDT."""
    trader = make_trader(app, stack, make_user)
    group = _two_legs_filled(trader, sim)
    tps = _tp_orders_resting(sim, 2)
    assert _shape(tps) == [
        ("SELL", "LIMIT", D("64893.01"), D("0.00061"), "NEW"),
        ("SELL", "LIMIT", D("64248.89"), D("0.00061"), "NEW"),
    ]
    sim.price("BTCUSDT", "64300")
    detail = settled(trader, group["id"], "partially_filled", realized_pnl_usd="0.1161585512")
    grid = legs(detail)
    assert [(leg["leg"], leg["tp_hit"]) for leg in grid] == [
        (0, False),
        (1, True),
        (2, False),
        (3, False),
        (4, False),
    ]
    assert [leg["status"] for leg in legs(detail, purpose="tp")] == ["open", "filled"]
    assert _shape(_at_sim(sim, OrderPurpose.TAKE_PROFIT))[1][-1] == "FILLED"
    assert _at_sim(sim, OrderPurpose.CLOSE) == []
    # what is left: leg 0 alone
    assert D(detail["total_filled_quantity"]) == D("0.00062")
    assert D(detail["weighted_avg_entry"]) == D(P)
    kinds = [e["kind"] for e in detail["events"]]
    assert "leg_take_profit" in kinds and "group_closed" not in kinds


def test_aggregate_tp_closes_everything_and_cancels_the_rest(app, stack, sim, make_user):
    """aggregate 1 %: target 64,089.87 × 1.01 = 64,730.7687 → 64,730.77; no TP order rests.
    At 64,800 the monitor closes the group: legs 2–4 cancelled at the exchange, one market
    sell of 0.00123 (held 0.00123876 rounded down). Realised: proceeds 0.00123 × 64,800 =
    79.704, fee 0.079704; cost 79.4714388 × 123 / 124 = 78.8305401; entry fees 0.03983531 +
    0.0396361288 = 0.0794714388 → 79.704 − 78.8305401 − 0.0794714388 − 0.079704 =
    0.7142844612 USDT."""
    trader = make_trader(app, stack, make_user, settings={"take_profit": {"tp_mode": "aggregate"}})
    group = _two_legs_filled(trader, sim)
    sim.price("BTCUSDT", "64800")
    detail = settled(trader, group["id"], "closed")
    assert D(detail["realized_pnl_usd"]) == D("0.7142844612")
    assert detail["closed_at"] is not None and D(detail["unrealized_pnl_usd"]) == 0
    assert _at_sim(sim, OrderPurpose.TAKE_PROFIT) == []
    assert _shape(_at_sim(sim, OrderPurpose.CLOSE)) == [
        ("SELL", "MARKET", None, D("0.00123"), "FILLED")
    ]
    assert [leg["status"] for leg in legs(detail)] == [
        "filled",
        "filled",
        "cancelled",
        "cancelled",
        "cancelled",
    ]
    closed = [e for e in detail["events"] if e["kind"] == "group_closed"]
    assert closed[0]["detail"]["message"] == (
        "BTCUSDT 60m long closed by aggregate take-profit: sold 0.00123 at 64,800, "
        "realised +0.71 USDT (0.00000876 left unsold: 0.00000876 left below the step size "
        "0.00001)"
    )


def test_hybrid_leg_tp_first_then_aggregate_closes_the_rest(app, stack, sim, make_user):
    """hybrid, aggregate 0.8 %: with both legs the aggregate target is 64,089.87 × 1.008 =
    64,602.58896 → 64,602.59, above leg 1's 64,248.89 — so at 64,300 leg 1's resting TP wins.
    What is left is leg 0 alone: 64,250.5 × 1.008 = 64,764.504 → 64,764.51, below leg 0's own
    TP (64,893.01). At 64,800 the aggregate closes leg 0: its resting TP is cancelled and
    0.00061 sold at market. Realised: leg 1 0.1161585512 (see the per-leg test) + leg 0
    0.00061 × 64,800 = 39.528 − cost 39.83531 × 61 / 62 (39.192805) − entry fee 0.03983531 −
    fee 0.039528 = 0.25583169 → 0.3719902412 USDT."""
    settings = {"take_profit": {"tp_mode": "hybrid", "tp_aggregate_percent": "0.8"}}
    trader = make_trader(app, stack, make_user, settings=settings)
    group = _two_legs_filled(trader, sim)
    _tp_orders_resting(sim, 2)
    sim.price("BTCUSDT", "64300")
    settled(trader, group["id"], "partially_filled", realized_pnl_usd="0.1161585512")
    sim.price("BTCUSDT", "64800")
    detail = settled(trader, group["id"], "closed")
    assert D(detail["realized_pnl_usd"]) == D("0.3719902412")
    assert [r[-1] for r in _shape(_at_sim(sim, OrderPurpose.TAKE_PROFIT))] == [
        "CANCELED",
        "FILLED",
    ]
    assert _shape(_at_sim(sim, OrderPurpose.CLOSE)) == [
        ("SELL", "MARKET", None, D("0.00061"), "FILLED")
    ]


def test_hybrid_aggregate_first_closes_everything(app, stack, sim, make_user):
    """hybrid, aggregate 0.2 %: 64,089.87 × 1.002 = 64,218.04974 → 64,218.05, below leg 1's
    64,248.89. At 64,230 the aggregate wins: both resting TPs and legs 2–4 are cancelled, one
    market sell of 0.00123. Realised: 0.00123 × 64,230 = 79.0029, fee 0.0790029; cost
    78.8305401; entry fees 0.0794714388 → 0.0138855612 USDT."""
    settings = {"take_profit": {"tp_mode": "hybrid", "tp_aggregate_percent": "0.2"}}
    trader = make_trader(app, stack, make_user, settings=settings)
    group = _two_legs_filled(trader, sim)
    _tp_orders_resting(sim, 2)
    sim.price("BTCUSDT", "64230")
    detail = settled(trader, group["id"], "closed")
    assert D(detail["realized_pnl_usd"]) == D("0.0138855612")
    assert [r[-1] for r in _shape(_at_sim(sim, OrderPurpose.TAKE_PROFIT))] == [
        "CANCELED",
        "CANCELED",
    ]
    assert _shape(_at_sim(sim, OrderPurpose.CLOSE)) == [
        ("SELL", "MARKET", None, D("0.00123"), "FILLED")
    ]
    assert all(not leg["tp_hit"] for leg in legs(detail))


def test_price_monitor_keeps_unrealised_pnl_fresh(app, stack, sim, make_user):
    """No fill, only a price move: the monitor prices the group. Leg 0 holds 0.00061938 of
    0.00062 bought for 39.83531; at 64,100: 64,100 × 0.00061938 = 39.702258, cost 39.83531 ×
    0.00061938 / 0.00062 = 39.79547469 → −0.09321669 USD, / 39.83531 × 100 = −0.23400518 %
    (8 decimals toward zero); `last_price` 64,100."""
    trader = make_trader(app, stack, make_user)
    sim.price("BTCUSDT", P)
    trader.signal(entry_price=P)
    group = only_group(trader)
    settled(trader, group["id"], "partially_filled", filled_dca_legs=1)
    sim.price("BTCUSDT", "64100")
    detail = settled(trader, group["id"], "partially_filled", last_price="64100")
    assert D(detail["unrealized_pnl_usd"]) == D("-0.09321669")
    assert D(detail["unrealized_pnl_percent"]) == D("-0.23400518")


def test_a_partly_filled_leg_is_watched_and_closed_at_market(app, stack, sim, make_user):
    """With `partial_fill_ratio` 0.5, 63,900 fills half of leg 1: 0.00031 @ 63,929.24 (fee
    0.00000031 BTC = 0.0198180644 USDT, held 0.00030969). A working leg gets no resting TP; its
    target 64,248.89 is watched. At 64,300 the monitor cancels the rest of leg 1; the leg, now
    done, gets its TP limit (0.0003 @ 64,248.89), marketable, so it fills at once at 64,300:
    19.29, fee 0.01929; cost 0.0003 × 63,929.24 = 19.178772; the leg's whole entry fee →
    19.29 − 19.178772 − 0.0198180644 − 0.01929 = 0.0721199356 USDT. Nothing else is sent."""
    trader = make_trader(app, stack, make_user)
    sim.price("BTCUSDT", P)
    trader.signal(entry_price=P)
    group = only_group(trader)
    settled(trader, group["id"], "partially_filled", filled_dca_legs=1)
    sim.config(partial_fill_ratio="0.5", symbol="BTCUSDT")
    sim.price("BTCUSDT", "63900")
    wait_for(
        lambda: D(legs(trader.position(group["id"]))[1]["filled_quantity"]) == D("0.00031"),
        what="half of leg 1",
    )
    sim.config(partial_fill_ratio="1", symbol="BTCUSDT")
    sim.price("BTCUSDT", "64300")
    detail = settled(trader, group["id"], "partially_filled", realized_pnl_usd="0.0721199356")
    leg1 = legs(detail)[1]
    assert (leg1["status"], leg1["tp_hit"], D(leg1["filled_quantity"])) == (
        "cancelled",
        True,
        D("0.00031"),
    )
    assert _shape(_at_sim(sim, OrderPurpose.TAKE_PROFIT)) == [
        ("SELL", "LIMIT", D("64893.01"), D("0.00061"), "NEW"),
        ("SELL", "LIMIT", D("64248.89"), D("0.0003"), "FILLED"),
    ]
    (fill,) = _at_sim(sim, OrderPurpose.TAKE_PROFIT)[1]["fills"]
    assert (D(fill["price"]), D(fill["commission"])) == (D("64300"), D("0.01929"))
