"""Take-profit decisions (SPEC §4.4), worked by hand on Binance spot BTCUSDT (tick 0.01,
step 0.00001).

Long group used throughout (legs 0 and 1 of the long grid at 64,250.5, both filled):
  leg 0: 0.00062 @ 64,250.50, tp 1 %  → target 64,250.5 × 1.01 = 64,893.005 → UP 64,893.01
  leg 1: 0.00062 @ 63,929.24, tp 0.5 % → target 63,929.24 × 1.005 = 64,248.8862 → 64,248.89
  legs 2..4 open (nothing filled).
  weighted_avg_entry = (39.83531 + 39.6361288) / 0.00124 = 79.4714388 / 0.00124 = 64,089.87
  aggregate targets: 1 % → 64,730.7687 → 64,730.77; 0.8 % → 64,602.58896 → 64,602.59;
                     0.2 % → 64,218.04974 → 64,218.05.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from server.domain.aggregates import LegState
from server.domain.enums import OrderStatus as S
from server.domain.take_profit import (
    TpMode,
    aggregate_target,
    evaluate,
    reached,
    trigger_price,
)
from tests.unit.real_rules import BTC_SPOT, BTC_USDM

TICK = BTC_SPOT.tick_size


def _long_legs(leg1_hit=False):
    return [
        LegState(0, 0, S.FILLED, D("0.00062"), D("0.00062"), D("64250.50"), D("1")),
        LegState(0, 1, S.FILLED, D("0.00062"), D("0.00062"), D("63929.24"), D("0.5"),
                 tp_hit=leg1_hit),
        LegState(0, 2, S.OPEN, D("0.00062")),
        LegState(0, 3, S.OPEN, D("0.00063")),
        LegState(0, 4, S.OPEN, D("0.00064")),
    ]  # fmt: skip


def _eval(legs, price, mode, pct="1", side="long", rules=BTC_SPOT):
    return evaluate(side, legs, D(price), mode=mode, aggregate_percent=D(pct), rules=rules)


# --------------------------------------------------------------------------- per_leg


def test_per_leg_closes_only_the_leg_whose_target_is_reached():
    """At 64,248.88 nothing; at 64,248.89 leg 1 closes its 0.00062, leg 0 (64,893.01) stays."""
    assert not _eval(_long_legs(), "64248.88", TpMode.PER_LEG).triggered
    decision = _eval(_long_legs(), "64248.89", TpMode.PER_LEG)
    assert not decision.close_all
    assert [(c.pyramid, c.leg, c.quantity, c.tp_price) for c in decision.close_legs] == [
        (0, 1, D("0.00062"), D("64248.89"))
    ]
    assert decision.close_legs[0].cancel_remainder is False
    assert "pyramid 0 leg 1 at 64248.89" in decision.reason


def test_per_leg_never_closes_a_leg_twice_nor_the_aggregate():
    """After leg 1's TP (tp_hit) a price of 64,893.01 closes leg 0 only; per_leg never
    closes everything even above the aggregate target."""
    decision = _eval(_long_legs(leg1_hit=True), "64893.01", TpMode.PER_LEG)
    assert [c.leg for c in decision.close_legs] == [0] and not decision.close_all


def test_per_leg_sells_what_the_leg_received_rounded_down():
    """Leg 0's fee was 0.00000062 BTC: it holds 0.00061938 → sells 0.00061."""
    legs = _long_legs()
    legs[0] = LegState(0, 0, S.FILLED, D("0.00062"), D("0.00062"), D("64250.50"), D("1"),
                       fee_base=D("0.00000062"))  # fmt: skip
    decision = _eval(legs, "64893.01", TpMode.PER_LEG)
    assert {c.leg: c.quantity for c in decision.close_legs} == {0: D("0.00061"), 1: D("0.00062")}


