"""The system log and the audit log: one place that writes both (SPEC §8)."""

from __future__ import annotations

import logging

from server.domain.enums import LogCategory, LogLevel
from server.persistence.models import AuditLog, SystemLog
from server.security.redaction import redact_document, redact_text

log = logging.getLogger("engine")


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
    return SystemLog.create(
        user=user_id,
        level=level.value,
        category=category.value,
        message=message,
        symbol=symbol,
        context=context,
    )


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
