"""Reading a TradingView alert: body decoding, bounds, fingerprint and normalisation (pure)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from marshmallow import ValidationError

from server.domain.signal_body import (
    MAX_DEPTH,
    NonFinite,
    check_bounds,
    decode_body,
    fingerprint,
    storable,
)
from server.domain.signals import (
    field_messages,
    interpret,
    normalise_exchange,
    normalise_symbol,
    parse_price,
    parse_signal_time,
    symbol_hint,
    timeframe_minutes,
)

# --- body -------------------------------------------------------------------------------------


def test_numbers_are_decimals_never_floats():
    """Non-integral numbers decode as exact Decimals; integers stay ints."""
    decoded = decode_body(b'{"a": 64250.5, "b": 0.1, "c": 60}')
    assert decoded.problem is None
    assert decoded.doc == {"a": Decimal("64250.5"), "b": Decimal("0.1"), "c": 60}
    assert isinstance(decoded.doc["b"], Decimal)


def test_nan_and_infinity_become_markers():
    """TradingView's NaN (an na value) is kept as a NonFinite marker, not a float."""
    decoded = decode_body(b'{"p": NaN, "q": -Infinity}')
    assert decoded.problem is None
    assert isinstance(decoded.doc["p"], NonFinite) and decoded.doc["p"] == "NaN"
    assert decoded.doc["q"] == "-Infinity"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "the body is empty; send the alert's JSON message"),
        (b"   \n", "the body is empty; send the alert's JSON message"),
        (b"[1, 2]", "the body must be a JSON object, not an array"),
        (b'"text"', "the body must be a JSON object, not a single value"),
        (b"null", "the body must be a JSON object, not a single value"),
    ],
)
def test_unusable_bodies_say_why(raw, problem):
    """Empty bodies and non-objects are refused with a plain reason."""
    assert decode_body(raw).problem == problem


def test_invalid_json_names_the_position():
    """Unquoted placeholders (a common alert mistake) are reported with the column."""
    decoded = decode_body(b'{"symbol": BTCUSDT}')
    assert decoded.doc is None
    assert decoded.problem.startswith(
        "the body is not valid JSON (Expecting value: line 1 column 12"
    )


def test_invalid_utf8_still_yields_the_secret():
    """A stray bad byte is reported, but the secret can still be read to authenticate."""
    decoded = decode_body(b'{"secret": "s3cret", "note": "caf\xe9"}')
    # {"secret": "s3cret", "note": "caf is 33 bytes (offsets 0..32), so \xe9 sits at 33
    assert decoded.utf8_error == "the body is not valid UTF-8 (bad byte at offset 33)"
    assert decoded.secret == "s3cret"
    assert decoded.problem == decoded.utf8_error


def test_very_deep_nesting_is_a_problem_not_a_crash():
    """Nesting beyond the parser's recursion limit is reported, never raised."""
    decoded = decode_body(b"[" * 10000 + b"]" * 10000)
    assert decoded.doc is None and "nested deeper" in decoded.problem


def test_huge_exponent_is_reported():
    """A number whose exponent Decimal cannot hold makes the body invalid JSON."""
    assert "out of range" in decode_body(b'{"a": 1e99999999999999999999}').problem


def test_bounds_depth_and_lengths():
    """Depth above 8, strings above 256 and keys above 64 characters are named by path."""
    deep: dict = {"leaf": 1}
    for _ in range(MAX_DEPTH):
        deep = {"d": deep}  # the root plus 8 wrappers: the innermost object is at depth 9
    problems = check_bounds(
        {"tv": {"symbol": "X" * 257}, "k" * 65: 1, "deep": deep["d"], "ok": "y" * 256}
    )
    assert problems["tv.symbol"] == ["at most 256 characters; got 257"]
    assert problems["kkkkkkkkkkkkkkkkkkkk…"] == ["field names are at most 64 characters"]
    assert problems["deep.d.d.d.d.d.d.d"] == ["nested deeper than 8 levels"]
    assert "ok" not in problems


