"""`webhook_guard.check_address_and_auth`: the per-address limit and the failed-authentication
block in one Redis round trip answer exactly as the two checks made one after the other —
including when Redis has lost the limiter's scripts (NOSCRIPT)."""

from __future__ import annotations

import pytest

from server.extensions import limiter
from server.services import webhook_guard

URL_USER = "7b0c8f9e-0000-4000-8000-000000000001"


@pytest.fixture
def guard(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_RATE_LIMIT_ADDRESS", "3 per minute")
    monkeypatch.setitem(app.config, "WEBHOOK_AUTH_FAILURE_LIMIT", "2 per minute")
    with app.app_context():
        yield


def _both(address: str, url_user: str = URL_USER):
    refusal, blocked = webhook_guard.check_address_and_auth(address, url_user)
    return (refusal and refusal.reason, blocked and blocked.reason)


def test_three_requests_pass_the_fourth_is_refused(guard):
    """3 per minute: requests 1–3 pass, the 4th is refused with a Retry-After of at least 1 s;
    each pipelined call counts one request, exactly like `check_address`."""
    assert [_both("10.0.0.1") for _ in range(3)] == [(None, None)] * 3
    refusal, blocked = webhook_guard.check_address_and_auth("10.0.0.1", URL_USER)
    assert refusal.reason == "rate limited: more than 3 per 1 minute"
    assert refusal.retry_after >= 1 and blocked is None
    assert webhook_guard.check_address("10.0.0.2") is None  # another address: its own window


def test_the_block_is_read_not_counted(guard):
    """2 failures per minute: after 1 failure nothing is blocked however often it is read;
    after the 2nd the pair (address, URL) is blocked — and only that pair."""
    webhook_guard.count_auth_failure("10.0.0.3", URL_USER)
    assert [_both("10.0.0.3")[1] for _ in range(2)] == [None, None]
    webhook_guard.count_auth_failure("10.0.0.3", URL_USER)
    _, blocked = webhook_guard.check_address_and_auth("10.0.0.3", URL_USER)
    assert (
        blocked.reason
        == "blocked: more than 2 per 1 minute failed authentications from this address"
    )
    assert blocked == webhook_guard.auth_blocked("10.0.0.3", URL_USER)
    assert _both("10.0.0.3", URL_USER.replace("1", "2"))[1] is None  # another URL
    assert _both("10.0.0.4")[1] is None  # another address


def test_lost_scripts_fall_back_to_the_calls_one_by_one(guard, monkeypatch):
    """With both scripts unknown to Redis (NOSCRIPT in the pipeline) the answers and the
    counting are the same: the library's own calls load the scripts again."""
    storage = limiter.limiter.storage
    monkeypatch.setattr(storage.lua_acquire_moving_window, "sha", "0" * 40)
    monkeypatch.setattr(storage.lua_moving_window, "sha", "0" * 40)
    webhook_guard.count_auth_failure("10.0.0.5", URL_USER)
    webhook_guard.count_auth_failure("10.0.0.5", URL_USER)
    monkeypatch.setattr(storage.lua_acquire_moving_window, "sha", "0" * 40)
    monkeypatch.setattr(storage.lua_moving_window, "sha", "0" * 40)
    results = [_both("10.0.0.5") for _ in range(4)]
    blocked = "blocked: more than 2 per 1 minute failed authentications from this address"
    assert results == [(None, blocked)] * 3 + [("rate limited: more than 3 per 1 minute", blocked)]
