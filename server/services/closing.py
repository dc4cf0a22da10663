"""The one close routine (SPEC §4.5): exit signal, manual close, aggregate take-profit and
(later) the risk engine all end a group here.

`close_group(group_id, reason, trigger)`:

1. under the group's lock (`group_lock`: concurrent calls are serialised, a closed group is
   never closed twice, a `closing` one is resumed where it stopped), the group moves to
   `closing` (event, log line, `group.updated` after commit);
2. every working order of the group is cancelled (`orders.cancel`, take-profits first: on
   spot they lock the coins the close must sell); the cancel answers carry the last fills, so
   an entry that filled meanwhile is held and a TP that filled meanwhile is booked;
3. what the open legs still hold (less what earlier close orders sold) is closed with ONE
   market order, purpose `close` (`reduce_only` on futures). On spot it never sells more than
   is held, rounded down to the step; a remainder below the exchange minimum is dust:
   recorded, not sent (`domain.closing.close_quantity`). Insufficient funds on spot (the
   account holds less than the engine thinks) is retried once capped at the free balance;
4. the realised PnL is recomputed from every closing fill (`position_book.Book.realised`:
   entry fees of what closed + closing fees), the group becomes `closed` with `closed_at`,
   the pool slot is released (`pool.release_slot`) and the trader reads one line:
   "BTCUSDT 60m long closed by exit signal: sold 0.00312 at 64,900.00, realised +2.05 USDT".

A transient failure (exchange down, rate limit, a cancel not confirmed) raises
`CloseDeferred`: the group stays `closing` and the take-profit sweep resumes it. A close the
exchange refuses for good fails the group with the exchange's words and a critical alert.
`finish_if_done` is the smaller end of a group whose every leg was closed by its own TP or
cancelled.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal

from server import events
from server.api.serializers import group_out
from server.clock import utcnow
from server.domain.closing import CloseQuantity, close_quantity
from server.domain.decimals import plain_decimal
from server.domain.enums import GroupStatus, LogCategory, LogLevel, OrderPurpose, OrderStatus
from server.domain.exact import ZERO
from server.domain.grid import exit_side
from server.domain.order_fsm import FINAL_GROUP_STATUSES, group_transition
from server.domain.pnl import to_cents
from server.exchange.errors import ExchangeError
from server.persistence.db import db
from server.persistence.models import DcaOrder, ExchangeAccount, PositionEvent, PositionGroup
from server.services import group_state, orders, pool, trail
from server.services.exchanges import client_for
from server.services.group_lock import group_lock
from server.services.journal import after_commit, system_log
from server.services.position_book import TRADING, WORKING, Book, index, is_futures, load
from server.services.precision import rules_for

log = logging.getLogger(__name__)

__all__ = [
    "CloseDeferred",
    "NotOpen",
    "close_group",
    "close_locked",
    "finish_if_done",
    "request_close",
]

TRIGGER_WORDS = {
    "exit_signal": "exit signal",
    "signal": "exit signal",
    "manual": "manual close",
    "aggregate_tp": "aggregate take-profit",
    "risk": "risk engine",
    "per_leg_tp": "leg take-profits",
    "cancelled": "cancelled entries",
}
CLOSED_EVENT = "group_closed"  # the marker that the close's bookkeeping ran
MAX_CLOSE_ORDERS = 10  # thin liquidity: a market close that expires part-filled is repeated
FILL_WAIT_SECONDS = 5.0
PRICE_MAX_AGE_MS = 10_000


class CloseDeferred(RuntimeError):
    """The close could not finish now (a transient exchange failure); it stays `closing`."""


class NotOpen(Exception):
    """The group cannot be closed: it is already closing, closed or failed."""

    def __init__(self, status: str) -> None:
        super().__init__(f"the group is {status}")
        self.status = status


def _words(trigger: str) -> str:
    return TRIGGER_WORDS.get(trigger, trigger.replace("_", " "))


def _publish_after_commit(group: PositionGroup) -> None:
    payload, user_id = group_out(group), group.user_id
    after_commit(lambda: events.publish(events.Event.GROUP_UPDATED, payload, user_id))


# --------------------------------------------------------------------------- closing


def _to_closing(group_id, reason: str, trigger: str) -> tuple[PositionGroup, bool]:
    """Move a trading group to `closing` (True), or leave it as it is (False)."""
    with db.atomic():
        group = group_state.lock_group(group_id)
        before = group.status
        if before not in TRADING:
            return group, False
        group.status = group_transition(before, GroupStatus.CLOSING).value
        group.status_changed_at = group.updated_at = utcnow()
        group.save()
        words = _words(trigger)
        why = words if reason in ("", words) else f"{words}: {reason}"
        message = f"{trail.label(group)}: {before} → closing ({why})"
        trail.record(
            group.id,
            "status_changed",
            message,
            from_status=before,
            to_status=GroupStatus.CLOSING.value,
            trigger=trigger,
            reason=reason,
        )
        system_log(LogLevel.INFO, LogCategory.TRADING, message, user_id=group.user_id,
                   symbol=group.symbol, group_id=str(group.id), trigger=trigger)  # fmt: skip
        _publish_after_commit(group)
    return group, True


def request_close(group_id, reason: str, trigger: str) -> PositionGroup:
    """Mark the group `closing` now (the API answers at once) — the close itself runs in a
    job (`close_group` resumes a `closing` group). A `waiting` group has nothing at the
    exchange and is closed here. `NotOpen` when it is already closing or finished."""
    group = PositionGroup.get_by_id(group_id)
    if group.status == GroupStatus.WAITING.value:
        return close_group(group_id, reason, trigger)
    group, moved = _to_closing(group_id, reason, trigger)
    if not moved:
        raise NotOpen(group.status)
    return group


def close_group(group_id, reason: str, trigger: str) -> PositionGroup:
    """The close routine (module docstring). Idempotent: a closed or failed group is
    returned as it is; a `closing` one is continued."""
    with group_lock(group_id):
        return close_locked(group_id, reason, trigger)


def close_locked(
    group_id, reason: str, trigger: str, *, price=None, group: PositionGroup | None = None,
    book: Book | None = None,
) -> PositionGroup:  # fmt: skip
    """`close_group` for a caller that already holds the group's lock. `price` is the price
    that triggered the close, if any (the reference for the dust check); `group` and `book`
    may be handed over by a caller that just read them under the lock (the aggregate TP's
    hot path), saving their queries."""
    group = group or PositionGroup.get_by_id(group_id)
    if group.status in {s.value for s in FINAL_GROUP_STATUSES}:
        index().remove(str(group.id))
        return group
    if group.status == GroupStatus.WAITING.value:
        return _finish(group, load(group), reason, trigger, None)
    moved = False
    if group.status in TRADING:
        group, moved = _to_closing(group_id, reason, trigger)
    if group.status == GroupStatus.CLOSED.value:  # every leg ended meanwhile
        return finish_if_done(group.id) or PositionGroup.get_by_id(group.id)
    if group.status != GroupStatus.CLOSING.value:
        return group
    if not moved:
        reason, trigger = _why_closing(group, reason, trigger)
    index().remove(str(group.id))  # nothing may trigger on it any more
    account = ExchangeAccount.get_by_id(group.account_id)
    rules = rules_for(account, group.symbol)
    book = _cancel_working(group, book if moved else None)
    if book.unbooked_tp():
        from server.services import take_profit

        take_profit.book_tp_fills(group.id)
        book = load(group)
    plan = None
    for attempt in range(MAX_CLOSE_ORDERS + 1):
        if attempt:
            book = load(group)
        reference = _reference_price(account, group, price)
        plan = close_quantity(book.held(), rules, reference, reduce_only=is_futures(account))
        if not plan.sendable:
            break
        if attempt == MAX_CLOSE_ORDERS:
            raise CloseDeferred(f"still holding {plan.held} after {attempt} close orders")
        order = _send_close(group, book, plan, account, reference)
        if order.status == OrderStatus.FILLED.value:
            break
    book = load(group)
    return _finish(PositionGroup.get_by_id(group_id), book, reason, trigger, plan)


def _why_closing(group: PositionGroup, reason: str, trigger: str) -> tuple[str, str]:
    """A resumed close keeps the reason and trigger it started with."""
    started = (
        PositionEvent.select()
        .where(
            (PositionEvent.group == group.id)
            & (PositionEvent.kind == "status_changed")
            & (PositionEvent.to_status == GroupStatus.CLOSING.value)
        )
        .order_by(PositionEvent.created_at.desc())
        .first()
    )
    if started is None or not started.detail.get("trigger"):
        return reason, trigger
    return started.detail.get("reason", reason), started.detail["trigger"]


def _cancel_working(group: PositionGroup, book: Book | None = None) -> Book:
    """Cancel every working order, TPs first; `CloseDeferred` if one stays working. Returns
    the book as it stands afterwards (`book`: as read under the lock just before)."""
    stuck = []
    book = book or load(group)
    working = book.working()
    if not working:
        return book
    for order in working:
        result = orders.cancel(order.id, f"group closing ({group.symbol})")
        if result.status in WORKING:
            result = orders.cancel(order.id, f"group closing ({group.symbol})")
        if result.status in WORKING:
            stuck.append(result)
    if stuck:
        names = ", ".join(o.client_order_id for o in stuck)
        raise CloseDeferred(f"cancel not confirmed for {names}; the close is resumed later")
    return load(group)


def _reference_price(account: ExchangeAccount, group: PositionGroup, price) -> Decimal | None:
    """The price a market close is checked against (minimum notional): the trigger's, the
    monitor's last price, else the exchange's ticker, else the group's last known price."""
    if price is not None:
        return Decimal(price)
    from server.services.position_book import venue_of

    seen = index().price(venue_of(account), group.symbol, max_age_ms=PRICE_MAX_AGE_MS)
    if seen is not None:
        return seen
    try:
        return client_for(account).fetch_ticker(group.symbol).last
    except ExchangeError as exc:
        log.warning("no ticker for %s close: %s", group.symbol, exc)
        return group.last_price


