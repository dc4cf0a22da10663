"""`POST /api/settings/preview`: the grid as it would be sent, rounded by the real market rules
the simulator serves (Binance spot BTCUSDT tick 0.01 / step 0.00001 / min notional 5, PEPEUSDT
tick 0.00000001 / step 1; USDⓈ-M BTCUSDT tick 0.10 / step 0.001 / min notional 100). The
numbers are the hand-worked ones of tests/unit/test_grid.py."""

from __future__ import annotations

KEY = "PreviewKey-0123456789"
SECRET = "PreviewSecret-0123456789-abcdef"
URL = "/api/settings/preview"


def _account(client, headers, sim, market_type="spot"):
    sim.balances(KEY, {"USDT": "10000"}, SECRET)
    body = {
        "exchange": "binance",
        "market_type": market_type,
        "mode": "simulated",
        "api_key": KEY,
        "api_secret": SECRET,
        "label": f"sim {market_type}",
    }
    r = client.post("/api/accounts", headers=headers, json=body)
    assert r.status_code == 201, r.json
    return r.json["id"]


def _rows(body):
    return [
        (leg["order_type"], leg["price"], leg["quantity"], leg["notional"], leg["tp_price"])
        for leg in body["legs"]
    ]


def test_default_long_btcusdt_grid_to_the_digit(client, make_user, sim):
    """40 USD legs at 64,250.5: leg 1 = 64,250.5 × 0.995 = 63,929.2475 → 63,929.24;
    40 / 63,929.24 → 0.00062; notional 39.6361288; TP × 1.005 → 64,248.89 (see test_grid)."""
    _, headers = make_user("trader")
    account_id = _account(client, headers, sim)
    r = client.post(
        URL, headers=headers, json={"symbol": "BTCUSDT", "side": "long", "entry_price": "64250.5"}
    )
    assert r.status_code == 200, r.json
    body = r.json
    assert (body["symbol"], body["side"], body["entry_price"]) == ("BTCUSDT", "long", "64250.5")
    assert (body["pyramid_capital"], body["valid"], body["reason"]) == ("200", True, None)
    assert body["account_id"] == account_id
    assert _rows(body) == [
        ("market", "64250.5", "0.00062", "39.83531", "64893.01"),
        ("limit", "63929.24", "0.00062", "39.6361288", "64248.89"),
        ("limit", "63607.99", "0.00062", "39.4369538", "63926.03"),
        ("limit", "62965.49", "0.00063", "39.6682587", "63280.32"),
        ("limit", "61680.48", "0.00064", "39.4755072", "61988.89"),
    ]
    leg = body["legs"][1]
    assert leg | {"reason": None} == {
        "leg": 1,
        "gap_percent": "-0.5",
        "weight_percent": "20",
        "price": "63929.24",
        "quantity": "0.00062",
        "notional": "39.6361288",
        "tp_percent": "0.5",
        "tp_price": "64248.89",
        "valid": True,
        "reason": None,
        "order_type": "limit",
        "side": "buy",
        "capital": "40",
        "bumped": False,
    }
    assert body["rules"]["tick_size"] == "0.01" and body["rules"]["step_size"] == "0.00001"


def test_draft_settings_reject_then_bump(client, make_user, sim):
    """Draft: total 1,000 (20 per pyramid), grid 80 % at 0 and 20 % at −1 %: leg 1 is 4 USD →
    0.00006 BTC, notional 3.8164794 < 5. Reject refuses naming leg 1; bump sends 0.00008
    (5.0886392). The stored settings are untouched."""
    _, headers = make_user("trader")
    _account(client, headers, sim)
    draft = {
        "capital": {"total_capital_usd": "1000"},
        "grid": {
            "legs": [
                {"gap_percent": "0", "weight_percent": "80", "tp_percent": "1"},
                {"gap_percent": "-1", "weight_percent": "20", "tp_percent": "0.5"},
            ]
        },
    }
    body = {"symbol": "BTC/USDT", "side": "buy", "entry_price": 64250.5, "settings": draft}
    refused = client.post(URL, headers=headers, json=body).json
    assert refused["valid"] is False
    assert "nothing is sent: leg 1: BTCUSDT: notional 3.8164794" in refused["reason"]
    assert refused["legs"][0]["valid"] is True and refused["legs"][1]["valid"] is False

    draft["precision"] = {"min_notional_policy": "bump"}
    bumped = client.post(URL, headers=headers, json=body).json
    assert bumped["valid"] is True
    assert (bumped["legs"][1]["quantity"], bumped["legs"][1]["notional"]) == (
        "0.00008",
        "5.0886392",
    )
    assert bumped["legs"][1]["bumped"] is True
    current = client.get("/api/settings", headers=headers).json
    assert current["version"] == 0  # a preview saves nothing


