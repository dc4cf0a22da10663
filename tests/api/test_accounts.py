"""Exchange accounts: keys encrypted at rest, masked in answers, never in a log line."""

from __future__ import annotations

import logging

from server.persistence.models import AuditLog, ExchangeAccount, PositionGroup, SystemLog

KEY = "AbC1Zq8Lw0pRt5Yv9xYz"
SECRET = "S3cr3tValue-0123456789-never-shown"


def _create(client, headers, **over):
    body = {
        "exchange": "binance",
        "market_type": "spot",
        "mode": "simulated",
        "api_key": KEY,
        "api_secret": SECRET,
        "label": "main",
    } | over
    return client.post("/api/accounts", headers=headers, json=body)


def test_create_validates_keys_against_the_exchange(client, make_user, sim):
    """POST answers 201 with the masked key only; the simulator accepts the funded key."""
    sim.balances(KEY, {"USDT": "1000"}, SECRET)
    _, headers = make_user("trader")
    r = _create(client, headers)
    assert r.status_code == 201
    assert r.json["api_key"] == "AbC1…9xYz"
    assert KEY not in r.get_data(as_text=True) and SECRET not in r.get_data(as_text=True)
    assert r.json["validation"] == {"valid": True, "error": None}


def test_unknown_key_is_reported_precisely(client, make_user, sim):
    """A key the exchange does not know is stored but reported as invalid, saying what to do."""
    _, headers = make_user("trader")
    r = _create(client, headers)
    assert r.status_code == 201
    assert r.json["validation"]["valid"] is False
    assert r.json["validation"]["error"].startswith("invalid API key or secret")


def test_wrong_secret_is_invalid_and_validate_recovers(client, make_user, sim):
    """A wrong secret fails the check; once the exchange accepts it, /validate says valid."""
    sim.balances(KEY, {"USDT": "1000"}, "another-secret-entirely")
    _, headers = make_user("trader")
    r = _create(client, headers)
    assert r.json["validation"]["valid"] is False
    sim.balances(KEY, {"USDT": "1000"}, SECRET)
    again = client.post(f"/api/accounts/{r.json['id']}/validate", headers=headers)
    assert again.json == {"valid": True, "error": None}


def test_unreachable_exchange_is_reported(client, make_user, sim):
    """An exchange answering 500 is reported as unreachable, and the breaker shows it."""
    sim.balances(KEY, {"USDT": "1000"}, SECRET)
    sim.fault("http_500", path="/api/v3/account")
    _, headers = make_user("trader")
    r = _create(client, headers)
    assert r.json["validation"]["valid"] is False
    assert r.json["validation"]["error"].startswith("exchange unreachable")
    listed = client.get("/api/accounts", headers=headers).json["items"][0]
    assert listed["breaker"] == "closed" and "500" in (listed["breaker_error"] or "")
    exchanges = client.get("/api/health").json["exchanges"]
    assert exchanges["accounts"] == 1 and exchanges["open_breakers"] == 0


def test_paper_account_validates_on_public_market_data(app, client, make_user, sim):
    """A paper account needs no key the exchange knows: it is valid once markets and a ticker
    load (here from the simulator: PAPER_MARKET_DATA=simulated), and it trades on its own
    10,000 USDT without sending anything to the exchange."""
    from decimal import Decimal

    from server.exchange.paper import PaperExchange
    from server.exchange.types import OrderSide, OrderType
    from server.services.exchanges import client_for

    _, headers = make_user("trader")
    r = _create(client, headers, mode="paper", api_key="anything-at-all", api_secret="x" * 12)
    assert r.status_code == 201
    assert r.json["validation"] == {"valid": True, "error": None}
    with app.app_context():
        paper = client_for(ExchangeAccount.get_by_id(r.json["id"]))
        assert isinstance(paper, PaperExchange)
        assert paper.fetch_balance()["USDT"].free == Decimal(10000)
        paper.create_order(
            "BTCUSDT", OrderSide.BUY, OrderType.MARKET, Decimal("0.002"), None, "cid-api-paper"
        )
    assert sim.orders() == []


