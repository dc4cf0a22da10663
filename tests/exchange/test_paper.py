"""Paper trading: the simulator supplies only market data; orders, fills, fees and balances are
simulated by PaperExchange in Redis (shared by processes, kept across restarts).

The contract every implementation meets is test_contract.py (it runs for the paper venues too);
this file holds what is particular to paper accounts. Numbers are worked by hand in each
docstring from BTCUSDT's real rules and the venues' default fees (conftest.VENUES).
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from server.exchange.errors import InsufficientFunds, InvalidOrder, OrderNotFound
from server.exchange.paper import FEES, PaperExchange
from server.exchange.translate import DuplicateClientOrderId
from server.exchange.types import ExchangeOrderStatus, OrderSide, OrderType
from tests.exchange.conftest import make_client
from tests.sim_support import free_port

BUY, SELL = OrderSide.BUY, OrderSide.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
D = Decimal


def _balances(client) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    return {a: (b.free, b.used, b.total) for a, b in client.fetch_balance().items() if b.total}


@pytest.mark.needs("paper")
def test_orders_never_reach_the_simulator(exchange, sim):
    """Market, limit and cancel on a paper account: the simulator's order log stays empty and
    the simulator's own balance of the test key is untouched."""
    before = sim.http.get("/__sim/balances", params={"api_key": "test-key"}).json()
    exchange.create_order("BTCUSDT", BUY, MARKET, D("0.002"), None, "cid-p-mkt")
    exchange.create_order("BTCUSDT", BUY, LIMIT, D("0.002"), D("50000"), "cid-p-lim")
    exchange.cancel_order("BTCUSDT", client_order_id="cid-p-lim")
    sim.price("BTCUSDT", "49000")
    exchange.fetch_open_orders()
    assert sim.orders() == []
    assert sim.http.get("/__sim/balances", params={"api_key": "test-key"}).json() == before


@pytest.mark.needs("paper")
def test_two_instances_share_one_account(sim, venue):
    """Two PaperExchange objects for the same account (two worker processes) see one set of
    orders and balances: what one places the other finds, cancels, and accounts for."""
    sim.price("BTCUSDT", "60000")
    first, second = make_client(sim, venue), make_client(sim, venue)
    placed = first.create_order("BTCUSDT", BUY, LIMIT, D("0.002"), D("50000"), "cid-shared")
    assert second.fetch_order("BTCUSDT", client_order_id="cid-shared").id == placed.id
    assert [o.id for o in second.fetch_open_orders()] == [placed.id]
    assert _balances(first) == _balances(second)
    second.cancel_order("BTCUSDT", exchange_id=placed.id)
    assert first.fetch_order("BTCUSDT", exchange_id=placed.id).status is (
        ExchangeOrderStatus.CANCELLED
    )
    assert first.fetch_open_orders() == []
    other = make_client(sim, venue, account_id="acct-other")  # another account sees nothing
    with pytest.raises(OrderNotFound):
        other.fetch_order("BTCUSDT", client_order_id="cid-shared")


@pytest.mark.needs("paper")
def test_restart_keeps_open_orders_and_fills_them_later(sim, venue):
    """A new instance (a restarted worker) finds the resting order and fills it once the
    simulator's price crosses it — found by the fill monitor's open-orders read."""
    sim.price("BTCUSDT", "60000")
    before = make_client(sim, venue)
    placed = before.create_order("BTCUSDT", BUY, LIMIT, D("0.002"), D("59000"), "cid-restart")
    del before
    after = make_client(sim, venue)
    assert [o.client_order_id for o in after.fetch_open_orders("BTCUSDT")] == ["cid-restart"]
    sim.price("BTCUSDT", "58000")
    assert after.fetch_open_orders() == []
    order = after.fetch_order("BTCUSDT", exchange_id=placed.id)
    assert order.status is ExchangeOrderStatus.FILLED and order.average == D("59000")


