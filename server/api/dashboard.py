"""The dashboard and the engine controls (API.md "Overview, analytics, operations"):
`GET /api/dashboard`, `GET /api/engine`, `POST /api/engine/pause|resume|apply`.

Reads are for viewers (managers and admins may pass `user_id` to read another user's, as for
logs and performance); the controls act on the caller's own engine and need the trader role.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from marshmallow import fields

from server import jobs_dashboard
from server.api.client_address import client_ip
from server.api.errors import ApiError, NotFound
from server.api.guard import current_user, may_read_user, require_role
from server.api.openapi import accepts
from server.api.schemas import InputSchema, load
from server.domain.enums import Role
from server.persistence.models import User
from server.services import dashboard as dashboard_service
from server.services import engine as engine_service

bp = Blueprint("dashboard", __name__, url_prefix="/api")


class OwnerQuery(InputSchema):
    """Whose dashboard or engine (managers and admins; default: the caller's own)."""

    user_id = fields.UUID(load_default=None)


def _owner() -> User:
    args = load(OwnerQuery(), request.args.to_dict())
    viewer = current_user()
    owner_id = args.get("user_id")
    if owner_id is None or str(owner_id) == str(viewer.id):
        return viewer
    if not may_read_user(viewer, owner_id):
        raise ApiError(403, "only managers and admins read another user's engine")
    owner = User.get_or_none(User.id == owner_id)
    if owner is None:
        raise NotFound("user")
    return owner


@bp.get("/dashboard")
@require_role(Role.VIEWER)
@accepts(query=OwnerQuery)
def get_dashboard():
    """Active groups, pool usage, queued signals, total PnL, last webhook, engine and risk
    status, and the unacknowledged alerts (newest 20; `alerts_total` counts them all)."""
    return jsonify(dashboard_service.dashboard(_owner()))


@bp.post("/jobs/session")
@require_role(Role.ADMIN)
def open_jobs_dashboard():
    """A 30-minute pass to the job dashboard (rq-dashboard at `/jobs/`): an HttpOnly,
    SameSite=Strict cookie scoped to `/jobs`; the admin role is re-checked on every request."""
    lifetime = int(jobs_dashboard.LIFETIME.total_seconds())
    response = jsonify({"url": f"{jobs_dashboard.PATH}/", "expires_in": lifetime})
    return jobs_dashboard.issue_pass(response, current_user())


@bp.get("/engine")
@require_role(Role.VIEWER)
@accepts(query=OwnerQuery)
def get_engine():
    """Engine status: `running|paused|degraded|error`, why (`message`) and what to do
    (`action`), with each exchange account's circuit breaker."""
    return jsonify(engine_service.status_of(_owner().id))


@bp.post("/engine/pause")
@require_role(Role.TRADER)
def pause_engine():
    """Pause trading: no entry signal opens or extends a group until resumed; open groups keep
    being managed (fills, take-profit, exits, manual close). Idempotent."""
    user = current_user()
    return jsonify(engine_service.pause(user, user, client_ip()))


@bp.post("/engine/resume")
@require_role(Role.TRADER)
def resume_engine():
    """Lift a pause. 409 `invalid_credentials` while the keys are invalid (validating the
    account again lifts that pause). Idempotent."""
    user = current_user()
    return jsonify(engine_service.resume(user, user, client_ip()))


@bp.post("/engine/apply")
@require_role(Role.TRADER)
def apply_engine():
    """Apply & Restart Engine: the current settings version is checked and put in force;
    workers read it on their next job, no process restarts."""
    user = current_user()
    return jsonify(engine_service.apply_settings(user, user, client_ip()))
