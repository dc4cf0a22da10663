"""Position groups (API.md "Positions"): list and detail, own data (managers: everyone's)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from server.api.errors import ApiError
from server.api.guard import current_user, require_role
from server.api.ownership import owned_or_404
from server.api.serializers import group_out
from server.clock import isoformat
from server.domain.enums import FINISHED_GROUP_STATUSES, OPEN_GROUP_STATUSES, Role
from server.persistence.models import PositionEvent, PositionGroup

bp = Blueprint("positions", __name__, url_prefix="/api/positions")

_STATUS_FILTERS = {
    "open": [s.value for s in OPEN_GROUP_STATUSES],
    "closed": [s.value for s in FINISHED_GROUP_STATUSES],
    "all": None,
}


@bp.get("")
@require_role(Role.VIEWER)
def list_positions():
    status = request.args.get("status", "open")
    if status not in _STATUS_FILTERS:
        raise ApiError(
            422,
            "status must be open, closed or all",
            fields={"status": ["must be one of: open, closed, all"]},
        )
    query = PositionGroup.select().where(PositionGroup.user == current_user().id)
    if _STATUS_FILTERS[status] is not None:
        query = query.where(PositionGroup.status.in_(_STATUS_FILTERS[status]))
    rows = query.order_by(PositionGroup.created_at.desc()).limit(1000)
    return jsonify({"items": [group_out(g) for g in rows]})


@bp.get("/<group_id>")
@require_role(Role.VIEWER)
def get_position(group_id: str):
    group = owned_or_404(PositionGroup, group_id, current_user(), "position group")
    events = (
        PositionEvent.select()
        .where(PositionEvent.group == group.id)
        .order_by(PositionEvent.created_at)
    )
    body = group_out(group) | {
        "pyramids": [],  # grids arrive with the position-lifecycle issue
        "events": [
            {
                "kind": e.kind,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "detail": e.detail,
                "created_at": isoformat(e.created_at),
            }
            for e in events
        ],
    }
    return jsonify(body)
