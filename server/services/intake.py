"""Webhook intake, thin slice (SPEC §2.1): authenticate, log, persist the signal, enqueue.

The full intake (normalisation, validation, freshness, body-hash idempotency, IP allowlist)
is its own issue; this slice already keeps the fast-path shape: no exchange call, no
waiting on workers, every request written to the webhook log with secrets redacted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass

from peewee import IntegrityError

from server import queues
from server.domain.enums import WebhookOutcome
from server.persistence.db import db
from server.persistence.models import Signal, User, WebhookLog
from server.security.redaction import redact_document
from server.services.users import matches_webhook_secret, webhook_secret

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024


@dataclass(frozen=True)
class IntakeResult:
    http_status: int
    body: dict


def _user(user_id: str) -> User | None:
    try:
        user = User.get_or_none(User.id == uuid.UUID(user_id))
    except ValueError:
        return None
    return user if user is not None and user.is_active else None


def _parse(raw: bytes):
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None


def _signature_ok(user: User, raw: bytes, signature: str) -> bool:
    expected = hmac.new(webhook_secret(user).encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def _authenticated(user: User | None, payload, raw: bytes, signature: str | None) -> bool:
    if user is None:
        return False
    if signature:
        return _signature_ok(user, raw, signature)
    presented = payload.get("secret") if isinstance(payload, dict) else None
    return isinstance(presented, str) and matches_webhook_secret(user, presented)


def _log(
    user,
    remote_addr,
    outcome: WebhookOutcome,
    http_status: int,
    reason: str | None,
    payload,
    signal=None,
) -> WebhookLog:
    return WebhookLog.create(
        user=user,
        remote_addr=remote_addr,
        status=outcome.value,
        http_status=http_status,
        reason=reason,
        payload=redact_document(payload) if payload is not None else None,
        signal=signal,
    )


def _refuse(user, remote_addr, outcome, status, reason, payload, code) -> IntakeResult:
    _log(user, remote_addr, outcome, status, reason, payload)
    return IntakeResult(status, {"error": {"code": code, "message": reason, "fields": {}}})


def receive(
    user_id: str, raw: bytes, signature: str | None, remote_addr: str | None
) -> IntakeResult:
    """Handle one webhook request end to end (minus the worker's part)."""
    user = _user(user_id)
    if len(raw) > MAX_BODY_BYTES:
        return _refuse(
            user,
            remote_addr,
            WebhookOutcome.REJECTED,
            413,
            f"body larger than {MAX_BODY_BYTES} bytes",
            None,
            "payload_too_large",
        )
    payload = _parse(raw)
    if not _authenticated(user, payload, raw, signature):
        # Same answer for an unknown user and a wrong secret: no user enumeration.
        return _refuse(
            user,
            remote_addr,
            WebhookOutcome.UNAUTHORIZED,
            401,
            "unknown webhook or wrong secret",
            payload,
            "unauthenticated",
        )
    if not isinstance(payload, dict):
        return _refuse(
            user,
            remote_addr,
            WebhookOutcome.INVALID,
            400,
            "body must be a JSON object",
            None,
            "malformed_json",
        )
    signal_id = uuid.uuid4()
    sender_id = payload.get("signal_id")
    dedupe_key = f"id:{sender_id}" if isinstance(sender_id, str) and sender_id else str(signal_id)
    try:
        with db.atomic():
            signal = Signal.create(
                id=signal_id,
                user=user,
                dedupe_key=dedupe_key[:128],
                payload=redact_document(payload),
            )
            _log(user, remote_addr, WebhookOutcome.ACCEPTED, 202, None, payload, signal)
    except IntegrityError:
        _log(user, remote_addr, WebhookOutcome.DUPLICATE, 200, "signal_id already seen", payload)
        return IntakeResult(200, {"status": "duplicate"})
    queues.enqueue(
        queues.SIGNALS,
        "workers.jobs.signals.process_signal",
        str(signal_id),
        job_id=f"signal-{signal_id}",
    )
    return IntakeResult(202, {"signal_id": str(signal_id), "status": "accepted"})
