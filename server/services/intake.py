"""Webhook intake (SPEC §2.1–2.2): the fast path from an HTTP request to an accepted signal.

In order: per-address rate limit → failed-authentication block → size (`413`) → decode →
IP allowlist and secret or `X-Signature` (`401`, identical for an unknown user) → body problems
(`400`) → per-user rate limit (`429`) → bounds and payload validation (`422 invalid`) →
freshness (`422 stale`) → account choice (`422 rejected`) → signal, duplicate-window slot and
log row atomically (`200 duplicate`) → join the signal's lane, call a worker → `202 accepted`.

No exchange call and no waiting on workers: symbols are checked for form here and resolved
against the exchange's markets by the worker. Every request writes one webhook-log row (floods
of refused requests: one per second per limit key), with secrets redacted.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from marshmallow import ValidationError
from peewee import IntegrityError

from server.clock import utcnow
from server.domain.enums import LogCategory, LogLevel, WebhookOutcome
from server.domain.settings import DEFAULT_SETTINGS, SignalsSchema
from server.domain.signal_body import (
    MAX_BODY_BYTES,
    DecodedBody,
    check_bounds,
    decode_body,
    fingerprint,
)
from server.domain.signal_routing import AccountView, choose_account, freshness_problem, lane_of
from server.domain.signals import SignalRequest, field_messages, interpret, symbol_hint
from server.persistence.intake_queries import Sender, insert_accepted, load_sender
from server.persistence.models import User, WebhookLog
from server.services import signal_lanes, webhook_guard, webhook_log
from server.services.journal import audit, system_log
from server.services.users import webhook_secret

log = logging.getLogger(__name__)

DUPLICATE_WINDOW = timedelta(minutes=10)
_SIGNALS_SCHEMA = SignalsSchema()
UNAUTHENTICATED = "unknown webhook or wrong secret"


@dataclass(frozen=True)
class IntakeResult:
    http_status: int
    body: dict
    headers: dict = field(default_factory=dict)


@dataclass
class _Request:
    """One webhook request as the intake sees it."""

    url_user_id: str
    raw: bytes
    remote_addr: str
    sender: Sender | None = None
    secret: str | None = None  # the user's webhook secret: compared and scrubbed, never logged
    decoded: DecodedBody | None = None
    replay_of: uuid.UUID | None = None

    @property
    def user(self) -> User | None:
        return self.sender.user if self.sender else None

    def payload(self):
        if self.decoded is not None and self.decoded.doc is not None:
            return webhook_log.stored_payload(self.decoded.doc, self.secret)
        if self.raw:
            return webhook_log.stored_excerpt(self.raw, self.secret)
        return None

    def record(self, outcome: WebhookOutcome, http_status: int, reason: str | None, **extra):
        doc = self.decoded.doc if self.decoded else None
        return webhook_log.record(
            user_id=self.user.id if self.user else None,
            remote_addr=self.remote_addr,
            status=outcome.value,
            http_status=http_status,
            reason=reason,
            payload=extra.pop("payload", None) or self.payload(),
            symbol=extra.pop("symbol", None) or symbol_hint(doc),
            is_replay=self.replay_of is not None,
            replay_of=self.replay_of,
            **extra,
        )


def _error(status: int, code: str, message: str, fields=None, headers=None) -> IntakeResult:
    body = {"error": {"code": code, "message": message, "fields": fields or {}}}
    return IntakeResult(status, body, headers or {})


def _sender(url_user_id: str) -> Sender | None:
    """The active user behind a webhook URL (with settings and accounts), or `None`."""
    try:
        sender = load_sender(uuid.UUID(url_user_id))
    except ValueError:
        return None
    return sender if sender is not None and sender.user.is_active else None


def _signal_settings(sender: Sender) -> Mapping:
    """The sender's `signals` settings section, loaded over the defaults (read-only)."""
    text = sender.signals_text
    if text is None and sender.signals_settings is not None:
        text = json.dumps(sender.signals_settings, sort_keys=True)
    settings, valid = _validated_signals(text)
    if not valid:
        log.error(
            "stored signals settings of user %s do not validate; using defaults", sender.user.id
        )
    return settings


@functools.lru_cache(maxsize=1024)
def _validated_signals(text: str | None) -> tuple[Mapping, bool]:
    """The `signals` section stored as `text` (JSON; None: never saved) validated over the
    defaults, and whether it validated (else the defaults). Cached by the text itself: a
    saved change is new text, so nothing needs invalidating; the marshmallow load is most of
    a webhook's settings cost and every webhook of a user asks the same question."""
    stored = json.loads(text) if text is not None else {}
    try:
        loaded = _SIGNALS_SCHEMA.load(DEFAULT_SETTINGS["signals"] | (stored or {}))
        valid = True
    except ValidationError:
        loaded, valid = _SIGNALS_SCHEMA.load(DEFAULT_SETTINGS["signals"]), False
    return MappingProxyType(loaded), valid