def test_pepe_quantities_are_whole(client, make_user, sim):
    """PEPEUSDT at 0.00001234: 40 / 0.00001234 → 3,241,491; leg 1 at 0.00001227 → 3,259,983."""
    _, headers = make_user("trader")
    _account(client, headers, sim)
    r = client.post(
        URL,
        headers=headers,
        json={"symbol": "BINANCE:PEPEUSDT", "side": "long", "entry_price": "0.00001234"},
    )
    assert r.status_code == 200, r.json
    assert [(leg["price"], leg["quantity"]) for leg in r.json["legs"]][:2] == [
        ("0.00001234", "3241491"),
        ("0.00001227", "3259983"),
    ]
    assert r.json["legs"][0]["tp_price"] == "0.00001247"


def test_usdm_short_is_refused_below_the_100_minimum(client, make_user, sim):
    """USDⓈ-M BTCUSDT: a 40 USD leg is 0 at step 0.001; reject names leg 0."""
    _, headers = make_user("trader")
    futures = _account(client, headers, sim, "futures")
    r = client.post(
        URL,
        headers=headers,
        json={
            "symbol": "BTCUSDT.P",
            "side": "short",
            "entry_price": "64250.5",
            "account_id": futures,
        },
    )
    assert r.status_code == 200, r.json
    assert r.json["valid"] is False and r.json["market_type"] == "futures"
    assert "nothing is sent: leg 0: BTCUSDT: quantity 0" in r.json["reason"]
    assert r.json["rules"]["min_notional"] == "100"


def test_invalid_draft_gives_field_errors(client, make_user, sim):
    _, headers = make_user("trader")
    _account(client, headers, sim)
    body = {
        "symbol": "BTCUSDT",
        "side": "long",
        "entry_price": "64250.5",
        "settings": {"capital": {"total_capital_usd": "-5"}},
    }
    r = client.post(URL, headers=headers, json=body)
    assert r.status_code == 422
    assert "settings.capital.total_capital_usd" in r.json["error"]["fields"]


def test_bad_requests(client, make_user, sim):
    """Unknown symbol, short on spot, a bad price, a pyramid beyond max_pyramids: 422."""
    _, headers = make_user("trader")
    _account(client, headers, sim)
    cases = [
        ({"symbol": "NOPEUSDT", "side": "long", "entry_price": "1"}, "symbol"),
        ({"symbol": "BTCUSDT", "side": "short", "entry_price": "64250.5"}, "side"),
        ({"symbol": "BTCUSDT", "side": "long", "entry_price": "0"}, "entry_price"),
        ({"symbol": "BTCUSDT", "side": "up", "entry_price": "1"}, "side"),
        ({"symbol": "BTCUSDT", "side": "long", "entry_price": "1", "pyramid_index": 5},
         "pyramid_index"),
    ]  # fmt: skip
    for body, field in cases:
        r = client.post(URL, headers=headers, json=body)
        assert r.status_code == 422, (body, r.json)
        assert field in r.json["error"]["fields"], (body, r.json)


def test_no_account_says_what_to_do(client, make_user):
    """A viewer may preview; without an exchange account there are no market rules."""
    _, headers = make_user("viewer")
    r = client.post(
        URL, headers=headers, json={"symbol": "BTCUSDT", "side": "long", "entry_price": "1"}
    )
    assert r.status_code == 422
    assert r.json["error"]["message"] == (
        "add an exchange account first (preview needs its market rules)"
    )


def test_someone_elses_account_is_not_found(client, make_user, sim):
    _, owner = make_user("trader")
    account_id = _account(client, owner, sim)
    _, other = make_user("trader")
    body = {"symbol": "BTCUSDT", "side": "long", "entry_price": "1", "account_id": account_id}
    assert client.post(URL, headers=other, json=body).status_code == 404


def test_requires_a_token(client):
    assert client.post(URL, json={}).status_code == 401
