"""Take-profit in its three modes (SPEC §4.4): resting leg TPs, price watching, booking.

- **Per-leg TPs rest on the exchange.** Once an entry leg is done filling (`filled`, or
  cancelled with a partial fill) and the group's mode is `per_leg` or `hybrid`, a limit order
  (purpose `tp`, `reduce_only` on futures) goes out at the leg's `tp_price` from its actual
  average fill, for the leg's sellable quantity (`domain.closing.leg_tp_order`). The exchange
  itself closes the leg at the crossing — nothing to be late for. A leg still partly filled
  and working, or whose TP the exchange would refuse (below the minimum), is watched by
  price instead and closed at market when its target is reached.
- **The aggregate TP is watched.** The price monitor (`services.price_monitor`) finds the
  groups whose trigger a price crossed (`state.tp_index`) and hands each to
  `evaluate_group`, which decides with `domain.take_profit.evaluate` on exact Decimals:
  `close_all` runs the close routine (`trigger="aggregate_tp"`; it cancels the resting leg
  TPs and closes everything left); leg closes sync the resting TP order (booked at once) or
  close a watched leg at market. Hybrid: both run, whichever comes first wins, in either order.
- **Booking** (`settle`): a TP order that filled marks its leg `tp_hit`; the realised PnL is
  recomputed from every closing fill; the group's figures are recomputed (`group_state`);
  a group whose every leg ended is finished (`closing.finish_if_done`); the trigger index is
  updated.

`on_leg_filled(order_id)` is the hook the order service calls after it committed new fills of
any order; the periodic `sweep` does the same for every open group (missed hooks, a Redis
flush), resumes closes left `closing`, and rebuilds the trigger index from PostgreSQL.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from peewee import JOIN

from server import queues
from server.clock import utcnow
from server.domain.closing import close_quantity, leg_tp_order
from server.domain.enums import GroupStatus, LogCategory, LogLevel, OrderPurpose, OrderStatus
from server.domain.grid import exit_side
from server.domain.pnl import to_cents
from server.domain.take_profit import LegClose, TpMode, evaluate
from server.persistence.db import db
from server.persistence.models import DcaOrder, ExchangeAccount, PositionGroup, Pyramid
from server.persistence.prepared import get_row
from server.services import closing, group_state, orders, trail
from server.services.group_lock import claim, group_lock, held_here, is_locked, try_group_lock
from server.services.journal import after_commit, system_log
from server.services.position_book import (
    TRADING,
    WORKING,
    Book,
    Key,
    aggregate_percent,
    book_of,
    index,
    is_futures,
    load,
    reindex,
    watched,
)
from server.services.precision import rules_for

log = logging.getLogger(__name__)

__all__ = [
    "book_tp_fills",
    "evaluate_group",
    "evaluation_over",
    "on_leg_filled",
    "settle",
    "sweep",
]

RESTING_MODES = frozenset({TpMode.PER_LEG.value, TpMode.HYBRID.value})
STUCK_CLOSING = timedelta(seconds=30)
HOOKED_PURPOSES = frozenset({OrderPurpose.ENTRY.value, OrderPurpose.TAKE_PROFIT.value})


# --------------------------------------------------------------------------- the hook


def on_leg_filled(order_id, *, wait: bool = False) -> None:
    """An order's fill changed (committed): place its leg's TP, or book a TP fill. Called by
    the order service after every stored answer that moved an order's fill or status; cheap
    when there is nothing to do. Waits for no lock: when another worker holds the group, the
    work goes to a job (`wait=True`, which waits for the lock instead)."""
    if db.in_transaction():
        after_commit(lambda: on_leg_filled(order_id, wait=wait))
        return
    order = get_row(DcaOrder, order_id)
    if order is None or order.purpose not in (
        OrderPurpose.ENTRY.value,
        OrderPurpose.TAKE_PROFIT.value,
    ):
        return
    if not order.filled_quantity and order.status in WORKING:
        return  # just placed: nothing filled yet
    lock = group_lock(order.group_id) if wait else try_group_lock(order.group_id)
    if lock is None:
        queues.enqueue(queues.ORDERS, "workers.jobs.positions.on_order_filled", str(order_id))
        return
    with lock:
        settle(order.group_id)


# --------------------------------------------------------------------------- booking


def book_tp_fills(group_id) -> bool:
    """Mark `tp_hit` every leg whose TP order filled, recompute the realised PnL and the
    group's figures (one transaction). True when a leg was marked."""
    return _book_tp_fills(group_id)[0]


