"""Group aggregates from its legs (SPEC §4.3), and what a position may sell.

Pure. A `LegState` is what the engine knows about one DCA leg (an entry order): its status,
what filled at what average price, its fees, its TP percent and whether its TP already closed
it. `aggregate()` turns the legs of every pyramid of a group into the numbers the API, the
take-profit and the risk engine read.

Decisions (docs/decisions.md):

- **The aggregates describe the position held now.** A leg whose own TP closed it
  (`tp_hit`) drops out of `weighted_avg_entry`, `total_filled_quantity` and
  `total_invested_usd`: its profit is realised, and the aggregate TP of what is left is a
  profit on what is left. Quantity closed outside the legs (a risk-engine partial close) is
  passed as `closed_quantity`; it lowers the quantities pro rata and leaves the average entry
  unchanged (selling part of a position does not change its cost basis). `filled_dca_legs`
  and `total_dca_legs` count every leg ever planned / completely filled, closed or not.
- `total_filled_quantity` is gross — what the exchange filled; `held_quantity` is net — filled
  minus the fee the exchange took in the base asset (Binance spot charges a buy's fee in the
  bought coin unless BNB pays it), minus `closed_quantity`. Closing orders sell
  `sellable_quantity()` = the held quantity rounded DOWN to the step, never more.
- `total_invested_usd = Σ avg_fill × filled` over the open legs, fees excluded: fees are
  charged where they are realised (SPEC §7 "realised … − fees"), and
  `weighted_avg_entry × total_filled_quantity = total_invested_usd` stays an identity.
- A leg counts as filled in `filled_dca_legs` only when its status is `filled`; a partly filled
  leg (working, or cancelled after a partial fill) holds its partial quantity but is not
  "filled".
- `weighted_avg_entry` keeps 18 decimals (half-even); products and sums are exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from server.domain.enums import OrderStatus
from server.domain.exact import AVERAGE_PLACES, ZERO, add, as_decimal, div, mul
from server.domain.pnl import fee_in_quote
from server.domain.precision import round_qty_down

__all__ = [
    "GroupAggregates",
    "LegFill",
    "LegState",
    "aggregate",
    "held_quantity",
    "sellable_quantity",
    "summarise_fills",
]

WORKING_ORDER_STATUSES = frozenset(
    {OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED}
)


@dataclass(frozen=True)
class LegState:
    """One DCA leg of a group as stored (a `DcaOrder` with purpose `entry`).

    `fee_quote` is the order's whole fee in the quote currency (a fee paid in the base asset or
    in BNB converted at the fill's price / the conversion rate: SPEC §7 stores it so);
    `fee_base` is the part the exchange took out of the bought base asset, in base units —
    what was actually received is `filled_quantity − fee_base`.
    """

    pyramid: int
    leg: int
    status: OrderStatus
    quantity: Decimal  # ordered
    filled_quantity: Decimal = ZERO
    avg_fill_price: Decimal | None = None
    tp_percent: Decimal = ZERO
    tp_hit: bool = False
    fee_quote: Decimal = ZERO
    fee_base: Decimal = ZERO
    price: Decimal | None = None  # intended price (limit, or the reference of a market leg)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", OrderStatus(self.status))
        if self.filled_quantity < 0 or self.fee_base < 0:
            raise ValueError("filled_quantity and fee_base must not be negative")
        if self.filled_quantity > 0 and self.avg_fill_price is None:
            raise ValueError(f"leg {self.pyramid}.{self.leg}: a fill needs its avg_fill_price")

    @property
    def has_fill(self) -> bool:
        return self.filled_quantity > 0

    @property
    def is_open(self) -> bool:
        """The leg holds a position: something filled and its TP has not closed it."""
        return self.has_fill and not self.tp_hit

    @property
    def working(self) -> bool:
        """The entry order may still fill (pending, open or partially filled)."""
        return self.status in WORKING_ORDER_STATUSES

    @property
    def held(self) -> Decimal:
        """What this leg put in the account: filled minus the fee taken in the base asset."""
        return held_quantity(self.filled_quantity, self.fee_base)

    @property
    def cost(self) -> Decimal:
        """avg_fill_price × filled_quantity (exact)."""
        return mul(self.avg_fill_price, self.filled_quantity) if self.has_fill else ZERO


@dataclass(frozen=True)
class GroupAggregates:
    total_dca_legs: int
    filled_dca_legs: int
    total_filled_quantity: Decimal  # gross, open legs, after closed_quantity
    held_quantity: Decimal  # net of base-asset fees, after closed_quantity
    total_invested_usd: Decimal  # Σ fill × qty of what is held (fees excluded)
    weighted_avg_entry: Decimal | None  # None when nothing is held
    entry_fees_usd: Decimal  # quote fees of the open legs' entries (pro rata after closes)
    open_legs: int  # legs holding a position

    @property
    def progress(self) -> str:
        return f"{self.filled_dca_legs}/{self.total_dca_legs}"


def held_quantity(filled_quantity: Decimal, fee_base: Decimal = ZERO) -> Decimal:
    """Base actually received by a buy: `filled − fee charged in the base asset` (never < 0)."""
    held = add(as_decimal(filled_quantity, "filled_quantity"), -as_decimal(fee_base, "fee_base"))
    return max(held, ZERO)


def sellable_quantity(held: Decimal, step: Decimal, cap: Decimal | None = None) -> Decimal:
    """The most a closing order may sell: `held` (capped at `cap`, e.g. the group's or the
    account's free balance) rounded DOWN to the step. Never more than is held."""
    amount = as_decimal(held, "held")
    if cap is not None:
        amount = min(amount, as_decimal(cap, "cap"))
    return round_qty_down(max(amount, ZERO), step)


def aggregate(legs: Iterable[LegState], closed_quantity: Decimal = ZERO) -> GroupAggregates:
    """Aggregates of a group from all its legs (every pyramid), see the module docstring."""
    legs = list(legs)
    open_legs = [leg for leg in legs if leg.is_open]
    gross = add(*(leg.filled_quantity for leg in open_legs))
    held = add(*(leg.held for leg in open_legs))
    cost = add(*(leg.cost for leg in open_legs))
    fees = add(*(leg.fee_quote for leg in open_legs))
    closed = as_decimal(closed_quantity, "closed_quantity")
    average = div(cost, gross, AVERAGE_PLACES, ROUND_HALF_EVEN) if gross > 0 else None
    if closed > 0 and gross > 0:
        remaining = max(add(gross, -closed), ZERO)
        share = (remaining, gross)
        cost = _pro_rata(cost, share)
        fees = _pro_rata(fees, share)
        gross, held = remaining, max(add(held, -closed), ZERO)
    return GroupAggregates(
        total_dca_legs=len(legs),
        filled_dca_legs=sum(1 for leg in legs if leg.status is OrderStatus.FILLED),
        total_filled_quantity=gross,
        held_quantity=held,
        total_invested_usd=cost,
        weighted_avg_entry=average if gross > 0 else None,
        entry_fees_usd=fees,
        open_legs=len(open_legs),
    )


def _pro_rata(amount: Decimal, share: tuple[Decimal, Decimal]) -> Decimal:
    remaining, whole = share
    return div(mul(amount, remaining), whole, AVERAGE_PLACES, ROUND_HALF_EVEN)


# --------------------------------------------------------------------------- fills from trades


@dataclass(frozen=True)
class LegFill:
    """An order's fill state summarised from its trades."""

    filled_quantity: Decimal
    avg_fill_price: Decimal | None
    fee_quote: Decimal
    fee_base: Decimal
    unconverted: tuple[str, ...]  # fee currencies with no rate given (fee not counted)


def summarise_fills(
    trades: Sequence[tuple[Decimal, Decimal, Decimal, str | None]],
    *,
    base: str,
    quote: str,
    rates: dict[str, Decimal] | None = None,
) -> LegFill:
    """(price, amount, fee_cost, fee_currency) trades of one order → filled quantity, average
    fill price (Σ price × amount / Σ amount, 18 decimals), fees in the quote currency and the
    part paid in the base asset. A base-asset fee converts at its trade's price; any other
    currency (BNB) needs `rates[currency]` in quote per unit, otherwise it is listed in
    `unconverted` and left out (the caller logs it)."""
    rates = rates or {}
    amount_total = ZERO
    cost_total = ZERO
    fee_quote = ZERO
    fee_base = ZERO
    missing: list[str] = []
    for price, amount, fee_cost, fee_currency in trades:
        price, amount = as_decimal(price, "price"), as_decimal(amount, "amount")
        amount_total = add(amount_total, amount)
        cost_total = add(cost_total, mul(price, amount))
        fee_cost = as_decimal(fee_cost or ZERO, "fee_cost")
        if fee_cost == 0:
            continue
        converted = fee_in_quote(
            fee_cost, fee_currency, base=base, quote=quote, price=price, rates=rates
        )
        if converted is None:
            currency = (fee_currency or "?").upper()
            if currency not in missing:
                missing.append(currency)
            continue
        fee_quote = add(fee_quote, converted)
        if (fee_currency or quote).upper() == base.upper():
            fee_base = add(fee_base, fee_cost)
    average = (
        div(cost_total, amount_total, AVERAGE_PLACES, ROUND_HALF_EVEN) if amount_total > 0 else None
    )
    return LegFill(amount_total, average, fee_quote, fee_base, tuple(missing))
