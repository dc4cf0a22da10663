"""Signals (API.md "Signals", SPEC §2): the TradingView webhook, the webhook log and replay."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from server.api.client_address import client_ip
from server.api.errors import ApiError
from server.api.guard import current_user, may_read_user, require_role
from server.api.openapi import accepts
from server.api.ownership import owned_or_404
from server.api.schemas import load
from server.api.schemas.webhooks import WebhookLogQuery, WebhookPayloadSchema
from server.domain.enums import Role
from server.domain.signal_body import MAX_BODY_BYTES
from server.domain.signals import normalise_symbol
from server.extensions import limiter
from server.persistence.models import WebhookLog
from server.services import intake, webhook_log

bp = Blueprint("webhooks", __name__, url_prefix="/api")


@limiter.request_filter
def _webhook_limits_are_the_intakes() -> bool:
    """Flask-Limiter skips the webhook: it carries no decorated or default limit, and its own
    limits (per address, per user, failed authentications) are counted by the intake in its
    order (webhook_guard). Saves most of Flask-Limiter's per-request limit resolution
    (~4 % of a webhook's Python calls)."""
    return request.endpoint == "webhooks.receive"


def _answer(result: intake.IntakeResult):
    response = jsonify(result.body)
    response.status_code = result.http_status
    for key, value in result.headers.items():
        response.headers[key] = value
    return response


@bp.post("/webhook/<user_id>")
@accepts(body=WebhookPayloadSchema)
def receive(user_id: str):
    """TradingView webhook: 202 accepted, 200 duplicate; the body's secret or X-Signature.

    The body is read as JSON whatever the content type (TradingView sends text/plain when the
    alert message is not valid JSON). Answers never wait for a worker or the exchange.
    """
    length = request.content_length
    too_large = length is not None and length > MAX_BODY_BYTES
    raw = b"" if too_large else request.stream.read(MAX_BODY_BYTES + 1)
    result = intake.receive(
        user_id,
        raw,
        too_large=too_large or len(raw) > MAX_BODY_BYTES,
        signature=request.headers.get("X-Signature"),
        remote_addr=client_ip(),
    )
    return _answer(result)


@bp.get("/webhooks")
@require_role(Role.VIEWER)
@accepts(query=WebhookLogQuery)
def list_webhooks():
    """The webhook log, newest first: filters status, classification, symbol, from, to."""
    args = load(WebhookLogQuery(), request.args.to_dict())
    viewer = current_user()
    owner_id = args.get("user_id") or viewer.id
    if not may_read_user(viewer, owner_id):
        raise ApiError(403, "only managers and admins read another user's webhook log")
    symbol = args.get("symbol")
    if symbol:
        try:
            symbol = normalise_symbol(symbol)[0]
        except ValueError as exc:
            raise ApiError(422, str(exc), "invalid", {"symbol": [str(exc)]}) from None
    try:
        rows, next_cursor = webhook_log.list_rows(
            owner_id,
            status=args.get("status"),
            symbol=symbol,
            classification=args.get("classification"),
            since=args.get("from_"),
            until=args.get("to"),
            limit=args["limit"],
            cursor=args.get("cursor"),
        )
    except webhook_log.BadCursor as exc:
        raise ApiError(422, str(exc), "invalid", {"cursor": [str(exc)]}) from None
    return jsonify({"items": [webhook_log.row_out(r) for r in rows], "next_cursor": next_cursor})


@bp.post("/webhooks/<log_id>/replay")
@require_role(Role.TRADER)
def replay_webhook(log_id: str):
    """Re-submit a logged webhook, marked as a replay (bypasses the duplicate window).

    Only the owner's own authenticated rows with a JSON body; the secret, IP allowlist and
    freshness checks are skipped (a logged-in trader asked for it), validation and account
    choice apply as for any signal. Answers like the webhook itself.
    """
    row = owned_or_404(WebhookLog, log_id, current_user(), "webhook", write=True)
    payload = row.payload
    if not row.authenticated or not isinstance(payload, dict) or "_unparsed" in payload:
        raise ApiError(
            409,
            "only authenticated webhooks with a JSON body can be replayed",
            "not_replayable",
        )
    return _answer(intake.replay(row, current_user(), client_ip()))