def _book_tp_fills(group_id) -> tuple[bool, PositionGroup | None, Book | None]:
    """`book_tp_fills`, also handing back the group and its book as read under the group's
    row lock when nothing was booked (nothing changed them: `settle` goes on with them
    instead of reading both again); `None, None` when legs were booked."""
    with db.atomic():
        group = group_state.lock_group(group_id)
        book = load(group)
        done = book.unbooked_tp()
        if not done:
            return False, group, book
        _mark_legs_done(group, done, "take-profit", book)
        _, actions = group_state.recompute_in_tx(group_id)
    group_state.run(actions)
    return True, None, None


def _mark_legs_done(group: PositionGroup, keys: list[Key], why: str, book: Book | None = None):
    """Inside the caller's transaction (group row locked): the legs are closed (`tp_hit`),
    the group's realised PnL is recomputed, each leg gets its event and log line. `book`:
    the group's book as the caller read it in this transaction (else read here)."""
    book = book if book is not None else load(group)
    ids = [book.entries[key].id for key in keys]
    DcaOrder.update(tp_hit=True, updated_at=utcnow()).where(DcaOrder.id.in_(ids)).execute()
    book = load(group)
    result = book.realised()
    group.realized_pnl_usd = result.total
    group.save()
    parts = {(p.pyramid, p.leg): p for p in result.legs}
    for key in keys:
        part = parts.get(key)
        if part is not None and part.quantity > 0:
            verb = "sold" if group.side == "long" else "bought back"
            what = f"{verb} {trail.num(part.quantity)} at {trail.num(part.exit_price)}"
        else:
            what = "nothing sent (dust)"
        usd = part.usd if part is not None else Decimal(0)
        gain = to_cents(usd)
        message = (
            f"{trail.label(group)}: pyramid {key[0]} leg {key[1]} closed by its {why}: "
            f"{what}, realised {'+' if gain >= 0 else '-'}{trail.usd(abs(gain))}"
        )
        trail.record(group.id, "leg_take_profit", message, order_id=book.entries[key].id,
                     pyramid=key[0], leg=key[1], realised_usd=usd)  # fmt: skip
        system_log(LogLevel.INFO, LogCategory.TRADING, message, user_id=group.user_id,
                   symbol=group.symbol, group_id=str(group.id))  # fmt: skip


def settle(group_id, *, place: bool = True) -> PositionGroup:
    """Book TP fills, place missing leg TPs, finish a group whose legs all ended, re-index
    (caller holds the group's lock or does not need it). The group's book is read once when
    nothing is booked or finished (the common case: an entry fill), not three times."""
    booked, group, book = _book_tp_fills(group_id)
    if booked:
        group = PositionGroup.get_by_id(group_id)
    if group.status not in TRADING:
        if group.status == GroupStatus.CLOSED.value:
            closing.finish_if_done(group_id)
        else:
            index().remove(str(group_id))
        return PositionGroup.get_by_id(group_id)
    if book is None:
        book = load(group)
    if closing.finish_if_done(group_id, group=group, book=book) is not None:
        return PositionGroup.get_by_id(group_id)
    if place and group.tp_mode in RESTING_MODES and _place_missing(group, book):
        book = load(group)
    reindex(group, book)
    return group


def _needs_tp(group: PositionGroup, book: Book, key: Key) -> bool:
    entry = book.entries[key]
    if entry.tp_hit or not entry.filled_quantity or entry.status in WORKING:
        return False
    if book.risk_fills is not None or any(o.status in WORKING for o in book.risk_orders):
        # the risk engine sold part of the group: a leg's resting TP would sell more than
        # the group still holds (docs/decisions.md, "Risk engine")
        return False
    tps = book.tp_orders.get(key, [])
    if any(o.status in WORKING for o in tps):
        return False
    # the exchange refused the last one: the leg is watched by price instead
    return not (tps and tps[-1].status == OrderStatus.FAILED.value)


def _place_missing(group: PositionGroup, book: Book) -> int:
    """Rest a TP limit order for every done leg that has none (module docstring)."""
    keys = [key for key in book.entries if _needs_tp(group, book, key)]
    if not keys:
        return 0
    account = ExchangeAccount.get_by_id(group.account_id)
    rules = rules_for(account, group.symbol)
    placed = 0
    for key in keys:
        leg, entry = book.legs[key], book.entries[key]
        sold = book.tp_fills.get(key)
        plan = leg_tp_order(group.side, leg, rules, reduce_only=is_futures(account),
                            already_sold=sold.quantity if sold else 0)  # fmt: skip
        if not plan.valid:
            if entry.tp_price != plan.price and plan.price:
                DcaOrder.update(tp_price=plan.price).where(DcaOrder.id == entry.id).execute()
            log.info("%s leg %s TP watched by price: %s", trail.label(group), key, plan.reason)
            continue
        with db.atomic():
            order = orders.new_order(
                group, entry.pyramid, entry.leg_index, OrderPurpose.TAKE_PROFIT, plan.side,
                "limit", plan.quantity, price=plan.price, reduce_only=is_futures(account),
                attempt=book.next_attempt(book.tp_orders.get(key, [])),
                tp_percent=entry.tp_percent, tp_price=plan.price,
            )  # fmt: skip
        orders.send(order.id)
        placed += 1
    return placed


