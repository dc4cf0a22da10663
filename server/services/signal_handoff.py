"""Where a classified signal goes next — until the position lifecycle exists, a keep-alive.

`hand_off` is the one seam the position-lifecycle issue replaces: it receives a signal the
worker has classified (SPEC §2.3) inside the worker's transaction and says what became of it.
Today:

- **new group** → a `waiting` PositionGroup is opened and `group.updated` is published after
  commit (the thin slice's behaviour: the browser demo and the e2e test rely on it). No pool
  slot is taken and no grid or order is built yet.
- **pyramid** → recorded only ("pyramid (lifecycle not built yet)"); nothing is incremented.
- **exit / cancel** on an open group → recorded only; the group is not closed and no order is
  cancelled yet (the reason says so).
- **ignored / rejected** → recorded with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from server import events
from server.api.serializers import group_out
from server.domain.enums import GroupStatus
from server.domain.signal_routing import Classification, Decision
from server.persistence.models import ExchangeAccount, PositionGroup, Signal, User
from server.services.settings import effective_settings

NOT_BUILT = "position lifecycle not built yet"


@dataclass
class HandOff:
    """What became of a signal: the group it concerns, the reason to record, and what to do
    once the transaction has committed (events must never announce uncommitted state)."""

    classification: Classification
    reason: str
    group: PositionGroup | None = None
    after_commit: list[Callable[[], None]] = field(default_factory=list)


def hand_off(
    signal: Signal,
    decision: Decision,
    group: PositionGroup | None,
    account: ExchangeAccount | None,
) -> HandOff:
    """Act on a classified signal inside the caller's transaction (keep-alive, see module doc)."""
    kind = decision.classification
    if kind is Classification.NEW_GROUP and account is not None:
        settings = effective_settings(User.get_by_id(signal.user_id))
        capital, take_profit = settings["capital"], settings["take_profit"]
        opened = PositionGroup.create(
            user=signal.user_id,
            account=account.id,
            exchange=account.exchange,
            symbol=signal.symbol,
            timeframe=signal.timeframe,
            side=signal.side,
            status=GroupStatus.WAITING.value,
            max_pyramids=capital["max_pyramids"],
            tp_mode=take_profit["tp_mode"],
        )
        payload = group_out(opened)
        return HandOff(
            kind,
            f"new group: opened as waiting; grid and orders come with the {NOT_BUILT}",
            opened,
            [lambda: events.publish(events.Event.GROUP_UPDATED, payload, signal.user_id)],
        )
    if kind is Classification.PYRAMID:
        return HandOff(kind, f"pyramid ({NOT_BUILT}): {decision.reason}", group)
    if kind is Classification.EXIT:
        return HandOff(kind, f"exit recorded; the group is not closed yet ({NOT_BUILT})", group)
    if kind is Classification.CANCEL:
        return HandOff(kind, f"cancel recorded; no DCA order is cancelled yet ({NOT_BUILT})", group)
    return HandOff(kind, decision.reason, group)
