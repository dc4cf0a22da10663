"""Exchange failures named by what the caller must do (freqtrade's ladder, SPEC §4.6)."""

from __future__ import annotations


class ExchangeError(Exception):
    """Base of every exchange failure the engine handles."""


class TemporaryError(ExchangeError):
    """Network, timeout, 5xx, exchange busy: retry later under the same client order id."""


class ExchangeUnavailable(TemporaryError):
    """The exchange is down or in maintenance."""


class RateLimited(TemporaryError):
    """Too many requests; wait `retry_after` seconds (when the exchange says) before retrying."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BudgetExhausted(RateLimited):
    """The shared request budget had no room within the allowed wait: nothing was sent."""


class CircuitOpen(TemporaryError):
    """This account's circuit breaker is open: the call was not sent at all."""

    def __init__(self, message: str, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class InsufficientFunds(ExchangeError):
    """Not enough balance: fail this order, alert, send no more orders for the group."""


class InvalidOrder(ExchangeError):
    """The order breaks the market's rules (precision, filters, reduce-only): do not retry."""


class AuthenticationFailed(ExchangeError):
    """Bad key, secret or signature: pause trading for the user until the keys validate."""


class PermissionDenied(AuthenticationFailed):
    """The key is valid but lacks a permission the engine needs (e.g. trading)."""


class OrderNotFound(ExchangeError):
    """The exchange has no such order (by exchange id or client order id)."""


class UnknownSymbol(ExchangeError):
    """The account's market has no such symbol."""
