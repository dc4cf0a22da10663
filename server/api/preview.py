"""`POST /api/settings/preview` (API.md "Settings", SPEC §9): the grid exactly as it would be
sent for a symbol, side and price — rounded by the market's real rules, checked against its
limits and `min_notional_policy` — from the user's current settings or a draft of them.

Market rules come from the given exchange account (it must be the caller's own) or, without
one, from the caller's first active account: a preview needs a real market to round against.
"""

from __future__ import annotations

import re

from flask import Blueprint, jsonify
from marshmallow import ValidationError, fields, validate

from server.api.errors import ApiError
from server.api.guard import current_user, require_role
from server.api.openapi import accepts
from server.api.ownership import owned_or_404
from server.api.schemas import InputSchema, load
from server.domain.decimals import plain_decimal
from server.domain.enums import MarketType, PositionSide, Role
from server.domain.grid import plan_pyramid, preview
from server.domain.settings import MAX_PYRAMIDS, merge_partial, validate_settings
from server.domain.settings_fields import DecimalText
from server.exchange.errors import ExchangeError, TemporaryError, UnknownSymbol
from server.persistence.models import ExchangeAccount
from server.services import settings as settings_service
from server.services.precision import rules_for

bp = Blueprint("preview", __name__, url_prefix="/api/settings")

_SIDES = {"long": PositionSide.LONG, "short": PositionSide.SHORT, "buy": PositionSide.LONG,
          "sell": PositionSide.SHORT}  # fmt: skip
_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")


class PreviewSchema(InputSchema):
    symbol = fields.String(required=True, validate=validate.Length(min=1, max=60))
    side = fields.String(
        required=True,
        validate=validate.OneOf(list(_SIDES), error="must be long or short (buy/sell accepted)"),
    )
    entry_price = DecimalText(minimum=0, min_exclusive=True)
    account_id = fields.String(load_default=None, allow_none=True)
    settings = fields.Dict(load_default=None, allow_none=True)
    pyramid_index = fields.Integer(
        load_default=0,
        strict=True,
        validate=validate.Range(min=0, max=MAX_PYRAMIDS - 1),
    )


def _symbol(text: str) -> str:
    """`BTCUSDT`, `btc/usdt`, `BTC/USDT:USDT`, `BINANCE:BTCUSDT`, `BTCUSDT.P` → `BTCUSDT`."""
    raw = text.strip().upper()
    if "/" in raw:
        raw = raw.partition(":")[0].replace("/", "")
    elif ":" in raw:
        raw = raw.rpartition(":")[2]
    raw = raw.removesuffix(".P").replace("-", "").replace("_", "")
    if not _SYMBOL.match(raw):
        raise ValidationError({"symbol": [f"{text!r} is not a symbol such as BTCUSDT"]})
    return raw


def _settings(user, draft: dict | None) -> dict:
    """The user's current settings, or the draft laid over them, loaded (422 on errors)."""
    if draft is None:
        return settings_service.effective_settings(user)
    current = settings_service.current_settings(user)[1]
    try:
        return validate_settings(merge_partial(current, draft))
    except ValidationError as exc:
        raise ValidationError({"settings": exc.messages}) from None


def _account(user, account_id: str | None) -> ExchangeAccount:
    if account_id:
        return owned_or_404(ExchangeAccount, account_id, user, "account", write=True)
    account = (
        ExchangeAccount.select()
        .where((ExchangeAccount.user == user.id) & (ExchangeAccount.is_active == True))  # noqa: E712
        .order_by(ExchangeAccount.created_at)
        .first()
    )
    if account is None:
        raise ApiError(
            422,
            "add an exchange account first (preview needs its market rules)",
            "no_account",
            fields={"account_id": ["no exchange account to take market rules from"]},
        )
    return account


def _text(value):
    if isinstance(value, list):
        return [_text(item) for item in value]
    if isinstance(value, dict):
        return {key: _text(item) for key, item in value.items()}
    if hasattr(value, "as_tuple"):  # Decimal
        return plain_decimal(value)
    return value


@bp.post("/preview")
@require_role(Role.VIEWER)
@accepts(body=PreviewSchema)
def preview_grid():
    """The grid one pyramid would send: per leg price, quantity, notional and TP after rounding.

    Uses the caller's current settings, or `settings` (a draft, whole or some sections, laid
    over the current ones and validated). Market rules come from `account_id` or the caller's
    first active exchange account."""
    user = current_user()
    data = load(PreviewSchema())
    symbol = _symbol(data["symbol"])
    side = _SIDES[data["side"].lower()]
    loaded = _settings(user, data["settings"])
    pyramid_index = data["pyramid_index"]
    if pyramid_index >= loaded["capital"]["max_pyramids"]:
        raise ValidationError(
            {"pyramid_index": [f"must be below max_pyramids ({loaded['capital']['max_pyramids']})"]}
        )
    account = _account(user, data["account_id"])
    if side is PositionSide.SHORT and account.market_type == MarketType.SPOT.value:
        raise ValidationError(
            {"side": ["a spot account cannot short; choose a futures account or side long"]}
        )
    try:
        rules = rules_for(account, symbol)
    except UnknownSymbol as exc:
        raise ValidationError({"symbol": [str(exc)]}) from None
    except TemporaryError as exc:
        raise ApiError(
            503, f"market rules for {symbol} are unavailable: {exc}; try again shortly"
        ) from None
    except ExchangeError as exc:
        raise ApiError(503, f"market rules for {symbol} could not be read: {exc}") from None
    plan = plan_pyramid(loaded, rules, side, data["entry_price"], pyramid_index, symbol)
    body = _text(preview(plan))
    body["account_id"] = str(account.id)
    body["exchange"] = account.exchange
    body["market_type"] = account.market_type
    body["rules"] = rules.to_json()
    return jsonify(body)
