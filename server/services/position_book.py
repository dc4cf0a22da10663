"""A group's exit-side book read from its orders: legs, what their take-profits and the group
close executed, the realised PnL, and its entry in the take-profit trigger index.

Everything here is recomputed from the stored orders (PostgreSQL is the truth): the
realised PnL is `domain.closing.realised` over every closing fill, so booking a fill twice
never counts it twice, and the trigger index can be rebuilt from scratch at any time.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from flask import current_app
from peewee import JOIN

from server import runtime
from server.domain.aggregates import LegState, aggregate
from server.domain.closing import Fills, Realised, realised, remaining_leg
from server.domain.enums import AccountMode, GroupStatus, MarketType, OrderPurpose, OrderStatus
from server.domain.exact import ZERO
from server.domain.precision import MarketRules
from server.domain.take_profit import trigger_price
from server.persistence.models import DcaOrder, ExchangeAccount, PositionGroup, Pyramid, User
from server.persistence.prepared import Prepared, Slot
from server.services.exchanges import market_data_mode
from server.services.group_state import leg_state
from server.services.precision import rules_for
from server.services.settings import effective_settings
from server.state.tp_index import TriggerIndex, Watched

WORKING = frozenset({OrderStatus.PENDING.value, OrderStatus.OPEN.value,
                     OrderStatus.PARTIALLY_FILLED.value})  # fmt: skip
TRADING = frozenset({GroupStatus.LIVE.value, GroupStatus.PARTIALLY_FILLED.value,
                     GroupStatus.ACTIVE.value})  # fmt: skip
Key = tuple[int, int]  # (pyramid index, leg index)


def index() -> TriggerIndex:
    return TriggerIndex(runtime.redis_client(), current_app.config["RQ_QUEUE_PREFIX"])


def venue_of(account: ExchangeAccount) -> str:
    """Where the account's prices come from: exchange, market-data mode, market type
    (`binance.simulated.spot`). Paper accounts read their market data's prices."""
    mode = account.mode
    if mode == AccountMode.PAPER.value:
        mode = market_data_mode().value
    return f"{account.exchange}.{mode}.{account.market_type}"


def is_futures(account: ExchangeAccount) -> bool:
    return account.market_type == MarketType.FUTURES.value


def _fills(order: DcaOrder) -> Fills:
    return Fills.of(order.filled_quantity or ZERO, order.avg_fill_price, order.fee or ZERO)


@dataclass
class Book:
    """The orders of one group, sorted by role."""

    group: PositionGroup
    orders: list[DcaOrder]
    entries: dict[Key, DcaOrder] = field(default_factory=dict)
    legs: dict[Key, LegState] = field(default_factory=dict)
    tp_orders: dict[Key, list[DcaOrder]] = field(default_factory=lambda: defaultdict(list))
    close_orders: list[DcaOrder] = field(default_factory=list)
    risk_orders: list[DcaOrder] = field(default_factory=list)  # the risk engine's offsets

    @property
    def tp_fills(self) -> dict[Key, Fills]:
        out: dict[Key, Fills] = {}
        for key, orders in self.tp_orders.items():
            total = Fills()
            for order in orders:
                if order.filled_quantity:
                    total = total + _fills(order)
            if total.quantity > 0:
                out[key] = total
        return out

    @property
    def close_fills(self) -> Fills | None:
        if not self.close_orders:
            return None
        total = Fills()
        for order in self.close_orders:
            if order.filled_quantity:
                total = total + _fills(order)
        return total

    @property
    def risk_fills(self) -> Fills | None:
        """What the risk engine's partial closes of this group sold (None: none filled)."""
        total = Fills()
        for order in self.risk_orders:
            if order.filled_quantity:
                total = total + _fills(order)
        return total if total.quantity > 0 else None

    def legs_now(self) -> list[LegState]:
        """The legs as they stand: a leg partly sold by its TP counts only what is left."""
        sold = self.tp_fills
        return [
            remaining_leg(leg, sold[key].quantity) if key in sold and leg.is_open else leg
            for key, leg in self.legs.items()
        ]

    def held(self) -> Decimal:
        """What the open legs hold now, less what the group's close orders and the risk
        engine's partial closes already sold."""
        held = aggregate(self.legs_now()).held_quantity
        closed = self.close_fills
        offset = self.risk_fills
        held -= (closed.quantity if closed else ZERO) + (offset.quantity if offset else ZERO)
        return max(held, ZERO)

    def working(self) -> list[DcaOrder]:
        """Every order that may still trade: take-profits first (on spot they lock the coins a
        close must sell), then entries."""
        working = [o for o in self.orders if o.status in WORKING]
        return sorted(working, key=lambda o: o.purpose != OrderPurpose.TAKE_PROFIT.value)

    def working_tp(self, key: Key) -> list[DcaOrder]:
        return [o for o in self.tp_orders.get(key, []) if o.status in WORKING]

    def realised(self) -> Realised:
        return realised(
            self.group.side, self.legs.values(), self.tp_fills, self.close_fills, self.risk_fills
        )

    def unbooked_tp(self) -> list[Key]:
        """Legs whose TP order filled but which are not marked `tp_hit` yet."""
        return [
            key
            for key, tps in self.tp_orders.items()
            if key in self.entries
            and not self.entries[key].tp_hit
            and any(o.status == OrderStatus.FILLED.value for o in tps)
        ]

    def next_attempt(self, orders: list[DcaOrder]) -> int:
        return max((o.attempt for o in orders), default=-1) + 1


