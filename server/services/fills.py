"""Fills of an order, applied idempotently (SPEC §4.3, §7).

Every exchange trade becomes one `Fill` row keyed by (order, trade id): inserting it again
changes nothing, so an answer read twice, a monitor pass racing a send, or a replay after a
crash can never count a fill twice. The order's `filled_quantity`, `avg_fill_price`, `fee`
(quote currency) and `fee_base` are then recomputed from *all* its fill rows — never
incremented — with `aggregates.summarise_fills`:

- a fee in the quote currency is taken as is;
- a fee in the base asset (Binance spot buys, unless BNB pays) is converted at its trade's
  price and also recorded as `fee_base`: the position holds `filled − fee_base`;
- a fee in a third currency (BNB) is kept raw on the fill row and left out of `fee` (no
  conversion rate is known here); a WARNING says so once per order and currency.

Call inside the caller's transaction, with the order's row locked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from server.domain.aggregates import summarise_fills
from server.domain.exact import ZERO
from server.domain.pnl import fee_in_quote
from server.domain.precision import MarketRules
from server.exchange.types import Trade
from server.persistence.models import DcaOrder, Fill
from server.persistence.prepared import Prepared, Slot

__all__ = ["FillsApplied", "apply_fills", "fills_of"]


@dataclass(frozen=True)
class FillsApplied:
    new_trades: int  # trades not seen before
    unconverted: tuple[str, ...]  # fee currencies left out of `fee` (no rate)
    last_price: Decimal | None  # price of the newest new trade (the group's last price)


def _row(order: DcaOrder, trade: Trade, rules: MarketRules) -> dict:
    fee_cost = trade.fee.cost if trade.fee is not None else ZERO
    currency = trade.fee.currency if trade.fee is not None else None
    fee_quote = (
        fee_in_quote(fee_cost, currency, base=rules.base, quote=rules.quote, price=trade.price)
        if fee_cost
        else ZERO
    )
    in_base = fee_cost and (currency or "").upper() == rules.base.upper()
    return {
        "order": order.id,
        "trade_id": str(trade.id)[:64],
        "price": trade.price,
        "amount": trade.amount,
        "fee_cost": fee_cost,
        "fee_currency": currency,
        "fee_quote": fee_quote,
        "fee_base": fee_cost if in_base else ZERO,
        "traded_at": trade.at,
    }


_FILLS_OF = Prepared(
    lambda: (
        Fill.select()
        .where(Fill.order == Slot("order", Fill.order))
        .order_by(Fill.traded_at, Fill.id)
    )
)
_TRADE_IDS = Prepared(
    lambda: Fill.select(Fill.trade_id).where(Fill.order == Slot("order", Fill.order))
)


def fills_of(order_id) -> list[Fill]:
    return list(_FILLS_OF.rows(order=order_id))


def apply_fills(order: DcaOrder, trades: Iterable[Trade], rules: MarketRules) -> FillsApplied:
    """Insert the trades not yet stored and recompute the order's fill figures from every
    stored trade (the order object is updated, not saved: the caller saves it)."""
    known = {f.trade_id for f in _TRADE_IDS.rows(order=order.id)}
    fresh = [t for t in trades if str(t.id)[:64] not in known and t.amount > 0]
    for trade in fresh:  # a unique (order, trade id) conflict is skipped, never an error
        Fill.insert(**_row(order, trade, rules)).on_conflict_ignore().execute()
    rows = fills_of(order.id)
    summary = summarise_fills(
        [(f.price, f.amount, f.fee_cost, f.fee_currency) for f in rows],
        base=rules.base,
        quote=rules.quote,
    )
    order.filled_quantity = summary.filled_quantity
    order.avg_fill_price = summary.avg_fill_price
    order.fee = summary.fee_quote
    order.fee_base = summary.fee_base
    order.fee_currency = rules.quote if rows else order.fee_currency
    newest = max(fresh, key=lambda t: (t.at is not None, t.at), default=None)
    return FillsApplied(
        new_trades=len(fresh),
        unconverted=summary.unconverted,
        last_price=newest.price if newest is not None else None,
    )
