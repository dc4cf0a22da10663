"""Real market rules: load the recorded exchangeInfo files and check orders against them.

`SymbolRules` is the dialect-neutral form of one symbol's filters (a Bybit loader can build the
same object from `instruments-info`). `check_order` returns the first broken rule as a
`Violation`; each dialect turns that into its own error body, because the codes differ
(spot `-1013 Filter failure: PRICE_FILTER`, futures `-4014 Price not increased by tick size.`).

Zero in a filter means "not enforced", as Binance documents for PRICE_FILTER and as the real
files use for MARKET_LOT_SIZE (`stepSize "0.00000000"`). PERCENT_PRICE(_BY_SIDE) is not enforced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum, auto
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
ZERO = Decimal(0)


class Violation(Enum):
    """Which rule an order breaks; `spot_filter` is the Binance spot filter it belongs to."""

    PRICE_BAD_PRECISION = auto()
    QTY_BAD_PRECISION = auto()
    PRICE_MIN = auto()
    PRICE_MAX = auto()
    PRICE_TICK = auto()
    QTY_MIN = auto()
    QTY_MAX = auto()
    QTY_STEP = auto()
    MARKET_QTY_MIN = auto()
    MARKET_QTY_MAX = auto()
    MARKET_QTY_STEP = auto()
    NOTIONAL_MIN = auto()
    NOTIONAL_MAX = auto()
    MAX_NUM_ORDERS = auto()

    @property
    def spot_filter(self) -> str:
        name = self.name
        if name.startswith("PRICE_"):
            return "PRICE_FILTER"
        if name.startswith("MARKET_QTY"):
            return "MARKET_LOT_SIZE"
        if name.startswith("QTY_"):
            return "LOT_SIZE"
        if name.startswith("NOTIONAL"):
            return "NOTIONAL"
        return name


@dataclass(frozen=True)
class SymbolRules:
    """Trading rules of one symbol, taken verbatim from the exchange's own metadata."""

    symbol: str
    base: str
    quote: str
    status: str
    tick: Decimal
    min_price: Decimal
    max_price: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_step: Decimal
    market_min_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    max_notional: Decimal
    min_notional_to_market: bool
    max_notional_to_market: bool
    notional_filter: str  # "NOTIONAL" or "MIN_NOTIONAL" — the name used in error messages
    price_decimals: int  # max decimals accepted in a price parameter
    qty_decimals: int
    max_num_orders: int

    @property
    def default_step(self) -> Decimal:
        return self.step if self.step > 0 else Decimal("0.00000001")


def _filters(entry: dict) -> dict[str, dict]:
    return {f["filterType"]: f for f in entry.get("filters", [])}


def _d(value, default: str = "0") -> Decimal:
    return Decimal(str(value if value is not None else default))


def _common(entry: dict, f: dict[str, dict]) -> dict:
    price, lot = f.get("PRICE_FILTER", {}), f.get("LOT_SIZE", {})
    market_lot = f.get("MARKET_LOT_SIZE", {})
    return {
        "symbol": entry["symbol"],
        "base": entry["baseAsset"],
        "quote": entry["quoteAsset"],
        "status": entry.get("status", "TRADING"),
        "tick": _d(price.get("tickSize")),
        "min_price": _d(price.get("minPrice")),
        "max_price": _d(price.get("maxPrice")),
        "step": _d(lot.get("stepSize")),
        "min_qty": _d(lot.get("minQty")),
        "max_qty": _d(lot.get("maxQty")),
        "market_step": _d(market_lot.get("stepSize")),
        "market_min_qty": _d(market_lot.get("minQty")),
        "market_max_qty": _d(market_lot.get("maxQty")),
    }


def spot_rules(entry: dict) -> SymbolRules:
    """Rules of one `GET /api/v3/exchangeInfo` symbol entry."""
    f = _filters(entry)
    notional = f.get("NOTIONAL")
    if notional is not None:
        extra = {
            "min_notional": _d(notional.get("minNotional")),
            "max_notional": _d(notional.get("maxNotional")),
            "min_notional_to_market": bool(notional.get("applyMinToMarket", True)),
            "max_notional_to_market": bool(notional.get("applyMaxToMarket", False)),
            "notional_filter": "NOTIONAL",
        }
    else:
        old = f.get("MIN_NOTIONAL", {})
        extra = {
            "min_notional": _d(old.get("minNotional")),
            "max_notional": ZERO,
            "min_notional_to_market": bool(old.get("applyToMarket", True)),
            "max_notional_to_market": False,
            "notional_filter": "MIN_NOTIONAL",
        }
    max_orders = f.get("MAX_NUM_ORDERS", {}).get("maxNumOrders", 200)
    return SymbolRules(
        **_common(entry, f),
        **extra,
        price_decimals=int(entry.get("quoteAssetPrecision", 8)),
        qty_decimals=int(entry.get("baseAssetPrecision", 8)),
        max_num_orders=int(max_orders),
    )


