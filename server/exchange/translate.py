"""The one place ccxt exceptions become the engine's own (ARCHITECTURE.md, freqtrade's ladder).

Most specific first: an `OrderNotFound` is also an `InvalidOrder` in ccxt, and
`RateLimitExceeded` is also a `NetworkError`.
"""

from __future__ import annotations

import ccxt

from server.exchange import errors

_DUPLICATE_MARKERS = (
    "duplicate order",  # Binance spot -2010 "Duplicate order sent."
    "clientorderid is duplicated",  # Binance USDⓈ-M -4116
    "orderlinkedid is duplicate",  # Bybit linear 110072
    "duplicate clientorderid",  # Bybit spot 170141
)


class DuplicateClientOrderId(errors.InvalidOrder):
    """The exchange already has an order with this client order id (a retry raced the first)."""


def _retry_after(exchange) -> float | None:
    headers = getattr(exchange, "last_response_headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


def translate(exc: Exception, exchange=None) -> errors.ExchangeError:
    """The engine exception for a ccxt exception (the message is kept, credentials never are)."""
    message = str(exc)[:500]
    lowered = message.lower()
    ladder = (
        (ccxt.OrderNotFound, errors.OrderNotFound),
        (ccxt.InsufficientFunds, errors.InsufficientFunds),
        (ccxt.PermissionDenied, errors.PermissionDenied),
        (ccxt.AuthenticationError, errors.AuthenticationFailed),
        (ccxt.BadSymbol, errors.UnknownSymbol),
    )
    for ccxt_type, engine_type in ladder:
        if isinstance(exc, ccxt_type):
            return engine_type(message)
    if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        return errors.RateLimited(message, _retry_after(exchange))
    if isinstance(exc, ccxt.ExchangeNotAvailable | ccxt.OnMaintenance):
        return errors.ExchangeUnavailable(message)
    if isinstance(exc, ccxt.NetworkError):  # RequestTimeout, InvalidNonce, connection refused
        return errors.TemporaryError(message)
    if isinstance(exc, ccxt.InvalidOrder | ccxt.BadRequest):
        if any(marker in lowered for marker in _DUPLICATE_MARKERS):
            return DuplicateClientOrderId(message)
        return errors.InvalidOrder(message)
    if "insufficient balance" in lowered:
        return errors.InsufficientFunds(message)
    return errors.ExchangeError(message)
