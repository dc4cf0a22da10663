"""One error shape for every 4xx/5xx under /api (API.md):

    {"error": {"code": "snake_case_code", "message": "human text", "fields": {"field": ["why"]}}}

Never a stack trace, never an HTML page.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from marshmallow import ValidationError
from peewee import InterfaceError, OperationalError
from playhouse.pool import MaxConnectionsExceeded
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An expected failure a route or service reports to the caller."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "error")
        self.fields = fields or {}
        self.headers = headers or {}


class NotFound(ApiError):
    def __init__(self, what: str = "resource") -> None:
        super().__init__(404, f"{what} not found", "not_found")


def error_body(status: int, message: str, code: str | None = None, fields=None) -> dict:
    return {
        "error": {
            "code": code or _CODES.get(status, "error"),
            "message": message,
            "fields": fields or {},
        }
    }


def error_response(status: int, message: str, code: str | None = None, fields=None, headers=None):
    response = jsonify(error_body(status, message, code, fields))
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _normalise_fields(messages) -> dict[str, list[str]]:
    """Flatten marshmallow's nested messages into {"a.b.0.c": ["why"]}."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            flat.setdefault(prefix or "_schema", []).extend(value)
        elif isinstance(value, list):
            for inner in value:
                walk(prefix, inner)
        else:
            flat.setdefault(prefix or "_schema", []).append(str(value))

    walk("", messages)
    return flat


def validation_error(exc: ValidationError, message: str = "some fields are invalid"):
    return error_response(422, message, "invalid", _normalise_fields(exc.messages))


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.message, exc.code, exc.fields, exc.headers)

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):
        return validation_error(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        if status == 429:
            message = f"too many requests: limit {exc.description}; slow down and retry later"
        elif status == 413:
            message = "request body too large"
        else:
            message = exc.description or _CODES.get(status, "error")
        if status == 404:
            message = f"no such endpoint: {request.method} {request.path}"
        if status == 405:
            message = f"{request.method} is not allowed on {request.path}"
        if not request.path.startswith("/api") and status == 404:
            return exc  # SPA fallback handles non-API 404s; keep werkzeug's page off /api only
        return error_response(status, message, _CODES.get(status, "error"))

    @app.errorhandler(MaxConnectionsExceeded)
    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_unavailable(exc: Exception):
        """No database connection (down, or every pooled connection busy): 503, retryable."""
        log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
        return error_response(
            503,
            "the database is unavailable or saturated; retry shortly",
            "service_unavailable",
            headers={"Retry-After": "1"},
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(
            500, "internal error; the engine logged the details", "internal_error"
        )
