"""Order and group state machines (SPEC §4.1, §4.2) as transition tables in data.

Pure. `apply(status, event)` moves an order; `group_transition(current, new)` checks a group
move; `derive_group_status(current, legs)` says what a group's legs make it. Anything not in a
table raises `IllegalTransition` — a bug or an exchange report that contradicts what the engine
stored, which the caller must log and reconcile rather than paper over.

Order transitions (SPEC §4.2 plus the decisions marked *):

    pending          acknowledged      → open
    pending          partially_filled  → partially_filled  * the acknowledgement already
                                                             carries a partial fill
    pending          filled            → filled            * a market (or marketable) order
                                                             acknowledged already filled
    pending          cancelled|expired → cancelled         * withdrawn before it was sent
                                                             (the group closed first), or the
                                                             exchange expired it unfilled
                                                             (IOC/market with no liquidity)
    pending          rejected          → failed            the exchange refused it
    open             partially_filled  → partially_filled
    open             filled            → filled            * filled in one go
    open             cancelled|expired → cancelled
    partially_filled partially_filled  → partially_filled  * more fill arrived (the filled
                                                             quantity grows; the status not)
    partially_filled filled            → filled
    partially_filled cancelled|expired → cancelled         the partial fill is kept: a
                                                             cancelled order may hold quantity
    open|partially_filled lost         → lost              * reconciliation: the exchange
                                                             knows neither its exchange id nor
                                                             its client id after several tries
    lost             acknowledged      → open              * found again (kept under watch):
    lost             partially_filled  → partially_filled    the exchange's report is applied
    lost             filled            → filled              as for a working order
    lost             cancelled|expired → cancelled

`filled`, `cancelled` and `failed` are final; `lost` is not working (nothing expects it to
fill) but not final either (reconciliation keeps asking for it). `open → open` (a repeated
acknowledgement) is not a transition: `event_from_exchange` returns `None` when nothing
changed, so callers never send one.

Group transitions (SPEC §4.1 plus the decisions marked *):

    waiting          → live, failed, closed*         *dropped from the queue, nothing traded
    live             → partially_filled, active*, closing, closed*, failed
                                                     *active: everything filled at once;
                                                     *closed: every leg cancelled unfilled
    partially_filled → active, closing, closed*, failed
    active           → partially_filled*, closing, closed*, failed
                                                     *a new pyramid adds working legs
    closing          → closed, failed
    closed, failed   final ("any → failed" means any state that is not final)

`derive_group_status` (for `live`, `partially_filled`, `active`; the others move only on an
explicit action):

- every leg done — nothing working and nothing held (each filled leg closed by its TP, every
  other one cancelled or failed) → `closed`; but when nothing ever filled and some leg failed,
  `failed` (e.g. the first order refused for insufficient funds);
- nothing filled yet → `live`;
- something filled and some entry order still working → `partially_filled`;
- something filled and no entry order working → `active`. "Monitoring" (SPEC: "active (every
  leg filled, or monitoring)") is this second case: the legs that did not fill were cancelled
  (a `cancel` signal) or failed (insufficient funds: SPEC §4.6, "legs already filled keep being
  managed"), so only TP / exit monitoring is left.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from server.domain.aggregates import LegState
from server.domain.enums import GroupStatus, OrderStatus

__all__ = [
    "FINAL_GROUP_STATUSES",
    "FINAL_ORDER_STATUSES",
    "GROUP_TRANSITIONS",
    "ORDER_TRANSITIONS",
    "IllegalTransition",
    "OrderEvent",
    "apply",
    "derive_group_status",
    "event_from_exchange",
    "group_transition",
]


class IllegalTransition(ValueError):
    """A state change the table does not allow."""


class OrderEvent(StrEnum):
    """What happened to an order, in a trader's words."""

    ACKNOWLEDGED = "acknowledged"  # the exchange accepted it and it rests on the book
    PARTIALLY_FILLED = "partially_filled"  # some (more) quantity filled
    FILLED = "filled"  # the whole quantity filled
    CANCELLED = "cancelled"  # cancelled (by the engine or on the exchange)
    EXPIRED = "expired"  # the exchange ended it unfilled (time in force, no liquidity)
    REJECTED = "rejected"  # the exchange refused it (insufficient funds, invalid order)
    LOST = "lost"  # the exchange has no record of it, after several lookups


