"""Signal intake through the HTTP API: TradingView-rendered payloads, validation, freshness,
account choice, the duplicate window, replay and the webhook log (SPEC §2, API.md "Signals")."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from server.clock import utcnow
from server.persistence.models import Signal, SignalFingerprint, WebhookLog
from tests.signal_support import body, make_account, now_text, tv_alert


@pytest.fixture
def trader(app, client, make_user):
    """A trader with a Binance spot and a Binance futures account and a fresh secret."""
    user, headers = make_user("trader")
    spot = make_account(app, user, market_type="spot", label="Main spot")
    futures = make_account(app, user, market_type="futures", label="Perps")
    secret = client.post("/api/auth/webhook-secret", headers=headers).json["webhook_secret"]
    return user, headers, secret, spot, futures


def _post(client, user, doc=None, raw=None, content_type="application/json", **kw):
    data = raw if raw is not None else body(doc)
    return client.post(f"/api/webhook/{user.id}", data=data, content_type=content_type, **kw)


def _rows(user):
    return list(
        WebhookLog.select().where(WebhookLog.user == user.id).order_by(WebhookLog.created_at)
    )


# --- TradingView-rendered payloads --------------------------------------------------------------


def test_rendered_perpetual_alert_as_text_plain(client, trader):
    """`.P` ticker, `_DL` exchange, `1D` interval, numbers as text, text/plain: accepted and
    normalised onto the futures account."""
    user, _, secret, _, futures = trader
    alert = tv_alert(secret, exchange="BINANCE_DL", symbol="BINANCE:BTCUSDT.P", timeframe="1D")
    r = _post(client, user, alert, content_type="text/plain")
    assert r.status_code == 202, r.json
    assert r.json == {"signal_id": r.json["signal_id"], "status": "accepted"}
    signal = Signal.get_by_id(r.json["signal_id"])
    assert (signal.account_id, signal.exchange, signal.market_type) == (
        futures.id,
        "binance",
        "futures",
    )
    assert (signal.symbol, signal.timeframe, signal.side, signal.intent) == (
        "BTCUSDT",
        1440,
        "long",
        "entry",
    )
    assert signal.entry_price == Decimal("64250.5")
    assert signal.lane == f"{futures.id}:BTCUSDT:1440:long"
    assert signal.status == "received"
    (row,) = _rows(user)
    assert (row.status, row.http_status, row.symbol, row.signal_id) == (
        "accepted",
        202,
        "BTCUSDT",
        signal.id,
    )
    assert row.payload["secret"] == "***" and row.authenticated


def test_json_numbers_are_exact_on_the_spot_account(client, trader):
    """application/json with real numbers: the price keeps every digit; spot is preferred."""
    user, _, secret, spot, _ = trader
    alert = tv_alert(secret, symbol="ETH/USDT", timeframe=15)
    raw = body(alert).replace(b'"64250.5"', b"3456.123456789012345678")
    r = _post(client, user, raw=raw)
    assert r.status_code == 202, r.json
    signal = Signal.get_by_id(r.json["signal_id"])
    assert signal.account_id == spot.id and signal.symbol == "ETHUSDT" and signal.timeframe == 15
    assert signal.entry_price == Decimal("3456.123456789012345678")


def test_body_without_content_type_is_read_as_json(client, trader):
    """No content type at all: still parsed as JSON."""
    user, _, secret, _, _ = trader
    r = client.post(f"/api/webhook/{user.id}", data=body(tv_alert(secret)))
    assert r.status_code == 202, r.json


def test_strategy_exit_when_flat(client, trader):
    """market_position flat is an exit of the previous side (long), on the spot account."""
    user, _, secret, spot, _ = trader
    alert = tv_alert(
        secret,
        intent={},
        action="sell",
        market_position="flat",
        prev_market_position="long",
        order_id="Close entry(s) order Long 1",
    )
    r = _post(client, user, alert)
    assert r.status_code == 202, r.json
    signal = Signal.get_by_id(r.json["signal_id"])
    assert (signal.intent, signal.side, signal.account_id) == ("exit", "long", spot.id)


# --- refusals -----------------------------------------------------------------------------------


def test_missing_fields_are_422_field_by_field(client, trader):
    """No symbol, a bad interval: 422 in the error shape, each field named, logged invalid."""
    user, _, secret, _, _ = trader
    alert = tv_alert(secret, timeframe="30S")
    del alert["tv"]["symbol"]
    r = _post(client, user, alert)
    assert r.status_code == 422
    assert r.json["error"]["code"] == "invalid"
    assert r.json["error"]["fields"] == {
        "tv.symbol": ["is missing"],
        "tv.timeframe": [
            "second intervals (30S) are not supported; use a chart of 1 minute or more"
        ],
    }
    (row,) = _rows(user)
    assert (row.status, row.http_status, row.authenticated) == ("invalid", 422, True)
    assert "tv.symbol: is missing" in row.reason


def test_nan_price_is_refused_but_nan_elsewhere_ignored(client, trader):
    """NaN in entry_price is a 422 on that field; NaN in an unknown field is ignored."""
    user, _, secret, _, _ = trader
    raw = body(tv_alert(secret)).replace(b'"64250.5"', b"NaN")
    r = _post(client, user, raw=raw)
    assert r.status_code == 422
    assert "TradingView renders na as NaN" in r.json["error"]["fields"]["tv.entry_price"][0]
    raw = body(tv_alert(secret) | {"position_size": "X"}).replace(b'"X"', b"NaN")
    assert _post(client, user, raw=raw).status_code == 202


def test_bounds_are_422_with_the_path(client, trader):
    """A 300-character string or nesting 9 deep anywhere is refused with its path."""
    user, _, secret, _, _ = trader
    r = _post(client, user, tv_alert(secret) | {"comment": "x" * 300})
    assert r.status_code == 422
    assert r.json["error"]["fields"] == {"comment": ["at most 256 characters; got 300"]}
    deep: dict = {}
    for _ in range(8):
        deep = {"d": deep}
    r = _post(client, user, tv_alert(secret) | {"deep": deep})
    assert r.status_code == 422
    assert r.json["error"]["fields"] == {"deep.d.d.d.d.d.d.d": ["nested deeper than 8 levels"]}


def test_stale_and_future_signals(client, trader):
    """tv.time 301 s old is 422 stale (logged stale); 120 s in the future is 422 invalid."""
    user, _, secret, _, _ = trader
    r = _post(client, user, tv_alert(secret, time=now_text(-301)))
    assert r.status_code == 422 and r.json["error"]["code"] == "stale"
    assert "max_signal_age_seconds (300 s)" in r.json["error"]["fields"]["tv.time"][0]
    r = _post(client, user, tv_alert(secret, time=now_text(+120)))
    assert r.status_code == 422 and r.json["error"]["code"] == "invalid"
    assert "in the future" in r.json["error"]["fields"]["tv.time"][0]
    assert [row.status for row in _rows(user)] == ["stale", "invalid"]


def test_max_signal_age_comes_from_settings(client, trader):
    """With max_signal_age_seconds = 60, a 90 s old signal is stale, a 30 s old one is not."""
    user, headers, secret, _, _ = trader
    saved = client.put(
        "/api/settings", headers=headers, json={"signals": {"max_signal_age_seconds": 60}}
    )
    assert saved.status_code == 200, saved.json
    assert _post(client, user, tv_alert(secret, time=now_text(-90))).status_code == 422
    assert _post(client, user, tv_alert(secret, time=now_text(-30))).status_code == 202


def test_account_rejections_are_422_with_reason(client, make_user, app, trader):
    """A spot-routed short, an unsupported exchange and a user without accounts are rejected."""
    user, _, secret, _, _ = trader
    short = tv_alert(
        secret, intent={"type": "entry", "side": "short"}, action="sell", market_position="short"
    )
    r = _post(client, user, short)
    assert r.status_code == 422 and r.json["error"]["code"] == "rejected"
    assert r.json["error"]["message"].startswith("a spot account cannot short ('Main spot'")
    r = _post(client, user, tv_alert(secret, exchange="KRAKEN"))
    assert r.status_code == 422
    assert r.json["error"]["fields"] == {
        "tv.exchange": ["exchange 'KRAKEN' is not supported; use one of BINANCE, BYBIT"]
    }
    bare, bare_headers = make_user("trader")
    bare_secret = client.post("/api/auth/webhook-secret", headers=bare_headers).json
    r = _post(client, bare, tv_alert(bare_secret["webhook_secret"]))
    assert r.json["error"]["message"] == "no active exchange account; add one under Accounts"
    assert [row.status for row in _rows(user)] == ["rejected", "invalid"]


def test_oversized_body_is_413_and_logged(client, trader):
    """A body over 16 KiB is refused unread with 413, and logged without its content."""
    user, _, secret, _, _ = trader
    r = _post(client, user, tv_alert(secret) | {"pad": "x" * 17000})
    assert r.status_code == 413 and r.json["error"]["code"] == "payload_too_large"
    (row,) = _rows(user)
    assert (row.status, row.http_status, row.payload) == ("rejected", 413, {"_unread": True})


def test_invalid_utf8_with_a_readable_secret_is_400(client, trader):
    """A stray invalid byte: authenticated by the readable secret, then 400 naming the byte."""
    user, _, secret, _, _ = trader
    raw = body(tv_alert(secret) | {"note": "X"}).replace(b'"X"', b'"caf\xe9"')
    r = _post(client, user, raw=raw, content_type="text/plain")
    assert r.status_code == 400 and r.json["error"]["code"] == "malformed_json"
    assert r.json["error"]["message"].startswith("the body is not valid UTF-8 (bad byte at")


# --- the duplicate window -----------------------------------------------------------------------


def test_same_body_within_ten_minutes_is_a_duplicate(client, trader):
    """The same alert again — even reformatted — answers 200 duplicate and stores nothing."""
    user, _, secret, _, _ = trader
    alert = tv_alert(secret)
    assert _post(client, user, alert).status_code == 202
    again = _post(client, user, alert)
    assert (again.status_code, again.json) == (200, {"status": "duplicate"})
    reformatted = json.dumps(alert, indent=2, sort_keys=True).encode()
    assert _post(client, user, raw=reformatted, content_type="text/plain").status_code == 200
    assert Signal.select().count() == 1
    rows = _rows(user)
    assert [r.status for r in rows] == ["accepted", "duplicate", "duplicate"]
    assert rows[1].reason == "the same body was accepted less than 10 minutes ago"


def test_same_body_after_the_window_is_a_new_signal(client, trader):
    """Once the window has passed, the same body is accepted again (the slot is taken over)."""
    user, _, secret, _, _ = trader
    alert = tv_alert(secret)
    first = _post(client, user, alert).json["signal_id"]
    SignalFingerprint.update(accepted_at=utcnow() - timedelta(minutes=10, seconds=1)).execute()
    second = _post(client, user, alert)
    assert second.status_code == 202 and second.json["signal_id"] != first
    (slot,) = SignalFingerprint.select()
    assert str(slot.signal_id) == second.json["signal_id"]


def test_repeated_signal_id_with_another_body_is_a_duplicate(client, trader):
    """signal_id is a key on its own: a different body with a seen id is a duplicate."""
    user, _, secret, _, _ = trader
    assert _post(client, user, tv_alert(secret) | {"signal_id": "tv-42"}).status_code == 202
    other = tv_alert(secret, symbol="ETHUSDT") | {"signal_id": "tv-42"}
    r = _post(client, user, other)
    assert r.status_code == 200 and r.json == {"status": "duplicate"}
    assert _rows(user)[-1].reason == "signal_id 'tv-42' was already accepted"


def test_order_id_alone_is_not_a_key(client, trader):
    """Two entries both named "Long 1" (strategies reuse ids) are two signals."""
    user, _, secret, _, _ = trader
    assert _post(client, user, tv_alert(secret, entry_price="100")).status_code == 202
    assert _post(client, user, tv_alert(secret, entry_price="99")).status_code == 202


# --- replay -------------------------------------------------------------------------------------


def test_replay_bypasses_duplicate_window_and_freshness(client, trader):
    """A logged webhook replays as a new signal marked is_replay, even twice and when stale."""
    user, headers, secret, _, _ = trader
    stale = _post(client, user, tv_alert(secret, time=now_text(-3600)))
    assert stale.status_code == 422
    (row,) = _rows(user)
    first = client.post(f"/api/webhooks/{row.id}/replay", headers=headers)
    second = client.post(f"/api/webhooks/{row.id}/replay", headers=headers)
    assert first.status_code == second.status_code == 202, first.json
    assert first.json["replay_of"] == str(row.id)
    signals = list(Signal.select().order_by(Signal.created_at))
    assert [s.is_replay for s in signals] == [True, True]
    replays = [r for r in _rows(user) if r.is_replay]
    assert [str(r.replay_of) for r in replays] == [str(row.id)] * 2


def test_replay_is_own_authenticated_rows_only(client, trader, make_user):
    """Another trader's row is 404; an unauthenticated row cannot be replayed (409)."""
    user, headers, _, _, _ = trader
    _post(client, user, {"secret": "wrong", "tv": {"symbol": "BTCUSDT"}})
    (row,) = _rows(user)
    refused = client.post(f"/api/webhooks/{row.id}/replay", headers=headers)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "not_replayable"
    _, other_headers = make_user("trader")
    assert client.post(f"/api/webhooks/{row.id}/replay", headers=other_headers).status_code == 404


