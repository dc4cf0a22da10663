"""flask-jwt-extended wiring: Redis revocation list and the contract's 401 error shape."""

from __future__ import annotations

from flask import Flask

from server import runtime
from server.api.errors import error_response
from server.extensions import jwt
from server.state.token_blocklist import is_revoked


def configure_jwt(app: Flask) -> None:
    jwt.init_app(app)

    @jwt.token_in_blocklist_loader
    def _revoked(_header, payload) -> bool:
        return is_revoked(runtime.redis_client(), payload["jti"])

    @jwt.unauthorized_loader
    def _missing(reason: str):
        return error_response(401, f"authentication required: {reason}", "unauthenticated")

    @jwt.invalid_token_loader
    def _invalid(reason: str):
        return error_response(401, f"invalid token: {reason}", "invalid_token")

    @jwt.expired_token_loader
    def _expired(_header, _payload):
        return error_response(401, "token expired; refresh it or log in again", "token_expired")

    @jwt.revoked_token_loader
    def _revoked_answer(_header, _payload):
        return error_response(401, "token has been revoked; log in again", "token_revoked")
