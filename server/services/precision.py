"""Market rules for accounts: Redis cache first, the exchange on a miss (SPEC §3.3).

The cache namespace is exchange + mode + market type: simulated and testnet markets can
differ from live ones (paper trading reads the rules of its market data, live by default).
"""

from __future__ import annotations

import logging

from flask import current_app

from server import runtime
from server.domain.enums import AccountMode
from server.domain.precision import MarketRules
from server.exchange.errors import ExchangeError, UnknownSymbol
from server.persistence.models import ExchangeAccount
from server.services.exchanges import client_for, market_data_mode
from server.state import precision_cache

log = logging.getLogger(__name__)

CACHE_TTL_SECONDS = 24 * 3600  # refreshed every PRECISION_REFRESH_SEC; a day of outage is fine


def _namespace(account: ExchangeAccount) -> tuple[str, str]:
    mode = account.mode
    if mode == AccountMode.PAPER.value:  # paper trades on its market data's rules
        mode = market_data_mode().value
    return f"{account.exchange}.{mode}", account.market_type


def _store(account: ExchangeAccount, rules: dict[str, MarketRules]) -> int:
    exchange, market_type = _namespace(account)
    return precision_cache.put_many(
        runtime.redis_client(),
        current_app.config["RQ_QUEUE_PREFIX"],
        exchange,
        market_type,
        rules.values(),
        CACHE_TTL_SECONDS,
    )


def rules_for(account: ExchangeAccount, symbol: str) -> MarketRules:
    """Rules of `symbol` on the account's market; fetched from the exchange when missing.

    Raises UnknownSymbol when the market has no such symbol, and the exchange layer's
    TemporaryError when the exchange cannot be reached (the caller holds the signal)."""
    exchange, market_type = _namespace(account)
    prefix = current_app.config["RQ_QUEUE_PREFIX"]
    cached = precision_cache.get(runtime.redis_client(), prefix, exchange, market_type, symbol)
    if cached is not None:
        return cached
    rules = client_for(account).load_markets(reload=True)
    _store(account, rules)
    if symbol not in rules:
        raise UnknownSymbol(f"{symbol} is not traded on {account.exchange} {account.market_type}")
    return rules[symbol]


def refresh_all() -> dict[str, int]:
    """Reload the rules of every venue an active account trades on (one account per venue)."""
    seen: dict[tuple[str, str], ExchangeAccount] = {}
    for account in ExchangeAccount.select().where(ExchangeAccount.is_active == True):  # noqa: E712
        seen.setdefault(_namespace(account), account)
    written = {}
    for (exchange, market_type), account in seen.items():
        try:
            written[f"{exchange}:{market_type}"] = _store(
                account, client_for(account).load_markets(reload=True)
            )
        except ExchangeError as exc:
            log.warning("precision refresh failed for %s %s: %s", exchange, market_type, exc)
    return written
