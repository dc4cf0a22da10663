"""Precision rules (SPEC §3.3) on hand-worked examples with the real rules of the recorded
exchange payloads (server/simulator/data/). Each docstring shows the arithmetic."""

from __future__ import annotations

import ast
import copy
import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from server.domain import precision as precision_module
from server.domain.precision import (
    MarketRules,
    OrderCheck,
    PrecisionDataError,
    check_order,
    plain,
    round_price,
    round_qty_down,
    round_qty_up,
    rules_from_binance_symbol,
    rules_from_bybit_instrument,
    rules_from_ccxt_market,
)
from tests.unit.test_precision_properties import RULES, RULES_DIR

D = Decimal
BTC_SPOT = RULES["binance-spot:BTCUSDT"]
BTC_USDM = RULES["binance-usdm:BTCUSDT"]
PEPE_SPOT = RULES["binance-spot:PEPEUSDT"]


def raw(name: str) -> dict:
    return json.loads((RULES_DIR / name).read_text(encoding="utf-8"))


def binance_entry(symbol: str, file: str = "binance_exchangeInfo.json") -> dict:
    return next(s for s in raw(file)["symbols"] if s["symbol"] == symbol)


def bybit_entry(category: str, symbol: str) -> dict:
    entries = raw("bybit_instruments_info.json")[category]["result"]["list"]
    return next(e for e in entries if e["symbol"] == symbol)


# --------------------------------------------------------------------------- rounding


def test_btcusdt_prices_round_to_the_safe_side():
    """BTCUSDT tick 0.01.
    buy  64250.567 → 6425056.7 ticks → floor 6425056 → 64250.56 (never pay more)
    sell 64250.561 → 6425056.1 ticks → ceil  6425057 → 64250.57 (never sell cheaper)
    64250.56 is 6425056 ticks exactly → unchanged both ways."""
    tick = BTC_SPOT.tick_size
    assert tick == D("0.01")
    assert str(round_price(D("64250.567"), tick, "buy")) == "64250.56"
    assert str(round_price(D("64250.561"), tick, "sell")) == "64250.57"
    assert str(round_price(D("64250.56"), tick, "buy")) == "64250.56"
    assert str(round_price(D("64250.56"), tick, "sell")) == "64250.56"
    # "down"/"up" are the same directions; the side is case-insensitive.
    assert round_price(D("64250.567"), tick, "down") == D("64250.56")
    assert round_price(D("64250.561"), tick, "UP") == D("64250.57")
    # The result carries the tick's two places even on a whole number: 64000 → "64000.00".
    assert str(round_price(D("64000"), tick, "buy")) == "64000.00"


def test_pepe_whole_unit_step_and_eight_place_tick():
    """PEPEUSDT: tickSize "0.00000001", stepSize "1.00".
    qty 123456.9 → floor(123456.9 / 1) = 123456 → "123456" (an integer, not "123456.00")
    qty up 123456.1 → ceil → 123457
    price 0.0000123456 = 1234.56 ticks → buy 1234 ticks = 0.00001234, sell 1235 = 0.00001235."""
    assert PEPE_SPOT.tick_size == D("0.00000001")
    assert PEPE_SPOT.step_size == D(1)
    assert str(round_qty_down(D("123456.9"), PEPE_SPOT.step_size)) == "123456"
    assert str(round_qty_down(D("123456.9"), D("1.00"))) == "123456"
    assert str(round_qty_up(D("123456.1"), D("1.00"))) == "123457"
    assert str(round_price(D("0.0000123456"), PEPE_SPOT.tick_size, "buy")) == "0.00001234"
    assert str(round_price(D("0.0000123456"), PEPE_SPOT.tick_size, "sell")) == "0.00001235"
    # 0.00001 on a 1e-8 tick keeps the tick's 8 places.
    assert str(round_price(D("0.00001"), PEPE_SPOT.tick_size, "buy")) == "0.00001000"


def test_quantity_rounding_down_and_up():
    """BTCUSDT step 0.00001.
    down 0.001259 → 125.9 steps → 125 → 0.00125;  up → 126 → 0.00126
    0.00125 is on the step → unchanged both ways
    0.000009 is below one step → down gives 0, up gives 0.00001."""
    step = BTC_SPOT.step_size
    assert str(round_qty_down(D("0.001259"), step)) == "0.00125"
    assert str(round_qty_up(D("0.001259"), step)) == "0.00126"
    assert round_qty_down(D("0.00125"), step) == round_qty_up(D("0.00125"), step) == D("0.00125")
    assert round_qty_down(D("0.000009"), step) == 0
    assert str(round_qty_up(D("0.000009"), step)) == "0.00001"


