"""Opening groups and adding pyramids (SPEC §3, §4.1): plan, store, then send.

Order of work, for a new group and for each pyramid:

1. plan the whole grid with `grid.plan_pyramid` from the market rules (`rules_for`: the Redis
   cache, the exchange on a miss) anchored on the signal's `entry_price`, or the ticker's last
   price when the signal carries none;
2. refuse the pyramid when any leg fails the precision rules — nothing is stored as an order
   and nothing is sent (a new group is stored `failed` with the plan's reason);
3. store the group (`live`), the pyramid and every leg (`pending`, deterministic client order
   ids) in ONE transaction — the caller's, for the signal worker's hand-off;
4. after the commit, send the legs inline (the latency target is signal → first order), the
   market leg first, then the limits (`orders.send_many`: one transaction for the answers).

`prepare_group` / `prepare_pyramid` do steps 1–3 inside the caller's transaction and return a
`Placement` whose `send()` does step 4; `open_group` / `add_pyramid` do all four for callers
that are not in a transaction.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from decimal import Decimal

from rq.exceptions import DuplicateJobError

from server import events, queues
from server.api.serializers import group_out
from server.clock import utcnow
from server.domain.enums import GroupStatus, LogCategory, LogLevel, OrderPurpose, OrderStatus
from server.domain.grid import PyramidPlan, plan_pyramid
from server.persistence.db import db
from server.persistence.models import (
    DcaOrder,
    ExchangeAccount,
    PositionEvent,
    PositionGroup,
    Pyramid,
    Signal,
)
from server.persistence.prepared import Prepared, Slot, get_row, insert_rows
from server.services import fill_monitor, group_state, orders, trail
from server.services.exchanges import client_for
from server.services.journal import system_log
from server.services.precision import rules_for

__all__ = [
    "Placement",
    "PyramidRefused",
    "add_pyramid",
    "cancel_entries",
    "finish_placement",
    "open_group",
    "prepare_group",
    "prepare_pyramid",
    "recompute_group",
]


# orders the exchange may still fill: worth an immediate monitor pass after placing
RESTING = (OrderStatus.OPEN.value, OrderStatus.PARTIALLY_FILLED.value)


class PyramidRefused(Exception):
    """The pyramid cannot be placed (invalid grid, no more orders, beyond max_pyramids)."""


@dataclass
class Placement:
    """What `prepare_*` stored: send its legs after the transaction has committed."""

    group: PositionGroup
    pyramid: Pyramid | None
    plan: PyramidPlan | None
    legs: list[DcaOrder] = field(default_factory=list)
    account: ExchangeAccount | None = None
    refused: str | None = None  # the plan's reason when nothing was placed

    def send(self) -> list[DcaOrder]:
        """Send the legs, market first; then the pyramid's summary line."""
        if not self.legs:
            return []
        first = sorted(self.legs, key=lambda o: (o.order_type != "market", o.leg_index))
        contexts = [
            orders.OrderContext(o, self.group, self.account, self.pyramid.index) for o in first
        ]
        sent = orders.send_many(contexts)
        _placed_line(self, sent)
        if any(o.status in RESTING for o in sent):
            fill_monitor.check_soon(self.account.id)  # a limit that filled at once is seen now
        return sent

    def send_first(self) -> None:
        """The signal job's part (the latency target is signal → first order): send the
        first leg (market first) and leave everything else — storing its answer, the other
        legs, the take-profit hook, the summary line, `group.updated` — to a follow-up job on
        the `orders` queue (`finish_placement`, job id `placement-<pyramid id>`). Crash safe:
        a follow-up that is lost leaves pending legs (the first one behind its expiring send
        lock) that the fill monitor looks up by client id and sends or applies; the TP sweep
        places what the applied fill calls for."""
        if not self.legs:
            return
        first = sorted(self.legs, key=lambda o: (o.order_type != "market", o.leg_index))[0]
        ctx = orders.OrderContext(first, self.group, self.account, self.pyramid.index)
        token = orders.send_first(ctx)
        outcome = ctx.outcome if token is not None else None
        with contextlib.suppress(DuplicateJobError):  # a re-run of the signal: one is enough
            queues.enqueue_unique(
                queues.ORDERS,
                "workers.jobs.positions.finish_placement",
                str(self.pyramid.id),
                str(first.id) if token is not None else None,
                outcome,
                token,
                str(self.plan.total_notional),
                job_id=f"placement-{self.pyramid.id}",
            )


