"""Group aggregates from legs (SPEC §4.3), worked by hand on Binance spot BTCUSDT (step
0.00001) with the long grid of test_grid at 64,250.5 and a 0.1 % fee."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.aggregates import (
    LegState,
    aggregate,
    held_quantity,
    sellable_quantity,
    summarise_fills,
)
from server.domain.enums import OrderStatus as S
from tests.unit.real_rules import BTC_SPOT, PEPE_SPOT


def _legs():
    """leg 0: market buy filled 0.00062 @ 64,250.50; fee 0.1 % taken in BTC: 0.00000062 BTC
           (worth 0.00000062 × 64,250.5 = 0.03983531 USDT) → received 0.00061938
    leg 1: limit filled 0.00062 @ 63,929.24; fee 0.1 % in USDT: 39.6361288 × 0.001 =
           0.0396361288 → received 0.00062
    leg 2: limit partially filled 0.00031 of 0.00062 @ 63,607.99; fee 0.00000031 BTC
           (= 0.0197184769 USDT) → received 0.00030969
    legs 3, 4: open, nothing filled."""
    return [
        LegState(0, 0, S.FILLED, D("0.00062"), D("0.00062"), D("64250.50"), D("1"),
                 fee_base=D("0.00000062"), fee_quote=D("0.03983531")),
        LegState(0, 1, S.FILLED, D("0.00062"), D("0.00062"), D("63929.24"), D("0.5"),
                 fee_quote=D("0.0396361288")),
        LegState(0, 2, S.PARTIALLY_FILLED, D("0.00062"), D("0.00031"), D("63607.99"), D("0.5"),
                 fee_base=D("0.00000031"), fee_quote=D("0.0197184769")),
        LegState(0, 3, S.OPEN, D("0.00063")),
        LegState(0, 4, S.OPEN, D("0.00064")),
    ]  # fmt: skip


def test_aggregates_with_partial_fills_and_base_asset_fees():
    """total_filled_quantity = 0.00062 + 0.00062 + 0.00031 = 0.00155 (gross);
    held = 0.00155 − 0.00000062 − 0.00000031 = 0.00154907;
    invested = 39.83531 + 39.6361288 + 0.00031 × 63,607.99 (= 19.7184769) = 99.1899157;
    weighted_avg_entry = 99.1899157 / 0.00155 = 63,993.494 (exactly);
    filled legs 2 of 5 (the partial leg holds quantity but is not filled);
    entry fees 0.03983531 + 0.0396361288 + 0.0197184769 = 0.0991899157."""
    totals = aggregate(_legs())
    assert totals.total_filled_quantity == D("0.00155")
    assert totals.held_quantity == D("0.00154907")
    assert totals.total_invested_usd == D("99.1899157")
    assert totals.weighted_avg_entry == D("63993.494")
    assert (totals.filled_dca_legs, totals.total_dca_legs, totals.progress) == (2, 5, "2/5")
    assert totals.entry_fees_usd == D("0.0991899157")
    assert totals.open_legs == 3


def test_the_position_never_sells_more_than_it_holds():
    """Held 0.00154907 rounded DOWN to the step 0.00001 → 0.00154 (not the 0.00155 filled)."""
    totals = aggregate(_legs())
    assert sellable_quantity(totals.held_quantity, BTC_SPOT.step_size) == D("0.00154")
    assert sellable_quantity(D("0.00154907"), BTC_SPOT.step_size, cap=D("0.001")) == D("0.001")
    assert held_quantity(D("0.00062"), D("0.00000062")) == D("0.00061938")
    assert sellable_quantity(D("3241491.9"), PEPE_SPOT.step_size) == D("3241491")


def test_a_leg_closed_by_its_tp_drops_out():
    """leg 1 tp_hit: what is held is legs 0 and 2: 0.00093 filled, cost 39.83531 + 19.7184769 =
    59.5537869; average 59.5537869 / 0.00093 = 64,036.33 (exactly: 0.00093 × 64,036.33 =
    59.5537869); still 2 of 5 filled legs."""
    legs = _legs()
    legs[1] = LegState(0, 1, S.FILLED, D("0.00062"), D("0.00062"), D("63929.24"), D("0.5"),
                       tp_hit=True)  # fmt: skip
    totals = aggregate(legs)
    assert totals.total_filled_quantity == D("0.00093")
    assert totals.total_invested_usd == D("59.5537869")
    assert totals.weighted_avg_entry == D("64036.33")
    assert totals.filled_dca_legs == 2 and totals.open_legs == 2


def test_a_partial_close_outside_the_legs_keeps_the_average():
    """A risk offset closed 0.0005: remaining 0.00155 − 0.0005 = 0.00105; invested pro rata
    99.1899157 × 0.00105 / 0.00155 = 67.1931687; average unchanged at 63,993.494."""
    totals = aggregate(_legs(), closed_quantity=D("0.0005"))
    assert totals.total_filled_quantity == D("0.00105")
    assert totals.held_quantity == D("0.00104907")
    assert totals.total_invested_usd == D("67.1931687")
    assert totals.weighted_avg_entry == D("63993.494")


def test_nothing_filled_has_no_average():
    totals = aggregate([LegState(0, 0, S.OPEN, D("0.00062"))])
    assert totals.weighted_avg_entry is None
    assert totals.total_invested_usd == totals.held_quantity == D(0)


def test_a_fill_without_a_price_is_refused():
    with pytest.raises(ValueError, match="avg_fill_price"):
        LegState(0, 0, S.FILLED, D("1"), D("1"))


def test_summarise_fills_converts_fees_to_quote():
    """Trades of leg 2: 0.0002 @ 63,607.99, fee 0.0000002 BTC (= 0.012721598 USDT);
    0.00011 @ 63,600, fee 0.006996 USDT; 0.00001 @ 63,600, fee 0.00001 BNB (no rate).
    filled 0.00032; average (12.721598 + 6.996 + 0.636) / 0.00032 = 20.353598 / 0.00032 =
    63,604.99375; fee in quote 0.012721598 + 0.006996 = 0.019717598; base fee 0.0000002;
    BNB is reported as unconverted. With a BNB rate of 600: + 0.006 USDT."""
    trades = [
        (D("63607.99"), D("0.0002"), D("0.0000002"), "BTC"),
        (D("63600"), D("0.00011"), D("0.006996"), "USDT"),
        (D("63600"), D("0.00001"), D("0.00001"), "BNB"),
    ]
    fill = summarise_fills(trades, base="BTC", quote="USDT")
    assert fill.filled_quantity == D("0.00032")
    assert fill.avg_fill_price == D("63604.99375")
    assert fill.fee_quote == D("0.019717598")
    assert fill.fee_base == D("0.0000002")
    assert fill.unconverted == ("BNB",)
    with_rate = summarise_fills(trades, base="BTC", quote="USDT", rates={"BNB": D("600")})
    assert with_rate.fee_quote == D("0.025717598") and with_rate.unconverted == ()


_fill = st.tuples(
    st.decimals(D("1000"), D("100000"), places=2),
    st.integers(1, 10_000).map(lambda n: D(n) * D("0.00001")),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_fill, min_size=1, max_size=10))
def test_average_lies_between_the_fills_and_identity_holds(fills):
    legs = [
        LegState(0, i, S.FILLED, qty, qty, price, D("0.5"), tp_hit=False,
                 fee_base=(qty / 1000).quantize(D("0.00000001")) if base_fee else D(0))
        for i, (price, qty, base_fee) in enumerate(fills)
    ]  # fmt: skip
    totals = aggregate(legs)
    prices = [price for price, _, _ in fills]
    assert min(prices) <= totals.weighted_avg_entry <= max(prices)
    assert totals.total_invested_usd == sum(p * q for p, q, _ in fills)
    assert totals.held_quantity <= totals.total_filled_quantity
    sellable = sellable_quantity(totals.held_quantity, BTC_SPOT.step_size)
    assert sellable <= totals.held_quantity and totals.held_quantity - sellable < D("0.00001")
