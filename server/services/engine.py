"""The engine status a trader sees (SPEC §4.6, API.md `GET /api/engine`) and their controls:
pause, resume and Apply & Restart Engine.

One status per user, worst first:

- `error`    — trading is paused because an exchange rejected the API credentials
               (`engine_state.INVALID_CREDENTIALS`); only keys that validate again lift it;
- `paused`   — trading is paused for another reason (the trader's own pause, ...);
- `degraded` — running, but the circuit breaker of at least one of the user's exchange
               accounts is open (calls to that exchange are refused until it cools down);
- `running`  — everything trades.

Each status carries the `action` to take, in the trader's words. The pause itself lives in
Redis (`server/state/engine_flags.py`, written through `engine_state`), so every web process and
worker sees it at once. Workers read the settings from the database for every job, so Apply &
Restart Engine restarts nothing: it checks the stored version still validates, records that it
is the one in force and tells every open console.
"""

from __future__ import annotations

from server.api.errors import ApiError
from server.clock import isoformat, utcnow
from server.domain.enums import LogCategory, LogLevel
from server.domain.settings import validate_settings
from server.persistence.models import ExchangeAccount, User
from server.services import engine_state
from server.services.exchanges import breaker_report
from server.services.journal import after_commit, audit, system_log
from server.services.settings import current_record
from server.state.engine_flags import EngineFlags

RUNNING = "running"
PAUSED = "paused"
DEGRADED = "degraded"
ERROR = "error"
STATES = (RUNNING, PAUSED, DEGRADED, ERROR)

ACTION_NEW_KEYS = (
    "Enter valid API keys for the account in Settings → Exchange accounts and validate them; "
    "trading resumes by itself once they pass."
)
ACTION_RESUME = "Resume trading when you are ready (Resume on the dashboard)."
ACTION_DEGRADED = (
    "The engine stopped calling {names} after repeated failures and retries by itself after a "
    "short cool-down; check the exchange's status page and this server's network if it lasts."
)
MANUAL_PAUSE_STATUS = "paused: by the trader"


def _state_of(pause: dict | None, open_breakers: list[dict]) -> str:
    if pause:
        return ERROR if str(pause.get("status", "")).startswith(ERROR) else PAUSED
    return DEGRADED if open_breakers else RUNNING


def _account_name(row: dict) -> str:
    return f"{row['exchange']} {row['market_type']} ({row['mode']})"


def status_of(user_id) -> dict:
    """`GET /api/engine` and the `engine.status` event: the state, why, and what to do."""
    pause = engine_state.pause_of(user_id)
    accounts = ExchangeAccount.select().where(
        (ExchangeAccount.user == user_id) & (ExchangeAccount.is_active == True)  # noqa: E712
    )
    breakers = breaker_report(accounts)
    open_breakers = [b for b in breakers if b["breaker"] == "open"]
    state = _state_of(pause, open_breakers)
    if state == ERROR:
        message, action = pause.get("status") or engine_state.INVALID_CREDENTIALS, ACTION_NEW_KEYS
    elif state == PAUSED:
        message, action = f"trading paused: {pause.get('reason')}", ACTION_RESUME
    elif state == DEGRADED:
        names = ", ".join(_account_name(b) for b in open_breakers)
        message = f"exchange calls suspended (circuit breaker open): {names}"
        action = ACTION_DEGRADED.format(names=names)
    else:
        message, action = "trading", None
    return {
        "status": state,
        "message": message,
        "action": action,
        "paused_at": pause.get("at") if pause else None,
        "pause_reason": pause.get("reason") if pause else None,
        "account_id": pause.get("account_id") if pause else None,
        "accounts": [
            {k: b[k] for k in ("account_id", "exchange", "market_type", "mode", "breaker")}
            | {"last_error": b["last_error"]}
            for b in breakers
        ],
        "can_resume": state == PAUSED,
        "can_pause": state in (RUNNING, DEGRADED),
    }


def _announce(user_id) -> None:
    """`engine.status` with the full status, once the current transaction commits."""
    from server import events

    def send() -> None:
        events.publish(events.Event.ENGINE_STATUS, status_of(user_id), user_id)

    after_commit(send)


def _flags() -> EngineFlags:
    return engine_state._flags()


def pause(user: User, actor: User, remote_addr: str | None) -> dict:
    """The trader's pause: no entry signal opens or extends a group until they resume (the
    groups already open keep being managed). Pausing a paused engine changes nothing."""
    record = {
        "reason": f"by the trader ({actor.username})",
        "status": MANUAL_PAUSE_STATUS,
        "account_id": None,
        "at": isoformat(utcnow()),
        "manual": True,
    }
    if _flags().pause(user.id, record):
        system_log(
            LogLevel.WARNING,
            LogCategory.TRADING,
            f"trading paused by {actor.username}",
            user_id=user.id,
            engine_status=MANUAL_PAUSE_STATUS,
        )
        audit(
            actor.id, "engine.pause", target_type="user", target_id=user.id, remote_addr=remote_addr
        )
        _announce(user.id)
    return status_of(user.id)


def resume(user: User, actor: User, remote_addr: str | None) -> dict:
    """Lift a pause. A pause for invalid credentials is refused (409): SPEC §4.6 says nothing
    is retried until the keys validate again, and validating them lifts it."""
    pause_record = engine_state.pause_of(user.id)
    if pause_record and _state_of(pause_record, []) == ERROR:
        raise ApiError(
            409, f"{pause_record.get('status')}: {ACTION_NEW_KEYS}", "invalid_credentials"
        )
    # `resume_user` logs the line and sends `engine.status` itself.
    if engine_state.resume_user(user.id, f"resumed by {actor.username}"):
        audit(
            actor.id,
            "engine.resume",
            target_type="user",
            target_id=user.id,
            remote_addr=remote_addr,
        )
    return status_of(user.id)


def apply_settings(user: User, actor: User, remote_addr: str | None) -> dict:
    """Apply & Restart Engine for the stored settings: the current version must validate (an
    old document that no longer does is a 422 naming the fields, and nothing is recorded);
    workers read it on their next job, so nothing restarts. Logged, audited, announced."""
    record = current_record(user)
    validate_settings(record.document)  # marshmallow's ValidationError → 422 with fields
    system_log(
        LogLevel.INFO,
        LogCategory.SYSTEM,
        f"settings version {record.version} applied by {actor.username}",
        user_id=user.id,
        settings_version=record.version,
    )
    audit(
        actor.id,
        "engine.apply",
        target_type="user",
        target_id=user.id,
        remote_addr=remote_addr,
        version=record.version,
    )
    _announce(user.id)
    return {
        **status_of(user.id),
        "applied_version": record.version,
        "applied_at": isoformat(utcnow()),
    }
