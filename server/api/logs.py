"""The system log, its alerts and the audit log (API.md "Overview, analytics, operations").

Who sees what (SPEC §8): everyone their own lines; managers may pass `user_id` to read another
user's; admins also see the system-wide lines (no user: failed logins from unknown names, ...).
The audit log is for admins only.
"""

from __future__ import annotations

from uuid import UUID

from flask import Blueprint, Response, jsonify, request, stream_with_context

from server.api.client_address import client_ip
from server.api.errors import ApiError, NotFound
from server.api.guard import current_user, may_read_user, require_role
from server.api.openapi import accepts
from server.api.schemas import json_body, load
from server.api.schemas.logs import AckAllSchema, AuditQuery, LogExportQuery, LogQuery
from server.clock import utcnow
from server.domain.enums import Role
from server.domain.signals import normalise_symbol
from server.persistence.db import db
from server.persistence.models import SystemLog
from server.services import logs as log_service
from server.services.journal import audit

bp = Blueprint("logs", __name__, url_prefix="/api")


def _symbol(args: dict) -> str | None:
    symbol = args.get("symbol")
    if not symbol:
        return None
    try:
        return normalise_symbol(symbol)[0]
    except ValueError as exc:
        raise ApiError(422, str(exc), "invalid", {"symbol": [str(exc)]}) from None


def _filter(args: dict) -> log_service.LogFilter:
    """The caller's view of the log: whose lines (role rules above) and which."""
    viewer = current_user()
    is_admin = Role(viewer.role).at_least(Role.ADMIN)
    scope = args.get("scope")
    if scope == "system" and not is_admin:
        raise ApiError(403, "only admins read the system-wide log lines")
    owner_id = args.get("user_id") or viewer.id
    if not may_read_user(viewer, owner_id):
        raise ApiError(403, "only managers and admins read another user's log")
    own = str(owner_id) == str(viewer.id)
    return log_service.LogFilter(
        owner_id=owner_id,
        include_system=is_admin and own and scope is None,
        system_only=scope == "system",
        levels=args.get("level") or (),
        categories=args.get("category") or (),
        q=(args.get("q") or "").strip() or None,
        symbol=_symbol(args),
        since=args.get("from_"),
        until=args.get("to"),
        acknowledged=args.get("acknowledged"),
    )


@bp.get("/logs")
@require_role(Role.VIEWER)
@accepts(query=LogQuery)
def list_logs():
    """The system log, newest first: level, category, q, symbol, from, to, acknowledged.

    `level` and `category` take one value or a comma-separated list. Paging: pass the answer's
    `next_cursor` as `cursor` for the next (older) page; it is null on the last page."""
    args = load(LogQuery(), request.args.to_dict())
    try:
        rows, next_cursor = log_service.list_logs(
            _filter(args), limit=args["limit"], cursor=args.get("cursor")
        )
    except log_service.BadCursor as exc:
        raise ApiError(422, str(exc), "invalid", {"cursor": [str(exc)]}) from None
    return jsonify({"items": [log_service.log_out(r) for r in rows], "next_cursor": next_cursor})


@bp.get("/logs/export")
@require_role(Role.VIEWER)
@accepts(query=LogExportQuery)
def export_logs():
    """The filtered system log as a CSV or JSON download (`format=csv|json`), newest first.

    Same filters as `GET /api/logs`; every matching line (or the first `limit`), streamed."""
    args = load(LogExportQuery(), request.args.to_dict())
    log_filter = _filter(args)
    fmt, max_rows = args["format"], args.get("limit")
    writer = log_service.export_csv if fmt == "csv" else log_service.export_json

    def generate():
        # The request's connection may be closed by teardown before the body is sent: the
        # export reads on a connection of its own.
        with db.connection_context():
            yield from writer(log_service.iter_logs(log_filter, max_rows))

    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    mimetype = "text/csv" if fmt == "csv" else "application/json"
    response = Response(stream_with_context(generate()), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="logs-{stamp}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _line_or_404(log_id: str) -> SystemLog:
    try:
        row = SystemLog.get_or_none(SystemLog.id == UUID(log_id))
    except ValueError:
        row = None
    if row is None or not log_service.may_ack(current_user(), row):
        raise NotFound("log line")
    return row


@bp.post("/logs/<log_id>/ack")
@require_role(Role.TRADER)
def acknowledge_log(log_id: str):
    """Acknowledge one alert (own lines; admins also system-wide ones); answers the line."""
    row = _line_or_404(log_id)
    if not row.acknowledged:
        with db.atomic():
            log_service.acknowledge(row)
            audit(
                current_user().id,
                "log.ack",
                target_type="system_log",
                target_id=row.id,
                remote_addr=client_ip(),
            )
    return jsonify(log_service.log_out(row))


@bp.post("/logs/ack-all")
@require_role(Role.TRADER)
@accepts(body=AckAllSchema)
def acknowledge_all_logs():
    """Acknowledge every pinned alert (WARNING and above) written up to `until` (default now)."""
    data = load(AckAllSchema(), json_body())
    with db.atomic():
        count = log_service.acknowledge_all(current_user(), data.get("until"))
        if count:
            audit(
                current_user().id,
                "log.ack_all",
                target_type="user",
                target_id=current_user().id,
                remote_addr=client_ip(),
                count=count,
            )
    return jsonify({"acknowledged": count})


@bp.get("/audit")
@require_role(Role.ADMIN)
@accepts(query=AuditQuery)
def list_audit():
    """The audit log (who changed what, when, from where), newest first, cursor paging."""
    args = load(AuditQuery(), request.args.to_dict())
    audit_filter = log_service.AuditFilter(
        actor_id=args.get("actor_id"),
        action=args.get("action"),
        target_type=args.get("target_type"),
        target_id=args.get("target_id"),
        q=(args.get("q") or "").strip() or None,
        since=args.get("from_"),
        until=args.get("to"),
    )
    try:
        rows, next_cursor, names = log_service.list_audit(
            audit_filter, limit=args["limit"], cursor=args.get("cursor")
        )
    except log_service.BadCursor as exc:
        raise ApiError(422, str(exc), "invalid", {"cursor": [str(exc)]}) from None
    return jsonify(
        {"items": [log_service.audit_out(r, names) for r in rows], "next_cursor": next_cursor}
    )
