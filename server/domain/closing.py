"""Closing a position (SPEC §4.4, §4.5, §7): what to send, what it realised, how to say it.

Pure. The services read orders into `LegState`s and `Fills` and ask:

- `close_quantity()` — how much a closing market order may sell: the held quantity rounded
  DOWN to the market-order step (never more than is held); below `min_qty`, or below
  `min_notional` at the reference price where the exchange enforces it, it is **dust**:
  recorded, never sent. Reduce-only orders on the futures venues are exempt from the minimum
  notional (Binance -4164 "unless you choose reduce only", Bybit 110094), not from `min_qty`.
- `leg_tp_order()` — the resting take-profit limit of one filled leg: at the leg's `tp_price`
  from its actual average fill, for the leg's sellable quantity; `valid=False` (with the
  reason) when the exchange would refuse it — the leg is then watched by price instead.
- `realised()` — the group's realised PnL from everything that closed it, recomputed from the
  orders every time (so applying a fill twice never counts it twice):

  * a leg's own take-profit fills (resting TP orders, or a market close of a watched leg):
    `realised_from_cost(exit avg, sold, cost of sold, fees)` with the leg's cost
    `avg_fill × sold`, and fees = the TP orders' fees + the leg's entry fee — all of it once
    the leg is done (`tp_hit`), the sold share of it while the leg is only partly closed;
  * the group close (one or more `close` orders): what is left of the open legs after their
    partial TP fills (`remaining_leg`) closes at the close orders' average price; cost of the
    sold quantity pro rata of the remaining cost (`pnl.entry_cost`), fees = every remaining
    entry fee + the close orders' fees.

  Quantity never sold (base-asset dust left by a spot buy's fee, or a remainder below the
  exchange minimum) stays in the account at its cost: it is reported, not realised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal

from server.domain.aggregates import LegState, aggregate, sellable_quantity
from server.domain.decimals import plain_decimal
from server.domain.enums import PositionSide
from server.domain.exact import AVERAGE_PLACES, ZERO, add, as_decimal, div, mul, strip
from server.domain.grid import exit_side, tp_price
from server.domain.pnl import entry_cost
from server.domain.precision import MarketRules

__all__ = [
    "CloseQuantity",
    "Fills",
    "LegTpOrder",
    "Realised",
    "close_quantity",
    "leg_tp_order",
    "realised",
    "remaining_leg",
]


def _long(side: PositionSide | str) -> bool:
    return PositionSide(str(side).lower()) is PositionSide.LONG


# --------------------------------------------------------------------------- fills


@dataclass(frozen=True)
class Fills:
    """What one or more closing orders executed: quantity, Σ price × qty, fees in quote."""

    quantity: Decimal = ZERO
    cost: Decimal = ZERO
    fee_quote: Decimal = ZERO

    @classmethod
    def of(cls, quantity: Decimal, avg_price: Decimal | None, fee_quote: Decimal) -> Fills:
        quantity = as_decimal(quantity, "quantity")
        if quantity == 0:
            return cls(ZERO, ZERO, as_decimal(fee_quote, "fee_quote"))
        if avg_price is None:
            raise ValueError("a fill needs its average price")
        return cls(quantity, mul(as_decimal(avg_price, "avg_price"), quantity), fee_quote)

    def __add__(self, other: Fills) -> Fills:
        return Fills(
            add(self.quantity, other.quantity),
            add(self.cost, other.cost),
            add(self.fee_quote, other.fee_quote),
        )

    @property
    def avg_price(self) -> Decimal | None:
        if self.quantity == 0:
            return None
        return strip(div(self.cost, self.quantity, AVERAGE_PLACES, ROUND_HALF_EVEN))


# --------------------------------------------------------------------------- quantities


@dataclass(frozen=True)
class CloseQuantity:
    """How much a closing market order sends; `dust` is what stays unsent."""

    held: Decimal
    quantity: Decimal  # to send; 0 when nothing can be sent
    dust: Decimal  # held − quantity
    reason: str | None  # why (part of) the held quantity is not sent

    @property
    def sendable(self) -> bool:
        return self.quantity > 0


def _minimum_reason(
    rules: MarketRules, quantity: Decimal, price: Decimal | None, *, reduce_only: bool,
    order_type: str,
) -> str | None:  # fmt: skip
    _step, min_qty, _max = rules.quantity_rules(order_type)
    if quantity <= 0:
        return "nothing left to sell at the step size " + plain_decimal(rules.step_size)
    if quantity < min_qty:
        return f"{plain_decimal(quantity)} is below the minimum quantity {plain_decimal(min_qty)}"
    if reduce_only or rules.min_notional is None or price is None:
        return None
    notional = mul(quantity, price)
    if notional < rules.min_notional:
        return (
            f"{plain_decimal(quantity)} × {plain_decimal(price)} = {plain_decimal(notional)} is "
            f"below the minimum notional {plain_decimal(rules.min_notional)}"
        )
    return None


def close_quantity(
    held: Decimal,
    rules: MarketRules,
    reference_price: Decimal | None,
    *,
    reduce_only: bool,
    cap: Decimal | None = None,
) -> CloseQuantity:
    """A market close of `held`: rounded down to the market-order step (capped at `cap`,
    e.g. the account's free balance), or nothing when that is dust (module docstring)."""
    held = max(as_decimal(held, "held"), ZERO)
    step = rules.quantity_rules("market")[0]
    quantity = sellable_quantity(held, step, cap=cap)
    if rules.market_max_qty is not None and quantity > rules.market_max_qty:
        quantity = sellable_quantity(rules.market_max_qty, step)
    why = _minimum_reason(
        rules, quantity, reference_price, reduce_only=reduce_only, order_type="market"
    )
    if why is not None:
        return CloseQuantity(held, ZERO, held, f"dust not sent: {why}" if held > 0 else None)
    dust = add(held, -quantity)
    reason = None
    if dust > 0:
        reason = f"{plain_decimal(dust)} left below the step size {plain_decimal(step)}"
    return CloseQuantity(held, quantity, dust, reason)


@dataclass(frozen=True)
class LegTpOrder:
    """The resting take-profit limit order of one leg."""

    side: str  # the order side: sell for a long, buy for a short
    price: Decimal
    quantity: Decimal
    valid: bool
    reason: str | None


def leg_tp_order(
    position_side: PositionSide | str,
    leg: LegState,
    rules: MarketRules,
    *,
    reduce_only: bool,
    already_sold: Decimal = ZERO,
) -> LegTpOrder:
    """A limit at the leg's target (from its actual average fill) for what the leg holds,
    less what an earlier TP order of the leg already sold, rounded down to the step."""
    side = exit_side(position_side)
    if not leg.has_fill:
        return LegTpOrder(side, ZERO, ZERO, False, "the leg has not filled")
    price = tp_price(position_side, leg.avg_fill_price, leg.tp_percent, rules.tick_size)
    held = max(add(leg.held, -as_decimal(already_sold, "already_sold")), ZERO)
    quantity = sellable_quantity(held, rules.step_size)
    why = _minimum_reason(rules, quantity, price, reduce_only=reduce_only, order_type="limit")
    if why is None and rules.max_qty is not None and quantity > rules.max_qty:
        why = f"{plain_decimal(quantity)} is above the maximum quantity"
    return LegTpOrder(side, price, quantity, why is None, why)


# --------------------------------------------------------------------------- realised PnL


def remaining_leg(leg: LegState, sold: Decimal) -> LegState:
    """The leg after its TP sold `sold` of it: the filled quantity and the quote fee shrink
    pro rata (the base-asset fee was taken from what was received and stays)."""
    sold = as_decimal(sold, "sold")
    if sold <= 0 or not leg.has_fill:
        return leg
    left = max(add(leg.filled_quantity, -sold), ZERO)
    return replace(
        leg,
        filled_quantity=left,
        fee_quote=_share(leg.fee_quote, left, leg.filled_quantity),
        fee_base=min(leg.fee_base, left),
    )


def _share(amount: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """`amount × part / whole`, 18 decimals half-even (exactly `amount` for the whole)."""
    if part == whole:
        return amount
    return div(mul(amount, part), whole, AVERAGE_PLACES, ROUND_HALF_EVEN)


def _gross(side: PositionSide | str, proceeds: Decimal, cost: Decimal) -> Decimal:
    """Long: proceeds − cost; short: cost − proceeds (a short's close buys back)."""
    return add(proceeds, -cost) if _long(side) else add(cost, -proceeds)


@dataclass(frozen=True)
class LegRealised:
    pyramid: int
    leg: int
    quantity: Decimal
    exit_price: Decimal | None
    usd: Decimal
    done: bool


@dataclass(frozen=True)
class Realised:
    """A group's realised PnL, part by part."""

    legs: tuple[LegRealised, ...]
    close_quantity: Decimal
    close_price: Decimal | None
    close_usd: Decimal
    remaining_held: Decimal  # what the open legs held when the group close ran

    @property
    def total(self) -> Decimal:
        return add(self.close_usd, *(leg.usd for leg in self.legs))


def _leg_realised(side: PositionSide | str, leg: LegState, fills: Fills) -> LegRealised:
    """A leg's own TP: (exit − entry) × sold − fees, from the exact proceeds Σ price × qty
    and cost `avg_fill × sold`; the whole entry fee once the leg is done, else its share."""
    sold = min(fills.quantity, leg.filled_quantity)
    entry_fee = leg.fee_quote if leg.tp_hit else _share(leg.fee_quote, sold, leg.filled_quantity)
    proceeds = fills.cost if sold == fills.quantity else mul(fills.avg_price or ZERO, sold)
    cost = mul(leg.avg_fill_price, sold) if sold else ZERO
    usd = add(_gross(side, proceeds, cost), -entry_fee, -fills.fee_quote)
    return LegRealised(leg.pyramid, leg.leg, sold, fills.avg_price, usd, leg.tp_hit)


def realised(
    side: PositionSide | str,
    legs: Iterable[LegState],
    tp_fills: Mapping[tuple[int, int], Fills],
    close_fills: Fills | None,
    offset_fills: Fills | None = None,
) -> Realised:
    """The group's realised PnL (module docstring). `legs` are its entry legs as stored
    (`tp_hit` marks a leg its TP finished); `tp_fills` what each leg's own TP orders
    executed; `close_fills` what the group's close orders executed (`None`: no group close).

    `offset_fills` are the risk engine's partial closes of the group (SPEC §6): they sell a
    part of the open legs at the group level like a close does (cost pro rata of the open
    legs' cost). While no group close follows, only the sold share of the open legs' entry
    fees is charged (`entry fees × sold / open quantity`); once the group closes, every
    remaining entry fee is, as for a plain close.
    """
    legs = list(legs)
    if offset_fills is not None and offset_fills.quantity > 0:
        if close_fills is None:
            return _partially_closed(side, legs, tp_fills, offset_fills)
        close_fills = close_fills + offset_fills
    parts: list[LegRealised] = []
    remaining: list[LegState] = []
    for leg in legs:
        fills = tp_fills.get((leg.pyramid, leg.leg), Fills())
        if leg.has_fill and (fills.quantity > 0 or leg.tp_hit):
            parts.append(_leg_realised(side, leg, fills))
        if leg.is_open:
            remaining.append(remaining_leg(leg, fills.quantity))
    if close_fills is None:
        return Realised(tuple(parts), ZERO, None, ZERO, ZERO)
    totals = aggregate(remaining)
    sold = min(close_fills.quantity, totals.total_filled_quantity)
    cost = entry_cost(totals.total_invested_usd, totals.total_filled_quantity, sold)
    proceeds = close_fills.cost
    if sold != close_fills.quantity:  # never count more than the legs record
        proceeds = mul(close_fills.avg_price or ZERO, sold)
    fees = add(totals.entry_fees_usd, close_fills.fee_quote)
    usd = add(_gross(side, proceeds, cost), -fees)
    return Realised(tuple(parts), sold, close_fills.avg_price, usd, totals.held_quantity)


def _partially_closed(
    side: PositionSide | str,
    legs: list[LegState],
    tp_fills: Mapping[tuple[int, int], Fills],
    offsets: Fills,
) -> Realised:
    """A group still open after risk offsets: legs' own TPs plus the offsets' share."""
    head = realised(side, legs, tp_fills, None)
    remaining = [
        remaining_leg(leg, tp_fills.get((leg.pyramid, leg.leg), Fills()).quantity)
        for leg in legs
        if leg.is_open
    ]
    totals = aggregate(remaining)
    sold = min(offsets.quantity, totals.total_filled_quantity)
    cost = entry_cost(totals.total_invested_usd, totals.total_filled_quantity, sold)
    proceeds = offsets.cost if sold == offsets.quantity else mul(offsets.avg_price or ZERO, sold)
    # everything sellable gone (what is left is base-fee dust): every entry fee is charged
    share = (
        totals.entry_fees_usd
        if sold >= totals.held_quantity
        else _share(totals.entry_fees_usd, sold, totals.total_filled_quantity)
    )
    fees = add(share, offsets.fee_quote) if sold else offsets.fee_quote
    usd = add(_gross(side, proceeds, cost), -fees)
    return Realised(head.legs, sold, offsets.avg_price, usd, totals.held_quantity)
