"""The engine's exchange clients against the simulator, one parameter per implementation.

Every test in this folder runs once per venue through the real path:
CcxtExchange → ccxt → HTTP → simulator, with the expected numbers of each venue's real rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from server.domain.enums import AccountMode, Exchange, MarketType
from server.exchange.ccxt_client import CcxtExchange
from server.exchange.config import ExchangeConfig
from server.exchange.resilience import Guard, RetryPolicy
from server.state.breakers import MemoryBreakerStore
from tests.sim_support import KEY, SECRET


@dataclass(frozen=True)
class Venue:
    """A venue and the BTCUSDT rules of its real market file (worked out by reading it)."""

    name: str
    exchange: Exchange
    market_type: MarketType
    order_path: str
    account_path: str
    tick: Decimal
    step: Decimal
    min_notional: Decimal
    taker_fee: Decimal
    maker_fee: Decimal
    fee_in_base_on_buy: bool


VENUES = [
    # binance_exchangeInfo.json BTCUSDT: tickSize 0.01, stepSize 0.00001, NOTIONAL min 5;
    # spot fees 0.1% charged in the asset received.
    Venue(
        "binance-spot",
        Exchange.BINANCE,
        MarketType.SPOT,
        "/api/v3/order",
        "/api/v3/account",
        Decimal("0.01"),
        Decimal("0.00001"),
        Decimal("5"),
        Decimal("0.001"),
        Decimal("0.001"),
        True,
    ),
    # binance_fapi_exchangeInfo.json BTCUSDT: tickSize 0.10, stepSize 0.001, MIN_NOTIONAL 100;
    # USDⓈ-M fees 0.05% taker / 0.02% maker in USDT.
    Venue(
        "binance-futures",
        Exchange.BINANCE,
        MarketType.FUTURES,
        "/fapi/v1/order",
        "/fapi/v3/account",
        Decimal("0.1"),
        Decimal("0.001"),
        Decimal("100"),
        Decimal("0.0005"),
        Decimal("0.0002"),
        False,
    ),
]


class FakeClock:
    """Wall clock for the breaker that tests can move forward."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(params=VENUES, ids=lambda v: v.name)
def venue(request) -> Venue:
    return request.param


def make_client(
    sim, venue: Venue, *, key=KEY, secret=SECRET, timeout_ms=3000, clock=None, account_id="acct-1"
) -> CcxtExchange:
    clock = clock or FakeClock()
    config = ExchangeConfig(
        account_id=account_id,
        exchange=venue.exchange,
        market_type=venue.market_type,
        mode=AccountMode.SIMULATED,
        api_key=key,
        api_secret=secret,
        simulator_url=sim.base,
        timeout_ms=timeout_ms,
    )
    guard = Guard(account_id, MemoryBreakerStore(), clock=clock.time, sleep=clock.sleep)
    return CcxtExchange(config, guard, RetryPolicy(attempts=3, base_delay=0.01))


@pytest.fixture
def exchange(sim, venue) -> CcxtExchange:
    sim.price("BTCUSDT", "60000")
    return make_client(sim, venue)
