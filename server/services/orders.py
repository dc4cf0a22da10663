"""Orders of a group at the exchange: create the row, send it once, read it back, cancel it
(SPEC §4.2, §4.3, §4.6). The closing side (TP, close, risk) uses the same four functions.

- `new_order` inserts the `pending` row with its deterministic client order id inside the
  caller's transaction and sends nothing: an order is tracked *before* it is sent.
- `send` sends a pending order under that client id (the exchange layer itself looks the id up
  after a timeout before any re-send) and applies the answer through the order state machine;
  `send_many` does the same for a pyramid's legs, market leg first, with one transaction for
  all answers. `resend` (the fill monitor's) asks the exchange for the client id first and
  sends only when it has never seen it — a worker killed between "sent" and "stored" leaves a
  pending row whose order exists: it is found, never sent twice.
- `sync` reads an order back (by exchange id, or client id when it was never acknowledged),
  applies its new trades (`fills.apply_fills`, keyed by trade id) and its status.
- `cancel` cancels at the exchange (the client looks the order up when it is already gone)
  and applies the final state; a cancelled order keeps its partial fill. A pending order that
  never reached the exchange is withdrawn (`pending → cancelled`) without a call.

Every change writes a `PositionEvent` and a system-log line, recomputes the group
(`group_state`), and publishes `order.updated` / `group.updated` after commit. One send at a
time per order: a Redis lock (`order-send:<id>`, `ORDER_SEND_LOCK_MS`) is held from before the
create until the answer is stored.

Failures (SPEC §4.6) are applied by `order_outcomes`: insufficient funds → `failed`, alert, the
group sends no more orders; authentication → stays `pending`, the user's trading is paused;
invalid order → `failed` with the reason; rate limits, timeouts, 5xx, an open circuit →
stays `pending`, re-sent later by the fill monitor under the same client id.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from flask import current_app
from peewee import JOIN

from server import runtime
from server.clock import utcnow
from server.domain.enums import OrderPurpose, OrderStatus
from server.domain.grid import client_order_id
from server.domain.order_fsm import FINAL_ORDER_STATUSES
from server.exchange.errors import (
    AuthenticationFailed,
    ExchangeError,
    InsufficientFunds,
    OrderNotFound,
)
from server.exchange.types import ExchangeOrder, OrderSide, OrderType, Trade
from server.persistence.db import db
from server.persistence.models import DcaOrder, ExchangeAccount, PositionGroup, Pyramid
from server.persistence.prepared import Prepared, Slot, lock_row
from server.services import engine_state, group_state, order_outcomes
from server.services.exchanges import client_for
from server.services.precision import rules_for
from server.state.locks import Locks

log = logging.getLogger(__name__)

__all__ = [
    "OrderContext",
    "cancel",
    "context",
    "may_be_at_exchange",
    "new_order",
    "resend",
    "resend_due",
    "send",
    "send_many",
    "sync",
]

WORKING = (OrderStatus.PENDING.value, OrderStatus.OPEN.value, OrderStatus.PARTIALLY_FILLED.value)
CANCEL_LOCK_WAIT_SEC = 3.0
MAX_RESEND_BACKOFF_SEC = 300


# --------------------------------------------------------------------------- rows


def build_order(
    group: PositionGroup,
    pyramid: Pyramid | None,
    leg_index: int | None,
    purpose: OrderPurpose | str,
    side: str,
    order_type: str,
    quantity: Decimal,
    price: Decimal | None = None,
    reduce_only: bool = False,
    attempt: int = 0,
    **fields,
) -> DcaOrder:
    """The unsaved `pending` row of one order with its deterministic client order id."""
    purpose = OrderPurpose(purpose)
    if side not in ("buy", "sell") or order_type not in ("limit", "market"):
        raise ValueError(f"side must be buy|sell and order_type limit|market: {side} {order_type}")
    if order_type == "limit" and price is None:
        raise ValueError("a limit order needs its price")
    pyramid_index = pyramid.index if pyramid is not None else None
    return DcaOrder(
        group=group.id,
        pyramid=pyramid.id if pyramid is not None else None,
        leg_index=leg_index,
        purpose=purpose.value,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price,
        reduce_only=reduce_only,
        attempt=attempt,
        status=OrderStatus.PENDING.value,
        client_order_id=client_order_id(group.id, pyramid_index, leg_index, purpose, attempt),
        **fields,
    )


def new_order(
    group: PositionGroup,
    pyramid: Pyramid | None,
    leg_index: int | None,
    purpose: OrderPurpose | str,
    side: str,
    order_type: str,
    quantity: Decimal,
    price: Decimal | None = None,
    reduce_only: bool = False,
    attempt: int = 0,
    **fields,
) -> DcaOrder:
    """Insert one `pending` order (client id from group, pyramid, leg, purpose, attempt) in
    the caller's transaction. Sends nothing: call `send(order.id)` after the commit. For a
    market order `price` is only the reference it was sized at (never sent)."""
    order = build_order(
        group, pyramid, leg_index, purpose, side, order_type, quantity, price, reduce_only,
        attempt, **fields,
    )  # fmt: skip
    order.save(force_insert=True)
    return order


# --------------------------------------------------------------------------- context


@dataclass
class OrderContext:
    """An order with its group, account and pyramid index, as every operation needs them."""

    order: DcaOrder
    group: PositionGroup
    account: ExchangeAccount
    pyramid_index: int | None
    outcome: order_outcomes.Outcome = field(default_factory=order_outcomes.Outcome)


def context(order_id) -> OrderContext:
    row = (
        DcaOrder.select(DcaOrder, PositionGroup, ExchangeAccount, Pyramid)
        .join(PositionGroup, on=(DcaOrder.group == PositionGroup.id))
        .join(ExchangeAccount, JOIN.LEFT_OUTER, on=(PositionGroup.account == ExchangeAccount.id))
        .switch(DcaOrder)
        .join(Pyramid, JOIN.LEFT_OUTER, on=(DcaOrder.pyramid == Pyramid.id))
        .where(DcaOrder.id == order_id)
        .get()
    )
    pyramid_index = row.pyramid.index if row.pyramid_id is not None else None
    return OrderContext(row, row.group, row.group.account, pyramid_index)


def _locks() -> Locks:
    return Locks(runtime.redis_client(), current_app.config["RQ_QUEUE_PREFIX"])


def _send_lock(order_id) -> str:
    return f"order-send:{order_id}"


def crash_point(name: str) -> None:
    """Test hook (ENGINE_ENV=test only): die like a SIGKILLed worker at `name` when the point
    is listed in ENGINE_TEST_CRASH_POINT and the test armed it (`<prefix>engine:test-crash:
    <name>` set in Redis; consumed here, so it fires once)."""
    cfg = current_app.config
    if cfg.get("ENV_NAME") != "test" or name not in cfg["ENGINE_TEST_CRASH_POINT"].split(","):
        return
    if runtime.redis_client().delete(f"{cfg['RQ_QUEUE_PREFIX']}engine:test-crash:{name}"):
        log.critical("test crash point %s: exiting", name)
        os._exit(137)


def may_be_at_exchange(order: DcaOrder, now=None) -> bool:
    """Could this pending order exist at the exchange? Yes once a send was attempted, or once
    it is older than ORDER_RESEND_AFTER_SEC (a sender may have died after sending and before
    storing the answer). Only a pending order for which this is False may be withdrawn
    without asking the exchange."""
    now = now or utcnow()
    after = timedelta(seconds=current_app.config["ORDER_RESEND_AFTER_SEC"])
    return bool(
        order.send_count
        or order.last_error
        or order.exchange_order_id
        or now - order.created_at >= after
    )


def resend_due(order: DcaOrder, now=None) -> bool:
    """May the monitor re-send this pending order now? ORDER_RESEND_AFTER_SEC after it was
    created, then with exponential backoff and a fixed per-order jitter after each failure."""
    now = now or utcnow()
    base = current_app.config["ORDER_RESEND_AFTER_SEC"]
    if not order.send_count and not order.last_error:
        return now - order.created_at >= timedelta(seconds=base)
    backoff = min(base * 2 ** max(order.send_count - 1, 0), MAX_RESEND_BACKOFF_SEC)
    jitter = 0.5 + (order.id.int % 1000) / 2000  # 0.5..1.0, stable for the order
    return now - (order.updated_at or order.created_at) >= timedelta(seconds=backoff * jitter)


# --------------------------------------------------------------------------- sending


def _create(ctx: OrderContext, client) -> ExchangeOrder:
    order = ctx.order
    return client.create_order(
        ctx.group.symbol,
        OrderSide(order.side),
        OrderType(order.order_type),
        order.quantity,
        order.price if order.order_type == OrderType.LIMIT.value else None,
        order.client_order_id,
        reduce_only=order.reduce_only,
    )


def _lookup(ctx: OrderContext, client) -> ExchangeOrder | None:
    try:
        return client.fetch_order(ctx.group.symbol, client_order_id=ctx.order.client_order_id)
    except OrderNotFound:
        return None


def _transmit(ctx: OrderContext, client, *, lookup: bool, withdraw: str | None) -> None:
    """One order's trip to the exchange; the result is left on `ctx.outcome`."""
    out = ctx.outcome
    try:
        found = _lookup(ctx, client) if lookup else None
        if found is not None:
            out.answer = found
        elif withdraw:
            out.withdrawn = withdraw
        else:
            out.sent = True
            out.answer = _create(ctx, client)
            crash_point("after_send")
    except ExchangeError as exc:
        out.error = exc


