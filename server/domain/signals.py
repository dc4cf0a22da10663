"""A TradingView alert read into a signal (SPEC §2.2): schema, normalisation, interpretation.

Pure: no clock, no I/O. Every rule fails on the field it is about with a message that says what
to do, so the webhook log and the `422` answer tell a trader how to fix the alert.

Normalisation:
- symbols `BTCUSDT`, `btcusdt`, `BTC/USDT`, `BTC-USDT`, `BINANCE:BTCUSDT` → `BTCUSDT`;
  `BTCUSDT.P` (TradingView's perpetual ticker) and ccxt's `BTC/USDT:USDT` → `BTCUSDT` on the
  futures market. Exchange market ids are the same for spot and linear perpetuals.
- exchanges `BINANCE`, `binance`, `BINANCE_DL` (delayed data) → `binance`; `BYBIT` → `bybit`.
- timeframes: minutes `1`…`1440` as text or number, `1H`/`4H`, `D`/`1D`/`2D`, `W`/`1W`,
  `M`/`1M`/`3M` (a month counts as 30 days) → minutes. Second intervals (`30S`) are refused.
- intents: `entry` (alias `signal`), `exit`, `cancel`; `tv.market_position == "flat"` makes an
  entry an exit.
- sides: `long`/`short`, with `buy`/`sell` as aliases for entries. For an exit the side is the
  group to close: `execution_intent.side` (long|short), else `tv.prev_market_position`, else the
  strategy's order action inverted (a sell closes a long). `buy`/`sell` in
  `execution_intent.side` of an exit is refused as ambiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields

from server.domain.enums import MarketType, PositionSide
from server.domain.signal_body import MAX_STRING_CHARS, NonFinite

MAX_SYMBOL_CHARS = 40
MAX_SIGNAL_ID_CHARS = 120
MAX_PRICE = Decimal("1e15")
MAX_TIMEFRAME_MINUTES = 525_600  # one year
EXCHANGES = {"BINANCE": "binance", "BYBIT": "bybit"}
INTENTS = {"entry": "entry", "signal": "entry", "exit": "exit", "cancel": "cancel"}
ENTRY_SIDES = {"long": "long", "short": "short", "buy": "long", "sell": "short"}
POSITIONS = ("long", "short", "flat")
MARKET_TYPES = {
    "spot": MarketType.SPOT.value,
    "futures": MarketType.FUTURES.value,
    "future": MarketType.FUTURES.value,
    "perpetual": MarketType.FUTURES.value,
    "perp": MarketType.FUTURES.value,
    "linear": MarketType.FUTURES.value,
    "swap": MarketType.FUTURES.value,
}
_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,32}$")
_TIMEFRAME_RE = re.compile(r"^(\d{0,6})([A-Z]?)$")
_UNIT_MINUTES = {"": 1, "H": 60, "D": 1440, "W": 10080, "M": 43200}
_MISSING = "is missing"
_PLACEHOLDER = "still holds a TradingView placeholder ({{...}}): {}"


class SignalFieldError(ValueError):
    """A payload field that cannot be used; `field` is its dotted path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --------------------------------------------------------------------------- normalisation


def normalise_symbol(text: str) -> tuple[str, bool, str | None]:
    """(market id, is_perpetual, exchange prefix or None) of a TradingView or ccxt symbol."""
    raw = text.strip().upper()
    prefix = None
    perpetual = False
    if "/" in raw:
        pair, _, settle = raw.partition(":")
        perpetual = bool(settle)
        raw = pair.replace("/", "")
    elif ":" in raw:
        prefix, _, raw = raw.rpartition(":")
    if raw.endswith(".P"):
        perpetual, raw = True, raw[:-2]
    raw = raw.replace("-", "").replace("_", "")
    if not _SYMBOL_RE.match(raw):
        raise ValueError(
            f"{text!r} is not a symbol the engine can read; write it as the exchange does, "
            "e.g. BTCUSDT, BTC/USDT, BINANCE:BTCUSDT or BTCUSDT.P for the perpetual"
        )
    return raw, perpetual, prefix or None


def normalise_exchange(text: str) -> str:
    """`binance` or `bybit` from TradingView's `{{exchange}}` (any case, `_DL` allowed)."""
    name = text.strip().upper().removesuffix("_DL")
    if name not in EXCHANGES:
        supported = ", ".join(EXCHANGES)
        raise ValueError(f"exchange {text!r} is not supported; use one of {supported}")
    return EXCHANGES[name]


