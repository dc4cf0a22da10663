"""Closing a position (SPEC §4.4, §4.5, §7), worked by hand on the real market rules.

Binance spot BTCUSDT (tick 0.01, step 0.00001, min qty 0.00001, min notional 5), fee 0.1 %:
a buy pays it in BTC, a sell in USDT. The long group used throughout:

  leg 0: bought 0.00031 @ 64,250.50; fee 0.00000031 BTC = 0.00000031 × 64,250.5 = 0.019917655
         USDT; held 0.00031 − 0.00000031 = 0.00030969; tp 1 %
  leg 1: bought 0.00031 @ 63,929.24; fee 0.00000031 BTC = 0.0198180644 USDT; held 0.00030969;
         tp 0.5 % → 63,929.24 × 1.005 = 64,248.8862 → up to the tick 64,248.89
  invested 19.917655 + 19.8180644 = 39.7357194
"""

from __future__ import annotations

from decimal import Decimal as D

from server.domain.aggregates import LegState
from server.domain.closing import Fills, close_quantity, leg_tp_order, realised, remaining_leg
from server.domain.enums import OrderStatus as S
from tests.unit.real_rules import BTC_SPOT, BTC_USDM, PEPE_SPOT


def _legs(leg1_hit=False):
    fee_base = D("0.00000031")
    return [
        LegState(0, 0, S.FILLED, D("0.00031"), D("0.00031"), D("64250.50"), D("1"),
                 fee_quote=D("0.019917655"), fee_base=fee_base),
        LegState(0, 1, S.FILLED, D("0.00031"), D("0.00031"), D("63929.24"), D("0.5"),
                 tp_hit=leg1_hit, fee_quote=D("0.0198180644"), fee_base=fee_base),
        LegState(0, 2, S.CANCELLED, D("0.00031")),
    ]  # fmt: skip


# --------------------------------------------------------------------------- quantities


def test_close_sells_what_is_held_rounded_down_and_reports_the_rest():
    """Held 0.00030969 + 0.00030969 = 0.00061938 → 0.00061 at step 0.00001 (notional
    0.00061 × 64,900 = 39.589 ≥ 5); 0.00000938 stays in the account."""
    plan = close_quantity(D("0.00061938"), BTC_SPOT, D("64900"), reduce_only=False)
    assert (plan.quantity, plan.dust, plan.sendable) == (D("0.00061"), D("0.00000938"), True)
    assert plan.reason == "0.00000938 left below the step size 0.00001"


def test_spot_dust_below_min_notional_is_recorded_not_sent():
    """0.00007 × 64,900 = 4.543 < 5: nothing is sent, the whole 0.00007 is dust."""
    plan = close_quantity(D("0.00007"), BTC_SPOT, D("64900"), reduce_only=False)
    assert (plan.quantity, plan.dust, plan.sendable) == (D("0"), D("0.00007"), False)
    assert plan.reason == ("dust not sent: 0.00007 × 64900 = 4.543 is below the minimum notional 5")


def test_below_one_step_is_dust():
    """0.000009 BTC rounds down to 0 at step 0.00001."""
    plan = close_quantity(D("0.000009"), BTC_SPOT, D("64900"), reduce_only=False)
    assert not plan.sendable and plan.dust == D("0.000009")
    assert plan.reason == "dust not sent: nothing left to sell at the step size 0.00001"


def test_futures_reduce_only_close_is_exempt_from_min_notional_not_min_qty():
    """USDⓈ-M BTCUSDT (step 0.001, min notional 100): 0.002 × 40,000 = 80 < 100 still goes
    (reduce-only); 0.0009 rounds to 0 < min qty 0.001 and does not."""
    plan = close_quantity(D("0.002"), BTC_USDM, D("40000"), reduce_only=True)
    assert (plan.quantity, plan.dust) == (D("0.002"), D("0"))
    assert plan.reason is None
    assert not close_quantity(D("0.0009"), BTC_USDM, D("40000"), reduce_only=True).sendable