def finish_placement(
    pyramid_id, first_order_id=None, outcome=None, token=None, notional: str = "0"
) -> list[DcaOrder]:
    """The follow-up of `Placement.send_first`: store the first leg's answer (under the send
    lock the signal job kept, `token`), send the pyramid's other pending legs, write the
    "pyramid placed" line, ask for a fill-monitor pass when something rests, and publish the
    group. Idempotent: legs already stored or sent are left alone (`send_many`)."""
    orders.crash_point("follow_up")
    pyramid = get_row(Pyramid, pyramid_id)
    if pyramid is None:
        return []
    group = get_row(PositionGroup, pyramid.group_id)
    account = get_row(ExchangeAccount, group.account_id)
    legs = list(_ENTRY_LEGS.rows(pyramid=pyramid.id))
    plan = _StoredPlan(pyramid.index, Decimal(notional))
    placement = Placement(group, pyramid, plan, legs, account)
    first = sorted(legs, key=lambda o: (o.order_type != "market", o.leg_index))
    contexts = [orders.OrderContext(o, group, account, pyramid.index) for o in first]
    transmitted = {}
    for ctx in contexts:
        if first_order_id is not None and str(ctx.order.id) == str(first_order_id):
            ctx.outcome = outcome
            transmitted[ctx.order.id] = token
    sent = orders.send_many(contexts, transmitted=transmitted)
    _placed_line(placement, sent)
    if any(o.status in RESTING for o in sent):
        fill_monitor.check_soon(account.id)  # a limit that filled at once is seen now
    fresh = get_row(PositionGroup, group.id)
    if fresh is not None:
        events.publish(events.Event.GROUP_UPDATED, group_out(fresh), fresh.user_id)
    return sent


_ENTRY_LEGS = Prepared(
    lambda: DcaOrder.select().where(
        (DcaOrder.pyramid == Slot("pyramid", DcaOrder.pyramid))
        & (DcaOrder.purpose == OrderPurpose.ENTRY.value)
    )
)


@dataclass
class _StoredPlan:
    """What `_placed_line` reads of a plan, rebuilt from the stored pyramid."""

    pyramid_index: int
    total_notional: Decimal


def _anchor(
    signal: Signal, account: ExchangeAccount, symbol: str, anchor: Decimal | None = None
) -> Decimal:
    """The pyramid's entry price: `anchor` when given (a promoted signal, `promotion_anchor`),
    else the signal's, else the market's last price."""
    if anchor is not None and anchor > 0:
        return anchor
    if signal.entry_price is not None and signal.entry_price > 0:
        return signal.entry_price
    return client_for(account).fetch_ticker(symbol).last


def _plan(
    settings: dict, account, group_side: str, symbol: str, anchor, index, rules=None
) -> PyramidPlan:
    rules = rules if rules is not None else rules_for(account, symbol)
    try:
        return plan_pyramid(settings, rules, group_side, anchor, index, symbol)
    except ValueError as exc:  # an index beyond the settings' pyramids, a bad price
        raise PyramidRefused(f"{symbol} pyramid {index} refused: {exc}") from None


