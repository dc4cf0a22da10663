"""Binance public market data, spot (`/api/v3`) and USDⓈ-M (`/fapi/v1`, `/fapi/v2`) alike.

The book is the simulator's single last price: bid = ask = last, with the symbol's LOT_SIZE
`maxQty` available at every level (depth levels step one tick away from the last price). 24h
tickers and klines are computed from the simulator's own price tape since the last reset.
exchangeInfo is the recorded real response with `serverTime` set to now.
"""

from __future__ import annotations

import json
from decimal import Decimal

from server.simulator import candles
from server.simulator.binance_common import (
    error,
    fmt,
    int_param,
    now_ms,
    required,
    symbols_param,
)
from server.simulator.core import Request, Response, Simulator, Venue, json_response
from server.simulator.markets import SymbolRules


class MarketData:
    """Public endpoints of one Binance venue; `futures` switches the few shape differences."""

    def __init__(self, sim: Simulator, venue: str, info: dict, futures: bool) -> None:
        self.sim, self.venue_name, self.futures = sim, venue, futures
        self.info = info
        template = dict(info, serverTime=0)
        self._info_body = json.dumps(template, separators=(",", ":")).encode()
        self._entries = {s["symbol"]: s for s in info["symbols"]}

    # --- helpers ---------------------------------------------------------------------------
    @property
    def venue(self) -> Venue:
        return self.sim.venues[self.venue_name]

    def rules(self, symbol: str | None) -> SymbolRules:
        rules = self.venue.rules.get(symbol or "")
        if rules is None:
            raise error(-1121, "Invalid symbol.")
        return rules

    def px(self, rules: SymbolRules, value: Decimal) -> str:
        return fmt(value, rules.price_decimals if self.futures else 8)

    def qty(self, rules: SymbolRules, value: Decimal) -> str:
        return fmt(value, rules.qty_decimals if self.futures else 8)

    def _selected(self, req: Request) -> tuple[list[str], bool]:
        """(symbols, single) from `symbol` / `symbols` / neither (= all)."""
        symbol = req.params.get("symbol")
        if symbol:
            self.rules(symbol)
            return [symbol], True
        listed = symbols_param(req.params)
        if listed is not None:
            for s in listed:
                self.rules(s)
            return listed, False
        return list(self.venue.rules), False

    @staticmethod
    def _one_or_all(items: list, single: bool) -> Response:
        return json_response(items[0] if single else items)

    # --- endpoints -------------------------------------------------------------------------
    def ping(self, req: Request) -> Response:
        return json_response({})

    def time(self, req: Request) -> Response:
        return json_response({"serverTime": now_ms()})

    def exchange_info(self, req: Request) -> Response:
        wanted = None
        if req.params.get("symbol"):
            wanted = [req.params["symbol"]]
        elif req.params.get("symbols"):
            wanted = symbols_param(req.params)
        if wanted is None:
            body = self._info_body.replace(b'"serverTime":0', b'"serverTime":%d' % now_ms(), 1)
            return Response(200, body)
        for s in wanted:
            if s not in self._entries:
                raise error(-1121, "Invalid symbol.")
        return json_response(
            dict(self.info, serverTime=now_ms(), symbols=[self._entries[s] for s in wanted])
        )

    def ticker_price(self, req: Request) -> Response:
        with self.sim.lock:
            symbols, single = self._selected(req)
            venue, now = self.venue, now_ms()
            items = []
            for s in symbols:
                item = {"symbol": s, "price": self.px(venue.rules[s], venue.last(s))}
                if self.futures:
                    item["time"] = now
                items.append(item)
        return self._one_or_all(items, single)

    def book_ticker(self, req: Request) -> Response:
        with self.sim.lock:
            symbols, single = self._selected(req)
            venue, now = self.venue, now_ms()
            items = []
            for s in symbols:
                r = venue.rules[s]
                last, size = self.px(r, venue.last(s)), self.qty(r, r.max_qty)
                item = {"symbol": s, "bidPrice": last, "bidQty": size}
                item.update({"askPrice": last, "askQty": size})
                if self.futures:
                    item["time"] = now
                items.append(item)
        return self._one_or_all(items, single)

    def ticker_24hr(self, req: Request) -> Response:
        with self.sim.lock:
            symbols, single = self._selected(req)
            venue, now = self.venue, now_ms()
            items = [self._day(venue, s, now) for s in symbols]
        return self._one_or_all(items, single)

    def _day(self, venue: Venue, symbol: str, now: int) -> dict:
        r = venue.rules[symbol]
        tape = venue.tape_of(symbol, now)
        open_, high, low, close, volume, quote, count = tape.window(now - 86_400_000)
        change = close - open_
        pct = (change / open_ * 100) if open_ else Decimal(0)
        wavg = quote / volume if volume else close
        out = {
            "symbol": symbol,
            "priceChange": self.px(r, change),
            "priceChangePercent": fmt(pct, 3),
            "weightedAvgPrice": self.px(r, wavg),
        }
        if not self.futures:
            out["prevClosePrice"] = self.px(r, open_)
        out.update({"lastPrice": self.px(r, close), "lastQty": self.qty(r, Decimal(0))})
        if not self.futures:
            size = self.qty(r, r.max_qty)
            out.update({"bidPrice": out["lastPrice"], "bidQty": size})
            out.update({"askPrice": out["lastPrice"], "askQty": size})
        out.update(
            {
                "openPrice": self.px(r, open_),
                "highPrice": self.px(r, high),
                "lowPrice": self.px(r, low),
                "volume": self.qty(r, volume),
                "quoteVolume": fmt(quote, 8),
                "openTime": now - 86_400_000,
                "closeTime": now,
                "firstId": -1 if not count else 0,
                "lastId": -1 if not count else count - 1,
                "count": count,
            }
        )
        return out

    def depth(self, req: Request) -> Response:
        limit = int_param(req.params, "limit", 100) or 100
        levels = max(1, min(limit, 20))
        with self.sim.lock:
            r = self.rules(required(req.params, "symbol"))
            last = self.venue.last(r.symbol)
        tick = r.tick if r.tick > 0 else Decimal("0.00000001")
        size = self.qty(r, r.max_qty)
        bids = [[self.px(r, last - i * tick), size] for i in range(levels) if last - i * tick > 0]
        asks = [[self.px(r, last + i * tick), size] for i in range(levels)]
        now = now_ms()
        body: dict = {"lastUpdateId": now}
        if self.futures:
            body.update({"E": now, "T": now})
        body.update({"bids": bids, "asks": asks})
        return json_response(body)

    def klines(self, req: Request) -> Response:
        p = req.params
        interval = candles.INTERVALS_MS.get(required(p, "interval"))
        if interval is None:
            raise error(-1120, "Invalid interval.")
        limit = max(1, min(int_param(p, "limit", 500) or 500, 1500 if self.futures else 1000))
        start, end = int_param(p, "startTime"), int_param(p, "endTime")
        with self.sim.lock:
            r = self.rules(required(p, "symbol"))
            now = now_ms()
            rows = self.venue.tape_of(r.symbol, now).klines(interval, start, end, limit, now)
        out = [
            [
                b,
                self.px(r, o),
                self.px(r, h),
                self.px(r, low),
                self.px(r, c),
                self.qty(r, v),
                close_ms,
                fmt(qv, 8),
                n,
                self.qty(r, Decimal(0)),
                fmt(Decimal(0), 8),
                "0",
            ]
            for b, o, h, low, c, v, close_ms, qv, n in rows
        ]
        return json_response(out)

    def avg_price(self, req: Request) -> Response:
        with self.sim.lock:
            r = self.rules(required(req.params, "symbol"))
            last = self.venue.last(r.symbol)
        return json_response({"mins": 5, "price": self.px(r, last), "closeTime": now_ms()})

    def premium_index(self, req: Request) -> Response:
        """Futures mark price: mark = index = last; funding 0.01% every 8 h."""
        with self.sim.lock:
            symbols, single = self._selected(req)
            venue, now = self.venue, now_ms()
            items = []
            for s in symbols:
                mark = self.px(venue.rules[s], venue.last(s))
                items.append(
                    {
                        "symbol": s,
                        "markPrice": mark,
                        "indexPrice": mark,
                        "estimatedSettlePrice": mark,
                        "lastFundingRate": "0.00010000",
                        "interestRate": "0.00010000",
                        "nextFundingTime": (now // 28_800_000 + 1) * 28_800_000,
                        "time": now,
                    }
                )
        return self._one_or_all(items, single)