def load(group: PositionGroup) -> Book:
    """The group's book from its orders as stored now."""
    return book_of(group, list(_ORDERS.rows(group=group.id)))


_ORDERS = Prepared(
    lambda: (
        DcaOrder.select(DcaOrder, Pyramid)
        .join(Pyramid, JOIN.LEFT_OUTER, on=(DcaOrder.pyramid == Pyramid.id))
        .where(DcaOrder.group == Slot("group", DcaOrder.group))
        .order_by(Pyramid.index, DcaOrder.leg_index, DcaOrder.attempt, DcaOrder.created_at)
    )
)


def book_of(group: PositionGroup, orders: list[DcaOrder]) -> Book:
    """A book from orders already read (with their pyramids joined)."""
    book = Book(group, orders)
    for order in orders:
        pyramid = order.pyramid.index if order.pyramid_id is not None else -1
        key = (pyramid, order.leg_index if order.leg_index is not None else -1)
        if order.purpose == OrderPurpose.ENTRY.value:
            book.entries[key] = order
            book.legs[key] = leg_state(order, pyramid)
        elif order.purpose == OrderPurpose.TAKE_PROFIT.value:
            book.tp_orders[key].append(order)
        elif order.purpose == OrderPurpose.CLOSE.value:
            book.close_orders.append(order)
        elif order.purpose == OrderPurpose.RISK_OFFSET.value:
            book.risk_orders.append(order)
    return book


_PERCENTS: dict[str, tuple[float, Decimal]] = {}
PERCENT_CACHE_SECONDS = 5.0


def aggregate_percent(group: PositionGroup) -> Decimal:
    """The owner's `tp_aggregate_percent`, read at most every few seconds per process (the
    hot path of an aggregate take-profit must not validate a settings document each time;
    an applied change is seen within `PERCENT_CACHE_SECONDS`)."""
    key = str(group.user_id)
    cached = _PERCENTS.get(key)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    settings = effective_settings(User.get_by_id(group.user_id))
    value = Decimal(settings["take_profit"]["tp_aggregate_percent"])
    _PERCENTS[key] = (now + PERCENT_CACHE_SECONDS, value)
    return value


# --------------------------------------------------------------------------- the trigger index


def watched(
    book: Book,
    account: ExchangeAccount,
    *,
    percent: Decimal | None = None,
    rules: MarketRules | None = None,
) -> Watched:
    """The group's index entry: its trigger (every open leg's target and, in aggregate and
    hybrid modes, the aggregate target) and the figures the monitor prices it with."""
    group = book.group
    legs = book.legs_now()
    # what close and risk-offset orders sold lowers the figures pro rata, as group_state does,
    # so the monitor's unrealised % is on what is still held
    sold = [f.quantity for f in (book.close_fills, book.risk_fills) if f is not None]
    totals = aggregate(legs, closed_quantity=sum(sold, ZERO))
    held = book.held()
    trigger = None
    if held > 0:
        rules = rules or rules_for(account, group.symbol)
        trigger = trigger_price(
            group.side,
            legs,
            mode=group.tp_mode,
            aggregate_percent=aggregate_percent(group) if percent is None else percent,
            tick=rules.tick_size,
        )
    return Watched(
        group_id=str(group.id),
        user_id=str(group.user_id),
        account_id=str(group.account_id),
        venue=venue_of(account),
        symbol=group.symbol,
        side=group.side,
        held=held,
        filled=totals.total_filled_quantity,
        invested=totals.total_invested_usd,
        trigger=trigger,
    )


def reindex(group: PositionGroup, book: Book | None = None) -> Watched | None:
    """Put the group in the trigger index as it stands now, or take it out once it no longer
    trades."""
    if group.status not in TRADING or group.account_id is None:
        index().remove(str(group.id))
        return None
    entry = watched(book or load(group), ExchangeAccount.get_by_id(group.account_id))
    index().put(entry)
    return entry
