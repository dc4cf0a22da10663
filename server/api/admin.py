"""User administration and system settings (admin only)."""

from __future__ import annotations

from uuid import UUID

from flask import Blueprint, jsonify

from server.api.client_address import client_ip
from server.api.errors import NotFound
from server.api.guard import current_user, require_role
from server.api.openapi import accepts
from server.api.schemas import load
from server.api.schemas.auth import InviteUserSchema, RegistrationModeSchema, UpdateUserSchema
from server.api.serializers import user_out
from server.domain.enums import Role
from server.persistence.models import User
from server.services import users

bp = Blueprint("admin", __name__, url_prefix="/api/admin")


def _user_or_404(user_id: str) -> User:
    try:
        user = User.get_or_none(User.id == UUID(user_id))
    except ValueError:
        user = None
    if user is None:
        raise NotFound("user")
    return user


@bp.get("/users")
@require_role(Role.ADMIN)
def list_users():
    rows = User.select().order_by(User.created_at)
    return jsonify({"items": [user_out(u) for u in rows]})


@bp.post("/users")
@require_role(Role.ADMIN)
@accepts(body=InviteUserSchema)
def invite_user():
    data = load(InviteUserSchema())
    user, link = users.invite_user(
        current_user(), data["email"], data["username"], Role(data["role"]), client_ip()
    )
    return jsonify({"user": user_out(user), "invite_url": link}), 201


@bp.get("/users/<user_id>")
@require_role(Role.ADMIN)
def get_user(user_id: str):
    return jsonify(user_out(_user_or_404(user_id)))


@bp.patch("/users/<user_id>")
@require_role(Role.ADMIN)
@accepts(body=UpdateUserSchema)
def update_user(user_id: str):
    changes = load(UpdateUserSchema())
    user = users.update_user(current_user(), _user_or_404(user_id), changes, client_ip())
    return jsonify(user_out(user))


@bp.get("/system")
@require_role(Role.ADMIN)
def get_system():
    return jsonify({"registration": users.registration_mode()})


@bp.put("/system")
@require_role(Role.ADMIN)
@accepts(body=RegistrationModeSchema)
def put_system():
    data = load(RegistrationModeSchema())
    users.set_registration_mode(data["registration"], current_user())
    return jsonify({"registration": users.registration_mode()})
