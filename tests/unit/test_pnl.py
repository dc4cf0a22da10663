"""PnL (SPEC §7) worked by hand on Binance spot BTCUSDT with a 0.1 % fee."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.aggregates import LegState, aggregate
from server.domain.enums import OrderStatus as S
from server.domain.pnl import (
    entry_cost,
    fee_in_quote,
    realised_from_cost,
    realised_usd,
    to_cents,
    unrealised,
    unrealised_percent,
    unrealised_usd,
)


def test_long_unrealised():
    """Legs 0.00062 @ 64,250.50 and 0.00062 @ 63,929.24: invested 79.4714388, average
    64,089.87. At 65,000: (65,000 − 64,089.87) × 0.00124 = 910.13 × 0.00124 = 1.1285612 USD;
    1.1285612 / 79.4714388 × 100 = 1.420084018… → 1.42008401 % (8 places, toward zero)."""
    assert unrealised_usd("long", D("64089.87"), D("65000"), D("0.00124")) == D("1.1285612")
    usd, pct = unrealised(
        "long",
        D("65000"),
        held_quantity=D("0.00124"),
        filled_quantity=D("0.00124"),
        invested=D("79.4714388"),
    )
    assert (usd, pct) == (D("1.1285612"), D("1.42008401"))


def test_short_unrealised_has_no_rounding_dust():
    """Sold 0.00062 @ 64,250.50 and 0.00061 @ 64,571.76: invested 79.2240836 for 0.00123
    (average 64,409.824065…, not a finite decimal). At 64,000:
    cost − value = 79.2240836 − 64,000 × 0.00123 (= 78.72) = 0.5040836 USD, exactly;
    0.5040836 / 79.2240836 × 100 = 0.636275…→ 0.6362757 %."""
    usd, pct = unrealised(
        "short",
        D("64000"),
        held_quantity=D("0.00123"),
        filled_quantity=D("0.00123"),
        invested=D("79.2240836"),
    )
    assert (usd, pct) == (D("0.5040836"), D("0.6362757"))
    assert unrealised_usd("short", D("64250.5"), D("65000"), D("0.00062")) == D("-0.46469")


def test_unrealised_on_what_is_held_after_a_base_asset_fee():
    """test_aggregates' group: held 0.00154907 of 0.00155 filled, invested 99.1899157
    (average 63,993.494). At 65,000: value 65,000 × 0.00154907 = 100.68955; cost of the held
    quantity 99.1899157 × 0.00154907 / 0.00155 = 63,993.494 × 0.00154907 = 99.13040175058;
    unrealised 1.55914824942 USD; / 99.1899157 × 100 = 1.571881…%."""
    legs = [
        LegState(0, 0, S.FILLED, D("0.00062"), D("0.00062"), D("64250.50"), D("1"),
                 fee_base=D("0.00000062")),
        LegState(0, 1, S.FILLED, D("0.00062"), D("0.00062"), D("63929.24"), D("0.5")),
        LegState(0, 2, S.PARTIALLY_FILLED, D("0.00062"), D("0.00031"), D("63607.99"), D("0.5"),
                 fee_base=D("0.00000031")),
    ]  # fmt: skip
    totals = aggregate(legs)
    usd, pct = unrealised(
        "long",
        D("65000"),
        held_quantity=totals.held_quantity,
        filled_quantity=totals.total_filled_quantity,
        invested=totals.total_invested_usd,
    )
    assert usd == D("1.55914824942")
    assert pct == D("1.57188181")


def test_long_leg_close_realised_net_of_fees():
    """Leg 1 bought 0.00062 @ 63,929.24 (fee 0.1 % = 0.0396361288), sold at its TP 64,248.89
    (proceeds 39.8343118, fee 0.0398343118): (64,248.89 − 63,929.24) × 0.00062 = 319.65 ×
    0.00062 = 0.198183; − 0.0794704406 = 0.1187125594 USD."""
    fees = D("0.0396361288") + D("0.0398343118")
    assert realised_usd("long", D("63929.24"), D("64248.89"), D("0.00062"), fees) == D(
        "0.1187125594"
    )
    cost = D("63929.24") * D("0.00062")
    assert realised_from_cost("long", D("64248.89"), D("0.00062"), cost, fees) == D("0.1187125594")


def test_short_leg_close_realised_net_of_fees():
    """Leg 1 sold 0.00061 @ 64,571.76 (fee 0.0393887736), bought back at 64,248.90 (39.191829,
    fee 0.039191829): (64,571.76 − 64,248.90) × 0.00061 = 322.86 × 0.00061 = 0.1969446;
    − 0.0785806026 = 0.1183639974 USD."""
    fees = D("0.0393887736") + D("0.039191829")
    assert realised_usd("short", D("64571.76"), D("64248.90"), D("0.00061"), fees) == D(
        "0.1183639974"
    )


def test_losing_close_is_negative():
    """Long 0.00124 at average 64,089.87 closed at 63,000: (63,000 − 64,089.87) × 0.00124 =
    −1.3514388; fees 0.2 → −1.5514388. Through the exact cost: 63,000 × 0.00124 = 78.12;
    78.12 − 79.4714388 − 0.2 = −1.5514388."""
    assert realised_usd("long", D("64089.87"), D("63000"), D("0.00124"), D("0.2")) == D(
        "-1.5514388"
    )
    got = realised_from_cost("long", D("63000"), D("0.00124"), D("79.4714388"), D("0.2"))
    assert got == D("-1.5514388")


def test_entry_cost_of_part_of_a_position():
    """0.0005 of 0.00155 costing 99.1899157: 99.1899157 × 0.0005 / 0.00155 = 31.996747."""
    assert entry_cost(D("99.1899157"), D("0.00155"), D("0.00155")) == D("99.1899157")
    assert entry_cost(D("99.1899157"), D("0.00155"), D("0.0005")) == D("31.996747")


def test_fees_convert_to_quote():
    """0.00000062 BTC at 64,250.5 = 0.03983531 USDT; 0.0001 BNB at 600 = 0.06 USDT."""
    kw = {"base": "BTC", "quote": "USDT", "price": D("64250.5")}
    assert fee_in_quote(D("0.04"), "USDT", **kw) == D("0.04")
    assert fee_in_quote(D("0.00000062"), "BTC", **kw) == D("0.03983531")
    assert fee_in_quote(D("0.0001"), "BNB", rates={"BNB": D("600")}, **kw) == D("0.06")
    assert fee_in_quote(D("0.0001"), "BNB", **kw) is None


def test_percent_of_nothing_is_zero_and_cents_are_for_display():
    assert unrealised_percent(D("5"), D("0")) == 0
    assert unrealised_percent(D("-1"), D("3")) == D("-33.33333333")  # toward zero
    assert to_cents(D("0.1187125594")) == D("0.12")
    assert str(to_cents(D("39.8"))) == "39.80"
    assert to_cents(D("0.125")) == D("0.12")  # half-even


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(D("1"), D("100000"), places=2),
    st.decimals(D("1"), D("100000"), places=2),
    st.integers(1, 100_000).map(lambda n: D(n) / 100_000),
)
def test_long_and_short_mirror(entry, price, quantity):
    long = unrealised_usd("long", entry, price, quantity)
    short = unrealised_usd("short", entry, price, quantity)
    assert long == -short
    assert realised_usd("long", entry, price, quantity, D(0)) == long
