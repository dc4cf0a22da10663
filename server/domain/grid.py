"""The grid of one pyramid (SPEC §3): capital, leg prices, quantities, TP prices, precision.

Pure: settings (as loaded by `validate_settings`, i.e. with `Decimal`s), market rules, the side
and the entry price go in; frozen dataclasses come out. Nothing here sends or stores anything.

Capital (SPEC §3.1), each truncated to `CAPITAL_PLACES` (1e-8 USD) and each computed from the
settings in one division, so truncations never compound and a grid never exceeds its allocation:

    group_capital   = total_capital_usd / max_open_groups
    pyramid_capital = total_capital_usd × pyramid_weights[i] / (max_open_groups × 100)
    leg_capital     = total_capital_usd × pyramid_weights[i] × weight_percent
                      / (max_open_groups × 100 × 100)

Legs (SPEC §3.2, §3.3), for a pyramid anchored on `P`:

- long: entries are buys at `P × (1 + gap/100)` (gap ≤ 0, below P), rounded DOWN to the tick;
  short: entries are sells at `P × (1 − gap/100)` (above P), rounded UP to the tick. A rounded
  price can only make the order more conservative (buy cheaper, sell dearer).
- `quantity = leg_capital / rounded_price`, rounded DOWN to the step (for a market leg, the
  step a market order must meet: the coarser of LOT_SIZE and MARKET_LOT_SIZE).
- A gap-0 leg is a market order when `entry_order_type == "market"`: its `price` is then the
  rounded `P`, used only to size and check it (`check_order(order_type="market")`); otherwise a
  limit at the rounded `P`. Every other leg is a limit order.
- Every leg is checked with `check_order` and the user's `min_notional_policy`: `reject` → the
  whole pyramid is refused (`valid=False`, the reason names every failing leg and its numbers;
  nothing may be sent); `bump` → the short leg is raised to the smallest step multiple meeting
  `min_qty` and `min_notional` (`bumped=True`). A leg that breaks a maximum, or whose price
  rounds to zero, refuses the pyramid under either policy.
- TP price of a leg: long `fill × (1 + tp/100)` rounded UP to the tick (closing a long is a
  sell), short `fill × (1 − tp/100)` rounded DOWN (closing a short is a buy) — "toward the safe
  side": the target is never below (long) / above (short) the configured profit. Before the fill
  it is shown from the intended (rounded) price; `tp_price()` recomputes it from the actual
  average fill price. A short target that would round to 0 or below (tp ≥ 100 %) is one tick.

`client_order_id()` gives every order its deterministic id (see its docstring).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from server.domain.decimals import plain_decimal
from server.domain.enums import OrderPurpose, PositionSide
from server.domain.exact import (
    CAPITAL_PLACES,
    HUNDRED,
    ZERO,
    add,
    as_decimal,
    div,
    mul,
)
from server.domain.precision import (
    MarketRules,
    check_order,
    round_price,
)
from server.domain.settings import legs_for_symbol

__all__ = [
    "ClientOrderRef",
    "LegPlan",
    "PyramidPlan",
    "client_order_id",
    "entry_side",
    "exit_side",
    "group_capital",
    "leg_capital",
    "leg_price",
    "parse_client_order_id",
    "plan_pyramid",
    "preview",
    "pyramid_capital",
    "tp_price",
]

ONE = Decimal(1)
_EXTRA_QTY_PLACES = 6  # digits kept below the step in a "rounded down from ..." reason


def _places(step: Decimal) -> int:
    """Decimal places a multiple of `step` needs (`0.001` → 3, `1.00` → 0, `10` → 0)."""
    exponent = step.normalize().as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


# --------------------------------------------------------------------------- sides


def _side(side: PositionSide | str) -> PositionSide:
    text = str(side).lower()
    aliases = {"buy": "long", "sell": "short"}
    try:
        return PositionSide(aliases.get(text, text))
    except ValueError:
        raise ValueError(f"side must be long or short; not {side!r}") from None


def entry_side(side: PositionSide | str) -> str:
    """Order side of the entries of a position: long → buy, short → sell."""
    return "buy" if _side(side) is PositionSide.LONG else "sell"


def exit_side(side: PositionSide | str) -> str:
    """Order side that closes a position: long → sell, short → buy."""
    return "sell" if _side(side) is PositionSide.LONG else "buy"


# --------------------------------------------------------------------------- capital


def _capital_numbers(settings: dict, pyramid_index: int) -> tuple[Decimal, int, Decimal]:
    capital = settings["capital"]
    total = as_decimal(capital["total_capital_usd"], "total_capital_usd")
    groups = int(settings["pool"]["max_open_groups"])
    weights = capital["pyramid_weights"]
    max_pyramids = int(capital["max_pyramids"])
    if not 0 <= pyramid_index < min(max_pyramids, len(weights)):
        raise ValueError(
            f"pyramid_index {pyramid_index} is outside 0..{max_pyramids - 1} (max_pyramids "
            f"{max_pyramids})"
        )
    return total, groups, as_decimal(weights[pyramid_index], "pyramid_weights")


def group_capital(settings: dict) -> Decimal:
    """`total_capital_usd / max_open_groups`, truncated to 1e-8."""
    total = as_decimal(settings["capital"]["total_capital_usd"], "total_capital_usd")
    return div(total, Decimal(int(settings["pool"]["max_open_groups"])), CAPITAL_PLACES)


def pyramid_capital(settings: dict, pyramid_index: int) -> Decimal:
    """`group_capital × pyramid_weights[i] / 100`, truncated to 1e-8."""
    total, groups, weight = _capital_numbers(settings, pyramid_index)
    return div(mul(total, weight), Decimal(groups) * HUNDRED, CAPITAL_PLACES)


def leg_capital(settings: dict, pyramid_index: int, weight_percent: Decimal) -> Decimal:
    """`pyramid_capital × weight_percent / 100`, from the settings in one division, truncated."""
    total, groups, weight = _capital_numbers(settings, pyramid_index)
    numerator = mul(total, weight, as_decimal(weight_percent, "weight_percent"))
    return div(numerator, Decimal(groups) * HUNDRED * HUNDRED, CAPITAL_PLACES)


# --------------------------------------------------------------------------- prices


def leg_price(side: PositionSide | str, entry_price: Decimal, gap_percent: Decimal) -> Decimal:
    """Unrounded leg price: long `P × (1 + gap/100)`, short `P × (1 − gap/100)` (exact)."""
    factor = as_decimal(gap_percent, "gap_percent").scaleb(-2)
    entry_price = as_decimal(entry_price, "entry_price")
    if _side(side) is PositionSide.LONG:
        return mul(entry_price, add(ONE, factor))
    return mul(entry_price, add(ONE, -factor))


def tp_price(
    side: PositionSide | str, fill_price: Decimal, tp_percent: Decimal, tick: Decimal
) -> Decimal:
    """Take-profit price of a leg from its (average) fill price, rounded to the tick toward the
    safe side: long `fill × (1 + tp/100)` up (a sell), short `fill × (1 − tp/100)` down (a
    buy); a short target at or below zero becomes one tick."""
    factor = as_decimal(tp_percent, "tp_percent").scaleb(-2)
    fill_price = as_decimal(fill_price, "fill_price")
    if _side(side) is PositionSide.LONG:
        return round_price(mul(fill_price, add(ONE, factor)), tick, "sell")
    target = round_price(mul(fill_price, add(ONE, -factor)), tick, "buy")
    return target if target > 0 else round_price(tick, tick, "buy")


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class LegPlan:
    """One leg as it will be sent: rounded price, quantity and notional, and its TP target."""

    leg: int
    gap_percent: Decimal
    weight_percent: Decimal
    tp_percent: Decimal
    order_type: str  # "market" | "limit"
    side: str  # "buy" | "sell" (the order side, not the position side)
    capital: Decimal  # leg_capital in USD (quote)
    price: Decimal  # limit price, or the reference price a market leg is sized at
    quantity: Decimal
    notional: Decimal
    tp_price: Decimal | None
    valid: bool
    reason: str | None
    bumped: bool


@dataclass(frozen=True)
class PyramidPlan:
    """The whole grid of one pyramid. `valid` is False when any leg is refused: then nothing of
    this pyramid may be sent, and `reason` names every refused leg with its numbers."""

    symbol: str
    side: PositionSide
    entry_price: Decimal
    pyramid_index: int
    capital: Decimal  # pyramid_capital
    legs: tuple[LegPlan, ...]
    valid: bool
    reason: str | None

    @property
    def total_notional(self) -> Decimal:
        return add(*(leg.notional for leg in self.legs))


def _plan_leg(
    index: int,
    leg: dict[str, Any],
    *,
    settings: dict,
    rules: MarketRules,
    side: PositionSide,
    entry_price: Decimal,
    pyramid_index: int,
    policy: str,
) -> LegPlan:
    gap = as_decimal(leg["gap_percent"], "gap_percent")
    weight = as_decimal(leg["weight_percent"], "weight_percent")
    tp = as_decimal(leg["tp_percent"], "tp_percent")
    order_side = entry_side(side)
    market = gap == 0 and settings["grid"].get("entry_order_type", "market") == "market"
    order_type = "market" if market else "limit"
    capital = leg_capital(settings, pyramid_index, weight)
    price = round_price(leg_price(side, entry_price, gap), rules.tick_size, order_side)

    def leg_plan(**values: Any) -> LegPlan:
        return LegPlan(
            leg=index,
            gap_percent=gap,
            weight_percent=weight,
            tp_percent=tp,
            order_type=order_type,
            side=order_side,
            capital=capital,
            **values,
        )

    if price <= 0:
        return leg_plan(
            price=price,
            quantity=ZERO,
            notional=ZERO,
            tp_price=None,
            valid=False,
            reason=(
                f"{rules.symbol}: price {plain_decimal(leg_price(side, entry_price, gap))} "
                f"rounds to 0 at tick_size {plain_decimal(rules.tick_size)}; a price must be "
                "positive"
            ),
            bumped=False,
        )
    # capital / price truncated a few places below the step (the floor to the step is the same
    # as the exact quotient's); check_order floors it and names both numbers in its reason.
    step = rules.quantity_rules(order_type)[0]
    places = _places(step) + _EXTRA_QTY_PLACES
    raw = div(capital, price, places) or Decimal(1).scaleb(-places)
    check = check_order(rules, order_side, price, raw, policy=policy, order_type=order_type)
    return leg_plan(
        price=check.price,
        quantity=check.quantity,
        notional=check.notional,
        tp_price=tp_price(side, check.price, tp, rules.tick_size),
        valid=check.valid,
        reason=check.reason,
        bumped=check.bumped,
    )


def plan_pyramid(
    settings: dict,
    rules: MarketRules,
    side: PositionSide | str,
    entry_price: Decimal,
    pyramid_index: int = 0,
    symbol: str | None = None,
) -> PyramidPlan:
    """The grid of pyramid `pyramid_index` anchored on `entry_price`, rounded and checked.

    `settings` is the loaded settings document (`validate_settings`); the grid is the symbol's
    override when it has one. Raises `ValueError` for a non-positive entry price or a pyramid
    index beyond `max_pyramids` (callers decide those before planning)."""
    position_side = _side(side)
    entry_price = as_decimal(entry_price, "entry_price")
    if entry_price <= 0:
        raise ValueError(f"entry_price must be positive, not {entry_price}")
    symbol = (symbol or rules.symbol).upper()
    policy = settings["precision"].get("min_notional_policy", "reject")
    capital = pyramid_capital(settings, pyramid_index)
    legs = tuple(
        _plan_leg(
            index,
            leg,
            settings=settings,
            rules=rules,
            side=position_side,
            entry_price=entry_price,
            pyramid_index=pyramid_index,
            policy=policy,
        )
        for index, leg in enumerate(legs_for_symbol(settings, symbol))
    )
    refused = [leg for leg in legs if not leg.valid]
    bumped = [leg for leg in legs if leg.bumped]
    if refused:
        details = "; ".join(f"leg {leg.leg}: {leg.reason}" for leg in refused)
        reason = (
            f"{symbol} {position_side.value} pyramid {pyramid_index} refused "
            f"(min_notional_policy={policy}), nothing is sent: {details}"
        )
        return PyramidPlan(
            symbol, position_side, entry_price, pyramid_index, capital, legs, False, reason
        )
    reason = None
    if bumped:
        total = add(*(leg.notional for leg in legs))
        listed = ", ".join(str(leg.leg) for leg in bumped)
        reason = (
            f"{symbol}: min_notional_policy=bump raised leg{'s' if len(bumped) > 1 else ''} "
            f"{listed} to the exchange minimum; the pyramid's notional is "
            f"{plain_decimal(total)} for a capital of {plain_decimal(capital)}"
        )
    return PyramidPlan(
        symbol, position_side, entry_price, pyramid_index, capital, legs, True, reason
    )


def preview(plan: PyramidPlan) -> dict[str, Any]:
    """The `POST /api/settings/preview` answer with `Decimal`s (the API turns them into text)."""
    return {
        "symbol": plan.symbol,
        "side": plan.side.value,
        "entry_price": plan.entry_price,
        "pyramid_index": plan.pyramid_index,
        "pyramid_capital": plan.capital,
        "total_notional": plan.total_notional,
        "valid": plan.valid,
        "reason": plan.reason,
        "legs": [
            {
                "leg": leg.leg,
                "gap_percent": leg.gap_percent,
                "weight_percent": leg.weight_percent,
                "price": leg.price,
                "quantity": leg.quantity,
                "notional": leg.notional,
                "tp_percent": leg.tp_percent,
                "tp_price": leg.tp_price,
                "valid": leg.valid,
                "reason": leg.reason,
                "order_type": leg.order_type,
                "side": leg.side,
                "capital": leg.capital,
                "bumped": leg.bumped,
            }
            for leg in plan.legs
        ],
    }


# --------------------------------------------------------------------------- client order ids

CLIENT_ID_PREFIX = "E"
CLIENT_ID_MAX_LENGTH = 36
MAX_ATTEMPT = 9999
_PURPOSE_CODES = {
    OrderPurpose.ENTRY: "e",
    OrderPurpose.TAKE_PROFIT: "t",
    OrderPurpose.CLOSE: "c",
    OrderPurpose.RISK_OFFSET: "r",
}
_PURPOSES_BY_CODE = {code: purpose for purpose, code in _PURPOSE_CODES.items()}
_NONE = "__"
_CLIENT_ID_RE = re.compile(
    r"^E(?P<group>[a-z2-7]{26})(?P<pyramid>\d\d|__)(?P<leg>\d\d|__)(?P<purpose>[etcr])"
    r"(?P<attempt>\d{1,4})$"
)


@dataclass(frozen=True)
class ClientOrderRef:
    """What a client order id encodes, recovered by `parse_client_order_id`."""

    group_id: UUID
    pyramid_index: int | None
    leg_index: int | None
    purpose: OrderPurpose
    attempt: int


def _two_digits(value: int | None, name: str) -> str:
    if value is None:
        return _NONE
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 99:
        raise ValueError(f"{name} must be None or an integer 0..99, not {value!r}")
    return f"{value:02d}"


def client_order_id(
    group_id: UUID | str,
    pyramid_index: int | None,
    leg_index: int | None,
    purpose: OrderPurpose | str,
    attempt: int = 0,
) -> str:
    """Deterministic client order id of one order: the same inputs always give the same id, so
    a retry after a crash or a timeout asks the exchange for it instead of sending twice.

    Layout (32 + 1..4 characters, at most 36, alphabet `[A-Za-z0-9_]`):

        E <group: 26> <pyramid: 2> <leg: 2> <purpose: 1> <attempt: 1-4>
        E fnx4xs3pz5ewlfwaqkc7yhb2vq 01 03 e 0

    - `E`: marks the engine's orders (reconciliation tells them from the user's own orders);
    - group: the group's FULL 128-bit UUID in lower-case RFC 4648 base32 without padding, so
      two groups can never share an id (no truncation, hence no birthday-bound collision);
    - pyramid and leg: two decimal digits each (0..99; settings allow 20), `__` when the order
      belongs to no pyramid/leg (a group close, a risk offset);
    - purpose: `e` entry, `t` take-profit, `c` close, `r` risk offset;
    - attempt: 0..9999 in decimal, the suffix. It changes only when the engine deliberately
      sends a new order for the same role after the previous one ended (a re-placed TP, a
      second risk offset); a retry of the same send keeps the same attempt.

    Fixed widths before the attempt make the encoding injective and `parse_client_order_id`
    reverses it. Binance accepts `^[.A-Z:/a-z0-9_-]{1,36}$`, Bybit ≤ 36 letters, digits, `-`,
    `_`: this alphabet is inside both.
    """
    group = group_id if isinstance(group_id, UUID) else UUID(str(group_id))
    code = _PURPOSE_CODES[OrderPurpose(purpose)]
    if isinstance(attempt, bool) or not isinstance(attempt, int) or not 0 <= attempt <= MAX_ATTEMPT:
        raise ValueError(f"attempt must be an integer 0..{MAX_ATTEMPT}, not {attempt!r}")
    encoded = base64.b32encode(group.bytes).decode("ascii").rstrip("=").lower()
    result = (
        f"{CLIENT_ID_PREFIX}{encoded}{_two_digits(pyramid_index, 'pyramid_index')}"
        f"{_two_digits(leg_index, 'leg_index')}{code}{attempt}"
    )
    assert len(result) <= CLIENT_ID_MAX_LENGTH
    return result


def parse_client_order_id(value: str) -> ClientOrderRef | None:
    """The parts of an engine client order id; `None` for an id the engine did not make."""
    match = _CLIENT_ID_RE.match(value or "")
    if match is None:
        return None
    raw = base64.b32decode(match["group"].upper() + "======")
    pyramid, leg = match["pyramid"], match["leg"]
    return ClientOrderRef(
        group_id=UUID(bytes=raw),
        pyramid_index=None if pyramid == _NONE else int(pyramid),
        leg_index=None if leg == _NONE else int(leg),
        purpose=_PURPOSES_BY_CODE[match["purpose"]],
        attempt=int(match["attempt"]),
    )