def _send_close(
    group: PositionGroup, book: Book, plan: CloseQuantity, account: ExchangeAccount, reference
) -> DcaOrder:
    """One market close order for `plan.quantity`, sent and read until it is final."""
    with db.atomic():
        order = orders.new_order(
            group, None, None, OrderPurpose.CLOSE, exit_side(group.side), "market",
            plan.quantity, price=reference, reduce_only=is_futures(account),
            attempt=book.next_attempt(book.close_orders),
        )  # fmt: skip
    order = orders.send(order.id)
    for pause in (0.2, 0.5, 1.0):  # transient: retried under the same client order id
        if order.status != OrderStatus.PENDING.value:
            break
        time.sleep(pause)
        order = orders.resend(order.id)
    if order.status == OrderStatus.PENDING.value:
        raise CloseDeferred(f"close order not sent yet ({order.last_error}); resumed later")
    order = _wait_final(order)
    if order.status == OrderStatus.FAILED.value:
        return _after_refusal(group, order, plan, account, reference)
    return order


def _wait_final(order: DcaOrder) -> DcaOrder:
    deadline = time.monotonic() + FILL_WAIT_SECONDS
    pause = 0.05
    while order.status in (OrderStatus.OPEN.value, OrderStatus.PARTIALLY_FILLED.value):
        if time.monotonic() >= deadline:
            return orders.cancel(order.id, "market close did not fill in time")
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
        order = orders.sync(order.id)
    return order


