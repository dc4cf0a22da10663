"""Per-user settings over HTTP (API.md "Settings", SPEC §9): versions, validation, roles,
history, export/import, restore and isolation between users."""

from __future__ import annotations

import copy

from server.domain.settings import DEFAULT_SETTINGS
from server.persistence.models import AuditLog, SettingsVersion


def _get(client, headers):
    r = client.get("/api/settings", headers=headers)
    assert r.status_code == 200
    return r.json


def _put(client, headers, body):
    return client.put("/api/settings", headers=headers, json=body)


def test_get_gives_defaults_at_version_0(client, make_user):
    """A user who never saved sees version 0 with the default document and no author."""
    _, headers = make_user("viewer")
    doc = _get(client, headers)
    assert doc["version"] == 0
    assert doc["settings"] == DEFAULT_SETTINGS
    assert doc["updated_at"] is None and doc["updated_by"] is None
    assert doc["settings"]["capital"]["total_capital_usd"] == "10000"


def test_put_of_the_unchanged_get_document_saves_version_1(client, make_user):
    """PUTting back exactly what GET returned answers 200 and stores version 1 by that user."""
    user, headers = make_user("trader")
    r = _put(client, headers, _get(client, headers))
    assert r.status_code == 200
    assert r.json["version"] == 1
    assert r.json["settings"] == DEFAULT_SETTINGS
    assert r.json["updated_by"] == user.username
    assert r.json["updated_at"].endswith("Z")
    assert SettingsVersion.select().where(SettingsVersion.user == user.id).count() == 1
    assert _get(client, headers)["version"] == 1


def test_put_of_a_section_changes_only_that_and_is_audited(client, make_user):
    """A bare partial document changes one key, keeps the rest, and writes a settings.save audit."""
    user, headers = make_user("trader")
    r = _put(client, headers, {"pool": {"max_open_groups": 4}})
    assert r.status_code == 200
    assert r.json["settings"]["pool"]["max_open_groups"] == 4
    assert r.json["settings"]["grid"] == DEFAULT_SETTINGS["grid"]
    entry = AuditLog.get(AuditLog.action == "settings.save")
    assert str(entry.actor_id) == str(user.id)
    assert entry.detail["changed"] == ["pool.max_open_groups"]


def test_put_invalid_is_422_with_field_paths_and_writes_nothing(client, make_user):
    """Bad weights and a positive gap come back as grid.legs / grid.legs.1.gap_percent errors."""
    user, headers = make_user("trader")
    settings = copy.deepcopy(DEFAULT_SETTINGS)
    settings["grid"]["legs"][4]["weight_percent"] = "19"
    r = _put(client, headers, {"settings": settings})
    assert r.status_code == 422
    assert r.json["error"]["code"] == "invalid"
    assert "99" in r.json["error"]["fields"]["grid.legs"][0]

    settings = copy.deepcopy(DEFAULT_SETTINGS)
    settings["grid"]["legs"][1]["gap_percent"] = "0.5"
    r = _put(client, headers, {"settings": settings})
    assert r.status_code == 422
    assert list(r.json["error"]["fields"]) == ["grid.legs.1.gap_percent"]
    assert SettingsVersion.select().where(SettingsVersion.user == user.id).count() == 0


def test_put_with_no_settings_in_the_body_is_422(client, make_user):
    """A body without `settings` or any section name is refused, saying what to send."""
    _, headers = make_user("trader")
    r = _put(client, headers, {"hello": 1})
    assert r.status_code == 422
    assert "settings" in r.json["error"]["fields"]


def test_put_of_an_outdated_version_is_a_conflict(client, make_user):
    """A GET document saved after someone else saved a newer version answers 409."""
    _, headers = make_user("trader")
    stale = _get(client, headers)  # version 0
    assert _put(client, headers, {"ui": {"theme": "light"}}).status_code == 200
    r = _put(client, headers, stale)
    assert r.status_code == 409
    assert r.json["error"]["code"] == "version_conflict"
    assert _get(client, headers)["settings"]["ui"]["theme"] == "light"


def test_viewer_put_is_403_and_writes_nothing(client, make_user):
    """A viewer reads settings but cannot save them; no version appears."""
    user, headers = make_user("viewer")
    r = _put(client, headers, _get(client, headers))
    assert r.status_code == 403
    assert SettingsVersion.select().where(SettingsVersion.user == user.id).count() == 0


def test_history_lists_versions_newest_first_with_usernames(client, make_user):
    """Two saves give history [2, 1], each with its author's username, time and note."""
    user, headers = make_user("trader")
    _put(client, headers, {"settings": {"ui": {"theme": "light"}}, "note": "light mode"})
    _put(client, headers, {"settings": {"ui": {"theme": "dark"}}})
    r = client.get("/api/settings/history", headers=headers)
    assert r.status_code == 200
    items = r.json["items"]
    assert [i["version"] for i in items] == [2, 1]
    assert {i["created_by"] for i in items} == {user.username}
    assert items[1]["note"] == "light mode"
    assert all(i["created_at"].endswith("Z") for i in items)