def test_bounds_accept_a_normal_alert():
    """A TradingView alert is well inside the bounds."""
    assert check_bounds({"secret": "s", "tv": {"symbol": "BTCUSDT"}, "list": [1, [2]]}) == {}


def test_fingerprint_ignores_secret_whitespace_and_key_order():
    """Same alert, different formatting or rotated secret: the same fingerprint."""
    a = decode_body(b'{"secret": "one", "tv": {"symbol": "BTCUSDT", "timeframe": "60"}}').doc
    b = decode_body(b'{"tv":{"timeframe":"60","symbol":"BTCUSDT"},"secret":"two"}').doc
    c = decode_body(b'{"tv": {"symbol": "ETHUSDT", "timeframe": "60"}}').doc
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(c)
    assert len(fingerprint(a)) == 64


def test_storable_replaces_what_postgres_refuses():
    """NUL characters and unpaired surrogates become U+FFFD; everything else is kept."""
    doc = decode_body(b'{"a": "x\\u0000y", "b": "\\ud800", "\\u0000": [1, "ok"]}').doc
    assert storable(doc) == {"a": "x\ufffdy", "b": "\ufffd", "\ufffd": [1, "ok"]}


# --- normalisation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BTCUSDT", ("BTCUSDT", False, None)),
        ("btcusdt", ("BTCUSDT", False, None)),
        ("BTC/USDT", ("BTCUSDT", False, None)),
        ("BTC-USDT", ("BTCUSDT", False, None)),
        ("BINANCE:BTCUSDT", ("BTCUSDT", False, "BINANCE")),
        ("BTCUSDT.P", ("BTCUSDT", True, None)),
        ("BYBIT:ETHUSDT.P", ("ETHUSDT", True, "BYBIT")),
        ("BTC/USDT:USDT", ("BTCUSDT", True, None)),
        (" 1000PEPEUSDT ", ("1000PEPEUSDT", False, None)),
    ],
)
def test_symbols_normalise_to_market_ids(text, expected):
    """Every spelling of SPEC §2.2 resolves to the exchange's market id."""
    assert normalise_symbol(text) == expected


@pytest.mark.parametrize("text", ["", "B", "BTC USDT", "BTC$USDT", "{{ticker}}", "X" * 33])
def test_unreadable_symbols_are_refused(text):
    """Symbols that cannot be a market id are refused with guidance."""
    with pytest.raises(ValueError, match="not a symbol the engine can read"):
        normalise_symbol(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("BINANCE", "binance"), ("binance", "binance"), ("BINANCE_DL", "binance"), ("BYBIT", "bybit")],
)
def test_exchanges_normalise(text, expected):
    """TradingView exchange names (any case, delayed-data _DL) map to the engine's names."""
    assert normalise_exchange(text) == expected


def test_unsupported_exchange_is_refused():
    """An exchange the engine does not trade on is refused by name."""
    with pytest.raises(ValueError, match="exchange 'COINBASE' is not supported"):
        normalise_exchange("COINBASE")