def _after_refusal(group, order: DcaOrder, plan: CloseQuantity, account, reference) -> DcaOrder:
    """Spot: the account holds less than the engine thinks — sell what it has, once. Any
    other refusal fails the group (a trader must look)."""
    reason = order.failure_reason or "refused"
    if "insufficient funds" in reason and not is_futures(account):
        rules = rules_for(account, group.symbol)
        try:
            free = client_for(account).fetch_balance().get(rules.base)
        except ExchangeError as exc:
            raise CloseDeferred(f"balance not readable after insufficient funds: {exc}") from exc
        capped = close_quantity(
            plan.held, rules, reference, reduce_only=False, cap=free.free if free else ZERO
        )
        if capped.sendable and capped.quantity < plan.quantity:
            system_log(
                LogLevel.WARNING, LogCategory.TRADING,
                f"{trail.label(group)}: the account holds only {plain_decimal(free.free)} "
                f"{rules.base}; closing that instead of {plain_decimal(plan.quantity)}",
                user_id=group.user_id, symbol=group.symbol,
            )  # fmt: skip
            return _send_close(group, load(group), capped, account, reference)
    _fail(group, f"the close was refused by the exchange: {reason}")
    raise CloseRefused(reason)


class CloseRefused(RuntimeError):
    """The exchange refused the close for good; the group is `failed`."""


def _fail(group: PositionGroup, reason: str) -> None:
    with db.atomic():
        fresh = group_state.lock_group(group.id)
        if fresh.status in {s.value for s in FINAL_GROUP_STATUSES}:
            return
        before = fresh.status
        fresh.status = group_transition(before, GroupStatus.FAILED).value
        fresh.failure_reason = reason
        fresh.status_changed_at = fresh.updated_at = utcnow()
        fresh.closed_at = fresh.closed_at or fresh.updated_at
        fresh.save()
        message = f"{trail.label(fresh)}: {before} → failed ({reason}); check the exchange"
        trail.record(fresh.id, "status_changed", message, from_status=before,
                     to_status=fresh.status)  # fmt: skip
        system_log(LogLevel.CRITICAL, LogCategory.TRADING, message, user_id=fresh.user_id,
                   symbol=fresh.symbol, alert=True)  # fmt: skip
        _publish_after_commit(fresh)
        payload = {"level": "critical", "kind": "close_failed", "message": message,
                   "group_id": str(fresh.id)}  # fmt: skip
        user_id = fresh.user_id
        after_commit(lambda: events.publish(events.Event.ALERT_CREATED, payload, user_id))
    pool.release_slot(group)


