"""The simulator's shared core: venues (one per exchange + market type), keys, the order log.

A *dialect* (binance.py, binance_futures.py, bybit.py) plugs in by subclassing `Dialect`:
it builds its `Venue`s on every reset and maps `(method, path)` to handlers that translate the
exchange's REST parameters and JSON shapes to and from the neutral `Venue` calls. Everything
money-related lives in ledgers.py, matching in matching.py, market rules in markets.py.

All state is in memory and guarded by one re-entrant lock (`Simulator.lock`); handlers hold it
while they touch state. Order and trade ids are process-wide counters that survive resets, so
an id is never reused while the process runs.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qsl

from server.simulator import candles
from server.simulator.faults import FaultSet
from server.simulator.markets import SymbolRules
from server.simulator.matching import (
    LIMIT_MAKER,
    Book,
    FeeSchedule,
    Fill,
    Order,
    is_marketable,
)

ONE = Decimal(1)
ORDER_LOG_MAX = 500_000  # oldest entries drop off; reset between benchmark runs


@dataclass
class Request:
    """One HTTP request as the dialect handlers see it (transport-neutral)."""

    method: str
    path: str
    query: str
    body: bytes
    headers: dict[str, str]
    client: str
    received_ns: int
    order: Order | None = None  # set by order-creating handlers, read by the order log
    _params: dict[str, str] | None = None

    @property
    def params(self) -> dict[str, str]:
        """Query string and form body merged; the query string wins, as Binance documents."""
        if self._params is None:
            merged: dict[str, str] = {}
            if self.body and "json" not in self.headers.get("content-type", ""):
                merged.update(parse_qsl(self.body.decode("utf-8", "replace"), True))
            merged.update(parse_qsl(self.query, True))
            self._params = merged
        return self._params


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def json_response(obj: Any, status: int = 200, headers: tuple = ()) -> Response:
    return Response(status, json.dumps(obj, separators=(",", ":")).encode(), headers=headers)


class ApiError(Exception):
    """An exchange error answer: HTTP status plus the exchange's own JSON body."""

    def __init__(self, status: int, body: dict, headers: tuple = ()) -> None:
        super().__init__(body)
        self.status, self.body, self.headers = status, body, headers

    def response(self) -> Response:
        return json_response(self.body, self.status, self.headers)


