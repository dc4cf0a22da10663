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


def group_out(group: PositionGroup) -> dict:
    return {
        "id": str(group.id),
        "user_id": str(group.user_id),
        "account_id": str(group.account_id) if group.account_id else None,
        "exchange": group.exchange,
        "symbol": group.symbol,
        "timeframe": group.timeframe,
        "side": group.side,
        "status": group.status,
        "pyramid_count": group.pyramid_count,
        "max_pyramids": group.max_pyramids,
        "filled_dca_legs": group.filled_dca_legs,
        "total_dca_legs": group.total_dca_legs,
        "weighted_avg_entry": money(group.weighted_avg_entry),
        "total_filled_quantity": money(group.total_filled_quantity),
        "total_invested_usd": money(group.total_invested_usd),
        "unrealized_pnl_usd": money(group.unrealized_pnl_usd),
        "unrealized_pnl_percent": money(group.unrealized_pnl_percent),
        "realized_pnl_usd": money(group.realized_pnl_usd),
        "tp_mode": group.tp_mode,
        "failure_reason": group.failure_reason,
        "no_more_orders": group.no_more_orders,
        "no_more_orders_reason": group.no_more_orders_reason,
        "last_price": money(group.last_price),
        "created_at": isoformat(group.created_at),
        "updated_at": isoformat(group.updated_at),
        "closed_at": isoformat(group.closed_at),
    }


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
