"""Performance analytics (API.md `GET /api/performance`): own figures; managers and admins may
read another user's with `user_id`."""

from __future__ import annotations

import re

from flask import Blueprint, Response, request

from server.api.errors import ApiError, NotFound
from server.api.guard import current_user, may_read_user, require_role
from server.api.openapi import accepts
from server.api.schemas import load
from server.api.schemas.performance import PerformanceExportQuery, PerformanceQuery
from server.domain.enums import Role
from server.persistence.models import User
from server.services import performance as performance_service

bp = Blueprint("performance", __name__, url_prefix="/api/performance")


def _owner(args: dict) -> User:
    viewer = current_user()
    owner_id = args.get("user_id")
    if owner_id is None or str(owner_id) == str(viewer.id):
        return viewer
    if not may_read_user(viewer, owner_id):
        raise ApiError(403, "only managers and admins read another user's performance")
    owner = User.get_or_none(User.id == owner_id)
    if owner is None:
        raise NotFound("user")
    return owner


@bp.get("")
@require_role(Role.VIEWER)
@accepts(query=PerformanceQuery)
def get_performance():
    """Realised PnL, win rate, profit factor, Sharpe/Sortino, drawdown, equity curve, ...

    Over the UTC days `from ..= to` (dates or ISO times; both optional). `realized` is the
    calendar day, week and month containing today (UTC) and all time, whatever the range.
    Decimals are strings; Sharpe and Sortino are annualised with √365 on daily returns.
    """
    args = load(PerformanceQuery(), request.args.to_dict())
    owner = _owner(args)
    body = performance_service.performance_json(owner, args.get("from_"), args.get("to"))
    return Response(body, mimetype="application/json")


@bp.get("/export")
@require_role(Role.VIEWER)
@accepts(query=PerformanceExportQuery)
def export_performance():
    """The closed trades of the range as CSV (`format=csv`), oldest first."""
    args = load(PerformanceExportQuery(), request.args.to_dict())
    owner = _owner(args)
    first, last = args.get("from_"), args.get("to")
    body = performance_service.export_csv(owner, first, last)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", owner.username)
    span = f"{first.isoformat() if first else 'start'}_{last.isoformat() if last else 'now'}"
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="trades-{name}-{span}.csv"',
            "Cache-Control": "no-store",
        },
    )
