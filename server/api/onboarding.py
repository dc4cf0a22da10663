"""The first-login tour: progress, the simulator account, the test signal
(`server/services/onboarding.py`)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from marshmallow import fields, validate

from server.api.client_address import client_ip
from server.api.guard import current_user, require_role
from server.api.openapi import accepts
from server.api.schemas import InputSchema, load
from server.api.serializers import account_out
from server.domain.enums import Role
from server.services import onboarding

bp = Blueprint("onboarding", __name__, url_prefix="/api/onboarding")


class TestSignalSchema(InputSchema):
    symbol = fields.String(
        load_default=onboarding.TEST_SYMBOL,
        validate=validate.Regexp(r"^[A-Z0-9]{2,20}USDT$", error="a USDT pair, e.g. BTCUSDT"),
    )


@bp.get("")
@require_role(Role.VIEWER)
def get_progress():
    """Which steps of the tour are done (read from the user's real data), and the next one."""
    return jsonify(onboarding.progress(current_user()))


@bp.post("/simulator-account")
@require_role(Role.TRADER)
def add_simulator_account():
    """Add (or re-check) the practice account on the local exchange simulator; answers the
    account with the connectivity check's result (`validation.error` says what failed)."""
    account, result, created = onboarding.add_simulator_account(current_user(), client_ip())
    body = account_out(account) | {"validation": {"valid": result.valid, "error": result.error}}
    return jsonify(body), 201 if created else 200


@bp.post("/test-signal")
@require_role(Role.TRADER)
@accepts(body=TestSignalSchema)
def send_test_signal():
    """Send a test long entry to the caller's simulated account through the real webhook
    intake; answers as the webhook would (202 accepted, or its error), plus `account_id`."""
    data = load(TestSignalSchema())
    account, result = onboarding.send_test_signal(current_user(), client_ip(), data["symbol"])
    response = jsonify({**result.body, "account_id": str(account.id)})
    response.status_code = result.http_status
    return response
