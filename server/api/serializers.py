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


# How each kind of column is written: ids as text, decimals as plain strings (`money`),
# times as ISO UTC to the millisecond with a Z (`isoformat`), the rest as stored.
WRITERS = {"id": _text, "money": money, "time": isoformat, "plain": _as_stored}

# A group as the contract writes it: (key, column, kind of value), in the order of the keys.
# `group_out` writes one model with it; `services.group_list` reads the positions list with
# it (each value written by PostgreSQL), so a list row and a `group.updated` event are the
# same bytes (tests/api/test_positions_list.py).
GROUP_SHAPE = (
    ("id", PositionGroup.id, "id"),
    ("user_id", PositionGroup.user, "id"),
    ("account_id", PositionGroup.account, "id"),
    ("exchange", PositionGroup.exchange, "plain"),
    ("symbol", PositionGroup.symbol, "plain"),
    ("timeframe", PositionGroup.timeframe, "plain"),
    ("side", PositionGroup.side, "plain"),
    ("status", PositionGroup.status, "plain"),
    ("pyramid_count", PositionGroup.pyramid_count, "plain"),
    ("max_pyramids", PositionGroup.max_pyramids, "plain"),
    ("filled_dca_legs", PositionGroup.filled_dca_legs, "plain"),
    ("total_dca_legs", PositionGroup.total_dca_legs, "plain"),
    ("weighted_avg_entry", PositionGroup.weighted_avg_entry, "money"),
    ("total_filled_quantity", PositionGroup.total_filled_quantity, "money"),
    ("total_invested_usd", PositionGroup.total_invested_usd, "money"),
    ("unrealized_pnl_usd", PositionGroup.unrealized_pnl_usd, "money"),
    ("unrealized_pnl_percent", PositionGroup.unrealized_pnl_percent, "money"),
    ("realized_pnl_usd", PositionGroup.realized_pnl_usd, "money"),
    ("tp_mode", PositionGroup.tp_mode, "plain"),
    ("failure_reason", PositionGroup.failure_reason, "plain"),
    ("no_more_orders", PositionGroup.no_more_orders, "plain"),
    ("no_more_orders_reason", PositionGroup.no_more_orders_reason, "plain"),
    ("last_price", PositionGroup.last_price, "money"),
    ("created_at", PositionGroup.created_at, "time"),
    ("updated_at", PositionGroup.updated_at, "time"),
    ("closed_at", PositionGroup.closed_at, "time"),
)
# The model attribute of each key: a foreign key's id (`user_id`), never the related row.
_GROUP_ATTRIBUTES = tuple(
    (key, getattr(column, "object_id_name", column.name), WRITERS[kind])
    for key, column, kind in GROUP_SHAPE
)


def group_out(group: PositionGroup) -> dict:
    return {key: write(getattr(group, attr)) for key, attr, write in _GROUP_ATTRIBUTES}


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
