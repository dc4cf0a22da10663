"""Auth endpoints (API.md "Auth and users"): register, login, refresh, logout, me, secrets."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token, get_jwt
from jwt import PyJWTError

from server import runtime
from server.api.client_address import client_ip
from server.api.guard import current_user, require_role
from server.api.openapi import accepts
from server.api.schemas import load
from server.api.schemas.auth import (
    ForgotPasswordSchema,
    LoginSchema,
    LogoutSchema,
    RegisterSchema,
    ResetPasswordSchema,
)
from server.api.serializers import user_out
from server.domain.enums import Role
from server.extensions import limiter
from server.services import users
from server.services.journal import audit
from server.state.token_blocklist import revoke

bp = Blueprint("auth", __name__, url_prefix="/api/auth")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _register_limit() -> str:
    return current_app.config["REGISTER_RATE_LIMIT"]


def _tokens(user) -> dict:
    return {
        "user": user_out(user),
        "access_token": create_access_token(identity=str(user.id)),
        "refresh_token": create_refresh_token(identity=str(user.id)),
    }


@bp.post("/register")
@limiter.limit(_register_limit)
@accepts(body=RegisterSchema)
def register():
    data = load(RegisterSchema())
    user = users.register(data["email"], data["username"], data["password"], client_ip())
    return jsonify(_tokens(user)), 201


@bp.post("/login")
@limiter.limit(_login_limit)
@accepts(body=LoginSchema)
def login():
    data = load(LoginSchema())
    user = users.authenticate(data["login"], data["password"], client_ip())
    return jsonify(_tokens(user))


@bp.post("/refresh")
@require_role(Role.VIEWER, refresh=True)
def refresh():
    return jsonify({"access_token": create_access_token(identity=str(current_user().id))})


@bp.post("/logout")
@require_role(Role.VIEWER)
@accepts(body=LogoutSchema)
def logout():
    """Revoke the presented access token and, when given, the refresh token of the session."""
    claims = get_jwt()
    client = runtime.redis_client()
    revoke(client, claims["jti"], claims["exp"])
    refresh_token = load(LogoutSchema()).get("refresh_token")
    if refresh_token:
        try:
            refresh_claims = decode_token(refresh_token)
        except PyJWTError:
            refresh_claims = None
        if refresh_claims and refresh_claims.get("sub") == str(current_user().id):
            revoke(client, refresh_claims["jti"], refresh_claims["exp"])
    audit(
        current_user().id,
        "user.logout",
        target_type="user",
        target_id=current_user().id,
        remote_addr=client_ip(),
    )
    return jsonify({"status": "logged_out"})


@bp.get("/me")
@require_role(Role.VIEWER)
def me():
    return jsonify(user_out(current_user()))


@bp.post("/webhook-secret")
@require_role(Role.TRADER)
def rotate_webhook_secret():
    """Rotate and return the webhook secret; this is the only answer that ever shows it."""
    secret = users.rotate_webhook_secret(current_user(), client_ip())
    return jsonify({"webhook_secret": secret, "webhook_url": users.webhook_url(current_user())})


@bp.post("/forgot-password")
@limiter.limit(_login_limit)
@accepts(body=ForgotPasswordSchema)
def forgot_password():
    data = load(ForgotPasswordSchema())
    users.forgot_password(data["login"], client_ip())
    return jsonify(
        {"status": "sent", "message": "if that account exists, a reset link has been delivered"}
    ), 202


@bp.post("/reset-password")
@limiter.limit(_login_limit)
@accepts(body=ResetPasswordSchema)
def reset_password():
    data = load(ResetPasswordSchema())
    users.reset_password(data["token"], data["password"], client_ip())
    return jsonify({"status": "password_changed"})
