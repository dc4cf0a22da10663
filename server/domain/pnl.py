"""Profit and loss (SPEC §7). Pure, exact `Decimal`s.

- Unrealised USD: long `(price − avg_entry) × qty`, short `(avg_entry − price) × qty`, where
  `qty` is the quantity the group holds now (`GroupAggregates.held_quantity`: filled, minus the
  fee the exchange took in the base asset, minus what was already closed). Without base-asset
  fees (futures, quote or BNB fees) that is exactly SPEC's filled quantity. Fees are not in
  the unrealised figure; they are charged when realised.
- Unrealised %: `unrealised_usd / total_invested_usd × 100`, 0 when nothing is invested.
- `unrealised()` and `realised_from_cost()` work from the exact totals (`entry_cost` =
  invested × qty / filled) instead of the 18-decimal `weighted_avg_entry`, so a group's PnL has
  no rounding dust (79.2240836 − 64,000 × 0.00123 = 0.5040836, not 0.50408359999…992).
- Realised per closing trade: long `(exit − entry) × qty − fees`, short
  `(entry − exit) × qty − fees`; `fees` = the closing order's fee plus the entry fees of the
  quantity it closes (a leg's own entry fee for a leg TP; every open leg's for a full close; a
  pro-rata share for a partial close — `aggregate(...).entry_fees_usd` does the share), all in
  the quote currency (`fee_in_quote`). The quote currency is treated as USD (USDT/USDC
  markets).

Rounding (docs/decisions.md): money is kept at full precision everywhere (products of finite
decimals are exact and are stored losslessly); only a percentage, a true quotient, is cut — to
8 decimals toward zero, so it never overstates a gain or a loss. `to_cents` (half-even) is for
display and log lines only, never for a stored or compared value.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext

from server.domain.enums import PositionSide
from server.domain.exact import (
    AVERAGE_PLACES,
    HUNDRED,
    PERCENT_PLACES,
    ZERO,
    add,
    as_decimal,
    div,
    mul,
)

CENT = Decimal("0.01")

__all__ = [
    "entry_cost",
    "fee_in_quote",
    "realised_from_cost",
    "realised_usd",
    "to_cents",
    "unrealised",
    "unrealised_percent",
    "unrealised_usd",
]


def _is_long(side: PositionSide | str) -> bool:
    value = PositionSide(str(side).lower())
    return value is PositionSide.LONG


def unrealised_usd(
    side: PositionSide | str, avg_entry: Decimal | None, price: Decimal, quantity: Decimal
) -> Decimal:
    """Long `(price − avg_entry) × qty`, short `(avg_entry − price) × qty`; 0 when nothing is
    held."""
    quantity = as_decimal(quantity, "quantity")
    if avg_entry is None or quantity == 0:
        return ZERO
    price, avg_entry = as_decimal(price, "price"), as_decimal(avg_entry, "avg_entry")
    move = add(price, -avg_entry) if _is_long(side) else add(avg_entry, -price)
    return mul(move, quantity)


def unrealised_percent(usd: Decimal, invested: Decimal) -> Decimal:
    """`usd / invested × 100`, 8 decimals toward zero; 0 when nothing is invested."""
    usd, invested = as_decimal(usd, "usd"), as_decimal(invested, "invested")
    if invested == 0:
        return ZERO
    return div(mul(usd, HUNDRED), invested, PERCENT_PLACES, ROUND_DOWN)


def entry_cost(invested: Decimal, filled_quantity: Decimal, quantity: Decimal) -> Decimal:
    """What `quantity` of a position cost at its average entry, from the exact totals:
    `invested × quantity / filled` (exactly `invested` for the whole position; a part keeps
    18 decimals) — the same as `avg_entry × quantity` without the average's rounding."""
    invested, filled = as_decimal(invested, "invested"), as_decimal(filled_quantity, "filled")
    quantity = as_decimal(quantity, "quantity")
    if quantity == filled:
        return invested
    if filled == 0:
        return ZERO
    return div(mul(invested, quantity), filled, AVERAGE_PLACES, ROUND_HALF_EVEN)


def unrealised(
    side: PositionSide | str,
    price: Decimal,
    *,
    held_quantity: Decimal,
    filled_quantity: Decimal,
    invested: Decimal,
) -> tuple[Decimal, Decimal]:
    """(unrealised USD, unrealised %) of a group at `price` from its aggregates
    (`held_quantity`, `total_filled_quantity`, `total_invested_usd`): long
    `price × held − cost(held)`, short `cost(held) − price × held` — SPEC's
    `(price − avg_entry) × qty` computed without rounding the average."""
    held = as_decimal(held_quantity, "held_quantity")
    if held == 0:
        return ZERO, ZERO
    value = mul(as_decimal(price, "price"), held)
    cost = entry_cost(invested, filled_quantity, held)
    usd = add(value, -cost) if _is_long(side) else add(cost, -value)
    return usd, unrealised_percent(usd, invested)


def realised_usd(
    side: PositionSide | str,
    entry: Decimal,
    exit_price: Decimal,
    quantity: Decimal,
    fees: Decimal = ZERO,
) -> Decimal:
    """Realised PnL of one close: long `(exit − entry) × qty − fees`, short
    `(entry − exit) × qty − fees` (exact)."""
    gross = unrealised_usd(side, entry, exit_price, quantity)
    return add(gross, -as_decimal(fees, "fees"))


def realised_from_cost(
    side: PositionSide | str,
    exit_price: Decimal,
    quantity: Decimal,
    cost: Decimal,
    fees: Decimal = ZERO,
) -> Decimal:
    """Realised PnL of closing `quantity` whose entry cost was `cost` (`entry_cost`): long
    `exit × qty − cost − fees`, short `cost − exit × qty − fees` (exact)."""
    proceeds = mul(as_decimal(exit_price, "exit_price"), as_decimal(quantity, "quantity"))
    cost = as_decimal(cost, "cost")
    gross = add(proceeds, -cost) if _is_long(side) else add(cost, -proceeds)
    return add(gross, -as_decimal(fees, "fees"))


def fee_in_quote(
    cost: Decimal,
    currency: str | None,
    *,
    base: str,
    quote: str,
    price: Decimal,
    rates: dict[str, Decimal] | None = None,
) -> Decimal | None:
    """A fee in the quote currency: quote as is, base × the trade `price`, another coin (BNB)
    × `rates[coin]` (quote per coin); `None` when no rate is known (the caller logs it)."""
    cost = as_decimal(cost, "cost")
    coin = (currency or quote).upper()
    if coin == quote.upper():
        return cost
    if coin == base.upper():
        return mul(cost, as_decimal(price, "price"))
    if rates and coin in rates:
        return mul(cost, as_decimal(rates[coin], "rate"))
    return None


def to_cents(value: Decimal) -> Decimal:
    """Display only: the amount rounded half-even to exactly two places (`39.8` → `39.80`)."""
    with localcontext() as ctx:
        ctx.prec = 200
        return as_decimal(value, "value").quantize(CENT, rounding=ROUND_HALF_EVEN)
