"""Risk engine (API.md "Positions, pool, queue, risk"): the risk panel, its history and the
manual controls. Own data only; the controls and Run Now are for traders, audited."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from server.api.client_address import client_ip
from server.api.errors import ApiError
from server.api.guard import current_user, require_role
from server.api.ownership import owned_or_404
from server.domain.enums import OPEN_GROUP_STATUSES, Role
from server.persistence.models import PositionGroup, RiskAction
from server.services import risk
from server.services.journal import audit

bp = Blueprint("risk", __name__, url_prefix="/api/risk")

MAX_ACTIONS = 500
_OPEN = {s.value for s in OPEN_GROUP_STATUSES}


@bp.get("")
@require_role(Role.VIEWER)
def risk_panel():
    """Every open group's risk status and the plan the engine would carry out now.

    Per group: loss %, loss USD, timer start/expiry, pyramids reached, age filter passed,
    eligible, blocked, skip once (and why it is not eligible); `plan`: loser, required USD,
    winners with their close quantity and USD, covered USD, will_act, reason."""
    return jsonify(risk.projection(current_user()))


@bp.get("/actions")
@require_role(Role.VIEWER)
def risk_actions():
    """History of risk actions, newest first (`limit` 1..500, default 100)."""
    raw = request.args.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_ACTIONS:
        raise ApiError(422, "limit must be a whole number from 1 to 500",
                       fields={"limit": ["must be a whole number from 1 to 500"]})  # fmt: skip
    rows = (
        RiskAction.select()
        .where(RiskAction.user == current_user().id)
        .order_by(RiskAction.created_at.desc())
        .limit(int(raw))
    )
    return jsonify({"items": [risk.action_out(a) for a in rows]})


@bp.post("/run")
@require_role(Role.TRADER)
def run_now():
    """Run Now: one evaluation at once; answers the action taken or why none."""
    user = current_user()
    try:
        result = risk.run(user.id, "manual", actor_id=user.id)
    except risk.RiskBusy as exc:
        raise ApiError(409, str(exc)) from None
    audit(user.id, "risk.run", target_type="user", target_id=user.id, remote_addr=client_ip(),
          outcome=result["outcome"], reason=result["reason"])  # fmt: skip
    return jsonify(result)


def _control(group_id: str, control: str):
    user = current_user()
    group = owned_or_404(PositionGroup, group_id, user, "position group", write=True)
    if group.status not in _OPEN:
        raise ApiError(409, f"the position is {group.status}; risk controls apply to open ones")
    group = risk.set_control(group, control, user)
    audit(user.id, f"risk.{control}", target_type="position_group", target_id=group.id,
          remote_addr=client_ip(), symbol=group.symbol)  # fmt: skip
    return jsonify(
        {
            "group_id": str(group.id),
            "blocked": group.risk_blocked,
            "skip_once": group.risk_skip_once,
        }
    )


@bp.post("/<group_id>/block")
@require_role(Role.TRADER)
def block_group(group_id: str):
    """Block: the group is never the loser nor a winner until unblocked."""
    return _control(group_id, "block")


@bp.post("/<group_id>/unblock")
@require_role(Role.TRADER)
def unblock_group(group_id: str):
    """Unblock a blocked group."""
    return _control(group_id, "unblock")


@bp.post("/<group_id>/skip")
@require_role(Role.TRADER)
def skip_group(group_id: str):
    """Skip once: the next evaluation that would select the group as the loser passes it."""
    return _control(group_id, "skip")
