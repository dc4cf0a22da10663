"""The system log and the audit log as the console reads them (API.md "Overview, analytics,
operations"): filtered pages newest first, streamed exports, acknowledging alerts, retention.

Paging is keyset paging on `(created_at, id)`, newest first: the cursor names the last row of a
page and the next page starts strictly after it, so lines written meanwhile never shift a page
(no duplicates, no gaps). Writing lines is `services/journal.py`'s job, not this module's.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import ModelSelect

from server.clock import isoformat, utcnow
from server.domain.enums import LogLevel, Role
from server.domain.settings import DEFAULT_SETTINGS
from server.persistence.db import db
from server.persistence.models import AuditLog, SystemLog, User, WebhookLog
from server.services.webhook_log import BadCursor, decode_cursor, encode_cursor

__all__ = ["ALERT_LEVELS", "AuditFilter", "BadCursor", "LogFilter"]

# Lines at these levels are alerts: pinned until acknowledged.
ALERT_LEVELS = (LogLevel.WARNING.value, LogLevel.ERROR.value, LogLevel.CRITICAL.value)
EXPORT_BATCH = 1000
PURGE_BATCH = 5000
CSV_COLUMNS = (
    "created_at",
    "level",
    "category",
    "symbol",
    "message",
    "acknowledged",
    "user_id",
    "id",
    "context",
)
# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --------------------------------------------------------------------------- shapes


def log_out(row: SystemLog) -> dict:
    """One system-log line as `GET /api/logs` and the `log.created` event carry it."""
    return {
        "id": str(row.id),
        "created_at": isoformat(row.created_at),
        "level": row.level,
        "category": row.category,
        "message": row.message,
        "symbol": row.symbol,
        "context": row.context or {},
        "acknowledged": bool(row.acknowledged),
        "user_id": str(row.user_id) if row.user_id else None,
    }


def audit_out(row: AuditLog, usernames: dict[str, str] | None = None) -> dict:
    actor_id = str(row.actor_id) if row.actor_id else None
    return {
        "id": str(row.id),
        "created_at": isoformat(row.created_at),
        "actor_id": actor_id,
        "actor": (usernames or {}).get(actor_id) if actor_id else None,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "detail": row.detail or {},
        "remote_addr": row.remote_addr,
    }


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class LogFilter:
    """Whose lines and which: `owner_id` None + `include_system` = the caller's own lines and
    the system-wide ones (admins); `system_only` = only lines without a user (admins)."""

    owner_id: uuid.UUID | str | None
    include_system: bool = False
    system_only: bool = False
    levels: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    q: str | None = None
    symbol: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    acknowledged: bool | None = None


@dataclass(frozen=True)
class AuditFilter:
    actor_id: uuid.UUID | str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    q: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _log_query(f: LogFilter) -> ModelSelect:
    query = SystemLog.select()
    if f.system_only:
        query = query.where(SystemLog.user.is_null())
    elif f.include_system:
        query = query.where((SystemLog.user == f.owner_id) | SystemLog.user.is_null())
    else:
        query = query.where(SystemLog.user == f.owner_id)
    if f.levels:
        query = query.where(SystemLog.level.in_(list(f.levels)))
    if f.categories:
        query = query.where(SystemLog.category.in_(list(f.categories)))
    if f.q:
        query = query.where(SystemLog.message.contains(f.q))
    if f.symbol:
        query = query.where(SystemLog.symbol == f.symbol)
    if f.since:
        query = query.where(SystemLog.created_at >= f.since)
    if f.until:
        query = query.where(SystemLog.created_at < f.until)
    if f.acknowledged is not None:
        query = query.where(SystemLog.acknowledged == f.acknowledged)
    return query


def _audit_query(f: AuditFilter) -> ModelSelect:
    query = AuditLog.select()
    if f.actor_id:
        query = query.where(AuditLog.actor == f.actor_id)
    if f.action:
        # "settings" matches settings.save, settings.import, ...; "settings.save" only itself.
        query = query.where(
            (AuditLog.action == f.action) | AuditLog.action.startswith(f.action + ".")
        )
    if f.target_type:
        query = query.where(AuditLog.target_type == f.target_type)
    if f.target_id:
        query = query.where(AuditLog.target_id == f.target_id)
    if f.q:
        query = query.where(AuditLog.action.contains(f.q) | AuditLog.remote_addr.contains(f.q))
    if f.since:
        query = query.where(AuditLog.created_at >= f.since)
    if f.until:
        query = query.where(AuditLog.created_at < f.until)
    return query


def _page(query: ModelSelect, model, limit: int, cursor: str | None):
    """One page newest first and the cursor of the next (None on the last page)."""
    if cursor:
        stamp, row_id = decode_cursor(cursor)
        query = query.where(
            (model.created_at < stamp) | ((model.created_at == stamp) & (model.id < row_id))
        )
    rows = list(query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]) if more and rows else None


def list_logs(f: LogFilter, *, limit: int = 100, cursor: str | None = None):
    return _page(_log_query(f), SystemLog, limit, cursor)


def list_audit(f: AuditFilter, *, limit: int = 100, cursor: str | None = None):
    rows, next_cursor = _page(_audit_query(f), AuditLog, limit, cursor)
    return rows, next_cursor, usernames({r.actor_id for r in rows if r.actor_id})


def usernames(ids) -> dict[str, str]:
    if not ids:
        return {}
    return {
        str(u.id): u.username
        for u in User.select(User.id, User.username).where(User.id.in_(list(ids)))
    }


# --------------------------------------------------------------------------- export


def iter_logs(f: LogFilter, max_rows: int | None = None) -> Iterator[SystemLog]:
    """Every matching line newest first, read in keyset batches (memory stays flat)."""
    sent, cursor = 0, None
    while True:
        batch = EXPORT_BATCH if max_rows is None else min(EXPORT_BATCH, max_rows - sent)
        if batch <= 0:
            return
        rows, cursor = list_logs(f, limit=batch, cursor=cursor)
        yield from rows
        sent += len(rows)
        if cursor is None:
            return


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_line(values) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def export_csv(rows: Iterator[SystemLog]) -> Iterator[str]:
    """CSV (RFC 4180, UTF-8 with a BOM so spreadsheets read accents); text cells that a
    spreadsheet would run as a formula are prefixed with `'`."""
    yield "\ufeff" + _csv_line(CSV_COLUMNS)
    for row in rows:
        line = log_out(row)
        yield _csv_line(
            [
                line["created_at"],
                line["level"],
                line["category"],
                _cell(line["symbol"]),
                _cell(line["message"]),
                "true" if line["acknowledged"] else "false",
                line["user_id"] or "",
                line["id"],
                _cell(json.dumps(line["context"], sort_keys=True)) if line["context"] else "",
            ]
        )


def export_json(rows: Iterator[SystemLog]) -> Iterator[str]:
    """A JSON array of lines in the `GET /api/logs` shape, written as it is read."""
    yield "["
    first = True
    for row in rows:
        yield ("\n" if first else ",\n") + json.dumps(log_out(row), ensure_ascii=False)
        first = False
    yield "\n]\n"


# --------------------------------------------------------------------------- alerts


def may_ack(viewer: User, row: SystemLog) -> bool:
    """Own lines; admins also the system-wide ones (they are the ones who see them)."""
    if row.user_id is None:
        return Role(viewer.role).at_least(Role.ADMIN)
    return str(row.user_id) == str(viewer.id)


def acknowledge(row: SystemLog) -> SystemLog:
    if not row.acknowledged:
        SystemLog.update(acknowledged=True).where(SystemLog.id == row.id).execute()
        row.acknowledged = True
    return row


def acknowledge_all(viewer: User, until: datetime | None = None) -> int:
    """Acknowledge every unacknowledged alert the viewer may acknowledge, written up to `until`
    (default now: lines arriving after the click stay pinned)."""
    owner = SystemLog.user == viewer.id
    if Role(viewer.role).at_least(Role.ADMIN):
        owner = owner | SystemLog.user.is_null()
    return (
        SystemLog.update(acknowledged=True)
        .where(
            owner
            & (SystemLog.acknowledged == False)  # noqa: E712
            & SystemLog.level.in_(list(ALERT_LEVELS))
            & (SystemLog.created_at <= (until or utcnow()))
        )
        .execute()
    )


# --------------------------------------------------------------------------- retention


@dataclass
class PurgeReport:
    system_logs: int = 0
    audit_logs: int = 0
    webhook_logs: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "system_logs": self.system_logs,
            "audit_logs": self.audit_logs,
            "webhook_logs": self.webhook_logs,
        }


def _retention_days(document: dict) -> tuple[int, int]:
    """(system, audit) retention of a settings document, defaults where unreadable."""
    defaults = DEFAULT_SETTINGS["logs"]
    logs = (document or {}).get("logs") or {}
    out = []
    for key in ("system_retention_days", "audit_retention_days"):
        value = logs.get(key)
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        out.append(value if ok else defaults[key])
    return out[0], out[1]


def _delete_older(model, owner_clause, cutoff: datetime) -> int:
    """Delete rows older than `cutoff` in batches (short transactions, no long table lock)."""
    total = 0
    while True:
        ids = [
            r.id
            for r in model.select(model.id)
            .where(owner_clause & (model.created_at < cutoff))
            .limit(PURGE_BATCH)
        ]
        if not ids:
            return total
        with db.atomic():
            total += model.delete().where(model.id.in_(ids)).execute()
        if len(ids) < PURGE_BATCH:
            return total


def purge_expired(now: datetime | None = None) -> PurgeReport:
    """Delete system and webhook log lines older than each user's `logs.system_retention_days`
    and audit lines older than the actor's `logs.audit_retention_days`; lines without a user
    keep the default retention (30 and 90 days)."""
    from server.services.settings import current_settings  # settings imports journal

    now = now or utcnow()
    report = PurgeReport()
    default_system, default_audit = _retention_days(DEFAULT_SETTINGS)
    for user in User.select(User.id, User.username):
        system_days, audit_days = _retention_days(current_settings(user)[1])
        system_cutoff = now - timedelta(days=system_days)
        report.system_logs += _delete_older(SystemLog, SystemLog.user == user.id, system_cutoff)
        report.webhook_logs += _delete_older(WebhookLog, WebhookLog.user == user.id, system_cutoff)
        report.audit_logs += _delete_older(
            AuditLog, AuditLog.actor == user.id, now - timedelta(days=audit_days)
        )
    system_cutoff = now - timedelta(days=default_system)
    report.system_logs += _delete_older(SystemLog, SystemLog.user.is_null(), system_cutoff)
    report.webhook_logs += _delete_older(WebhookLog, WebhookLog.user.is_null(), system_cutoff)
    report.audit_logs += _delete_older(
        AuditLog, AuditLog.actor.is_null(), now - timedelta(days=default_audit)
    )
    return report
