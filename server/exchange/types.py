"""What the exchange layer hands back: the engine's own frozen dataclasses with Decimals.

Never a raw ccxt dict: callers must not depend on ccxt's shapes or on floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class ExchangeOrderStatus(StrEnum):
    """The exchange's view of an order, unified across exchanges."""

    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Ticker:
    symbol: str
    last: Decimal
    bid: Decimal | None
    ask: Decimal | None
    at: datetime | None


@dataclass(frozen=True)
class Fee:
    cost: Decimal
    currency: str | None


@dataclass(frozen=True)
class Trade:
    """One fill of an order, keyed by the exchange's trade id (apply twice = once)."""

    id: str
    order_id: str
    symbol: str
    side: OrderSide
    price: Decimal
    amount: Decimal
    fee: Fee | None
    at: datetime | None


@dataclass(frozen=True)
class ExchangeOrder:
    id: str
    client_order_id: str | None
    symbol: str
    side: OrderSide
    type: OrderType
    status: ExchangeOrderStatus
    price: Decimal | None
    amount: Decimal
    filled: Decimal
    average: Decimal | None
    fees: tuple[Fee, ...] = field(default_factory=tuple)
    reduce_only: bool = False
    at: datetime | None = None
    trades: tuple[Trade, ...] = field(default_factory=tuple)

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled

    @property
    def is_done(self) -> bool:
        return self.status in (
            ExchangeOrderStatus.FILLED,
            ExchangeOrderStatus.CANCELLED,
            ExchangeOrderStatus.REJECTED,
            ExchangeOrderStatus.EXPIRED,
        )


@dataclass(frozen=True)
class Balance:
    currency: str
    free: Decimal
    used: Decimal
    total: Decimal


@dataclass(frozen=True)
class ConnectivityCheck:
    """Outcome of the account check: `error` says precisely what failed and what to do."""

    valid: bool
    error: str | None = None
    can_trade: bool | None = None