# --------------------------------------------------------------------------- finishing


def _describe(group: PositionGroup, book: Book, trigger: str, plan: CloseQuantity | None,
              total: Decimal, quote: str) -> str:  # fmt: skip
    label, words = trail.label(group), _words(trigger)
    gain = to_cents(total)
    realised = f"{'+' if gain >= 0 else '-'}{trail.usd(abs(gain))} {quote}"
    fills = book.close_fills
    if fills is not None and fills.quantity > 0:
        verb = "sold" if group.side == "long" else "bought back"
        what = f"{verb} {trail.num(fills.quantity)} at {trail.num(fills.avg_price)}"
    elif trigger == "per_leg_tp":
        what = "every leg closed by its take-profit"
    elif book.legs and any(leg.has_fill for leg in book.legs.values()):
        what = "nothing left to send"
    else:
        what = "nothing had filled"
    line = f"{label} closed by {words}: {what}, realised {realised}"
    if plan is not None and plan.reason and plan.dust > 0:
        line += f" ({plain_decimal(plan.dust)} left unsold: {plan.reason})"
    return line


_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "USD", "BTC", "ETH")


def _quote(group: PositionGroup) -> str:
    """The quote currency for the log line: the market's, or read off the symbol when the
    rules cannot be had (never worth failing a close for)."""
    account = ExchangeAccount.get_or_none(ExchangeAccount.id == group.account_id)
    if account is not None:
        try:
            return rules_for(account, group.symbol).quote
        except ExchangeError as exc:
            log.warning("no market rules for %s: %s", group.symbol, exc)
    return next((q for q in _QUOTES if group.symbol.endswith(q)), "USDT")


def _finish(group: PositionGroup, book: Book, reason: str, trigger: str,
            plan: CloseQuantity | None) -> PositionGroup:  # fmt: skip
    """Book the realised PnL and end the group `closed` (idempotent)."""
    quote = _quote(group)
    result = book.realised()
    with db.atomic():
        if PositionEvent.get_or_none(
            (PositionEvent.group == group.id) & (PositionEvent.kind == CLOSED_EVENT)
        ):
            return group_state.lock_group(group.id)
        _, _ignored = group_state.recompute_in_tx(group.id, publish=False)
        fresh = group_state.lock_group(group.id)
        before, now = fresh.status, utcnow()
        if before != GroupStatus.CLOSED.value:
            fresh.status = group_transition(before, GroupStatus.CLOSED).value
            fresh.status_changed_at = now
        fresh.closed_at = fresh.closed_at or now
        fresh.realized_pnl_usd = result.total
        fresh.unrealized_pnl_usd = fresh.unrealized_pnl_percent = ZERO
        fresh.updated_at = now
        fresh.save()
        message = _describe(fresh, book, trigger, plan, result.total, quote)
        fills = book.close_fills
        trail.record(
            fresh.id, CLOSED_EVENT, message, from_status=before, to_status=fresh.status,
            trigger=trigger, reason=reason, realised_usd=result.total,
            close_quantity=fills.quantity if fills else None,
            close_price=fills.avg_price if fills else None,
            dust=plan.dust if plan is not None and plan.dust > 0 else None,
        )  # fmt: skip
        system_log(LogLevel.INFO, LogCategory.TRADING, message, user_id=fresh.user_id,
                   symbol=fresh.symbol, group_id=str(fresh.id), trigger=trigger,
                   realised_usd=plain_decimal(result.total))  # fmt: skip
        _publish_after_commit(fresh)
    pool.release_slot(fresh)
    index().remove(str(fresh.id))
    return fresh


def finish_if_done(
    group_id,
    trigger: str = "per_leg_tp",
    *,
    group: PositionGroup | None = None,
    book: Book | None = None,
) -> PositionGroup | None:
    """End a group whose every leg is closed by its TP or cancelled — or complete the books
    of one the order service already derived `closed` — returning it; None while it trades.
    `group`, `book`: as the caller has just read them (the take-profit hook), not read
    again."""
    group = group if group is not None else PositionGroup.get_by_id(group_id)
    book = book if book is not None else load(group)
    if group.status in TRADING:
        legs = book.legs.values()
        if not legs or any(leg.working or leg.is_open for leg in legs):
            return None
        if any(o.status in WORKING for o in book.orders):
            return None
    elif group.status != GroupStatus.CLOSED.value:
        return None
    if not any(leg.has_fill for leg in book.legs.values()):
        trigger = "cancelled"
    return _finish(group, book, "every leg ended", trigger, None)
