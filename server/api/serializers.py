"""Resource shapes as the API contract writes them (decimals as strings, times ISO UTC)."""

from __future__ import annotations

from decimal import Decimal

from server.clock import isoformat
from server.domain.decimals import plain_decimal
from server.persistence.models import (
    DcaOrder,
    ExchangeAccount,
    PositionEvent,
    PositionGroup,
    Pyramid,
    User,
)
from server.services.users import webhook_url


def money(value: Decimal | None) -> str | None:
    return None if value is None else plain_decimal(value)


def user_out(user: User) -> dict:
    return {
        "id": str(user.id),
        "email": user.email,
        "username": user.username,
        "role": user.role,
        "is_active": user.is_active,
        "webhook_url": webhook_url(user),
        "created_at": isoformat(user.created_at),
        "last_login_at": isoformat(user.last_login_at),
    }


def account_out(account: ExchangeAccount) -> dict:
    return {
        "id": str(account.id),
        "exchange": account.exchange,
        "market_type": account.market_type,
        "mode": account.mode,
        "label": account.label,
        "api_key": account.api_key_masked,
        "is_active": account.is_active,
        "last_validated_at": isoformat(account.last_validated_at),
        "last_validation_error": account.last_validation_error,
        "created_at": isoformat(account.created_at),
    }


def _text(value) -> str | None:
    return None if value is None else str(value)


def _as_stored(value):
    return value


# A group as the contract writes it: (key, column, how its value is written), in the order of
# the keys. `group_out` (one model) and `group_rows_out` (a list read as plain rows) share it,
# so a list row and a `group.updated` event are the same bytes.
_GROUP_SHAPE = (
    ("id", PositionGroup.id, _text),
    ("user_id", PositionGroup.user, _text),
    ("account_id", PositionGroup.account, _text),
    ("exchange", PositionGroup.exchange, _as_stored),
    ("symbol", PositionGroup.symbol, _as_stored),
    ("timeframe", PositionGroup.timeframe, _as_stored),
    ("side", PositionGroup.side, _as_stored),
    ("status", PositionGroup.status, _as_stored),
    ("pyramid_count", PositionGroup.pyramid_count, _as_stored),
    ("max_pyramids", PositionGroup.max_pyramids, _as_stored),
    ("filled_dca_legs", PositionGroup.filled_dca_legs, _as_stored),
    ("total_dca_legs", PositionGroup.total_dca_legs, _as_stored),
    ("weighted_avg_entry", PositionGroup.weighted_avg_entry, money),
    ("total_filled_quantity", PositionGroup.total_filled_quantity, money),
    ("total_invested_usd", PositionGroup.total_invested_usd, money),
    ("unrealized_pnl_usd", PositionGroup.unrealized_pnl_usd, money),
    ("unrealized_pnl_percent", PositionGroup.unrealized_pnl_percent, money),
    ("realized_pnl_usd", PositionGroup.realized_pnl_usd, money),
    ("tp_mode", PositionGroup.tp_mode, _as_stored),
    ("failure_reason", PositionGroup.failure_reason, _as_stored),
    ("no_more_orders", PositionGroup.no_more_orders, _as_stored),
    ("no_more_orders_reason", PositionGroup.no_more_orders_reason, _as_stored),
    ("last_price", PositionGroup.last_price, money),
    ("created_at", PositionGroup.created_at, isoformat),
    ("updated_at", PositionGroup.updated_at, isoformat),
    ("closed_at", PositionGroup.closed_at, isoformat),
)
# What a list selects (`plain_rows(query, GROUP_COLUMNS)` feeds `group_rows_out`).
GROUP_COLUMNS = tuple(column for _, column, _ in _GROUP_SHAPE)
# The model attribute of each key: a foreign key's id (`user_id`), never the related row.
_GROUP_ATTRIBUTES = tuple(
    (key, getattr(column, "object_id_name", column.name), write)
    for key, column, write in _GROUP_SHAPE
)
_GROUP_WRITERS = tuple((key, write) for key, _, write in _GROUP_SHAPE)


def group_out(group: PositionGroup) -> dict:
    return {key: write(getattr(group, attr)) for key, attr, write in _GROUP_ATTRIBUTES}


def group_rows_out(rows: list[tuple]) -> list[dict]:
    """Groups read as plain rows of `GROUP_COLUMNS` (`persistence.db.plain_rows`), written
    as `group_out` writes a model: the list of thousands of groups without a model per row."""
    writers = _GROUP_WRITERS
    return [
        {key: write(value) for (key, write), value in zip(writers, row, strict=True)}
        for row in rows
    ]


def leg_out(order: DcaOrder) -> dict:
    """One order of a group in API.md's leg shape, plus side, type, purpose and fee currency."""
    return {
        "id": str(order.id),
        "leg": order.leg_index,
        "status": order.status,
        "price": money(order.price),
        "quantity": money(order.quantity),
        "filled_quantity": money(order.filled_quantity),
        "avg_fill_price": money(order.avg_fill_price),
        "weight_percent": money(order.weight_percent),
        "gap_percent": money(order.gap_percent),
        "tp_percent": money(order.tp_percent),
        "tp_price": money(order.tp_price),
        "tp_hit": order.tp_hit,
        "client_order_id": order.client_order_id,
        "exchange_order_id": order.exchange_order_id,
        "fee": money(order.fee),
        "fee_currency": order.fee_currency,
        "fee_base": money(order.fee_base),
        "side": order.side,
        "order_type": order.order_type,
        "purpose": order.purpose,
        "reduce_only": order.reduce_only,
        "failure_reason": order.failure_reason,
        "submitted_at": isoformat(order.submitted_at),
        "updated_at": isoformat(order.updated_at),
    }


def order_update_out(order: DcaOrder, pyramid_index: int | None) -> dict:
    """The `order.updated` event: the leg plus the group and pyramid it belongs to."""
    return leg_out(order) | {"group_id": str(order.group_id), "pyramid_index": pyramid_index}


def pyramid_out(pyramid: Pyramid, legs: list[DcaOrder]) -> dict:
    return {
        "index": pyramid.index,
        "entry_price": money(pyramid.entry_price),
        "capital_usd": money(pyramid.capital_usd),
        "status": pyramid.status,
        "created_at": isoformat(pyramid.created_at),
        "legs": [leg_out(leg) for leg in legs],
    }


def event_out(event: PositionEvent) -> dict:
    return {
        "kind": event.kind,
        "order_id": str(event.order_id) if event.order_id else None,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "detail": event.detail,
        "created_at": isoformat(event.created_at),
    }