def futures_rules(entry: dict) -> SymbolRules:
    """Rules of one `GET /fapi/v1/exchangeInfo` symbol entry (USDⓈ-M)."""
    f = _filters(entry)
    return SymbolRules(
        **_common(entry, f),
        min_notional=_d(f.get("MIN_NOTIONAL", {}).get("notional")),
        max_notional=ZERO,
        min_notional_to_market=True,
        max_notional_to_market=False,
        notional_filter="MIN_NOTIONAL",
        price_decimals=int(entry.get("pricePrecision", 8)),
        qty_decimals=int(entry.get("quantityPrecision", 8)),
        max_num_orders=int(f.get("MAX_NUM_ORDERS", {}).get("limit", 200)),
    )


def load_exchange_info(name: str) -> dict:
    """The recorded exchangeInfo response stored in `data/` (see data/PROVENANCE.md)."""
    with open(DATA_DIR / name, encoding="utf-8") as fh:
        return json.load(fh)


def fallback_price(rules: SymbolRules) -> Decimal:
    """Starting price of a symbol without candles: 100 when PRICE_FILTER allows it, else the
    geometric mean of minPrice and maxPrice rounded down to the tick (PEPEUSDT: 0.00003162)."""
    hundred = Decimal(100)
    if rules.min_price <= hundred and (rules.max_price == 0 or hundred <= rules.max_price):
        return hundred
    mid = (rules.min_price * rules.max_price).sqrt()
    if rules.tick > 0:
        mid = max(rules.min_price, (mid // rules.tick) * rules.tick)
    return mid


def decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _off_grid(value: Decimal, origin: Decimal, step: Decimal) -> bool:
    return step > 0 and (value - origin) % step != 0


def check_order(
    rules: SymbolRules,
    order_type: str,
    qty: Decimal,
    price: Decimal | None,
    ref_price: Decimal,
    open_orders: int = 0,
    reduce_only: bool = False,
) -> Violation | None:
    """First rule the order breaks, in the order Binance applies them; None when valid.

    `price` is None for MARKET orders, whose notional is valued at `ref_price` (the last price;
    Binance uses the average price of the last `avgPriceMins`). Reduce-only futures orders are
    exempt from the minimum notional, as the real error message says.
    """
    if price is not None:
        if decimals(price) > rules.price_decimals:
            return Violation.PRICE_BAD_PRECISION
        if rules.min_price > 0 and price < rules.min_price:
            return Violation.PRICE_MIN
        if rules.max_price > 0 and price > rules.max_price:
            return Violation.PRICE_MAX
        if _off_grid(price, rules.min_price, rules.tick):
            return Violation.PRICE_TICK
    if decimals(qty) > rules.qty_decimals:
        return Violation.QTY_BAD_PRECISION
    if qty < rules.min_qty or qty <= 0:
        return Violation.QTY_MIN
    if rules.max_qty > 0 and qty > rules.max_qty:
        return Violation.QTY_MAX
    if _off_grid(qty, rules.min_qty, rules.step):
        return Violation.QTY_STEP
    is_market = price is None
    if is_market:
        if rules.market_min_qty > 0 and qty < rules.market_min_qty:
            return Violation.MARKET_QTY_MIN
        if rules.market_max_qty > 0 and qty > rules.market_max_qty:
            return Violation.MARKET_QTY_MAX
        if _off_grid(qty, rules.market_min_qty, rules.market_step):
            return Violation.MARKET_QTY_STEP
    notional = qty * (price if price is not None else ref_price)
    check_min = (not is_market or rules.min_notional_to_market) and not reduce_only
    if check_min and rules.min_notional > 0 and notional < rules.min_notional:
        return Violation.NOTIONAL_MIN
    check_max = not is_market or rules.max_notional_to_market
    if check_max and rules.max_notional > 0 and notional > rules.max_notional:
        return Violation.NOTIONAL_MAX
    if not is_market and rules.max_num_orders and open_orders >= rules.max_num_orders:
        return Violation.MAX_NUM_ORDERS
    return None