def _store_pyramid(group: PositionGroup, plan: PyramidPlan) -> tuple[Pyramid, list[DcaOrder]]:
    pyramid = Pyramid(
        group=group.id,
        index=plan.pyramid_index,
        entry_price=plan.entry_price,
        capital_usd=plan.capital,
        status=GroupStatus.LIVE.value,
    )
    insert_rows([pyramid])
    legs = [
        orders.build_order(
            group,
            pyramid,
            leg.leg,
            OrderPurpose.ENTRY,
            leg.side,
            leg.order_type,
            leg.quantity,
            price=leg.price,
            weight_percent=leg.weight_percent,
            gap_percent=leg.gap_percent,
            tp_percent=leg.tp_percent,
            tp_price=leg.tp_price,
        )
        for leg in plan.legs
    ]
    insert_rows(legs)
    return pyramid, legs


def _pyramid_event(group: PositionGroup, plan: PyramidPlan, **extra) -> PositionEvent:
    """The unsaved `pyramid_added` event."""
    bumped = f"; {plan.reason}" if plan.reason else ""
    message = (
        f"{trail.label(group)}: pyramid {plan.pyramid_index} stored, {len(plan.legs)} legs, "
        f"{trail.usd(plan.total_notional)} {_quote(group)} at {trail.num(plan.entry_price)}"
        f"{bumped}"
    )
    return trail.event(
        group.id,
        "pyramid_added",
        message,
        pyramid=plan.pyramid_index,
        legs=len(plan.legs),
        entry_price=plan.entry_price,
        capital_usd=plan.capital,
        notional=plan.total_notional,
        **extra,
    )


def _quote(group: PositionGroup) -> str:
    return "USDT" if group.symbol.endswith("USDT") else "USD"


def prepare_group(
    signal: Signal,
    account: ExchangeAccount,
    settings: dict,
    *,
    anchor: Decimal | None = None,
    group_id: str | None = None,
    slot_held: bool = False,
    rules=None,
) -> Placement:
    """Steps 1–3 for a new group, in the caller's transaction. An invalid grid stores the
    group as `failed` with the plan's reason and places nothing. Without a free pool slot
    nothing is stored (`refused="no pool slot"`: the caller queues the signal). A promoted
    signal comes with its `anchor`, its slot already held under `group_id`."""
    from server.services.pool import try_take_slot

    anchor = _anchor(signal, account, signal.symbol, anchor)
    plan = _plan(settings, account, signal.side, signal.symbol, anchor, 0, rules)
    now = utcnow()
    group = PositionGroup(
        user=signal.user_id,
        account=account.id,
        exchange=account.exchange,
        symbol=signal.symbol,
        timeframe=signal.timeframe,
        side=signal.side,
        status=GroupStatus.LIVE.value if plan.valid else GroupStatus.FAILED.value,
        status_changed_at=now,
        max_pyramids=settings["capital"]["max_pyramids"],
        tp_mode=settings["take_profit"]["tp_mode"],
        last_price=anchor,
        last_price_at=now,
    )
    if group_id is not None:
        group.id = group_id
    if not plan.valid:
        group.failure_reason = plan.reason
        group.closed_at = now
        group.save(force_insert=True)
        trail.record(group.id, "group_refused", plan.reason, to_status=group.status)
        system_log(
            LogLevel.WARNING,
            LogCategory.PRECISION,
            f"{trail.label(group)}: {plan.reason}",
            user_id=group.user_id,
            symbol=group.symbol,
        )
        return Placement(group, None, plan, account=account, refused=plan.reason)
    if not slot_held and not try_take_slot(signal.user_id, group, settings):
        return Placement(group, None, plan, account=account, refused="no pool slot")
    group.pyramid_count, group.total_dca_legs = 1, len(plan.legs)
    insert_rows([group])
    pyramid, legs = _store_pyramid(group, plan)
    opened = trail.event(
        group.id,
        "group_opened",
        f"{trail.label(group)}: group opened on {account.exchange} {account.market_type} "
        f"({account.mode})",
        to_status=group.status,
        signal_id=str(signal.id),
    )
    trail.record_all([opened, _pyramid_event(group, plan, signal_id=str(signal.id))])
    return Placement(group, pyramid, plan, legs, account)