# --------------------------------------------------------------------------- refusals


def _rate_limited(req: _Request, refusal: webhook_guard.Refusal, key: str) -> IntakeResult:
    if webhook_guard.first_in_second(key):
        if req.sender is None and key.startswith("auth:"):
            req.sender = _sender(req.url_user_id)
        req.record(
            WebhookOutcome.RATE_LIMITED,
            429,
            f"{refusal.reason}; retry after {refusal.retry_after} s (further refusals in the "
            "same second are not logged one by one)",
            payload={"_unread": True},
        )
        if key.startswith("auth:"):
            system_log(
                LogLevel.WARNING,
                LogCategory.SECURITY,
                f"webhook requests from {req.remote_addr} refused: {refusal.reason}",
                user_id=req.user.id if req.user else None,
                remote_addr=req.remote_addr,
            )
    message = f"too many requests: {refusal.reason}; retry after {refusal.retry_after} s"
    return _error(429, "rate_limited", message, headers={"Retry-After": str(refusal.retry_after)})


def _auth_failure(req: _Request, why: str) -> IntakeResult:
    """The one answer for every failed authentication (no user enumeration), logged in full."""
    webhook_guard.count_auth_failure(req.remote_addr, req.url_user_id)
    system_log(
        LogLevel.WARNING,
        LogCategory.SECURITY,
        f"webhook authentication failed from {req.remote_addr}: {why}",
        user_id=req.user.id if req.user else None,
        remote_addr=req.remote_addr,
    )
    req.record(WebhookOutcome.UNAUTHORIZED, 401, why)
    return _error(401, "unauthenticated", UNAUTHENTICATED)


def _authenticate(req: _Request, signature: str | None) -> str | None:
    """`None` when the request is authentic, otherwise why not (for the log, not the caller)."""
    if req.user is None or req.secret is None:
        return "unknown webhook URL (no active user with this id)"
    if signature is not None:
        given = signature.strip().lower().removeprefix("sha256=").encode("utf-8", "replace")
        expected = hmac.new(req.secret.encode(), req.raw, hashlib.sha256).hexdigest().encode()
        if hmac.compare_digest(expected, given):
            return None
        return "X-Signature does not match (hex HMAC-SHA256 of the raw body, keyed by the secret)"
    presented = req.decoded.secret if req.decoded else None
    if presented is None:
        problem = req.decoded.problem if req.decoded else None
        if problem:
            return f"no secret could be read because {problem}"
        return 'no "secret" in the body and no X-Signature header'
    if hmac.compare_digest(req.secret.encode(), presented.encode("utf-8", "replace")):
        return None
    return "wrong secret"


# --------------------------------------------------------------------------- the fast path


def receive(
    url_user_id: str,
    raw: bytes,
    *,
    too_large: bool,
    signature: str | None,
    remote_addr: str | None,
) -> IntakeResult:
    """Handle one `POST /api/webhook/<user_id>` (minus the worker's part)."""
    req = _Request(
        url_user_id=url_user_id[:64],
        raw=b"" if too_large else raw,
        remote_addr=remote_addr or "unknown",
    )
    refusal, blocked = webhook_guard.check_address_and_auth(req.remote_addr, req.url_user_id)
    if refusal is not None:
        return _rate_limited(req, refusal, f"address:{req.remote_addr}")
    if blocked is not None:
        return _rate_limited(req, blocked, f"auth:{req.remote_addr}:{req.url_user_id}")
    req.sender = _sender(req.url_user_id)
    if too_large or len(raw) > MAX_BODY_BYTES:
        req.record(
            WebhookOutcome.REJECTED,
            413,
            f"body larger than {MAX_BODY_BYTES} bytes",
            payload={"_unread": True},
        )
        return _error(413, "payload_too_large", f"body larger than {MAX_BODY_BYTES} bytes")
    req.decoded = decode_body(raw)
    settings = None
    if req.sender is not None:
        req.secret = webhook_secret(req.sender.user)
        settings = _signal_settings(req.sender)
        entries = webhook_guard.allowlist(settings)
        if not webhook_guard.address_allowed(req.remote_addr, entries):
            return _auth_failure(req, f"address {req.remote_addr} is not in the IP allowlist")
    why = _authenticate(req, signature)
    if why is not None:
        return _auth_failure(req, why)
    if req.decoded.problem:
        req.record(WebhookOutcome.INVALID, 400, req.decoded.problem, authenticated=True)
        return _error(400, "malformed_json", req.decoded.problem)
    refusal = webhook_guard.check_user(str(req.user.id))
    if refusal is not None:
        return _rate_limited(req, refusal, f"user:{req.user.id}")
    return _accept(req, settings, utcnow())


