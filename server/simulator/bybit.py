"""Bybit v5 dialect (`/v5/...`): spot and linear (USDT perpetual) over one UTA per key.

Bybit serves both categories on the same paths and tells them apart by `category`, so one
`Dialect` owns both venues, `bybit-spot` and `bybit-linear` (real rules: bybit_market.py;
shared wallet: bybit_account.py). Response shapes follow the docs' examples in
`../shared/data/bybit_v5_api_examples.md`; errors are HTTP 200 with a non-zero `retCode`
(bybit_common.py lists where each message comes from).

Orders: `Limit` (GTC, IOC, FOK, PostOnly) and `Market` (always IOC), `orderLinkId` (always
unique per key and category since the last reset, as the docs' "always unique" says: a reused id
is refused even after the first order closed: spot 170141, linear 110072), `reduceOnly` on
linear (110017 when it would open or grow the position), one-way mode only (`positionIdx` 0).
Spot market orders take `marketUnit` (`baseCoin` | `quoteCoin`; default: Buy by value, Sell
by quantity, as documented); a quote amount buys floor(amount / last) on `basePrecision`.
A PostOnly order that would take is accepted and then cancelled with rejectReason
`EC_PostOnlyWillTakeLiquidity` (the docs' order-history example). Conditional, TP/SL and
margin (`isLeverage=1`) orders are not simulated (10001).

Filters: spot 170134 (price off tick), 170137 (qty off basePrecision), 170136 (qty <
minOrderQty), 170381/170382 (qty > maxOrderQty, limit/market), 170140 (value < minOrderAmt),
170124 (value > maxOrderAmt), 170148 (market quote amount off quotePrecision); linear 110003
(price outside minPrice..maxPrice), 10001 (price off tick), qty truncated to `qtyStep` as the
docs' 110017 "orderQty will be truncated to zero" implies, 10001 "The number of contracts
exceeds minimum/maximum limit allowed", 110094 (notional < minNotionalValue unless
reduce-only). Balance: spot 170131, linear 110007. Unknown or closed order on cancel: spot 170213,
linear 110001.

Fees (Bybit's non-VIP defaults): spot 0.1 % maker and taker, charged in the asset received;
linear 0.02 % maker / 0.055 % taker in USDT.

Queries: `/v5/order/realtime` answers open orders by default and any order (any status) by
`orderId` / `orderLinkId`; `/v5/order/history` answers closed orders of the last 7 days
(cancelled ones without fills only for 24 h); `/v5/execution/list` the fills of the last 7 days.
Lists are newest first with `page_token` cursors. An `orderId` that is not a number (ccxt sends
`orderId=None` for `fetch_order(None, ...)`) matches nothing, and it takes priority over
`orderLinkId` as documented.

Orders sent without `orderLinkId` get one as on Bybit: spot a 19-digit number, linear "" (kept
internally, and shown by `/__sim/orders`, as `~<orderId>` so that it never matches a lookup).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from server.simulator import bybit_common as bb
from server.simulator.bybit_account import AccountViews, UnifiedLinearLedger, UnifiedSpotLedger
from server.simulator.bybit_market import (
    Instrument,
    MarketData,
    default_price,
    floor_to,
    load_instruments,
)
from server.simulator.core import Dialect, Rejection, Request, Response, Route, Venue
from server.simulator.matching import (
    BUY,
    CANCELED,
    FILLED,
    LIMIT,
    MARKET,
    NEW,
    PARTIALLY_FILLED,
    REJECTED,
    SELL,
    FeeSchedule,
    Fill,
    Order,
    is_marketable,
)

ZERO = Decimal(0)
SPOT, LINEAR = "bybit-spot", "bybit-linear"
SPOT_FEES = FeeSchedule(maker=Decimal("0.001"), taker=Decimal("0.001"), charge="received")
LINEAR_FEES = FeeSchedule(maker=Decimal("0.0002"), taker=Decimal("0.00055"), charge="quote")
WEEK_MS, DAY_MS = 7 * 86_400_000, 86_400_000
OPEN_CLOSED_KEPT = 500  # realtime keeps the 500 most recent closed orders (open-order.mdx)
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "PostOnly")
REJECTIONS = {
    "spot": {"INSUFFICIENT": bb.SPOT_INSUFFICIENT},
    "linear": {
        "INSUFFICIENT": bb.LINEAR_INSUFFICIENT,
        "REDUCE_ONLY": (110017, "Reduce-only rule not satisfied"),
    },
}
DUPLICATE = {
    "spot": (170141, "Duplicate clientOrderId"),
    "linear": (110072, "OrderLinkedID is duplicate"),
}
NOT_FOUND = {"spot": (170213, "Order does not exist."), "linear": (110001, "Order does not exist")}


@dataclass
class Meta:
    """What Bybit reports about an order beyond the neutral `Order`."""

    category: str
    link: str  # orderLinkId as reported ("" for linear orders sent without one)
    tif: str
    market_unit: str  # "", "baseCoin" or "quoteCoin" (spot market orders)
    qty_sent: Decimal  # `qty` as sent (a quote amount when marketUnit is quoteCoin)
    last_on_created: Decimal
    reject_reason: str = "EC_NoError"
    cancel_type: str = "UNKNOWN"


def _status(o: Order, spot: bool) -> str:
    if o.status == NEW:
        return "New"
    if o.status == PARTIALLY_FILLED:
        return "PartiallyFilled"
    if o.status == FILLED:
        return "Filled"
    if o.status == REJECTED:
        return "Rejected"
    if spot and o.executed > 0:  # "PartiallyFilledCanceled: only spot has this order status"
        return "PartiallyFilledCanceled"
    return "Cancelled"


class Bybit(Dialect):
    """The Bybit v5 REST dialect over the `bybit-spot` and `bybit-linear` venues."""

    name = "bybit"
    venue_name = "bybit"  # the order log takes the venue from order_fields ("bybit-<category>")

    def __init__(self, sim) -> None:
        super().__init__(sim)
        self.instruments = load_instruments()
        self.market = MarketData(sim, self.instruments)
        self.views = AccountViews(self)
        self.meta: dict[int, Meta] = {}
        self.closed_size: dict[int, Decimal] = {}  # trade id -> position size it closed

    # --- venues and routes -----------------------------------------------------------------
    def build_venues(self) -> dict[str, Venue]:
        self.meta, self.closed_size = {}, {}
        spot_rules = {s: i.rules for s, i in self.instruments["spot"].items()}
        linear_rules = {s: i.rules for s, i in self.instruments["linear"].items()}
        spot_ledger = UnifiedSpotLedger()
        spot = Venue(
            SPOT,
            spot_rules,
            SPOT_FEES,
            spot_ledger,
            self.sim.ids,
            {s: default_price(i) for s, i in self.instruments["spot"].items()},
        )
        linear_ledger = _LinearLedger(lambda s: ZERO, spot_ledger, self.closed_size)
        linear = Venue(
            LINEAR,
            linear_rules,
            LINEAR_FEES,
            linear_ledger,
            self.sim.ids,
            {
                s: default_price(i, self.instruments["spot"].get(s))
                for s, i in self.instruments["linear"].items()
            },
        )
        linear_ledger.price_of = linear.last
        spot_ledger.linear = linear_ledger
        return {SPOT: spot, LINEAR: linear}

    def venue(self, cat: str) -> Venue:
        return self.sim.venues[f"bybit-{cat}"]

    def fault_response(self, kind: str, ms: int) -> Response:
        return bb.fault_response(kind, ms, bb.LINEAR_INSUFFICIENT)

    def fault_for(self, req: Request, kind: str, ms: int) -> Response:
        """Faults answer in the request's category: insufficient funds is 170131 on spot."""
        try:
            cat = bb.params(req).get("category")
        except Exception:  # an unparsable body still gets the fault
            cat = None
        insufficient = bb.SPOT_INSUFFICIENT if cat == "spot" else bb.LINEAR_INSUFFICIENT
        return bb.fault_response(kind, ms, insufficient)

    def routes(self) -> dict[tuple[str, str], Route]:
        m, v = self.market, self.views
        table = {
            ("GET", "/v5/market/time"): m.time,
            ("GET", "/v5/market/instruments-info"): m.instruments_info,
            ("GET", "/v5/market/tickers"): m.tickers,
            ("GET", "/v5/market/orderbook"): m.orderbook,
            ("GET", "/v5/market/kline"): m.kline,
            ("POST", "/v5/order/cancel"): self.cancel_order,
            ("POST", "/v5/order/cancel-all"): self.cancel_all,
            ("GET", "/v5/order/realtime"): self.realtime,
            ("GET", "/v5/order/history"): self.history,
            ("GET", "/v5/execution/list"): self.executions,
            ("GET", "/v5/account/wallet-balance"): v.wallet_balance,
            ("GET", "/v5/account/info"): v.account_info,
            ("GET", "/v5/account/fee-rate"): v.fee_rate,
            ("GET", "/v5/user/query-api"): v.query_api,
            ("GET", "/v5/position/list"): v.position_list,
            ("POST", "/v5/position/set-leverage"): v.set_leverage,
        }
        routes = {k: Route(h, self) for k, h in table.items()}
        routes[("POST", "/v5/order/create")] = Route(self.create_order, self, bb.order_fields)
        return routes

    # --- rendering -------------------------------------------------------------------------
    def inst(self, o: Order) -> Instrument:
        return self.instruments[self.meta[o.order_id].category][o.symbol]

    def order_json(self, o: Order, history: bool = False) -> dict:
        """A `/v5/order/realtime` (or, with `history`, `/v5/order/history`) list entry."""
        m, inst = self.meta[o.order_id], self.inst(o)
        spot = m.category == "spot"
        status = _status(o, spot)
        fees: dict[str, Decimal] = {}
        for f in o.fills:
            fees[f.commission_asset] = fees.get(f.commission_asset, ZERO) + f.commission
        is_limit = o.type == LIMIT
        leaves = o.remaining if o.is_open else ZERO
        qty = bb.plain(m.qty_sent) if m.market_unit == "quoteCoin" else inst.qty(o.qty)
        cancelled = status in ("Cancelled", "PartiallyFilledCanceled")
        zero_px = inst.px(ZERO)
        out: dict = {
            "orderId": str(o.order_id),
            "orderLinkId": m.link,
            "blockTradeId": "",
            "symbol": o.symbol,
            "price": inst.px(o.price) if is_limit and o.price is not None else "0",
            "qty": qty,
            "side": "Buy" if o.side == BUY else "Sell",
            "isLeverage": "0" if spot else "",
            "positionIdx": 0,
            "orderStatus": status,
            "cancelType": m.cancel_type if cancelled else "UNKNOWN",
            "rejectReason": m.reject_reason,
            "avgPrice": bb.plain(o.avg_price) if o.executed else ("" if spot else "0"),
            "leavesQty": inst.qty(leaves),
            "leavesValue": bb.plain(leaves * o.price) if is_limit and o.price else "0",
            "cumExecQty": inst.qty(o.executed),
            "cumExecValue": bb.plain(o.cum_quote),
            "cumExecFee": bb.plain(sum(fees.values(), ZERO)),
            "timeInForce": m.tif,
            "orderType": "Limit" if is_limit else "Market",
            "stopOrderType": "UNKNOWN",
            "orderIv": "",
            "triggerPrice": zero_px,
            "takeProfit": zero_px,
            "stopLoss": zero_px,
            "tpTriggerBy": "UNKNOWN",
            "slTriggerBy": "UNKNOWN",
            "triggerDirection": 0,
            "triggerBy": "UNKNOWN",
            "lastPriceOnCreated": inst.px(m.last_on_created),
            "reduceOnly": o.reduce_only,
            "closeOnTrigger": False,
            "smpType": "None",
            "smpGroup": 0,
            "smpOrderId": "",
            "tpslMode": "",
            "tpLimitPrice": "",
            "slLimitPrice": "",
            "placeType": "",
        }
        if history:
            out.update({"slippageToleranceType": "UNKNOWN", "slippageTolerance": ""})
        out.update({"createdTime": str(o.created_ms), "updatedTime": str(o.updated_ms)})
        if history:
            out["extraFees"] = ""
        out["cumFeeDetail"] = {a: bb.plain(c) for a, c in fees.items()}
        if history:
            out.update({"rpiTakerAccess": False, "rpiMatchedQty": "0"})
        if spot:  # spot has no tpslMode (ccxt tells contracts by it) and basePrice, not lastPrice
            del out["tpslMode"], out["lastPriceOnCreated"]
            out["marketUnit"] = m.market_unit
            out["basePrice"] = inst.px(m.last_on_created)
        return out

    def execution_json(self, f: Fill) -> dict:
        """A `/v5/execution/list` entry (the docs' example keys)."""
        m = self.meta[f.order_id]
        order = self.venue(m.category).orders[f.order_id]
        inst = self.instruments[m.category][f.symbol]
        done = ZERO
        for x in order.fills:  # quantity left on the order right after this execution
            done += x.qty
            if x.trade_id == f.trade_id:
                break
        fees = self.venue(m.category).fees
        closed = self.closed_size.get(f.trade_id)
        return {
            "symbol": f.symbol,
            "orderType": "Limit" if order.type == LIMIT else "Market",
            "underlyingPrice": "",
            "orderLinkId": m.link,
            "side": "Buy" if f.side == BUY else "Sell",
            "indexPrice": "",
            "orderId": str(f.order_id),
            "stopOrderType": "UNKNOWN",
            "leavesQty": inst.qty(max(order.qty - done, ZERO)),
            "execTime": str(f.time_ms),
            "feeCurrency": f.commission_asset if m.category == "spot" else "",
            "isMaker": f.is_maker,
            "execFee": bb.plain(f.commission),
            "feeRate": bb.plain(fees.maker if f.is_maker else fees.taker),
            "execId": str(f.trade_id),
            "tradeIv": "",
            "blockTradeId": "",
            "markPrice": inst.px(f.price),
            "execPrice": inst.px(f.price),
            "markIv": "",
            "orderQty": bb.plain(m.qty_sent)
            if m.market_unit == "quoteCoin"
            else inst.qty(order.qty),
            "orderPrice": inst.px(order.price) if order.type == LIMIT and order.price else "0",
            "execValue": bb.plain(f.quote_qty),
            "execType": "Trade",
            "execQty": inst.qty(f.qty),
            "closedSize": inst.qty(closed) if closed is not None else "",
            "extraFees": "",
            "seq": f.trade_id,
        }

    # --- orders ----------------------------------------------------------------------------
    def _fail(self, cat: str, spot_error: tuple[int, str]) -> bb.ApiError:
        """Spot answers its own 170xxx code; linear the generic parameter error."""
        return bb.error(*spot_error) if cat == "spot" else bb.param_error()

    def _parse(self, p: dict, cat: str):
        """Validate the request's fields (not yet the filters); returns the order pieces."""
        inst = self.instruments[cat].get(bb.text(p, "symbol") or "")
        if inst is None:
            if cat == "spot":
                raise bb.error(170121, "Invalid symbol.")
            raise bb.param_error(bb.NOT_SUPPORTED_SYMBOLS)
        side = bb.text(p, "side")
        if side not in ("Buy", "Sell"):
            raise self._fail(cat, (170117, "Invalid side."))
        otype = bb.text(p, "orderType")
        if otype not in ("Limit", "Market"):
            raise self._fail(cat, (170116, "Invalid orderType."))
        if any(bb.text(p, k) for k in ("triggerPrice", "takeProfit", "stopLoss")) or (
            bb.text(p, "orderFilter") not in (None, "Order") or bb.integer(p, "isLeverage", 0)
        ):
            raise bb.param_error("conditional, TP/SL and margin orders are not simulated")
        tif = "IOC" if otype == "Market" else (bb.text(p, "timeInForce") or "GTC")
        if tif not in TIME_IN_FORCE:
            raise self._fail(cat, (170115, "Invalid timeInForce."))
        qty = bb.number(p, "qty")
        if qty is None or qty <= 0:
            raise self._fail(cat, (170105, "Parameter 'qty' was empty."))
        price = None
        if otype == "Limit":
            price = bb.number(p, "price")
            if price is None:
                raise self._fail(cat, (170105, "Parameter 'price' was empty."))
        link = bb.text(p, "orderLinkId")
        if link is not None and not bb.LINK_ID_RE.fullmatch(link):
            raise bb.param_error()
        if bb.integer(p, "positionIdx", 0) != 0:
            raise bb.param_error("position idx not match position mode")
        unit = ""
        if cat == "spot" and otype == "Market":
            unit = bb.text(p, "marketUnit") or ("quoteCoin" if side == "Buy" else "baseCoin")
            if unit not in ("baseCoin", "quoteCoin"):
                raise bb.param_error()
        reduce_only = cat == "linear" and bb.flag(p, "reduceOnly")
        return inst, side, otype, tif, qty, price, link, unit, reduce_only

    def _check_spot(self, inst: Instrument, order: Order, quote_amount, last: Decimal) -> None:
        r = inst.rules
        if order.price is not None:
            if order.price <= 0:
                raise bb.error(170133, "Order price lower than the minimum.")
            if order.price % r.tick != 0:
                raise bb.error(170134, "Order price decimal too long.")
        if quote_amount is not None:
            if quote_amount % inst.quote_precision != 0:
                raise bb.error(170148, "Market order amount decimal too long")
            value = quote_amount
        else:
            if order.qty % r.step != 0:
                raise bb.error(170137, "Order volume decimal too long")
            value = order.qty * (order.price if order.price is not None else last)
        too_small = order.qty < r.min_qty and quote_amount is None  # by value: minOrderAmt only
        if too_small or order.qty <= 0:
            raise bb.error(170136, "Order quantity lower than the minimum.")
        if r.max_qty > 0 and order.qty > r.max_qty:
            code = 170381 if order.type == LIMIT else 170382
            raise bb.error(code, "Order quantity too large.")
        if value < r.min_notional:
            raise bb.error(170140, "Order value exceeded lower limit")
        if r.max_notional > 0 and value > r.max_notional:
            raise bb.error(170124, "Order amount too large.")

    def _check_linear(self, inst: Instrument, order: Order, last: Decimal) -> None:
        r = inst.rules
        if order.price is not None:
            if order.price < r.min_price or (r.max_price > 0 and order.price > r.max_price):
                raise bb.error(110003, "Order price exceeds the allowable range.")
            if (order.price - r.min_price) % r.tick != 0:
                raise bb.param_error()
        order.qty = floor_to(order.qty, r.step)
        if order.qty <= 0:
            raise bb.error(110017, "orderQty will be truncated to zero")
        if order.qty < r.min_qty:
            raise bb.param_error("The number of contracts exceeds minimum limit allowed")
        cap = r.max_qty if order.type == LIMIT else inst.max_market_qty
        if cap > 0 and order.qty > cap:
            scale = Decimal(100_000_000)
            raise bb.param_error(
                "The number of contracts exceeds maximum limit allowed: too large, "
                f"order_qty:{int(order.qty * scale)} > max_qty:{int(cap * scale)}"
            )
        notional = order.qty * (order.price if order.price is not None else last)
        if not order.reduce_only and notional < r.min_notional:
            raise bb.error(110094, "Order notional value below the lower limit")

    def create_order(self, req: Request) -> Response:
        key = bb.authenticate(req, self.sim)
        bb.can_trade(key, self.sim)
        p = bb.params(req)
        cat = bb.category(p)
        inst, side, otype, tif, qty, price, link, unit, reduce_only = self._parse(p, cat)
        r = inst.rules
        with self.sim.lock:
            venue = self.venue(cat)
            if link is not None and (key, link) in venue.by_client:
                raise bb.error(*DUPLICATE[cat])
            last = venue.last(r.symbol)
            quote_amount = qty if unit == "quoteCoin" else None
            base_qty = floor_to(qty / last, r.step) if quote_amount is not None else qty
            order = Order(
                order_id=0,
                owner=key,
                symbol=r.symbol,
                base=r.base,
                quote=r.quote,
                side=BUY if side == "Buy" else SELL,
                type=LIMIT if otype == "Limit" else MARKET,
                qty=base_qty,
                price=price,
                time_in_force=tif,
                client_order_id=link or "",
                step=r.default_step,
                created_ms=0,
                reduce_only=reduce_only,
                quote_order_qty=quote_amount or ZERO,
            )
            if cat == "spot":
                self._check_spot(inst, order, quote_amount, last)
            else:
                self._check_linear(inst, order, last)
            if order.type == LIMIT and len(venue.open_orders(key, r.symbol)) >= r.max_num_orders:
                if cat == "spot":
                    raise bb.error(
                        170810, "Cannot exceed maximum of 500 conditional, TP/SL and active orders."
                    )
                raise bb.error(110020, "Not allowed to have more than 500 active orders.")
            now = bb.now_ms()
            order.order_id, order.created_ms = self.sim.ids.order(), now
            if link is None:  # spot numbers unnamed orders; linear reports "" (never matched)
                shown = str(10**18 + order.order_id) if cat == "spot" else ""
                order.client_order_id = shown or f"~{order.order_id}"
            else:
                shown = link
            meta = Meta(cat, shown, tif, unit, qty, last)
            if tif == "PostOnly" and is_marketable(order, last):
                self._record_cancelled(venue, order, now)
                meta.reject_reason = "EC_PostOnlyWillTakeLiquidity"
                self.meta[order.order_id] = meta
            else:
                self.meta[order.order_id] = meta
                try:
                    venue.submit(order, now)
                except Rejection as rej:
                    del self.meta[order.order_id]
                    raise bb.error(*REJECTIONS[cat][rej.reason]) from None
            req.order = order
            return bb.ok({"orderId": str(order.order_id), "orderLinkId": shown})

    @staticmethod
    def _record_cancelled(venue: Venue, order: Order, now: int) -> None:
        """Store an order that was accepted and cancelled at once (PostOnly would take)."""
        order.status, order.updated_ms = CANCELED, now
        venue.orders[order.order_id] = order
        venue.by_owner.setdefault((order.owner, order.symbol), []).append(order)
        venue.by_client[(order.owner, order.client_order_id)] = order

    def _lookup(self, venue: Venue, key: str, p: dict, symbol: str | None) -> list[Order]:
        """Orders named by `orderId` (priority) or `orderLinkId`; [] when nothing matches."""
        raw_id = bb.text(p, "orderId")
        if raw_id is not None:
            order = venue.orders.get(int(raw_id)) if raw_id.isdigit() else None
        else:
            order = venue.by_client.get((key, bb.text(p, "orderLinkId") or ""))
        if order is None or order.owner != key or (symbol and order.symbol != symbol):
            return []
        return [order]

    def _symbol(self, cat: str, p: dict) -> str | None:
        symbol = bb.text(p, "symbol")
        return None if symbol is None else self.market.instrument(cat, symbol).rules.symbol

    def cancel_order(self, req: Request) -> Response:
        key = bb.authenticate(req, self.sim)
        bb.can_trade(key, self.sim)
        p = bb.params(req)
        cat = bb.category(p)
        symbol = bb.text(p, "symbol")
        if symbol not in self.instruments[cat]:
            raise self._fail(cat, (170121, "Invalid symbol."))
        if bb.text(p, "orderId") is None and bb.text(p, "orderLinkId") is None:
            raise bb.param_error()
        with self.sim.lock:
            venue = self.venue(cat)
            found = self._lookup(venue, key, p, symbol)
            if not found or not found[0].is_open:
                raise bb.error(*NOT_FOUND[cat])
            order = venue.cancel(found[0], bb.now_ms())
            self.meta[order.order_id].cancel_type = "CancelByUser"
            return bb.ok(
                {"orderId": str(order.order_id), "orderLinkId": self.meta[order.order_id].link}
            )

    def cancel_all(self, req: Request) -> Response:
        key = bb.authenticate(req, self.sim)
        bb.can_trade(key, self.sim)
        p = bb.params(req)
        cat = bb.category(p)
        symbol = self._symbol(cat, p)
        base, settle = bb.text(p, "baseCoin"), bb.text(p, "settleCoin")
        if cat == "linear" and symbol is None and base is None and settle is None:
            raise bb.param_error()
        with self.sim.lock:
            venue, now = self.venue(cat), bb.now_ms()
            doomed = [
                o
                for o in sorted(venue.open_orders(key, symbol), key=lambda o: o.order_id)
                if (base is None or o.base == base) and (settle is None or o.quote == settle)
            ]
            out = []
            for order in doomed:
                venue.cancel(order, now)
                self.meta[order.order_id].cancel_type = "CancelByUser"
                out.append(
                    {"orderId": str(order.order_id), "orderLinkId": self.meta[order.order_id].link}
                )
        return bb.ok({"list": out, "success": "1"})

    def _owner_orders(self, venue: Venue, key: str, symbol: str | None) -> list[Order]:
        symbols = [symbol] if symbol else list(venue.rules)
        out = [o for s in symbols for o in venue.owner_orders(key, s)]
        out.sort(key=lambda o: o.order_id, reverse=True)
        return out

    @staticmethod
    def _coin_filter(orders: list[Order], p: dict) -> list[Order]:
        base, settle = bb.text(p, "baseCoin"), bb.text(p, "settleCoin")
        return [
            o
            for o in orders
            if (base is None or o.base == base) and (settle is None or o.quote == settle)
        ]

    def realtime(self, req: Request) -> Response:
        key = bb.authenticate(req, self.sim)
        p = bb.params(req)
        cat = bb.category(p)
        symbol = self._symbol(cat, p)
        by_id = bb.text(p, "orderId") is not None or bb.text(p, "orderLinkId") is not None
        if (
            cat == "linear"
            and symbol is None
            and not any(bb.text(p, k) for k in ("baseCoin", "settleCoin"))
        ):
            raise bb.param_error()
        with self.sim.lock:
            venue = self.venue(cat)
            if by_id:
                orders = self._lookup(venue, key, p, symbol)
            else:
                orders = self._coin_filter(self._owner_orders(venue, key, symbol), p)
                if bb.integer(p, "openOnly", 0) == 0:
                    orders = [o for o in orders if o.is_open]
                else:
                    orders = [o for o in orders if not o.is_open][:OPEN_CLOSED_KEPT]
            chunk, cursor = bb.page(orders, p, lambda o: o.order_id, 20, 50)
            rows = [self.order_json(o) for o in chunk]
        return bb.ok({"list": rows, "nextPageCursor": cursor, "category": cat})

    @staticmethod
    def _window(p: dict, now: int) -> tuple[int, int]:
        """startTime/endTime as documented: 7 days by default, at most 7 days apart."""
        start, end = bb.integer(p, "startTime"), bb.integer(p, "endTime")
        if start is None and end is None:
            end = now
        if start is None:
            assert end is not None
            start = end - WEEK_MS
        if end is None:
            end = start + WEEK_MS
        if end < start or end - start > WEEK_MS:
            raise bb.param_error()
        return start, end

    def history(self, req: Request) -> Response:
        key = bb.authenticate(req, self.sim)
        p = bb.params(req)
        cat = bb.category(p)
        symbol = self._symbol(cat, p)
        now = bb.now_ms()
        start, end = self._window(p, now)
        wanted = bb.text(p, "orderStatus")
        spot = cat == "spot"
        with self.sim.lock:
            venue = self.venue(cat)
            if bb.text(p, "orderId") is not None or bb.text(p, "orderLinkId") is not None:
                orders = self._lookup(venue, key, p, symbol)
            else:
                orders = self._coin_filter(self._owner_orders(venue, key, symbol), p)
            orders = [
                o
                for o in orders
                if not o.is_open
                and start <= o.created_ms <= end
                and (o.executed > 0 or o.status == FILLED or now - o.updated_ms <= DAY_MS)
                and (wanted is None or _status(o, spot) == wanted)
            ]
            chunk, cursor = bb.page(orders, p, lambda o: o.order_id, 20, 50)
            rows = [self.order_json(o, history=True) for o in chunk]
        return bb.ok({"list": rows, "nextPageCursor": cursor, "category": cat})

    def executions(self, req: Request) -> Response:
        key = bb.authenticate(req, self.sim)
        p = bb.params(req)
        cat = bb.category(p)
        symbol = self._symbol(cat, p)
        start, end = self._window(p, bb.now_ms())
        exec_type = bb.text(p, "execType")
        base = bb.text(p, "baseCoin")
        with self.sim.lock:
            venue = self.venue(cat)
            if bb.text(p, "orderId") is not None or bb.text(p, "orderLinkId") is not None:
                found = self._lookup(venue, key, p, None)  # "other input parameters are ignored"
                fills = list(found[0].fills) if found else []
            else:
                symbols = [symbol] if symbol else list(venue.rules)
                fills = [f for s in symbols for f in venue.owner_trades(key, s)]
                if base is not None:
                    fills = [f for f in fills if venue.rules[f.symbol].base == base]
            fills = [f for f in fills if start <= f.time_ms <= end and exec_type in (None, "Trade")]
            fills.sort(key=lambda f: f.trade_id, reverse=True)
            chunk, cursor = bb.page(fills, p, lambda f: f.trade_id, 50, 100)
            rows = [self.execution_json(f) for f in chunk]
        return bb.ok({"nextPageCursor": cursor, "category": cat, "list": rows})


class _LinearLedger(UnifiedLinearLedger):
    """Records, per fill, the position size it closed (`closedSize` of executions)."""

    def __init__(self, price_of, spot, closed_size: dict[int, Decimal]) -> None:
        super().__init__(price_of, spot)
        self.closed_size = closed_size

    def settle(self, order: Order, fill: Fill) -> None:
        pos = self.position(order.owner, order.symbol).amount
        if pos != 0 and (pos > 0) != (order.side == BUY):
            self.closed_size[fill.trade_id] = min(fill.qty, abs(pos))
        else:
            self.closed_size[fill.trade_id] = ZERO
        super().settle(order, fill)
