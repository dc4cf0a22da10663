"""`ExchangeClient` over ccxt for Binance spot / USDⓈ-M and Bybit v5 spot / linear."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from decimal import Decimal

import ccxt

from server.domain.enums import Exchange, MarketType
from server.domain.precision import MarketRules, PrecisionDataError, rules_from_ccxt_market
from server.exchange import convert
from server.exchange.base import ExchangeClient
from server.exchange.ccxt_setup import build_ccxt
from server.exchange.config import ExchangeConfig
from server.exchange.errors import (
    AuthenticationFailed,
    ExchangeError,
    OrderNotFound,
    PermissionDenied,
    RateLimited,
    TemporaryError,
    UnknownSymbol,
)
from server.exchange.resilience import Guard, RetryPolicy
from server.exchange.throttle import Throttle
from server.exchange.translate import DuplicateClientOrderId, translate
from server.exchange.types import (
    Balance,
    ConnectivityCheck,
    ExchangeOrder,
    OrderSide,
    OrderType,
    Ticker,
    Trade,
)

log = logging.getLogger(__name__)

CREATE_ATTEMPTS = 3


class CcxtExchange(ExchangeClient):
    """`throttle_factory(rate_limit_ms)` → a `throttle.Throttle` for this account: every request
    is then admitted against the budgets shared by all workers instead of ccxt's per-call
    spacing (ccxt's limiter stays as configured when there is none)."""

    def __init__(
        self,
        config: ExchangeConfig,
        guard: Guard,
        retry: RetryPolicy | None = None,
        throttle_factory: Callable[[float], Throttle] | None = None,
    ):
        self.config = config
        self.guard = guard
        self.retry = retry or RetryPolicy()
        self.ccxt = build_ccxt(config)
        self.throttle = throttle_factory(self.ccxt.rateLimit) if throttle_factory else None
        if self.throttle is not None:
            self.ccxt.enableRateLimit = True  # ccxt computes each call's cost and asks...
            self.ccxt.throttle = self.throttle.admit  # ...the shared budget, not its sleeper
        self._markets: dict[str, dict] | None = None  # exchange id -> ccxt market
        self._rules: dict[str, MarketRules] = {}

    # --- plumbing ------------------------------------------------------------------------------

    def _invoke(self, method: str, *args, **kwargs):
        try:
            return getattr(self.ccxt, method)(*args, **kwargs)
        except ccxt.BaseError as exc:
            error = translate(exc, self.ccxt)
            if isinstance(error, RateLimited) and self.throttle is not None:
                self.throttle.penalize(error.retry_after)
            raise error from None

    def _create(self, *args):
        if self.throttle is not None:
            self.throttle.next_is_order()
        return self._invoke("create_order", *args)

    def _read(self, method: str, *args, **kwargs):
        return self.guard.read(lambda: self._invoke(method, *args, **kwargs), self.retry)

    def _wanted(self, market: dict) -> bool:
        if self.config.market_type is MarketType.SPOT:
            return bool(market.get("spot"))
        return bool(market.get("swap") and market.get("linear"))

    def _ccxt_symbol(self, symbol: str) -> str:
        market = self._load().get(symbol)
        if market is None:
            raise UnknownSymbol(f"{symbol} is not traded on {self.config.venue}")
        return market["symbol"]

    def _load(self, reload: bool = False) -> dict[str, dict]:
        if self._markets is None or reload:
            markets = self._read("load_markets", reload)
            self._markets = {m["id"]: m for m in markets.values() if self._wanted(m)}
            self._rules = {}
        return self._markets

    # --- reads ---------------------------------------------------------------------------------

    def load_markets(self, reload: bool = False) -> dict[str, MarketRules]:
        markets = self._load(reload)
        if not self._rules:
            self._rules = {}
            for sid, market in markets.items():
                if market.get("active", True) is False:
                    continue
                try:
                    self._rules[sid] = rules_from_ccxt_market(market)
                except PrecisionDataError as exc:  # one odd market must not hide the others
                    log.warning("skipping %s on %s: %s", sid, self.config.venue, exc)
        return self._rules

    def fetch_ticker(self, symbol: str) -> Ticker:
        return convert.ticker(symbol, self._read("fetch_ticker", self._ccxt_symbol(symbol)))

    def fetch_tickers(self, symbols: Sequence[str]) -> dict[str, Ticker]:
        """One request for every symbol: Binance's last-price list (`/api/v3/ticker/price`
        with `symbols` on spot; USDⓈ-M's `/fapi/v2/ticker/price` lists every perpetual, weight
        2), Bybit's ticker list of the account's category. Symbols the answer lacks are left
        out (the caller sees them missing)."""
        wanted = list(dict.fromkeys(symbols))
        if not wanted:
            return {}
        unified = {self._ccxt_symbol(s): s for s in wanted}
        if self.config.exchange is Exchange.BINANCE:
            params = {}
            if self.config.market_type is MarketType.SPOT:
                params = {"symbols": json.dumps(wanted, separators=(",", ":"))}
            raws = self._read("fetch_last_prices", list(unified), params)
            convert_one = convert.last_price
        else:
            raws = self._read("fetch_tickers", list(unified))
            convert_one = convert.ticker
        return {unified[u]: convert_one(unified[u], raw) for u, raw in raws.items() if u in unified}

    def fetch_order(
        self, symbol: str, *, exchange_id: str | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder:
        """One order by exchange id or by our client order id, in any status.

        Bybit: ccxt's fetch_order needs `acknowledged` (it otherwise refuses, as the realtime
        endpoint only keeps recent closed orders), and cannot look up by `orderLinkId` (it
        sends `orderId=None`, which wins); the open-orders call with `orderLinkId` returns the
        order in any status instead."""
        ccxt_symbol = self._ccxt_symbol(symbol)
        params = self._client_id_params(client_order_id, exchange_id)
        if self.config.exchange is Exchange.BYBIT:
            if not exchange_id:
                found = self._read("fetch_open_orders", ccxt_symbol, None, None, params)
                if not found:
                    raise OrderNotFound(f"no order with client id {client_order_id}")
                return convert.order(symbol, found[0])
            params = {"acknowledged": True}
        return convert.order(symbol, self._read("fetch_order", exchange_id, ccxt_symbol, params))

    def fetch_open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        ccxt_symbol = self._ccxt_symbol(symbol) if symbol else None
        by_ccxt = {m["symbol"]: sid for sid, m in self._load().items()}
        return [
            convert.order(by_ccxt.get(raw["symbol"], raw["symbol"]), raw)
            for raw in self._read("fetch_open_orders", ccxt_symbol)
        ]

    def fetch_balance(self) -> dict[str, Balance]:
        return convert.balances(self._read("fetch_balance"))

    def fetch_order_trades(self, symbol: str, exchange_id: str) -> list[Trade]:
        """Fills of one order, from the account's trade list filtered by order id (ccxt's
        fetch_order_trades is spot-only on Binance; myTrades/userTrades/execution list all
        take an order id)."""
        raws = self._read(
            "fetch_my_trades", self._ccxt_symbol(symbol), None, None, {"orderId": exchange_id}
        )
        return [convert.trade(symbol, raw) for raw in raws if str(raw.get("order")) == exchange_id]

    # --- writes --------------------------------------------------------------------------------

    def _client_id_params(self, client_order_id: str | None, exchange_id: str | None) -> dict:
        if exchange_id or not client_order_id:
            return {}
        if self.config.exchange is Exchange.BINANCE:
            return {"origClientOrderId": client_order_id}
        return {"orderLinkId": client_order_id}

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
        """Send once; after a temporary failure, ask the exchange for the client order id and
        re-send only when it has never seen it (SPEC §4.2: no second order, ever)."""
        ccxt_symbol = self._ccxt_symbol(symbol)
        params: dict = {"clientOrderId": client_order_id}
        if reduce_only:
            params["reduceOnly"] = True
        args = (
            ccxt_symbol,
            type.value,
            side.value,
            str(amount),
            str(price) if price is not None else None,
            params,
        )
        last_error: ExchangeError | None = None
        for attempt in range(CREATE_ATTEMPTS):
            if attempt:
                found = self._find_after_failure(symbol, client_order_id)
                if found is not None:
                    return found
            try:
                raw = self.guard.call(lambda: self._create(*args))
            except DuplicateClientOrderId:
                found = self._find_after_failure(symbol, client_order_id)
                if found is not None:
                    return found
                raise
            except RateLimited:
                raise  # refused before execution: the caller waits Retry-After, then re-sends
            except TemporaryError as exc:
                log.warning(
                    "create %s failed temporarily (attempt %d): %s",
                    client_order_id,
                    attempt + 1,
                    exc,
                )
                last_error = exc
            else:
                return self._placed(symbol, raw, client_order_id)
        assert last_error is not None
        raise last_error

    def _placed(self, symbol: str, raw: dict, client_order_id: str) -> ExchangeOrder:
        """The order as placed. Bybit answers a create with ids only: read the order back."""
        if not raw.get("side") or raw.get("amount") is None:
            return self.fetch_order(symbol, exchange_id=str(raw["id"]))
        return convert.order(
            symbol, raw | {"clientOrderId": raw.get("clientOrderId") or client_order_id}
        )

    def _find_after_failure(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        try:
            return self.fetch_order(symbol, client_order_id=client_order_id)
        except OrderNotFound:
            return None

    def cancel_order(
        self, symbol: str, *, exchange_id: str | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder:
        """Cancel (retried like a read: cancelling twice is harmless). An order that is
        already gone is looked up, so the caller learns whether it filled first."""
        ccxt_symbol = self._ccxt_symbol(symbol)
        params = self._client_id_params(client_order_id, exchange_id)
        try:
            raw = self._read("cancel_order", exchange_id, ccxt_symbol, params)
        except OrderNotFound:
            return self.fetch_order(
                symbol, exchange_id=exchange_id, client_order_id=client_order_id
            )
        if not raw.get("side"):  # some answers are terse; read the full order back
            return self.fetch_order(
                symbol, exchange_id=exchange_id, client_order_id=client_order_id
            )
        return convert.order(symbol, raw)

    # --- account check -------------------------------------------------------------------------

    def check_connectivity(self) -> ConnectivityCheck:
        try:
            raw = self._read("fetch_balance")
            can_trade = _can_trade(raw.get("info") or {})
            if self.config.exchange is Exchange.BYBIT:
                can_trade = _bybit_can_trade(self._read("private_get_v5_user_query_api"))
        except PermissionDenied as exc:
            return ConnectivityCheck(False, f"key lacks a required permission: {exc}")
        except AuthenticationFailed:
            return ConnectivityCheck(
                False,
                "invalid API key or secret: check both and that the "
                "key is enabled for this exchange and market",
            )
        except TemporaryError as exc:
            return ConnectivityCheck(False, f"exchange unreachable: {exc}")
        except ExchangeError as exc:
            return ConnectivityCheck(False, f"exchange refused the check: {exc}")
        if can_trade is False:
            return ConnectivityCheck(
                False,
                "key lacks trading permission: enable spot/futures trading for this API key",
                can_trade=False,
            )
        return ConnectivityCheck(True, None, can_trade)


def _can_trade(info: dict) -> bool | None:
    """Binance's account answer carries `canTrade`; elsewhere we cannot tell from the balance."""
    value = info.get("canTrade")
    return value if isinstance(value, bool) else None


def _bybit_can_trade(answer: dict) -> bool:
    """Bybit's /v5/user/query-api: `readOnly` 1 means the key cannot place orders."""
    result = answer.get("result") or {}
    return str(result.get("readOnly", "0")) != "1"
