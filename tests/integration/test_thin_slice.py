"""The thin slice on real processes: webhook → RQ worker → database → Socket.IO to the browser.

Web runs under gunicorn's gevent worker, workers are real RQ worker processes, events travel
through the Redis message queue, and the client is a real Socket.IO client over websocket.
"""

from __future__ import annotations

import queue
import time

import httpx
import pytest
import socketio

from tests.helpers import GOOD_PASSWORD
from tests.signal_support import make_account


def _register(base: str, name: str) -> dict:
    r = httpx.post(
        f"{base}/api/auth/register",
        json={"email": f"{name}@example.com", "username": name, "password": GOOD_PASSWORD},
    )
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def live_user(app, stack, sim):
    """A registered trader with a simulated Binance spot and futures account (the simulator's
    funded `test-key`)."""
    tokens = _register(stack.base_url, "slice")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    secret = httpx.post(f"{stack.base_url}/api/auth/webhook-secret", headers=headers).json()
    make_account(app, tokens["user"]["id"], market_type="spot")
    make_account(app, tokens["user"]["id"], market_type="futures")
    return tokens, headers, secret


def test_health_is_ok_with_every_process_running(stack):
    """With web, workers and scheduler up, /api/health answers 200 and counts the workers."""
    r = httpx.get(f"{stack.base_url}/api/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    assert body["workers"]["count"] >= 1
    assert body["scheduler"]["ok"] is True


def test_webhook_reaches_browser_through_worker(stack, live_user):
    """An accepted webhook becomes a group whose grid is sent at once (no longer `waiting`),
    pushed live as group.updated."""
    tokens, headers, secret = live_user
    received: queue.Queue = queue.Queue()
    client = socketio.Client(reconnection=False)
    client.on("group.updated", received.put)
    client.connect(
        stack.base_url,
        auth={"token": tokens["access_token"]},
        transports=["websocket"],
        wait_timeout=10,
    )
    try:
        r = httpx.post(
            secret["webhook_url"],
            json={
                "secret": secret["webhook_secret"],
                "tv": {
                    "exchange": "BINANCE",
                    "symbol": "BINANCE:ETHUSDT.P",  # a short needs the perpetual
                    "timeframe": "240",
                    "action": "sell",
                },
                "execution_intent": {"type": "entry", "side": "short"},
            },
        )
        assert r.status_code == 202, r.text
        event = received.get(timeout=15)
    finally:
        client.disconnect()
    assert event["symbol"] == "ETHUSDT" and event["side"] == "short"
    assert event["timeframe"] == 240
    assert event["status"] in ("live", "partially_filled", "active"), event
    listed = httpx.get(f"{stack.base_url}/api/positions", headers=headers).json()["items"]
    assert [g["id"] for g in listed] == [event["id"]]


def test_socket_refuses_missing_and_revoked_tokens(stack, live_user):
    """A Socket.IO connection without a valid, unrevoked access token is refused."""
    tokens, headers, _ = live_user
    anonymous = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        anonymous.connect(stack.base_url, transports=["websocket"], wait_timeout=5)
    httpx.post(f"{stack.base_url}/api/auth/logout", headers=headers, json={})
    revoked = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        revoked.connect(
            stack.base_url,
            auth={"token": tokens["access_token"]},
            transports=["websocket"],
            wait_timeout=5,
        )


def test_events_stay_in_the_owners_room(stack, live_user):
    """Another user's socket does not receive this user's group events."""
    tokens, _, secret = live_user
    other = _register(stack.base_url, "eavesdropper")
    seen: queue.Queue = queue.Queue()
    mine: queue.Queue = queue.Queue()
    spy = socketio.Client(reconnection=False)
    spy.on("group.updated", seen.put)
    owner = socketio.Client(reconnection=False)
    owner.on("group.updated", mine.put)
    spy.connect(stack.base_url, auth={"token": other["access_token"]}, transports=["websocket"])
    owner.connect(stack.base_url, auth={"token": tokens["access_token"]}, transports=["websocket"])
    try:
        httpx.post(
            secret["webhook_url"],
            json={
                "secret": secret["webhook_secret"],
                "tv": {"symbol": "BTCUSDT", "timeframe": "60", "action": "buy"},
            },
        )
        mine.get(timeout=15)
        time.sleep(0.5)
        assert seen.empty()
    finally:
        spy.disconnect()
        owner.disconnect()
