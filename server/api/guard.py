"""The one decorator that checks who is calling and what their role allows (SPEC §8)."""

from __future__ import annotations

from functools import wraps
from uuid import UUID

from flask import g
from flask_jwt_extended import get_jwt_identity, verify_jwt_in_request

from server.api.errors import ApiError
from server.domain.enums import Role
from server.persistence.models import User


def current_user() -> User:
    return g.user


def load_active_user(identity) -> User | None:
    try:
        user_id = UUID(str(identity))
    except ValueError:
        return None
    user = User.get_or_none(User.id == user_id)
    return user if user is not None and user.is_active else None


def require_role(role: Role, *, refresh: bool = False):
    """Require a valid (unrevoked) token whose user is active and has at least `role`.

    The role is read from the database on every request, so a demotion or deactivation takes
    effect at once instead of when the token expires.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            verify_jwt_in_request(refresh=refresh)
            user = load_active_user(get_jwt_identity())
            if user is None:
                raise ApiError(401, "account not found or deactivated; log in again")
            if not Role(user.role).at_least(role):
                raise ApiError(403, f"this action needs the {role.value} role", "forbidden")
            g.user = user
            return view(*args, **kwargs)

        wrapper.required_role = role  # read by the role-boundary tests and the API docs
        return wrapper

    return decorator


def may_read_user(viewer: User, owner_id) -> bool:
    """Own data always; managers and admins may read every user's positions and logs."""
    return str(viewer.id) == str(owner_id) or Role(viewer.role).at_least(Role.MANAGER)