# --- the webhook log ----------------------------------------------------------------------------


def test_log_lists_newest_first_with_filters(client, trader):
    """GET /api/webhooks: newest first; status, symbol (any spelling) and time filters."""
    user, headers, secret, _, _ = trader
    _post(client, user, tv_alert(secret, symbol="BTCUSDT"))
    _post(client, user, tv_alert(secret, symbol="ETHUSDT.P"))
    _post(client, user, tv_alert(secret, symbol="ETHUSDT", time=now_text(-999)))
    items = client.get("/api/webhooks", headers=headers).json["items"]
    assert [(i["symbol"], i["status"]) for i in items] == [
        ("ETHUSDT", "stale"),
        ("ETHUSDT", "accepted"),
        ("BTCUSDT", "accepted"),
    ]
    assert set(items[0]) >= {
        "id",
        "received_at",
        "status",
        "http_status",
        "reason",
        "classification",
        "payload",
        "signal_id",
        "group_id",
        "is_replay",
        "remote_addr",
    }
    assert items[0]["payload"]["secret"] == "***" and items[0]["remote_addr"] == "127.0.0.1"
    eth = client.get("/api/webhooks?symbol=BINANCE:ethusdt.P", headers=headers).json["items"]
    assert len(eth) == 2
    stale = client.get("/api/webhooks?status=stale", headers=headers).json["items"]
    assert [i["symbol"] for i in stale] == ["ETHUSDT"]
    later = (utcnow() + timedelta(minutes=1)).isoformat() + "Z"
    assert client.get(f"/api/webhooks?from={later}", headers=headers).json["items"] == []
    bad = client.get("/api/webhooks?status=great", headers=headers)
    assert bad.status_code == 422 and "status" in bad.json["error"]["fields"]


