"""Per-user settings (API.md "Settings", SPEC §9): read, save as a new version, history,
export/import, restore and reset. `/api/settings/preview` lives with the grid code, not here."""

from __future__ import annotations

import re

from flask import Blueprint, jsonify, request
from marshmallow import ValidationError, fields, validate

from server.api.client_address import client_ip
from server.api.errors import ApiError
from server.api.guard import current_user, require_role
from server.api.schemas import InputSchema, json_body, load
from server.clock import isoformat
from server.domain.enums import Role
from server.domain.settings import SECTIONS
from server.services import settings as settings_service

bp = Blueprint("settings", __name__, url_prefix="/api/settings")


class HistoryQuery(InputSchema):
    limit = fields.Integer(
        load_default=100,
        validate=validate.Range(min=1, max=1000, error="must be between 1 and 1000"),
    )


def _document(user) -> dict:
    """The GET shape: the whole settings document with its version and who saved it when."""
    record = settings_service.current_record(user)
    return {
        "version": record.version,
        "settings": record.document,
        "updated_at": isoformat(record.updated_at),
        "updated_by": record.updated_by,
    }


def _put_body(body: dict) -> tuple[dict, object, int | None]:
    """(settings or patch, note, expected version) from any of the accepted PUT shapes:
    `{"settings": {...}, "note"?}`, the GET document itself (its `version` guards against
    overwriting a newer save), or a bare settings document / some of its sections."""
    if "settings" in body:
        settings = body["settings"]
        if not isinstance(settings, dict):
            raise ValidationError({"settings": ["must be a JSON object of settings sections"]})
        version = body.get("version")
        expected = version if isinstance(version, int) and not isinstance(version, bool) else None
        return settings, body.get("note"), expected
    sections = {key: body[key] for key in SECTIONS if key in body}
    if not sections:
        listed = ", ".join(SECTIONS)
        raise ApiError(
            422,
            'no settings in the body: send {"settings": {...}} or one or more sections '
            f"({listed})",
            "invalid",
            fields={"settings": ["missing"]},
        )
    return sections, body.get("note"), None


@bp.get("")
@require_role(Role.VIEWER)
def get_settings():
    return jsonify(_document(current_user()))


@bp.put("")
@require_role(Role.TRADER)
def put_settings():
    user = current_user()
    patch, note, expected = _put_body(json_body())
    settings_service.save_settings(user, user, patch, note, client_ip(), expected_version=expected)
    return jsonify(_document(user))


@bp.get("/history")
@require_role(Role.VIEWER)
def get_history():
    args = load(HistoryQuery(), request.args.to_dict())
    return jsonify({"items": settings_service.history(current_user(), args["limit"])})


@bp.get("/history/<int:version>")
@require_role(Role.VIEWER)
def get_version(version: int):
    return jsonify(settings_service.version_document(current_user(), version))


@bp.get("/export")
@require_role(Role.TRADER)
def export_settings():
    user = current_user()
    payload = settings_service.export_settings(user)
    response = jsonify(payload)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", user.username)
    filename = f"settings-{name}-v{payload['version']}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.post("/import")
@require_role(Role.TRADER)
def import_settings():
    user = current_user()
    settings_service.import_settings(user, user, json_body(), client_ip())
    return jsonify(_document(user))


@bp.post("/restore/<int:version>")
@require_role(Role.TRADER)
def restore_version(version: int):
    user = current_user()
    settings_service.restore_version(user, user, version, client_ip())
    return jsonify(_document(user))


@bp.post("/reset")
@require_role(Role.TRADER)
def reset_settings():
    user = current_user()
    settings_service.reset_to_defaults(user, user, client_ip())
    return jsonify(_document(user))
