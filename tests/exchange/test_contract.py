"""One contract, every implementation: what the engine relies on from an exchange client.

Numbers are worked by hand from the venue's real rules and default fees (see conftest.VENUES).
Tests marked `needs(...)` run only for the venues that have it (conftest: ccxt venues keep their
orders in the simulator and check keys; paper venues simulate orders locally).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from server.exchange.errors import (
    AuthenticationFailed,
    CircuitOpen,
    InsufficientFunds,
    InvalidOrder,
    RateLimited,
    TemporaryError,
    UnknownSymbol,
)
from server.exchange.types import ExchangeOrderStatus, OrderSide, OrderType
from server.state.breakers import MemoryBreakerStore
from tests.exchange.conftest import FakeClock, funded_client, make_client

BUY, SELL = OrderSide.BUY, OrderSide.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
QTY = Decimal("0.002")  # 0.002 BTC at 50,000–60,000 = 100–120 USDT: above every min notional


def _orders_with(sim, client_order_id: str) -> list[dict]:
    return [o for o in sim.orders() if o.get("client_order_id") == client_order_id]


def test_market_rules_are_the_real_ones(exchange, venue):
    """BTCUSDT's tick, step and minimum notional come through exactly as in the real file."""
    rules = exchange.market_rules("BTCUSDT")
    assert (rules.tick_size, rules.step_size, rules.min_notional) == (
        venue.tick,
        venue.step,
        venue.min_notional,
    )
    assert rules.base == "BTC" and rules.quote == "USDT"
    with pytest.raises(UnknownSymbol):
        exchange.market_rules("NOPEUSDT")


def test_ticker_reads_the_last_price(exchange, sim):
    """The last price set on the simulator is what the client reads, as a Decimal."""
    sim.price("BTCUSDT", "61234.5")
    assert exchange.fetch_ticker("BTCUSDT").last == Decimal("61234.5")


def test_limit_order_create_fetch_cancel(exchange):
    """A resting limit keeps our client id, is found by either id, and cancels cleanly."""
    placed = exchange.create_order("BTCUSDT", BUY, LIMIT, QTY, Decimal("50000"), "cid-limit-1")
    assert placed.status is ExchangeOrderStatus.OPEN
    assert placed.client_order_id == "cid-limit-1"
    assert (placed.amount, placed.filled, placed.price) == (QTY, 0, Decimal("50000"))
    by_client = exchange.fetch_order("BTCUSDT", client_order_id="cid-limit-1")
    by_id = exchange.fetch_order("BTCUSDT", exchange_id=placed.id)
    assert by_client.id == by_id.id == placed.id
    assert [o.id for o in exchange.fetch_open_orders("BTCUSDT")] == [placed.id]
    cancelled = exchange.cancel_order("BTCUSDT", client_order_id="cid-limit-1")
    assert cancelled.status is ExchangeOrderStatus.CANCELLED
    assert exchange.fetch_open_orders("BTCUSDT") == []


def test_market_order_fills_at_last_price_with_fee(exchange, venue):
    """A market buy of 0.002 at 60,000 fills at 60,000; the fee is the taker rate: spot
    0.1% × 0.002 BTC = 0.000002 BTC; futures 120 USDT × 0.05% = 0.06 USDT on Binance,
    × 0.055% = 0.066 USDT on Bybit."""
    placed = exchange.create_order("BTCUSDT", BUY, MARKET, QTY, None, "cid-mkt-1")
    order = exchange.fetch_order("BTCUSDT", exchange_id=placed.id)
    assert order.status is ExchangeOrderStatus.FILLED
    assert order.filled == QTY and order.average == Decimal("60000")
    trades = exchange.fetch_order_trades("BTCUSDT", placed.id)
    assert sum(t.amount for t in trades) == QTY
    fee = sum(t.fee.cost for t in trades)
    if venue.fee_in_base_on_buy:
        assert fee == QTY * venue.taker_fee == Decimal("0.000002")
        assert {t.fee.currency for t in trades} == {"BTC"}
    else:
        assert fee == QTY * 60000 * venue.taker_fee  # Binance 0.06, Bybit 0.066 USDT
        assert {t.fee.currency for t in trades} == {"USDT"}


def test_resting_limit_fills_when_price_crosses(exchange, sim, venue):
    """A buy limit at 59,000 fills at its own price (maker) once the price trades through it."""
    placed = exchange.create_order("BTCUSDT", BUY, LIMIT, QTY, Decimal("59000"), "cid-cross-1")
    sim.price("BTCUSDT", "59500")
    assert exchange.fetch_order("BTCUSDT", exchange_id=placed.id).filled == 0
    sim.price("BTCUSDT", "58900")
    order = exchange.fetch_order("BTCUSDT", exchange_id=placed.id)
    assert order.status is ExchangeOrderStatus.FILLED and order.average == Decimal("59000")
    fees = sum(t.fee.cost for t in exchange.fetch_order_trades("BTCUSDT", placed.id))
    expected = (
        QTY * venue.maker_fee if venue.fee_in_base_on_buy else (QTY * 59000 * venue.maker_fee)
    )  # futures: 118 USDT × 0.02% = 0.0236
    assert fees == expected


