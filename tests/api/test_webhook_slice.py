"""The thin webhook slice: secret check, webhook log with redaction, one job per signal."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from rq import Queue

from server.persistence.models import Signal, WebhookLog
from server.state.connection import rq_redis_for
from tests.signal_support import make_account

PAYLOAD = {
    "tv": {
        "exchange": "BINANCE",
        "symbol": "BTCUSDT",
        "timeframe": "60",
        "action": "buy",
        "entry_price": "64250.5",
    },
    "execution_intent": {"type": "entry", "side": "long"},
}


def _secret(client, headers) -> str:
    return client.post("/api/auth/webhook-secret", headers=headers).json["webhook_secret"]


def _jobs(app) -> list:
    queue = Queue(
        f"{app.config['RQ_QUEUE_PREFIX']}signals", connection=rq_redis_for(app.config["REDIS_URL"])
    )
    return queue.get_jobs()


def test_accepted_webhook_is_logged_redacted_and_enqueued(app, client, make_user, caplog):
    """A good secret answers 202, stores the payload without the secret, queues one job."""
    user, headers = make_user("trader")
    account = make_account(app, user)
    secret = _secret(client, headers)
    with caplog.at_level(logging.DEBUG):
        r = client.post(
            f"/api/webhook/{user.id}",
            data=json.dumps(PAYLOAD | {"secret": secret}),
            content_type="text/plain",
        )  # TradingView's content type
    assert r.status_code == 202 and r.json["status"] == "accepted"
    row = WebhookLog.get(WebhookLog.user == user.id)
    assert row.status == "accepted" and row.payload["secret"] == "***"
    assert row.payload["tv"]["symbol"] == "BTCUSDT"
    assert secret not in json.dumps(Signal.get_by_id(r.json["signal_id"]).payload)
    assert secret not in caplog.text
    jobs = _jobs(app)
    lane = f"{account.id}:BTCUSDT:60:long"
    assert [j.args for j in jobs] == [(r.json["signal_id"], lane)]
    assert jobs[0].id == f"signal-{r.json['signal_id']}"
    assert jobs[0].func_name == "workers.jobs.signals.process_signal"


def test_unknown_user_and_wrong_secret_get_the_same_401(client, make_user):
    """No user enumeration: a wrong secret and an unknown user answer identically."""
    user, headers = make_user("trader")
    _secret(client, headers)
    wrong = client.post(f"/api/webhook/{user.id}", json=PAYLOAD | {"secret": "nope"})
    unknown = client.post(
        "/api/webhook/2b1c6b9e-0d6f-4a57-8b38-1a2f0f0b7c11", json=PAYLOAD | {"secret": "nope"}
    )
    garbage = client.post("/api/webhook/not-a-uuid", json=PAYLOAD | {"secret": "nope"})
    assert wrong.status_code == unknown.status_code == garbage.status_code == 401
    assert wrong.json == unknown.json == garbage.json
    logged = WebhookLog.get(WebhookLog.user == user.id)
    assert logged.status == "unauthorized" and logged.payload["secret"] == "***"


def test_hmac_signature_authenticates_without_body_secret(app, client, make_user):
    """X-Signature (hex HMAC-SHA256 of the raw body) is accepted instead of a body secret."""
    user, headers = make_user("trader")
    make_account(app, user)
    secret = _secret(client, headers)
    raw = json.dumps(PAYLOAD).encode()
    good = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    ok = client.post(
        f"/api/webhook/{user.id}",
        data=raw,
        content_type="application/json",
        headers={"X-Signature": good},
    )
    bad = client.post(
        f"/api/webhook/{user.id}",
        data=raw,
        content_type="application/json",
        headers={"X-Signature": "0" * 64},
    )
    assert ok.status_code == 202 and bad.status_code == 401


def test_rotated_secret_replaces_the_old_one(app, client, make_user):
    """After rotation the old secret is refused and the new one accepted."""
    user, headers = make_user("trader")
    make_account(app, user)
    old = _secret(client, headers)
    new = _secret(client, headers)
    assert client.post(f"/api/webhook/{user.id}", json=PAYLOAD | {"secret": old}).status_code == 401
    assert client.post(f"/api/webhook/{user.id}", json=PAYLOAD | {"secret": new}).status_code == 202


def test_repeated_signal_id_is_duplicate(app, client, make_user):
    """A signal_id seen before answers 200 duplicate and queues nothing more."""
    user, headers = make_user("trader")
    make_account(app, user)
    body = PAYLOAD | {"secret": _secret(client, headers), "signal_id": "abc-1"}
    assert client.post(f"/api/webhook/{user.id}", json=body).status_code == 202
    again = client.post(f"/api/webhook/{user.id}", json=body)
    assert again.status_code == 200 and again.json == {"status": "duplicate"}
    assert len(_jobs(app)) == 1
    assert Signal.select().count() == 1


def test_oversized_and_non_json_bodies(client, make_user):
    """Over 16 KiB is 413; a body that is not a JSON object is refused; both are logged."""
    user, headers = make_user("trader")
    secret = _secret(client, headers)
    big = json.dumps(PAYLOAD | {"secret": secret, "pad": "x" * 17000})
    assert client.post(f"/api/webhook/{user.id}", data=big).status_code == 413
    raw = json.dumps([1, 2]).encode()
    sig = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    r = client.post(f"/api/webhook/{user.id}", data=raw, headers={"X-Signature": sig})
    assert r.status_code == 400 and r.json["error"]["code"] == "malformed_json"
    assert WebhookLog.select().where(WebhookLog.user == user.id).count() == 2