def test_a_partially_filled_working_leg_takes_profit_and_cancels_its_rest():
    """Leg 2 filled 0.00031 of 0.00062 @ 63,607.99 (tp 0.5 % → 63,926.02995 → 63,926.03):
    at 63,926.03 it closes 0.00031 and asks to cancel the rest of its entry order."""
    legs = _long_legs()
    legs[2] = LegState(0, 2, S.PARTIALLY_FILLED, D("0.00062"), D("0.00031"), D("63607.99"),
                       D("0.5"))  # fmt: skip
    decision = _eval(legs, "63926.03", TpMode.PER_LEG)
    assert [(c.leg, c.quantity, c.cancel_remainder) for c in decision.close_legs] == [
        (2, D("0.00031"), True)
    ]


# --------------------------------------------------------------------------- aggregate


def test_aggregate_closes_everything_at_the_average_target():
    """aggregate 1 %: target 64,730.77; 64,730.76 → nothing, 64,730.77 → close all 0.00124
    (leg 1's own 64,248.89 is ignored in aggregate mode)."""
    assert not _eval(_long_legs(), "64730.76", TpMode.AGGREGATE).triggered
    assert _eval(_long_legs(), "64300", TpMode.AGGREGATE).close_legs == ()
    decision = _eval(_long_legs(), "64730.77", TpMode.AGGREGATE)
    assert decision.close_all and decision.close_legs == ()
    assert (decision.aggregate_target, decision.quantity) == (D("64730.77"), D("0.00124"))
    assert "weighted average entry 64089.87 + 1 %" in decision.reason


def test_aggregate_target_rounds_to_the_safe_side():
    assert aggregate_target("long", D("64089.87"), D("1"), TICK) == D("64730.77")
    assert aggregate_target("long", D("64089.87"), D("0.8"), TICK) == D("64602.59")
    assert aggregate_target("long", None, D("1"), TICK) is None


# --------------------------------------------------------------------------- hybrid


def test_hybrid_leg_first_then_aggregate_on_what_is_left():
    """tp_aggregate_percent 0.8. Price 64,248.89: leg 1's target is reached, the aggregate
    (64,602.59) is not → close leg 1. With leg 1 closed the group holds leg 0 only: average
    64,250.5, aggregate target 64,250.5 × 1.008 = 64,764.504 → 64,764.51 (below leg 0's own
    64,893.01) → at 64,764.51 everything left closes."""
    first = _eval(_long_legs(), "64248.89", TpMode.HYBRID, "0.8")
    assert [c.leg for c in first.close_legs] == [1] and not first.close_all
    assert first.aggregate_target == D("64602.59")
    assert not _eval(_long_legs(leg1_hit=True), "64764.50", TpMode.HYBRID, "0.8").triggered
    second = _eval(_long_legs(leg1_hit=True), "64764.51", TpMode.HYBRID, "0.8")
    assert second.close_all and second.quantity == D("0.00062")
    assert second.aggregate_target == D("64764.51")


def test_hybrid_aggregate_first_closes_everything():
    """tp_aggregate_percent 0.2: target 64,218.05, below leg 1's 64,248.89 → at 64,218.05
    the aggregate closes all 0.00124 and no leg TP ever fires."""
    decision = _eval(_long_legs(), "64218.05", TpMode.HYBRID, "0.2")
    assert decision.close_all and decision.close_legs == ()
    assert decision.quantity == D("0.00124")


def test_hybrid_both_reached_on_one_price_closes_everything_once():
    """A gap up to 65,000 reaches leg 1, leg 0 and the aggregate (64,730.77) at once: one
    close of everything, not three orders."""
    decision = _eval(_long_legs(), "65000", TpMode.HYBRID, "1")
    assert decision.close_all and decision.close_legs == ()


# --------------------------------------------------------------------------- shorts


def _short_legs():
    """Short grid at 64,250.5: leg 0 sold 0.00062 @ 64,250.50 (tp 1 % → 64,250.5 × 0.99 =
    63,607.995 → DOWN 63,607.99); leg 1 sold 0.00061 @ 64,571.76 (tp 0.5 % → 64,571.76 × 0.995
    = 64,248.9012 → 64,248.90).
    average (39.83531 + 39.3887736) / 0.00123 = 79.2240836 / 0.00123 = 64,409.82406504065…
    aggregate 0.5 %: × 0.995 = 64,087.77494… → DOWN 64,087.77."""
    return [
        LegState(0, 0, S.FILLED, D("0.00062"), D("0.00062"), D("64250.50"), D("1")),
        LegState(0, 1, S.FILLED, D("0.00061"), D("0.00061"), D("64571.76"), D("0.5")),
        LegState(0, 2, S.OPEN, D("0.00061")),
    ]


