"""Exchange accounts (API.md): keys go in, only masked keys come out."""

from __future__ import annotations

from flask import Blueprint, jsonify

from server.api.client_address import client_ip
from server.api.guard import current_user, require_role
from server.api.openapi import accepts
from server.api.ownership import owned_or_404
from server.api.schemas import load
from server.api.schemas.accounts import AccountCreateSchema
from server.api.serializers import account_out
from server.domain.enums import Role
from server.persistence.models import ExchangeAccount
from server.services import accounts
from server.services.exchanges import breaker_report

bp = Blueprint("accounts", __name__, url_prefix="/api/accounts")


@bp.get("")
@require_role(Role.VIEWER)
def list_accounts():
    rows = list(
        ExchangeAccount.select()
        .where(ExchangeAccount.user == current_user().id)
        .order_by(ExchangeAccount.created_at)
    )
    breakers = {b["account_id"]: b for b in breaker_report(rows)}
    return jsonify(
        {
            "items": [
                account_out(a)
                | {
                    "breaker": breakers[str(a.id)]["breaker"],
                    "breaker_error": breakers[str(a.id)]["last_error"],
                }
                for a in rows
            ]
        }
    )


@bp.post("")
@require_role(Role.TRADER)
@accepts(body=AccountCreateSchema)
def create_account():
    data = load(AccountCreateSchema())
    account, result = accounts.add_account(current_user(), data, client_ip())
    body = account_out(account) | {"validation": {"valid": result.valid, "error": result.error}}
    return jsonify(body), 201


@bp.post("/<account_id>/validate")
@require_role(Role.TRADER)
def validate_account(account_id: str):
    account = owned_or_404(ExchangeAccount, account_id, current_user(), "account", write=True)
    result = accounts.validate_account(account, current_user(), client_ip())
    return jsonify({"valid": result.valid, "error": result.error})


@bp.delete("/<account_id>")
@require_role(Role.TRADER)
def delete_account(account_id: str):
    account = owned_or_404(ExchangeAccount, account_id, current_user(), "account", write=True)
    accounts.delete_account(account, current_user(), client_ip())
    return "", 204