@pytest.mark.needs("paper")
def test_resting_limit_fills_at_its_own_price_with_the_maker_fee(exchange, sim, venue):
    """A buy limit 0.002 @ 59,000 rests at 60,000 and at 59,500; at 58,000 it fills at 59,000
    (never at 58,000) with the maker rate: spot 0.1 % of 0.002 BTC = 0.000002 BTC; futures
    0.02 % of 118 USDT = 0.0236 USDT."""
    placed = exchange.create_order("BTCUSDT", BUY, LIMIT, D("0.002"), D("59000"), "cid-maker")
    sim.price("BTCUSDT", "59500")
    assert exchange.fetch_order("BTCUSDT", exchange_id=placed.id).filled == 0
    sim.price("BTCUSDT", "58000")
    trades = exchange.fetch_order_trades("BTCUSDT", placed.id)
    assert [(t.price, t.amount) for t in trades] == [(D("59000"), D("0.002"))]
    fee = trades[0].fee
    if venue.fee_in_base_on_buy:
        assert (fee.cost, fee.currency) == (D("0.000002"), "BTC")
    else:
        assert (fee.cost, fee.currency) == (D("0.0236"), "USDT")
    order = exchange.fetch_order("BTCUSDT", exchange_id=placed.id)
    assert order.fees == (fee,) and order.status is ExchangeOrderStatus.FILLED


@pytest.mark.needs("paper", "spot")
def test_spot_balances_move_by_price_times_quantity_and_fee(exchange, sim):
    """Start: 10,000 USDT.

    1. Market buy 0.002 BTC at 60,000: pays 0.002 × 60,000 = 120 USDT; receives 0.002 BTC less
       the 0.1 % taker fee in BTC (0.000002) → USDT 9,880, BTC 0.001998.
    2. Limit sell 0.001 @ 61,000 rests: 0.001 BTC locked → BTC free 0.000998, used 0.001.
       Limit buy 0.002 @ 59,000 rests: 118 USDT locked → USDT free 9,762, used 118.
    3. The price goes to 61,500: the sell fills at 61,000 (maker 0.1 % in USDT): receives
       0.001 × 61,000 = 61 less 0.061 → USDT free 9,762 + 60.939 = 9,822.939, BTC 0.000998.
    4. The buy is cancelled: its 118 USDT come back → USDT 9,940.939.
    """
    assert _balances(exchange) == {"USDT": (D(10000), 0, D(10000))}
    exchange.create_order("BTCUSDT", BUY, MARKET, D("0.002"), None, "cid-b1")
    assert _balances(exchange) == {
        "USDT": (D("9880"), 0, D("9880")),
        "BTC": (D("0.001998"), 0, D("0.001998")),
    }
    exchange.create_order("BTCUSDT", SELL, LIMIT, D("0.001"), D("61000"), "cid-s1")
    exchange.create_order("BTCUSDT", BUY, LIMIT, D("0.002"), D("59000"), "cid-b2")
    assert _balances(exchange) == {
        "USDT": (D("9762"), D("118"), D("9880")),
        "BTC": (D("0.000998"), D("0.001"), D("0.001998")),
    }
    sim.price("BTCUSDT", "61500")
    assert _balances(exchange) == {
        "USDT": (D("9822.939"), D("118"), D("9940.939")),
        "BTC": (D("0.000998"), 0, D("0.000998")),
    }
    exchange.cancel_order("BTCUSDT", client_order_id="cid-b2")
    assert _balances(exchange) == {
        "USDT": (D("9940.939"), 0, D("9940.939")),
        "BTC": (D("0.000998"), 0, D("0.000998")),
    }


@pytest.mark.needs("paper", "futures", "binance")
def test_futures_balance_moves_by_fee_and_realised_pnl(exchange, sim):
    """Start: 10,000 USDT, leverage 20, balances as ccxt reports Binance USDⓈ-M (total = wallet
    + unrealised PnL, used = margin, free = total - used).

    1. Market buy 0.002 at 60,000: fee 0.05 % × 120 = 0.06 → wallet 9,999.94; long 0.002 @
       60,000, margin 120 / 20 = 6 → free 9,993.94.
    2. Price 61,000: unrealised (61,000 - 60,000) × 0.002 = 2 → total 10,001.94; margin
       0.002 × 61,000 / 20 = 6.1 → free 9,995.84.
    3. Reduce-only sell limit 0.002 @ 61,500 rests (no margin); at 61,600 it fills at 61,500,
       maker 0.02 % × 123 = 0.0246, realised (61,500 - 60,000) × 0.002 = 3 → wallet
       9,999.94 + 3 - 0.0246 = 10,002.9154, flat, nothing used.
    """
    assert _balances(exchange) == {"USDT": (D(10000), 0, D(10000))}
    exchange.create_order("BTCUSDT", BUY, MARKET, D("0.002"), None, "cid-f1")
    assert _balances(exchange) == {"USDT": (D("9993.94"), D(6), D("9999.94"))}
    sim.price("BTCUSDT", "61000")
    assert _balances(exchange) == {"USDT": (D("9995.84"), D("6.1"), D("10001.94"))}
    close = exchange.create_order(
        "BTCUSDT", SELL, LIMIT, D("0.002"), D("61500"), "cid-f2", reduce_only=True
    )
    assert close.status is ExchangeOrderStatus.OPEN
    sim.price("BTCUSDT", "61600")
    assert _balances(exchange) == {"USDT": (D("10002.9154"), 0, D("10002.9154"))}
    order = exchange.fetch_order("BTCUSDT", exchange_id=close.id)
    assert order.average == D("61500") and order.fees[0].cost == D("0.0246")


