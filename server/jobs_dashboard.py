"""The job dashboard for admins (SPEC §8, issue #9): rq-dashboard mounted at `/jobs/`, behind
the console's own users and roles.

rq-dashboard is a server-rendered page whose own scripts call its JSON routes, so the console's
bearer token (kept by the SPA, never in a cookie) cannot reach it. An admin's console therefore
asks `POST /api/jobs/session` for a short-lived pass: an HttpOnly, `SameSite=Strict` cookie
scoped to `/jobs`, signed with the app's secret (not a JWT, so it can never be replayed against
`/api`). Every request under `/jobs/` checks the pass *and* reads the user from the database,
so deactivating or demoting an admin takes effect at once. `SameSite=Strict` keeps other sites
from driving rq-dashboard's requeue/delete actions with the admin's cookie.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from flask import Flask, Response, current_app, request, send_from_directory
from itsdangerous import BadSignature, URLSafeTimedSerializer

from server.api.errors import error_response
from server.domain.enums import Role
from server.persistence.models import User

PATH = "/jobs"
COOKIE = "jobs_pass"
LIFETIME = timedelta(minutes=30)
_SALT = "jobs-dashboard-pass"


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def issue_pass(response: Response, user: User) -> Response:
    """Set the job-dashboard cookie for `user` (an admin) on `response`."""
    token = _signer().dumps({"uid": str(user.id)})
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(LIFETIME.total_seconds()),
        path=PATH,
        httponly=True,
        samesite="Strict",
        secure=current_app.config["PUBLIC_URL"].startswith("https://"),
    )
    return response


def _admin_from_pass() -> User | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        data = _signer().loads(token, max_age=int(LIFETIME.total_seconds()))
        user_id = UUID(str(data["uid"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    user = User.get_or_none(User.id == user_id)
    if user is None or not user.is_active or not Role(user.role).at_least(Role.ADMIN):
        return None
    return user


def _guard():
    if _admin_from_pass() is None:
        return error_response(
            401,
            "the job dashboard is for admins: open it from the console (Dashboard → Jobs)",
            "unauthenticated",
        )
    return None


def register_jobs_dashboard(app: Flask) -> None:
    """Mount rq-dashboard at `/jobs/` on this app's Redis, every route behind `_guard`."""
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection

    app.config.setdefault("RQ_DASHBOARD_REDIS_URL", app.config["REDIS_URL"])
    with app.app_context():
        setup_rq_connection(app)
    blueprint = rq_dashboard.blueprint
    if _guard not in blueprint.before_request_funcs.get(None, []):
        # First in line, before rq-dashboard's own connection hook.
        blueprint.before_request_funcs.setdefault(None, []).insert(0, _guard)
    app.register_blueprint(blueprint, url_prefix=PATH)
    # rq-dashboard's base page links `url_for('static', filename='favicon.ico')`, the app-wide
    # static endpoint this app does not have (the SPA serves its own files): point that one
    # name at rq-dashboard's own static files, under /jobs.
    if "static" not in app.view_functions:
        app.add_url_rule(
            f"{PATH}/_static/<path:filename>",
            endpoint="static",
            view_func=lambda filename: send_from_directory(blueprint.static_folder, filename),
        )