_S, _E = OrderStatus, OrderEvent

ORDER_TRANSITIONS: Mapping[tuple[OrderStatus, OrderEvent], OrderStatus] = MappingProxyType(
    {
        (_S.PENDING, _E.ACKNOWLEDGED): _S.OPEN,
        (_S.PENDING, _E.PARTIALLY_FILLED): _S.PARTIALLY_FILLED,
        (_S.PENDING, _E.FILLED): _S.FILLED,
        (_S.PENDING, _E.CANCELLED): _S.CANCELLED,
        (_S.PENDING, _E.EXPIRED): _S.CANCELLED,
        (_S.PENDING, _E.REJECTED): _S.FAILED,
        (_S.OPEN, _E.PARTIALLY_FILLED): _S.PARTIALLY_FILLED,
        (_S.OPEN, _E.FILLED): _S.FILLED,
        (_S.OPEN, _E.CANCELLED): _S.CANCELLED,
        (_S.OPEN, _E.EXPIRED): _S.CANCELLED,
        (_S.PARTIALLY_FILLED, _E.PARTIALLY_FILLED): _S.PARTIALLY_FILLED,
        (_S.PARTIALLY_FILLED, _E.FILLED): _S.FILLED,
        (_S.PARTIALLY_FILLED, _E.CANCELLED): _S.CANCELLED,
        (_S.PARTIALLY_FILLED, _E.EXPIRED): _S.CANCELLED,
        (_S.OPEN, _E.LOST): _S.LOST,
        (_S.PARTIALLY_FILLED, _E.LOST): _S.LOST,
        (_S.LOST, _E.ACKNOWLEDGED): _S.OPEN,
        (_S.LOST, _E.PARTIALLY_FILLED): _S.PARTIALLY_FILLED,
        (_S.LOST, _E.FILLED): _S.FILLED,
        (_S.LOST, _E.CANCELLED): _S.CANCELLED,
        (_S.LOST, _E.EXPIRED): _S.CANCELLED,
    }
)
FINAL_ORDER_STATUSES = frozenset({_S.FILLED, _S.CANCELLED, _S.FAILED})


def _order_status(value) -> OrderStatus:
    try:
        return OrderStatus(value)
    except ValueError:
        raise IllegalTransition(f"unknown order status {value!r}") from None


def apply(status: OrderStatus | str, event: OrderEvent | str) -> OrderStatus:
    """The order's status after `event`; `IllegalTransition` when the table has no such move."""
    current = _order_status(status)
    try:
        happened = OrderEvent(event)
    except ValueError:
        raise IllegalTransition(f"unknown order event {event!r}") from None
    target = ORDER_TRANSITIONS.get((current, happened))
    if target is None:
        final = " (a final state)" if current in FINAL_ORDER_STATUSES else ""
        raise IllegalTransition(
            f"an order that is {current.value}{final} cannot become {happened.value}"
        )
    return target


