"""The exchange layer's shared request budget (`exchange.throttle` over `state.rate_budget`):
real Redis (TEST_REDIS_URL) and, for the 429 path, the simulator over ccxt. The budget's clock
is a fake one that the throttle's `sleep` advances, so waits are checked without waiting.

Binance spot: ccxt's `rateLimit` is 50 ms, so the IP budget is 10,000 / 50 = 200 cost per
10 s; the API key's order budget is 80 creates per 10 s (80 % of Binance's 100). The 10 s
window has buckets of floor(10,000 / 60) = 166 ms and counts ceil(10,000 / 166) = 61 of
them before the current one. At 1,000,000 ms the bucket is 6,024 (6,024 × 166 = 999,984); what
is counted there leaves the window at (6,024 + 62) × 166 = 1,010,276 ms: 10.276 s later.
"""

from __future__ import annotations

import uuid
from decimal import Decimal as D

import pytest
import redis

from server.domain.enums import AccountMode, Exchange, MarketType
from server.exchange.ccxt_client import CcxtExchange
from server.exchange.config import ExchangeConfig
from server.exchange.errors import BudgetExhausted, RateLimited
from server.exchange.resilience import Guard, RetryPolicy
from server.exchange.throttle import Throttle
from server.exchange.types import OrderSide, OrderType
from server.state.rate_budget import Budget, RateBudget
from tests.conftest import TEST_REDIS
from tests.exchange.conftest import MemoryBreakerStore

T0 = 1_000_000


class FakeTime:
    def __init__(self) -> None:
        self.ms = T0
        self.slept: list[float] = []

    def now(self) -> int:
        return self.ms

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.ms += round(seconds * 1000)


@pytest.fixture
def shared():
    """A Redis budget on a fake clock, under a prefix of its own (removed afterwards)."""
    client = redis.Redis.from_url(TEST_REDIS)
    prefix = f"test-throttle-{uuid.uuid4().hex[:8]}:"
    clock = FakeTime()
    yield RateBudget(client, clock=clock.now), clock, prefix
    doomed = list(client.scan_iter(f"{prefix}*"))
    if doomed:
        client.delete(*doomed)


def _config(mode=AccountMode.LIVE, key="live-key", url=None) -> ExchangeConfig:
    return ExchangeConfig(
        account_id="acct-throttle",
        exchange=Exchange.BINANCE,
        market_type=MarketType.SPOT,
        mode=mode,
        api_key=key,
        api_secret="secret",
        simulator_url=url,
    )


def _throttle(shared, config=None, max_wait=2.0, enforce=True) -> Throttle:
    budget, clock, prefix = shared
    return Throttle(
        config or _config(), 50, budget, Budget, prefix,
        enforce=enforce, max_wait=max_wait, sleep=clock.sleep,
    )  # fmt: skip


def test_orders_go_at_once_until_the_key_budget_is_used(shared):
    """80 creates at one instant go without any wait; the 81st would wait 10.276 s, more than
    the 2 s allowed: `BudgetExhausted` (a RateLimited) with that Retry-After, nothing slept.
    Reads still go: they count on the IP budget only (80 of 200 used)."""
    throttle = _throttle(shared)
    _, clock, _ = shared
    for _ in range(80):
        throttle.next_is_order()
        throttle.admit(1)
    assert clock.slept == []
    throttle.next_is_order()
    with pytest.raises(BudgetExhausted) as refused:
        throttle.admit(1)
    assert isinstance(refused.value, RateLimited)
    assert refused.value.retry_after == pytest.approx(10.276)
    throttle.admit(1)  # a read
    assert clock.slept == []


def test_a_request_waits_when_the_wait_is_allowed(shared):
    """With up to 11 s allowed, the 81st create sleeps the 10.276 s once and goes."""
    throttle = _throttle(shared, max_wait=11)
    _, clock, _ = shared
    for _ in range(81):
        throttle.next_is_order()
        throttle.admit(1)
    assert clock.slept == [10.276]


def test_two_workers_share_one_budget(shared):
    """Two clients of the same key in two "processes" (two throttles, one Redis): 40 creates
    each use the key's 80; the next one of either is refused."""
    first, second = _throttle(shared), _throttle(shared)
    for throttle in (first, second) * 40:
        throttle.next_is_order()
        throttle.admit(1)
    second.next_is_order()
    with pytest.raises(BudgetExhausted):
        second.admit(1)


def test_the_ip_budget_counts_ccxt_costs(shared):
    """ccxt's cost of Binance's open orders of every symbol is 40: five of them are the IP's
    200, a sixth must wait 10.276 s; the IP budget of another venue is untouched."""
    throttle = _throttle(shared)
    for _ in range(5):
        throttle.admit(40)
    with pytest.raises(BudgetExhausted):
        throttle.admit(40)
    bybit = _config()
    other = Throttle(
        ExchangeConfig(**{**bybit.__dict__, "exchange": Exchange.BYBIT}), 20, shared[0], Budget,
        shared[2], sleep=shared[1].sleep,
    )  # fmt: skip
    other.admit(40)


def test_a_429_makes_every_client_back_off(shared, sim):
    """The simulator answers 429 with Retry-After 2 s (fault `ms` 1,500 → ceil = 2) to one
    create: the create raises RateLimited, the venue's IP key is penalised, and the next
    request of *another* client of the same venue waits those 2 s before going (on the fake
    clock); then the order is placed once."""
    budget, clock, prefix = shared
    config = _config(AccountMode.SIMULATED, key="test-key", url=sim.base)
    config = ExchangeConfig(**{**config.__dict__, "api_secret": "test-secret"})

    def client() -> CcxtExchange:
        return CcxtExchange(
            config,
            Guard("acct-throttle", MemoryBreakerStore()),
            RetryPolicy(attempts=1),
            throttle_factory=lambda rate: Throttle(
                config, rate, budget, Budget, prefix, enforce=False, max_wait=5, sleep=clock.sleep
            ),
        )

    sim.price("BTCUSDT", "64250.5")
    first, second = client(), client()
    first.load_markets()
    second.load_markets()
    sim.fault("http_429", path="/api/v3/order", method="POST", count=1, ms=1500)
    args = ("BTCUSDT", OrderSide.BUY, OrderType.LIMIT, D("0.001"), D("60000"))
    with pytest.raises(RateLimited) as told:
        first.create_order(*args, "throttle-test-1")
    assert told.value.retry_after == 2
    placed = second.create_order(*args, "throttle-test-1")
    assert clock.slept == [2.0]
    assert placed.client_order_id == "throttle-test-1"
    assert len(sim.orders(api_key="test-key", client_order_id="throttle-test-1")) == 2  # 429 + 1
    assert [o["status"] for o in sim.orders(api_key="test-key")] == ["REJECTED", "NEW"]
