"""Pure order matching: no HTTP, no clock, no balances — callers pass `now` and own the money.

The simulator and the engine's future *paper* exchange both use this module. The model is a
single last price per symbol with unlimited liquidity at that price:

* a MARKET order, or a LIMIT order that is marketable on arrival (buy price >= last, sell price
  <= last), takes at the last price (taker fee);
* a resting LIMIT order fills at its own limit price (maker fee) when a later price update
  crosses it (buy: new price <= limit, sell: new price >= limit);
* every matching event fills one *chunk*: `partial_fill_ratio` x the original quantity, rounded
  down to the lot step, at least one step, at most what remains. With the default ratio 1 every
  event fills the whole order; with 0.5 it takes two events.
* what a MARKET order could not fill in its one event EXPIRES (Binance `EXPIRED`), and so does
  the unfilled rest of IOC orders; FOK orders fill completely or expire untouched.

Fees: `FeeSchedule(maker, taker, charge)` with `charge="received"` (Binance spot: the asset you
receive — base on a buy, quote on a sell) or `charge="quote"` (USDⓈ-M futures: always the quote
asset). Commission is rounded half-up to 8 decimals. Everything is `Decimal`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)
EIGHT_DP = Decimal("0.00000001")

BUY, SELL = "BUY", "SELL"
LIMIT, MARKET, LIMIT_MAKER = "LIMIT", "MARKET", "LIMIT_MAKER"
NEW, PARTIALLY_FILLED, FILLED = "NEW", "PARTIALLY_FILLED", "FILLED"
CANCELED, EXPIRED, REJECTED = "CANCELED", "EXPIRED", "REJECTED"
OPEN_STATUSES = frozenset({NEW, PARTIALLY_FILLED})

# cap(order, qty) -> qty the caller allows to execute now (reduce-only, funds); 0 expires it
Cap = Callable[["Order", Decimal], Decimal]


@dataclass(frozen=True)
class FeeSchedule:
    """Commission rates of one venue; `charge` says which asset pays ("received" or "quote")."""

    maker: Decimal
    taker: Decimal
    charge: str = "received"


@dataclass
class Fill:
    """One execution of one order (a Binance trade / a Bybit execution)."""

    trade_id: int
    order_id: int
    owner: str
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    is_maker: bool
    time_ms: int
    realized_pnl: Decimal = ZERO


@dataclass
class Order:
    """An order and its execution state; `step` is the lot step used to size chunks."""

    order_id: int
    owner: str
    symbol: str
    base: str
    quote: str
    side: str
    type: str
    qty: Decimal
    price: Decimal | None
    time_in_force: str
    client_order_id: str
    step: Decimal
    created_ms: int
    reduce_only: bool = False
    quote_order_qty: Decimal = ZERO
    executed: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = NEW
    updated_ms: int = 0
    fills: list[Fill] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.executed

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed if self.executed else ZERO


def floor_to_step(qty: Decimal, step: Decimal) -> Decimal:
    """Round `qty` down to a multiple of `step` (no rounding when step is 0)."""
    if step <= 0:
        return qty
    return (qty / step).to_integral_value(rounding=ROUND_DOWN) * step


def chunk_qty(order: Order, ratio: Decimal) -> Decimal:
    """Quantity one matching event fills: ratio x original qty, floored to the step, >= 1 step."""
    if ratio >= ONE:
        return order.remaining
    chunk = max(floor_to_step(order.qty * ratio, order.step), order.step)
    return min(chunk, order.remaining)


def is_marketable(order: Order, last: Decimal) -> bool:
    """True when the order would take liquidity at the current last price."""
    if order.type == MARKET or order.price is None:
        return True
    return order.price >= last if order.side == BUY else order.price <= last


def crosses(order: Order, price: Decimal) -> bool:
    """True when a price update reaches a resting limit order."""
    assert order.price is not None
    return price <= order.price if order.side == BUY else price >= order.price


def commission_for(side: str, qty: Decimal, quote_qty: Decimal, rate: Decimal, fees: FeeSchedule):
    """(commission, 'base'|'quote') for one fill under the fee schedule."""
    if fees.charge == "received" and side == BUY:
        return (qty * rate).quantize(EIGHT_DP, rounding=ROUND_HALF_UP), "base"
    return (quote_qty * rate).quantize(EIGHT_DP, rounding=ROUND_HALF_UP), "quote"


def execute(
    order: Order,
    price: Decimal,
    qty: Decimal,
    is_maker: bool,
    fees: FeeSchedule,
    trade_id: int,
    now: int,
) -> Fill:
    """Record one fill of `qty` at `price` on the order and return it."""
    quote_qty = price * qty
    rate = fees.maker if is_maker else fees.taker
    commission, which = commission_for(order.side, qty, quote_qty, rate, fees)
    fill = Fill(
        trade_id=trade_id,
        order_id=order.order_id,
        owner=order.owner,
        symbol=order.symbol,
        side=order.side,
        price=price,
        qty=qty,
        quote_qty=quote_qty,
        commission=commission,
        commission_asset=order.base if which == "base" else order.quote,
        is_maker=is_maker,
        time_ms=now,
    )
    order.executed += qty
    order.cum_quote += quote_qty
    order.status = FILLED if order.remaining <= 0 else PARTIALLY_FILLED
    order.updated_ms = now
    order.fills.append(fill)
    return fill


class Book:
    """The resting limit orders of one symbol, in time priority, for every owner."""

    def __init__(self) -> None:
        self._orders: dict[int, Order] = {}

    def __iter__(self) -> Iterator[Order]:
        return iter(list(self._orders.values()))

    def __len__(self) -> int:
        return len(self._orders)

    def remove(self, order_id: int) -> Order | None:
        return self._orders.pop(order_id, None)

    def place(
        self,
        order: Order,
        last: Decimal,
        now: int,
        fees: FeeSchedule,
        ratio: Decimal,
        next_trade_id: Callable[[], int],
        cap: Cap | None = None,
    ) -> list[Fill]:
        """Match a new order against `last`; rest what a GTC limit did not fill. Returns fills.

        The caller has already refused post-only orders that would take (see `is_marketable`).
        """
        order.updated_ms = now
        fills: list[Fill] = []
        if is_marketable(order, last):
            qty = chunk_qty(order, ratio)
            if cap is not None:
                qty = min(qty, cap(order, qty))
            if order.time_in_force == "FOK" and qty < order.qty:
                qty = ZERO
            if qty > 0:
                fills.append(execute(order, last, qty, False, fees, next_trade_id(), now))
        if order.remaining <= 0:
            return fills
        if order.type == MARKET or order.time_in_force in ("IOC", "FOK"):
            order.status = EXPIRED
        else:
            self._orders[order.order_id] = order
        return fills

    def on_price(
        self,
        price: Decimal,
        now: int,
        fees: FeeSchedule,
        ratio: Decimal,
        next_trade_id: Callable[[], int],
        cap: Cap | None = None,
    ) -> tuple[list[Fill], list[Order]]:
        """Fill one chunk of every resting order the new price crosses, at the order's price.

        Returns the fills and the orders that left the book (filled, or expired by `cap`).
        """
        fills: list[Fill] = []
        closed: list[Order] = []
        for order in list(self._orders.values()):
            if not crosses(order, price):
                continue
            qty = chunk_qty(order, ratio)
            if cap is not None:
                qty = min(qty, cap(order, qty))
            if qty <= 0:
                order.status = EXPIRED
                order.updated_ms = now
                closed.append(self._orders.pop(order.order_id))
                continue
            assert order.price is not None
            fills.append(execute(order, order.price, qty, True, fees, next_trade_id(), now))
            if order.remaining <= 0:
                closed.append(self._orders.pop(order.order_id))
        return fills, closed