def test_log_cursor_pagination(client, trader):
    """limit=2 over five rows: pages of 2, 2 and 1, in order, then no cursor."""
    user, headers, secret, _, _ = trader
    for price in ("1", "2", "3", "4", "5"):
        assert _post(client, user, tv_alert(secret, entry_price=price)).status_code == 202
    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/webhooks?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=headers).json
        seen += [i["payload"]["tv"]["entry_price"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["5", "4", "3", "2", "1"] and pages == 3
    broken = client.get("/api/webhooks?cursor=nonsense", headers=headers)
    assert broken.status_code == 422 and "cursor" in broken.json["error"]["fields"]


def test_log_of_another_user_needs_a_manager(client, trader, make_user):
    """A trader reading someone else's log gets 403; a manager reads it."""
    user, _, secret, _, _ = trader
    _post(client, user, tv_alert(secret))
    _, other = make_user("trader")
    _, manager = make_user("manager")
    assert client.get(f"/api/webhooks?user_id={user.id}", headers=other).status_code == 403
    listed = client.get(f"/api/webhooks?user_id={user.id}", headers=manager).json["items"]
    assert len(listed) == 1
    assert client.get("/api/webhooks", headers=other).json["items"] == []


# --- rate limits --------------------------------------------------------------------------------


def test_per_user_rate_limit_answers_429_with_retry_after(app, client, trader, monkeypatch):
    """Over the per-user limit: 429 with Retry-After, logged as rate_limited."""
    monkeypatch.setitem(app.config, "WEBHOOK_RATE_LIMIT_USER", "3 per minute")
    user, _, secret, _, _ = trader
    codes = [
        _post(client, user, tv_alert(secret, entry_price=str(p))).status_code for p in (1, 2, 3)
    ]
    r = _post(client, user, tv_alert(secret, entry_price="4"))
    assert codes == [202, 202, 202]
    assert r.status_code == 429 and r.json["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert _rows(user)[-1].status == "rate_limited"


def test_per_address_rate_limit_counts_every_request(app, client, trader, monkeypatch):
    """The per-address limit counts unknown users and wrong secrets too."""
    monkeypatch.setitem(app.config, "WEBHOOK_RATE_LIMIT_ADDRESS", "4 per minute")
    user, _, secret, _, _ = trader
    for _ in range(3):
        client.post("/api/webhook/00000000-0000-0000-0000-000000000000", data=b"{}")
    assert _post(client, user, tv_alert(secret)).status_code == 202
    r = _post(client, user, tv_alert(secret, entry_price="1"))
    assert r.status_code == 429 and "Retry-After" in r.headers