@pytest.mark.parametrize(
    ("value", "minutes"),
    [
        ("1", 1),
        ("15", 15),
        (60, 60),
        ("240", 240),
        (Decimal("60"), 60),
        ("4H", 240),  # 4 × 60
        ("D", 1440),
        ("1D", 1440),
        ("2D", 2880),  # 2 × 1440
        ("W", 10080),  # 7 × 1440
        ("1W", 10080),
        ("M", 43200),  # a month counts as 30 days: 30 × 1440
        ("3M", 129600),  # 3 × 43200
        ("12M", 518400),
    ],
)
def test_timeframes_to_minutes(value, minutes):
    """TradingView's {{interval}} values become minutes."""
    assert timeframe_minutes(value) == minutes


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("30S", "second intervals"),
        ("0", "between 1 minute and one year"),
        ("13M", "between 1 minute and one year"),  # 561600 > 525600
        ("1X", "is not an interval"),
        (True, "not true/false"),
        (Decimal("1.5"), "not Decimal"),
    ],
)
def test_bad_timeframes_are_refused(value, message):
    """Seconds, zero, beyond a year and unknown units are refused."""
    with pytest.raises(ValueError, match=message):
        timeframe_minutes(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-21T10:15:00Z", datetime(2026, 11, 21, 10, 15)),
        ("2026-11-21T12:15:00+02:00", datetime(2026, 11, 21, 10, 15)),
        ("2026-11-21T10:15:00", datetime(2026, 11, 21, 10, 15)),
        (1795256100, datetime(2026, 11, 21, 10, 15)),  # epoch seconds
        ("1795256100000", datetime(2026, 11, 21, 10, 15)),  # epoch ms as text
    ],
)
def test_signal_times(value, expected):
    """{{timenow}} (ISO-8601) and epoch seconds or milliseconds become naive UTC."""
    assert parse_signal_time(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("64250.5", Decimal("64250.5")), (Decimal("0.00001"), Decimal("0.00001")), (3, Decimal(3))],
)
def test_prices_from_numbers_and_text(value, expected):
    """Prices arrive as numbers or text and become exact Decimals."""
    assert parse_price(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (NonFinite("NaN"), "TradingView renders na as NaN"),
        ("NaN", "finite"),
        ("Infinity", "finite"),
        ("0", "greater than 0"),
        ("-1", "greater than 0"),
        ("1e15", "below 1e15"),
        ("abc", "must be a number"),
        (True, "must be a number"),
    ],
)
def test_bad_prices_are_refused(value, message):
    """NaN, infinities, zero, negatives, absurd sizes and non-numbers are refused."""
    with pytest.raises(ValueError, match=message):
        parse_price(value)


# --- interpretation ---------------------------------------------------------------------------


def _doc(tv=None, intent=None, **top):
    base = {"exchange": "BINANCE", "symbol": "BTCUSDT", "timeframe": "60"}
    doc = {"tv": base | (tv or {})} | top
    if intent is not None:
        doc["execution_intent"] = intent
    return doc


def test_interpret_a_rendered_strategy_alert():
    """The documented entry template, rendered as text, reads as a long entry."""
    req = interpret(
        _doc(
            tv={
                "symbol": "BINANCE:BTCUSDT.P",
                "timeframe": "1D",
                "action": "buy",
                "market_position": "long",
                "entry_price": "64250.5",
                "time": "2026-11-21T10:15:00Z",
                "order_id": "Long 1",
                "unknown_field": {"ignored": True},
            },
            intent={"type": "signal", "side": "buy", "strategy": "grid"},
            signal_id="abc-1",
        )
    )
    assert (req.intent, req.side, req.symbol, req.perpetual) == ("entry", "long", "BTCUSDT", True)
    assert (req.exchange, req.market_type, req.timeframe) == ("binance", "futures", 1440)
    assert req.entry_price == Decimal("64250.5")
    assert req.signal_time == datetime(2026, 11, 21, 10, 15)
    assert (req.sender_signal_id, req.order_id) == ("abc-1", "Long 1")


def test_flat_market_position_is_an_exit_of_the_previous_side():
    """market_position flat makes an entry an exit; the side is the position that closed."""
    req = interpret(
        _doc(tv={"action": "sell", "market_position": "flat", "prev_market_position": "long"})
    )
    assert (req.intent, req.side) == ("exit", "long")


def test_exit_side_from_the_order_action():
    """Without prev_market_position, a sell exit closes a long and a buy exit a short."""
    assert interpret(_doc(tv={"action": "sell"}, intent={"type": "exit"})).side == "long"
    assert interpret(_doc(tv={"action": "buy"}, intent={"type": "exit"})).side == "short"


def test_exit_with_buy_sell_side_is_ambiguous():
    """buy/sell as an exit's side could mean either group, so it is refused."""
    with pytest.raises(ValidationError) as exc:
        interpret(_doc(intent={"type": "exit", "side": "sell"}))
    assert "ambiguous" in field_messages(exc.value.messages)["execution_intent.side"][0]