@pytest.mark.needs("sim_orders")
def test_partial_fills_are_reported(exchange, sim):
    """With half fills per price event, 0.004 fills as 0.002 then 0.004, status following."""
    sim.config(partial_fill_ratio="0.5")
    placed = exchange.create_order(
        "BTCUSDT", BUY, LIMIT, Decimal("0.004"), Decimal("59000"), "cid-part-1"
    )
    sim.price("BTCUSDT", "58900")
    half = exchange.fetch_order("BTCUSDT", exchange_id=placed.id)
    assert half.status is ExchangeOrderStatus.PARTIALLY_FILLED and half.filled == QTY
    assert half.remaining == QTY
    sim.price("BTCUSDT", "58800")
    full = exchange.fetch_order("BTCUSDT", exchange_id=placed.id)
    assert full.status is ExchangeOrderStatus.FILLED and full.filled == Decimal("0.004")
    assert len(exchange.fetch_order_trades("BTCUSDT", placed.id)) == 2


def test_same_client_order_id_never_makes_a_second_order(exchange):
    """Sending a client id the exchange already holds returns that order; no second one."""
    first = exchange.create_order("BTCUSDT", BUY, LIMIT, QTY, Decimal("50000"), "cid-dup-1")
    again = exchange.create_order("BTCUSDT", BUY, LIMIT, QTY, Decimal("50000"), "cid-dup-1")
    assert again.id == first.id
    open_orders = exchange.fetch_open_orders("BTCUSDT")
    assert [o.id for o in open_orders if o.client_order_id == "cid-dup-1"] == [first.id]


@pytest.mark.needs("sim_orders")
def test_duplicate_client_order_id_reaches_the_exchange_once(exchange, sim):
    """The exchange's own order log accepted the client id once; the second send was refused
    there and resolved by looking the order up."""
    exchange.create_order("BTCUSDT", BUY, LIMIT, QTY, Decimal("50000"), "cid-dup-2")
    exchange.create_order("BTCUSDT", BUY, LIMIT, QTY, Decimal("50000"), "cid-dup-2")
    accepted = [o for o in _orders_with(sim, "cid-dup-2") if not o.get("error")]
    assert len(accepted) == 1


@pytest.mark.needs("sim_orders")
def test_timeout_on_create_is_resolved_by_client_id_lookup(exchange, sim, venue):
    """The exchange placed the order but the answer was lost: the client finds it by client id
    instead of sending it again."""
    sim.fault("timeout", path=venue.order_path, method="POST", ms=5000, count=1)
    fast = make_client(sim, venue, timeout_ms=500)
    order = fast.create_order("BTCUSDT", BUY, LIMIT, QTY, Decimal("50000"), "cid-timeout-1")
    assert order.client_order_id == "cid-timeout-1"
    assert len(_orders_with(sim, "cid-timeout-1")) == 1


@pytest.mark.needs("sim_orders")
def test_dropped_create_is_sent_again_exactly_once(exchange, sim, venue):
    """A request lost before the exchange executed it is looked up, not found, and re-sent."""
    sim.fault("timeout", path=venue.order_path, method="POST", ms=5000, count=1, execute=False)
    fast = make_client(sim, venue, timeout_ms=500)
    order = fast.create_order("BTCUSDT", BUY, LIMIT, QTY, Decimal("50000"), "cid-drop-1")
    assert order.status is ExchangeOrderStatus.OPEN
    executed = [o for o in _orders_with(sim, "cid-drop-1") if o.get("status") != "dropped"]
    assert len({o.get("order_id") or o.get("id") for o in executed}) == 1


@pytest.mark.needs("sim_orders")
def test_insufficient_funds_is_named(exchange, sim, venue):
    """The exchange's insufficient-balance answer becomes InsufficientFunds."""
    sim.fault("insufficient_funds", path=venue.order_path, method="POST", count=1)
    with pytest.raises(InsufficientFunds):
        exchange.create_order("BTCUSDT", BUY, LIMIT, QTY, Decimal("50000"), "cid-funds-1")


def test_real_insufficient_balance(sim, venue):
    """An account with 1 USDT cannot buy 120 USDT of BTC, not even at the futures default
    leverage of 20 (20 USDT of buying power): InsufficientFunds, not a retry."""
    sim.price("BTCUSDT", "60000")
    poor = funded_client(sim, venue, {"USDT": "1"}, "poor")
    with pytest.raises(InsufficientFunds):
        poor.create_order("BTCUSDT", BUY, MARKET, QTY, None, "cid-poor-1")