@pytest.mark.needs("paper", "futures", "bybit")
def test_bybit_linear_balance_moves_by_its_own_fees(exchange, sim):
    """As the Binance case, with Bybit linear fees (0.055 % taker, 0.02 % maker):
    1. buy 0.002 at 60,000: fee 0.055 % × 120 = 0.066 → wallet 9,999.934, margin 6 →
       free 9,993.934;
    2. price 61,000: total 9,999.934 + 2 = 10,001.934, margin 6.1 → free 9,995.834;
    3. reduce-only sell 0.002 @ 61,500 fills at 61,600: maker 0.02 % × 123 = 0.0246, realised 3
       → wallet 9,999.934 + 3 - 0.0246 = 10,002.9094, flat."""
    exchange.create_order("BTCUSDT", BUY, MARKET, D("0.002"), None, "cid-y1")
    assert _balances(exchange) == {"USDT": (D("9993.934"), D(6), D("9999.934"))}
    sim.price("BTCUSDT", "61000")
    assert _balances(exchange) == {"USDT": (D("9995.834"), D("6.1"), D("10001.934"))}
    exchange.create_order(
        "BTCUSDT", SELL, LIMIT, D("0.002"), D("61500"), "cid-y2", reduce_only=True
    )
    sim.price("BTCUSDT", "61600")
    assert _balances(exchange) == {"USDT": (D("10002.9094"), 0, D("10002.9094"))}


@pytest.mark.needs("paper", "futures")
def test_reduce_only_may_not_grow_or_flip_the_position(exchange):
    """With a long of 0.002: a reduce-only buy (grows it) and a reduce-only sell of 0.003
    (flips it) are refused; a reduce-only sell of 0.001 is accepted."""
    exchange.create_order("BTCUSDT", BUY, MARKET, D("0.002"), None, "cid-ro-open")
    with pytest.raises(InvalidOrder):
        exchange.create_order("BTCUSDT", BUY, MARKET, D("0.002"), None, "cid-ro-up", True)
    with pytest.raises(InvalidOrder):
        exchange.create_order("BTCUSDT", SELL, MARKET, D("0.003"), None, "cid-ro-flip", True)
    done = exchange.create_order("BTCUSDT", SELL, MARKET, D("0.002"), None, "cid-ro-ok", True)
    assert done.status is ExchangeOrderStatus.FILLED


@pytest.mark.needs("paper", "spot")
def test_spot_refusals(exchange):
    """Spot: no reduce-only; selling BTC the account does not hold is InsufficientFunds; a
    price off the 0.01 tick or a quantity off the 0.00001 step is refused, not rounded."""
    with pytest.raises(InvalidOrder):
        exchange.create_order("BTCUSDT", SELL, MARKET, D("0.002"), None, "cid-r1", True)
    with pytest.raises(InsufficientFunds):
        exchange.create_order("BTCUSDT", SELL, LIMIT, D("0.002"), D("61000"), "cid-r2")
    with pytest.raises(InvalidOrder, match="tick"):
        exchange.create_order("BTCUSDT", BUY, LIMIT, D("0.002"), D("50000.005"), "cid-r3")
    with pytest.raises(InvalidOrder, match="step"):
        exchange.create_order("BTCUSDT", BUY, LIMIT, D("0.0020001"), D("50000"), "cid-r4")
    with pytest.raises(InsufficientFunds):  # 0.2 BTC at 60,000 = 12,000 USDT > 10,000
        exchange.create_order("BTCUSDT", BUY, MARKET, D("0.2"), None, "cid-r5")
    assert exchange.fetch_open_orders() == []