def test_pepe_step_one_and_min_notional_one():
    """PEPEUSDT (step 1, min notional 1): 123,456.789 → 123,456 (× 0.00001234 = 1.52344704);
    80,000 × 0.00001234 = 0.9872 < 1 is dust."""
    plan = close_quantity(D("123456.789"), PEPE_SPOT, D("0.00001234"), reduce_only=False)
    assert (plan.quantity, plan.dust) == (D("123456"), D("0.789"))
    assert not close_quantity(D("80000"), PEPE_SPOT, D("0.00001234"), reduce_only=False).sendable


def test_close_is_capped_by_what_the_account_has():
    """A cap (the free balance) below the held quantity wins, still rounded down."""
    plan = close_quantity(D("0.00061938"), BTC_SPOT, D("64900"), reduce_only=False,
                          cap=D("0.000505"))  # fmt: skip
    assert plan.quantity == D("0.0005")


# --------------------------------------------------------------------------- TP orders


def test_leg_tp_order_rests_at_the_target_from_the_actual_fill():
    """Leg 1: a sell limit at 64,248.89 for its held 0.00030969 → 0.00030 (notional
    19.274667 ≥ 5)."""
    order = leg_tp_order("long", _legs()[1], BTC_SPOT, reduce_only=False)
    assert (order.side, order.price, order.quantity, order.valid) == (
        "sell",
        D("64248.89"),
        D("0.0003"),
        True,
    )


def test_leg_tp_order_of_a_short_is_a_buy_below_and_minus_what_was_sold():
    """A USDⓈ-M short leg sold 0.003 @ 65,000.0, tp 0.5 %: 65,000 × 0.995 = 64,675 (tick 0.1,
    down); a first TP order already bought back 0.001 → the new one is for 0.002 (reduce-only,
    so 0.002 × 64,675 = 129.35 needs no minimum check anyway)."""
    leg = LegState(0, 0, S.FILLED, D("0.003"), D("0.003"), D("65000.0"), D("0.5"))
    order = leg_tp_order("short", leg, BTC_USDM, reduce_only=True, already_sold=D("0.001"))
    assert (order.side, order.price, order.quantity, order.valid) == (
        "buy",
        D("64675"),
        D("0.002"),
        True,
    )


def test_leg_tp_order_below_min_notional_is_refused_with_the_reason():
    """0.00007 BTC at a 64,900 target is 4.543 < 5: the leg is watched by price instead."""
    leg = LegState(0, 0, S.FILLED, D("0.00007"), D("0.00007"), D("64257.43"), D("1"))
    order = leg_tp_order("long", leg, BTC_SPOT, reduce_only=False)
    assert not order.valid and "below the minimum notional 5" in order.reason


# --------------------------------------------------------------------------- realised PnL


def test_group_close_realised_net_of_entry_and_closing_fees():
    """Both legs open, the group closes 0.00061 at 64,900.00 (fee 0.1 % = 0.039589 USDT):
    cost of 0.00061 of 0.00062 = 39.7357194 × 61 / 62 = 39.0948207;
    fees = 0.019917655 + 0.0198180644 + 0.039589 = 0.0793247194;
    realised = 39.589 − 39.0948207 − 0.0793247194 = 0.4148545806 USDT."""
    result = realised("long", _legs(), {}, Fills.of(D("0.00061"), D("64900"), D("0.039589")))
    assert result.total == D("0.4148545806")
    assert (result.close_quantity, result.close_price) == (D("0.00061"), D("64900"))
    assert result.remaining_held == D("0.00061938")
    assert result.legs == ()


