"""`POST /api/webhook/<user_id>`: the TradingView entry point (SPEC §2)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from server.api.client_address import client_ip
from server.services import intake

bp = Blueprint("webhooks", __name__, url_prefix="/api")


@bp.post("/webhook/<user_id>")
def receive(user_id: str):
    """Body is JSON whatever the content type (TradingView sends text/plain for some alerts)."""
    if (request.content_length or 0) > intake.MAX_BODY_BYTES:
        raw = b"x" * (intake.MAX_BODY_BYTES + 1)  # do not read an oversized body
    else:
        raw = request.get_data(cache=False)
    result = intake.receive(user_id, raw, request.headers.get("X-Signature"), client_ip())
    return jsonify(result.body), result.http_status
