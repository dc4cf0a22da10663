"""Property tests of the precision rules (SPEC §3.3) against the real rules of every symbol in
the recorded exchange payloads: Binance spot and USDⓈ-M futures exchangeInfo, Bybit V5 spot and
linear instruments-info. They are read from the simulator's copy of the real payloads
(`server/simulator/data/`, byte-identical copies of the shared data set's files of the same
names), so the project keeps a single copy.

For every symbol, with hypothesis-drawn prices and quantities:
- a rounded price is an exact multiple of the tick; buy rounding never raises the price and
  moves it by less than one tick, sell rounding never lowers it and moves it by less than one
  tick; rounding twice equals rounding once;
- a quantity rounded down is a step multiple, ≤ the input and within one step of it; rounded up
  it is a step multiple, ≥ the input and within one step;
- a valid `check_order` result meets every limit of the symbol;
- a `bump` result meets min_qty and min_notional and is the *smallest* step multiple doing so:
  one step less would break min_qty or min_notional (so when min_qty does not bind, the
  notional exceeds min_notional by less than one step's worth, price × step);
- results are `Decimal`s that carry no more places than the tick / step, and print without an
  exponent (`format(x, "f")` always; `str(x)` whenever x ≥ 1e-6, Decimal's own threshold).
"""

from __future__ import annotations

import json
import os
from decimal import Decimal, localcontext
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.domain.precision import (
    MarketRules,
    check_order,
    plain,
    round_price,
    round_qty_down,
    round_qty_up,
    rules_from_binance_symbol,
    rules_from_bybit_instrument,
)

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "server" / "simulator" / "data"

# Examples per symbol and property; PRECISION_EXAMPLES=2000 for a deep run.
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("PRECISION_EXAMPLES", "50")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _load(name: str) -> dict:
    return json.loads((RULES_DIR / name).read_text(encoding="utf-8"))


def load_rules() -> dict[str, MarketRules]:
    """Every symbol of every recorded payload, keyed "<source>:<symbol>"."""
    out: dict[str, MarketRules] = {}
    for entry in _load("binance_exchangeInfo.json")["symbols"]:
        out[f"binance-spot:{entry['symbol']}"] = rules_from_binance_symbol(entry)
    for entry in _load("binance_fapi_exchangeInfo.json")["symbols"]:
        out[f"binance-usdm:{entry['symbol']}"] = rules_from_binance_symbol(entry)
    bybit = _load("bybit_instruments_info.json")
    for category in ("spot", "linear"):
        for entry in bybit[category]["result"]["list"]:
            out[f"bybit-{category}:{entry['symbol']}"] = rules_from_bybit_instrument(
                entry, category
            )
    return out


RULES = load_rules()
IDS = sorted(RULES)
# PEPE/SHIB/BONK-style markets: sub-1e-7 ticks with whole-unit (or 0.1) steps.
MEME_IDS = [
    "binance-spot:PEPEUSDT",
    "binance-spot:SHIBUSDT",
    "binance-spot:BONKUSDT",
    "bybit-spot:PEPEUSDT",
    "bybit-spot:SHIBUSDT",
    "bybit-spot:BONKUSDT",
    "bybit-spot:FLOKIUSDT",
]


def places(step: Decimal) -> int:
    """Decimal places a multiple of `step` needs (0.00000010 → 7, 1.00 → 0)."""
    return max(0, -step.normalize().as_tuple().exponent)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    with localcontext() as ctx:
        ctx.prec = 100
        return value % step == 0