class Rejection(Exception):
    """A neutral reason the venue refused an order; dialects turn it into their error body."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # DUPLICATE | INSUFFICIENT | REDUCE_ONLY | WOULD_TAKE


@dataclass(frozen=True)
class Route:
    handler: Callable[[Request], Response]
    dialect: Dialect
    order_fields: Callable[[Request], dict] | None = None  # set on order-creating routes


class Ids:
    """Process-wide order and trade id counters (never reset)."""

    def __init__(self) -> None:
        self._orders = itertools.count(1_000_001)
        self._trades = itertools.count(5_000_001)

    def order(self) -> int:
        return next(self._orders)

    def trade(self) -> int:
        return next(self._trades)


@dataclass
class Venue:
    """One exchange + market type (e.g. binance spot): rules, prices, books, orders, trades."""

    name: str
    rules: dict[str, SymbolRules]
    fees: FeeSchedule
    ledger: Any  # ledgers.SpotLedger | ledgers.LinearLedger
    ids: Ids
    prices: dict[str, Decimal]
    default_ratio: Decimal = ONE
    ratios: dict[str, Decimal] = field(default_factory=dict)
    books: dict[str, Book] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    by_owner: dict[tuple[str, str], list[Order]] = field(default_factory=dict)
    by_client: dict[tuple[str, str], Order] = field(default_factory=dict)
    trades: dict[tuple[str, str], list[Fill]] = field(default_factory=dict)
    tape: dict[str, candles.Tape] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.prices = {s: self.on_tick(s, p) for s, p in self.prices.items()}
        if hasattr(self.ledger, "open_orders"):
            self.ledger.open_orders = lambda owner: self.open_orders(owner)

    def on_tick(self, symbol: str, price: Decimal) -> Decimal:
        """A price snapped to the symbol's tick (nearest, half up): trades happen on ticks."""
        tick = self.rules[symbol].tick
        if tick <= 0:
            return price
        snapped = (price / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick
        return max(snapped, tick)

    def last(self, symbol: str) -> Decimal:
        return self.prices[symbol]

    def ratio(self, symbol: str) -> Decimal:
        return self.ratios.get(symbol, self.default_ratio)

    def book(self, symbol: str) -> Book:
        return self.books.setdefault(symbol, Book())

    def tape_of(self, symbol: str, now: int) -> candles.Tape:
        tape = self.tape.get(symbol)
        if tape is None:
            tape = self.tape[symbol] = candles.Tape(self.prices[symbol], now)
        return tape

    def _cap(self) -> Callable | None:
        return getattr(self.ledger, "reduce_cap", None)

    def _record(self, fills: list[Fill]) -> None:
        for fill in fills:
            order = self.orders[fill.order_id]
            self.ledger.settle(order, fill)
            self.trades.setdefault((fill.owner, fill.symbol), []).append(fill)
            self.tape_of(fill.symbol, fill.time_ms).add(fill.time_ms, fill.price, fill.qty)

    def submit(self, order: Order, now: int) -> list[Fill]:
        """Accept and match a validated order, or raise `Rejection`."""
        prior = self.by_client.get((order.owner, order.client_order_id))
        if prior is not None and prior.is_open:
            raise Rejection("DUPLICATE")
        last = self.last(order.symbol)
        post_only = order.type == LIMIT_MAKER or order.time_in_force == "GTX"
        if post_only and is_marketable(order, last):
            raise Rejection("WOULD_TAKE")
        if order.reduce_only and self.ledger.would_increase(order):
            raise Rejection("REDUCE_ONLY")
        if not self.ledger.reserve(order, last):
            raise Rejection("INSUFFICIENT")
        self.orders[order.order_id] = order
        self.by_owner.setdefault((order.owner, order.symbol), []).append(order)
        self.by_client[(order.owner, order.client_order_id)] = order
        book = self.book(order.symbol)
        fills = book.place(
            order, last, now, self.fees, self.ratio(order.symbol), self.ids.trade, self._cap()
        )
        self._record(fills)
        if not order.is_open:
            self.ledger.release(order)
        return fills

    def cancel(self, order: Order, now: int, status: str = "CANCELED") -> Order:
        self.book(order.symbol).remove(order.order_id)
        order.status = status
        order.updated_ms = now
        self.ledger.release(order)
        return order

    def set_price(self, symbol: str, price: Decimal, now: int) -> list[Fill]:
        """Move the last price (snapped to the tick) and fill the resting orders it crosses."""
        price = self.on_tick(symbol, price)
        tape = self.tape_of(symbol, now)  # before the move, so the tape starts at the old price
        self.prices[symbol] = price
        tape.add(now, price, Decimal(0))
        book = self.books.get(symbol)
        if book is None or not len(book):
            return []
        fills, closed = book.on_price(
            price, now, self.fees, self.ratio(symbol), self.ids.trade, self._cap()
        )
        self._record(fills)
        for order in closed:
            self.ledger.release(order)
        return fills

    def find(self, owner: str, symbol: str, order_id=None, client_id=None) -> Order | None:
        """Order of this owner and symbol by exchange id, else by (latest) client order id."""
        if order_id is not None:
            order = self.orders.get(order_id)
            if order is None or order.owner != owner or order.symbol != symbol:
                return None
            if client_id is not None and order.client_order_id != client_id:
                return None
            return order
        order = self.by_client.get((owner, client_id)) if client_id is not None else None
        return order if order is not None and order.symbol == symbol else None

    def open_orders(self, owner: str, symbol: str | None = None) -> list[Order]:
        books = [self.books.get(symbol)] if symbol else list(self.books.values())
        return [o for b in books if b is not None for o in b if o.owner == owner]

    def owner_orders(self, owner: str, symbol: str) -> list[Order]:
        return self.by_owner.get((owner, symbol), [])

    def owner_trades(self, owner: str, symbol: str) -> list[Fill]:
        return self.trades.get((owner, symbol), [])


class Dialect:
    """Base of the REST dialects: builds venues on reset and exposes routes."""

    name = "dialect"

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def build_venues(self) -> dict[str, Venue]:
        raise NotImplementedError

    def routes(self) -> dict[tuple[str, str], Route]:
        raise NotImplementedError

    def fault_response(self, kind: str, ms: int) -> Response:
        raise NotImplementedError

    def fault_for(self, req: Request, kind: str, ms: int) -> Response:
        """The fault answer for this request; dialects whose answer depends on the request
        (Bybit: spot and linear share paths but not error codes) override this."""
        return self.fault_response(kind, ms)


@dataclass
class LogEntry:
    received_ns: int
    venue: str
    api_key: str
    fields: dict
    order: Order | None
    error: dict | None


class Simulator:
    """All simulator state; dialects are installed once, venues rebuilt on every reset."""

    DEMO_KEY = "sim-demo-key"
    DEMO_BALANCES = {"USDT": Decimal(10000)}

    def __init__(self, open_keys: bool = False) -> None:
        self.lock = threading.RLock()
        self.open_keys = open_keys
        self.ids = Ids()
        self.dialects: list[Dialect] = []
        self.routes: dict[tuple[str, str], Route] = {}
        self.venues: dict[str, Venue] = {}
        self.secrets: dict[str, str] = {}
        self.read_only: set[str] = set()  # keys registered read_only (no trading permission)
        self.faults = FaultSet()
        self.order_log: deque[LogEntry] = deque(maxlen=ORDER_LOG_MAX)
        self.replays: Any = None  # replay.Replays, attached by the server

    def install(self, dialect_cls: type[Dialect]) -> None:
        dialect = dialect_cls(self)
        self.dialects.append(dialect)
        self.routes.update(dialect.routes())
        self.venues.update(dialect.build_venues())
        self._seed_demo()

    def reset(self) -> None:
        """Empty books and logs, default prices and balances, faults cleared, replays stopped."""
        if self.replays is not None:
            self.replays.stop()
        with self.lock:
            self.venues = {}
            for dialect in self.dialects:
                self.venues.update(dialect.build_venues())
            self.secrets = {}
            self.read_only = set()
            self.order_log = deque(maxlen=ORDER_LOG_MAX)
            self.faults.clear()
            self._seed_demo()

    def _seed_demo(self) -> None:
        for venue in self.venues.values():
            if not venue.ledger.has(self.DEMO_KEY):
                venue.ledger.set_balances(self.DEMO_KEY, dict(self.DEMO_BALANCES), 1)

    def key_known(self, key: str) -> bool:
        if self.open_keys or key in self.secrets:
            return True
        return any(v.ledger.has(key) for v in self.venues.values())

    def secret_for(self, key: str) -> str:
        """The registered secret, else the documented default `sim-secret-<api_key>`."""
        return self.secrets.get(key) or f"sim-secret-{key}"

    def select(self, exchange: str | None, market: str | None) -> list[Venue]:
        """Venues named `<exchange>-<market>` matching the optional filters."""
        out = []
        for name, venue in self.venues.items():
            ex, _, mk = name.partition("-")
            if (exchange in (None, ex)) and (market in (None, mk)):
                out.append(venue)
        return out

    def log_order(self, req: Request, venue: str, fields: dict, error: dict | None) -> None:
        key = fields.pop("api_key", "")
        venue = fields.pop("venue", None) or venue  # Bybit: one dialect, venue per category
        self.order_log.append(LogEntry(req.received_ns, venue, key, fields, req.order, error))
