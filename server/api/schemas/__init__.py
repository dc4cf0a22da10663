"""Marshmallow schemas for every request body and query string at the edge."""

from __future__ import annotations

from flask import request
from marshmallow import EXCLUDE, Schema

from server.api.errors import ApiError


class InputSchema(Schema):
    """Base for request schemas: unknown fields are ignored, as the contract promises."""

    class Meta:
        unknown = EXCLUDE


def json_body() -> dict:
    """The request body as a JSON object, or a 400 that says what is wrong."""
    data = request.get_json(silent=True, force=True)
    if data is None and request.get_data(cache=True):
        raise ApiError(400, "request body is not valid JSON", "malformed_json")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object", "malformed_json")
    return data


def load(schema: Schema, data: dict | None = None) -> dict:
    """Validate `data` (default: the JSON body); marshmallow's errors become a 422."""
    return schema.load(json_body() if data is None else data)