def test_export_then_import_round_trip(client, make_user):
    """An export imported by another user reproduces the document as that user's new version."""
    _, headers = make_user("trader")
    _put(client, headers, {"capital": {"total_capital_usd": "2500", "max_pyramids": 2}})
    r = client.get("/api/settings/export", headers=headers)
    assert r.status_code == 200
    export = r.json
    assert export["format"] == "dca-engine-settings"
    assert export["format_version"] == 1
    assert export["exported_at"].endswith("Z")

    _, other_headers = make_user("trader")
    r = client.post("/api/settings/import", headers=other_headers, json=export)
    assert r.status_code == 200
    assert r.json["version"] == 1
    assert r.json["settings"] == export["settings"]
    assert r.json["settings"]["capital"]["pyramid_weights"] == ["50", "50"]


def test_import_of_an_invalid_payload_writes_nothing(client, make_user):
    """An export with one bad field is refused whole (422 naming settings.*) and stores nothing."""
    user, headers = make_user("trader")
    export = client.get("/api/settings/export", headers=headers).json
    export["settings"]["risk"]["loss_threshold_percent"] = "5"
    r = client.post("/api/settings/import", headers=headers, json=export)
    assert r.status_code == 422
    assert "settings.risk.loss_threshold_percent" in r.json["error"]["fields"]

    r = client.post("/api/settings/import", headers=headers, json={"settings": DEFAULT_SETTINGS})
    assert r.status_code == 422
    assert "format" in r.json["error"]["fields"]
    assert SettingsVersion.select().where(SettingsVersion.user == user.id).count() == 0
    assert AuditLog.select().where(AuditLog.action == "settings.import").count() == 0


def test_restore_saves_an_old_version_as_the_newest(client, make_user):
    """Restoring version 1 after version 2 stores version 3 equal to version 1."""
    _, headers = make_user("trader")
    v1 = _put(client, headers, {"pool": {"max_open_groups": 3}}).json["settings"]
    _put(client, headers, {"pool": {"max_open_groups": 7}})
    r = client.post("/api/settings/restore/1", headers=headers)
    assert r.status_code == 200
    assert r.json["version"] == 3
    assert r.json["settings"] == v1
    history = client.get("/api/settings/history", headers=headers).json["items"]
    assert history[0]["note"] == "restored from version 1"
    assert client.post("/api/settings/restore/99", headers=headers).status_code == 404


def test_reset_goes_back_to_defaults_as_a_new_version(client, make_user):
    """Reset after a change stores the defaults as the next version."""
    _, headers = make_user("trader")
    _put(client, headers, {"ui": {"theme": "light"}})
    r = client.post("/api/settings/reset", headers=headers)
    assert r.status_code == 200
    assert r.json["version"] == 2
    assert r.json["settings"] == DEFAULT_SETTINGS


def test_each_user_has_their_own_settings(client, make_user):
    """One trader's save changes neither another's document nor their history or restore."""
    _, alice = make_user("trader")
    _, bob = make_user("trader")
    _put(client, alice, {"pool": {"max_open_groups": 2}})
    bob_doc = _get(client, bob)
    assert bob_doc["version"] == 0
    assert bob_doc["settings"]["pool"]["max_open_groups"] == 10
    assert client.get("/api/settings/history", headers=bob).json["items"] == []
    assert client.post("/api/settings/restore/1", headers=bob).status_code == 404
    assert client.get("/api/settings/history/1", headers=bob).status_code == 404
    assert client.get("/api/settings/history/1", headers=alice).status_code == 200


def test_a_save_that_loses_the_race_for_a_version_retries(app, make_user, monkeypatch):
    """When another save took version 1 meanwhile, the unique index stops a duplicate and the
    save lands as version 2 on top of it."""
    from server.services import settings as service

    user, _ = make_user("trader")
    real = service.current_record
    stale = real(user)  # version 0, read before the other save lands
    SettingsVersion.create(user=user.id, version=1, document=DEFAULT_SETTINGS, created_by=user.id)
    calls = []

    def first_call_stale(u):
        calls.append(1)
        return stale if len(calls) == 1 else real(u)

    monkeypatch.setattr(service, "current_record", first_call_stale)
    with app.app_context():
        version, document = service.save_settings(user, user, {"ui": {"theme": "light"}})
    assert version == 2
    assert document["ui"]["theme"] == "light"
    assert SettingsVersion.select().where(SettingsVersion.user == user.id).count() == 2
