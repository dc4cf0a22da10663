"""Webhook security (SPEC §2.1, §8): one 401 for every authentication failure, the IP
allowlist, failed-authentication blocks, replayed and oversized bodies, and no secret in any
stored row, log line or Redis value."""

from __future__ import annotations

import json
import logging

import pytest
import redis

from server.persistence.db import db
from server.persistence.models import ALL_MODELS, Signal, SystemLog, WebhookLog
from tests.signal_support import body, make_account, now_text, sign, tv_alert

UNAUTHENTICATED = {
    "error": {"code": "unauthenticated", "message": "unknown webhook or wrong secret", "fields": {}}
}


@pytest.fixture
def alice(app, client, make_user):
    user, headers = make_user("trader")
    make_account(app, user)
    secret = client.post("/api/auth/webhook-secret", headers=headers).json["webhook_secret"]
    return user, headers, secret


@pytest.fixture
def bob(app, client, make_user):
    user, headers = make_user("trader")
    make_account(app, user)
    secret = client.post("/api/auth/webhook-secret", headers=headers).json["webhook_secret"]
    return user, headers, secret


def _post(client, user_id, raw: bytes, **kw):
    return client.post(f"/api/webhook/{user_id}", data=raw, content_type="text/plain", **kw)


def _reasons(user):
    rows = WebhookLog.select().where(WebhookLog.user == user.id).order_by(WebhookLog.created_at)
    return [(r.status, r.reason) for r in rows]


def test_every_authentication_failure_looks_the_same(client, alice, bob):
    """Wrong secret, another user's secret, bad signature, no secret, unknown user, unreadable
    body: the same 401 body; only the owner's log says which it was."""
    user, _, secret = alice
    _, _, bob_secret = bob
    raw = body(tv_alert(secret))
    answers = [
        _post(client, user.id, body(tv_alert("not-the-secret"))),
        _post(client, user.id, body(tv_alert(bob_secret))),
        _post(client, user.id, raw, headers={"X-Signature": sign(bob_secret, raw)}),
        _post(client, user.id, raw, headers={"X-Signature": "sha256=" + "0" * 64}),
        _post(client, user.id, body({"tv": {"symbol": "BTCUSDT"}})),
        _post(client, user.id, b'{"secret": broken'),
        _post(client, "7b0f5a8e-68a4-4d1e-9a53-1b3c0d4e5f60", raw),
        _post(client, "not-a-uuid", raw),
    ]
    assert {r.status_code for r in answers} == {401}
    assert all(r.json == UNAUTHENTICATED for r in answers)
    assert [reason for _, reason in _reasons(user)] == [
        "wrong secret",
        "wrong secret",
        "X-Signature does not match (hex HMAC-SHA256 of the raw body, keyed by the secret)",
        "X-Signature does not match (hex HMAC-SHA256 of the raw body, keyed by the secret)",
        'no "secret" in the body and no X-Signature header',
        "no secret could be read because the body is not valid JSON (Expecting value: line 1 "
        "column 12 (char 11))",
    ]
    assert Signal.select().count() == 0


def test_signature_with_sha256_prefix_is_accepted(client, alice):
    """A `sha256=<hex>` signature (GitHub style) authenticates without a body secret."""
    user, _, secret = alice
    doc = tv_alert(secret)
    del doc["secret"]
    raw = body(doc)
    r = _post(client, user.id, raw, headers={"X-Signature": "sha256=" + sign(secret, raw)})
    assert r.status_code == 202, r.json


