"""Build a configured ccxt instance for an account: the same code for every mode, only the
URLs and credentials differ (simulated → local simulator, testnet → sandbox, live → real).

Overrides (STACK.md, checked against ccxt 4.5.90):
- Binance spot (`ccxt.binance`): markets of type spot only, no currencies/margin probes, so
  `load_markets()` calls only `GET /api/v3/exchangeInfo`.
- Binance USDⓈ-M (`ccxt.binanceusdm`): linear markets only (`/fapi/v1/exchangeInfo`).
- Bybit v5 (`ccxt.bybit`): one category (spot or linear), no currencies, unified account
  assumed so ccxt does not probe the account type first.
- simulated: every REST base URL keeps its path and gets the simulator's scheme and host, and
  the market type's own error map is merged into the general one: ccxt picks Binance's
  spot/linear maps by matching the URL against the real hosts, which a loopback URL never
  does (without the merge futures `-2019 Margin is insufficient.` is a bare ExchangeError).
- ccxt's own rate limiter stays on for real exchanges (safety against bans) and is off against
  the simulator, where it would only add its fixed spacing to every call (STACK.md). The engine's
  clients replace its sleeper with the budget shared by every worker (`throttle.py`).
"""

from __future__ import annotations

from urllib.parse import urlparse

import ccxt

from server.domain.enums import AccountMode, Exchange, MarketType
from server.exchange.config import ExchangeConfig


def _rewrite(url, simulator_url: str):
    if isinstance(url, dict):
        return {k: _rewrite(v, simulator_url) for k, v in url.items()}
    if not isinstance(url, str):
        return url
    target = urlparse(simulator_url)
    parsed = urlparse(url.replace("{hostname}", "bybit.com"))
    return parsed._replace(scheme=target.scheme, netloc=target.netloc).geturl()


def _binance(config: ExchangeConfig) -> ccxt.Exchange:
    spot = config.market_type is MarketType.SPOT
    cls = ccxt.binance if spot else ccxt.binanceusdm
    options = {
        "fetchMarkets": {"types": ["spot"] if spot else ["linear"]},
        "fetchCurrencies": False,
        "fetchMargins": False,
        "defaultType": "spot" if spot else "future",
        "warnOnFetchOpenOrdersWithoutSymbol": False,
    }
    return cls(_common(config) | {"options": options})


def _bybit(config: ExchangeConfig) -> ccxt.Exchange:
    spot = config.market_type is MarketType.SPOT
    category = "spot" if spot else "linear"
    exchange = ccxt.bybit(
        _common(config)
        | {
            "options": {
                "defaultType": "spot" if spot else "swap",
                "defaultSubType": "linear",
                "fetchMarkets": {"types": [category]},
                "enableUnifiedMargin": False,
                "enableUnifiedAccount": True,
                "fetchCurrencies": False,
            }
        }
    )
    exchange.has["fetchCurrencies"] = False  # the option alone is ignored (STACK.md)
    return exchange


def _common(config: ExchangeConfig) -> dict:
    return {
        "apiKey": config.api_key,
        "secret": config.api_secret,
        "enableRateLimit": config.mode is not AccountMode.SIMULATED,
        "timeout": config.timeout_ms,
    }


def _merge_market_errors(exchange: ccxt.Exchange, market_type: str) -> None:
    for kind in ("exact", "broad"):
        specific = exchange.exceptions.get(market_type, {}).get(kind, {})
        exchange.exceptions[kind] = {**exchange.exceptions.get(kind, {}), **specific}


def build_ccxt(config: ExchangeConfig) -> ccxt.Exchange:
    exchange = _binance(config) if config.exchange is Exchange.BINANCE else _bybit(config)
    if config.mode is AccountMode.SIMULATED:
        if not config.simulator_url:
            raise ValueError("simulated accounts need SIMULATOR_URL")
        exchange.urls["api"] = _rewrite(exchange.urls["api"], config.simulator_url)
        _merge_market_errors(
            exchange, "spot" if config.market_type is MarketType.SPOT else "linear"
        )
    elif config.mode is AccountMode.TESTNET:
        exchange.set_sandbox_mode(True)
    return exchange
