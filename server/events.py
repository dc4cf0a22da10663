"""The only module that emits Socket.IO events; one catalogue of event names (API.md).

Every process emits through the Redis message queue: the web process through its bound
SocketIO, workers through a write-only SocketIO created by `use_emitter`.
"""

from __future__ import annotations

import logging
from enum import StrEnum

log = logging.getLogger(__name__)


class Event(StrEnum):
    GROUP_UPDATED = "group.updated"
    ORDER_UPDATED = "order.updated"
    QUEUE_UPDATED = "queue.updated"
    POOL_UPDATED = "pool.updated"
    RISK_UPDATED = "risk.updated"
    RISK_ACTION = "risk.action"
    LOG_CREATED = "log.created"
    ALERT_CREATED = "alert.created"
    ENGINE_STATUS = "engine.status"
    PRICE_TICK = "price.tick"


_emitter = None


def use_emitter(emitter) -> None:
    """Install the SocketIO object (bound or write-only) that `publish` sends through."""
    global _emitter
    _emitter = emitter


def user_room(user_id) -> str:
    return f"user:{user_id}"


def publish(event: Event, payload: dict, user_id) -> None:
    """Send `event` to the user's private room. A lost event must never fail the caller:
    the browser reloads state over REST on reconnect, so failures are logged, not raised."""
    if _emitter is None:
        log.warning("no event emitter configured; %s not sent", event.value)
        return
    try:
        _emitter.emit(event.value, payload, to=user_room(user_id), namespace="/")
    except Exception:
        log.exception("failed to emit %s", event.value)
