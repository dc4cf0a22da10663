"""Position groups (API.md "Positions"): list and detail, own data (managers: everyone's)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from server.api.errors import ApiError
from server.api.guard import current_user, require_role
from server.api.ownership import owned_or_404
from server.api.serializers import event_out, group_out, leg_out, pyramid_out
from server.domain.enums import FINISHED_GROUP_STATUSES, OPEN_GROUP_STATUSES, Role
from server.persistence.models import DcaOrder, PositionEvent, PositionGroup, Pyramid
from server.services import group_list

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
    items = group_list.list_json(current_user().id, _STATUS_FILTERS[status])
    return Response(b'{"items":' + items + b"}", mimetype="application/json")


@bp.get("/<group_id>")
@require_role(Role.VIEWER)
def get_position(group_id: str):
    """The group, its pyramids with their orders (entries first, by leg), the orders that
    belong to no pyramid (a group close, a risk offset) and the event trail, oldest first."""
    group = owned_or_404(PositionGroup, group_id, current_user(), "position group")
    pyramids = list(Pyramid.select().where(Pyramid.group == group.id).order_by(Pyramid.index))
    by_pyramid: dict = {p.id: [] for p in pyramids}
    loose = []
    for order in (
        DcaOrder.select()
        .where(DcaOrder.group == group.id)
        .order_by(DcaOrder.purpose != "entry", DcaOrder.leg_index, DcaOrder.created_at)
    ):
        by_pyramid.get(order.pyramid_id, loose).append(order)
    events = (
        PositionEvent.select()
        .where(PositionEvent.group == group.id)
        .order_by(PositionEvent.created_at, PositionEvent.id)
    )
    body = group_out(group) | {
        "pyramids": [pyramid_out(p, by_pyramid[p.id]) for p in pyramids],
        "orders": [leg_out(o) for o in loose],
        "events": [event_out(e) for e in events],
    }
    return jsonify(body)


@bp.post("/<group_id>/close")
@require_role(Role.TRADER)
def close_position(group_id: str):
    """Manual close (SPEC §4.5): cancel the group's open orders, close what it holds at market.

    Answers 202 at once with the group `closing`; the close runs in a worker (the same routine
    as an exit signal or the aggregate take-profit) and `group.updated` reports its end. Own
    groups only (404 otherwise); 409 when the group is already closing, closed or failed."""
    from server import queues
    from server.api.client_address import client_ip
    from server.services import closing
    from server.services.journal import audit

    group = owned_or_404(PositionGroup, group_id, current_user(), "position group", write=True)
    user = current_user()
    reason = f"manual close by {user.username}"
    try:
        group = closing.request_close(group.id, reason, "manual")
    except closing.NotOpen as exc:
        raise ApiError(409, f"the position cannot be closed: it is {exc.status}") from None
    audit(user.id, "position.close", target_type="position_group", target_id=group.id,
          remote_addr=client_ip(), symbol=group.symbol)  # fmt: skip
    if group.status == "closing":
        queues.enqueue(
            queues.ORDERS, "workers.jobs.positions.close_position", str(group.id), reason, "manual"
        )
        message = "closing: open orders are cancelled and the position is sold at market"
    else:
        message = f"the group had nothing at the exchange; it is {group.status}"
    return jsonify({"status": group.status, "message": message, "group": group_out(group)}), 202
