"""Every endpoint's role boundary, and ownership: another user's object is a 404 (SPEC §8)."""

from __future__ import annotations

import uuid

import pytest

from server.domain.enums import ROLE_ORDER, Role


def _guarded_routes(app):
    """(method, url, required role) for every route behind `require_role`."""
    routes = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        role = getattr(view, "required_role", None)
        if role is None:
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<int:{arg}>", "1").replace(f"<{arg}>", str(uuid.uuid4()))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, url, role))
    return routes


def test_every_api_route_is_guarded_or_public_on_purpose(app):
    """Only the documented public endpoints skip the role decorator."""
    public = {
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/forgot-password",
        "/api/auth/reset-password",
        "/api/webhook/<user_id>",
        "/api/health",
        "/api/openapi.json",
        "/api/docs",
    }
    unguarded = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api")
        and getattr(app.view_functions[rule.endpoint], "required_role", None) is None
    }
    assert unguarded == public


def test_no_token_is_401_everywhere(app, client):
    """Without a token every guarded endpoint answers 401 in the error shape."""
    for method, url, _role in _guarded_routes(app):
        r = client.open(url, method=method, json={})
        assert r.status_code == 401, (method, url, r.status_code)
        assert "error" in r.json


@pytest.mark.parametrize("role", [r for r in ROLE_ORDER if r is not Role.ADMIN])
def test_roles_below_requirement_get_403(app, client, make_user, role):
    """A user whose role is below an endpoint's requirement gets 403 and changes nothing."""
    _, headers = make_user(role.value)
    checked = 0
    for method, url, required in _guarded_routes(app):
        if role.at_least(required) or url == "/api/auth/refresh":
            continue
        r = client.open(url, method=method, json={}, headers=headers)
        assert r.status_code == 403, (role, method, url, r.status_code)
        assert r.json["error"]["code"] == "forbidden"
        checked += 1
    assert checked > 0


def test_viewer_cannot_write_but_can_read(client, make_user):
    """A viewer reads its own data but every write answers 403."""
    _, headers = make_user("viewer")
    assert client.get("/api/accounts", headers=headers).status_code == 200
    assert client.get("/api/positions", headers=headers).status_code == 200
    assert client.post("/api/accounts", headers=headers, json={}).status_code == 403
    assert client.post("/api/auth/webhook-secret", headers=headers).status_code == 403


def _account(client, headers, label="mine"):
    return client.post(
        "/api/accounts",
        headers=headers,
        json={
            "exchange": "binance",
            "market_type": "spot",
            "mode": "simulated",
            "api_key": "KEY" + uuid.uuid4().hex,
            "api_secret": "SECRET" + uuid.uuid4().hex,
            "label": label,
        },
    )


def test_other_users_objects_are_404(client, make_user):
    """A trader cannot see, validate or delete another trader's account: 404, like absent."""
    _, alice = make_user("trader")
    _, bob = make_user("trader")
    account_id = _account(client, alice).json["id"]
    assert client.post(f"/api/accounts/{account_id}/validate", headers=bob).status_code == 404
    assert client.delete(f"/api/accounts/{account_id}", headers=bob).status_code == 404
    assert client.get("/api/accounts", headers=bob).json["items"] == []
    assert client.delete(f"/api/accounts/{account_id}", headers=alice).status_code == 204


def test_other_users_positions_are_404_but_managers_read_them(client, make_user):
    """Positions are private to their owner (404 for others) but readable by managers."""
    from server.persistence.models import PositionGroup

    owner, owner_h = make_user("trader")
    _, other_h = make_user("trader")
    _, manager_h = make_user("manager")
    group = PositionGroup.create(
        user=owner.id, exchange="binance", symbol="BTCUSDT", timeframe=60, side="long"
    )
    assert client.get(f"/api/positions/{group.id}", headers=owner_h).status_code == 200
    assert client.get(f"/api/positions/{group.id}", headers=other_h).status_code == 404
    assert client.get(f"/api/positions/{group.id}", headers=manager_h).status_code == 200
    assert client.get("/api/positions?status=all", headers=other_h).json["items"] == []


def test_admin_endpoints_list_and_change_roles(client, make_user):
    """Admins list users and change roles; an admin cannot demote themself."""
    admin, admin_h = make_user("admin")
    user, _ = make_user("viewer")
    listed = client.get("/api/admin/users", headers=admin_h).json["items"]
    assert {u["username"] for u in listed} >= {admin.username, user.username}
    r = client.patch(f"/api/admin/users/{user.id}", headers=admin_h, json={"role": "trader"})
    assert r.json["role"] == "trader"
    me = client.patch(f"/api/admin/users/{admin.id}", headers=admin_h, json={"role": "viewer"})
    assert me.status_code == 409
    bad = client.patch(f"/api/admin/users/{user.id}", headers=admin_h, json={"role": "king"})
    assert bad.status_code == 422 and "role" in bad.json["error"]["fields"]
