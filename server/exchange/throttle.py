"""Every exchange request admitted against budgets shared by all workers (`state.rate_budget`),
in place of ccxt's per-call spacing (`rateLimit × cost` before *every* call, per process).

- **IP budget** per venue (`<prefix>engine:ratelimit:ip:<venue>:<mode>`; Bybit's spot and linear
  share one, as its IP limit does): ccxt's own request costs, at the pace ccxt's `rateLimit`
  stands for, over a 10 s sliding window — Binance: 10,000 / 50 ms = 200 cost per 10 s (ccxt
  counts a fifth of Binance's weight: 1,000 weight per 10 s, the documented 6,000 a minute),
  Bybit: 10,000 / 20 ms = 500 per 10 s (its limit is 600 requests per 5 s).
- **Order budget** per API key (`<prefix>engine:ratelimit:key:<sha256(key)[:16]>`): order
  creates, 80 % of the documented limits (Binance spot 100 / 10 s, USDⓈ-M 300 / 10 s, Bybit
  v5 order/create 20 / s spot, 10 / s linear).
- A request goes at once while its budgets have room; otherwise it waits (at most
  `max_wait` seconds in all) or fails as `BudgetExhausted` (a `RateLimited`: the order stays
  pending and is re-sent under its client id) without reaching the exchange.
- After an HTTP 429/418 (or Bybit's 10006) the venue's IP key is penalised for the
  Retry-After (1 s when absent): every worker backs off, not only the one that was told — on
  Bybit, whose limit was per API key, all accounts of the venue wait: cautious, and short.

Against the simulator the budgets are off unless asked for (`enforce=False`: its capacity is
unbounded) — the penalty after a 429 still applies.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from server.domain.enums import Exchange, MarketType
from server.exchange.config import ExchangeConfig
from server.exchange.errors import BudgetExhausted

__all__ = ["BudgetExhausted", "Throttle"]

IP_WINDOW_MS = 10_000
ORDER_LIMITS = {  # (orders, window ms) per API key: 80 % of the documented limits
    (Exchange.BINANCE, MarketType.SPOT): (80, 10_000),
    (Exchange.BINANCE, MarketType.FUTURES): (240, 10_000),
    (Exchange.BYBIT, MarketType.SPOT): (16, 1_000),
    (Exchange.BYBIT, MarketType.FUTURES): (8, 1_000),
}
UNBOUNDED = 1e9
DEFAULT_PENALTY_SEC = 1.0


class Throttle:
    """Admits one account's requests (see the module docstring). `budget` is a
    `state.rate_budget.RateBudget` (anything with `take(budgets, weight)` and
    `penalize(keys, seconds)`); `budget_type` builds its `Budget` entries."""

    def __init__(
        self,
        config: ExchangeConfig,
        rate_limit_ms: float,
        budget,
        budget_type,
        prefix: str = "",
        *,
        enforce: bool = True,
        max_wait: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.budget = budget
        self.max_wait = max_wait
        self.sleep = sleep
        venue = (
            config.exchange.value
            if config.exchange is Exchange.BYBIT
            else f"{config.exchange.value}-{config.market_type.value}"
        )
        digest = hashlib.sha256((config.api_key or "").encode()).hexdigest()[:16]
        ip_capacity = IP_WINDOW_MS / rate_limit_ms if enforce else UNBOUNDED
        orders, window = ORDER_LIMITS[(config.exchange, config.market_type)]
        self.ip = budget_type(
            f"{prefix}engine:ratelimit:ip:{venue}:{config.mode.value}", ip_capacity, IP_WINDOW_MS
        )
        self.key = budget_type(
            f"{prefix}engine:ratelimit:key:{digest}", orders if enforce else UNBOUNDED, window
        )
        self._local = threading.local()

    def next_is_order(self) -> None:
        """The next request of this thread creates an order (counted on the key's budget)."""
        self._local.order = True

    def admit(self, cost: float | None = None) -> None:
        """Block until the request may go (bounded), or raise `BudgetExhausted`."""
        order = getattr(self._local, "order", False)
        self._local.order = False
        budgets = [self.ip, self.key] if order else [self.ip]
        waited = 0.0
        while True:
            wait = self.budget.take(budgets, float(cost or 1))
            if wait <= 0:
                return
            if waited + wait > self.max_wait:
                raise BudgetExhausted(
                    f"exchange request budget exhausted ({'order' if order else 'request'}); "
                    f"retry in {wait:.2f}s",
                    retry_after=wait,
                )
            self.sleep(wait)
            waited += wait

    def penalize(self, retry_after: float | None) -> None:
        """The exchange said 429/418: nobody sends on the penalised key for Retry-After."""
        self.budget.penalize([self.ip.key], retry_after or DEFAULT_PENALTY_SEC)
