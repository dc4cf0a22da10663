"""Binance USDⓈ-M futures dialect: `/fapi/v1/...` plus the v2/v3 account and position reads.

One-way position mode (`positionSide` BOTH only), cross margin, USDT margin. Orders: LIMIT
(GTC/IOC/FOK/GTX) and MARKET, with `reduceOnly`. Fees 0.02 % maker / 0.05 % taker in USDT.
Error bodies are the futures ones (they differ from spot): filters -4013/-4002/-4014/-4004/
-4005/-4023/-4164, -1111 precision, -2019 margin, -2022 reduce-only, -4116 duplicate client id.
Messages come from ccxt's binance.js error map (MIT; data/PROVENANCE.md).
"""

from __future__ import annotations

from decimal import Decimal

from server.simulator import binance_common as bc
from server.simulator.binance_futures_account import FuturesAccountViews
from server.simulator.binance_market import MarketData
from server.simulator.binance_queries import BinanceOrderQueries
from server.simulator.candles import default_price
from server.simulator.core import Dialect, Rejection, Request, Response, Route, Venue
from server.simulator.core import json_response as ok
from server.simulator.ledgers import LinearLedger
from server.simulator.markets import SymbolRules, Violation, check_order, load_exchange_info
from server.simulator.markets import futures_rules as build_rules
from server.simulator.matching import BUY, MARKET, FeeSchedule, Order

VENUE = "binance-futures"
FEES = FeeSchedule(maker=Decimal("0.0002"), taker=Decimal("0.0005"), charge="quote")
OTHER_TYPES = {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}
FILTER_ERRORS = {
    Violation.PRICE_BAD_PRECISION: (-1111, "Precision is over the maximum defined for this asset."),
    Violation.QTY_BAD_PRECISION: (-1111, "Precision is over the maximum defined for this asset."),
    Violation.PRICE_MIN: (-4013, "Price less than min price."),
    Violation.PRICE_MAX: (-4002, "Price greater than max price."),
    Violation.PRICE_TICK: (-4014, "Price not increased by tick size."),
    Violation.QTY_MIN: (-4004, "Quantity less than min quantity."),
    Violation.QTY_MAX: (-4005, "Quantity greater than max quantity."),
    Violation.QTY_STEP: (-4023, "Qty not increased by step size."),
    Violation.MARKET_QTY_MIN: (-4004, "Quantity less than min quantity."),
    Violation.MARKET_QTY_MAX: (-4005, "Quantity greater than max quantity."),
    Violation.MARKET_QTY_STEP: (-4023, "Qty not increased by step size."),
    Violation.MAX_NUM_ORDERS: (-2025, "Reach max open order limit."),
}
REJECTIONS = {
    "DUPLICATE": (-4116, "ClientOrderId is duplicated."),
    "INSUFFICIENT": (-2019, "Margin is insufficient."),
    "REDUCE_ONLY": (-2022, "ReduceOnly Order is rejected."),
    "WOULD_TAKE": (
        -5022,
        "Due to the order could not be executed as maker, the Post Only order will be "
        "rejected. The order will not be recorded in the order history",
    ),
}


