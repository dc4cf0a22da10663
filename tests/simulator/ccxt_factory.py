"""ccxt clients for the simulator, configured by the engine's own exchange layer
(`server.exchange.ccxt_setup.build_ccxt`, whose docstring lists every override), so the
simulator is tested through exactly the ccxt configuration the engine uses.

Endpoints ccxt 4.5.90 calls, found by tracing (for reference when extending the simulator):
- Binance spot: `/api/v3/*` (`public`/`private`), `sapi` for fetch_trading_fee
  (`/sapi/v1/asset/tradeFee`) and fetch_status (`/sapi/v1/system/status`).
- Binance USDⓈ-M (`binanceusdm`): `/fapi/v1` (exchangeInfo, time, ticker/24hr,
  ticker/bookTicker, depth, klines, order, openOrders, allOpenOrders, allOrders, userTrades,
  leverage, leverageBracket, commissionRate), `/fapi/v2/ticker/price`, `/fapi/v3/account`
  (fetch_balance) and `/fapi/v3/positionRisk` (fetch_positions).
- Spot orders go out with `newOrderRespType=FULL`, futures with `RESULT`;
  `params={'clientOrderId': x}` becomes `newClientOrderId=x`; `{'reduceOnly': True}` becomes
  `reduceOnly=true`; fetch by client id is `fetch_order(None, symbol, {'origClientOrderId': x})`.
- Bybit v5 (`ccxt.bybit`, spot or linear): `load_markets()` calls `/v5/market/instruments-info`
  (spot: once; linear: `limit=1000` plus `status=PreLaunch`, following `nextPageCursor`); no
  account probe is made (`enableUnifiedAccount` is set). Orders `POST /v5/order/create`
  (`clientOrderId` → `orderLinkId`, JSON body, `reduceOnly` a JSON bool); fetch_order →
  `/v5/order/realtime` (needs `params={'acknowledged': True}`), fetch_open_orders →
  `/v5/order/realtime`, fetch_closed/canceled_orders → `/v5/order/history`, fetch_my_trades /
  fetch_order_trades → `/v5/execution/list`, fetch_balance →
  `/v5/account/wallet-balance?accountType=UNIFIED`, fetch_trading_fee → `/v5/account/fee-rate`,
  fetch_positions → `/v5/position/list`, set_leverage → `/v5/position/set-leverage`.
  By client id: `fetch_open_orders(symbol, params={'orderLinkId': x})` (realtime answers the
  order in any status); `fetch_order(None, …, {'orderLinkId': x})` sends `orderId=None`, which
  takes priority and matches nothing. create_order/cancel_order return only id + clientOrderId.
"""

from __future__ import annotations

from server.domain.enums import AccountMode, Exchange, MarketType
from server.exchange.ccxt_setup import build_ccxt
from server.exchange.config import ExchangeConfig


def _make(
    base_url: str,
    key: str,
    secret: str,
    market_type: MarketType,
    timeout_ms: int,
    exchange: Exchange = Exchange.BINANCE,
):
    return build_ccxt(
        ExchangeConfig(
            account_id="sim-test",
            exchange=exchange,
            market_type=market_type,
            mode=AccountMode.SIMULATED,
            api_key=key,
            api_secret=secret,
            simulator_url=base_url,
            timeout_ms=timeout_ms,
        )
    )


def make_binance_spot(base_url: str, key: str, secret: str, timeout_ms: int = 10_000):
    """ccxt.binance for the simulator's spot dialect."""
    return _make(base_url, key, secret, MarketType.SPOT, timeout_ms)


def make_binance_futures(base_url: str, key: str, secret: str, timeout_ms: int = 10_000):
    """ccxt.binanceusdm for the simulator's USDⓈ-M dialect."""
    return _make(base_url, key, secret, MarketType.FUTURES, timeout_ms)


def make_bybit_spot(base_url: str, key: str, secret: str, timeout_ms: int = 10_000):
    """ccxt.bybit for the simulator's Bybit v5 spot category."""
    return _make(base_url, key, secret, MarketType.SPOT, timeout_ms, Exchange.BYBIT)


def make_bybit_linear(base_url: str, key: str, secret: str, timeout_ms: int = 10_000):
    """ccxt.bybit for the simulator's Bybit v5 linear (USDT perpetual) category."""
    return _make(base_url, key, secret, MarketType.FUTURES, timeout_ms, Exchange.BYBIT)
