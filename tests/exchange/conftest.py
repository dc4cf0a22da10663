"""The engine's exchange clients against the simulator, one parameter per implementation.

Every test in this folder runs once per venue through the real path, with the expected numbers
of each venue's real rules:

* `ccxt` venues: CcxtExchange → ccxt → HTTP → simulator (orders and balances live there);
* `paper` venues: PaperExchange, its market data (markets, tickers) from the simulator through
  a keyless CcxtExchange, its orders, fills and balances simulated locally in Redis.

A test says what it needs with `@pytest.mark.needs(...)` and is collected only for the venues
that have it (`Venue.capabilities`), so nothing is skipped at run time:

* `sim_orders` — the orders and balances live in the simulator: its order log sees them, faults
  injected on its order/account endpoints reach them, its matching config applies;
* `api_keys` — the exchange authenticates the account's key and secret;
* `paper` — a paper venue (tests/exchange/test_paper.py);
* `spot` / `futures` — the market type (reduce-only orders and positions are futures-only);
* `binance` / `bybit` — the exchange (fee schedules differ).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal

import pytest
import redis

from server.domain.enums import AccountMode, Exchange, MarketType
from server.exchange.base import ExchangeClient
from server.exchange.ccxt_client import CcxtExchange
from server.exchange.config import ExchangeConfig
from server.exchange.paper import PaperExchange
from server.exchange.resilience import Guard, RetryPolicy
from server.state.breakers import MemoryBreakerStore
from server.state.paper_store import PaperStore
from tests.sim_support import KEY, SECRET

CCXT, PAPER = "ccxt", "paper"
PAPER_REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
PAPER_PREFIX = f"texch{uuid.uuid4().hex[:6]}:"  # this session's paper accounts


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs(*capabilities): run only for venues with these capabilities"
    )


def pytest_generate_tests(metafunc):
    """Parametrise `venue` with the venues that have what the test `needs`."""
    if "venue" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("needs")
    needs = set(marker.args) if marker else set()
    chosen = [v for v in VENUES if needs <= v.capabilities]
    metafunc.parametrize("venue", chosen, ids=[v.name for v in chosen])


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
    ticker_path: str
    kind: str = CCXT
    capabilities: frozenset[str] = field(default_factory=frozenset)


BASE_VENUES = [
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
        "/api/v3/ticker/24hr",
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
        "/fapi/v1/ticker/24hr",
    ),
    # bybit_instruments_info.json spot BTCUSDT: tickSize 0.01, basePrecision 0.000001,
    # minOrderAmt 1; Bybit spot fees 0.1% in the asset received.
    Venue(
        "bybit-spot",
        Exchange.BYBIT,
        MarketType.SPOT,
        "/v5/order/create",
        "/v5/account/wallet-balance",
        Decimal("0.01"),
        Decimal("0.000001"),
        Decimal("1"),
        Decimal("0.001"),
        Decimal("0.001"),
        True,
        "/v5/market/tickers",
    ),
    # bybit_instruments_info.json linear BTCUSDT: tickSize 0.10, qtyStep 0.001,
    # minNotionalValue 5; linear fees 0.055% taker / 0.02% maker in USDT.
    Venue(
        "bybit-linear",
        Exchange.BYBIT,
        MarketType.FUTURES,
        "/v5/order/create",
        "/v5/account/wallet-balance",
        Decimal("0.1"),
        Decimal("0.001"),
        Decimal("5"),
        Decimal("0.00055"),
        Decimal("0.0002"),
        False,
        "/v5/market/tickers",
    ),
]


def _with(venue: Venue, kind: str) -> Venue:
    caps = {"sim_orders", "api_keys"} if kind == CCXT else {"paper"}
    caps.add("futures" if venue.market_type is MarketType.FUTURES else "spot")
    caps.add(venue.exchange.value)
    name = venue.name if kind == CCXT else f"paper-{venue.name}"
    return replace(venue, name=name, kind=kind, capabilities=frozenset(caps))


VENUES = [_with(v, CCXT) for v in BASE_VENUES] + [_with(v, PAPER) for v in BASE_VENUES]


class FakeClock:
    """Wall clock for the breaker that tests can move forward."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def paper_redis() -> redis.Redis:
    return redis.Redis.from_url(PAPER_REDIS, decode_responses=True)


@pytest.fixture(autouse=True)
def _fresh_paper_accounts():
    """Every test starts with no paper state (the simulator is reset by the `sim` fixture)."""
    client = paper_redis()

    def wipe():
        doomed = list(client.scan_iter(f"{PAPER_PREFIX}*", count=1000))
        if doomed:
            client.delete(*doomed)

    wipe()
    yield
    wipe()
    client.close()


def make_client(
    sim,
    venue: Venue,
    *,
    key=KEY,
    secret=SECRET,
    timeout_ms=3000,
    clock=None,
    account_id="acct-1",
    breakers=None,
    market_data_url=None,
) -> ExchangeClient:
    """A client of `venue`; for paper venues a fresh `PaperExchange` over the account's Redis
    state (a second call for the same account is another "process" sharing it)."""
    clock = clock or FakeClock()
    guard = Guard(account_id, breakers or MemoryBreakerStore(), clock=clock.time, sleep=clock.sleep)
    retry = RetryPolicy(attempts=3, base_delay=0.01)
    common = {
        "account_id": account_id,
        "exchange": venue.exchange,
        "market_type": venue.market_type,
        "simulator_url": market_data_url or sim.base,
        "timeout_ms": timeout_ms,
    }
    if venue.kind == PAPER:  # public market data only: no key
        market_data = CcxtExchange(
            ExchangeConfig(mode=AccountMode.SIMULATED, api_key="", api_secret="", **common),
            guard,
            retry,
        )
        return PaperExchange(
            ExchangeConfig(mode=AccountMode.PAPER, api_key="", api_secret="", **common),
            market_data,
            PaperStore(paper_redis(), PAPER_PREFIX, account_id),
        )
    config = ExchangeConfig(mode=AccountMode.SIMULATED, api_key=key, api_secret=secret, **common)
    return CcxtExchange(config, guard, retry)


def funded_client(sim, venue: Venue, balances: dict[str, str], name: str) -> ExchangeClient:
    """A client of a fresh account holding exactly `balances`: a new simulator key for ccxt
    venues, a paper account reset to them for paper venues."""
    if venue.kind == PAPER:
        client = make_client(sim, venue, account_id=f"acct-{name}")
        client.reset({asset: Decimal(v) for asset, v in balances.items()})
        return client
    sim.balances(f"{name}-key", balances, f"{name}-secret")
    return make_client(sim, venue, key=f"{name}-key", secret=f"{name}-secret")


@pytest.fixture
def exchange(sim, venue) -> ExchangeClient:
    sim.price("BTCUSDT", "60000")
    return make_client(sim, venue)
