"""What an exchange trip did to an order, applied inside the caller's transaction.

`orders` fills an `Outcome` (the answer, the error, or "withdrawn: never sent") outside any
transaction, then calls `apply` with the order's row locked. Every change goes through the
order state machine (`order_fsm`), writes a `PositionEvent` and a system-log line a trader can
read, and queues `order.updated` (and alerts) for after the commit. Failures follow SPEC §4.6.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, field

from server import events
from server.api.serializers import order_update_out
from server.clock import utcnow
from server.domain.enums import LogCategory, LogLevel, OrderPurpose, OrderStatus
from server.domain.grid import tp_price
from server.domain.order_fsm import OrderEvent, event_from_exchange
from server.domain.order_fsm import apply as fsm_apply
from server.domain.precision import MarketRules
from server.exchange.errors import (
    AuthenticationFailed,
    CircuitOpen,
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    RateLimited,
    UnknownSymbol,
)
from server.exchange.translate import DuplicateClientOrderId
from server.exchange.types import ExchangeOrder, Trade
from server.persistence.models import DcaOrder
from server.persistence.prepared import save_row
from server.services import trail
from server.services.fills import apply_fills
from server.services.journal import system_log

log = logging.getLogger(__name__)

TAKE_PROFIT_MODULE = "server.services.take_profit"


@dataclass
class Outcome:
    answer: ExchangeOrder | None = None  # the exchange's view of the order
    error: ExchangeError | None = None
    withdrawn: str | None = None  # never sent, and now never will be: the reason
    sent: bool = False  # a create call was made
    reading: bool = False  # the error came from reading/cancelling, not from sending
    cancel_reason: str | None = None
    trades: list[Trade] = field(default_factory=list)
    rules: MarketRules | None = None


# --------------------------------------------------------------------------- words


def role(order: DcaOrder, pyramid_index: int | None) -> str:
    """ "pyramid 0 leg 2", "take-profit of pyramid 0 leg 2", "close"."""
    where = f"pyramid {pyramid_index} leg {order.leg_index}" if order.leg_index is not None else ""
    if order.purpose == OrderPurpose.ENTRY.value:
        return where or "entry"
    name = {"tp": "take-profit", "close": "close", "risk": "risk offset"}[order.purpose]
    return f"{name} of {where}" if where else name


def _order_text(order: DcaOrder) -> str:
    at = f" @ {trail.num(order.price)}" if order.order_type == "limit" else ""
    return f"{order.order_type} {order.side} {trail.num(order.quantity)}{at}"


def _fee_text(order: DcaOrder, rules: MarketRules | None) -> str:
    quote = order.fee_currency or (rules.quote if rules else "")
    if order.fee_base and rules is not None:
        return f"{trail.num(order.fee_base)} {rules.base} (= {trail.num(order.fee)} {quote})"
    return f"{trail.num(order.fee)} {quote}".strip()


def funds_reason(ctx) -> str:
    return (
        f"insufficient funds on {role(ctx.order, ctx.pyramid_index)}; no further order is sent "
        "for this group, filled legs are still managed"
    )


def _message(ctx, order: DcaOrder, rules: MarketRules | None) -> str:
    head = f"{trail.label(ctx.group)}: {role(order, ctx.pyramid_index)} {_order_text(order)}"
    status = OrderStatus(order.status)
    if status is OrderStatus.OPEN:
        return f"{head} placed (exchange order {order.exchange_order_id})"
    if status is OrderStatus.PARTIALLY_FILLED:
        return (
            f"{head} partially filled: {trail.num(order.filled_quantity)} of "
            f"{trail.num(order.quantity)} at {trail.num(order.avg_fill_price)}, fee "
            f"{_fee_text(order, rules)}"
        )
    if status is OrderStatus.FILLED:
        return f"{head} filled at {trail.num(order.avg_fill_price)}, fee {_fee_text(order, rules)}"
    if status is OrderStatus.CANCELLED:
        kept = (
            f", keeps {trail.num(order.filled_quantity)} filled"
            if order.filled_quantity and order.filled_quantity > 0
            else ""
        )
        why = f": {order.failure_reason}" if order.failure_reason else ""
        return f"{head} cancelled{kept}{why}"
    if status is OrderStatus.LOST:
        return (
            f"{head} lost: {order.last_error}; no longer counted as working, "
            f"{trail.num(order.filled_quantity)} filled is kept, reconciliation keeps asking for it"
        )
    return f"{head} failed: {order.failure_reason}"


# --------------------------------------------------------------------------- applying


def _publish(actions: list, ctx, order: DcaOrder) -> None:
    payload = order_update_out(order, ctx.pyramid_index)
    user_id = ctx.group.user_id
    actions.append(lambda: events.publish(events.Event.ORDER_UPDATED, payload, user_id))


def _changed(ctx, order: DcaOrder, before: str, actions: list, level=LogLevel.INFO, **ctx_log):
    rules = ctx.outcome.rules
    message = _message(ctx, order, rules)
    trail.record(
        ctx.group.id,
        f"order_{order.status}",
        message,
        order_id=order.id,
        from_status=before,
        to_status=order.status,
        leg=order.leg_index,
        pyramid=ctx.pyramid_index,
        purpose=order.purpose,
        filled_quantity=order.filled_quantity,
        avg_fill_price=order.avg_fill_price,
        client_order_id=order.client_order_id,
    )
    system_log(
        level,
        LogCategory.ORDER,
        message,
        user_id=ctx.group.user_id,
        symbol=ctx.group.symbol,
        group_id=str(ctx.group.id),
        order_id=str(order.id),
        client_order_id=order.client_order_id,
        **ctx_log,
    )
    _publish(actions, ctx, order)
    _exit_side_hook(order, actions)


def apply(ctx, order: DcaOrder, actions: list) -> bool:
    """Apply `ctx.outcome` to the freshly locked `order` (saved here). True when the order's
    status or fill changed, i.e. the group must be recomputed."""
    out = ctx.outcome
    if out.withdrawn is not None:
        return _withdraw(ctx, order, out.withdrawn, actions)
    if out.answer is not None:
        return _answer(ctx, order, out.answer, actions)
    if out.error is not None:
        return _failure(ctx, order, out.error, actions)
    return False


def _withdraw(ctx, order: DcaOrder, reason: str, actions: list) -> bool:
    if order.status != OrderStatus.PENDING.value:
        return False
    before = order.status
    order.status = fsm_apply(before, OrderEvent.CANCELLED).value
    order.failure_reason = reason
    order.updated_at = utcnow()
    save_row(order)
    _changed(ctx, order, before, actions)
    return True


def _answer(ctx, order: DcaOrder, answer: ExchangeOrder, actions: list) -> bool:
    out, group, now = ctx.outcome, ctx.group, utcnow()
    before, before_filled = order.status, order.filled_quantity
    applied = apply_fills(order, out.trades, out.rules) if out.rules else None
    reported = answer.status.value
    if order.filled_quantity < answer.filled:  # trades not all readable yet: not final
        reported = "partially_filled" if order.filled_quantity > 0 else "open"
    event = event_from_exchange(before, reported, order.filled_quantity, before_filled)
    if event is not None:
        order.status = fsm_apply(before, event).value
        if event is OrderEvent.REJECTED:
            order.failure_reason = "the exchange rejected the order"
        elif event in (OrderEvent.CANCELLED, OrderEvent.EXPIRED) and out.cancel_reason:
            order.failure_reason = out.cancel_reason
    order.exchange_order_id = order.exchange_order_id or answer.id
    if out.sent:
        order.send_count += 1
    order.submitted_at = order.submitted_at or now
    order.last_error = None
    order.last_synced_at = order.updated_at = now
    entry = order.purpose == OrderPurpose.ENTRY.value and order.tp_percent is not None
    if entry and order.avg_fill_price and out.rules and not order.tp_hit:
        order.tp_price = tp_price(
            group.side, order.avg_fill_price, order.tp_percent, out.rules.tick_size
        )
    save_row(order)
    if applied is not None and applied.unconverted:
        system_log(
            LogLevel.WARNING,
            LogCategory.ORDER,
            f"{trail.label(group)}: {role(order, ctx.pyramid_index)} paid fees in "
            f"{', '.join(applied.unconverted)}; not counted in its fee (no conversion rate)",
            user_id=group.user_id,
            symbol=group.symbol,
        )
    if applied is not None and applied.last_price is not None:
        group.last_price, group.last_price_at = applied.last_price, now
    changed = order.status != before or order.filled_quantity != before_filled
    if changed:
        _changed(ctx, order, before, actions)
    elif out.sent:
        _publish(actions, ctx, order)
    return changed


def mark_lost(ctx, order: DcaOrder, lookups: int, actions: list) -> None:
    """`open|partially_filled → lost`: the exchange found the order by neither id in
    `lookups` reconciliation passes. Logged as a WARNING with an alert; the order keeps its
    fill and stays watched (docs/decisions.md, reconciliation)."""
    before = order.status
    order.status = fsm_apply(before, OrderEvent.LOST).value
    order.last_error = (
        f"the exchange knows neither its exchange id {order.exchange_order_id or '—'} nor its "
        f"client order id ({lookups} lookups)"
    )
    order.updated_at = utcnow()
    save_row(order)
    _changed(ctx, order, before, actions, level=LogLevel.WARNING, alert=True)
    payload = {
        "level": "high",
        "kind": "order_lost",
        "message": _message(ctx, order, ctx.outcome.rules),
        "group_id": str(ctx.group.id),
        "order_id": str(order.id),
    }
    user_id = ctx.group.user_id
    actions.append(lambda: events.publish(events.Event.ALERT_CREATED, payload, user_id))


def _exit_side_hook(order: DcaOrder, actions: list) -> None:
    """After commit, tell the exit side (take-profit placement and booking,
    `take_profit.on_leg_filled`) that an order's fill or status moved — when that side is
    installed. Its failure is logged, never raised into the order flow (its sweep repairs)."""
    if importlib.util.find_spec(TAKE_PROFIT_MODULE) is None:
        return
    order_id = str(order.id)

    def notify() -> None:
        try:
            importlib.import_module(TAKE_PROFIT_MODULE).on_leg_filled(order_id)
        except Exception:
            log.exception("exit-side hook failed for order %s", order_id)

    actions.append(notify)


def _fail(ctx, order: DcaOrder, reason: str, actions: list, **extra) -> bool:
    before = order.status
    order.status = fsm_apply(before, OrderEvent.REJECTED).value
    order.failure_reason = reason
    order.send_count += 1
    order.last_error = None
    order.updated_at = utcnow()
    save_row(order)
    _changed(ctx, order, before, actions, level=LogLevel.ERROR, **extra)
    return True


def _failure(ctx, order: DcaOrder, exc: ExchangeError, actions: list) -> bool:
    out, group = ctx.outcome, ctx.group
    # Only a refused *create* fails an order; a lookup or a read that fails changes nothing.
    sending = out.sent and order.status == OrderStatus.PENDING.value
    if isinstance(exc, AuthenticationFailed):
        return _auth(ctx, order, exc, actions)
    temporary = isinstance(exc, DuplicateClientOrderId) or not isinstance(
        exc, InsufficientFunds | InvalidOrder | UnknownSymbol
    )
    if sending and isinstance(exc, InsufficientFunds):
        reason = f"insufficient funds: {exc}"
        if order.purpose == OrderPurpose.ENTRY.value and not group.no_more_orders:
            group.no_more_orders = True
            group.no_more_orders_reason = funds_reason(ctx)
        _fail(ctx, order, reason, actions, alert=True)
        payload = {
            "level": "high",
            "kind": "insufficient_funds",
            "message": f"{trail.label(group)}: {funds_reason(ctx)}",
            "group_id": str(group.id),
            "order_id": str(order.id),
        }
        user_id = group.user_id
        actions.append(lambda: events.publish(events.Event.ALERT_CREATED, payload, user_id))
        return True
    if sending and not temporary:
        return _fail(ctx, order, f"refused by the exchange: {exc}", actions)
    return _temporary(ctx, order, exc)


def _temporary(ctx, order: DcaOrder, exc: ExchangeError) -> bool:
    """Rate limit, timeout, 5xx, open circuit: nothing changes but `last_error`; a pending
    order is re-sent later by the monitor under the same client id."""
    first = order.last_error is None
    kind = (
        "rate limited"
        if isinstance(exc, RateLimited)
        else "circuit open"
        if isinstance(exc, CircuitOpen)
        else type(exc).__name__
    )
    order.last_error = f"{kind}: {exc}"[:1000]
    if ctx.outcome.sent and not isinstance(exc, CircuitOpen):
        order.send_count += 1
    order.updated_at = utcnow()
    save_row(order)
    verb = "not sent yet" if order.status == OrderStatus.PENDING.value else "not read"
    message = (
        f"{trail.label(ctx.group)}: {role(order, ctx.pyramid_index)} {_order_text(order)} "
        f"{verb} ({kind}); retried under the same client order id"
    )
    if first:
        trail.record(ctx.group.id, "order_retry", message, order_id=order.id, error=str(exc))
        system_log(
            LogLevel.WARNING,
            LogCategory.ORDER,
            message,
            user_id=ctx.group.user_id,
            symbol=ctx.group.symbol,
            order_id=str(order.id),
        )
    else:
        log.warning("%s", message)
    return False


def _auth(ctx, order: DcaOrder, exc: ExchangeError, actions: list) -> bool:
    from server.services import engine_state

    group = ctx.group
    order.last_error = f"authentication failed: {exc}"[:1000]
    if ctx.outcome.sent:
        order.send_count += 1
    order.updated_at = utcnow()
    save_row(order)
    name = ctx.account.label if ctx.account is not None else group.account_id
    reason = (
        f"the exchange refused the API key of account {name} ({exc}); "
        "add valid keys and validate the account"
    )
    system_log(
        LogLevel.ERROR,
        LogCategory.ORDER,
        f"{trail.label(group)}: {role(order, ctx.pyramid_index)} {_order_text(order)} not "
        "sent: invalid API credentials; trading paused for this user",
        user_id=group.user_id,
        symbol=group.symbol,
        order_id=str(order.id),
    )
    user_id, account_id = group.user_id, group.account_id
    actions.append(
        lambda: engine_state.pause_user(
            user_id,
            reason,
            status=engine_state.INVALID_CREDENTIALS,
            account_id=account_id,
        )
    )
    return False