def event_from_exchange(
    status: OrderStatus | str,
    exchange_status: str,
    filled: Decimal,
    previous_filled: Decimal,
) -> OrderEvent | None:
    """The event an exchange report means for an order stored as `status` with
    `previous_filled` filled, or `None` when it changes nothing.

    `exchange_status` is the exchange layer's unified status (`open`, `partially_filled`,
    `filled`, `cancelled`, `expired`, `rejected`; ccxt's `closed` and `canceled` are accepted).
    A cancelled or expired order keeps its fill: its event is `cancelled`/`expired` and the
    caller stores the filled quantity along with it."""
    current = _order_status(status)
    reported = {"closed": "filled", "canceled": "cancelled"}.get(exchange_status, exchange_status)
    if current in FINAL_ORDER_STATUSES:
        return None
    if reported == "filled":
        return OrderEvent.FILLED
    if reported in ("cancelled", "expired"):
        return OrderEvent(reported)
    if reported == "rejected":
        return OrderEvent.REJECTED if current is OrderStatus.PENDING else OrderEvent.CANCELLED
    if reported in ("open", "partially_filled"):
        unseen = current in (OrderStatus.PENDING, OrderStatus.LOST)
        if filled > previous_filled or (filled > 0 and unseen):
            return OrderEvent.PARTIALLY_FILLED
        if unseen:
            return OrderEvent.ACKNOWLEDGED
        return None
    raise IllegalTransition(f"unknown exchange order status {exchange_status!r}")


# --------------------------------------------------------------------------- groups

_G = GroupStatus

GROUP_TRANSITIONS: Mapping[GroupStatus, frozenset[GroupStatus]] = MappingProxyType(
    {
        _G.WAITING: frozenset({_G.LIVE, _G.CLOSED, _G.FAILED}),
        _G.LIVE: frozenset({_G.PARTIALLY_FILLED, _G.ACTIVE, _G.CLOSING, _G.CLOSED, _G.FAILED}),
        _G.PARTIALLY_FILLED: frozenset({_G.ACTIVE, _G.CLOSING, _G.CLOSED, _G.FAILED}),
        _G.ACTIVE: frozenset({_G.PARTIALLY_FILLED, _G.CLOSING, _G.CLOSED, _G.FAILED}),
        _G.CLOSING: frozenset({_G.CLOSED, _G.FAILED}),
        _G.CLOSED: frozenset(),
        _G.FAILED: frozenset(),
    }
)
FINAL_GROUP_STATUSES = frozenset({_G.CLOSED, _G.FAILED})
_DERIVED_FROM = frozenset({_G.LIVE, _G.PARTIALLY_FILLED, _G.ACTIVE})


def _group_status(value) -> GroupStatus:
    try:
        return GroupStatus(value)
    except ValueError:
        raise IllegalTransition(f"unknown group status {value!r}") from None


def group_transition(current: GroupStatus | str, new: GroupStatus | str) -> GroupStatus:
    """`new` if a group may move there from `current`, else `IllegalTransition`. Staying in
    the same status is not a transition (and raises too): compare before calling."""
    before, after = _group_status(current), _group_status(new)
    if after not in GROUP_TRANSITIONS[before]:
        final = " (a final state)" if before in FINAL_GROUP_STATUSES else ""
        raise IllegalTransition(
            f"a group that is {before.value}{final} cannot become {after.value}"
        )
    return after


def derive_group_status(current: GroupStatus | str, legs: Iterable[LegState]) -> GroupStatus:
    """The status the group's entry legs make it (module docstring); `current` itself when the
    legs change nothing or when the group is `waiting`, `closing`, `closed` or `failed` (those
    move only on an explicit action). A derived move is always a legal one."""
    before = _group_status(current)
    if before not in _DERIVED_FROM:
        return before
    legs = list(legs)
    if not legs:
        return before
    ever_filled = any(leg.has_fill for leg in legs)
    working = any(leg.working for leg in legs)
    holding = any(leg.is_open for leg in legs)
    if not working and not holding:
        failed = any(leg.status is OrderStatus.FAILED for leg in legs)
        derived = _G.FAILED if failed and not ever_filled else _G.CLOSED
    elif not ever_filled:
        derived = _G.LIVE
    elif working:
        derived = _G.PARTIALLY_FILLED
    else:
        derived = _G.ACTIVE
    if derived is before:
        return before
    return group_transition(before, derived)