class BinanceFutures(BinanceOrderQueries, Dialect):
    """Binance USDⓈ-M REST dialect over the `binance-futures` venue."""

    name = "binance-futures"
    venue_name = VENUE

    def __init__(self, sim) -> None:
        super().__init__(sim)
        self.info = load_exchange_info("binance_fapi_exchangeInfo.json")
        self.rules = {e["symbol"]: build_rules(e) for e in self.info["symbols"]}
        self.maint = {
            e["symbol"]: Decimal(e.get("maintMarginPercent", "2.5")) / 100
            for e in self.info["symbols"]
        }
        self.market = MarketData(sim, VENUE, self.info, futures=True)
        self.views = FuturesAccountViews(self)

    def build_venues(self) -> dict[str, Venue]:
        prices = {s: default_price("binance", "futures", r) for s, r in self.rules.items()}
        ledger = LinearLedger(price_of=lambda s: self.sim.venues[VENUE].last(s))
        return {VENUE: Venue(VENUE, self.rules, FEES, ledger, self.sim.ids, prices)}

    def fault_response(self, kind: str, ms: int) -> Response:
        return bc.fault_response(kind, ms, REJECTIONS["INSUFFICIENT"])

    def routes(self) -> dict[tuple[str, str], Route]:
        m, v, f = self.market, self.views, "/fapi/v1"
        table = {
            ("GET", f"{f}/ping"): m.ping,
            ("GET", f"{f}/time"): m.time,
            ("GET", f"{f}/exchangeInfo"): m.exchange_info,
            ("GET", f"{f}/ticker/price"): m.ticker_price,
            ("GET", "/fapi/v2/ticker/price"): m.ticker_price,
            ("GET", f"{f}/ticker/bookTicker"): m.book_ticker,
            ("GET", f"{f}/ticker/24hr"): m.ticker_24hr,
            ("GET", f"{f}/depth"): m.depth,
            ("GET", f"{f}/klines"): m.klines,
            ("GET", f"{f}/premiumIndex"): m.premium_index,
            ("POST", f"{f}/order/test"): self.test_order,
            ("GET", f"{f}/order"): self.query_order,
            ("GET", f"{f}/openOrder"): self.query_open_order,
            ("DELETE", f"{f}/order"): self.cancel_order,
            ("GET", f"{f}/openOrders"): self.open_orders,
            ("DELETE", f"{f}/allOpenOrders"): self.cancel_all,
            ("GET", f"{f}/allOrders"): self.all_orders,
            ("GET", f"{f}/userTrades"): self.user_trades,
            ("GET", f"{f}/commissionRate"): v.commission_rate,
            ("GET", f"{f}/leverageBracket"): v.leverage_bracket,
            ("POST", f"{f}/leverage"): v.set_leverage,
            ("GET", "/fapi/v2/account"): v.account_v2,
            ("GET", "/fapi/v3/account"): v.account_v3,
            ("GET", "/fapi/v2/balance"): v.balance,
            ("GET", "/fapi/v3/balance"): v.balance,
            ("GET", "/fapi/v2/positionRisk"): v.position_risk_v2,
            ("GET", "/fapi/v3/positionRisk"): v.position_risk_v3,
        }
        routes = {k: Route(h, self) for k, h in table.items()}
        routes[("POST", f"{f}/order")] = Route(self.new_order, self, bc.order_fields)
        return routes

    # --- rendering -------------------------------------------------------------------------
    @property
    def venue(self) -> Venue:
        return self.sim.venues[VENUE]

    def symbol_rules(self, params: dict) -> SymbolRules:
        rules = self.rules.get(bc.required(params, "symbol"))
        if rules is None:
            raise bc.error(-1121, "Invalid symbol.")
        return rules

    def order_json(self, o: Order, with_time: bool = True) -> dict:
        r = self.rules[o.symbol]
        pd, qd = r.price_decimals, r.qty_decimals
        out = {
            "orderId": o.order_id,
            "symbol": o.symbol,
            "status": o.status,
            "clientOrderId": o.client_order_id,
            "price": bc.fmt(o.price or Decimal(0), pd),
            "avgPrice": bc.fmt(o.avg_price, pd + 3),
            "origQty": bc.fmt(o.qty, qd),
            "executedQty": bc.fmt(o.executed, qd),
            "cumQty": bc.fmt(o.executed, qd),
            "cumQuote": bc.fmt(o.cum_quote, pd + qd),
            "timeInForce": o.time_in_force,
            "type": o.type,
            "reduceOnly": o.reduce_only,
            "closePosition": False,
            "side": o.side,
            "positionSide": "BOTH",
            "stopPrice": bc.fmt(Decimal(0), pd),
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": o.type,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER",
            "goodTillDate": 0,
        }
        if with_time:
            out["time"] = o.created_ms
        out["updateTime"] = o.updated_ms
        return out

    # --- orders ----------------------------------------------------------------------------
    def _parse_order(self, req: Request, key: str) -> Order:
        p = req.params
        rules = self.symbol_rules(p)
        side = bc.required(p, "side")
        if side not in ("BUY", "SELL"):
            raise bc.error(-1117, "Invalid side.")
        otype = bc.required(p, "type")
        if otype in OTHER_TYPES:
            raise bc.error(-1020, "This operation is not supported.")
        if otype not in ("LIMIT", "MARKET"):
            raise bc.error(-1116, "Invalid orderType.")
        if p.get("positionSide", "BOTH") != "BOTH":
            raise bc.error(-4061, "Order's position side does not match user's setting.")
        tif, price = "GTC", None
        if otype == "LIMIT":
            tif = bc.required(p, "timeInForce")
            if tif not in ("GTC", "IOC", "FOK", "GTX"):
                raise bc.error(-1115, "Invalid timeInForce.")
            price = bc.decimal_param(p, "price")
        qty = bc.decimal_param(p, "quantity")
        assert qty is not None
        if qty <= 0:
            raise bc.error(-4003, "Quantity less than or equal to zero.")
        cid = p.get("newClientOrderId") or bc.new_client_id()
        if not bc.CID_RE.fullmatch(cid):
            raise bc.error(-4015, "Client order id is not valid.")
        return Order(
            order_id=0,
            owner=key,
            symbol=rules.symbol,
            base=rules.base,
            quote=rules.quote,
            side=side,
            type=otype,
            qty=qty,
            price=price,
            time_in_force=tif,
            client_order_id=cid,
            step=rules.default_step,
            created_ms=0,
            reduce_only=p.get("reduceOnly", "false").lower() == "true",
        )

    def _validate(self, order: Order, venue: Venue) -> None:
        rules = self.rules[order.symbol]
        last = venue.last(order.symbol)
        n_open = len(venue.open_orders(order.owner, order.symbol))
        price = None if order.type == MARKET else order.price
        v = check_order(rules, order.type, order.qty, price, last, n_open, order.reduce_only)
        if v in (Violation.NOTIONAL_MIN, Violation.NOTIONAL_MAX):
            floor = format(rules.min_notional.normalize(), "f")
            msg = f"Order's notional must be no smaller than {floor}"
            msg += " (unless you choose reduce only)."
            raise bc.error(-4164, msg)
        if v is not None:
            raise bc.error(*FILTER_ERRORS[v])

    def new_order(self, req: Request) -> Response:
        key = bc.authenticate(req, self.sim)
        order = self._parse_order(req, key)
        with self.sim.lock:
            venue = self.venue
            self._validate(order, venue)
            now = bc.now_ms()
            order.order_id, order.created_ms = self.sim.ids.order(), now
            try:
                venue.submit(order, now)
            except Rejection as rej:
                raise bc.error(*REJECTIONS[rej.reason]) from None
            req.order = order
            return ok(self.order_json(order, with_time=False))

    def test_order(self, req: Request) -> Response:
        key = bc.authenticate(req, self.sim)
        order = self._parse_order(req, key)
        with self.sim.lock:
            self._validate(order, self.venue)
        return ok({})

    def _find(self, req: Request, key: str) -> Order | None:
        rules = self.symbol_rules(req.params)
        order_id, client_id = bc.order_lookup(req.params)
        return self.venue.find(key, rules.symbol, order_id, client_id)

    def query_order(self, req: Request) -> Response:
        key = bc.authenticate(req, self.sim)
        with self.sim.lock:
            order = self._find(req, key)
            if order is None:
                raise bc.error(-2013, "Order does not exist.")
            return ok(self.order_json(order))

    def query_open_order(self, req: Request) -> Response:
        key = bc.authenticate(req, self.sim)
        with self.sim.lock:
            order = self._find(req, key)
            if order is None or not order.is_open:
                raise bc.error(-2013, "Order does not exist.")
            return ok(self.order_json(order))

    def cancel_order(self, req: Request) -> Response:
        key = bc.authenticate(req, self.sim)
        with self.sim.lock:
            order = self._find(req, key)
            if order is None or not order.is_open:
                raise bc.error(-2011, "Unknown order sent.")
            self.venue.cancel(order, bc.now_ms())
            return ok(self.order_json(order, with_time=False))

    def cancel_all(self, req: Request) -> Response:
        key = bc.authenticate(req, self.sim)
        with self.sim.lock:
            rules = self.symbol_rules(req.params)
            venue, now = self.venue, bc.now_ms()
            for order in venue.open_orders(key, rules.symbol):
                venue.cancel(order, now)
        return ok({"code": 200, "msg": "The operation of cancel all open order is done."})

    def user_trades(self, req: Request) -> Response:
        key = bc.authenticate(req, self.sim)
        with self.sim.lock:
            r = self.symbol_rules(req.params)
            fills = self.venue.owner_trades(key, r.symbol)
            order_id = bc.int_param(req.params, "orderId")
            if order_id is not None:
                fills = [f for f in fills if f.order_id == order_id]
            chosen = bc.select(
                fills, lambda f: f.trade_id, req.params, "fromId", lambda f: f.time_ms
            )
            pd, qd = r.price_decimals, r.qty_decimals
            return ok(
                [
                    {
                        "buyer": f.side == BUY,
                        "commission": bc.fmt(f.commission, 8),
                        "commissionAsset": f.commission_asset,
                        "id": f.trade_id,
                        "maker": f.is_maker,
                        "orderId": f.order_id,
                        "price": bc.fmt(f.price, pd),
                        "qty": bc.fmt(f.qty, qd),
                        "quoteQty": bc.fmt(f.quote_qty, pd + qd),
                        "realizedPnl": bc.fmt(f.realized_pnl, 8),
                        "side": f.side,
                        "positionSide": "BOTH",
                        "symbol": f.symbol,
                        "time": f.time_ms,
                    }
                    for f in chosen
                ]
            )