def test_ip_allowlist_refuses_with_the_same_401(client, alice):
    """An address outside the allowlist gets the wrong-secret answer, even with the secret."""
    user, headers, secret = alice
    client.put("/api/settings", headers=headers, json={"signals": {"ip_allowlist": ["10.0.0.0/8"]}})
    r = _post(client, user.id, body(tv_alert(secret)))
    assert r.status_code == 401 and r.json == UNAUTHENTICATED
    assert _reasons(user) == [("unauthorized", "address 127.0.0.1 is not in the IP allowlist")]
    inside = _post(
        client, user.id, body(tv_alert(secret)), environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert inside.status_code == 202


def test_tradingview_preset_and_forwarded_addresses(app, client, alice, monkeypatch):
    """With the TradingView preset, its four addresses pass; X-Forwarded-For counts only when it
    comes from a trusted proxy."""
    user, headers, secret = alice
    client.put("/api/settings", headers=headers, json={"signals": {"use_tradingview_preset": True}})
    tv = {"REMOTE_ADDR": "52.32.178.7"}
    assert _post(client, user.id, body(tv_alert(secret)), environ_base=tv).status_code == 202
    spoofed = {"X-Forwarded-For": "52.89.214.238"}
    alert = body(tv_alert(secret, entry_price="1"))
    assert _post(client, user.id, alert, headers=spoofed).status_code == 401
    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", ["127.0.0.1"])
    assert _post(client, user.id, alert, headers=spoofed).status_code == 202


def test_repeated_failures_block_the_address_even_with_the_secret(app, client, alice, monkeypatch):
    """After WEBHOOK_AUTH_FAILURE_LIMIT failures from one address to one URL, even the right
    secret gets 429 (no oracle for a guesser); each failure is a SECURITY log line."""
    monkeypatch.setitem(app.config, "WEBHOOK_AUTH_FAILURE_LIMIT", "3 per minute")
    user, _, secret = alice
    codes = [_post(client, user.id, body(tv_alert(f"guess-{i}"))).status_code for i in range(3)]
    blocked = _post(client, user.id, body(tv_alert(secret)))
    assert codes == [401, 401, 401]
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    security = SystemLog.select().where(SystemLog.category == "SECURITY")
    messages = [row.message for row in security.order_by(SystemLog.created_at)]
    assert messages[:3] == ["webhook authentication failed from 127.0.0.1: wrong secret"] * 3
    assert "refused: blocked: more than 3 per 1 minute failed authentications" in messages[3]
    other_address = {"REMOTE_ADDR": "192.0.2.7"}
    assert (
        _post(client, user.id, body(tv_alert(secret)), environ_base=other_address).status_code
        == 202
    )


def test_replayed_request_is_duplicate_then_stale(client, alice):
    """A captured request sent again is a duplicate within 10 minutes; one whose tv.time has
    aged past max_signal_age_seconds is stale."""
    user, _, secret = alice
    captured = body(tv_alert(secret))
    assert _post(client, user.id, captured).status_code == 202
    assert _post(client, user.id, captured).json == {"status": "duplicate"}
    old = body(tv_alert(secret, time=now_text(-600)))
    assert _post(client, user.id, old).json["error"]["code"] == "stale"
    assert Signal.select().count() == 1


def test_oversized_body_is_not_read(client, alice):
    """A 1 MiB body is refused with 413 without being read or stored."""
    user, _, secret = alice
    r = _post(client, user.id, body(tv_alert(secret) | {"pad": "x" * (1 << 20)}))
    assert r.status_code == 413
    assert WebhookLog.get(WebhookLog.user == user.id).payload == {"_unread": True}


def _database_text() -> str:
    chunks = []
    with db.atomic():
        for model in ALL_MODELS:
            for row in model.select().dicts():
                chunks.append(json.dumps(row, default=str))
    return "\n".join(chunks)


def _redis_text(app) -> str:
    client = redis.Redis.from_url(app.config["REDIS_URL"])
    chunks = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"string":
            chunks.append(repr(client.get(key)))
        elif kind == b"hash":
            chunks.append(repr(client.hgetall(key)))
        elif kind == b"list":
            chunks.append(repr(client.lrange(key, 0, -1)))
        elif kind == b"zset":
            chunks.append(repr(client.zrange(key, 0, -1)))
        elif kind == b"set":
            chunks.append(repr(client.smembers(key)))
        chunks.append(repr(key))
    return "\n".join(chunks)


def test_no_secret_in_any_row_log_line_or_redis_value(app, client, alice, bob, caplog):
    """After accepted, refused, malformed and misplaced-secret requests, neither user's secret
    appears in any table, any log record (DEBUG included) or any Redis value."""
    user, _, secret = alice
    _, _, bob_secret = bob
    with caplog.at_level(logging.DEBUG):
        _post(client, user.id, body(tv_alert(secret)))
        _post(client, user.id, body(tv_alert(secret) | {"note": f"my secret is {secret}"}))
        _post(client, user.id, body(tv_alert(secret, order_id=secret[:60], entry_price="1")))
        _post(client, user.id, body(tv_alert(bob_secret)))
        _post(client, user.id, f'{{"secret": "{secret}", "tv": broken'.encode())
        _post(client, user.id, f'{{"secret" "{secret}"}}'.encode())  # no colon: not JSON
        _post(client, user.id, f"secret={secret}&symbol=BTCUSDT".encode())
        _post(client, user.id, body(tv_alert(secret, time=now_text(-900))))
        _post(client, user.id, body({"secret": secret, "tv": {"symbol": "x" * 300}}))
        raw = body(tv_alert("", entry_price="2"))
        _post(client, user.id, raw, headers={"X-Signature": sign(secret, raw)})
    assert len(_reasons(user)) == 10
    stored, logged, cached = _database_text(), caplog.text, _redis_text(app)
    for value in (secret, bob_secret, secret[:60]):
        assert value not in stored
        assert value not in logged
        assert value not in cached