def timeframe_minutes(value: Any) -> int:
    """Minutes of a TradingView `{{interval}}` (`60`, `"240"`, `"1D"`, `"W"`, `"3M"`)."""
    if isinstance(value, bool):
        raise ValueError("must be an interval such as 15, 60, 240, 1D, W or M, not true/false")
    if isinstance(value, int):
        minutes = value
    else:
        if isinstance(value, Decimal) and value == value.to_integral_value():
            value = str(int(value))
        if not isinstance(value, str):
            raise ValueError(f"must be an interval such as 15, 60, 1D, W or M, not {value!r}")
        text = value.strip().upper()
        if text.endswith("S") and text[:-1].isdigit():
            raise ValueError(
                f"second intervals ({value}) are not supported; use a chart of 1 minute or more"
            )
        match = _TIMEFRAME_RE.match(text)
        if not match or not (match.group(1) or match.group(2)):
            raise ValueError(f"{value!r} is not an interval such as 15, 60, 240, 1D, W or M")
        count = int(match.group(1) or 1)
        minutes = count * _UNIT_MINUTES[match.group(2)] if match.group(2) in _UNIT_MINUTES else -1
        if minutes < 0:
            raise ValueError(f"{value!r} is not an interval such as 15, 60, 240, 1D, W or M")
    if not 1 <= minutes <= MAX_TIMEFRAME_MINUTES:
        raise ValueError(f"must be between 1 minute and one year; got {value!r}")
    return minutes


def parse_signal_time(value: Any) -> datetime:
    """A naive UTC datetime from `{{timenow}}` (ISO-8601) or epoch seconds/milliseconds."""
    if isinstance(value, bool):
        raise ValueError("must be a time like 2026-11-21T10:15:00Z")
    if isinstance(value, str) and re.fullmatch(r"\s*\d{9,13}\s*", value):
        value = int(value)
    if isinstance(value, int | Decimal):
        seconds = Decimal(value)
        if seconds > Decimal("1e11"):  # milliseconds since the epoch
            seconds = seconds / 1000
        if not Decimal("0") < seconds < Decimal("1e11"):
            raise ValueError(f"epoch time {value} is out of range")
        return datetime.fromtimestamp(float(seconds), UTC).replace(tzinfo=None)
    if not isinstance(value, str):
        raise ValueError("must be a time like 2026-11-21T10:15:00Z")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an ISO-8601 time like 2026-11-21T10:15:00Z ({{{{timenow}}}})"
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def parse_price(value: Any) -> Decimal:
    """A positive price from a JSON number or its text (`"64250.5"`)."""
    if isinstance(value, NonFinite):
        raise ValueError(
            f"{value} is not a price (TradingView renders na as NaN); send {{{{close}}}}"
        )
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise ValueError('must be a number or a number as text, e.g. "64250.5"')
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError(f'must be a number, e.g. "64250.5", not {value!r}') from None
    if not number.is_finite():
        raise ValueError("must be a finite number (NaN and Infinity are not prices)")
    if not Decimal(0) < number < MAX_PRICE:
        raise ValueError(f"must be greater than 0 and below 1e15; got {value}")
    return number


# --------------------------------------------------------------------------- schema


class _Text(fields.String):
    """Text of bounded length; an empty string counts as absent, a leftover `{{placeholder}}`
    is refused (TradingView leaves strategy placeholders unfilled in indicator alerts)."""

    def __init__(self, max_chars: int = MAX_STRING_CHARS, *, required: bool = False, **kwargs):
        if required:
            kwargs["error_messages"] = {"required": _MISSING, "null": _MISSING}
        else:
            kwargs |= {"load_default": None, "allow_none": True}
        super().__init__(required=required, **kwargs)
        self.max_chars = max_chars

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, NonFinite):
            raise ValidationError(f"must be text, not {value}")
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if len(text) > self.max_chars:
            raise ValidationError(f"at most {self.max_chars} characters; got {len(text)}")
        if "{{" in text:
            raise ValidationError(_PLACEHOLDER.format(text))
        if not text and self.required:
            raise ValidationError(_MISSING)
        return text or None


