"""Binance spot dialect: `/api/v3/...` (+ the two `/sapi/v1` reads ccxt makes).

Response shapes and error bodies follow binance-spot-api-docs (data/PROVENANCE.md): FULL order
responses with `fills`, numbers as 8-decimal strings, ids and times as integers. Supported order
types: LIMIT (GTC/IOC/FOK), LIMIT_MAKER and MARKET (`quantity` or `quoteOrderQty`); other real
types answer `-1020 This operation is not supported.`. Fees: 0.1 % maker and taker, charged in
the asset received.
"""

from __future__ import annotations

import zlib
from decimal import Decimal

from server.simulator import binance_common as bc
from server.simulator.binance_market import MarketData
from server.simulator.binance_queries import BinanceOrderQueries
from server.simulator.candles import default_price
from server.simulator.core import Dialect, Rejection, Request, Response, Route, Venue
from server.simulator.core import json_response as ok
from server.simulator.ledgers import SpotLedger
from server.simulator.markets import SymbolRules, Violation, check_order, load_exchange_info
from server.simulator.markets import spot_rules as build_rules
from server.simulator.matching import BUY, MARKET, FeeSchedule, Order, floor_to_step

VENUE = "binance-spot"
FEES = FeeSchedule(maker=Decimal("0.001"), taker=Decimal("0.001"), charge="received")
OTHER_TYPES = {"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}
ACK_KEYS = ("symbol", "orderId", "orderListId", "clientOrderId", "transactTime")
RESULT_KEYS = (
    *ACK_KEYS,
    *("price", "origQty", "executedQty", "origQuoteOrderQty", "cummulativeQuoteQty"),
    *("status", "timeInForce", "type", "side", "workingTime", "selfTradePreventionMode"),
)
QUERY_KEYS = (
    *("symbol", "orderId", "orderListId", "clientOrderId", "price", "origQty", "executedQty"),
    *("cummulativeQuoteQty", "status", "timeInForce", "type", "side", "stopPrice"),
    *("icebergQty", "time", "updateTime", "isWorking", "workingTime", "origQuoteOrderQty"),
    "selfTradePreventionMode",
)
CANCEL_KEYS = (
    *("symbol", "origClientOrderId", "orderId", "orderListId", "clientOrderId", "transactTime"),
    *("price", "origQty", "executedQty", "origQuoteOrderQty", "cummulativeQuoteQty", "status"),
    *("timeInForce", "type", "side", "selfTradePreventionMode"),
)
REJECTIONS = {
    "DUPLICATE": "Duplicate order sent.",
    "INSUFFICIENT": bc.INSUFFICIENT_BALANCE,
    "WOULD_TAKE": "Order would immediately match and take.",
}


class BinanceSpot(BinanceOrderQueries, Dialect):
    """Binance spot REST dialect over the `binance-spot` venue."""

    name = "binance"
    venue_name = VENUE

    def __init__(self, sim) -> None:
        super().__init__(sim)
        self.info = load_exchange_info("binance_exchangeInfo.json")
        self.rules = {e["symbol"]: build_rules(e) for e in self.info["symbols"]}
        self.stp = {
            e["symbol"]: e.get("defaultSelfTradePreventionMode", "NONE")
            for e in self.info["symbols"]
        }
        self.market = MarketData(sim, VENUE, self.info, futures=False)

    def build_venues(self) -> dict[str, Venue]:
        prices = {s: default_price("binance", "spot", r) for s, r in self.rules.items()}
        return {VENUE: Venue(VENUE, self.rules, FEES, SpotLedger(), self.sim.ids, prices)}

    def fault_response(self, kind: str, ms: int) -> Response:
        return bc.fault_response(kind, ms, (-2010, bc.INSUFFICIENT_BALANCE))

    def routes(self) -> dict[tuple[str, str], Route]:
        m, a = self.market, "/api/v3"
        table = {
            ("GET", f"{a}/ping"): m.ping,
            ("GET", f"{a}/time"): m.time,
            ("GET", f"{a}/exchangeInfo"): m.exchange_info,
            ("GET", f"{a}/ticker/price"): m.ticker_price,
            ("GET", f"{a}/ticker/bookTicker"): m.book_ticker,
            ("GET", f"{a}/ticker/24hr"): m.ticker_24hr,
            ("GET", f"{a}/depth"): m.depth,
            ("GET", f"{a}/klines"): m.klines,
            ("GET", f"{a}/avgPrice"): m.avg_price,
            ("GET", "/sapi/v1/system/status"): lambda req: ok({"status": 0, "msg": "normal"}),
            ("POST", f"{a}/order/test"): self.test_order,
            ("GET", f"{a}/order"): self.query_order,
            ("DELETE", f"{a}/order"): self.cancel_order,
            ("GET", f"{a}/openOrders"): self.open_orders,
            ("DELETE", f"{a}/openOrders"): self.cancel_all,
            ("GET", f"{a}/allOrders"): self.all_orders,
            ("GET", f"{a}/account"): self.account,
            ("GET", f"{a}/myTrades"): self.my_trades,
            ("GET", f"{a}/account/commission"): self.commission,
            ("GET", "/sapi/v1/asset/tradeFee"): self.trade_fee,
        }
        routes = {k: Route(v, self) for k, v in table.items()}
        routes[("POST", f"{a}/order")] = Route(self.new_order, self, bc.order_fields)
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

    def _fields(self, o: Order, now: int = 0, cancel_id: str | None = None) -> dict:
        """Every order field Binance may print; the shapes below pick theirs in docs order."""
        qd, zero = self.rules[o.symbol].qty_decimals, bc.fmt(Decimal(0), 8)
        return {
            "symbol": o.symbol,
            "origClientOrderId": o.client_order_id,
            "orderId": o.order_id,
            "orderListId": -1,
            "clientOrderId": cancel_id or o.client_order_id,
            "transactTime": now,
            "price": bc.fmt(o.price or Decimal(0), 8),
            "origQty": bc.fmt(o.qty, qd),
            "executedQty": bc.fmt(o.executed, qd),
            "origQuoteOrderQty": bc.fmt(o.quote_order_qty, 8),
            "cummulativeQuoteQty": bc.fmt(o.cum_quote, 8),
            "status": o.status,
            "timeInForce": o.time_in_force,
            "type": o.type,
            "side": o.side,
            "stopPrice": zero,
            "icebergQty": zero,
            "time": o.created_ms,
            "updateTime": o.updated_ms,
            "isWorking": True,
            "workingTime": o.created_ms,
            "selfTradePreventionMode": self.stp[o.symbol],
        }

    def order_json(self, o: Order) -> dict:
        """GET /api/v3/order, openOrders, allOrders shape."""
        f = self._fields(o)
        return {k: f[k] for k in QUERY_KEYS}

    def result_json(self, o: Order, resp_type: str, now: int) -> dict:
        """POST /api/v3/order answer in ACK, RESULT or FULL form."""
        f = self._fields(o, now)
        out = {k: f[k] for k in (ACK_KEYS if resp_type == "ACK" else RESULT_KEYS)}
        if resp_type == "FULL":
            qd = self.rules[o.symbol].qty_decimals
            out["fills"] = [
                {
                    "price": bc.fmt(x.price, 8),
                    "qty": bc.fmt(x.qty, qd),
                    "commission": bc.fmt(x.commission, 8),
                    "commissionAsset": x.commission_asset,
                    "tradeId": x.trade_id,
                }
                for x in o.fills
            ]
        return out

    def cancel_json(self, o: Order, cancel_id: str, now: int) -> dict:
        f = self._fields(o, now, cancel_id)
        return {k: f[k] for k in CANCEL_KEYS}

    # --- orders ----------------------------------------------------------------------------
    def _parse_order(self, req: Request, key: str) -> tuple[Order, str]:
        p = req.params
        rules = self.symbol_rules(p)
        side = bc.required(p, "side")
        if side not in ("BUY", "SELL"):
            raise bc.error(-1117, "Invalid side.")
        otype = bc.required(p, "type")
        if otype in OTHER_TYPES:
            raise bc.error(-1020, "This operation is not supported.")
        if otype not in ("LIMIT", "LIMIT_MAKER", "MARKET"):
            raise bc.error(-1116, "Invalid orderType.")
        tif = "GTC"
        price = None
        quote_qty = None
        if otype == "LIMIT":
            tif = bc.required(p, "timeInForce")
            if tif not in ("GTC", "IOC", "FOK"):
                raise bc.error(-1115, "Invalid timeInForce.")
        if otype == MARKET:
            qty = bc.decimal_param(p, "quantity", needed=False)
            quote_qty = bc.decimal_param(p, "quoteOrderQty", needed=False)
            if qty is None and quote_qty is None:
                raise bc.error(
                    -1102,
                    "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
                )
        else:
            qty = bc.decimal_param(p, "quantity")
            price = bc.decimal_param(p, "price")
        cid = p.get("newClientOrderId") or bc.new_client_id()
        if not bc.CID_RE.fullmatch(cid):
            raise bc.error(
                -1100,
                "Illegal characters found in parameter 'newClientOrderId'; "
                "legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
            )
        order = Order(
            order_id=0,
            owner=key,
            symbol=rules.symbol,
            base=rules.base,
            quote=rules.quote,
            side=side,
            type=otype,
            qty=qty or Decimal(0),
            price=price,
            time_in_force=tif,
            client_order_id=cid,
            step=rules.default_step,
            created_ms=0,
            quote_order_qty=quote_qty or Decimal(0),
        )
        default_resp = "FULL" if otype in ("LIMIT", "MARKET") else "ACK"
        resp_type = p.get("newOrderRespType") or default_resp
        return order, resp_type

    def _validate(self, order: Order, venue: Venue) -> None:
        rules = self.rules[order.symbol]
        last = venue.last(order.symbol)
        if order.type == MARKET and order.quote_order_qty and not order.qty:
            order.qty = floor_to_step(order.quote_order_qty / last, rules.step)
        n_open = len(venue.open_orders(order.owner, order.symbol))
        price = None if order.type == MARKET else order.price
        violation = check_order(rules, order.type, order.qty, price, last, n_open)
        if violation is Violation.PRICE_BAD_PRECISION:
            raise bc.error(-1111, "Parameter 'price' has too much precision.")
        if violation is Violation.QTY_BAD_PRECISION:
            raise bc.error(-1111, "Parameter 'quantity' has too much precision.")
        if violation is not None:
            raise bc.error(-1013, f"Filter failure: {violation.spot_filter}")

    def new_order(self, req: Request) -> Response:
        key = bc.authenticate(req, self.sim)
        order, resp_type = self._parse_order(req, key)
        with self.sim.lock:
            venue = self.venue
            self._validate(order, venue)
            now = bc.now_ms()
            order.order_id, order.created_ms = self.sim.ids.order(), now
            try:
                venue.submit(order, now)
            except Rejection as rej:
                raise bc.error(-2010, REJECTIONS[rej.reason]) from None
            req.order = order
            return ok(self.result_json(order, resp_type, now))

    def test_order(self, req: Request) -> Response:
        key = bc.authenticate(req, self.sim)
        order, _ = self._parse_order(req, key)
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

    def cancel_order(self, req: Request) -> Response:
        key = bc.authenticate(req, self.sim)
        with self.sim.lock:
            order = self._find(req, key)
            if order is None or not order.is_open:
                raise bc.error(-2011, "Unknown order sent.")
            now = bc.now_ms()
            self.venue.cancel(order, now)
            cancel_id = req.params.get("newClientOrderId") or bc.new_client_id()
            return ok(self.cancel_json(order, cancel_id, now))

    def cancel_all(self, req: Request) -> Response:
        key = bc.authenticate(req, self.sim)
        with self.sim.lock:
            rules = self.symbol_rules(req.params)
            venue, now = self.venue, bc.now_ms()
            orders = venue.open_orders(key, rules.symbol)
            if not orders:
                raise bc.error(-2011, "Unknown order sent.")
            cancel_id = bc.new_client_id()
            return ok([self.cancel_json(venue.cancel(o, now), cancel_id, now) for o in orders])

    def my_trades(self, req: Request) -> Response:
        key = bc.authenticate(req, self.sim)
        with self.sim.lock:
            rules = self.symbol_rules(req.params)
            fills = self.venue.owner_trades(key, rules.symbol)
            order_id = bc.int_param(req.params, "orderId")
            if order_id is not None:
                fills = [f for f in fills if f.order_id == order_id]
            chosen = bc.select(
                fills, lambda f: f.trade_id, req.params, "fromId", lambda f: f.time_ms
            )
            return ok(
                [
                    {
                        "symbol": f.symbol,
                        "id": f.trade_id,
                        "orderId": f.order_id,
                        "orderListId": -1,
                        "price": bc.fmt(f.price, 8),
                        "qty": bc.fmt(f.qty, rules.qty_decimals),
                        "quoteQty": bc.fmt(f.quote_qty, 8),
                        "commission": bc.fmt(f.commission, 8),
                        "commissionAsset": f.commission_asset,
                        "time": f.time_ms,
                        "isBuyer": f.side == BUY,
                        "isMaker": f.is_maker,
                        "isBestMatch": True,
                    }
                    for f in chosen
                ]
            )

    # --- account ---------------------------------------------------------------------------
    def account(self, req: Request) -> Response:
        key = bc.authenticate(req, self.sim)
        omit_zero = req.params.get("omitZeroBalances", "false").lower() == "true"
        with self.sim.lock:
            ledger = self.venue.ledger
            balances = [
                {"asset": a, "free": bc.fmt(free, 8), "locked": bc.fmt(locked, 8)}
                for a, (free, locked) in sorted(ledger.balances(key).items())
                if not (omit_zero and free == 0 and locked == 0)
            ]
            updated = ledger.updated_ms.get(key, 0)
        rate = bc.fmt(FEES.maker, 8)
        zero = bc.fmt(Decimal(0), 8)
        return ok(
            {
                "makerCommission": 10,
                "takerCommission": 10,
                "buyerCommission": 0,
                "sellerCommission": 0,
                "commissionRates": {"maker": rate, "taker": rate, "buyer": zero, "seller": zero},
                "canTrade": True,
                "canWithdraw": True,
                "canDeposit": True,
                "brokered": False,
                "requireSelfTradePrevention": False,
                "preventSor": False,
                "updateTime": updated,
                "accountType": "SPOT",
                "balances": balances,
                "permissions": ["SPOT"],
                "uid": zlib.crc32(key.encode()) % 1_000_000_000,
            }
        )

    def commission(self, req: Request) -> Response:
        bc.authenticate(req, self.sim)
        rules = self.symbol_rules(req.params)
        rate, zero = bc.fmt(FEES.maker, 8), bc.fmt(Decimal(0), 8)
        four = {"maker": rate, "taker": rate, "buyer": zero, "seller": zero}
        nil = dict.fromkeys(four, zero)
        return ok(
            {
                "symbol": rules.symbol,
                "standardCommission": four,
                "specialCommission": nil,
                "taxCommission": nil,
                "discount": {
                    "enabledForAccount": False,
                    "enabledForSymbol": False,
                    "discountAsset": "BNB",
                    "discount": zero,
                },
            }
        )

    def trade_fee(self, req: Request) -> Response:
        bc.authenticate(req, self.sim)
        symbol = req.params.get("symbol")
        symbols = [symbol] if symbol else list(self.rules)
        return ok(
            [
                {"symbol": s, "makerCommission": "0.001", "takerCommission": "0.001"}
                for s in symbols
                if s in self.rules
            ]
        )