def test_paper_account_with_unreachable_market_data(client, make_user, sim):
    """When the market data answer 500, the paper account is reported as unreachable."""
    sim.fault("http_500", path="/api/v3/exchangeInfo")
    _, headers = make_user("trader")
    r = _create(client, headers, mode="paper")
    assert r.json["validation"]["valid"] is False
    assert r.json["validation"]["error"].startswith("exchange unreachable")


def test_deleting_a_paper_account_forgets_its_state(app, client, make_user, sim):
    """Its simulated orders and balances leave Redis with it."""
    from server import runtime
    from server.services.exchanges import client_for, paper_store

    _, headers = make_user("trader")
    account_id = _create(client, headers, mode="paper").json["id"]
    with app.app_context():
        account = ExchangeAccount.get_by_id(account_id)
        store = paper_store(account)
        client_for(account).fetch_balance()  # the first use funds the account in Redis
        assert runtime.redis_client().exists(store.key("ledger"))
    assert client.delete(f"/api/accounts/{account_id}", headers=headers).status_code == 204
    with app.app_context():
        assert not runtime.redis_client().exists(store.key("ledger"))


def test_keys_are_encrypted_at_rest(client, make_user):
    """The database holds ciphertext only: neither key nor secret appears in the row."""
    _, headers = make_user("trader")
    account_id = _create(client, headers).json["id"]
    row = ExchangeAccount.get_by_id(account_id)
    stored = " ".join(str(v) for v in row.__data__.values())
    assert KEY not in stored and SECRET not in stored
    assert row.api_secret_enc.startswith("v1:")


def test_credentials_decrypt_for_the_exchange_layer(app, client, make_user):
    """The exchange layer gets the exact key and secret back from the vault."""
    from server.services.accounts import credentials

    _, headers = make_user("trader")
    account_id = _create(client, headers).json["id"]
    with app.app_context():
        assert credentials(ExchangeAccount.get_by_id(account_id)) == (KEY, SECRET)


def test_no_secret_in_logs_audit_or_listing(client, make_user, caplog):
    """Neither key nor secret appears in any log line, audit row or list answer."""
    _, headers = make_user("trader")
    with caplog.at_level(logging.DEBUG):
        account_id = _create(client, headers).json["id"]
        client.post(f"/api/accounts/{account_id}/validate", headers=headers)
        listing = client.get("/api/accounts", headers=headers).get_data(as_text=True)
    texts = [caplog.text, listing]
    texts += [str(a.detail) for a in AuditLog.select()]
    texts += [s.message + str(s.context) for s in SystemLog.select()]
    for text in texts:
        assert KEY not in text and SECRET not in text


def test_invalid_account_body_is_422_and_writes_nothing(client, make_user):
    """Unknown exchange and missing secret are reported per field; no row is written."""
    _, headers = make_user("trader")
    r = client.post(
        "/api/accounts",
        headers=headers,
        json={
            "exchange": "kraken",
            "market_type": "spot",
            "mode": "live",
            "api_key": KEY,
            "label": "x",
        },
    )
    assert r.status_code == 422
    assert set(r.json["error"]["fields"]) == {"exchange", "api_secret"}
    assert ExchangeAccount.select().count() == 0


def test_delete_refused_while_groups_are_open(client, make_user):
    """An account with an open position group cannot be deleted (409)."""
    user, headers = make_user("trader")
    account_id = _create(client, headers).json["id"]
    group = PositionGroup.create(
        user=user.id,
        account=account_id,
        exchange="binance",
        symbol="BTCUSDT",
        timeframe=60,
        side="long",
        status="active",
    )
    assert client.delete(f"/api/accounts/{account_id}", headers=headers).status_code == 409
    group.status = "closed"
    group.save()
    assert client.delete(f"/api/accounts/{account_id}", headers=headers).status_code == 204
    assert PositionGroup.get_by_id(group.id).account_id is None
