"""Exchange clients for stored accounts: credentials from the vault, breaker state in Redis.

One client per account per process, kept while the account's keys are unchanged, so loaded
markets and ccxt's HTTP session are reused across jobs. Paper accounts get a `PaperExchange`
(state in Redis, so every process sees the same orders and balances).
"""

from __future__ import annotations

import threading

from flask import current_app

from server import runtime
from server.domain.enums import AccountMode, Exchange, MarketType
from server.exchange.base import ExchangeClient
from server.exchange.ccxt_client import CcxtExchange
from server.exchange.config import ExchangeConfig
from server.exchange.paper import PaperExchange
from server.exchange.resilience import Guard
from server.exchange.throttle import Throttle
from server.persistence.models import ExchangeAccount
from server.state.breakers import RedisBreakerStore
from server.state.paper_store import PaperStore
from server.state.rate_budget import Budget, RateBudget

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


def throttle_factory(config: ExchangeConfig):
    """The shared request budget of `config`'s venue and key (`exchange.throttle`): enforced
    for real exchanges, and against the simulator only with EXCHANGE_BUDGET_SIMULATED=1 (the
    penalty after a 429 applies everywhere)."""
    cfg = current_app.config
    enforce = config.mode is not AccountMode.SIMULATED or cfg["EXCHANGE_BUDGET_SIMULATED"]
    budget = RateBudget(runtime.redis_client())

    def build(rate_limit_ms: float) -> Throttle:
        return Throttle(
            config,
            rate_limit_ms,
            budget,
            Budget,
            cfg["RQ_QUEUE_PREFIX"],
            enforce=bool(enforce),
            max_wait=cfg["EXCHANGE_BUDGET_MAX_WAIT_MS"] / 1000,
        )

    return build


def market_data_mode() -> AccountMode:
    """Where paper accounts read prices and markets: `PAPER_MARKET_DATA` (live by default; the
    tests and the demo point it at the local simulator with `simulated`)."""
    return AccountMode(current_app.config["PAPER_MARKET_DATA"])


def paper_store(account: ExchangeAccount) -> PaperStore:
    return PaperStore(
        runtime.redis_client(), current_app.config["RQ_QUEUE_PREFIX"], str(account.id)
    )


def _paper_client(account: ExchangeAccount) -> PaperExchange:
    """Orders simulated locally over public market data: the market-data client is a keyless
    `CcxtExchange` (public endpoints need no key) sharing the account's circuit breaker."""
    common = {
        "account_id": str(account.id),
        "exchange": Exchange(account.exchange),
        "market_type": MarketType(account.market_type),
        "api_key": "",
        "api_secret": "",
        "simulator_url": current_app.config["SIMULATOR_URL"],
        "timeout_ms": current_app.config["EXCHANGE_TIMEOUT_MS"],
    }
    data_config = ExchangeConfig(mode=market_data_mode(), **common)
    market_data = CcxtExchange(
        data_config,
        Guard(str(account.id), breaker_store()),
        throttle_factory=throttle_factory(data_config),
    )
    return PaperExchange(
        ExchangeConfig(mode=AccountMode.PAPER, **common),
        market_data,
        paper_store(account),
        start_balance=current_app.config["PAPER_START_BALANCE_USDT"],
    )


def client_for(account: ExchangeAccount) -> ExchangeClient:
    """The cached client of `account` (rebuilt when its keys or mode change): a `PaperExchange`
    for paper accounts, a `CcxtExchange` otherwise."""
    cache_key = (
        str(account.id),
        account.api_key_enc,
        account.api_secret_enc,
        account.mode,
        current_app.config["SIMULATOR_URL"],
        current_app.config["PAPER_MARKET_DATA"],
    )
    with _lock:
        client = _clients.get(cache_key)
        if client is None:
            for stale in [k for k in _clients if k[0] == cache_key[0]]:
                del _clients[stale]
            if account.mode == AccountMode.PAPER.value:
                client = _paper_client(account)
            else:
                config = config_for(account)
                client = CcxtExchange(
                    config,
                    Guard(str(account.id), breaker_store()),
                    throttle_factory=throttle_factory(config),
                )
            _clients[cache_key] = client
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
