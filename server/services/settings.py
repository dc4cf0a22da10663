"""Per-user settings use cases (SPEC §9): read, save as a new version, history, export/import,
restore an old version, reset to defaults.

Every save writes a new immutable `SettingsVersion` row (version = last + 1) and its audit line in
one transaction; a document that fails validation writes nothing. A user who never saved has
version 0, which is `DEFAULT_SETTINGS`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from marshmallow import ValidationError
from peewee import JOIN, IntegrityError

from server.api.errors import ApiError, NotFound
from server.clock import isoformat, utcnow
from server.domain.settings import (
    DEFAULT_SETTINGS,
    SECTIONS,
    dump_settings,
    merge_partial,
    validate_settings,
)
from server.persistence.db import db
from server.persistence.models import SettingsVersion, User
from server.persistence.prepared import Prepared, Slot
from server.services.journal import audit

EXPORT_FORMAT = "dca-engine-settings"
EXPORT_FORMAT_VERSION = 1
NOTE_MAX = 200
_WRITE_ATTEMPTS = 3


@dataclass(frozen=True)
class SettingsRecord:
    """The user's current settings and where they came from (version 0 = defaults, unsaved)."""

    version: int
    document: dict
    updated_at: datetime | None
    updated_by: str | None  # username of whoever saved it


def _latest_row(user: User) -> SettingsVersion | None:
    return (
        SettingsVersion.select()
        .where(SettingsVersion.user == user.id)
        .order_by(SettingsVersion.version.desc())
        .first()
    )


def _complete(stored: dict) -> dict:
    """A stored document with any key added since it was saved filled from the defaults."""
    return merge_partial(DEFAULT_SETTINGS, stored or {})


def _username(row: SettingsVersion) -> str | None:
    if row.created_by_id is None:
        return None
    creator = User.get_or_none(User.id == row.created_by_id)
    return creator.username if creator else None


def current_record(user: User) -> SettingsRecord:
    row = _latest_row(user)
    if row is None:
        return SettingsRecord(0, merge_partial(DEFAULT_SETTINGS, {}), None, None)
    return SettingsRecord(row.version, _complete(row.document), row.created_at, _username(row))


def current_settings(user: User) -> tuple[int, dict]:
    """(version, JSON document) the user's engine runs with; (0, defaults) if never saved."""
    record = current_record(user)
    return record.version, record.document


_VALIDATED: dict[tuple[str, int], dict] = {}  # (user id, version) → loaded document
_VALIDATED_MAX = 2048


def effective_settings(user: User) -> dict:
    """The current document loaded for the engine: `Decimal`s, ints, booleans."""
    return effective_settings_of(user.id)


_NEWEST_VERSION = Prepared(
    lambda: (
        SettingsVersion.select(SettingsVersion.version, SettingsVersion.document)
        .where(SettingsVersion.user == Slot("user", SettingsVersion.user))
        .order_by(SettingsVersion.version.desc())
        .limit(1)
    )
)


def effective_settings_of(user_id) -> dict:
    """`effective_settings` by user id, on the signal hot path: one query for the newest
    version; its validated document is kept per (user, version) in this process — a version
    is never changed once saved, so a save is seen by the very next call. A copy is returned
    (callers may change theirs)."""
    row = _NEWEST_VERSION.first(user=user_id)
    key = (str(user_id), row.version if row is not None else 0)
    loaded = _VALIDATED.get(key)
    if loaded is None:
        loaded = validate_settings(_complete(row.document if row is not None else {}))
        if len(_VALIDATED) >= _VALIDATED_MAX:
            _VALIDATED.clear()
        _VALIDATED[key] = loaded
    return copy.deepcopy(loaded)


def _check_note(note) -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise ValidationError({"note": ["must be text"]})
    if len(note) > NOTE_MAX:
        raise ValidationError({"note": [f"at most {NOTE_MAX} characters; got {len(note)}"]})
    return note.strip()


def _changed_keys(before: dict, after: dict) -> list[str]:
    """Dotted names of the settings that differ, for the audit line."""
    changed = []
    for section in SECTIONS:
        old, new = before.get(section) or {}, after.get(section) or {}
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                changed.append(f"{section}.{key}")
    return changed


def _commit(
    user: User,
    actor: User,
    build: Callable[[int, dict], dict],
    *,
    note: str,
    action: str,
    remote_addr: str | None,
    expected_version: int | None = None,
    **detail,
) -> tuple[int, dict]:
    """Write `build(current_version, current_doc)` as version last + 1, audited, atomically.

    `build` validates and may raise `ValidationError`; nothing is written then. Two saves racing
    for the same version number meet the unique (user, version) index: the loser retries on top
    of the winner's document.
    """
    for attempt in range(_WRITE_ATTEMPTS):
        try:
            with db.atomic():
                current = current_record(user)
                if expected_version is not None and expected_version != current.version:
                    raise ApiError(
                        409,
                        f"settings changed since version {expected_version} was loaded (now "
                        f"version {current.version}); reload them and apply your change again",
                        "version_conflict",
                    )
                document = build(current.version, current.document)
                version = current.version + 1
                SettingsVersion.create(
                    user=user.id,
                    version=version,
                    document=document,
                    created_by=actor.id,
                    note=note[:NOTE_MAX],
                )
                audit(
                    actor.id,
                    action,
                    target_type="user",
                    target_id=user.id,
                    remote_addr=remote_addr,
                    version=version,
                    changed=_changed_keys(current.document, document),
                    **detail,
                )
                return version, document
        except IntegrityError:
            if attempt == _WRITE_ATTEMPTS - 1:
                raise ApiError(
                    409, "settings were being saved concurrently; try again", "version_conflict"
                ) from None
    raise AssertionError("unreachable")


