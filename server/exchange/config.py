"""Everything needed to reach one exchange account, independent of the database."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.domain.enums import AccountMode, Exchange, MarketType


@dataclass(frozen=True)
class ExchangeConfig:
    account_id: str
    exchange: Exchange
    market_type: MarketType
    mode: AccountMode
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    simulator_url: str | None = None
    timeout_ms: int = 10_000

    @property
    def venue(self) -> str:
        """`binance:spot`, `bybit:futures`, ...: the key of market rules and caches."""
        return f"{self.exchange.value}:{self.market_type.value}"