def test_filter_violation_is_invalid_order(exchange):
    """A price off the tick or a quantity under the minimum is InvalidOrder (never retried)."""
    with pytest.raises(InvalidOrder):
        exchange.create_order(
            "BTCUSDT", BUY, LIMIT, Decimal("0.0000001"), Decimal("50000"), "cid-filter-1"
        )


@pytest.mark.needs("api_keys")
def test_bad_key_is_authentication_failure(sim, venue):
    """An unknown key is AuthenticationFailed, and the connectivity check says what to do."""
    stranger = make_client(sim, venue, key="unknown-key", secret="whatever")
    with pytest.raises(AuthenticationFailed):
        stranger.fetch_balance()
    check = stranger.check_connectivity()
    assert not check.valid and check.error.startswith("invalid API key")
    assert make_client(sim, venue).check_connectivity().valid


@pytest.mark.needs("sim_orders")
def test_rate_limit_is_named_with_retry_after(exchange, sim, venue):
    """HTTP 429 becomes RateLimited carrying the exchange's Retry-After seconds."""
    sim.fault("http_429", path=venue.order_path, method="POST", ms=2000, count=1)
    with pytest.raises(RateLimited) as info:
        exchange.create_order("BTCUSDT", BUY, LIMIT, QTY, Decimal("50000"), "cid-429-1")
    assert info.value.retry_after == 2


@pytest.mark.needs("sim_orders")
def test_reads_are_retried_through_a_passing_fault(exchange, sim, venue):
    """Two HTTP 500s on the balance read are retried away; the third attempt succeeds."""
    sim.fault("http_500", path=venue.account_path, count=2)
    assert exchange.fetch_balance()["USDT"].free > 0


def test_market_data_reads_are_retried_through_a_passing_fault(exchange, sim, venue):
    """Two HTTP 500s on the ticker read are retried away; the third attempt succeeds."""
    exchange.load_markets()
    sim.fault("http_500", path=venue.ticker_path, count=2)
    assert exchange.fetch_ticker("BTCUSDT").last == Decimal("60000")


@pytest.mark.needs("sim_orders")
def test_circuit_breaker_opens_and_recovers(sim, venue):
    """Five failing calls open the breaker: calls are refused without reaching the exchange;
    after the cool-down one trial goes through and, succeeding, closes it."""
    clock = FakeClock()
    client = make_client(sim, venue, clock=clock)
    client.load_markets()
    sim.fault("http_500", path=venue.account_path)
    for _ in range(2):  # 3 attempts each: the 5th failure opens it during the second read
        with pytest.raises(TemporaryError):
            client.fetch_balance()
    with pytest.raises(CircuitOpen):
        client.fetch_balance()
    sim.http.delete("/__sim/faults")
    with pytest.raises(CircuitOpen):
        client.fetch_balance()  # still cooling down
    clock.now += 31
    assert client.fetch_balance()["USDT"].total > 0
    assert client.guard.store.load("acct-1").status.value == "closed"


def test_circuit_breaker_guards_market_data(sim, venue):
    """The same breaker guards the public reads every implementation makes (a paper account's
    only contact with the exchange): open after five failures, closed after a good trial."""
    clock, breakers = FakeClock(), MemoryBreakerStore()
    sim.price("BTCUSDT", "60000")
    client = make_client(sim, venue, clock=clock, breakers=breakers)
    client.load_markets()
    sim.fault("http_500", path=venue.ticker_path)
    for _ in range(2):
        with pytest.raises(TemporaryError):
            client.fetch_ticker("BTCUSDT")
    with pytest.raises(CircuitOpen):
        client.fetch_ticker("BTCUSDT")
    sim.http.delete("/__sim/faults")
    clock.now += 31
    assert client.fetch_ticker("BTCUSDT").last == Decimal("60000")
    assert breakers.load("acct-1").status.value == "closed"


@pytest.mark.needs("bybit", "api_keys")
def test_read_only_key_is_reported_as_lacking_trading_permission(sim, venue):
    """A Bybit key marked read-only passes the balance read but fails the permission probe."""
    sim.balances("ro-key", {"USDT": "100"}, "ro-secret", read_only=True)
    check = make_client(sim, venue, key="ro-key", secret="ro-secret").check_connectivity()
    assert not check.valid and check.can_trade is False
    assert check.error.startswith("key lacks trading permission")


def test_tickers_of_several_symbols_in_one_request(exchange, sim):
    """The price monitor's batched read: every asked symbol with the last price set on the
    simulator, keyed by the engine's symbol; an empty ask asks nothing."""
    sim.price("BTCUSDT", "61234.5")
    sim.price("ETHUSDT", "2345.6")
    tickers = exchange.fetch_tickers(["BTCUSDT", "ETHUSDT", "BTCUSDT"])
    assert {s: t.last for s, t in tickers.items()} == {
        "BTCUSDT": Decimal("61234.5"),
        "ETHUSDT": Decimal("2345.6"),
    }
    assert exchange.fetch_tickers([]) == {}
