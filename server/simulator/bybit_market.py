"""Bybit v5 market rules and public market data (`/v5/market/...`) for spot and linear.

Rules come verbatim from `data/bybit_instruments_info.json` (data/PROVENANCE.md): 16 spot pairs
in the 2024 format and 7 USDT perpetuals in the 2025 format. `instruments-info` serves those
entries unchanged except `fundingInterval`, which ccxt's fixture stored as the string "480"
and the API sends as the number 480. The envelope's `time` is now.

Like the Binance dialect, the book is the single last price: bid = ask = last, with the
instrument's `maxOrderQty` at every level (levels step one tick away). Tickers and klines are
computed from the simulator's own price tape since the last reset (candles.Tape).

Starting prices: the first close of a Bybit candle file for the pair, else of a Binance one
(same pair, same market), else for spot `minOrderAmt / minOrderQty` snapped to the tick (the
price at which Bybit's two minimums coincide: PEPEUSDT 0.000003571); a linear contract without
candles starts at its spot twin's price (LTCUSDT 61.84), else `markets.fallback_price`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from urllib.parse import parse_qs, unquote

from server.simulator import bybit_common as bb
from server.simulator import candles
from server.simulator.core import Request, Response, Simulator, Venue
from server.simulator.markets import DATA_DIR, SymbolRules, fallback_price

ZERO = Decimal(0)
INSTRUMENTS_FILE = "bybit_instruments_info.json"
KLINE_INTERVALS = {
    "1": 60_000,
    "3": 180_000,
    "5": 300_000,
    "15": 900_000,
    "30": 1_800_000,
    "60": 3_600_000,
    "120": 7_200_000,
    "240": 14_400_000,
    "360": 21_600_000,
    "720": 43_200_000,
    "D": 86_400_000,
    "W": 604_800_000,
    "M": 2_592_000_000,  # 30 days; calendar months are not modelled
}
SPOT_TICKER_KEYS = (
    *("symbol", "bid1Price", "bid1Size", "ask1Price", "ask1Size", "lastPrice", "prevPrice24h"),
    *("price24hPcnt", "highPrice24h", "lowPrice24h", "turnover24h", "volume24h"),
    "usdIndexPrice",
)
FUNDING_RATE = "0.0001"  # 0.01 % every 8 h, as on Binance's premiumIndex of this simulator


@dataclass(frozen=True)
class Instrument:
    """One instruments-info entry: neutral rules for the Venue plus Bybit-only fields."""

    category: str
    entry: dict
    rules: SymbolRules
    quote_precision: Decimal  # spot: decimals of a market buy's quote amount
    max_market_qty: Decimal  # linear: maxMktOrderQty (spot: maxOrderQty)

    @property
    def price_places(self) -> int:
        return bb.decimals(self.rules.tick)

    @property
    def qty_places(self) -> int:
        return bb.decimals(self.rules.step)

    def px(self, value: Decimal) -> str:
        return bb.fixed(value, self.price_places)

    def qty(self, value: Decimal) -> str:
        return bb.fixed(value, self.qty_places)


def _d(value, default: str = "0") -> Decimal:
    return Decimal(str(value if value not in (None, "") else default))


def spot_instrument(entry: dict) -> Instrument:
    lot, price = entry["lotSizeFilter"], entry["priceFilter"]
    tick, step = _d(price["tickSize"]), _d(lot["basePrecision"])
    rules = SymbolRules(
        symbol=entry["symbol"],
        base=entry["baseCoin"],
        quote=entry["quoteCoin"],
        status=entry.get("status", "Trading"),
        tick=tick,
        min_price=ZERO,
        max_price=ZERO,
        step=step,
        min_qty=_d(lot.get("minOrderQty")),
        max_qty=_d(lot.get("maxOrderQty")),
        market_step=step,
        market_min_qty=_d(lot.get("minOrderQty")),
        market_max_qty=_d(lot.get("maxOrderQty")),
        min_notional=_d(lot.get("minOrderAmt")),
        max_notional=_d(lot.get("maxOrderAmt")),
        min_notional_to_market=True,
        max_notional_to_market=True,
        notional_filter="minOrderAmt",
        price_decimals=bb.decimals(tick),
        qty_decimals=bb.decimals(step),
        max_num_orders=500,
    )
    quote_precision = _d(lot.get("quotePrecision"), "0.00000001")
    return Instrument("spot", entry, rules, quote_precision, rules.max_qty)


def linear_instrument(entry: dict) -> Instrument:
    lot, price = entry["lotSizeFilter"], entry["priceFilter"]
    tick, step = _d(price["tickSize"]), _d(lot["qtyStep"])
    rules = SymbolRules(
        symbol=entry["symbol"],
        base=entry["baseCoin"],
        quote=entry["quoteCoin"],
        status=entry.get("status", "Trading"),
        tick=tick,
        min_price=_d(price.get("minPrice")),
        max_price=_d(price.get("maxPrice")),
        step=step,
        min_qty=_d(lot.get("minOrderQty")),
        max_qty=_d(lot.get("maxOrderQty")),
        market_step=step,
        market_min_qty=_d(lot.get("minOrderQty")),
        market_max_qty=_d(lot.get("maxMktOrderQty")),
        min_notional=_d(lot.get("minNotionalValue")),
        max_notional=ZERO,
        min_notional_to_market=True,
        max_notional_to_market=False,
        notional_filter="minNotionalValue",
        price_decimals=bb.decimals(tick),
        qty_decimals=bb.decimals(step),
        max_num_orders=500,
    )
    max_market = _d(lot.get("maxMktOrderQty")) or rules.max_qty
    return Instrument("linear", entry, rules, tick, max_market)


def load_instruments() -> dict[str, dict[str, Instrument]]:
    """{category: {symbol: Instrument}} from the recorded file."""
    with open(DATA_DIR / INSTRUMENTS_FILE, encoding="utf-8") as fh:
        data = json.load(fh)
    out: dict[str, dict[str, Instrument]] = {}
    for cat, build in (("spot", spot_instrument), ("linear", linear_instrument)):
        entries = data[cat]["result"]["list"]
        for e in entries:
            if isinstance(e.get("fundingInterval"), str):
                e["fundingInterval"] = int(e["fundingInterval"])
        out[cat] = {e["symbol"]: build(e) for e in entries}
    return out


def default_price(inst: Instrument, spot_twin: Instrument | None = None) -> Decimal:
    """The starting last price (module docstring)."""
    r = inst.rules
    kind = "spot" if inst.category == "spot" else "futures"
    for exchange in ("bybit", "binance"):
        close = candles.first_close(exchange, kind, r.base, r.quote)
        if close is not None:
            return close
    if inst.category == "spot" and r.min_qty > 0 and r.min_notional > 0:
        return _snap(r.min_notional / r.min_qty, r.tick)
    if spot_twin is not None:
        return _snap(default_price(spot_twin), r.tick)
    return fallback_price(r)


def _snap(price: Decimal, tick: Decimal) -> Decimal:
    snapped = (price / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick
    return max(snapped, tick)


class MarketData:
    """Public `/v5/market/*` endpoints over the `bybit-spot` and `bybit-linear` venues."""

    def __init__(self, sim: Simulator, instruments: dict[str, dict[str, Instrument]]) -> None:
        self.sim = sim
        self.instruments = instruments

    def venue(self, cat: str) -> Venue:
        return self.sim.venues[f"bybit-{cat}"]

    def instrument(self, cat: str, symbol: str | None) -> Instrument:
        inst = self.instruments[cat].get(symbol or "")
        if inst is None:
            raise bb.param_error(bb.NOT_SUPPORTED_SYMBOLS)
        return inst

    # --- endpoints -------------------------------------------------------------------------
    def time(self, req: Request) -> Response:
        ns = bb.now_ms() * 1_000_000
        return bb.ok({"timeSecond": str(ns // 1_000_000_000), "timeNano": str(ns)})

    def instruments_info(self, req: Request) -> Response:
        p = bb.params(req)
        cat = bb.category(p)
        entries = [i.entry for i in self.instruments[cat].values()]
        symbol = bb.text(p, "symbol")
        if symbol is not None:
            entries = [self.instrument(cat, symbol).entry]
        status = bb.text(p, "status")
        if status is not None and status != "Trading":
            entries = []  # no PreLaunch / Delivering instruments are recorded
        base = bb.text(p, "baseCoin")
        if base is not None and cat != "spot":
            entries = [e for e in entries if e["baseCoin"] == base]
        if cat == "spot":  # "Spot does not support pagination, so limit, cursor are invalid."
            return bb.ok({"category": cat, "list": entries})
        size = bb.limit(p, 500, 1000)
        start = 0
        cursor = bb.text(p, "cursor")
        if cursor is not None:
            # ccxt sends the cursor raw (%3D decoded to "="); an encoding client keeps "%3D"
            last = (parse_qs(unquote(cursor)).get("last") or [""])[0]
            names = [e["symbol"] for e in entries]
            if last not in names:
                raise bb.param_error()
            start = names.index(last) + 1
        chunk = entries[start : start + size]
        more = start + size < len(entries)
        next_cursor = f"first%3D{chunk[0]['symbol']}%26last%3D{chunk[-1]['symbol']}" if more else ""
        return bb.ok({"category": cat, "list": chunk, "nextPageCursor": next_cursor})

    def tickers(self, req: Request) -> Response:
        p = bb.params(req)
        cat = bb.category(p)
        symbol = bb.text(p, "symbol")
        names = (
            [self.instrument(cat, symbol).rules.symbol] if symbol else list(self.instruments[cat])
        )
        with self.sim.lock:
            venue, now = self.venue(cat), bb.now_ms()
            items = [self._ticker(cat, venue, s, now) for s in names]
        return bb.ok({"category": cat, "list": items})

    def _ticker(self, cat: str, venue: Venue, symbol: str, now: int) -> dict:
        inst = self.instruments[cat][symbol]
        tape = venue.tape_of(symbol, now)
        open_, high, low, close, volume, quote, _count = tape.window(now - 86_400_000)
        pct = ((close - open_) / open_).quantize(Decimal("0.000001")) if open_ else ZERO
        last, size = inst.px(close), inst.qty(inst.rules.max_qty)
        common = {
            "symbol": symbol,
            "bid1Price": last,
            "bid1Size": size,
            "ask1Price": last,
            "ask1Size": size,
            "lastPrice": last,
            "prevPrice24h": inst.px(open_),
            "price24hPcnt": bb.plain(pct),
            "highPrice24h": inst.px(high),
            "lowPrice24h": inst.px(low),
            "turnover24h": bb.plain(quote),
            "volume24h": bb.plain(volume),
        }
        if cat == "spot":
            usd = last if inst.rules.quote in ("USDT", "USDC") else ""
            return {k: (common[k] if k != "usdIndexPrice" else usd) for k in SPOT_TICKER_KEYS}
        hour = tape.window(now - 3_600_000)[0]
        next_funding = (now // 28_800_000 + 1) * 28_800_000
        return {
            "symbol": symbol,
            "lastPrice": last,
            "indexPrice": last,
            "markPrice": last,
            "prevPrice24h": common["prevPrice24h"],
            "price24hPcnt": common["price24hPcnt"],
            "highPrice24h": common["highPrice24h"],
            "lowPrice24h": common["lowPrice24h"],
            "prevPrice1h": inst.px(hour),
            "openInterest": "0",
            "openInterestValue": "0",
            "turnover24h": common["turnover24h"],
            "volume24h": common["volume24h"],
            "fundingRate": FUNDING_RATE,
            "nextFundingTime": str(next_funding),
            "predictedDeliveryPrice": "",
            "basisRate": "",
            "deliveryFeeRate": "",
            "deliveryTime": "0",
            "ask1Size": size,
            "bid1Price": last,
            "ask1Price": last,
            "bid1Size": size,
            "basis": "",
            "preOpenPrice": "",
            "preQty": "",
            "curPreListingPhase": "",
            "fundingIntervalHour": "8",
            "basisRateYear": "",
            "fundingCap": inst.entry.get("upperFundingRate", ""),
        }

    def orderbook(self, req: Request) -> Response:
        p = bb.params(req)
        cat = bb.category(p)
        inst = self.instrument(cat, bb.text(p, "symbol"))
        levels = min(bb.limit(p, 1 if cat == "spot" else 25, 1000), 50)
        with self.sim.lock:
            last = self.venue(cat).last(inst.rules.symbol)
        tick, size = inst.rules.tick, inst.qty(inst.rules.max_qty)
        bids = [[inst.px(last - i * tick), size] for i in range(levels) if last - i * tick > 0]
        asks = [[inst.px(last + i * tick), size] for i in range(levels)]
        now = bb.now_ms()
        return bb.ok(
            {
                "s": inst.rules.symbol,
                "a": asks,
                "b": bids,
                "ts": now,
                "u": now,
                "seq": now,
                "cts": now,
            }
        )

    def kline(self, req: Request) -> Response:
        p = bb.params(req)
        cat = bb.text(p, "category") or "linear"  # "When category is not passed, use linear"
        if cat not in bb.CATEGORIES:
            raise bb.param_error()
        inst = self.instrument(cat, bb.text(p, "symbol"))
        interval = KLINE_INTERVALS.get(bb.text(p, "interval") or "")
        if interval is None:
            raise bb.param_error("Invalid period!")
        size = bb.limit(p, 200, 1000)
        start, end = bb.integer(p, "start"), bb.integer(p, "end")
        with self.sim.lock:
            now = bb.now_ms()
            rows = (
                self.venue(cat)
                .tape_of(inst.rules.symbol, now)
                .klines(interval, start, end, size, now)
            )
        out = [
            [str(b), inst.px(o), inst.px(h), inst.px(low), inst.px(c), bb.plain(v), bb.plain(qv)]
            for b, o, h, low, c, v, _close, qv, _n in reversed(rows)
        ]
        return bb.ok({"symbol": inst.rules.symbol, "category": cat, "list": out})


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step
