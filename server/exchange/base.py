"""The exchange interface the engine programs against (SPEC §11)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from decimal import Decimal

from server.domain.precision import MarketRules
from server.exchange.types import (
    Balance,
    ConnectivityCheck,
    ExchangeOrder,
    OrderSide,
    OrderType,
    Ticker,
    Trade,
)


class ExchangeClient(ABC):
    """One exchange account. Symbols are the exchange's ids (`BTCUSDT`), never ccxt's."""

    @abstractmethod
    def load_markets(self, reload: bool = False) -> dict[str, MarketRules]:
        """Precision rules of every tradable symbol of this account's market."""

    def market_rules(self, symbol: str) -> MarketRules:
        from server.exchange.errors import UnknownSymbol

        rules = self.load_markets().get(symbol)
        if rules is None:
            raise UnknownSymbol(f"{symbol} is not traded on this market")
        return rules

    @abstractmethod
    def fetch_ticker(self, symbol: str) -> Ticker: ...

    def fetch_tickers(self, symbols: Sequence[str]) -> dict[str, Ticker]:
        """Last prices of several symbols, keyed by symbol — in one request where the exchange
        allows it (the price monitor asks once per venue per cycle). This fallback asks one by
        one."""
        return {s: self.fetch_ticker(s) for s in dict.fromkeys(symbols)}

    @abstractmethod
    def create_order(
        self,
        symbol: str,
        side: OrderSide,
        type: OrderType,
        amount: Decimal,
        price: Decimal | None,
        client_order_id: str,
        reduce_only: bool = False,
    ) -> ExchangeOrder:
        """Send one order under our deterministic client order id (never blindly re-sent)."""

    @abstractmethod
    def fetch_order(
        self, symbol: str, *, exchange_id: str | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder: ...

    @abstractmethod
    def cancel_order(
        self, symbol: str, *, exchange_id: str | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder: ...

    @abstractmethod
    def fetch_open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]: ...

    @abstractmethod
    def fetch_balance(self) -> dict[str, Balance]: ...

    @abstractmethod
    def fetch_order_trades(self, symbol: str, exchange_id: str) -> list[Trade]: ...

    @abstractmethod
    def check_connectivity(self) -> ConnectivityCheck:
        """Balance plus a trading-permission probe, with a precise message on failure."""