def test_entry_side_must_agree_with_market_position():
    """An intent side contradicting the strategy's position is refused."""
    with pytest.raises(ValidationError) as exc:
        interpret(_doc(tv={"market_position": "short"}, intent={"side": "long"}))
    assert field_messages(exc.value.messages) == {
        "execution_intent.side": ["is long but tv.market_position is short; they must agree"]
    }


def test_missing_fields_are_reported_one_by_one():
    """No symbol and no timeframe: both named; no side at all is named too."""
    with pytest.raises(ValidationError) as exc:
        interpret({"tv": {"exchange": "BINANCE"}})
    assert field_messages(exc.value.messages) == {
        "tv.symbol": ["is missing"],
        "tv.timeframe": ["is missing"],
    }
    with pytest.raises(ValidationError) as exc:
        interpret(_doc())
    assert "cannot tell the side" in field_messages(exc.value.messages)["execution_intent.side"][0]


def test_wrong_types_are_field_errors():
    """tv as a list, a numeric symbol and a NaN price are each refused on their field."""
    with pytest.raises(ValidationError) as exc:
        interpret({"tv": ["BTCUSDT"]})
    assert field_messages(exc.value.messages) == {"tv": ["must be a JSON object"]}
    with pytest.raises(ValidationError) as exc:
        interpret(_doc(tv={"symbol": 123, "entry_price": NonFinite("NaN"), "action": "buy"}))
    fields = field_messages(exc.value.messages)
    assert fields["tv.symbol"] == ["Not a valid string."]
    assert "TradingView renders na as NaN" in fields["tv.entry_price"][0]


def test_partial_exit_is_not_an_entry():
    """A sell while the strategy stays long (strategy.exit with a quantity) is refused rather
    than read as another long entry."""
    with pytest.raises(ValidationError) as exc:
        interpret(_doc(tv={"action": "sell", "market_position": "long"}))
    assert "partial exit" in field_messages(exc.value.messages)["tv.action"][0]


def test_reversal_is_an_entry_of_the_new_side():
    """long → short in one order reads as a short entry (the long is not closed by it)."""
    req = interpret(
        _doc(tv={"action": "sell", "market_position": "short", "prev_market_position": "long"})
    )
    assert (req.intent, req.side) == ("entry", "short")


def test_unfilled_placeholders_are_refused():
    """{{strategy.order.action}} left unfilled (an indicator alert) is named, not guessed."""
    with pytest.raises(ValidationError) as exc:
        interpret(_doc(tv={"action": "{{strategy.order.action}}"}))
    assert "placeholder" in field_messages(exc.value.messages)["tv.action"][0]


def test_perpetual_ticker_contradicting_spot_hint():
    """A .P ticker with market_type spot is a contradiction."""
    with pytest.raises(ValidationError) as exc:
        interpret(_doc(tv={"symbol": "BTCUSDT.P", "action": "buy"}, intent={"market_type": "spot"}))
    assert "execution_intent.market_type" in field_messages(exc.value.messages)


def test_exchange_prefix_must_match_exchange():
    """BYBIT:BTCUSDT sent with exchange BINANCE is refused; the prefix alone is enough."""
    with pytest.raises(ValidationError) as exc:
        interpret(_doc(tv={"symbol": "BYBIT:BTCUSDT", "action": "buy"}))
    assert "the ticker says BYBIT" in field_messages(exc.value.messages)["tv.exchange"][0]
    req = interpret({"tv": {"symbol": "BYBIT:BTCUSDT", "timeframe": 15, "action": "sell"}})
    assert (req.exchange, req.side) == ("bybit", "short")


def test_symbol_hint_for_the_log():
    """The log's symbol filter reads tv.symbol when it can and gives up quietly otherwise."""
    assert symbol_hint({"tv": {"symbol": "BINANCE:ethusdt.P"}}) == "ETHUSDT"
    assert symbol_hint({"tv": {"symbol": 5}}) is None
    assert symbol_hint([1]) is None