def _blocked(ctx: OrderContext, paused: bool, stop: dict) -> str | None:
    """Why this pending order must not be created now: `withdraw:<reason>` when it is to be
    withdrawn (the group sends no more entries), `skip` when it stays pending (trading paused,
    an earlier leg found bad credentials)."""
    if paused or stop.get("auth"):
        return "skip"
    order, group = ctx.order, ctx.group
    if order.purpose == OrderPurpose.ENTRY.value:
        reason = stop.get(group.id) or (group.no_more_orders and group.no_more_orders_reason)
        if reason:
            return f"withdraw:not sent: {reason}"
    return None


def _take(ctx: OrderContext, locks: Locks, ttl: int) -> str | None:
    """The order's send lock, when the order is still pending as committed now (a close may
    have withdrawn it since the context was read); None when it must not be sent by us."""
    token = locks.acquire(_send_lock(ctx.order.id), ttl)
    if token is None:
        return None  # another process is sending it
    if _status_now(ctx.order.id) != OrderStatus.PENDING.value:
        locks.release(_send_lock(ctx.order.id), token)
        return None
    return token


def send_first(ctx: OrderContext) -> str | None:
    """Send one pending order of a just-stored pyramid and leave its answer (or error) on
    `ctx.outcome` WITHOUT storing it: the caller hands the outcome and the returned send-lock
    token to `send_many(..., transmitted=...)` in a follow-up job, which stores it. The lock
    stays held until then, so no other process sends, withdraws or cancels the order
    meanwhile; if the follow-up is lost the lock expires and the fill monitor looks the order
    up by its client id (the crash path `after_send`). None when nothing was sent (paused,
    locked, no longer pending). The caller (the signal's hand-off) checked the user's pause in
    this job already; the follow-up re-checks it before any other leg."""
    if ctx.order.status != OrderStatus.PENDING.value or ctx.account is None:
        return None
    if _blocked(ctx, False, {}) is not None:
        return None
    crash_point("after_store")
    token = _take(ctx, _locks(), current_app.config["ORDER_SEND_LOCK_MS"])
    if token is None:
        return None
    _transmit(ctx, client_for(ctx.account), lookup=False, withdraw=None)
    return token