def exact_product(a: Decimal, b: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 100
        return a * b


def assert_clean(value: Decimal, step: Decimal) -> None:
    """A Decimal (never float) with no more places than `step` needs and no exponent."""
    assert type(value) is Decimal
    if value != 0:
        assert -value.as_tuple().exponent <= places(step), (value, step)
    assert "E" not in plain(value)
    if value >= Decimal("0.000001"):
        assert "E" not in str(value), value


def price_strategy(rules: MarketRules) -> st.SearchStrategy[Decimal]:
    """Prices between the tick (or min price) and the max price (or 10^6), drawn with four
    more decimal places than the tick so that most are off-tick."""
    low = max(rules.tick_size, rules.min_price or rules.tick_size)
    high = rules.max_price or Decimal(1_000_000)
    return st.decimals(
        min_value=low,
        max_value=high,
        places=places(rules.tick_size) + 4,
        allow_nan=False,
        allow_infinity=False,
    )


def qty_strategy(rules: MarketRules) -> st.SearchStrategy[Decimal]:
    """Quantities up to a bit over max_qty (or 10^12), four places finer than the step."""
    high = (rules.max_qty or Decimal(10**12)) * Decimal("1.01")
    return st.decimals(
        min_value=Decimal(0),
        max_value=high,
        places=places(rules.step_size) + 4,
        allow_nan=False,
        allow_infinity=False,
    )


@st.composite
def order_strategy(draw, rules: MarketRules):
    """(side, price, qty, order_type) with the quantity often close to the symbol's minimum
    (0–3× the minimum quantity or notional), so both valid and invalid orders appear."""
    side = draw(st.sampled_from(["buy", "sell"]))
    order_type = draw(st.sampled_from(["limit", "market"]))
    price = draw(price_strategy(rules))
    if draw(st.booleans()):
        qty = draw(qty_strategy(rules))
    else:
        minimum = rules.min_qty
        if rules.min_notional is not None:
            minimum = max(minimum, rules.min_notional / price)
        factor = draw(st.decimals(min_value=Decimal("0.001"), max_value=Decimal(3), places=3))
        qty = round_qty_down(minimum * factor, rules.step_size / 10_000)
    return side, price, qty, order_type


def assert_meets_every_limit(rules: MarketRules, order_type: str, result) -> None:
    step, min_qty, max_qty = rules.quantity_rules(order_type)
    assert result.valid
    assert type(result.price) is Decimal
    assert type(result.quantity) is Decimal
    assert type(result.notional) is Decimal
    if order_type == "limit":
        assert is_multiple(result.price, rules.tick_size)
        assert_clean(result.price, rules.tick_size)
        if rules.min_price is not None:
            assert result.price >= rules.min_price
        if rules.max_price is not None:
            assert result.price <= rules.max_price
    assert result.price > 0
    assert is_multiple(result.quantity, step)
    assert_clean(result.quantity, step)
    assert result.quantity >= min_qty
    if max_qty is not None:
        assert result.quantity <= max_qty
    assert result.notional == exact_product(result.price, result.quantity)
    if rules.min_notional is not None:
        assert result.notional >= rules.min_notional
    if rules.max_notional is not None:
        assert result.notional <= rules.max_notional


def test_every_recorded_symbol_is_covered():
    """Every entry of every payload was parsed (and the recorded sets are the expected ones)."""
    bybit = _load("bybit_instruments_info.json")
    expected = {
        "binance-spot": len(_load("binance_exchangeInfo.json")["symbols"]),
        "binance-usdm": len(_load("binance_fapi_exchangeInfo.json")["symbols"]),
        "bybit-spot": len(bybit["spot"]["result"]["list"]),
        "bybit-linear": len(bybit["linear"]["result"]["list"]),
    }
    sources: dict[str, int] = {}
    for key in RULES:
        source = key.split(":")[0]
        sources[source] = sources.get(source, 0) + 1
    assert sources == expected
    assert all(count >= 7 for count in sources.values())
    assert set(MEME_IDS) <= set(RULES)


@pytest.mark.parametrize("key", IDS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_price_rounding_properties(key, data):
    rules = RULES[key]
    tick = rules.tick_size
    price = data.draw(price_strategy(rules), label="price")
    down = round_price(price, tick, "buy")
    up = round_price(price, tick, "sell")

    for rounded in (down, up):
        assert is_multiple(rounded, tick)
        assert_clean(rounded, tick)
    assert down <= price < down + tick  # buy: never higher, less than one tick lower
    assert up - tick < price <= up  # sell: never lower, less than one tick higher
    assert (down == up) == is_multiple(price, tick)
    assert round_price(price, tick, "down") == down
    assert round_price(price, tick, "up") == up
    # Idempotent: rounding a rounded price in either direction changes nothing.
    for rounded in (down, up):
        for side in ("buy", "sell"):
            assert round_price(rounded, tick, side) == rounded


@pytest.mark.parametrize("key", IDS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_quantity_rounding_properties(key, data):
    rules = RULES[key]
    steps = {rules.step_size}
    if rules.market_qty_step is not None:
        steps.add(rules.market_qty_step)
    qty = data.draw(qty_strategy(rules), label="qty")
    for step in steps:
        down = round_qty_down(qty, step)
        up = round_qty_up(qty, step)
        for rounded in (down, up):
            assert is_multiple(rounded, step)
            assert_clean(rounded, step)
        assert down <= qty < down + step
        assert up - step < qty <= up
        assert (down == up) == is_multiple(qty, step)
        assert round_qty_down(down, step) == down
        assert round_qty_up(down, step) == down
        assert round_qty_up(up, step) == up
        assert round_qty_down(up, step) == up


@pytest.mark.parametrize("key", IDS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_reject_policy_valid_orders_meet_every_limit(key, data):
    rules = RULES[key]
    side, price, qty, order_type = data.draw(order_strategy(rules), label="order")
    result = check_order(rules, side, price, qty, policy="reject", order_type=order_type)
    step = rules.quantity_rules(order_type)[0]

    assert result.bumped is False
    if order_type == "limit":
        assert result.price == round_price(price, rules.tick_size, side)
    else:
        assert result.price == price
    if not result.valid:
        assert isinstance(result.reason, str) and result.reason.startswith(f"{rules.symbol}: ")
        return
    assert result.reason is None
    assert result.quantity == round_qty_down(qty, step)
    assert_meets_every_limit(rules, order_type, result)
    # A checked order checks again unchanged (idempotent).
    again = check_order(rules, side, result.price, result.quantity, order_type=order_type)
    assert again == result


@pytest.mark.parametrize("key", IDS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_bump_policy_reaches_the_exact_minimum(key, data):
    rules = RULES[key]
    side, price, qty, order_type = data.draw(order_strategy(rules), label="order")
    rejected = check_order(rules, side, price, qty, policy="reject", order_type=order_type)
    bumped = check_order(rules, side, price, qty, policy="bump", order_type=order_type)
    step, min_qty, _max_qty = rules.quantity_rules(order_type)

    assert bumped.price == rejected.price  # bumping never touches the price
    if rejected.valid:  # nothing to fix: same result
        assert bumped == rejected
        return
    if not bumped.valid:
        # Only a maximum, the price itself or a quantity of zero make a bump impossible.
        assert bumped.bumped is False
        if qty <= 0:
            assert "must be positive" in bumped.reason
        else:
            assert any(word in bumped.reason for word in ("max_qty", "max_notional", "price"))
        return

    assert bumped.bumped is True
    assert bumped.quantity > rejected.quantity
    assert "raised from" in bumped.reason
    assert_meets_every_limit(rules, order_type, bumped)
    # Minimal: one step less breaks min_qty or min_notional.
    one_less = bumped.quantity - step
    below_min_qty = one_less < min_qty
    below_min_notional = (
        rules.min_notional is not None
        and exact_product(bumped.price, one_less) < rules.min_notional
    )
    assert below_min_qty or below_min_notional
    if not below_min_qty:
        # min_notional was the binding rule: less than one step's worth above it.
        assert bumped.notional - rules.min_notional < exact_product(bumped.price, step)
    else:
        # min_qty was the binding rule: the first step multiple at or above it.
        assert bumped.quantity == round_qty_up(min_qty, step)


@pytest.mark.parametrize("key", MEME_IDS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_sub_satoshi_ticks_with_whole_unit_steps(key, data):
    """PEPE/SHIB/BONK-style markets at their real magnitudes (price 1e-6 to 1e-4, notional
    about 1 to 1000 USDT): prices keep all their tick places, quantities stay whole units (or
    tenths on Bybit), nothing turns into a float or an exponent."""
    rules = RULES[key]
    assert rules.tick_size <= Decimal("0.00000001")
    assert rules.step_size in (Decimal(1), Decimal("0.1"))
    price = data.draw(
        st.decimals(
            min_value=Decimal("0.000001"),
            max_value=Decimal("0.0001"),
            places=places(rules.tick_size) + 3,
        ),
        label="price",
    )
    usdt = data.draw(st.decimals(min_value=Decimal(1), max_value=Decimal(1000), places=2))
    side = data.draw(st.sampled_from(["buy", "sell"]))
    rounded = round_price(price, rules.tick_size, side)
    with localcontext() as ctx:
        ctx.prec = 50
        qty = usdt / rounded
    result = check_order(rules, side, price, qty, policy="bump")
    assert result.price == rounded
    assert_clean(result.price, rules.tick_size)
    assert "E" not in str(result.price)
    if result.valid:
        assert_meets_every_limit(rules, "limit", result)
        if rules.step_size == 1:
            assert "." not in str(result.quantity)
        assert "E" not in str(result.notional)
