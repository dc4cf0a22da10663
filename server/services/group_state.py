"""A group's figures and status recomputed from its legs (SPEC §4.1, §4.3, §7).

`recompute_in_tx` runs inside the caller's transaction: it locks the group row, reads every
entry leg, and stores `aggregates.aggregate` (weighted average entry, filled quantity,
invested USD, `filled_dca_legs / total_dca_legs`), `pyramid_count`, each pyramid's status,
the group status from `order_fsm.derive_group_status` (`live` → `partially_filled` →
`active`, or `closed`/`failed` when every leg ended) and the unrealised PnL at the group's
last known price. A status change becomes a `PositionEvent` and a TRADING log line. It
returns what to run after commit (the `group.updated` event): events never announce
uncommitted state.

Quantity closed outside the legs' own take-profits — orders with purpose `close` or `risk` —
is passed to `aggregate` as `closed_quantity` (it lowers the held quantity pro rata and
leaves the average entry unchanged); a leg closed by its TP is marked `tp_hit` and drops out
of the aggregates by itself; a leg whose TP order filled only partly counts what is left of
it (its fill less what the TP sold, at its own entry price: `closing.remaining_leg`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from peewee import JOIN

from server import events
from server.api.serializers import group_out
from server.clock import utcnow
from server.domain.aggregates import LegState, aggregate
from server.domain.closing import remaining_leg
from server.domain.enums import GroupStatus, LogCategory, LogLevel, OrderPurpose, OrderStatus
from server.domain.exact import ZERO, add
from server.domain.order_fsm import derive_group_status
from server.domain.pnl import unrealised
from server.persistence.db import db
from server.persistence.models import DcaOrder, PositionGroup, Pyramid
from server.persistence.prepared import Prepared, Slot, lock_row, save_row, slots
from server.services import trail
from server.services.journal import system_log

AfterCommit = list[Callable[[], None]]
_CLOSING_PURPOSES = (OrderPurpose.CLOSE.value, OrderPurpose.RISK_OFFSET.value)


def lock_group(group_id) -> PositionGroup:
    """The group's row, locked until the transaction ends (`DoesNotExist` when none)."""
    return lock_row(PositionGroup, group_id)


def leg_state(order: DcaOrder, pyramid_index: int) -> LegState:
    return LegState(
        pyramid=pyramid_index,
        leg=order.leg_index if order.leg_index is not None else -1,
        status=OrderStatus(order.status),
        quantity=order.quantity,
        filled_quantity=order.filled_quantity or ZERO,
        avg_fill_price=order.avg_fill_price,
        tp_percent=order.tp_percent or ZERO,
        tp_hit=order.tp_hit,
        fee_quote=order.fee or ZERO,
        fee_base=order.fee_base or ZERO,
        price=order.price,
    )


_ORDERS = Prepared(
    lambda: (
        DcaOrder.select(DcaOrder, Pyramid)
        .join(Pyramid, JOIN.LEFT_OUTER, on=(DcaOrder.pyramid == Pyramid.id))
        .where(DcaOrder.group == Slot("group", DcaOrder.group))
        .order_by(Pyramid.index, DcaOrder.leg_index, DcaOrder.created_at)
    )
)


def _orders(group_id) -> list[DcaOrder]:
    return list(_ORDERS.rows(group=group_id))


def _pyramid_status(legs: list[LegState]) -> str:
    """A pyramid's status, derived from its legs as if it were a group that just went live."""
    return derive_group_status(GroupStatus.LIVE, legs).value if legs else GroupStatus.LIVE.value


def _save_pyramids(orders: list[DcaOrder], states: dict) -> None:
    by_pyramid: dict = {}
    for order in orders:
        if order.purpose == OrderPurpose.ENTRY.value and order.pyramid_id is not None:
            by_pyramid.setdefault(order.pyramid_id, (order.pyramid, []))[1].append(states[order.id])
    for pyramid, legs in by_pyramid.values():
        status = _pyramid_status(legs)
        if pyramid.status != status:
            _PYRAMID_STATUS.rowcount(status=status, id=pyramid.id)


_PYRAMID_STATUS = Prepared(
    lambda: Pyramid.update(slots(Pyramid, "status")).where(Pyramid.id == Slot("id", Pyramid.id))
)


def _failure_reason(orders: list[DcaOrder]) -> str | None:
    failed = [o for o in orders if o.status == OrderStatus.FAILED.value and o.failure_reason]
    return failed[0].failure_reason if failed else None


