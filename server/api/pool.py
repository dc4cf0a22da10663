"""The execution pool and the queue (API.md "Positions, pool, queue, risk"; SPEC §5).

Reads are the caller's own pool and queue (viewer). The manual actions (trader, own queued
signals only: someone else's is a 404) are audited: promote takes the next free slot now (409
when the pool is full), force opens the group over the limit, delete removes the signal.
"""

from __future__ import annotations

from uuid import UUID

from flask import Blueprint, jsonify

from server.api.client_address import client_ip
from server.api.errors import ApiError, NotFound
from server.api.guard import current_user, require_role
from server.domain.enums import Role
from server.persistence.models import QueuedSignal
from server.services import pool, queue, queue_promotion
from server.services.journal import audit

bp = Blueprint("pool", __name__, url_prefix="/api")


@bp.get("/pool")
@require_role(Role.VIEWER)
def get_pool():
    """The caller's pool: `{max_open_groups, used, free, groups}` (plus over_limit, slots)."""
    return jsonify(pool.pool_out(current_user().id))


@bp.get("/queue")
@require_role(Role.VIEWER)
def get_queue():
    """The caller's queued signals in priority order (rank 1 is promoted next)."""
    return jsonify(queue.queue_out(current_user().id))


def _own_queued(queued_id: str) -> QueuedSignal:
    try:
        key = UUID(queued_id)
    except ValueError:
        raise NotFound("queued signal") from None
    row = QueuedSignal.get_or_none(
        (QueuedSignal.id == key) & (QueuedSignal.user == current_user().id)
    )
    if row is None:
        raise NotFound("queued signal")
    return row


def _done(row: QueuedSignal, action: str, promotion=None, status: int = 200):
    user = current_user()
    audit(user.id, f"queue.{action}", target_type="queued_signal", target_id=row.id,
          remote_addr=client_ip(), symbol=row.symbol, timeframe=row.timeframe, side=row.side,
          group_id=getattr(promotion, "group_id", None))  # fmt: skip
    body = {"id": str(row.id), "status": QueuedSignal.get_by_id(row.id).status}
    if promotion is not None:
        body |= {"group_id": promotion.group_id, "message": promotion.reason}
    return jsonify(body), status


@bp.post("/queue/<queued_id>/promote")
@require_role(Role.TRADER)
def promote_queued(queued_id: str):
    """Promote now: open the group in the next free slot (409 when the pool is full)."""
    row = _own_queued(queued_id)
    try:
        promotion = queue_promotion.promote_now(row.id, current_user().id)
    except queue.QueueActionRefused as exc:
        raise ApiError(409, str(exc)) from None
    return _done(row, "promote", promotion)


@bp.post("/queue/<queued_id>/force")
@require_role(Role.TRADER)
def force_queued(queued_id: str):
    """Force add: open the group even when the pool is full (shown as over the limit)."""
    row = _own_queued(queued_id)
    try:
        promotion = queue_promotion.force_add(row.id, current_user().id)
    except queue.QueueActionRefused as exc:
        raise ApiError(409, str(exc)) from None
    return _done(row, "force", promotion)


@bp.delete("/queue/<queued_id>")
@require_role(Role.TRADER)
def remove_queued(queued_id: str):
    """Remove the signal from the queue (its outcome becomes `removed`)."""
    row = _own_queued(queued_id)
    try:
        queue.remove(row.id, current_user().id, current_user().username)
    except queue.QueueActionRefused as exc:
        raise ApiError(409, str(exc)) from None
    return _done(row, "remove")