def send_many(
    contexts: list[OrderContext], *, lookup: bool = False, transmitted: dict | None = None
) -> list[DcaOrder]:
    """Send pending orders in the given order (put the market leg first), then apply every
    answer and failure in one transaction and publish after commit. Orders that are not
    pending, or whose send lock another process holds, are left alone. After insufficient
    funds no further entry order of that group is sent (they are withdrawn); after an
    authentication failure nothing more is sent (they stay pending). `transmitted`: order id →
    send-lock token of orders `send_first` sent already (their outcome is on the context):
    stored here, never sent again."""
    if not contexts:
        return []
    stop: dict = {}
    paused = {ctx.group.user_id for ctx in contexts if engine_state.pause_of(ctx.group.user_id)}
    locks, tokens = _locks(), dict(transmitted or {})
    ttl = current_app.config["ORDER_SEND_LOCK_MS"]
    unsure: set = set()  # sent (or found) but not stored: their locks are left to expire
    try:
        for ctx in contexts:
            if ctx.order.id not in tokens:
                if ctx.order.status != OrderStatus.PENDING.value or ctx.account is None:
                    continue
                blocked = _blocked(ctx, ctx.group.user_id in paused, stop)
                if blocked == "skip":
                    continue
                crash_point("after_store")
                token = _take(ctx, locks, ttl)
                if token is None:
                    continue
                tokens[ctx.order.id] = token
                withdraw = blocked.removeprefix("withdraw:") if blocked else None
                ask_first = lookup or bool(withdraw and may_be_at_exchange(ctx.order))
                _transmit(ctx, client_for(ctx.account), lookup=ask_first, withdraw=withdraw)
            error = ctx.outcome.error
            if isinstance(error, InsufficientFunds) and ctx.order.purpose == "entry":
                stop[ctx.group.id] = order_outcomes.funds_reason(ctx)
            elif isinstance(error, AuthenticationFailed):
                stop["auth"] = True
        stored = {o.id: o for o in _store([c for c in contexts if c.order.id in tokens])}
        return [stored.get(c.order.id, c.order) for c in contexts]
    except BaseException:
        # Not stored (the database went away mid-way): an order that reached the exchange is
        # still `pending` with no trace of its send, so its lock is left to expire like a dead
        # sender's — released now, a close would withdraw it as never sent (its fill lost).
        unsure = {c.order.id for c in contexts if c.outcome.sent or c.outcome.answer is not None}
        raise
    finally:
        for order_id, token in tokens.items():
            if order_id not in unsure:
                locks.release(_send_lock(order_id), token)


