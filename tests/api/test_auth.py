"""Auth endpoints: registration, login, tokens, revocation, password reset (SPEC §8)."""

from __future__ import annotations

import json

from tests.helpers import register

GOOD = "Passw0rd-ok"


def test_first_user_is_admin_then_traders(client):
    """The first registered user becomes admin; the next ones are traders."""
    first = register(client, "alice")
    second = register(client, "bob")
    assert first.status_code == 201 and second.status_code == 201
    assert first.json["user"]["role"] == "admin"
    assert second.json["user"]["role"] == "trader"
    assert {"access_token", "refresh_token", "user"} <= set(first.json)


def test_register_enforces_password_policy_field_by_field(client):
    """A weak password is refused with 422 and every broken rule under `password`."""
    r = client.post(
        "/api/auth/register",
        json={"email": "w@example.com", "username": "weak", "password": "short"},
    )
    assert r.status_code == 422
    problems = r.json["error"]["fields"]["password"]
    assert any("8 characters" in p for p in problems)
    assert any("upper-case" in p for p in problems)
    assert any("digit" in p for p in problems)


def test_register_validates_fields(client):
    """Bad email and username are reported per field in the contract's error shape."""
    r = client.post(
        "/api/auth/register", json={"email": "nope", "username": "a b", "password": GOOD}
    )
    assert r.status_code == 422
    assert set(r.json["error"]["fields"]) == {"email", "username"}
    assert r.json["error"]["code"] == "invalid"


def test_register_conflict(client):
    """A taken email or username answers 409 and names the field."""
    register(client, "carol")
    r = client.post(
        "/api/auth/register",
        json={"email": "carol@example.com", "username": "carol2", "password": GOOD},
    )
    assert r.status_code == 409
    assert "email" in r.json["error"]["fields"]


def test_login_by_email_or_username_and_same_401(client):
    """Login works with email or username; unknown login and wrong password get the same 401."""
    register(client, "dave")
    assert (
        client.post("/api/auth/login", json={"login": "dave", "password": GOOD}).status_code == 200
    )
    assert (
        client.post(
            "/api/auth/login", json={"login": "dave@example.com", "password": GOOD}
        ).status_code
        == 200
    )
    wrong = client.post("/api/auth/login", json={"login": "dave", "password": "Wrong-pass1"})
    unknown = client.post("/api/auth/login", json={"login": "nobody", "password": GOOD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json


def test_logout_revokes_access_and_refresh_tokens(client):
    """After logout neither the access token nor the refresh token works."""
    tokens = register(client, "erin").json
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    refresh = {"Authorization": f"Bearer {tokens['refresh_token']}"}
    assert client.post("/api/auth/refresh", headers=refresh).status_code == 200
    r = client.post(
        "/api/auth/logout", headers=auth, json={"refresh_token": tokens["refresh_token"]}
    )
    assert r.status_code == 200
    me = client.get("/api/auth/me", headers=auth)
    assert me.status_code == 401 and me.json["error"]["code"] == "token_revoked"
    assert client.post("/api/auth/refresh", headers=refresh).status_code == 401


def test_refresh_gives_working_access_token(client):
    """A refresh token buys a new access token; an access token cannot be used to refresh."""
    tokens = register(client, "frank").json
    r = client.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    new = r.json["access_token"]
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    bad = client.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert bad.status_code == 401


def test_me_has_contract_fields(client):
    """GET /api/auth/me returns the fields API.md lists, with the user's webhook URL."""
    tokens = register(client, "gina").json
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert {"id", "email", "username", "role", "webhook_url", "created_at"} <= set(me.json)
    assert me.json["webhook_url"].endswith(f"/api/webhook/{me.json['id']}")


def test_forgot_and_reset_password_through_outbox(client, test_env):
    """A reset link goes to the outbox (never the log); it works once, then is spent."""
    register(client, "hank")
    r = client.post("/api/auth/forgot-password", json={"login": "hank"})
    assert r.status_code == 202
    unknown = client.post("/api/auth/forgot-password", json={"login": "nobody"})
    assert unknown.status_code == 202 and unknown.json == r.json  # no enumeration
    with open(test_env["MAIL_OUTBOX"]) as outbox:
        lines = outbox.read().splitlines()
    message = json.loads(lines[-1])
    assert message["to"] == "hank@example.com"
    token = message["body"].split("token=")[1].split()[0]
    weak = client.post("/api/auth/reset-password", json={"token": token, "password": "weak"})
    assert weak.status_code == 422
    ok = client.post("/api/auth/reset-password", json={"token": token, "password": "N3w-Password"})
    assert ok.status_code == 200
    again = client.post(
        "/api/auth/reset-password", json={"token": token, "password": "N3w-Passw0rd"}
    )
    assert again.status_code == 400
    assert (
        client.post(
            "/api/auth/login", json={"login": "hank", "password": "N3w-Password"}
        ).status_code
        == 200
    )


def test_login_is_rate_limited_per_address(client, app):
    """More than LOGIN_RATE_LIMIT attempts a minute from one address get 429 in the error shape."""
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    codes = [
        client.post("/api/auth/login", json={"login": "x", "password": "y"}).status_code
        for _ in range(limit + 1)
    ]
    assert codes[:limit] == [401] * limit
    assert codes[-1] == 429
    r = client.post("/api/auth/login", json={"login": "x", "password": "y"})
    assert r.json["error"]["code"] == "rate_limited"


def test_deactivated_user_token_stops_working(client, make_user):
    """An admin deactivating a user cuts off that user's existing token at once."""
    _, admin_h = make_user("admin")
    user, user_h = make_user("trader")
    assert client.get("/api/auth/me", headers=user_h).status_code == 200
    r = client.patch(f"/api/admin/users/{user.id}", headers=admin_h, json={"is_active": False})
    assert r.status_code == 200
    assert client.get("/api/auth/me", headers=user_h).status_code == 401


def test_invite_only_registration(client, make_user):
    """In invite mode self-registration is refused and an admin invite link sets a password."""
    _, admin_h = make_user("admin")
    assert (
        client.put(
            "/api/admin/system", headers=admin_h, json={"registration": "invite"}
        ).status_code
        == 200
    )
    assert register(client, "ivan").status_code == 403
    r = client.post(
        "/api/admin/users",
        headers=admin_h,
        json={"email": "joan@example.com", "username": "joan", "role": "viewer"},
    )
    assert r.status_code == 201 and r.json["user"]["role"] == "viewer"
    token = r.json["invite_url"].split("token=")[1]
    assert (
        client.post("/api/auth/reset-password", json={"token": token, "password": GOOD}).status_code
        == 200
    )
    assert (
        client.post("/api/auth/login", json={"login": "joan", "password": GOOD}).status_code == 200
    )
