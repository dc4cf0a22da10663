"""Exchange precision rules (SPEC §3.3): market rules, exact rounding, order validation.

Pure: stdlib `decimal` only, no I/O, no clock, no ccxt. Everything is exact `Decimal` arithmetic
done on scaled integers, so nothing depends on the decimal context's precision and nothing is
ever a float.

- `MarketRules` is what an exchange says about one symbol (tick size, step size, quantity and
  notional limits), parsed from the raw exchange payloads (`rules_from_binance_symbol`,
  `rules_from_bybit_instrument`) or from a ccxt unified market (`rules_from_ccxt_market`, which
  prefers the raw `info` because ccxt's floats lose digits).
- `round_price` rounds toward the safe side (buy / "down" → down to the tick, sell / "up" → up to
  the tick); `round_qty_down` / `round_qty_up` round to the step. Results are exact multiples of
  the tick or step and carry exactly the decimal places the tick or step needs (tick
  `0.00000001` → 8 places, step `1.00` → an integer).
- `check_order` rounds a price and a quantity and checks them against every limit, with the
  `min_notional_policy` of SPEC §3.3: `reject` refuses with a reason that names the rule and the
  numbers, `bump` raises the quantity to the smallest step multiple that meets `min_qty` and
  `min_notional`. A quantity or notional above a maximum is never fixable.

Every function takes `Decimal` (or `int`); a `float` raises `TypeError`. `str()` of a `Decimal`
switches to exponent notation below 1e-6 (`1E-8`); use `plain()` for the wire and for display.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "MarketRules",
    "OrderCheck",
    "PrecisionDataError",
    "check_order",
    "plain",
    "round_price",
    "round_qty_down",
    "round_qty_up",
    "rules_from_binance_symbol",
    "rules_from_bybit_instrument",
    "rules_from_ccxt_market",
]

POLICIES = ("reject", "bump")
ORDER_TYPES = ("limit", "market")
_DOWN_SIDES = ("buy", "down")
_UP_SIDES = ("sell", "up")


class PrecisionDataError(ValueError):
    """An exchange payload lacks, or has unusable, precision data for a symbol."""


# --------------------------------------------------------------------------- exact arithmetic


def _as_decimal(value: Any, name: str) -> Decimal:
    """`Decimal` or `int` in, finite `Decimal` out; a float is refused, never converted."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal (or int), not {type(value).__name__}")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{name} must be a finite number, not {result}")
    return result


def _to_int(value: Decimal, exponent: int) -> int:
    """`value` as an integer count of 10**exponent (exponent ≤ value's own exponent)."""
    sign, digits, exp = value.as_tuple()
    assert isinstance(exp, int)
    number = int("".join(map(str, digits)) or "0") * 10 ** (exp - exponent)
    return -number if sign else number


def _from_int(number: int, exponent: int) -> Decimal:
    """number × 10**exponent, built exactly (no context rounding)."""
    if number == 0:
        return Decimal(0)
    return Decimal((1 if number < 0 else 0, tuple(int(c) for c in str(abs(number))), exponent))