@pytest.mark.needs("paper")
def test_a_used_client_order_id_refuses_a_different_order(exchange):
    """The same order under the same client id is the order already held; another order under
    a used client id (even a finished one) is DuplicateClientOrderId."""
    first = exchange.create_order("BTCUSDT", BUY, MARKET, D("0.002"), None, "cid-once")
    again = exchange.create_order("BTCUSDT", BUY, MARKET, D("0.002"), None, "cid-once")
    assert again.id == first.id and again.status is ExchangeOrderStatus.FILLED
    with pytest.raises(DuplicateClientOrderId):
        exchange.create_order("BTCUSDT", BUY, LIMIT, D("0.002"), D("50000"), "cid-once")
    assert len(exchange.fetch_order_trades("BTCUSDT", first.id)) == 1


@pytest.mark.needs("paper", "spot")
def test_concurrent_processes_never_lose_an_update(sim, venue):
    """Eight "processes" (own instances, own threads) buy 0.001 BTC at 60,000 at once: the
    account lock serialises them, so USDT = 10,000 - 8 × 60 = 9,520 and BTC = 8 × (0.001 -
    0.000001 fee) = 0.007992, with eight distinct order ids."""
    sim.price("BTCUSDT", "60000")
    clients = [make_client(sim, venue) for _ in range(8)]
    for client in clients:
        client.load_markets()
    ids, errors = [], []

    def buy(n: int) -> None:
        try:
            order = clients[n].create_order("BTCUSDT", BUY, MARKET, D("0.001"), None, f"cid-c{n}")
            ids.append(order.id)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=buy, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(ids)) == 8
    assert _balances(clients[0]) == {
        "USDT": (D("9520"), 0, D("9520")),
        "BTC": (D("0.007992"), 0, D("0.007992")),
    }


@pytest.mark.needs("paper")
def test_reset_restores_the_start_balance(exchange):
    """Reset forgets orders and positions and refunds 10,000 USDT; ids keep counting."""
    old = exchange.create_order("BTCUSDT", BUY, LIMIT, D("0.002"), D("50000"), "cid-before")
    exchange.create_order("BTCUSDT", BUY, MARKET, D("0.002"), None, "cid-before-2")
    exchange.reset()
    assert exchange.fetch_open_orders() == []
    assert _balances(exchange) == {"USDT": (D(10000), 0, D(10000))}
    with pytest.raises(OrderNotFound):
        exchange.fetch_order("BTCUSDT", exchange_id=old.id)
    new = exchange.create_order("BTCUSDT", BUY, LIMIT, D("0.002"), D("50000"), "cid-before")
    assert int(new.id) > int(old.id)


@pytest.mark.needs("paper")
def test_start_balance_is_configurable(sim, venue):
    """An account started with 2,500 USDT has exactly that."""
    base = make_client(sim, venue)
    custom = PaperExchange(base.config, base.market_data, base.store, start_balance=D("2500"))
    assert _balances(custom) == {"USDT": (D(2500), 0, D(2500))}


@pytest.mark.needs("paper")
def test_connectivity_is_public_market_data(sim, venue):
    """Valid (and able to trade) when markets and a ticker load; a dead market-data host is
    "exchange unreachable"."""
    check = make_client(sim, venue).check_connectivity()
    assert (check.valid, check.error, check.can_trade) == (True, None, True)
    dead = make_client(sim, venue, market_data_url=f"http://127.0.0.1:{free_port()}")
    check = dead.check_connectivity()
    assert not check.valid and check.error.startswith("exchange unreachable: ")


def test_fee_schedules_are_the_simulators():
    """Paper and simulator charge the same fees (Bybit: 0.1 % spot, 0.02 %/0.055 % linear)."""
    from server.domain.enums import Exchange, MarketType
    from server.simulator import binance, binance_futures

    assert FEES[(Exchange.BINANCE, MarketType.SPOT)] == binance.FEES
    assert FEES[(Exchange.BINANCE, MarketType.FUTURES)] == binance_futures.FEES
    bybit_linear = FEES[(Exchange.BYBIT, MarketType.FUTURES)]
    assert (bybit_linear.maker, bybit_linear.taker) == (D("0.0002"), D("0.00055"))
    assert FEES[(Exchange.BYBIT, MarketType.SPOT)].taker == D("0.001")
