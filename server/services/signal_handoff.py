"""Where a classified signal goes next (SPEC §2.3): the position lifecycle's entry point.

`hand_off` runs inside the signal worker's transaction. Whatever reaches the exchange runs
from `HandOff.after_commit`, after that transaction committed — an order is stored before it
is sent, and events never announce uncommitted state:

- **new group** → the group (`live`), its first pyramid and every leg are stored
  (`positions.prepare_group`); after commit the legs are sent, market leg first. An invalid
  grid stores the group `failed` with the plan's reason and sends nothing.
- **pyramid** → the next pyramid is stored and, after commit, sent; a pyramid that cannot be
  placed (invalid grid, the group sends no more orders after insufficient funds) is ignored
  with the reason. Beyond `max_pyramids` the signal was already classified `ignored`.
- **cancel** → after commit, the group's unfilled DCA orders are cancelled (filled quantity
  is kept).
- **exit** → after commit, `server.services.closing.close_group(group_id, reason="exit
  signal", trigger="signal")` (the closing side). Until that module exists the exit is
  recorded only, and the reason says so.
- **ignored / rejected** → recorded with the reason.
- **pool and queue** (SPEC §5, `services.pool` / `services.queue`): a new group needs a pool
  slot; without one the signal is queued. An entry for a lane whose entry waits in the queue
  replaces it (classification `queued`, the earlier signal becomes `replaced`); an exit or
  cancel for such a lane drops the queued entry. When pyramids count toward the pool, a
  pyramid without a slot is queued too (a pyramid continuation: first in line).

While the user's trading is paused (invalid API credentials, SPEC §4.6) entry signals are
rejected with the pause's reason. When the market rules cannot be had (exchange unreachable)
an entry is held — `HoldSignal` fails the job and the lane is driven again later — for up to
`precision_hold_seconds`, then rejected (SPEC §3.3).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from server import events
from server.api.serializers import group_out
from server.clock import utcnow
from server.domain.signal_routing import Classification, Decision
from server.exchange.errors import ExchangeError, UnknownSymbol
from server.persistence.db import db
from server.persistence.models import ExchangeAccount, PositionGroup, Signal
from server.services import engine_state, pool, positions, queue
from server.services.settings import effective_settings_of

log = logging.getLogger(__name__)

CLOSING_MODULE = "server.services.closing"


class HoldSignal(Exception):
    """The signal cannot be traded yet (no market rules): fail the job, retry the lane later."""


@dataclass
class HandOff:
    """What became of a signal: the group it concerns, the reason to record, and what to do
    once the transaction has committed (events must never announce uncommitted state)."""

    classification: Classification
    reason: str
    group: PositionGroup | None = None
    after_commit: list[Callable[[], None]] = field(default_factory=list)


def _publish_group(group: PositionGroup) -> Callable[[], None]:
    payload = group_out(group)
    return lambda: events.publish(events.Event.GROUP_UPDATED, payload, group.user_id)


def _send_then_publish(placement: positions.Placement) -> Callable[[], None]:
    """Send the first leg now (the latency target is signal → first order); storing its
    answer, the other legs, the take-profit hook and `group.updated` run as a follow-up job
    (`positions.Placement.send_first`)."""
    return placement.send_first


def _hold_or_reject(signal: Signal, settings: dict, exc: ExchangeError) -> HandOff:
    hold = int(settings["precision"].get("precision_hold_seconds", 120))
    age = (utcnow() - signal.created_at).total_seconds()
    if age < hold:
        raise HoldSignal(f"market rules unavailable ({exc}); held {int(age)} of {hold} s")
    return HandOff(
        Classification.REJECTED,
        f"market rules for {signal.symbol} unavailable for {hold} s "
        f"(precision_hold_seconds): {type(exc).__name__}: {exc}; never sent unvalidated",
    )


def _replace_queued(signal: Signal, account: ExchangeAccount) -> HandOff | None:
    """SPEC §5: a new entry for a lane whose entry waits in the queue replaces it."""
    row = queue.queued_for_lane(account.id, signal.symbol, signal.timeframe, signal.side)
    if row is None:
        return None
    row = queue.replace(row, signal)
    return HandOff(
        Classification.QUEUED,
        f"queued: replaces the queued entry of this lane (replacement {row.replacement_count}); "
        "keeps its place in time (SPEC §5)",
    )


def _queue(signal: Signal, account: ExchangeAccount, settings: dict, what: str) -> HandOff:
    queue.enqueue(signal, account.id)
    limit = settings["pool"]["max_open_groups"]
    return HandOff(
        Classification.QUEUED,
        f"queued: the pool is full ({limit} of {limit} slots); {what} waits for a slot (SPEC §5)",
    )


def _new_group(signal: Signal, account: ExchangeAccount, settings: dict, rules=None) -> HandOff:
    replaced = _replace_queued(signal, account)
    if replaced is not None:
        return replaced
    try:
        placement = positions.prepare_group(signal, account, settings, rules=rules)
    except UnknownSymbol as exc:
        return HandOff(Classification.REJECTED, f"unknown symbol: {exc}")
    except ExchangeError as exc:
        return _hold_or_reject(signal, settings, exc)
    except positions.PyramidRefused as exc:
        return HandOff(Classification.REJECTED, str(exc))
    group = placement.group
    if placement.refused == "no pool slot":
        return _queue(signal, account, settings, "the new group")
    if placement.refused:
        return HandOff(
            Classification.NEW_GROUP,
            f"new group refused, nothing sent: {placement.refused}",
            group,
            [_publish_group(group)],
        )
    plan = placement.plan
    reason = (
        f"new group: pyramid 0 with {len(plan.legs)} legs stored and sent "
        f"(anchor {plan.entry_price})"
    )
    return HandOff(Classification.NEW_GROUP, reason, group, [_send_then_publish(placement)])


class _NoPyramidSlot(Exception):
    """Pyramids count toward the pool and it is full: roll the pyramid back, queue it."""


def _pyramid(signal: Signal, group: PositionGroup, settings: dict, decision, rules=None) -> HandOff:
    try:
        with db.atomic():  # a savepoint: undone when the pyramid finds no pool slot
            placement = positions.prepare_pyramid(group, signal, settings, rules=rules)
            index = placement.plan.pyramid_index
            if not pool.try_take_pyramid_slot(placement.group, index, settings):
                raise _NoPyramidSlot
    except _NoPyramidSlot:
        account = ExchangeAccount.get_by_id(signal.account_id)
        replaced = _replace_queued(signal, account)
        if replaced is not None:
            replaced.group = group
            return replaced
        handoff = _queue(signal, account, settings, "the pyramid (count_pyramids_toward_pool)")
        handoff.group = group
        return handoff
    except positions.PyramidRefused as exc:
        return HandOff(Classification.IGNORED, str(exc), group)
    except UnknownSymbol as exc:
        return HandOff(Classification.REJECTED, f"unknown symbol: {exc}", group)
    except ExchangeError as exc:
        handoff = _hold_or_reject(signal, settings, exc)
        handoff.group = group
        return handoff
    plan = placement.plan
    reason = (
        f"pyramid {plan.pyramid_index}: {len(plan.legs)} legs stored and sent "
        f"(anchor {plan.entry_price}); {decision.reason}"
    )
    return HandOff(Classification.PYRAMID, reason, placement.group, [_send_then_publish(placement)])


def closing_available() -> bool:
    """Whether the closing side (`server.services.closing`) is installed."""
    return importlib.util.find_spec(CLOSING_MODULE) is not None


def _exit(group: PositionGroup) -> HandOff:
    if not closing_available():
        return HandOff(
            Classification.EXIT,
            "exit recorded; the group is not closed (the closing side is not installed)",
            group,
        )

    def close() -> None:
        closing = importlib.import_module(CLOSING_MODULE)
        closing.close_group(group.id, reason="exit signal", trigger="signal")

    return HandOff(Classification.EXIT, "exit: the group is being closed", group, [close])


def _cancel(group: PositionGroup) -> HandOff:
    def cancel() -> None:
        positions.cancel_entries(group.id, "cancel signal")
        positions.recompute_group(group.id)
        if closing_available():
            # every leg ended (nothing filled, or each filled leg already closed by its TP):
            # book it like any other end — realised PnL, `closed`, the slot freed, unindexed
            importlib.import_module(CLOSING_MODULE).finish_if_done(group.id)

    return HandOff(
        Classification.CANCEL,
        "cancel: the group's unfilled DCA orders are being cancelled; filled quantity is kept",
        group,
        [cancel],
    )


def _drop_queued_too(signal: Signal, handoff: HandOff) -> HandOff:
    """An exit/cancel also drops the lane's queued entry (a pyramid queued while pyramids
    count toward the pool)."""
    if queue.drop_for_lane(signal, signal.intent) is not None:
        handoff.reason += "; the lane's queued entry signal was dropped from the queue"
    return handoff


def hand_off(
    signal: Signal,
    decision: Decision,
    group: PositionGroup | None,
    account: ExchangeAccount | None,
    settings: dict | None = None,
    rules=None,
) -> HandOff:
    """Act on a classified signal inside the caller's transaction (see the module doc).
    `rules`: the market rules the caller read for the signal's symbol (else read here)."""
    kind = decision.classification
    if kind in (Classification.NEW_GROUP, Classification.PYRAMID):
        pause = engine_state.pause_of(signal.user_id)
        if pause is not None:
            return HandOff(
                Classification.REJECTED,
                f"not traded: trading is paused ({pause['status']}): {pause['reason']}",
                group,
            )
        settings = settings or effective_settings_of(signal.user_id)
        if kind is Classification.NEW_GROUP and account is not None:
            return _new_group(signal, account, settings, rules)
        if kind is Classification.PYRAMID and group is not None:
            return _pyramid(signal, group, settings, decision, rules)
    if kind is Classification.EXIT and group is not None:
        return _drop_queued_too(signal, _exit(group))
    if kind is Classification.CANCEL and group is not None:
        return _drop_queued_too(signal, _cancel(group))
    if group is None and signal.intent in ("exit", "cancel") and signal.account_id is not None:
        dropped = queue.drop_for_lane(signal, signal.intent)
        if dropped is not None:
            kind = Classification.EXIT if signal.intent == "exit" else Classification.CANCEL
            return HandOff(
                kind,
                f"{signal.intent}: no open group; the queued entry signal of this lane was "
                "dropped from the queue",
            )
    return HandOff(kind, decision.reason, group)
