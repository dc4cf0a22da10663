"""The webhook log (SPEC §2.1, API.md `GET /api/webhooks`): one row per request, secrets
redacted before anything is stored, newest first with cursor paging.

Redaction is threefold: every secret-named key is replaced (`redact_document`), the user's
actual webhook secret is scrubbed from every string wherever the sender put it, and a body
that is not JSON keeps only a redacted excerpt of its first bytes.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

from server.clock import isoformat
from server.domain.signal_body import clean_text, storable
from server.persistence.models import WebhookLog
from server.security.redaction import REDACTED, redact_document, redact_text

EXCERPT_BYTES = 512


def _scrub(value: Any, secret: str | None) -> Any:
    if not secret:
        return value
    if isinstance(value, dict):
        return {_scrub(k, secret): _scrub(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secret) for v in value]
    if isinstance(value, str) and secret in value:
        return value.replace(secret, REDACTED)
    return value


def stored_payload(doc: Any, secret: str | None) -> Any:
    """What the log keeps of a decoded JSON document: redacted and storable."""
    if doc is None:
        return None
    return _scrub(redact_document(storable(doc)), secret)


def stored_excerpt(raw: bytes, secret: str | None) -> dict:
    """What the log keeps of a body that is not JSON: a redacted excerpt to debug it with."""
    text = raw[:EXCERPT_BYTES].decode("utf-8", errors="replace")
    text = redact_text(clean_text(text))
    if secret:
        text = text.replace(secret, REDACTED)
    return {"_unparsed": text, "_bytes": len(raw)}


def record(
    *,
    user_id,
    remote_addr: str | None,
    status: str,
    http_status: int,
    reason: str | None,
    payload: Any = None,
    symbol: str | None = None,
    authenticated: bool = False,
    signal_id=None,
    is_replay: bool = False,
    replay_of=None,
) -> WebhookLog:
    """Write one row. `payload` must already be redacted (`stored_payload`/`stored_excerpt`)."""
    return WebhookLog.create(
        user=user_id,
        remote_addr=(remote_addr or "")[:64] or None,
        status=status,
        http_status=http_status,
        reason=clean_text(reason) if reason else None,
        payload=payload,
        symbol=symbol,
        authenticated=authenticated,
        signal=signal_id,
        is_replay=is_replay,
        replay_of=replay_of,
    )


# --------------------------------------------------------------------------- listing


class BadCursor(ValueError):
    """The cursor was not produced by this endpoint."""


def encode_cursor(row: WebhookLog) -> str:
    text = f"{row.created_at.isoformat()}|{row.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        text = base64.urlsafe_b64decode(cursor.encode() + b"==").decode()
        stamp, _, row_id = text.partition("|")
        return datetime.fromisoformat(stamp), uuid.UUID(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadCursor("cursor is not one this endpoint returned") from exc


def list_rows(
    owner_id,
    *,
    status: str | None = None,
    symbol: str | None = None,
    classification: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[WebhookLog], str | None]:
    """One page of a user's webhook log, newest first, and the cursor of the next page."""
    query = WebhookLog.select().where(WebhookLog.user == owner_id)
    if status:
        query = query.where(WebhookLog.status == status)
    if symbol:
        query = query.where(WebhookLog.symbol == symbol)
    if classification:
        query = query.where(WebhookLog.classification == classification)
    if since:
        query = query.where(WebhookLog.created_at >= since)
    if until:
        query = query.where(WebhookLog.created_at < until)
    if cursor:
        stamp, row_id = decode_cursor(cursor)
        query = query.where(
            (WebhookLog.created_at < stamp)
            | ((WebhookLog.created_at == stamp) & (WebhookLog.id < row_id))
        )
    rows = list(query.order_by(WebhookLog.created_at.desc(), WebhookLog.id.desc()).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]) if more and rows else None


def row_out(row: WebhookLog) -> dict:
    """The API shape of one row (API.md "Signals")."""
    return {
        "id": str(row.id),
        "received_at": isoformat(row.created_at),
        "status": row.status,
        "http_status": row.http_status,
        "reason": row.reason,
        "classification": row.classification,
        "symbol": row.symbol,
        "payload": row.payload,
        "signal_id": str(row.signal_id) if row.signal_id else None,
        "group_id": str(row.group_id) if row.group_id else None,
        "is_replay": row.is_replay,
        "replay_of": str(row.replay_of) if row.replay_of else None,
        "remote_addr": row.remote_addr,
    }