def send(order_id) -> DcaOrder:
    """Send one pending order once (see the module docstring); returns it as stored."""
    return send_many([context(order_id)])[0]


def resend(order_id) -> DcaOrder:
    """The monitor's retry of a pending order: ask the exchange for its client id, apply it
    when found, send it only when the exchange has never seen it."""
    return send_many([context(order_id)], lookup=True)[0]


# --------------------------------------------------------------------------- storing


def _trades_of(ctx: OrderContext, client) -> list[Trade]:
    """The answer's trades: embedded when they account for the whole fill (Binance spot's
    FULL answer), else read from the exchange when the fill grew; [] when unreadable (the
    order then keeps a non-final status until the monitor reads them)."""
    answer = ctx.outcome.answer
    if answer is None or answer.filled <= 0:
        return []
    embedded = list(answer.trades)
    if embedded and sum(t.amount for t in embedded) >= answer.filled:
        return embedded
    if answer.filled <= (ctx.order.filled_quantity or 0) and not embedded:
        return []
    try:
        return embedded + client.fetch_order_trades(ctx.group.symbol, answer.id)
    except ExchangeError as exc:
        log.warning("trades of %s not readable yet: %s", ctx.order.client_order_id, exc)
        return embedded


def _store(contexts: list[OrderContext]) -> list[DcaOrder]:
    """Apply every outcome (one transaction), recompute the groups, publish after commit."""
    for ctx in contexts:
        if ctx.outcome.answer is not None:
            ctx.outcome.trades = _trades_of(ctx, client_for(ctx.account))
            ctx.outcome.rules = rules_for(ctx.account, ctx.group.symbol)
    actions: group_state.AfterCommit = []
    stored: dict = {}
    with db.atomic():
        for group_id in sorted({str(c.group.id) for c in contexts}):
            group = group_state.lock_group(group_id)
            mine = [c for c in contexts if str(c.group.id) == group_id]
            changed = False
            for ctx in mine:
                ctx.group = group
                fresh = lock_row(DcaOrder, ctx.order.id)
                changed |= order_outcomes.apply(ctx, fresh, actions)
                stored[ctx.order.id] = fresh
            if changed:  # the group as changed here is stored with its recomputed figures
                _, more = group_state.recompute_in_tx(group_id, locked=group)
                actions += more
    group_state.run(actions)
    return [stored.get(c.order.id, c.order) for c in contexts]