def _validated(document: dict) -> dict:
    return dump_settings(validate_settings(document))


def save_settings(
    user: User,
    actor: User,
    doc_or_patch: dict,
    note: str | None = None,
    remote_addr: str | None = None,
    *,
    expected_version: int | None = None,
) -> tuple[int, dict]:
    """Lay `doc_or_patch` (the whole document or only some sections) over the current settings,
    validate the result and store it as a new version. Saving an unchanged document is allowed
    and still makes a new version (it is also how the engine is told to re-apply settings).
    `expected_version`, when given, refuses (409) a save based on an outdated version."""
    text = _check_note(note)
    if not isinstance(doc_or_patch, dict):
        raise ValidationError({"settings": ["must be a JSON object"]})
    return _commit(
        user,
        actor,
        lambda _v, current: _validated(merge_partial(current, doc_or_patch)),
        note=text,
        action="settings.save",
        remote_addr=remote_addr,
        expected_version=expected_version,
    )


def history(user: User, limit: int = 100) -> list[dict]:
    """Saved versions, newest first: version, when, who (username), note."""
    rows = (
        SettingsVersion.select(SettingsVersion, User.username)
        .join(
            User,
            on=(SettingsVersion.created_by == User.id),
            join_type=JOIN.LEFT_OUTER,
            attr="creator",
        )
        .where(SettingsVersion.user == user.id)
        .order_by(SettingsVersion.version.desc())
        .limit(limit)
    )
    return [
        {
            "version": row.version,
            "created_at": isoformat(row.created_at),
            "created_by": row.creator.username if getattr(row, "creator", None) else None,
            "note": row.note,
        }
        for row in rows
    ]


def version_document(user: User, version: int) -> dict:
    """One saved version in full; 404 when the user has no such version."""
    row = SettingsVersion.get_or_none(
        (SettingsVersion.user == user.id) & (SettingsVersion.version == version)
    )
    if row is None:
        raise NotFound(f"settings version {version}")
    return {
        "version": row.version,
        "settings": _complete(row.document),
        "created_at": isoformat(row.created_at),
        "created_by": _username(row),
        "note": row.note,
    }


def export_settings(user: User) -> dict:
    """A self-describing backup of the current settings, accepted back by `import_settings`."""
    version, document = current_settings(user)
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": isoformat(utcnow()),
        "version": version,
        "settings": document,
    }


def _check_export(payload) -> dict:
    """The settings inside an export, validated whole; errors name payload paths."""
    if not isinstance(payload, dict):
        raise ValidationError({"_schema": ["an import must be a JSON object as exported"]})
    errors: dict = {}
    if payload.get("format") != EXPORT_FORMAT:
        errors["format"] = [f'must be "{EXPORT_FORMAT}": import a file made by settings export']
    fmt_version = payload.get("format_version")
    if isinstance(fmt_version, bool) or fmt_version != EXPORT_FORMAT_VERSION:
        errors["format_version"] = [
            f"must be {EXPORT_FORMAT_VERSION}; this engine cannot read format version "
            f"{fmt_version!r}"
        ]
    settings = payload.get("settings")
    if not isinstance(settings, dict) or not settings:
        errors["settings"] = ["must be the exported settings object"]
    if errors:
        raise ValidationError(errors)
    try:
        # An older export may lack settings added since: those take their defaults.
        return _validated(merge_partial(DEFAULT_SETTINGS, settings))
    except ValidationError as exc:
        raise ValidationError({"settings": exc.messages}) from None


def import_settings(user: User, actor: User, payload, remote_addr: str | None = None):
    """Replace the settings with an export's, as a new version; an invalid file writes nothing."""
    document = _check_export(payload)
    exported_at = payload.get("exported_at")
    note = "imported" + (f" (exported {exported_at})" if isinstance(exported_at, str) else "")
    return _commit(
        user,
        actor,
        lambda _v, _current: document,
        note=note,
        action="settings.import",
        remote_addr=remote_addr,
        source_version=payload.get("version") if isinstance(payload.get("version"), int) else None,
    )


def restore_version(user: User, actor: User, version: int, remote_addr: str | None = None):
    """Save an earlier version's document again as the newest version."""
    row = SettingsVersion.get_or_none(
        (SettingsVersion.user == user.id) & (SettingsVersion.version == version)
    )
    if row is None:
        raise NotFound(f"settings version {version}")
    try:
        document = _validated(_complete(row.document))
    except ValidationError as exc:  # saved under older rules: say which fields fail today
        raise ValidationError({"settings": exc.messages}) from None
    return _commit(
        user,
        actor,
        lambda _v, _current: document,
        note=f"restored from version {version}",
        action="settings.restore",
        remote_addr=remote_addr,
        restored_version=version,
    )


def reset_to_defaults(user: User, actor: User, remote_addr: str | None = None):
    """Save the product defaults as the newest version."""
    document = _validated(DEFAULT_SETTINGS)
    return _commit(
        user,
        actor,
        lambda _v, _current: document,
        note="reset to defaults",
        action="settings.reset",
        remote_addr=remote_addr,
    )