def test_short_per_leg_triggers_at_or_below_the_target():
    assert not _eval(_short_legs(), "64248.91", TpMode.PER_LEG, side="short").triggered
    decision = _eval(_short_legs(), "64248.90", TpMode.PER_LEG, side="short")
    assert [(c.leg, c.quantity, c.tp_price) for c in decision.close_legs] == [
        (1, D("0.00061"), D("64248.90"))
    ]


def test_short_aggregate():
    decision = _eval(_short_legs(), "64087.77", TpMode.AGGREGATE, "0.5", side="short")
    assert decision.close_all and decision.aggregate_target == D("64087.77")
    assert decision.quantity == D("0.00123")
    assert not _eval(_short_legs(), "64087.78", TpMode.AGGREGATE, "0.5", side="short").triggered


def test_usdm_short_targets_use_the_futures_tick():
    """USDⓈ-M, tick 0.10: one leg sold 0.002 @ 64,571.7, tp 0.5 % → 64,248.8415 → DOWN
    64,248.8; aggregate 1 %: 64,571.7 × 0.99 = 63,925.983 → DOWN 63,925.9."""
    legs = [LegState(0, 0, S.FILLED, D("0.002"), D("0.002"), D("64571.7"), D("0.5"))]
    decision = _eval(legs, "64248.8", TpMode.HYBRID, "1", side="short", rules=BTC_USDM)
    assert [(c.tp_price, c.quantity) for c in decision.close_legs] == [(D("64248.8"), D("0.002"))]
    assert decision.aggregate_target == D("63925.9")


# --------------------------------------------------------------------------- the index


@pytest.mark.parametrize(
    ("mode", "pct", "expected"),
    [
        (TpMode.PER_LEG, "1", D("64248.89")),  # min(64,893.01, 64,248.89)
        (TpMode.AGGREGATE, "1", D("64730.77")),
        (TpMode.HYBRID, "1", D("64248.89")),  # min(legs, 64,730.77)
        (TpMode.HYBRID, "0.2", D("64218.05")),  # the aggregate comes first
    ],
)
def test_long_trigger_is_the_lowest_target(mode, pct, expected):
    assert (
        trigger_price("long", _long_legs(), mode=mode, aggregate_percent=D(pct), tick=TICK)
        == expected
    )


def test_short_trigger_is_the_highest_target():
    """max(63,607.99, 64,248.90) = 64,248.90; with the aggregate 0.5 % (64,087.77) still
    64,248.90."""
    for mode in (TpMode.PER_LEG, TpMode.HYBRID):
        got = trigger_price(
            "short", _short_legs(), mode=mode, aggregate_percent=D("0.5"), tick=TICK
        )
        assert got == D("64248.90")


def test_nothing_held_has_no_trigger():
    legs = [LegState(0, 0, S.OPEN, D("0.00062"))]
    assert trigger_price("long", legs, mode="hybrid", aggregate_percent=D(1), tick=TICK) is None
    done = _long_legs(leg1_hit=True)[1:]
    assert trigger_price("long", done, mode="per_leg", aggregate_percent=D(1), tick=TICK) is None


def test_trigger_matches_evaluate_at_the_boundary():
    """Evaluating exactly at the indexed trigger price always does something, one tick
    before it never does."""
    for mode in TpMode:
        for side, legs in (("long", _long_legs()), ("short", _short_legs())):
            trig = trigger_price(side, legs, mode=mode, aggregate_percent=D("0.5"), tick=TICK)
            before = trig - TICK if side == "long" else trig + TICK
            assert _eval(legs, trig, mode, "0.5", side=side).triggered
            assert not _eval(legs, before, mode, "0.5", side=side).triggered


def test_reached():
    assert reached("long", D("10"), D("10")) and not reached("long", D("10"), D("9.99"))
    assert reached("short", D("10"), D("10")) and not reached("short", D("10"), D("10.01"))
    assert not reached("long", None, D("1"))
