"""Paper trading (SPEC §11): real public market data, orders, fills, fees and balances simulated
locally. Nothing is ever sent to the exchange but public reads (markets, tickers).

* Market data come from a real `ExchangeClient` (in production a keyless `CcxtExchange` in
  `live` mode; public endpoints need no key), through its retries and circuit breaker.
* Matching is the simulator's (`server.simulator.matching`): one last price per symbol with
  unlimited liquidity. Market orders and marketable limits take at the last price (taker fee);
  a resting limit fills whole, at its own price (maker fee), once the last price reaches it.
  Resting orders are matched against the current ticker whenever the account's orders are read
  or written (create, fetch, open orders, trades, cancel, balance), so the engine's regular
  fill monitor drives the fills. A price that crosses and comes back between two reads is
  not seen (the ticker is sampled, not streamed).
* Money is the simulator's ledgers (`server.simulator.ledgers`): spot wallets with reservations
  for open orders; USDⓈ-M style futures with one-way net positions, cross margin, leverage 20.
* Fees are the simulator's schedules (Binance spot 0.1 % in the received asset, USDⓈ-M
  0.02 %/0.05 % in USDT, Bybit spot 0.1 % in the received asset, linear 0.02 %/0.055 % in USDT).
* Orders are checked like the exchange would: `check_order` with the market's real rules; a
  price off the tick or a quantity off the step is refused, not rounded (InvalidOrder);
  not enough balance or margin is InsufficientFunds; a reduce-only order that would open, grow
  or flip a position is InvalidOrder.
* Client order ids are unique per account for ever. Re-sending the same order under the same
  client id returns the order already held (what `CcxtExchange` does after the exchange's
  duplicate answer); a different order under a used client id is `DuplicateClientOrderId`.
* State lives in Redis (`server.state.paper_store`), shared by every worker process and kept
  across restarts; each operation is one read-modify-write under the account's Redis lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal

import redis

from server.domain.enums import Exchange, MarketType
from server.domain.precision import MarketRules, check_order
from server.exchange.base import ExchangeClient
from server.exchange.config import ExchangeConfig
from server.exchange.errors import (
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    TemporaryError,
)
from server.exchange.translate import DuplicateClientOrderId
from server.exchange.types import (
    Balance,
    ConnectivityCheck,
    ExchangeOrder,
    ExchangeOrderStatus,
    Fee,
    OrderSide,
    OrderType,
    Ticker,
    Trade,
)
from server.simulator import matching as m
from server.simulator.ledgers import FuturesAccount, LinearLedger, Position, SpotLedger
from server.state.paper_store import PaperStore

ONE = Decimal(1)
DEFAULT_START_BALANCE = Decimal(10_000)
START_ASSET = "USDT"

FEES: dict[tuple[Exchange, MarketType], m.FeeSchedule] = {
    (Exchange.BINANCE, MarketType.SPOT): m.FeeSchedule(
        Decimal("0.001"), Decimal("0.001"), "received"
    ),
    (Exchange.BINANCE, MarketType.FUTURES): m.FeeSchedule(
        Decimal("0.0002"), Decimal("0.0005"), "quote"
    ),
    (Exchange.BYBIT, MarketType.SPOT): m.FeeSchedule(
        Decimal("0.001"), Decimal("0.001"), "received"
    ),
    (Exchange.BYBIT, MarketType.FUTURES): m.FeeSchedule(
        Decimal("0.0002"), Decimal("0.00055"), "quote"
    ),
}

_STATUS = {
    m.NEW: ExchangeOrderStatus.OPEN,
    m.PARTIALLY_FILLED: ExchangeOrderStatus.PARTIALLY_FILLED,
    m.FILLED: ExchangeOrderStatus.FILLED,
    m.CANCELED: ExchangeOrderStatus.CANCELLED,
    m.EXPIRED: ExchangeOrderStatus.EXPIRED,
    m.REJECTED: ExchangeOrderStatus.REJECTED,
}
_ORDER_DECIMALS = frozenset({"qty", "price", "step", "quote_order_qty", "executed", "cum_quote"})
_FILL_DECIMALS = frozenset({"price", "qty", "quote_qty", "commission", "realized_pnl"})


class PaperExchange(ExchangeClient):
    def __init__(
        self,
        config: ExchangeConfig,
        market_data: ExchangeClient,
        store: PaperStore,
        start_balance: Decimal = DEFAULT_START_BALANCE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.market_data = market_data
        self.store = store
        self.start_balance = Decimal(start_balance)
        self.clock = clock
        self.owner = config.account_id
        self.futures = config.market_type is MarketType.FUTURES
        self.fees = FEES[(config.exchange, config.market_type)]

    # --- public market data ---------------------------------------------------------------------

    def load_markets(self, reload: bool = False) -> dict[str, MarketRules]:
        return self.market_data.load_markets(reload)

    def fetch_ticker(self, symbol: str) -> Ticker:
        return self.market_data.fetch_ticker(symbol)

    def fetch_tickers(self, symbols: Sequence[str]) -> dict[str, Ticker]:
        return self.market_data.fetch_tickers(symbols)

    # --- orders ---------------------------------------------------------------------------------

    def create_order(
        self,
        symbol: str,
        side: OrderSide,
        type: OrderType,
        amount: Decimal,
        price: Decimal | None,
        client_order_id: str,
        reduce_only: bool = False,
    ) -> ExchangeOrder:
        rules = self.market_rules(symbol)
        last = self.fetch_ticker(symbol).last
        amount = Decimal(amount)
        price = None if type is OrderType.MARKET or price is None else Decimal(price)
        self._validate(rules, side, type, amount, price, last, reduce_only)
        with self._session({symbol: last}) as s:
            s.match(symbol)
            held = s.find(symbol, client_order_id=client_order_id, missing_ok=True, any_symbol=True)
            if held is not None:
                if _same_order(held, symbol, side, type, amount, price, reduce_only):
                    return _view(held)
                raise DuplicateClientOrderId(
                    f"client order id {client_order_id} is already used by order "
                    f"{held.order_id} ({held.symbol} {held.side} {held.type} {held.qty})"
                )
            order = m.Order(
                order_id=self.store.next_id(),
                owner=self.owner,
                symbol=symbol,
                base=rules.base,
                quote=rules.quote,
                side=side.value.upper(),
                type=type.value.upper(),
                qty=amount,
                price=price,
                time_in_force="GTC",
                client_order_id=client_order_id,
                step=rules.step_size,
                created_ms=s.now,
                reduce_only=reduce_only,
            )
            s.submit(order, last)
            return _view(order)

    def fetch_order(
        self, symbol: str, *, exchange_id: str | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder:
        with self._session(self._price_of(symbol)) as s:
            s.match(symbol)
            return _view(s.find(symbol, exchange_id=exchange_id, client_order_id=client_order_id))

    def cancel_order(
        self, symbol: str, *, exchange_id: str | None = None, client_order_id: str | None = None
    ) -> ExchangeOrder:
        """Cancel an open order; one that already finished (it may fill at the current price
        first, as on an exchange) comes back as it is, like `CcxtExchange.cancel_order`."""
        with self._session(self._price_of(symbol)) as s:
            s.match(symbol)
            order = s.find(symbol, exchange_id=exchange_id, client_order_id=client_order_id)
            if order.is_open:
                s.cancel(order)
            return _view(order)

    def fetch_open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        with self._session(self._price_of(symbol) if symbol else {}) as s:
            if symbol:
                s.match(symbol)
            else:
                s.match_all()
            return [_view(o) for o in s.open_orders() if symbol is None or o.symbol == symbol]

    def fetch_order_trades(self, symbol: str, exchange_id: str) -> list[Trade]:
        with self._session(self._price_of(symbol)) as s:
            s.match(symbol)
            order = s.find(symbol, exchange_id=exchange_id, missing_ok=True)
            return [] if order is None else list(_view(order).trades)

    # --- balances -------------------------------------------------------------------------------

    def fetch_balance(self) -> dict[str, Balance]:
        """Spot: free and locked per asset. Futures (USDT): total = wallet + unrealised PnL,
        used = position margin + open-order margin, free = total - used (as ccxt reports
        Binance USDⓈ-M: marginBalance / initial margin / availableBalance)."""
        with self._session({}) as s:
            s.match_all()
            if not self.futures:
                return {
                    asset: Balance(asset, free, locked, free + locked)
                    for asset, (free, locked) in s.ledger.balances(self.owner).items()
                }
            totals = s.ledger.totals(self.owner)
            used = totals["position_margin"] + totals["order_margin"]
            asset = s.ledger.margin_asset
            return {asset: Balance(asset, totals["available"], used, totals["margin_balance"])}

    def reset(self, balances: Mapping[str, Decimal | str] | None = None) -> None:
        """Forget every order and position; fund the account anew (default: the start balance
        in USDT). Order ids keep counting, so no id is ever reused."""
        funds = {a: Decimal(v) for a, v in (balances or {START_ASSET: self.start_balance}).items()}
        try:
            with self.store.lock():
                self.store.clear()
                self.store.save(self._fresh_ledger(funds), {}, {}, {})
        except redis.RedisError as exc:
            raise TemporaryError(f"paper account store unavailable: {exc}") from None

    # --- account check --------------------------------------------------------------------------

    def check_connectivity(self) -> ConnectivityCheck:
        """Paper accounts need only public market data: markets plus one ticker."""
        try:
            markets = self.load_markets()
            if not markets:
                return ConnectivityCheck(False, "exchange unreachable: no markets returned")
            self.fetch_ticker("BTCUSDT" if "BTCUSDT" in markets else next(iter(markets)))
        except TemporaryError as exc:
            return ConnectivityCheck(False, f"exchange unreachable: {exc}")
        except ExchangeError as exc:
            return ConnectivityCheck(False, f"exchange refused the check: {exc}")
        return ConnectivityCheck(True, None, can_trade=True)

    # --- internals ------------------------------------------------------------------------------

    def _price_of(self, symbol: str) -> dict[str, Decimal]:
        return {symbol: self.fetch_ticker(symbol).last}

    def _validate(
        self,
        rules: MarketRules,
        side: OrderSide,
        type: OrderType,
        amount: Decimal,
        price: Decimal | None,
        last: Decimal,
        reduce_only: bool,
    ) -> None:
        if reduce_only and not self.futures:
            raise InvalidOrder(f"{rules.symbol}: reduce-only orders exist on futures only")
        if type is OrderType.LIMIT and price is None:
            raise InvalidOrder(f"{rules.symbol}: a limit order needs a price")
        check = check_order(
            rules,
            side.value,
            price if price is not None else last,
            amount,
            order_type=type.value,
        )
        if not check.valid:
            raise InvalidOrder(check.reason or f"{rules.symbol}: order refused")
        if check.quantity != amount:
            raise InvalidOrder(
                f"{rules.symbol}: quantity {amount} is not a multiple of the step "
                f"{rules.quantity_rules(type.value)[0]}"
            )
        if price is not None and check.price != price:
            raise InvalidOrder(
                f"{rules.symbol}: price {price} is not a multiple of the tick {rules.tick_size}"
            )

    def _fresh_ledger(self, funds: Mapping[str, Decimal]) -> dict:
        if self.futures:
            return {"wallet": {a: str(v) for a, v in funds.items()}, "positions": {}}
        return {"wallet": {a: [str(v), "0"] for a, v in funds.items()}, "held": {}}

    @contextmanager
    def _session(self, prices: Mapping[str, Decimal]) -> Iterator[_Session]:
        """Lock the account, load it, run the body, save what changed. Redis failures are
        temporary (retry later); a lock not obtained in time is too."""
        try:
            with self.store.lock() as lock:
                session = _Session(self, prices)
                try:
                    yield session
                except ExchangeError:
                    session.save(lock)  # fills matched before a refusal are real
                    raise
                session.save(lock)
        except redis.RedisError as exc:
            raise TemporaryError(f"paper account store unavailable: {exc}") from None


class _Session:
    """One locked read-modify-write of a paper account: its ledger, books and open orders."""

    def __init__(self, paper: PaperExchange, prices: Mapping[str, Decimal]) -> None:
        self.paper = paper
        self.store = paper.store
        self.now = int(paper.clock() * 1000)
        self.prices = dict(prices)
        snapshot = self.store.load()
        self.ledger_dirty = snapshot.ledger is None  # first use: fund the account
        state = snapshot.ledger or paper._fresh_ledger({START_ASSET: paper.start_balance})
        self.ledger: SpotLedger | LinearLedger
        if paper.futures:
            self.ledger = _futures_ledger(paper.owner, state)
            self.ledger.price_of = self.price  # mark = last price, fetched when needed
            self.ledger.open_orders = lambda owner: self.open_orders()
        else:
            self.ledger = _spot_ledger(paper.owner, state)
        self.orders: dict[int, m.Order] = {}  # every order this session touched or loaded
        self.books: dict[str, m.Book] = {}
        for order in sorted(map(_order_from, snapshot.open_orders), key=lambda o: o.order_id):
            self.orders[order.order_id] = order
            # Book has no insert for restored state; resting orders go in time priority.
            self.book(order.symbol)._orders[order.order_id] = order
        self.changed: set[int] = set()
        self.clients: dict[str, int] = {}

    # prices, books, orders

    def price(self, symbol: str) -> Decimal:
        if symbol not in self.prices:
            self.prices[symbol] = self.paper.fetch_ticker(symbol).last
        return self.prices[symbol]

    def book(self, symbol: str) -> m.Book:
        return self.books.setdefault(symbol, m.Book())

    def open_orders(self) -> list[m.Order]:
        return sorted((o for o in self.orders.values() if o.is_open), key=lambda o: o.order_id)

    def find(
        self,
        symbol: str,
        *,
        exchange_id: str | None = None,
        client_order_id: str | None = None,
        missing_ok: bool = False,
        any_symbol: bool = False,
    ) -> m.Order | None:
        """An order of this account by exchange id (and client id when both are given), else by
        client id; OrderNotFound (or None with `missing_ok`) when there is none on `symbol`."""
        if exchange_id is None and client_order_id is None:
            raise ValueError("fetch an order by exchange_id or client_order_id")
        order_id: int | None
        if exchange_id is not None:
            order_id = int(exchange_id) if str(exchange_id).isdigit() else None
        else:
            order_id = self.clients.get(client_order_id) or self.store.order_id_for(client_order_id)
        order = None if order_id is None else self._load(order_id)
        if order is not None and not any_symbol and order.symbol != symbol:
            order = None
        if order is not None and client_order_id and order.client_order_id != client_order_id:
            order = None
        if order is None and not missing_ok:
            which = f"id {exchange_id}" if exchange_id else f"client order id {client_order_id}"
            raise OrderNotFound(f"paper account has no {symbol} order with {which}")
        return order

    def _load(self, order_id: int) -> m.Order | None:
        if order_id not in self.orders:
            raw = self.store.order(order_id)
            if raw is None:
                return None
            self.orders[order_id] = _order_from(raw)
        return self.orders[order_id]

    # matching

    def _cap(self):
        return getattr(self.ledger, "reduce_cap", None)

    def _record(self, fills: list[m.Fill]) -> None:
        for fill in fills:
            order = self.orders[fill.order_id]
            self.ledger.settle(order, fill)
            self.changed.add(order.order_id)
            self.ledger_dirty = True

    def match(self, symbol: str) -> None:
        """Fill the resting orders of `symbol` that its current price reaches."""
        book = self.books.get(symbol)
        if book is None or not len(book):
            return
        fills, closed = book.on_price(
            self.price(symbol), self.now, self.paper.fees, ONE, self.store.next_id, self._cap()
        )
        self._record(fills)
        for order in closed:
            self.ledger.release(order)
            self.changed.add(order.order_id)
            self.ledger_dirty = True

    def match_all(self) -> None:
        for symbol in sorted(self.books):
            self.match(symbol)

    def submit(self, order: m.Order, last: Decimal) -> None:
        """Admit a validated new order and match it against `last` (the simulator's order)."""
        if order.reduce_only:
            held = self.ledger.position(order.owner, order.symbol).amount
            if self.ledger.would_increase(order) or order.qty > abs(held):
                raise InvalidOrder(
                    f"{order.symbol}: reduce-only {order.side.lower()} of {order.qty} would "
                    f"open, grow or flip the position ({held})"
                )
        if not self.ledger.reserve(order, last):
            what = "margin" if self.paper.futures else "balance"
            raise InsufficientFunds(
                f"{order.symbol}: insufficient {what} for {order.side.lower()} {order.qty} "
                f"at {order.price if order.price is not None else last}"
            )
        self.orders[order.order_id] = order
        self.clients[order.client_order_id] = order.order_id
        self.changed.add(order.order_id)
        self.ledger_dirty = True
        fills = self.book(order.symbol).place(
            order, last, self.now, self.paper.fees, ONE, self.store.next_id, self._cap()
        )
        self._record(fills)
        if not order.is_open:
            self.ledger.release(order)

    def cancel(self, order: m.Order) -> None:
        self.book(order.symbol).remove(order.order_id)
        order.status = m.CANCELED
        order.updated_ms = self.now
        self.ledger.release(order)
        self.changed.add(order.order_id)
        self.ledger_dirty = True

    def save(self, lock) -> None:
        if not self.ledger_dirty and not self.changed:
            return
        if not lock.owned():
            raise TemporaryError("paper account lock expired during the operation; retry")
        touched = [self.orders[i] for i in self.changed]
        self.store.save(
            _ledger_to(self.ledger, self.paper.owner) if self.ledger_dirty else None,
            {o.order_id: _order_to(o) for o in touched if o.is_open},
            {o.order_id: _order_to(o) for o in touched if not o.is_open},
            self.clients,
        )


# --- ledger (de)serialisation -------------------------------------------------------------------


def _spot_ledger(owner: str, state: dict) -> SpotLedger:
    ledger = SpotLedger()
    ledger.wallets[owner] = {
        asset: [Decimal(free), Decimal(locked)] for asset, (free, locked) in state["wallet"].items()
    }
    # SpotLedger keeps its reservations private; they are part of the persisted state.
    ledger._held = {
        int(oid): (asset, Decimal(amount), Decimal(px))
        for oid, (asset, amount, px) in state["held"].items()
    }
    return ledger


def _futures_ledger(owner: str, state: dict) -> LinearLedger:
    ledger = LinearLedger(price_of=lambda symbol: Decimal(0))
    ledger.accounts[owner] = FuturesAccount(
        wallet={asset: Decimal(v) for asset, v in state["wallet"].items()},
        positions={
            symbol: Position(Decimal(amount), Decimal(entry), int(updated))
            for symbol, (amount, entry, updated) in state["positions"].items()
        },
        leverage={symbol: int(x) for symbol, x in state.get("leverage", {}).items()},
    )
    return ledger


def _ledger_to(ledger: SpotLedger | LinearLedger, owner: str) -> dict:
    if isinstance(ledger, LinearLedger):
        acct = ledger.account(owner)
        return {
            "wallet": {asset: str(v) for asset, v in acct.wallet.items()},
            "positions": {
                symbol: [str(p.amount), str(p.entry), p.updated_ms]
                for symbol, p in acct.positions.items()
                if p.amount != 0
            },
            "leverage": dict(acct.leverage),
        }
    return {
        "wallet": {
            a: [str(free), str(locked)] for a, (free, locked) in ledger.wallets[owner].items()
        },
        "held": {
            str(oid): [asset, str(amount), str(px)]
            for oid, (asset, amount, px) in ledger._held.items()
        },
    }


# --- order (de)serialisation and views ----------------------------------------------------------


def _plain(obj) -> dict:
    out = {}
    for f in fields(obj):
        if f.name == "fills":
            continue
        value = getattr(obj, f.name)
        out[f.name] = str(value) if isinstance(value, Decimal) else value
    return out


def _order_to(order: m.Order) -> dict:
    return _plain(order) | {"fills": [_plain(f) for f in order.fills]}


def _decimals(raw: dict, names: frozenset[str]) -> dict:
    return {k: Decimal(v) if k in names and v is not None else v for k, v in raw.items()}


def _order_from(raw: dict) -> m.Order:
    data = _decimals({k: v for k, v in raw.items() if k != "fills"}, _ORDER_DECIMALS)
    order = m.Order(**data)
    order.fills = [m.Fill(**_decimals(f, _FILL_DECIMALS)) for f in raw.get("fills", ())]
    return order


def _same_order(
    order: m.Order,
    symbol: str,
    side: OrderSide,
    type: OrderType,
    amount: Decimal,
    price: Decimal | None,
    reduce_only: bool,
) -> bool:
    return (
        order.symbol == symbol
        and order.side == side.value.upper()
        and order.type == type.value.upper()
        and order.qty == amount
        and order.price == price
        and order.reduce_only == reduce_only
    )


def _time(ms: int | None) -> datetime | None:
    return None if not ms else datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


def _trade(fill: m.Fill) -> Trade:
    return Trade(
        id=str(fill.trade_id),
        order_id=str(fill.order_id),
        symbol=fill.symbol,
        side=OrderSide(fill.side.lower()),
        price=fill.price,
        amount=fill.qty,
        fee=Fee(fill.commission, fill.commission_asset),
        at=_time(fill.time_ms),
    )


def _view(order: m.Order) -> ExchangeOrder:
    fees: dict[str, Decimal] = {}
    for fill in order.fills:
        fees[fill.commission_asset] = fees.get(fill.commission_asset, Decimal(0)) + fill.commission
    return ExchangeOrder(
        id=str(order.order_id),
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=OrderSide(order.side.lower()),
        type=OrderType(order.type.lower()),
        status=_STATUS[order.status],
        price=order.price,
        amount=order.qty,
        filled=order.executed,
        average=order.avg_price if order.executed else None,
        fees=tuple(Fee(cost, asset) for asset, cost in fees.items()),
        reduce_only=order.reduce_only,
        at=_time(order.created_ms),
        trades=tuple(_trade(f) for f in order.fills),
    )