def apply_answer(order_id, answer: ExchangeOrder) -> DcaOrder:
    """Apply an exchange's view of an order read elsewhere (the monitor's open-orders call)."""
    ctx = context(order_id)
    ctx.outcome.answer = answer
    return _store([ctx])[0]


# --------------------------------------------------------------------------- reading back


def sync(order_id) -> DcaOrder:
    """Read the order from the exchange and apply new fills and status. A pending order is
    looked up by client id and sent if the exchange never saw it (`resend`); an order that
    is final is returned as stored. Exchange errors are recorded, never raised."""
    ctx = context(order_id)
    order = ctx.order
    if order.status in {s.value for s in FINAL_ORDER_STATUSES} or ctx.account is None:
        return order
    if order.status == OrderStatus.PENDING.value:
        return resend(order_id)
    if engine_state.pause_of(ctx.group.user_id):
        return order
    client = client_for(ctx.account)
    try:
        ctx.outcome.answer = client.fetch_order(
            ctx.group.symbol,
            exchange_id=order.exchange_order_id,
            client_order_id=None if order.exchange_order_id else order.client_order_id,
        )
    except ExchangeError as exc:
        ctx.outcome.error = exc
        ctx.outcome.reading = True
    return _store([ctx])[0]


def cancel(order_id, reason: str = "cancelled by the engine") -> DcaOrder:
    """Cancel one order (see the module docstring). Never raises an exchange error: a failed
    cancel is recorded on the order (`last_error`) and the order is returned still working,
    so the caller can tell from its status."""
    ctx = context(order_id)
    if ctx.order.status not in WORKING or ctx.account is None:
        return ctx.order
    if ctx.order.status == OrderStatus.PENDING.value:
        ctx = _settle_pending(ctx, reason)
        if ctx.order.status not in WORKING:
            return ctx.order
    client = client_for(ctx.account)
    try:
        ctx.outcome.answer = client.cancel_order(
            ctx.group.symbol,
            exchange_id=ctx.order.exchange_order_id,
            client_order_id=None if ctx.order.exchange_order_id else ctx.order.client_order_id,
        )
    except ExchangeError as exc:
        ctx.outcome.error = exc
        ctx.outcome.reading = True
    ctx.outcome.cancel_reason = reason
    return _store([ctx])[0]


def _settle_pending(ctx: OrderContext, reason: str) -> OrderContext:
    """Before cancelling a pending order: wait for a send in flight, then find it at the
    exchange (apply it) or withdraw it when the exchange never saw it."""
    locks, name = _locks(), _send_lock(ctx.order.id)
    deadline = time.monotonic() + CANCEL_LOCK_WAIT_SEC
    token = locks.acquire(name, current_app.config["ORDER_SEND_LOCK_MS"])
    while token is None and time.monotonic() < deadline:
        time.sleep(0.05)
        token = locks.acquire(name, current_app.config["ORDER_SEND_LOCK_MS"])
    if token is None:
        log.warning("cancel of %s: a send is still in flight", ctx.order.client_order_id)
        return ctx
    try:
        ctx = context(ctx.order.id)
        if ctx.order.status != OrderStatus.PENDING.value:
            return ctx
        lookup = may_be_at_exchange(ctx.order)
        _transmit(ctx, client_for(ctx.account), lookup=lookup, withdraw=f"not sent: {reason}")
        _store([ctx])
    finally:
        locks.release(name, token)
    return context(ctx.order.id)


def _status_now(order_id) -> str | None:
    """The order's status as committed now (under its send lock), not as a context read it."""
    return _STATUS_NOW.scalar(id=order_id)


_STATUS_NOW = Prepared(
    lambda: DcaOrder.select(DcaOrder.status).where(DcaOrder.id == Slot("id", DcaOrder.id))
)
