"""Fetching a user's own object: someone else's answers 404, exactly like a missing one."""

from __future__ import annotations

from uuid import UUID

from server.api.errors import NotFound
from server.api.guard import may_read_user


def owned_or_404(model, object_id: str, viewer, what: str, *, write: bool = False):
    """`model` row `object_id` if `viewer` may see it (write: only the owner), else 404."""
    try:
        row = model.get_or_none(model.id == UUID(object_id))
    except ValueError:
        row = None
    if row is None:
        raise NotFound(what)
    owner = row.user_id
    allowed = str(owner) == str(viewer.id) if write else may_read_user(viewer, owner)
    if not allowed:
        raise NotFound(what)
    return row
