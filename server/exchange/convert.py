"""ccxt's unified dicts → the engine's dataclasses, with Decimals.

ccxt's Python numbers are floats; `Decimal(str(x))` recovers the shortest decimal that
round-trips, which is the exchange's own string for every value with ≤ 15 significant digits
(all prices and quantities we trade). Raw `info` strings are preferred where ccxt keeps them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from server.exchange.types import (
    Balance,
    ExchangeOrder,
    ExchangeOrderStatus,
    Fee,
    OrderSide,
    OrderType,
    Ticker,
    Trade,
)

_STATUS = {
    "open": ExchangeOrderStatus.OPEN,
    "closed": ExchangeOrderStatus.FILLED,
    "canceled": ExchangeOrderStatus.CANCELLED,
    "cancelled": ExchangeOrderStatus.CANCELLED,
    "rejected": ExchangeOrderStatus.REJECTED,
    "expired": ExchangeOrderStatus.EXPIRED,
}


def dec(value) -> Decimal | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _time(ms) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


def _fee(raw: dict | None) -> Fee | None:
    if not raw or raw.get("cost") is None:
        return None
    return Fee(dec(raw["cost"]), raw.get("currency"))


def ticker(engine_symbol: str, raw: dict) -> Ticker:
    last = dec(raw.get("last")) or dec(raw.get("close"))
    if last is None:
        raise ValueError(f"no last price for {engine_symbol}")
    return Ticker(
        engine_symbol, last, dec(raw.get("bid")), dec(raw.get("ask")), _time(raw.get("timestamp"))
    )


def last_price(engine_symbol: str, raw: dict) -> Ticker:
    """ccxt's last-price entry (`fetch_last_prices`): a price and a time, no bid or ask."""
    price = dec(raw.get("price"))
    if price is None:
        raise ValueError(f"no last price for {engine_symbol}")
    return Ticker(engine_symbol, price, None, None, _time(raw.get("timestamp")))


def trade(engine_symbol: str, raw: dict, order_side: str | None = None) -> Trade:
    """One fill; fills embedded in an order answer may omit the side (the order's applies)."""
    return Trade(
        id=str(raw["id"]),
        order_id=str(raw.get("order")),
        symbol=engine_symbol,
        side=OrderSide(raw.get("side") or order_side),
        price=dec(raw["price"]),
        amount=dec(raw["amount"]),
        fee=_fee(raw.get("fee")),
        at=_time(raw.get("timestamp")),
    )


def order(engine_symbol: str, raw: dict) -> ExchangeOrder:
    amount = dec(raw.get("amount")) or Decimal(0)
    filled = dec(raw.get("filled")) or Decimal(0)
    status = _STATUS.get(raw.get("status") or "open", ExchangeOrderStatus.OPEN)
    if status is ExchangeOrderStatus.OPEN and filled > 0:
        status = ExchangeOrderStatus.PARTIALLY_FILLED
    fees = tuple(f for f in (_fee(x) for x in (raw.get("fees") or [raw.get("fee")])) if f)
    return ExchangeOrder(
        id=str(raw["id"]),
        client_order_id=raw.get("clientOrderId"),
        symbol=engine_symbol,
        side=OrderSide(raw["side"]),
        type=OrderType(raw["type"]) if raw.get("type") in ("limit", "market") else OrderType.LIMIT,
        status=status,
        price=dec(raw.get("price")),
        amount=amount,
        filled=filled,
        average=dec(raw.get("average")),
        fees=fees,
        reduce_only=bool(raw.get("reduceOnly")),
        at=_time(raw.get("timestamp")),
        trades=tuple(
            trade(engine_symbol, t, raw["side"]) for t in raw.get("trades") or () if t.get("id")
        ),
    )


def balances(raw: dict) -> dict[str, Balance]:
    result = {}
    for currency, total in (raw.get("total") or {}).items():
        if total is None:
            continue
        result[currency] = Balance(
            currency,
            dec(raw.get("free", {}).get(currency)) or Decimal(0),
            dec(raw.get("used", {}).get(currency)) or Decimal(0),
            dec(total),
        )
    return result
