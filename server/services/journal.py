"""The system log and the audit log: one place that writes both (SPEC §8).

Every system-log line of a user is announced to that user's browsers as `log.created` once it
is committed: at once outside a transaction, after the outermost commit inside one (peewee's
`after_commit`; a rolled-back transaction announces nothing). System-wide lines (no user) are
not pushed; admins read them over REST.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from server import events
from server.domain.enums import LogCategory, LogLevel
from server.persistence.db import db
from server.persistence.models import AuditLog, SystemLog
from server.persistence.prepared import insert_rows
from server.security.redaction import redact_document, redact_text
from server.services.logs import log_out

log = logging.getLogger("engine")


def after_commit(action: Callable[[], None]) -> None:
    """Run `action` once the current transaction commits (now, outside a transaction)."""
    try:
        db.after_commit(action)
    except ValueError:  # a manual-commit block: there is no commit to wait for
        action()


def system_log(
    level: LogLevel,
    category: LogCategory,
    message: str,
    *,
    user_id=None,
    symbol: str | None = None,
    **context,
) -> SystemLog:
    """Write one system log line (redacted) to the database and to the process log."""
    message = redact_text(message)
    context = redact_document(context)
    log.log(logging.getLevelName(level.value), "[%s] %s", category.value, message)
    row = SystemLog(
        user=user_id,
        level=level.value,
        category=category.value,
        message=message,
        symbol=symbol,
        context=context,
    )
    insert_rows([row])  # its text built once (the hot paths write a line per placement)
    if user_id is not None:
        payload = log_out(row)
        after_commit(lambda: events.publish(events.Event.LOG_CREATED, payload, user_id))
    return row


def audit(
    actor_id,
    action: str,
    *,
    target_type: str | None = None,
    target_id=None,
    remote_addr: str | None = None,
    **detail,
) -> AuditLog:
    """Record who changed what, when and from where."""
    return AuditLog.create(
        actor=actor_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        detail=redact_document(detail),
        remote_addr=remote_addr,
    )