class _Word(_Text):
    """One of a few words, any case."""

    def __init__(self, choices, **kwargs):
        super().__init__(max_chars=32, **kwargs)
        self.choices = tuple(choices)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is None:
            return None
        word = text.lower()
        if word not in self.choices:
            raise ValidationError(f"must be one of: {', '.join(self.choices)}; got {text!r}")
        return word


class _Parsed(fields.Field):
    """A value read by one of the parse functions above (number or text accepted)."""

    def __init__(self, parse, *, required: bool = False, **kwargs):
        if required:
            kwargs["error_messages"] = {"required": _MISSING, "null": _MISSING}
        else:
            kwargs |= {"load_default": None, "allow_none": True}
        super().__init__(required=required, **kwargs)
        self.parse = parse

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not isinstance(value, NonFinite):
            if not value.strip():
                if self.required:
                    raise ValidationError(_MISSING)
                return None
            if "{{" in value:
                raise ValidationError(_PLACEHOLDER.format(value.strip()))
        try:
            return self.parse(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class _Object(fields.Nested):
    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError("must be a JSON object")
        return super()._deserialize(value, attr, data, **kwargs)


class _Part(Schema):
    class Meta:
        unknown = EXCLUDE  # unknown fields are ignored (SPEC §2.1)


class TvSchema(_Part):
    """`tv`: what TradingView's placeholders render."""

    exchange = _Text(max_chars=32, metadata={"description": "{{exchange}}: BINANCE, BYBIT"})
    symbol = _Text(
        max_chars=MAX_SYMBOL_CHARS, required=True, metadata={"description": "{{ticker}}"}
    )
    timeframe = _Parsed(timeframe_minutes, required=True, metadata={"description": "{{interval}}"})
    action = _Word(("buy", "sell"), metadata={"description": "{{strategy.order.action}}"})
    market_position = _Word(POSITIONS, metadata={"description": "{{strategy.market_position}}"})
    prev_market_position = _Word(POSITIONS)
    entry_price = _Parsed(parse_price, metadata={"description": "{{close}}, number or text"})
    order_id = _Text(max_chars=64, metadata={"description": "{{strategy.order.id}}"})
    time = _Parsed(parse_signal_time, metadata={"description": "{{timenow}}"})


class IntentSchema(_Part):
    """`execution_intent`: what the engine should do."""

    type = _Word(tuple(INTENTS), metadata={"description": "entry (alias signal) | exit | cancel"})
    side = _Word(tuple(ENTRY_SIDES), metadata={"description": "long | short (buy/sell aliases)"})
    strategy = _Text(max_chars=64)
    market_type = _Word(tuple(MARKET_TYPES), metadata={"description": "spot | futures"})
    account = _Text(max_chars=64, metadata={"description": "account label or id"})


class WebhookPayloadSchema(_Part):
    """The webhook body of SPEC §2.2. Unknown fields are ignored."""

    secret = _Text(load_only=True, metadata={"description": "the user's webhook secret"})
    signal_id = _Text(max_chars=MAX_SIGNAL_ID_CHARS, metadata={"description": "idempotency key"})
    tv = _Object(TvSchema, required=True, error_messages={"required": _MISSING, "null": _MISSING})
    execution_intent = _Object(IntentSchema, load_default=dict, allow_none=True)


_PAYLOAD_SCHEMA = WebhookPayloadSchema()  # reusable: loading keeps no state on the schema

# --------------------------------------------------------------------------- interpretation


@dataclass(frozen=True)
class SignalRequest:
    """A validated, normalised signal, before an account is chosen."""

    intent: str  # entry | exit | cancel
    side: str  # long | short: the group's side
    symbol: str
    perpetual: bool
    exchange: str | None
    market_type: str | None  # spot | futures when the sender said so (or a .P ticker)
    account_hint: str | None
    timeframe: int
    entry_price: Decimal | None
    signal_time: datetime | None
    sender_signal_id: str | None
    order_id: str | None


def _intent(tv: dict, intent_doc: dict) -> str:
    intent = INTENTS[intent_doc["type"]] if intent_doc.get("type") else "entry"
    if intent == "entry" and tv.get("market_position") == "flat":
        return "exit"  # a strategy that went flat closed its position (SPEC §2.3)
    return intent


def _side(intent: str, tv: dict, intent_doc: dict) -> str:
    given = intent_doc.get("side")
    position, action = tv.get("market_position"), tv.get("action")
    if intent == "entry":
        side = ENTRY_SIDES[given] if given else None
        from_tv = position if position in ("long", "short") else None
        if side and from_tv and side != from_tv:
            raise SignalFieldError(
                "execution_intent.side",
                f"is {side} but tv.market_position is {from_tv}; they must agree",
            )
        if action and from_tv and ENTRY_SIDES[action] != from_tv:
            raise SignalFieldError(
                "tv.action",
                f"a {action} while the strategy stays {from_tv} reduces the position (a partial "
                "exit); the engine takes profit itself, so this is not an entry: leave partial "
                "exits out of the alert, or send execution_intent.type exit to close the group",
            )
        side = side or from_tv or (ENTRY_SIDES[action] if action else None)
    else:
        if given in ("buy", "sell"):
            raise SignalFieldError(
                "execution_intent.side",
                f"for an {intent} say which group: long or short ({given} is ambiguous here)",
            )
        previous = tv.get("prev_market_position")
        side = given or (previous if previous in ("long", "short") else None)
        if side is None and intent == "cancel" and position in ("long", "short"):
            side = position
        if side is None and action:
            side = "long" if action == "sell" else "short"  # a sell closes a long
    if side is None:
        raise SignalFieldError(
            "execution_intent.side",
            "cannot tell the side: give execution_intent.side (long or short), "
            "tv.market_position or tv.action",
        )
    return PositionSide(side).value


def _market_type(perpetual: bool, intent_doc: dict) -> str | None:
    hinted = MARKET_TYPES[intent_doc["market_type"]] if intent_doc.get("market_type") else None
    if perpetual and hinted == MarketType.SPOT.value:
        raise SignalFieldError(
            "execution_intent.market_type", "is spot but the ticker is a perpetual (.P)"
        )
    return MarketType.FUTURES.value if perpetual else hinted


def interpret(doc: dict) -> SignalRequest:
    """Validate and normalise a decoded body. Raises marshmallow's `ValidationError` with
    messages keyed by dotted field path."""
    data = _PAYLOAD_SCHEMA.load(doc)
    tv, intent_doc = data["tv"], data["execution_intent"] or {}
    try:
        symbol, perpetual, prefix = normalise_symbol(tv["symbol"])
    except ValueError as exc:
        raise ValidationError({"tv.symbol": [str(exc)]}) from None
    try:
        named = tv["exchange"] or prefix
        exchange = normalise_exchange(named) if named else None
        if exchange and prefix and tv["exchange"] and normalise_exchange(prefix) != exchange:
            raise ValueError(f"is {tv['exchange']} but the ticker says {prefix}")
    except ValueError as exc:
        raise ValidationError({"tv.exchange": [str(exc)]}) from None
    try:
        intent = _intent(tv, intent_doc)
        side = _side(intent, tv, intent_doc)
        market_type = _market_type(perpetual, intent_doc)
    except SignalFieldError as exc:
        raise ValidationError({exc.field: [exc.message]}) from None
    return SignalRequest(
        intent=intent,
        side=side,
        symbol=symbol,
        perpetual=perpetual,
        exchange=exchange,
        market_type=market_type,
        account_hint=intent_doc.get("account"),
        timeframe=tv["timeframe"],
        entry_price=tv["entry_price"],
        signal_time=tv["time"],
        sender_signal_id=data.get("signal_id"),
        order_id=tv["order_id"],
    )


def field_messages(messages) -> dict[str, list[str]]:
    """marshmallow's nested messages flattened to {"tv.symbol": ["why"]} (the API's shape)."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list):
            for inner in value:
                walk(prefix, inner)
        else:
            flat.setdefault(prefix or "_schema", []).append(str(value))

    walk("", messages)
    return flat


def symbol_hint(doc: Any) -> str | None:
    """The normalised `tv.symbol` of a body, when it has a readable one (for log filters)."""
    tv = doc.get("tv") if isinstance(doc, dict) else None
    text = tv.get("symbol") if isinstance(tv, dict) else None
    if not isinstance(text, str) or len(text) > MAX_SYMBOL_CHARS:
        return None
    try:
        return normalise_symbol(text)[0]
    except ValueError:
        return None