def replay(row: WebhookLog, actor: User, remote_addr: str | None) -> IntakeResult:
    """Re-submit a logged webhook as a replay. A deliberate act by its logged-in owner, so the
    secret, allowlist, duplicate window and freshness are bypassed; everything else applies."""
    req = _Request(
        url_user_id=str(actor.id),
        raw=b"",
        remote_addr=remote_addr or "unknown",
        sender=load_sender(actor.id),
        decoded=DecodedBody(row.payload),
        replay_of=row.id,
    )
    result = _accept(req, _signal_settings(req.sender), utcnow())
    audit(
        actor.id,
        "webhook.replay",
        target_type="webhook_log",
        target_id=row.id,
        remote_addr=remote_addr,
        result=result.body.get("status") or result.body.get("error", {}).get("code"),
    )
    return result


def _invalid(req: _Request, fields: dict[str, list[str]], code: str = "invalid") -> IntakeResult:
    summary = "; ".join(f"{k}: {' '.join(v)}" for k, v in list(fields.items())[:5])
    outcome = WebhookOutcome.STALE if code == "stale" else WebhookOutcome.INVALID
    req.record(outcome, 422, summary, authenticated=True)
    message = "the signal is too old" if code == "stale" else "some fields are invalid"
    return _error(422, code, message, fields)


def _accept(req: _Request, settings: Mapping, now: datetime) -> IntakeResult:
    doc = req.decoded.doc
    problems = check_bounds(doc)
    if problems:
        return _invalid(req, problems)
    try:
        request = interpret(doc)
    except ValidationError as exc:
        return _invalid(req, field_messages(exc.messages))
    if req.replay_of is None:
        problem = freshness_problem(request.signal_time, now, settings["max_signal_age_seconds"])
        if problem is not None:
            kind, reason = problem
            return _invalid(req, {"tv.time": [reason]}, "stale" if kind == "stale" else "invalid")
    accounts = [AccountView(*row) for row in req.sender.accounts]
    choice = choose_account(request, accounts)
    if choice.account is None:
        req.record(
            WebhookOutcome.REJECTED, 422, choice.reason, symbol=request.symbol, authenticated=True
        )
        return _error(422, "rejected", choice.reason)
    return _store(req, request, choice.account, now)


# --------------------------------------------------------------------------- storing


def _store(req: _Request, request: SignalRequest, account: AccountView, now: datetime):
    """Write the signal, its duplicate-window slot and its log row atomically, then hand the
    signal to its lane. A repeated `signal_id` or body is answered as a duplicate."""
    signal_id = uuid.uuid4()
    sender_id = request.sender_signal_id
    if req.replay_of is not None:
        dedupe_key = f"replay:{signal_id}"
    else:
        dedupe_key = f"id:{sender_id}" if sender_id else f"new:{signal_id}"
    lane = lane_of(account.id, request.symbol, request.timeframe, request.side)
    payload = req.payload()
    signal_row = {
        "id": signal_id,
        "created_at": now,
        "user_id": req.user.id,
        "account_id": uuid.UUID(account.id),
        "dedupe_key": dedupe_key,
        "sender_signal_id": sender_id,
        "intent": request.intent,
        "exchange": account.exchange,
        "market_type": account.market_type,
        "symbol": request.symbol,
        "timeframe": request.timeframe,
        "side": request.side,
        "entry_price": request.entry_price,
        "signal_time": request.signal_time,
        "payload": payload,
        "lane": lane,
        "is_replay": req.replay_of is not None,
        "status": "received",
    }
    log_row = {
        "id": uuid.uuid4(),
        "created_at": now,
        "user_id": req.user.id,
        "remote_addr": req.remote_addr[:64],
        "status": WebhookOutcome.ACCEPTED.value,
        "http_status": 202,
        "reason": None,
        "payload": payload,
        "symbol": request.symbol,
        "authenticated": True,
        "is_replay": req.replay_of is not None,
        "replay_of": req.replay_of,
    }
    digest = None if req.replay_of is not None else fingerprint(req.decoded.doc)
    try:
        stored = insert_accepted(signal_row, log_row, digest, now, DUPLICATE_WINDOW)
    except IntegrityError:
        return _duplicate(req, request, f"signal_id {sender_id!r} was already accepted")
    if not stored:
        return _duplicate(req, request, "the same body was accepted less than 10 minutes ago")
    signal_lanes.dispatch(str(signal_id), lane)
    body = {"signal_id": str(signal_id), "status": "accepted"}
    if req.replay_of is not None:
        body["replay_of"] = str(req.replay_of)
    return IntakeResult(202, body)


def _duplicate(req: _Request, request: SignalRequest, reason: str) -> IntakeResult:
    req.record(WebhookOutcome.DUPLICATE, 200, reason, symbol=request.symbol, authenticated=True)
    return IntakeResult(200, {"status": "duplicate"})
