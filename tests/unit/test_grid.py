"""The grid of a pyramid (SPEC §3), worked by hand with the real market rules.

Default settings: total 10,000 USD over 10 groups → 1,000 per group; 5 pyramids at 20 % → 200
per pyramid; the default grid has 5 legs at 20 % → 40 USD per leg; legs (gap, tp): (0, 1),
(−0.5, 0.5), (−1, 0.5), (−2, 0.5), (−4, 0.5); entry_order_type market; policy reject.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from server.domain.enums import OrderPurpose
from server.domain.grid import (
    client_order_id,
    group_capital,
    leg_capital,
    leg_price,
    parse_client_order_id,
    plan_pyramid,
    preview,
    pyramid_capital,
    tp_price,
)
from server.domain.precision import check_order
from tests.unit.real_rules import BTC_SPOT, BTC_USDM, PEPE_SPOT, settings

P = D("64250.5")


def _rows(plan):
    return [
        (leg.order_type, leg.side, leg.price, leg.quantity, leg.notional, leg.tp_price)
        for leg in plan.legs
    ]


# --------------------------------------------------------------------------- capital


def test_default_capital_is_40_usd_per_leg():
    """10,000 / 10 = 1,000 per group; × 20 % = 200 per pyramid; × 20 % = 40 per leg."""
    s = settings()
    assert group_capital(s) == D("1000")
    assert pyramid_capital(s, 0) == D("200")
    assert pyramid_capital(s, 4) == D("200")
    assert leg_capital(s, 0, D("20")) == D("40")


def test_capital_that_does_not_divide_is_truncated_never_rounded_up():
    """3 groups, 3 pyramids (weights 33.34 / 33.33 / 33.33):
    group 10,000 / 3 = 3,333.333333333… → 3,333.33333333 (1e-8, down);
    pyramid 0 = 10,000 × 33.34 / 300 = 1,111.3333333… → 1,111.33333333;
    pyramid 1 = 10,000 × 33.33 / 300 = 1,111 exactly;
    leg (20 %) of pyramid 0 = 10,000 × 33.34 × 20 / 30,000 = 222.2666666… → 222.26666666
    (computed from the settings in one division, not from the truncated pyramid figure)."""
    s = settings(
        pool={"max_open_groups": 3},
        capital={"max_pyramids": 3, "pyramid_weights": ["33.34", "33.33", "33.33"]},
    )
    assert group_capital(s) == D("3333.33333333")
    assert pyramid_capital(s, 0) == D("1111.33333333")
    assert pyramid_capital(s, 1) == D("1111")
    assert leg_capital(s, 0, D("20")) == D("222.26666666")


def test_pyramid_index_beyond_max_pyramids_is_a_caller_error():
    with pytest.raises(ValueError, match="pyramid_index 5"):
        pyramid_capital(settings(), 5)


# --------------------------------------------------------------------------- spot BTCUSDT


def test_long_btcusdt_spot_all_five_legs():
    """Long BTCUSDT at 64,250.5, tick 0.01 (buys round DOWN), step 0.00001 (down), 40 USD/leg:

    leg 0, gap 0, market: price 64,250.50; 40 / 64,250.5 = 0.00062256… → 0.00062;
          notional 64,250.5 × 0.00062 = 39.83531; TP 64,250.5 × 1.01 = 64,893.005 → UP 64,893.01
    leg 1, −0.5 %: 64,250.5 × 0.995 = 63,929.2475 → 63,929.24; 40 / 63,929.24 = 0.00062569…
          → 0.00062; notional 39.6361288; TP 63,929.24 × 1.005 = 64,248.8862 → 64,248.89
    leg 2, −1 %: × 0.99 = 63,607.995 → 63,607.99; 40 / 63,607.99 = 0.00062885… → 0.00062;
          notional 39.4369538; TP × 1.005 = 63,926.02995 → 63,926.03
    leg 3, −2 %: × 0.98 = 62,965.49 (on tick); 40 / 62,965.49 = 0.00063526… → 0.00063;
          notional 39.6682587; TP × 1.005 = 63,280.31745 → 63,280.32
    leg 4, −4 %: × 0.96 = 61,680.48; 40 / 61,680.48 = 0.00064850… → 0.00064;
          notional 39.4755072; TP × 1.005 = 61,988.8824 → 61,988.89
    Every notional ≥ 5 ✓; Σ notional = 198.0521585 ≤ 200."""
    plan = plan_pyramid(settings(), BTC_SPOT, "long", P, 0, "BTCUSDT")
    assert plan.valid and plan.reason is None
    assert plan.capital == D("200")
    assert _rows(plan) == [
        ("market", "buy", D("64250.50"), D("0.00062"), D("39.83531"), D("64893.01")),
        ("limit", "buy", D("63929.24"), D("0.00062"), D("39.6361288"), D("64248.89")),
        ("limit", "buy", D("63607.99"), D("0.00062"), D("39.4369538"), D("63926.03")),
        ("limit", "buy", D("62965.49"), D("0.00063"), D("39.6682587"), D("63280.32")),
        ("limit", "buy", D("61680.48"), D("0.00064"), D("39.4755072"), D("61988.89")),
    ]
    assert plan.total_notional == D("198.0521585")
    assert [leg.capital for leg in plan.legs] == [D("40")] * 5
    assert not any(leg.bumped for leg in plan.legs)


def test_short_btcusdt_grid_sits_above_and_rounds_up():
    """Short at 64,250.5 (a futures-style short; spot refusal is the intake's job): entries
    are sells at P × (1 − gap/100), rounded UP; TP = fill × (1 − tp/100), rounded DOWN:

    leg 0 market: 64,250.50; qty 0.00062; notional 39.83531; TP 64,250.5 × 0.99 = 63,607.995
          → 63,607.99
    leg 1: × 1.005 = 64,571.7525 → 64,571.76; 40 / 64,571.76 = 0.00061946… → 0.00061;
          notional 39.3887736; TP × 0.995 = 64,248.9012 → 64,248.90
    leg 2: × 1.01 = 64,893.005 → 64,893.01; 40 / 64,893.01 = 0.00061639… → 0.00061;
          notional 39.5847361; TP × 0.995 = 64,568.54495 → 64,568.54
    leg 3: × 1.02 = 65,535.51; 40 / 65,535.51 = 0.00061035… → 0.00061; notional 39.9766611;
          TP × 0.995 = 65,207.83245 → 65,207.83
    leg 4: × 1.04 = 66,820.52; 40 / 66,820.52 = 0.00059861… → 0.00059; notional 39.4241068;
          TP × 0.995 = 66,486.4174 → 66,486.41"""
    plan = plan_pyramid(settings(), BTC_SPOT, "short", P)
    assert plan.valid
    assert _rows(plan) == [
        ("market", "sell", D("64250.50"), D("0.00062"), D("39.83531"), D("63607.99")),
        ("limit", "sell", D("64571.76"), D("0.00061"), D("39.3887736"), D("64248.90")),
        ("limit", "sell", D("64893.01"), D("0.00061"), D("39.5847361"), D("64568.54")),
        ("limit", "sell", D("65535.51"), D("0.00061"), D("39.9766611"), D("65207.83")),
        ("limit", "sell", D("66820.52"), D("0.00059"), D("39.4241068"), D("66486.41")),
    ]


def test_limit_entry_order_type_sends_leg_zero_as_a_limit_at_p():
    """entry_order_type=limit: leg 0 is a buy limit at 64,250.50, same quantity."""
    plan = plan_pyramid(settings(grid={"entry_order_type": "limit"}), BTC_SPOT, "long", P)
    assert plan.legs[0].order_type == "limit"
    assert (plan.legs[0].price, plan.legs[0].quantity) == (D("64250.50"), D("0.00062"))
    assert all(leg.order_type == "limit" for leg in plan.legs)


def test_off_tick_entry_price_is_rounded_to_the_safe_side():
    """P = 64,250.505 is between ticks: a long's gap-0 buy rounds DOWN to 64,250.50, a short's
    gap-0 sell rounds UP to 64,250.51 (40 / 64,250.51 = 0.00062256… → 0.00062)."""
    p = D("64250.505")
    assert plan_pyramid(settings(), BTC_SPOT, "long", p).legs[0].price == D("64250.50")
    short = plan_pyramid(settings(), BTC_SPOT, "short", p).legs[0]
    assert (short.price, short.quantity) == (D("64250.51"), D("0.00062"))


def test_one_short_leg_refuses_the_whole_pyramid_and_names_it():
    """Total 1,000 → 100 per group → 20 per pyramid; grid (0 %, 80 %) and (−1 %, 20 %):
    leg 0: 16 USD: 16 / 64,250.5 = 0.00024902… → 0.00024, notional 15.42012 ✓;
    leg 1: 4 USD at 63,607.99: 4 / 63,607.99 = 0.0000628852… → 0.00006, notional 3.8164794 < 5 ✗
    → reject: the pyramid is invalid, the reason names leg 1 and its numbers, not leg 0."""
    grid = {
        "legs": [
            {"gap_percent": "0", "weight_percent": "80", "tp_percent": "1"},
            {"gap_percent": "-1", "weight_percent": "20", "tp_percent": "0.5"},
        ]
    }
    plan = plan_pyramid(
        settings(capital={"total_capital_usd": "1000"}, grid=grid), BTC_SPOT, "long", P
    )
    assert not plan.valid
    assert plan.legs[0].valid and plan.legs[0].notional == D("15.42012")
    assert not plan.legs[1].valid
    assert (plan.legs[1].quantity, plan.legs[1].notional) == (D("0.00006"), D("3.8164794"))
    assert "nothing is sent" in plan.reason
    assert (
        "leg 1: BTCUSDT: notional 3.8164794 (price 63607.99 × quantity 0.00006) below "
        "min_notional 5" in plan.reason
    )
    assert "leg 0" not in plan.reason


def test_bump_raises_the_short_leg_to_the_minimum():
    """Same grid, policy bump: leg 1 becomes the smallest step multiple with notional ≥ 5:
    5 / 63,607.99 = 0.0000786064… → 0.00008; notional 63,607.99 × 0.00008 = 5.0886392."""
    grid = {
        "legs": [
            {"gap_percent": "0", "weight_percent": "80", "tp_percent": "1"},
            {"gap_percent": "-1", "weight_percent": "20", "tp_percent": "0.5"},
        ]
    }
    s = settings(
        capital={"total_capital_usd": "1000"}, grid=grid, precision={"min_notional_policy": "bump"}
    )
    plan = plan_pyramid(s, BTC_SPOT, "long", P)
    assert plan.valid
    leg = plan.legs[1]
    assert leg.bumped and leg.valid
    assert (leg.quantity, leg.notional) == (D("0.00008"), D("5.0886392"))
    assert "raised from 0.00006 to 0.00008" in leg.reason
    assert not plan.legs[0].bumped
    assert "raised leg 1 to the exchange minimum" in plan.reason


# --------------------------------------------------------------------------- USDⓈ-M BTCUSDT


def test_usdm_legs_below_100_min_notional_are_refused_naming_leg_0():
    """USDⓈ-M BTCUSDT, tick 0.10, step 0.001, min notional 100; 40 USD legs:
    leg 0: 40 / 64,250.5 = 0.00062256… → 0 at step 0.001 — below min_qty 0.001 and min
    notional 100. Reject: the pyramid is refused and the reason starts with leg 0."""
    plan = plan_pyramid(settings(), BTC_USDM, "long", P)
    assert not plan.valid
    assert all(not leg.valid for leg in plan.legs)
    assert (
        "pyramid 0 refused (min_notional_policy=reject), nothing is sent: leg 0: BTCUSDT: "
        "quantity 0 (rounded down from 0.000622563 to step_size 0.001) below min_qty 0.001"
        in plan.reason
    )


def test_usdm_bump_raises_every_leg_to_the_smallest_step_multiple_over_100():
    """Bump: each leg gets the smallest multiple of 0.001 with price × qty ≥ 100:
    leg 0 (market at 64,250.5): 100 / 64,250.5 = 0.001556… → 0.002; notional 128.501
    leg 1: 63,929.2475 → DOWN to tick 0.1 → 63,929.2; qty 0.002; notional 127.8584;
          TP 63,929.2 × 1.005 = 64,248.846 → UP 64,248.9
    leg 2: 63,607.995 → 63,607.9; 0.002; 127.2158
    leg 3: 62,965.49 → 62,965.4; 0.002; 125.9308
    leg 4: 61,680.48 → 61,680.4; 0.002; 123.3608
    Σ = 632.8668, above the 200 pyramid capital: the bump is what the user asked for, and the
    plan says so."""
    plan = plan_pyramid(settings(precision={"min_notional_policy": "bump"}), BTC_USDM, "long", P)
    assert plan.valid
    assert [(leg.price, leg.quantity, leg.notional) for leg in plan.legs] == [
        (D("64250.5"), D("0.002"), D("128.501")),
        (D("63929.2"), D("0.002"), D("127.8584")),
        (D("63607.9"), D("0.002"), D("127.2158")),
        (D("62965.4"), D("0.002"), D("125.9308")),
        (D("61680.4"), D("0.002"), D("123.3608")),
    ]
    assert plan.legs[1].tp_price == D("64248.9")
    assert all(leg.bumped for leg in plan.legs)
    assert plan.total_notional == D("632.8668")
    assert "notional is 632.8668 for a capital of 200" in plan.reason


def test_usdm_with_enough_capital_needs_no_bump():
    """Total 100,000 → 400 per leg: 400 / 64,250.5 = 0.0062256… → 0.006; notional 385.503."""
    plan = plan_pyramid(settings(capital={"total_capital_usd": "100000"}), BTC_USDM, "long", P)
    assert plan.valid
    assert (plan.legs[0].quantity, plan.legs[0].notional) == (D("0.006"), D("385.503"))


# --------------------------------------------------------------------------- PEPEUSDT


def test_pepe_quantities_are_whole_coins():
    """PEPEUSDT at 0.00001234, tick 0.00000001, step 1, min notional 1, 40 USD per leg:
    leg 0 market: 40 / 0.00001234 = 3,241,491.08… → 3,241,491; notional 39.99999894;
          TP 0.00001234 × 1.01 = 0.0000124634 → UP 0.00001247
    leg 1: 0.00001234 × 0.995 = 0.0000122783 → DOWN 0.00001227; 40 / 0.00001227 =
          3,259,983.70… → 3,259,983; notional 39.99999141; TP × 1.005 = 0.00001233135
          → 0.00001234
    leg 2: × 0.99 = 0.0000122166 → 0.00001221; 3,276,003; 39.99999663; TP 0.00001227105
          → 0.00001228
    leg 3: × 0.98 = 0.0000120932 → 0.00001209; 3,308,519; 39.99999471; TP 0.00001215045
          → 0.00001216
    leg 4: × 0.96 = 0.0000118464 → 0.00001184; 3,378,378; 39.99999552; TP 0.0000118992
          → 0.00001190"""
    plan = plan_pyramid(settings(), PEPE_SPOT, "long", D("0.00001234"))
    assert plan.valid
    assert [(leg.price, leg.quantity, leg.notional, leg.tp_price) for leg in plan.legs] == [
        (D("0.00001234"), D("3241491"), D("39.99999894"), D("0.00001247")),
        (D("0.00001227"), D("3259983"), D("39.99999141"), D("0.00001234")),
        (D("0.00001221"), D("3276003"), D("39.99999663"), D("0.00001228")),
        (D("0.00001209"), D("3308519"), D("39.99999471"), D("0.00001216")),
        (D("0.00001184"), D("3378378"), D("39.99999552"), D("0.00001190")),
    ]
    assert all(leg.quantity == leg.quantity.to_integral_value() for leg in plan.legs)


def test_symbol_override_grid_is_used_for_that_symbol_only():
    """PEPEUSDT override: one leg of 100 % at gap 0 → 200 USD: 200 / 0.00001234 =
    16,207,455.4… → 16,207,455; BTCUSDT keeps the 5-leg default."""
    override = {
        "PEPEUSDT": {"legs": [{"gap_percent": "0", "weight_percent": "100", "tp_percent": "2"}]}
    }
    s = settings(grid={"symbol_overrides": override})
    pepe = plan_pyramid(s, PEPE_SPOT, "long", D("0.00001234"))
    assert [(leg.quantity, leg.tp_percent) for leg in pepe.legs] == [(D("16207455"), D("2"))]
    assert len(plan_pyramid(s, BTC_SPOT, "long", P).legs) == 5


def test_price_that_rounds_to_zero_refuses_the_pyramid():
    """PEPE at 0.00000002 with a −60 % leg: 0.000000008 → DOWN to 0 → refused, not divided."""
    grid = {
        "legs": [
            {"gap_percent": "0", "weight_percent": "50", "tp_percent": "1"},
            {"gap_percent": "-60", "weight_percent": "50", "tp_percent": "1"},
        ]
    }
    plan = plan_pyramid(settings(grid=grid), PEPE_SPOT, "long", D("0.00000002"))
    assert not plan.valid
    assert "rounds to 0" in plan.legs[1].reason and plan.legs[1].quantity == 0


# --------------------------------------------------------------------------- TP from fills


def test_tp_from_actual_fills_long_and_short():
    """Long, filled at 63,925.00 instead of the 63,929.24 limit: 63,925 × 1.005 = 64,244.625
    → UP 64,244.63. An average fill of 63,927.123456 → 64,246.75907328 → 64,246.76.
    Short, filled at 64,580.00 for the 64,571.76 sell: 64,580 × 0.995 = 64,257.1 → 64,257.10.
    A 100 % short target would be 0: it is one tick (0.01)."""
    tick = BTC_SPOT.tick_size
    assert tp_price("long", D("63925.00"), D("0.5"), tick) == D("64244.63")
    assert tp_price("long", D("63927.123456"), D("0.5"), tick) == D("64246.76")
    assert tp_price("short", D("64580.00"), D("0.5"), tick) == D("64257.10")
    assert tp_price("short", D("64580"), D("100"), tick) == D("0.01")


def test_leg_price_is_exact_before_rounding():
    assert leg_price("long", P, D("-0.5")) == D("63929.2475")
    assert leg_price("short", P, D("-0.5")) == D("64571.7525")


def test_preview_shape_matches_the_api():
    plan = plan_pyramid(settings(), BTC_SPOT, "long", P)
    body = preview(plan)
    assert body["pyramid_capital"] == D("200") and body["valid"] is True
    assert set(body["legs"][0]) >= {
        "leg",
        "gap_percent",
        "weight_percent",
        "price",
        "quantity",
        "notional",
        "tp_percent",
        "tp_price",
        "valid",
        "reason",
        "order_type",
        "bumped",
    }
    assert body["legs"][1]["price"] == D("63929.24")


def test_floats_are_refused():
    with pytest.raises(TypeError):
        plan_pyramid(settings(), BTC_SPOT, "long", 64250.5)


# --------------------------------------------------------------------------- properties

_RULES = [BTC_SPOT, PEPE_SPOT, BTC_USDM]
_PRICES = {
    "BTC_SPOT": st.decimals(D("1000"), D("200000"), places=2),
    "PEPE": st.decimals(D("0.00000100"), D("0.00100000"), places=8),
    "BTC_USDM": st.decimals(D("1000"), D("200000"), places=1),
}


@st.composite
def _case(draw):
    index = draw(st.integers(0, 2))
    rules = _RULES[index]
    price = draw(list(_PRICES.values())[index])
    total = draw(st.decimals(D("100"), D("1000000"), places=2))
    groups = draw(st.integers(1, 50))
    count = draw(st.integers(1, 5))
    raw = draw(st.lists(st.integers(1, 20), min_size=count, max_size=count))
    legs = [
        {
            "gap_percent": "0" if i == 0 else str(-D(g) / 4),
            "weight_percent": "0",
            "tp_percent": str(D(draw(st.integers(1, 40))) / 10),
        }
        for i, g in enumerate(raw)
    ]
    weights = [D(100) // count] * count
    weights[0] += D(100) - sum(weights)
    for leg, weight in zip(legs, weights, strict=True):
        leg["weight_percent"] = str(weight)
    policy = draw(st.sampled_from(["reject", "bump"]))
    entry = draw(st.sampled_from(["market", "limit"]))
    side = draw(st.sampled_from(["long", "short"]))
    s = settings(
        capital={"total_capital_usd": str(total)},
        pool={"max_open_groups": groups},
        grid={"legs": legs, "entry_order_type": entry},
        precision={"min_notional_policy": policy},
    )
    return s, rules, side, price


@hyp_settings(max_examples=150, deadline=None)
@given(_case())
def test_every_valid_leg_passes_check_order_and_stays_within_capital(case):
    s, rules, side, price = case
    plan = plan_pyramid(s, rules, side, price)
    for leg in plan.legs:
        if not leg.valid:
            assert not plan.valid
            continue
        again = check_order(rules, leg.side, leg.price, leg.quantity, order_type=leg.order_type)
        assert again.valid, again.reason
        assert (again.price, again.quantity) == (leg.price, leg.quantity)
        assert leg.notional == leg.price * leg.quantity
        exact = leg_price(side, price, leg.gap_percent)
        assert leg.price <= exact if side == "long" else leg.price >= exact
        if not leg.bumped:
            assert leg.notional <= leg.capital
    if plan.valid and not any(leg.bumped for leg in plan.legs):
        assert plan.total_notional <= plan.capital


_IDS = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
_BINANCE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")


@hyp_settings(max_examples=300, deadline=None)
@given(
    st.uuids(),
    st.one_of(st.none(), st.integers(0, 99)),
    st.one_of(st.none(), st.integers(0, 99)),
    st.sampled_from(list(OrderPurpose)),
    st.integers(0, 9999),
)
def test_client_ids_fit_every_exchange_and_reverse(group, pyramid, leg, purpose, attempt):
    cid = client_order_id(group, pyramid, leg, purpose, attempt)
    assert len(cid) <= 36 and _IDS.match(cid) and _BINANCE.match(cid)
    ref = parse_client_order_id(cid)
    assert (ref.group_id, ref.pyramid_index, ref.leg_index, ref.purpose, ref.attempt) == (
        group,
        pyramid,
        leg,
        purpose,
        attempt,
    )
    assert client_order_id(str(group), pyramid, leg, purpose.value, attempt) == cid


@hyp_settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.uuids(),
            st.integers(0, 19),
            st.integers(0, 19),
            st.sampled_from(list(OrderPurpose)),
            st.integers(0, 3),
        ),
        min_size=2,
        max_size=200,
        unique=True,
    )
)
def test_client_ids_never_collide(orders):
    """Distinct (group, pyramid, leg, purpose, attempt) → distinct ids (the encoding keeps the
    whole 128-bit group id and is fixed-width, so it is injective)."""
    ids = [client_order_id(*order) for order in orders]
    assert len(set(ids)) == len(ids)


def test_client_ids_over_many_random_groups_are_unique():
    ids = {
        client_order_id(uuid.uuid4(), p, leg, "entry", 0)
        for _ in range(2000)
        for p in range(2)
        for leg in range(5)
    }
    assert len(ids) == 2000 * 2 * 5


def test_client_id_example_and_limits():
    group = uuid.UUID("93735165-1ebc-4e31-b107-0948ec698c02")
    assert (
        client_order_id(group, 1, 3, OrderPurpose.ENTRY, 0) == "Esnzvczi6xrhddmihbfeoy2mmai0103e0"
    )
    assert (
        client_order_id(group, None, None, OrderPurpose.CLOSE, 12)
        == "Esnzvczi6xrhddmihbfeoy2mmai____c12"
    )
    assert len(client_order_id(group, 19, 19, "tp", 9999)) == 36
    with pytest.raises(ValueError):
        client_order_id(group, 0, 0, "entry", 10000)
    assert parse_client_order_id("x-R4BD3S82abc") is None
