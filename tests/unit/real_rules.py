"""The real market rules the position tests work by hand, built by hand from the exchanges'
published filters (the same numbers as `server/simulator/data/`):

- Binance spot BTCUSDT: PRICE_FILTER tick 0.01 (0.01..1,000,000); LOT_SIZE step 0.00001,
  min 0.00001, max 9,000; MARKET_LOT_SIZE max 129.84957276; NOTIONAL 5..9,000,000.
- Binance spot PEPEUSDT: tick 0.00000001 (0.00000001..0.1); step 1, min 1, max 92,233,720,368;
  NOTIONAL 1..9,000,000.
- Binance USDⓈ-M BTCUSDT: tick 0.10 (261.10..809,484); step 0.001, min 0.001, max 1,000
  (MARKET_LOT_SIZE the same); MIN_NOTIONAL 100.
"""

from __future__ import annotations

import copy
from decimal import Decimal as D

from server.domain.precision import MarketRules
from server.domain.settings import DEFAULT_SETTINGS, validate_settings

BTC_SPOT = MarketRules(
    symbol="BTCUSDT",
    base="BTC",
    quote="USDT",
    tick_size=D("0.01"),
    step_size=D("0.00001"),
    min_qty=D("0.00001"),
    max_qty=D("9000"),
    min_notional=D("5"),
    max_notional=D("9000000"),
    min_price=D("0.01"),
    max_price=D("1000000"),
    market_max_qty=D("129.84957276"),
)
PEPE_SPOT = MarketRules(
    symbol="PEPEUSDT",
    base="PEPE",
    quote="USDT",
    tick_size=D("0.00000001"),
    step_size=D("1"),
    min_qty=D("1"),
    max_qty=D("92233720368"),
    min_notional=D("1"),
    max_notional=D("9000000"),
    min_price=D("0.00000001"),
    max_price=D("0.1"),
    market_max_qty=D("92233720368"),
)
BTC_USDM = MarketRules(
    symbol="BTCUSDT",
    base="BTC",
    quote="USDT",
    tick_size=D("0.10"),
    step_size=D("0.001"),
    min_qty=D("0.001"),
    max_qty=D("1000"),
    min_notional=D("100"),
    min_price=D("261.10"),
    max_price=D("809484"),
    market_qty_step=D("0.001"),
    market_min_qty=D("0.001"),
    market_max_qty=D("1000"),
)


def settings(**sections) -> dict:
    """The default settings document with some sections' fields replaced, loaded (Decimals).
    `settings(precision={"min_notional_policy": "bump"})`."""
    doc = copy.deepcopy(DEFAULT_SETTINGS)
    for name, values in sections.items():
        doc[name] = {**doc[name], **values}
    return validate_settings(doc)