def _rescale(number: int, exponent: int, places: int) -> Decimal:
    """number × 10**exponent written with exponent `places`; the caller guarantees that the
    value is a multiple of 10**places, so this is exact."""
    if places >= exponent:
        return _from_int(number // 10 ** (places - exponent), places)
    return _from_int(number * 10 ** (exponent - places), places)


def _exponent(value: Decimal) -> int:
    exp = value.as_tuple().exponent
    assert isinstance(exp, int)  # finite values only reach here
    return exp


def _places_exponent(step: Decimal) -> int:
    """Exponent of the last significant digit of `step`, never above 0 (`1.00` → 0, `10` → 0,
    `0.00000010` → -7): how many decimal places a multiple of `step` needs."""
    _sign, digits, exp = step.as_tuple()
    assert isinstance(exp, int)
    trimmed = list(digits)
    while len(trimmed) > 1 and trimmed[-1] == 0:
        trimmed.pop()
        exp += 1
    return min(exp, 0)


def _canonical(value: Decimal) -> Decimal:
    """The same number without trailing zeros and without a positive exponent:
    `5.00000000` → `5`, `0.00001000` → `0.00001`, `1E+1` → `10`."""
    if value == 0:
        return Decimal(0)
    places = _places_exponent(value)
    lowest = min(places, _exponent(value))
    # Only trailing zeros lie between `lowest` and `places`: the division is exact.
    return _rescale(_to_int(value, lowest), lowest, places)


def _multiply(a: Decimal, b: Decimal) -> Decimal:
    """Exact product, canonical (no trailing zeros)."""
    exact = _from_int(
        _to_int(a, _exponent(a)) * _to_int(b, _exponent(b)), _exponent(a) + _exponent(b)
    )
    return _canonical(exact)


def _to_step(value: Decimal, step: Decimal, *, up: bool) -> Decimal:
    """Exact multiple of `step` at or below (`up=False`) / at or above (`up=True`) `value`,
    carrying the decimal places of `step`."""
    if step <= 0:
        raise ValueError(f"step must be positive, not {step}")
    common = min(_exponent(value), _exponent(step))
    number, unit = _to_int(value, common), _to_int(step, common)
    count = -(-number // unit) if up else number // unit
    places = _places_exponent(step)
    # count × unit is a multiple of step, hence of 10**places: rescaling is exact.
    return _rescale(count * unit, common, places)


def plain(value: Decimal | None) -> str | None:
    """Positional text with every digit kept and never an exponent (`1E-8` → `0.00000001`)."""
    if value is None:
        return None
    return format(value, "f")


def _show(value: Decimal) -> str:
    """Numbers in human reasons: positional, trailing zeros dropped (`5.00000000` → `5`)."""
    return format(_canonical(value), "f")


# --------------------------------------------------------------------------- rounding


def round_price(price: Decimal, tick: Decimal, side: str) -> Decimal:
    """Price rounded to the tick toward the safe side (SPEC §3.3): `buy` (or `down`) rounds
    down, `sell` (or `up`) rounds up. An on-tick price is returned unchanged in value."""
    price = _as_decimal(price, "price")
    tick = _as_decimal(tick, "tick")
    direction = str(side).lower()
    if direction in _DOWN_SIDES:
        return _to_step(price, tick, up=False)
    if direction in _UP_SIDES:
        return _to_step(price, tick, up=True)
    raise ValueError(f"side must be one of buy, sell, down, up; not {side!r}")


def round_qty_down(qty: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of `step` that is ≤ `qty` (how order quantities are sized)."""
    return _to_step(_as_decimal(qty, "qty"), _as_decimal(step, "step"), up=False)


def round_qty_up(qty: Decimal, step: Decimal) -> Decimal:
    """Smallest multiple of `step` that is ≥ `qty`. The caller caps it where needed (the risk
    engine never closes more than the position holds)."""
    return _to_step(_as_decimal(qty, "qty"), _as_decimal(step, "step"), up=True)


# --------------------------------------------------------------------------- market rules

_DECIMAL_FIELDS = (
    "tick_size",
    "step_size",
    "min_qty",
    "max_qty",
    "min_notional",
    "max_notional",
    "min_price",
    "max_price",
    "market_qty_step",
    "market_min_qty",
    "market_max_qty",
)
_REQUIRED_DECIMALS = ("tick_size", "step_size", "min_qty")


@dataclass(frozen=True)
class MarketRules:
    """Trading rules of one symbol on one exchange and market type.

    `min_qty` is always set (a parser that finds none uses `step_size`, the smallest quantity
    that can be sent at all). The optional limits are `None` when the exchange gives none (or
    gives 0, which Binance uses for "disabled"). `market_*` are the extra quantity rules for
    market orders (Binance MARKET_LOT_SIZE; Bybit `maxMktOrderQty` / `maxMarketOrderQty`).
    """

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal | None = None
    min_notional: Decimal | None = None
    max_notional: Decimal | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    market_qty_step: Decimal | None = None
    market_min_qty: Decimal | None = None
    market_max_qty: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("symbol", "base", "quote"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty string")
        for name in _DECIMAL_FIELDS:
            value = getattr(self, name)
            if value is None:
                if name in _REQUIRED_DECIMALS:
                    raise ValueError(f"{self.symbol}: {name} is required")
                continue
            if not isinstance(value, Decimal):
                raise TypeError(
                    f"{self.symbol}: {name} must be a Decimal, not {type(value).__name__}"
                )
            if not value.is_finite() or value < 0 or (value == 0 and name != "min_qty"):
                raise ValueError(f"{self.symbol}: {name} must be a positive number, not {value}")

    def quantity_rules(self, order_type: str = "limit") -> tuple[Decimal, Decimal, Decimal | None]:
        """(step, min_qty, max_qty) that an order of this type must meet. A market order meets
        both the general and the market-only rules: the coarser step, the larger minimum and
        the smaller maximum."""
        step, low, high = self.step_size, self.min_qty, self.max_qty
        if order_type == "market":
            if self.market_qty_step is not None:
                step = max(step, self.market_qty_step)
            if self.market_min_qty is not None:
                low = max(low, self.market_min_qty)
            if self.market_max_qty is not None:
                high = self.market_max_qty if high is None else min(high, self.market_max_qty)
        return step, low, high

    def to_json(self) -> dict[str, str | None]:
        """JSON-ready dict; decimals as positional strings with every digit kept."""
        out: dict[str, str | None] = {"symbol": self.symbol, "base": self.base, "quote": self.quote}
        for name in _DECIMAL_FIELDS:
            out[name] = plain(getattr(self, name))
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MarketRules:
        """Inverse of `to_json` (unknown keys are ignored, so older readers survive new fields)."""
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name not in known:
                continue
            if name in _DECIMAL_FIELDS and value is not None:
                if not isinstance(value, str):
                    raise TypeError(f"{name} must be a decimal string, not {type(value).__name__}")
                try:
                    value = Decimal(value)
                except InvalidOperation as exc:
                    raise ValueError(f"{name} is not a decimal: {value!r}") from exc
            kwargs[name] = value
        return cls(**kwargs)


# --------------------------------------------------------------------------- order validation


@dataclass(frozen=True)
class OrderCheck:
    """Outcome of `check_order`: the rounded (or bumped) price and quantity, their exact
    notional, and a human reason whenever the order is refused or was bumped (else `None`)."""

    valid: bool
    price: Decimal
    quantity: Decimal
    notional: Decimal
    reason: str | None = None
    bumped: bool = False


def _smallest_qty_for_notional(min_notional: Decimal, price: Decimal, step: Decimal) -> Decimal:
    """Smallest multiple of `step` whose notional at `price` is ≥ `min_notional` (exact, in
    integers: the smallest k with k × step × price ≥ min_notional)."""
    common = min(_exponent(min_notional), _exponent(price), _exponent(step), 0)
    need = _to_int(min_notional, common) * 10 ** (-common)  # min_notional in units of 10**2c
    per_step = _to_int(step, common) * _to_int(price, common)  # step × price in units of 10**2c
    count = max(-(-need // per_step), 0)
    return _rescale(count * _to_int(step, common), common, _places_exponent(step))


def check_order(
    rules: MarketRules,
    side: str,
    price: Decimal,
    qty: Decimal,
    *,
    policy: str = "reject",
    order_type: str = "limit",
) -> OrderCheck:
    """Round an order to the market's rules and check every limit (SPEC §3.3).

    - Limit orders: the price is rounded to the tick toward the safe side (buy down, sell up)
      and must lie within `min_price`/`max_price`. Market orders: `price` is the reference price
      used for the notional; it is not rounded or bounded (it is never sent).
    - The quantity is rounded down to the step, then must be ≥ `min_qty` and ≤ `max_qty`
      (for market orders the market-only rules apply as well, see `quantity_rules`).
    - The notional (price × quantity, exact) must be ≥ `min_notional` and ≤ `max_notional`.
    - `policy="bump"` turns a quantity below `min_qty` or a notional below `min_notional` into
      the smallest step multiple meeting both (`bumped=True`, reason says from what to what).
      Nothing above a maximum is fixable, and a bump that would break a maximum is refused.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}; not {policy!r}")
    if order_type not in ORDER_TYPES:
        raise ValueError(f"order_type must be one of {', '.join(ORDER_TYPES)}; not {order_type!r}")
    direction = str(side).lower()
    if direction not in ("buy", "sell"):
        raise ValueError(f"side must be buy or sell; not {side!r}")
    price = _as_decimal(price, "price")
    qty = _as_decimal(qty, "qty")
    symbol = rules.symbol

    def refuse(why: str, at_price: Decimal, at_qty: Decimal) -> OrderCheck:
        notional = _multiply(at_price, at_qty) if at_price > 0 and at_qty > 0 else Decimal(0)
        return OrderCheck(False, at_price, at_qty, notional, f"{symbol}: {why}", False)

    # Price.
    if order_type == "limit":
        order_price = round_price(price, rules.tick_size, direction)
        if order_price <= 0:
            return refuse(
                f"price {_show(price)} rounds to {_show(order_price)} at tick_size "
                f"{_show(rules.tick_size)}; a price must be positive",
                order_price,
                qty,
            )
        if rules.min_price is not None and order_price < rules.min_price:
            return refuse(
                f"price {_show(order_price)} below min_price {_show(rules.min_price)}",
                order_price,
                qty,
            )
        if rules.max_price is not None and order_price > rules.max_price:
            return refuse(
                f"price {_show(order_price)} above max_price {_show(rules.max_price)}",
                order_price,
                qty,
            )
    else:
        order_price = price
        if order_price <= 0:
            return refuse(f"reference price {_show(price)} must be positive", order_price, qty)

    # Quantity.
    step, min_qty, max_qty = rules.quantity_rules(order_type)
    if qty <= 0:
        return refuse(f"quantity {_show(qty)} must be positive", order_price, qty)
    quantity = round_qty_down(qty, step)
    rounded_note = (
        f" (rounded down from {_show(qty)} to step_size {_show(step)})" if quantity != qty else ""
    )
    if max_qty is not None and quantity > max_qty:
        return refuse(
            f"quantity {_show(quantity)}{rounded_note} above max_qty {_show(max_qty)}; "
            "a quantity above the maximum is never adjusted",
            order_price,
            quantity,
        )
    notional = _multiply(order_price, quantity)

    shortfalls: list[str] = []
    if quantity < min_qty:
        shortfalls.append(
            f"quantity {_show(quantity)}{rounded_note} below min_qty {_show(min_qty)}"
        )
    if rules.min_notional is not None and notional < rules.min_notional:
        shortfalls.append(
            f"notional {_show(notional)} (price {_show(order_price)} × quantity "
            f"{_show(quantity)}) below min_notional {_show(rules.min_notional)}"
        )

    bumped = False
    reason: str | None = None
    if shortfalls:
        if policy == "reject":
            return refuse("; ".join(shortfalls), order_price, quantity)
        target = round_qty_up(min_qty, step)
        if rules.min_notional is not None:
            target = max(target, _smallest_qty_for_notional(rules.min_notional, order_price, step))
        if max_qty is not None and target > max_qty:
            return refuse(
                f"{'; '.join(shortfalls)}; raising it to {_show(target)} would exceed max_qty "
                f"{_show(max_qty)}",
                order_price,
                quantity,
            )
        reason = (
            f"{symbol}: quantity raised from {_show(quantity)} to {_show(target)} "
            f"(min_notional_policy=bump): {'; '.join(shortfalls)}"
        )
        quantity, bumped = target, True
        notional = _multiply(order_price, quantity)

    if rules.max_notional is not None and notional > rules.max_notional:
        return refuse(
            f"notional {_show(notional)} (price {_show(order_price)} × quantity "
            f"{_show(quantity)}) above max_notional {_show(rules.max_notional)}",
            order_price,
            quantity,
        )
    return OrderCheck(True, order_price, quantity, notional, reason, bumped)


# --------------------------------------------------------------------------- payload parsers


def _dec(value: Any, where: str) -> Decimal | None:
    """A number from an exchange payload (string, int, or a ccxt float via `str`), canonical;
    `None` / "" stay `None`."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise PrecisionDataError(f"{where}: expected a number, got {value!r}")
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise PrecisionDataError(f"{where}: not a number: {value!r}") from exc
    if not number.is_finite():
        raise PrecisionDataError(f"{where}: not a finite number: {value!r}")
    return _canonical(number)


def _positive(value: Any, where: str) -> Decimal | None:
    """Like `_dec`, but 0 (Binance's "rule disabled") becomes `None`; negatives are refused."""
    number = _dec(value, where)
    if number is None or number == 0:
        return None
    if number < 0:
        raise PrecisionDataError(f"{where}: negative value {value!r}")
    return number


def _required(value: Decimal | None, where: str) -> Decimal:
    if value is None:
        raise PrecisionDataError(f"{where}: missing or zero")
    return value


def _from_places(places: Any) -> Decimal | None:
    """A step of 10**-places from a "number of decimals" field (`2` → `0.01`)."""
    if isinstance(places, bool) or not isinstance(places, int | str) or str(places) == "":
        return None
    try:
        count = int(places)
    except ValueError:
        return None
    return _from_int(1, -count) if count >= 0 else None


def rules_from_binance_symbol(entry: Mapping[str, Any]) -> MarketRules:
    """One `symbols[]` entry of Binance `GET /api/v3/exchangeInfo` (spot) or
    `GET /fapi/v1/exchangeInfo` (USDⓈ-M futures).

    PRICE_FILTER → tick / min / max price; LOT_SIZE → step / min / max qty; MARKET_LOT_SIZE →
    market_*; spot NOTIONAL (`minNotional`, `maxNotional`) or MIN_NOTIONAL (`minNotional` on old
    spot payloads, `notional` on futures) → min / max notional. Binance writes 0 for a disabled
    value; that becomes `None` (a disabled tick or step falls back to the symbol's precision
    fields; a disabled min qty to the step).
    """
    symbol = str(entry.get("symbol") or "")
    where = f"binance {symbol or '?'}"
    if not symbol:
        raise PrecisionDataError(f"{where}: no symbol")
    filters: dict[str, Mapping[str, Any]] = {}
    for item in entry.get("filters") or ():
        if isinstance(item, Mapping) and item.get("filterType"):
            filters[str(item["filterType"])] = item
    price_filter = filters.get("PRICE_FILTER", {})
    lot = filters.get("LOT_SIZE")
    if lot is None:
        raise PrecisionDataError(f"{where}: no LOT_SIZE filter")

    tick = _positive(price_filter.get("tickSize"), f"{where} PRICE_FILTER.tickSize")
    if tick is None:
        tick = _from_places(entry.get("pricePrecision", entry.get("quotePrecision")))
    step = _positive(lot.get("stepSize"), f"{where} LOT_SIZE.stepSize")
    if step is None:
        step = _from_places(entry.get("quantityPrecision", entry.get("baseAssetPrecision")))
    tick = _required(tick, f"{where} PRICE_FILTER.tickSize")
    step = _required(step, f"{where} LOT_SIZE.stepSize")

    market_lot = filters.get("MARKET_LOT_SIZE", {})
    notional = filters.get("NOTIONAL")
    min_notional_filter = filters.get("MIN_NOTIONAL", {})
    if notional is not None:
        min_notional = _positive(notional.get("minNotional"), f"{where} NOTIONAL.minNotional")
        max_notional = _positive(notional.get("maxNotional"), f"{where} NOTIONAL.maxNotional")
    else:
        raw = min_notional_filter.get("minNotional", min_notional_filter.get("notional"))
        min_notional = _positive(raw, f"{where} MIN_NOTIONAL")
        max_notional = None

    return MarketRules(
        symbol=symbol,
        base=str(entry.get("baseAsset") or ""),
        quote=str(entry.get("quoteAsset") or ""),
        tick_size=tick,
        step_size=step,
        min_qty=_positive(lot.get("minQty"), f"{where} LOT_SIZE.minQty") or step,
        max_qty=_positive(lot.get("maxQty"), f"{where} LOT_SIZE.maxQty"),
        min_notional=min_notional,
        max_notional=max_notional,
        min_price=_positive(price_filter.get("minPrice"), f"{where} PRICE_FILTER.minPrice"),
        max_price=_positive(price_filter.get("maxPrice"), f"{where} PRICE_FILTER.maxPrice"),
        market_qty_step=_positive(market_lot.get("stepSize"), f"{where} MARKET_LOT_SIZE.stepSize"),
        market_min_qty=_positive(market_lot.get("minQty"), f"{where} MARKET_LOT_SIZE.minQty"),
        market_max_qty=_positive(market_lot.get("maxQty"), f"{where} MARKET_LOT_SIZE.maxQty"),
    )


def rules_from_bybit_instrument(entry: Mapping[str, Any], category: str) -> MarketRules:
    """One `result.list[]` entry of Bybit `GET /v5/market/instruments-info` for `category`.

    spot: step = `lotSizeFilter.basePrecision`, `minOrderQty`, max qty = `maxLimitOrderQty`
    (newer payloads) or `maxOrderQty`, min / max notional = `minOrderAmt` / `maxOrderAmt`,
    market max = `maxMarketOrderQty` when given. linear / inverse: step = `qtyStep`,
    `minOrderQty`, `maxOrderQty`, min notional = `minNotionalValue`, market max =
    `maxMktOrderQty`. Both: tick = `priceFilter.tickSize` (+ `minPrice`/`maxPrice` if given).
    """
    symbol = str(entry.get("symbol") or "")
    where = f"bybit {category} {symbol or '?'}"
    if not symbol:
        raise PrecisionDataError(f"{where}: no symbol")
    lot = entry.get("lotSizeFilter")
    prices = entry.get("priceFilter")
    if not isinstance(lot, Mapping) or not isinstance(prices, Mapping):
        raise PrecisionDataError(f"{where}: lotSizeFilter or priceFilter missing")
    tick = _required(_positive(prices.get("tickSize"), f"{where} tickSize"), f"{where} tickSize")
    common: dict[str, Any] = {
        "symbol": symbol,
        "base": str(entry.get("baseCoin") or ""),
        "quote": str(entry.get("quoteCoin") or ""),
        "tick_size": tick,
        "min_price": _positive(prices.get("minPrice"), f"{where} minPrice"),
        "max_price": _positive(prices.get("maxPrice"), f"{where} maxPrice"),
    }
    if category == "spot":
        step = _required(
            _positive(lot.get("basePrecision"), f"{where} basePrecision"),
            f"{where} basePrecision",
        )
        max_qty = lot.get("maxLimitOrderQty") or lot.get("maxOrderQty")
        return MarketRules(
            **common,
            step_size=step,
            min_qty=_positive(lot.get("minOrderQty"), f"{where} minOrderQty") or step,
            max_qty=_positive(max_qty, f"{where} maxOrderQty"),
            min_notional=_positive(lot.get("minOrderAmt"), f"{where} minOrderAmt"),
            max_notional=_positive(lot.get("maxOrderAmt"), f"{where} maxOrderAmt"),
            market_max_qty=_positive(lot.get("maxMarketOrderQty"), f"{where} maxMarketOrderQty"),
        )
    if category in ("linear", "inverse"):
        step = _required(_positive(lot.get("qtyStep"), f"{where} qtyStep"), f"{where} qtyStep")
        return MarketRules(
            **common,
            step_size=step,
            min_qty=_positive(lot.get("minOrderQty"), f"{where} minOrderQty") or step,
            max_qty=_positive(lot.get("maxOrderQty"), f"{where} maxOrderQty"),
            min_notional=_positive(lot.get("minNotionalValue"), f"{where} minNotionalValue"),
            market_max_qty=_positive(lot.get("maxMktOrderQty"), f"{where} maxMktOrderQty"),
        )
    raise PrecisionDataError(f"{where}: unsupported category {category!r}")


def _path(data: Mapping[str, Any], *keys: str) -> Any:
    current: Any = data
    for key in keys:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def rules_from_ccxt_market(market: Mapping[str, Any]) -> MarketRules:
    """A ccxt unified market dict (ccxt's TICK_SIZE precision mode, as binance and bybit use).

    When `info` holds the raw Binance symbol (it has `filters`) or Bybit instrument (it has
    `lotSizeFilter`), that is parsed exactly by the exchange-specific parser — ccxt's floats
    lose digits (Bybit PEPE/USDT max qty 288142918887.7683330932 becomes …887.7683). Otherwise
    the unified fields are used, each float converted through `str`.
    """
    info = market.get("info")
    if isinstance(info, Mapping):
        if isinstance(info.get("filters"), list) and info.get("symbol"):
            return rules_from_binance_symbol(info)
        if isinstance(info.get("lotSizeFilter"), Mapping) and info.get("symbol"):
            if market.get("spot") or market.get("type") == "spot":
                category = "spot"
            elif market.get("inverse"):
                category = "inverse"
            else:
                category = "linear"
            return rules_from_bybit_instrument(info, category)

    base = str(market.get("base") or "")
    quote = str(market.get("quote") or "")
    symbol = market.get("id") if isinstance(market.get("id"), str) else f"{base}{quote}"
    where = f"ccxt {market.get('symbol') or symbol}"
    tick = _required(
        _positive(_path(market, "precision", "price"), f"{where} precision.price"),
        f"{where} precision.price",
    )
    step = _required(
        _positive(_path(market, "precision", "amount"), f"{where} precision.amount"),
        f"{where} precision.amount",
    )

    def limit(*keys: str) -> Decimal | None:
        return _positive(_path(market, "limits", *keys), f"{where} limits.{'.'.join(keys)}")

    return MarketRules(
        symbol=str(symbol),
        base=base,
        quote=quote,
        tick_size=tick,
        step_size=step,
        min_qty=limit("amount", "min") or step,
        max_qty=limit("amount", "max"),
        min_notional=limit("cost", "min"),
        max_notional=limit("cost", "max"),
        min_price=limit("price", "min"),
        max_price=limit("price", "max"),
        market_min_qty=limit("market", "min"),
        market_max_qty=limit("market", "max"),
    )
