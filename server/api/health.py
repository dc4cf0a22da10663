"""`GET /api/health` (public): 200 when every dependency is up, 503 otherwise."""

from __future__ import annotations

from flask import Blueprint, jsonify

from server.services.health import health_report

bp = Blueprint("health", __name__, url_prefix="/api")


@bp.get("/health")
def health():
    report, healthy = health_report()
    return jsonify(report), 200 if healthy else 503
