"""Exchange clients for stored accounts: credentials from the vault, breaker state in Redis.

One client per account per process, kept while the account's keys are unchanged, so loaded
markets and ccxt's HTTP session are reused across jobs.
"""

from __future__ import annotations

import threading

from flask import current_app

from server import runtime
from server.domain.enums import AccountMode, Exchange, MarketType
from server.exchange.base import ExchangeClient
from server.exchange.ccxt_client import CcxtExchange
from server.exchange.config import ExchangeConfig
from server.exchange.resilience import Guard
from server.persistence.models import ExchangeAccount
from server.state.breakers import RedisBreakerStore

_clients: dict[tuple, ExchangeClient] = {}
_lock = threading.Lock()


def breaker_store() -> RedisBreakerStore:
    return RedisBreakerStore(runtime.redis_client(), current_app.config["RQ_QUEUE_PREFIX"])


def config_for(account: ExchangeAccount) -> ExchangeConfig:
    from server.services.accounts import credentials

    key, secret = credentials(account)
    return ExchangeConfig(
        account_id=str(account.id),
        exchange=Exchange(account.exchange),
        market_type=MarketType(account.market_type),
        mode=AccountMode(account.mode),
        api_key=key,
        api_secret=secret,
        simulator_url=current_app.config["SIMULATOR_URL"],
        timeout_ms=current_app.config["EXCHANGE_TIMEOUT_MS"],
    )


def client_for(account: ExchangeAccount) -> ExchangeClient:
    """The cached client of `account` (rebuilt when its keys or mode change)."""
    cache_key = (
        str(account.id),
        account.api_key_enc,
        account.api_secret_enc,
        account.mode,
        current_app.config["SIMULATOR_URL"],
    )
    with _lock:
        client = _clients.get(cache_key)
        if client is None:
            for stale in [k for k in _clients if k[0] == cache_key[0]]:
                del _clients[stale]
            client = _clients[cache_key] = CcxtExchange(
                config_for(account), Guard(str(account.id), breaker_store())
            )
        return client


def breaker_report(accounts) -> list[dict]:
    """Circuit-breaker state of each account, for /api/health and the engine status."""
    store = breaker_store()
    report = []
    for account in accounts:
        state = store.load(str(account.id))
        report.append(
            {
                "account_id": str(account.id),
                "exchange": account.exchange,
                "market_type": account.market_type,
                "mode": account.mode,
                "breaker": state.status.value,
                "consecutive_failures": state.consecutive_failures,
                "last_error": state.last_error,
            }
        )
    return report