def test_leg_tp_then_group_close():
    """Leg 1's TP sells 0.0003 at 64,248.89 (19.274667, fee 0.019274667): 19.274667 −
    0.0003 × 63,929.24 (19.178772) − its entry fee 0.0198180644 − 0.019274667 = 0.0568022686.
    Then the group closes leg 0: 0.0003 at 64,900 (19.47, fee 0.01947): cost 19.917655 ×
    0.0003 / 0.00031 = 19.27515; 19.47 − 19.27515 − 0.019917655 − 0.01947 = 0.155462345.
    Total 0.2122646136."""
    tp = {(0, 1): Fills.of(D("0.0003"), D("64248.89"), D("0.019274667"))}
    only_tp = realised("long", _legs(leg1_hit=True), tp, None)
    assert [(p.leg, p.usd, p.done) for p in only_tp.legs] == [(1, D("0.0568022686"), True)]
    assert only_tp.total == D("0.0568022686")
    both = realised(
        "long", _legs(leg1_hit=True), tp, Fills.of(D("0.0003"), D("64900"), D("0.01947"))
    )
    assert both.close_usd == D("0.155462345")
    assert both.total == D("0.2122646136")


def test_partial_tp_fill_then_group_close_splits_the_leg():
    """Leg 1's TP filled 0.0001 of 0.0003 at 64,248.89 (fee 0.006424889) before the group
    close cancelled it. TP part: 6.424889 − 6.392924 − 0.0198180644 × 1/3.1 (0.006392924) −
    0.006424889 = 0.019147187. Left of leg 1: 0.00021, fee 0.0198180644 × 21/31 = 0.0134251404,
    held 0.00020969. Close: held 0.00030969 + 0.00020969 = 0.00051938 → 0.00051 at 64,900
    (33.099, fee 0.033099); invested 19.917655 + 13.4251404 = 33.3427954, cost × 51/52 =
    32.701587796153846154 (18 places); fees 0.019917655 + 0.0134251404 + 0.033099; realised
    33.099 − 32.701587796153846154 − 0.0664417954 = 0.330970408446153846."""
    tp = {(0, 1): Fills.of(D("0.0001"), D("64248.89"), D("0.006424889"))}
    result = realised("long", _legs(), tp, Fills.of(D("0.00051"), D("64900"), D("0.033099")))
    assert [(p.leg, p.usd, p.done) for p in result.legs] == [(1, D("0.019147187"), False)]
    assert result.remaining_held == D("0.00051938")
    assert result.close_usd == D("0.330970408446153846")


def test_short_close_mirrors():
    """USDⓈ-M short: sold 0.003 @ 65,000.0 (taker fee 0.05 % = 0.0975), bought back 0.003 at
    64,000.0 (0.096): (65,000 − 64,000) × 0.003 − 0.0975 − 0.096 = 2.8065."""
    leg = LegState(0, 0, S.FILLED, D("0.003"), D("0.003"), D("65000.0"), D("0.5"),
                   fee_quote=D("0.0975"))  # fmt: skip
    result = realised("short", [leg], {}, Fills.of(D("0.003"), D("64000.0"), D("0.096")))
    assert result.total == D("2.8065")


def test_nothing_sold_realises_only_the_fees():
    """A close that found only dust: the entry fees are realised, nothing else."""
    result = realised("long", _legs(), {}, Fills())
    assert result.total == D("-0.0397357194")


def test_remaining_leg_shrinks_pro_rata_and_keeps_the_base_fee():
    left = remaining_leg(_legs()[1], D("0.0001"))
    assert (left.filled_quantity, left.fee_quote, left.fee_base, left.held) == (
        D("0.00021"),
        D("0.0134251404"),
        D("0.00000031"),
        D("0.00020969"),
    )


def test_fills_add_up_exactly():
    """Two close orders: 0.0002 @ 64,900 + 0.0001 @ 64,850 = 12.98 + 6.485 = 19.465 for
    0.0003, average 64,883.333333333333333333 (18 places)."""
    total = Fills.of(D("0.0002"), D("64900"), D("0.01298")) + Fills.of(
        D("0.0001"), D("64850"), D("0.006485")
    )
    assert (total.quantity, total.cost, total.fee_quote) == (
        D("0.0003"),
        D("19.465"),
        D("0.019465"),
    )
    assert total.avg_price == D("64883.333333333333333333")