def test_ticks_that_are_not_powers_of_ten():
    """tick 0.5: buy 100.7 → floor(201.4) = 201 ticks = 100.5; sell → 202 ticks = 101.0.
    tick 25: buy 1037 → floor(41.48) = 41 × 25 = 1025; sell → 42 × 25 = 1050 (no exponent)."""
    assert str(round_price(D("100.7"), D("0.5"), "buy")) == "100.5"
    assert str(round_price(D("100.7"), D("0.5"), "sell")) == "101.0"
    assert str(round_price(D("1037"), D("25"), "buy")) == "1025"
    assert str(round_price(D("1037"), D("2.5E+1"), "sell")) == "1050"


def test_floats_and_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="price must be a Decimal"):
        round_price(64250.567, D("0.01"), "buy")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="qty must be a Decimal"):
        round_qty_down(0.1, D("0.01"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        check_order(BTC_SPOT, "buy", D(64000), 0.001)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="side"):
        round_price(D(1), D("0.01"), "long")
    with pytest.raises(ValueError, match="step must be positive"):
        round_qty_down(D(1), D(0))
    with pytest.raises(ValueError, match="finite"):
        round_qty_down(D("NaN"), D(1))
    with pytest.raises(ValueError, match="policy"):
        check_order(BTC_SPOT, "buy", D(64000), D(1), policy="clip")
    # An int is an exact number and is accepted.
    assert round_qty_down(7, D(2)) == 6


def test_plain_never_uses_an_exponent():
    assert str(D("0.00000001")) == "1E-8"  # why plain() exists
    assert plain(D("1E-8")) == "0.00000001"
    assert plain(D("0.00001000")) == "0.00001000"
    assert plain(None) is None


# --------------------------------------------------------------------------- check_order


def test_min_notional_rejected_with_the_numbers():
    """Binance spot BTCUSDT: NOTIONAL minNotional "5.00000000".
    0.00007 BTC at 64000 → notional 64000 × 0.00007 = 4.48 < 5 → refused (policy reject)."""
    assert BTC_SPOT.min_notional == D(5)
    result = check_order(BTC_SPOT, "buy", D(64000), D("0.00007"))
    assert result == OrderCheck(
        valid=False,
        price=D("64000.00"),
        quantity=D("0.00007"),
        notional=D("4.48"),
        reason="BTCUSDT: notional 4.48 (price 64000 × quantity 0.00007) below min_notional 5",
        bumped=False,
    )


def test_bump_raises_to_the_exact_minimum():
    """5 / 64000 = 0.000078125 BTC → up to the step 0.00001 → 0.00008 → notional 5.12 ≥ 5;
    one step less, 0.00007, gives 4.48 < 5, so 0.00008 is the exact minimum."""
    result = check_order(BTC_SPOT, "buy", D(64000), D("0.00007"), policy="bump")
    assert result.valid and result.bumped
    assert result.quantity == D("0.00008")
    assert result.notional == D("5.12")
    assert result.reason == (
        "BTCUSDT: quantity raised from 0.00007 to 0.00008 (min_notional_policy=bump): "
        "notional 4.48 (price 64000 × quantity 0.00007) below min_notional 5"
    )
    # An order that is fine is not touched by bump.
    fine = check_order(BTC_SPOT, "buy", D(64000), D("0.001"), policy="bump")
    assert fine.valid and not fine.bumped and fine.reason is None and fine.notional == D(64)


def test_quantity_rounded_to_zero_names_the_rounding_and_min_qty():
    """0.000009 BTC → down to the step 0.00001 → 0 < min_qty 0.00001 (and notional 0 < 5).
    bump: min_qty needs 0.00001, min_notional needs 0.00008 (above) → 0.00008."""
    result = check_order(BTC_SPOT, "sell", D(64000), D("0.000009"))
    assert not result.valid
    assert result.reason == (
        "BTCUSDT: quantity 0 (rounded down from 0.000009 to step_size 0.00001) below min_qty "
        "0.00001; notional 0 (price 64000 × quantity 0) below min_notional 5"
    )
    bumped = check_order(BTC_SPOT, "sell", D(64000), D("0.000009"), policy="bump")
    assert bumped.valid and bumped.quantity == D("0.00008")


def test_min_qty_binds_before_min_notional_on_bybit():
    """Bybit spot BTCUSDT: basePrecision 0.000001, minOrderQty 0.000048, minOrderAmt 1.
    0.00004 BTC at 64000 → notional 2.56 ≥ 1 but quantity 0.00004 < 0.000048 → refused;
    bump → 0.000048 (notional 3.072)."""
    rules = RULES["bybit-spot:BTCUSDT"]
    result = check_order(rules, "buy", D(64000), D("0.00004"))
    assert result.reason == "BTCUSDT: quantity 0.00004 below min_qty 0.000048"
    bumped = check_order(rules, "buy", D(64000), D("0.00004"), policy="bump")
    assert (bumped.valid, bumped.quantity, bumped.notional) == (True, D("0.000048"), D("3.072"))


def test_max_qty_is_never_fixable():
    """Binance spot BTCUSDT maxQty 9000: 9000.00001 BTC is refused under either policy."""
    for policy in ("reject", "bump"):
        result = check_order(BTC_SPOT, "buy", D(64000), D("9000.00001"), policy=policy)
        assert not result.valid and not result.bumped
        assert result.reason == (
            "BTCUSDT: quantity 9000.00001 above max_qty 9000; "
            "a quantity above the maximum is never adjusted"
        )


def test_bump_that_would_break_max_qty_is_refused():
    """min_notional 100 at price 64000 needs 100 / 64000 = 0.0015625 → 0.002 BTC, but max_qty is
    0.001: the bump is impossible and the order is refused."""
    rules = MarketRules(
        "TESTUSDT", "TEST", "USDT", D("0.1"), D("0.001"), D("0.001"), D("0.001"), D(100)
    )
    result = check_order(rules, "buy", D(64000), D("0.001"), policy="bump")
    assert not result.valid and not result.bumped
    assert result.reason == (
        "TESTUSDT: notional 64 (price 64000 × quantity 0.001) below min_notional 100; "
        "raising it to 0.002 would exceed max_qty 0.001"
    )


def test_market_orders_use_the_market_lot_size_as_well():
    """Binance spot BTCUSDT MARKET_LOT_SIZE maxQty 129.84957276: 130 BTC passes as a limit
    order (≤ LOT_SIZE maxQty 9000) but not as a market order. A market order's price is the
    reference price, not rounded: 64000.005 × 0.001 = 64.000005."""
    limit = check_order(BTC_SPOT, "buy", D(64000), D(130))
    market = check_order(BTC_SPOT, "buy", D(64000), D(130), order_type="market")
    assert limit.valid
    assert not market.valid and "above max_qty 129.84957276" in market.reason
    reference = check_order(BTC_SPOT, "buy", D("64000.005"), D("0.001"), order_type="market")
    assert reference.valid and reference.notional == D("64.000005")


def test_price_band_and_non_positive_values():
    """Binance futures BTCUSDT PRICE_FILTER minPrice 261.10; a sell at 0.001 with tick 0.01
    rounds up to 0.01, a buy rounds down to 0 and is refused."""
    low = check_order(BTC_USDM, "buy", D(200), D("1"))
    assert low.reason == "BTCUSDT: price 200 below min_price 261.1"
    zero = check_order(BTC_SPOT, "buy", D("0.001"), D(1))
    assert not zero.valid and "a price must be positive" in zero.reason
    nothing = check_order(BTC_SPOT, "buy", D(64000), D(0), policy="bump")
    assert not nothing.valid and nothing.reason == "BTCUSDT: quantity 0 must be positive"


def test_default_grid_at_64000_with_400_usdt():
    """SPEC §3.1/§3.2 default grid, pyramid capital 400 USDT, legs 20 % each → 80 USDT a leg,
    long at P = 64000 on Binance spot BTCUSDT (tick 0.01, step 0.00001, min notional 5):

    leg gap    price = 64000 × (1 + gap/100)   qty = 80 / price          → step   notional
    0    0.0   64000.00                        0.00125                   0.00125  80
    1   −0.5   63680.00                        0.001256281…              0.00125  79.6
    2   −1.0   63360.00                        0.001262626…              0.00126  79.8336
    3   −2.0   62720.00                        0.001275510…              0.00127  79.6544
    4   −4.0   61440.00                        0.001302083…              0.00130  79.872
    """
    expected = [
        ("0.0", "64000.00", "0.00125", "80"),
        ("-0.5", "63680.00", "0.00125", "79.6"),
        ("-1.0", "63360.00", "0.00126", "79.8336"),
        ("-2.0", "62720.00", "0.00127", "79.6544"),
        ("-4.0", "61440.00", "0.00130", "79.872"),
    ]
    leg_capital = D(400) * D(20) / D(100)
    assert leg_capital == 80
    for gap, price_text, qty_text, notional_text in expected:
        price = round_price(D(64000) * (1 + D(gap) / 100), BTC_SPOT.tick_size, "buy")
        qty = round_qty_down(leg_capital / price, BTC_SPOT.step_size)
        result = check_order(BTC_SPOT, "buy", price, qty)
        assert (str(result.price), str(result.quantity)) == (price_text, qty_text)
        assert result.valid and result.notional == D(notional_text)


def test_default_grid_leg_on_binance_futures_needs_a_bump():
    """Binance USDⓈ-M BTCUSDT: tick 0.10, step 0.001, MIN_NOTIONAL 100. Leg 1 (80 USDT):
    price 63680.0, qty 80 / 63680 = 0.001256… → 0.001 → notional 63.68 < 100 → refused;
    bump: 100 / 63680 = 0.00157… → 0.002 → notional 127.36."""
    price = round_price(D(64000) * D("0.995"), BTC_USDM.tick_size, "buy")
    assert str(price) == "63680.0"
    qty = round_qty_down(D(80) / price, BTC_USDM.step_size)
    rejected = check_order(BTC_USDM, "buy", price, qty)
    assert rejected.reason == (
        "BTCUSDT: notional 63.68 (price 63680 × quantity 0.001) below min_notional 100"
    )
    bumped = check_order(BTC_USDM, "buy", price, qty, policy="bump")
    assert (bumped.valid, bumped.quantity, bumped.notional) == (True, D("0.002"), D("127.36"))


def test_off_tick_anchor_and_take_profit():
    """P = 64123.45, leg 1 (gap −0.5): 64123.45 × 0.995 = 63802.83275 → buy down 63802.83.
    TP of leg 1 (+0.5 %) from that fill: 63802.83 × 1.005 = 64121.84415 → sell up 64121.85."""
    entry = round_price(D("64123.45") * D("0.995"), BTC_SPOT.tick_size, "buy")
    assert str(entry) == "63802.83"
    take_profit = round_price(entry * D("1.005"), BTC_SPOT.tick_size, "sell")
    assert str(take_profit) == "64121.85"


# --------------------------------------------------------------------------- parsers


def test_binance_spot_parser_reads_every_filter():
    """Binance spot filters are strings with 8 places; 0 means "disabled"."""
    expected = MarketRules(
        symbol="BTCUSDT",
        base="BTC",
        quote="USDT",
        tick_size=D("0.01"),
        step_size=D("0.00001"),
        min_qty=D("0.00001"),
        max_qty=D(9000),
        min_notional=D(5),
        max_notional=D(9000000),
        min_price=D("0.01"),
        max_price=D(1000000),
        market_qty_step=None,  # MARKET_LOT_SIZE stepSize "0.00000000"
        market_min_qty=None,  # MARKET_LOT_SIZE minQty "0.00000000"
        market_max_qty=D("129.84957276"),
    )
    assert rules_from_binance_symbol(binance_entry("BTCUSDT")) == expected == BTC_SPOT
    shib = RULES["binance-spot:SHIBUSDT"]
    assert (shib.tick_size, shib.step_size, shib.min_notional) == (D("1E-8"), D(1), D(1))
    assert RULES["binance-spot:DOGEUSDT"].min_notional == D(1)


def test_binance_futures_parser_reads_min_notional_filter():
    """USDⓈ-M futures use MIN_NOTIONAL with `notional` (100 for BTCUSDT) and no max notional."""
    assert (BTC_USDM.tick_size, BTC_USDM.step_size) == (D("0.1"), D("0.001"))
    assert (BTC_USDM.min_qty, BTC_USDM.max_qty) == (D("0.001"), D(1000))
    assert (BTC_USDM.min_notional, BTC_USDM.max_notional) == (D(100), None)
    assert (BTC_USDM.min_price, BTC_USDM.max_price) == (D("261.1"), D(809484))
    assert (BTC_USDM.market_qty_step, BTC_USDM.market_max_qty) == (D("0.001"), D(1000))
    assert RULES["binance-usdm:ETHUSDT"].min_notional == D(20)
    assert RULES["binance-usdm:1000PEPEUSDT"].tick_size == D("0.0000001")


def test_binance_older_spot_min_notional_filter():
    """Older spot payloads carry MIN_NOTIONAL with `minNotional` instead of NOTIONAL."""
    entry = copy.deepcopy(binance_entry("BTCUSDT"))
    entry["filters"] = [f for f in entry["filters"] if f["filterType"] != "NOTIONAL"] + [
        {"filterType": "MIN_NOTIONAL", "minNotional": "10.00000000", "applyToMarket": True}
    ]
    rules = rules_from_binance_symbol(entry)
    assert (rules.min_notional, rules.max_notional) == (D(10), None)


def test_binance_disabled_values_fall_back():
    """tickSize / stepSize "0" fall back to the precision fields; minQty "0" to the step."""
    entry = copy.deepcopy(binance_entry("BTCUSDT"))
    for item in entry["filters"]:
        if item["filterType"] == "PRICE_FILTER":
            item["tickSize"] = "0.00000000"
        if item["filterType"] == "LOT_SIZE":
            item["stepSize"] = item["minQty"] = "0.00000000"
    rules = rules_from_binance_symbol(entry)
    assert (rules.tick_size, rules.step_size, rules.min_qty) == (D("1E-8"),) * 3
    entry["filters"] = [f for f in entry["filters"] if f["filterType"] != "LOT_SIZE"]
    with pytest.raises(PrecisionDataError, match="no LOT_SIZE"):
        rules_from_binance_symbol(entry)


def test_bybit_spot_parser_keeps_every_digit():
    """Bybit spot PEPEUSDT: basePrecision "1" is the step, minOrderQty 280000, maxOrderQty with
    10 decimals (finer than the step: kept as given, the cap is ≤ that value), minOrderAmt 1,
    tick 1e-9. SHIB: tick 1e-10, step 0.1."""
    pepe = RULES["bybit-spot:PEPEUSDT"]
    assert (pepe.tick_size, pepe.step_size, pepe.min_qty) == (D("1E-9"), D(1), D(280000))
    assert pepe.max_qty == D("288142918887.7683330932")
    assert (pepe.min_notional, pepe.max_notional) == (D(1), D(600000))
    assert pepe.market_max_qty is None and pepe.min_price is None
    shib = RULES["bybit-spot:SHIBUSDT"]
    assert (shib.tick_size, shib.step_size, shib.min_qty) == (D("1E-10"), D("0.1"), D("127388.5"))
    # The largest quantity that can be sent is the max rounded down to the step.
    near_max = check_order(pepe, "buy", D("0.00001"), D("288142918888"))
    assert not near_max.valid
    at_max = check_order(pepe, "buy", D("0.00001"), D("288142918887.9"))
    assert at_max.quantity == D(288142918887) and not at_max.valid  # max_notional 600000


def test_bybit_newer_spot_format():
    """2025 spot format (from the V5 docs): maxLimitOrderQty is the limit-order cap,
    maxMarketOrderQty the market-order cap."""
    entry = {
        "symbol": "BTCUSDT",
        "baseCoin": "BTC",
        "quoteCoin": "USDT",
        "lotSizeFilter": {
            "basePrecision": "0.000001",
            "quotePrecision": "0.0000001",
            "minOrderQty": "0.000011",
            "maxOrderQty": "83",
            "minOrderAmt": "5",
            "maxOrderAmt": "8000000",
            "maxLimitOrderQty": "83",
            "maxMarketOrderQty": "41.5",
            "postOnlyMaxLimitOrderSize": "60000",
        },
        "priceFilter": {"tickSize": "0.1"},
    }
    rules = rules_from_bybit_instrument(entry, "spot")
    assert (rules.max_qty, rules.market_max_qty, rules.min_notional) == (D(83), D("41.5"), D(5))
    assert rules.quantity_rules("market") == (D("0.000001"), D("0.000011"), D("41.5"))


def test_bybit_linear_parser():
    """Bybit linear BTCUSDT: qtyStep 0.001, minOrderQty 0.001, maxOrderQty 1190,
    maxMktOrderQty 119, minNotionalValue 5, tick 0.10 (min 0.10, max 1999999.80)."""
    rules = RULES["bybit-linear:BTCUSDT"]
    assert rules == MarketRules(
        symbol="BTCUSDT",
        base="BTC",
        quote="USDT",
        tick_size=D("0.1"),
        step_size=D("0.001"),
        min_qty=D("0.001"),
        max_qty=D(1190),
        min_notional=D(5),
        min_price=D("0.1"),
        max_price=D("1999999.8"),
        market_max_qty=D(119),
    )
    with pytest.raises(PrecisionDataError, match="unsupported category"):
        rules_from_bybit_instrument(bybit_entry("linear", "BTCUSDT"), "option")
    broken = copy.deepcopy(bybit_entry("linear", "BTCUSDT"))
    broken["lotSizeFilter"]["qtyStep"] = "abc"
    with pytest.raises(PrecisionDataError, match="not a number"):
        rules_from_bybit_instrument(broken, "linear")


def test_json_round_trip_keeps_every_digit():
    for rules in RULES.values():
        data = json.loads(json.dumps(rules.to_json()))
        assert all(v is None or isinstance(v, str) for v in data.values())
        texts = [v for k, v in data.items() if v and k not in ("symbol", "base", "quote")]
        assert not any("E" in text for text in texts)
        back = MarketRules.from_json(data)
        assert back == rules
        assert back.to_json() == rules.to_json()
    assert PEPE_SPOT.to_json()["tick_size"] == "0.00000001"
    with pytest.raises(TypeError):
        MarketRules.from_json({**BTC_SPOT.to_json(), "tick_size": 0.01})
    with pytest.raises(ValueError, match="tick_size is required"):
        MarketRules.from_json({**BTC_SPOT.to_json(), "tick_size": None})


def test_market_rules_validate_their_fields():
    with pytest.raises(TypeError, match="tick_size must be a Decimal"):
        MarketRules("X", "X", "USDT", 0.01, D(1), D(1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="step_size must be a positive number"):
        MarketRules("X", "X", "USDT", D("0.01"), D(0), D(1))


# --------------------------------------------------------------------------- ccxt


def _ccxt_markets() -> dict[str, dict]:
    """Markets as ccxt 4.5 builds them from the recorded payloads (no network)."""
    ccxt = pytest.importorskip("ccxt")
    spot, usdm = raw("binance_exchangeInfo.json"), raw("binance_fapi_exchangeInfo.json")
    binance = ccxt.binance({"options": {"fetchMarkets": {"types": ["spot", "linear"]}}})
    binance.publicGetExchangeInfo = lambda params=None: spot
    binance.fapiPublicGetExchangeInfo = lambda params=None: usdm
    bybit_raw = raw("bybit_instruments_info.json")
    bybit = ccxt.bybit({"options": {"fetchMarkets": {"types": ["spot", "linear"]}}})
    bybit.publicGetV5MarketInstrumentsInfo = lambda params=None: bybit_raw[params["category"]]
    out = {}
    for name, exchange in (("binance", binance), ("bybit", bybit)):
        for market in exchange.load_markets().values():
            kind = "spot" if market["spot"] else ("usdm" if name == "binance" else "linear")
            out[f"{name}-{kind}:{market['id']}"] = market
    return out


def test_ccxt_markets_map_through_the_raw_info():
    """Every ccxt market of the recorded payloads maps to the same rules as its raw entry."""
    markets = _ccxt_markets()
    assert set(markets) == set(RULES)
    for key, market in markets.items():
        assert rules_from_ccxt_market(market) == RULES[key], key


def test_ccxt_unified_fallback_and_its_lost_digits():
    """Without `info`, the unified floats are read through str(): 1e-08 → 0.00000001 exactly.
    They agree with the raw rules except where ccxt's float dropped digits (Bybit PEPE max qty
    288142918887.7683330932 → 288142918887.7683)."""
    markets = _ccxt_markets()
    pepe = {k: v for k, v in markets["binance-spot:PEPEUSDT"].items() if k != "info"}
    rules = rules_from_ccxt_market(pepe)
    assert (rules.symbol, rules.tick_size, rules.step_size) == ("PEPEUSDT", D("1E-8"), D(1))
    assert (rules.min_notional, rules.max_qty) == (D(1), D(92233720368))
    for key, market in markets.items():
        unified = rules_from_ccxt_market({k: v for k, v in market.items() if k != "info"})
        exact = RULES[key]
        assert (unified.tick_size, unified.step_size, unified.min_qty) == (
            exact.tick_size,
            exact.step_size,
            exact.min_qty,
        ), key
        assert unified.min_notional == exact.min_notional, key
    bybit_pepe = {k: v for k, v in markets["bybit-spot:PEPEUSDT"].items() if k != "info"}
    assert rules_from_ccxt_market(bybit_pepe).max_qty == D("288142918887.7683")


# --------------------------------------------------------------------------- purity


def test_precision_module_is_pure():
    """server/domain/precision.py imports only the standard library (no I/O, no ccxt)."""
    tree = ast.parse(Path(precision_module.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= {"__future__", "collections", "dataclasses", "decimal", "typing"}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
