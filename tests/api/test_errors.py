"""One JSON error shape for every 4xx/5xx under /api; never a stack trace or HTML page."""

from __future__ import annotations

import pytest


def _shape(r):
    assert r.is_json, r.get_data(as_text=True)[:200]
    error = r.json["error"]
    assert set(error) == {"code", "message", "fields"}
    assert "Traceback" not in r.get_data(as_text=True)
    return error


def test_unknown_api_path_is_json_404(client):
    """An unknown /api path answers JSON 404, not an HTML page or the SPA."""
    r = client.get("/api/does-not-exist")
    assert r.status_code == 404
    assert _shape(r)["code"] == "not_found"


def test_wrong_method_is_json_405(client):
    """A wrong method answers 405 in the error shape."""
    r = client.delete("/api/auth/login")
    assert r.status_code == 405
    assert _shape(r)["code"] == "method_not_allowed"


def test_malformed_json_is_400(client):
    """A body that is not JSON answers 400 malformed_json."""
    r = client.post("/api/auth/login", data="{not json", content_type="application/json")
    assert r.status_code == 400
    assert _shape(r)["code"] == "malformed_json"


def test_unexpected_exception_is_500_without_trace(app, client, monkeypatch):
    """A crash inside a route answers 500 internal_error with no stack trace in the body."""
    from server.services import users

    def boom(*_a, **_k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(users, "authenticate", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    r = client.post("/api/auth/login", json={"login": "a", "password": "b"})
    assert r.status_code == 500
    error = _shape(r)
    assert error["code"] == "internal_error"
    assert "secret internals" not in r.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/api/positions?status=bogus"])
def test_invalid_query_is_422(client, make_user, path):
    """An invalid query parameter is a 422 naming the parameter."""
    _, headers = make_user("viewer")
    r = client.get(path, headers=headers)
    assert r.status_code == 422
    assert "status" in _shape(r)["fields"]


def test_health_reports_missing_workers_and_scheduler_as_503(app, client):
    """With no worker and no scheduler heartbeat for this prefix, health is 503 and says why."""
    previous = app.config["RQ_QUEUE_PREFIX"]
    app.config["RQ_QUEUE_PREFIX"] = "nobody-listens:"
    try:
        r = client.get("/api/health")
    finally:
        app.config["RQ_QUEUE_PREFIX"] = previous
    assert r.status_code == 503
    assert r.json["db"]["ok"] is True and r.json["redis"]["ok"] is True
    assert r.json["workers"]["ok"] is False and "worker" in r.json["workers"]["error"]
    assert r.json["scheduler"]["ok"] is False
