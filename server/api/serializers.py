"""Resource shapes as the API contract writes them (decimals as strings, times ISO UTC)."""

from __future__ import annotations

from decimal import Decimal

from server.clock import isoformat
from server.domain.decimals import plain_decimal
from server.persistence.models import ExchangeAccount, PositionGroup, User
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
        "created_at": isoformat(group.created_at),
        "updated_at": isoformat(group.updated_at),
        "closed_at": isoformat(group.closed_at),
    }
