"""Whether the engine trades for a user: the pause switch the engine-status issue builds on.

`pause_user` is called when trading must stop for a user — today by the order service on an
authentication failure (SPEC §4.6: "trading pauses for that user, engine status becomes
`error: invalid API credentials` … nothing is retried until the keys validate again"). The
pause lives in Redis (every process sees it at once) and every pause/resume writes a system
log line (the durable record). While paused: no entry signal opens or extends a group, the
fill monitor leaves the user's accounts alone and no pending order is re-sent.
`resume_user` lifts it (called when an account of the user validates again).
"""

from __future__ import annotations

from flask import current_app

from server import runtime
from server.clock import isoformat, utcnow
from server.domain.enums import LogCategory, LogLevel
from server.services.journal import system_log
from server.state.engine_flags import EngineFlags

INVALID_CREDENTIALS = "error: invalid API credentials"
RUNNING = "running"


def _flags() -> EngineFlags:
    return EngineFlags(runtime.redis_client(), current_app.config["RQ_QUEUE_PREFIX"])


def pause_user(user_id, reason: str, *, status: str | None = None, account_id=None) -> bool:
    """Pause trading for `user_id` with a reason a trader can act on; `status` is the engine
    status text shown meanwhile (default `paused: <reason>`). Returns True when this call
    paused a running user (a repeated pause keeps the first record and logs nothing)."""
    record = {
        "reason": reason,
        "status": status or f"paused: {reason}",
        "account_id": str(account_id) if account_id else None,
        "at": isoformat(utcnow()),
    }
    first = _flags().pause(user_id, record)
    if first:
        system_log(
            LogLevel.CRITICAL,
            LogCategory.TRADING,
            f"trading paused: {reason}",
            user_id=user_id,
            alert=True,
            engine_status=record["status"],
            account_id=record["account_id"],
        )
        _announce(user_id, record)
    return first


def _announce(user_id, record: dict) -> None:
    from server import events

    events.publish(
        events.Event.ALERT_CREATED,
        {"level": "critical", "kind": "trading_paused", "message": record["reason"], **record},
        user_id,
    )
    events.publish(events.Event.ENGINE_STATUS, _status_payload(user_id), user_id)


def _status_payload(user_id) -> dict:
    """The `engine.status` event carries the `GET /api/engine` resource (API.md: events have
    the REST shape)."""
    from server.services.engine import status_of

    return status_of(user_id)


def resume_user(user_id, reason: str) -> bool:
    """Lift a pause; True when the user was paused."""
    lifted = _flags().resume(user_id)
    if lifted:
        system_log(
            LogLevel.INFO, LogCategory.TRADING, f"trading resumed: {reason}", user_id=user_id
        )
        from server import events

        events.publish(events.Event.ENGINE_STATUS, _status_payload(user_id), user_id)
    return lifted


def pause_of(user_id) -> dict | None:
    """The pause record of `user_id`, or None when the engine trades for them."""
    return _flags().paused(user_id)


def paused_users(user_ids) -> dict[str, dict]:
    """Pause records of those of `user_ids` that are paused (one Redis round trip)."""
    return _flags().paused_many(user_ids)


def status_text(user_id) -> str:
    """The engine status of a user: `running`, or the pause's status text."""
    record = pause_of(user_id)
    return record["status"] if record else RUNNING