# --------------------------------------------------------------------------- evaluation


def evaluation_over(group_id, trigger_moved: bool) -> None:
    """An evaluation handed over by the monitor ended: the group may be handed over again
    (at once if its trigger moved, else after `tp_index.RECROSS_AFTER_MS`)."""
    index().evaluated(str(group_id), trigger_moved)


def evaluate_group(group_id, price: Decimal) -> tuple[str, bool]:
    """The monitor saw `price` cross the group's trigger (module docstring). Returns the
    group's status afterwards and whether its trigger moved (a new one may be crossed at
    once); the caller reports the end to `evaluation_over`, however it ended."""
    with group_lock(group_id):
        group = PositionGroup.get_by_id(group_id)
        if group.status not in TRADING:
            if group.status != GroupStatus.CLOSING.value:
                index().remove(str(group_id))
            return group.status, False
        account = ExchangeAccount.get_by_id(group.account_id)
        rules = rules_for(account, group.symbol)
        book = load(group)
        decision = evaluate(
            group.side, book.legs_now(), price, mode=group.tp_mode,
            aggregate_percent=aggregate_percent(group), rules=rules,
        )  # fmt: skip
        if decision.close_all:
            closed = closing.close_locked(
                group_id, decision.reason, "aggregate_tp", price=price, group=group, book=book
            )
            return closed.status, False
        before = index().get(str(group_id))
        for close in decision.close_legs:
            _close_leg(group, book, close, account, price)
        group = settle(group_id)
        after = index().get(str(group_id))
        moved = after is None or before is None or after.trigger != before.trigger
        return group.status, moved


def _close_leg(group, book: Book, close: LegClose, account, price: Decimal) -> None:
    """One leg reached its target: its resting TP is read back (the exchange filled it), or
    a watched leg is closed at market (its working remainder cancelled first)."""
    key = (close.pyramid, close.leg)
    resting = book.working_tp(key)
    if resting:
        for order in resting:
            orders.sync(order.id)
        return
    entry = book.entries[key]
    if close.cancel_remainder and entry.status in WORKING:
        known = {o.id for o in book.tp_orders.get(key, [])}
        orders.cancel(entry.id, "its take-profit was reached")
        book = load(group)
        if any(o.id not in known for o in book.tp_orders.get(key, [])):
            return  # the leg, now done, got its TP limit at once (marketable: it filled)
    leg = book.legs_now()
    held = next((x.held for x in leg if (x.pyramid, x.leg) == key), Decimal(0))
    rules = rules_for(account, group.symbol)
    # never more than the group still holds: a risk offset sold part of it (SPEC §4.3)
    plan = close_quantity(held, rules, price, reduce_only=is_futures(account), cap=book.held())
    if not plan.sendable:
        with db.atomic():
            fresh = group_state.lock_group(group.id)
            _mark_legs_done(fresh, [key], f"take-profit ({plan.reason})")
            _, actions = group_state.recompute_in_tx(group.id)
        group_state.run(actions)
        return
    with db.atomic():
        order = orders.new_order(
            group, entry.pyramid, entry.leg_index, OrderPurpose.TAKE_PROFIT,
            exit_side(group.side), "market", plan.quantity, price=price,
            reduce_only=is_futures(account),
            attempt=book.next_attempt(book.tp_orders.get(key, [])),
            tp_percent=entry.tp_percent, tp_price=close.tp_price,
        )  # fmt: skip
    order = orders.send(order.id)
    if order.status in (OrderStatus.OPEN.value, OrderStatus.PARTIALLY_FILLED.value):
        orders.sync(order.id)


# --------------------------------------------------------------------------- the sweep