def prepare_pyramid(
    group: PositionGroup,
    signal: Signal,
    settings: dict,
    *,
    anchor: Decimal | None = None,
    rules=None,
) -> Placement:
    """Steps 1–3 for the next pyramid of an open group, in the caller's transaction; raises
    `PyramidRefused` (nothing stored) when it cannot be placed. `anchor`: see `_anchor`."""
    group = group_state.lock_group(group.id)
    account = ExchangeAccount.get_by_id(group.account_id)
    index = group.pyramid_count
    if group.no_more_orders:
        raise PyramidRefused(f"pyramid refused: {group.no_more_orders_reason}")
    if index >= group.max_pyramids:
        raise PyramidRefused(
            f"open group already has {index} of {group.max_pyramids} pyramids (max_pyramids)"
        )
    if group.status not in (
        GroupStatus.LIVE.value,
        GroupStatus.PARTIALLY_FILLED.value,
        GroupStatus.ACTIVE.value,
    ):
        raise PyramidRefused(f"pyramid refused: the group is {group.status}")
    anchor = _anchor(signal, account, group.symbol, anchor)
    plan = _plan(settings, account, group.side, group.symbol, anchor, index, rules)
    if not plan.valid:
        raise PyramidRefused(plan.reason)
    pyramid, legs = _store_pyramid(group, plan)
    _pyramid_event(group, plan, signal_id=str(signal.id)).save(force_insert=True)
    group, _ = group_state.recompute_in_tx(group.id, publish=False)
    return Placement(group, pyramid, plan, legs, account)


def _placed_line(placement: Placement, sent: list[DcaOrder]) -> None:
    group, plan = placement.group, placement.plan
    working = sum(1 for o in sent if o.status != OrderStatus.PENDING.value)
    failed = [o for o in sent if o.status == OrderStatus.FAILED.value]
    note = f", {working} of {len(sent)} at the exchange" if working != len(sent) else ""
    system_log(
        LogLevel.ERROR if failed else LogLevel.INFO,
        LogCategory.TRADING,
        f"{trail.label(group)}: pyramid {plan.pyramid_index} placed, {len(sent)} legs, "
        f"{trail.usd(plan.total_notional)} {_quote(group)}{note}",
        user_id=group.user_id,
        symbol=group.symbol,
        group_id=str(group.id),
    )


def open_group(signal: Signal, account: ExchangeAccount, settings: dict) -> PositionGroup:
    """Plan, store (one transaction) and send a new group's first pyramid. Must not be called
    inside a transaction (orders are sent after the commit)."""
    _outside_transaction()
    with db.atomic():
        placement = prepare_group(signal, account, settings)
    placement.send()
    return PositionGroup.get_by_id(placement.group.id)


def add_pyramid(group: PositionGroup, signal: Signal, settings: dict) -> Pyramid:
    """Plan, store and send the group's next pyramid (raises `PyramidRefused`). Must not be
    called inside a transaction."""
    _outside_transaction()
    with db.atomic():
        placement = prepare_pyramid(group, signal, settings)
    placement.send()
    return Pyramid.get_by_id(placement.pyramid.id)


def _outside_transaction() -> None:
    if db.in_transaction():
        raise RuntimeError("orders are sent after the commit: call this outside a transaction")


def recompute_group(group_id) -> PositionGroup:
    """Recompute the group from its legs and publish `group.updated` (see `group_state`)."""
    return group_state.recompute(group_id)


def cancel_entries(group_id, reason: str) -> list[DcaOrder]:
    """Cancel every unfilled DCA order of the group (a `cancel` signal), keeping what filled:
    working entry orders are cancelled at the exchange (a partly filled one keeps its fill),
    pending ones that never reached it are withdrawn. Returns the orders as they ended."""
    working = (
        DcaOrder.select(DcaOrder.id)
        .where(
            (DcaOrder.group == group_id)
            & (DcaOrder.purpose == OrderPurpose.ENTRY.value)
            & (DcaOrder.status.in_(orders.WORKING))
        )
        .order_by(DcaOrder.created_at)
    )
    return [orders.cancel(o.id, reason) for o in working]