def _after_partial_tps(states: dict, orders: list[DcaOrder]) -> list[LegState]:
    """The legs as they still stand: a leg whose TP order filled partly (not yet `tp_hit`)
    holds its fill less what the TP sold, at its own entry price (`remaining_leg`, as the
    realised PnL counts it). A `tp_hit` leg drops out of the aggregates by itself."""
    sold: dict = {}
    for o in orders:
        if o.purpose == OrderPurpose.TAKE_PROFIT.value and o.filled_quantity:
            key = (o.pyramid_id, o.leg_index)
            sold[key] = add(sold.get(key, ZERO), o.filled_quantity)
    by_id = {o.id: o for o in orders}
    legs = []
    for order_id, leg in states.items():
        entry = by_id[order_id]
        part = sold.get((entry.pyramid_id, entry.leg_index), ZERO)
        legs.append(remaining_leg(leg, part) if part and leg.is_open else leg)
    return legs


def recompute_in_tx(
    group_id, *, publish: bool = True, locked: PositionGroup | None = None
) -> tuple[PositionGroup, AfterCommit]:
    """Recompute and store the group's figures (module docstring); returns the group and the
    after-commit actions. `locked`: the group's row as the caller locked (and perhaps
    changed) it in this transaction — stored with the figures instead of saved, locked and
    read again."""
    group = locked if locked is not None else lock_group(group_id)
    orders = _orders(group_id)
    entries = [o for o in orders if o.purpose == OrderPurpose.ENTRY.value]
    states = {o.id: leg_state(o, o.pyramid.index if o.pyramid_id else -1) for o in entries}
    closed = add(*(o.filled_quantity or ZERO for o in orders if o.purpose in _CLOSING_PURPOSES))
    figures = aggregate(_after_partial_tps(states, orders), closed_quantity=closed)
    before = GroupStatus(group.status)
    after = derive_group_status(before, states.values())
    now = utcnow()
    group.pyramid_count = len({o.pyramid_id for o in entries if o.pyramid_id is not None})
    group.total_dca_legs = figures.total_dca_legs
    group.filled_dca_legs = figures.filled_dca_legs
    group.total_filled_quantity = figures.total_filled_quantity
    group.total_invested_usd = figures.total_invested_usd
    group.weighted_avg_entry = figures.weighted_avg_entry
    usd, percent = ZERO, ZERO
    if group.last_price is not None:
        usd, percent = unrealised(
            group.side,
            group.last_price,
            held_quantity=figures.held_quantity,
            filled_quantity=figures.total_filled_quantity,
            invested=figures.total_invested_usd,
        )
    group.unrealized_pnl_usd, group.unrealized_pnl_percent = usd, percent
    group.updated_at = now
    if after is not before:
        _transition(group, before, after, figures.progress, orders, now)
    save_row(group)
    _save_pyramids(entries, states)
    actions: AfterCommit = []
    if publish:
        payload = group_out(group)
        actions.append(lambda: events.publish(events.Event.GROUP_UPDATED, payload, group.user_id))
    return group, actions


def _transition(group, before, after, progress, orders, now) -> None:
    group.status = after.value
    group.status_changed_at = now
    if after in (GroupStatus.CLOSED, GroupStatus.FAILED):
        group.closed_at = group.closed_at or now
    if after is GroupStatus.FAILED:
        group.failure_reason = group.failure_reason or _failure_reason(orders)
        _release_after_commit(group)
    why = {
        GroupStatus.PARTIALLY_FILLED: f"{progress} legs filled, entries still working",
        GroupStatus.ACTIVE: f"{progress} legs filled, no entry order working",
        GroupStatus.CLOSED: "every leg ended",
        GroupStatus.FAILED: group.failure_reason or "nothing filled and an order failed",
        GroupStatus.LIVE: "orders working, nothing filled",
    }[after]
    message = f"{trail.label(group)}: {before.value} → {after.value} ({why})"
    trail.record(
        group.id,
        "status_changed",
        message,
        from_status=before.value,
        to_status=after.value,
        progress=progress,
    )
    level = LogLevel.ERROR if after is GroupStatus.FAILED else LogLevel.INFO
    system_log(level, LogCategory.TRADING, message, user_id=group.user_id, symbol=group.symbol)


def _release_after_commit(group) -> None:
    """A failed group gives its pool slot back (SPEC §5: held until closed/failed) and the
    queue promotes — once the failure is committed."""
    from server.services import pool
    from server.services.journal import after_commit

    failed = group

    def release() -> None:
        try:
            pool.release_slot(failed)
        except Exception:  # the queue sweep reconciles the slot within seconds
            logging.getLogger(__name__).exception("slot of failed group %s not released", failed.id)

    after_commit(release)


def recompute(group_id) -> PositionGroup:
    """Recompute in a transaction of its own, then publish `group.updated`."""
    with db.atomic():
        group, actions = recompute_in_tx(group_id)
    run(actions)
    return group


def run(actions: AfterCommit) -> None:
    for action in actions:
        action()