def _books(groups: list[PositionGroup]) -> dict:
    """Every order of `groups` in one query, as books."""
    if not groups:
        return {}
    by_id = {g.id: g for g in groups}
    rows = (
        DcaOrder.select(DcaOrder, Pyramid)
        .join(Pyramid, JOIN.LEFT_OUTER, on=(DcaOrder.pyramid == Pyramid.id))
        .where(DcaOrder.group.in_(list(by_id)))
        .order_by(Pyramid.index, DcaOrder.leg_index, DcaOrder.attempt, DcaOrder.created_at)
    )
    grouped: dict = defaultdict(list)
    for row in rows:
        grouped[row.group_id].append(row)
    return {gid: book_of(group, grouped.get(gid, [])) for gid, group in by_id.items()}


def sweep() -> dict[str, int]:
    """Rebuild the trigger index, place missing leg TPs, book missed TP fills, resume closes
    left `closing`, finish groups the order service derived `closed` (scheduled)."""
    stats = {"indexed": 0, "settled": 0, "resumed": 0, "finished": 0, "errors": 0}
    version = index().version()
    groups = list(PositionGroup.select().where(PositionGroup.status.in_(list(TRADING))))
    books = _books(groups)
    accounts = {a.id: a for a in ExchangeAccount.select().where(
        ExchangeAccount.id.in_([g.account_id for g in groups if g.account_id]))}  # fmt: skip
    percents: dict = {}
    rules: dict = {}
    entries, needy = [], []
    for group in groups:
        book, account = books[group.id], accounts.get(group.account_id)
        if account is None:
            continue
        try:
            if group.user_id not in percents:
                percents[group.user_id] = aggregate_percent(group)
            market = (account.id, group.symbol)
            if market not in rules:
                rules[market] = rules_for(account, group.symbol)
            entries.append(
                watched(book, account, percent=percents[group.user_id], rules=rules[market])
            )
        except Exception:  # one odd group must not stop the sweep
            log.exception("indexing group %s failed", group.id)
            stats["errors"] += 1
        if _needs_settling(group, book):
            needy.append(group.id)
    if index().replace_all(entries, version):
        stats["indexed"] = len(entries)
    for group_id in needy:
        stats["settled"] += _settle_if_free(group_id, stats)
    stats["resumed"] = _resume_stuck_closes()
    stats["finished"] = _finish_derived_closes()
    return stats


def _needs_settling(group: PositionGroup, book: Book) -> bool:
    unbooked = bool(book.unbooked_tp())
    missing = group.tp_mode in RESTING_MODES and any(
        _needs_tp(group, book, key) for key in book.entries
    )
    ended = bool(book.legs) and not any(leg.working or leg.is_open for leg in book.legs.values())
    return unbooked or missing or ended


def _settle_if_free(group_id, stats: dict) -> int:
    lock = try_group_lock(group_id)
    if lock is None:
        return 0
    try:
        with lock:
            settle(group_id)
        return 1
    except Exception:
        log.exception("settling group %s failed", group_id)
        stats["errors"] += 1
        return 0


def _resume_stuck_closes() -> int:
    """A `closing` group nobody works on (a worker died, a transient failure) is closed
    again — the routine continues where it stopped."""
    cutoff = utcnow() - STUCK_CLOSING
    stuck = PositionGroup.select(PositionGroup.id).where(
        (PositionGroup.status == GroupStatus.CLOSING.value)
        & (PositionGroup.status_changed_at < cutoff)
    )
    resumed = 0
    for group in stuck:
        if is_locked(group.id) or held_here(group.id):
            continue
        if _recent_job(group.id):
            continue
        queues.enqueue(
            queues.ORDERS, "workers.jobs.positions.close_position", str(group.id),
            "resumed after an interruption", "resume",
        )  # fmt: skip
        resumed += 1
    return resumed


def _recent_job(group_id) -> bool:
    """One resume job per group per minute at most."""
    return not claim(f"resume:{group_id}", 60)


def _finish_derived_closes() -> int:
    """Groups the order service derived `closed` (every leg ended) since the last sweep."""
    from server.persistence.models import PositionEvent

    since = utcnow() - timedelta(hours=1)
    candidates = PositionGroup.select(PositionGroup.id).where(
        (PositionGroup.status == GroupStatus.CLOSED.value)
        & (PositionGroup.status_changed_at >= since)
    )
    done = {
        e.group_id
        for e in PositionEvent.select(PositionEvent.group).where(
            (PositionEvent.kind == closing.CLOSED_EVENT)
            & (PositionEvent.group.in_([c.id for c in candidates]))
        )
    }
    finished = 0
    for group in candidates:
        if group.id in done:
            continue
        lock = try_group_lock(group.id)
        if lock is None:
            continue
        with lock:
            closing.finish_if_done(group.id)
        finished += 1
    return finished
