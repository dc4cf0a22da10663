"""The Bybit dialect answers with the same keys and JSON types as Bybit's documented bodies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.simulator.markets import DATA_DIR

FIXTURES = Path(__file__).parent / "fixtures"
COIN_MAPS = {"cumFeeDetail"}  # objects keyed by coin ({"MNT": "0.0024"}): compare value types


def shape(value, key: str | None = None):
    """Keys and JSON types, recursively (lists by their first element, coin maps by value)."""
    if isinstance(value, dict):
        if key in COIN_MAPS:
            first = next(iter(value.values()), "")
            return {"<coin>": shape(first)}
        return {k: shape(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return type(value).__name__


def recorded(name: str) -> dict:
    return json.loads((FIXTURES / f"bybit_{name}.json").read_text())


@pytest.fixture
def traded(sim):
    """A linear fill, an open and a cancelled linear order; a spot fill and an open spot order."""
    sim.balances(balances={"USDT": "100000", "BTC": "1"})
    linear, spot = sim.bybit_linear(), sim.bybit_spot()
    sim.price("BTCUSDT", 60000)
    created = linear.privatePostV5OrderCreate(
        {
            "category": "linear",
            "symbol": "BTCUSDT",
            "side": "Buy",
            "orderType": "Market",
            "qty": "0.01",
        }
    )
    linear.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, 50000, {"clientOrderId": "shape-1"})
    doomed = linear.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, 40000)
    cancel = linear.privatePostV5OrderCancel(
        {"category": "linear", "symbol": "BTCUSDT", "orderId": doomed["id"]}
    )
    spot.create_order("BTC/USDT", "market", "buy", 0.01)
    spot.create_order("BTC/USDT", "limit", "sell", 0.01, 70000)
    return linear, spot, created, cancel


def test_create_cancel_and_cancel_all_answers(traded):
    """POST /v5/order/create, /cancel and /cancel-all answer the documented bodies."""
    linear, _, created, cancel = traded
    assert shape(created) == shape(recorded("order_create"))
    assert shape(cancel) == shape(recorded("order_cancel"))
    cancel_all = linear.privatePostV5OrderCancelAll({"category": "linear", "symbol": "BTCUSDT"})
    assert shape(cancel_all) == shape(recorded("order_cancel_all"))


def test_realtime_and_history_order_lists(traded):
    """Linear realtime and history entries match the docs' examples key for key."""
    linear = traded[0]
    realtime = linear.privateGetV5OrderRealtime({"category": "linear", "symbol": "BTCUSDT"})
    assert shape(realtime) == shape(recorded("order_realtime"))
    history = linear.privateGetV5OrderHistory({"category": "linear", "symbol": "BTCUSDT"})
    assert shape(history) == shape(recorded("order_history"))


def test_spot_orders_differ_only_where_the_docs_say(traded):
    """Spot entries drop tpslMode/lastPriceOnCreated and add marketUnit/basePrice (docs table)."""
    spot = traded[1]
    body = spot.privateGetV5OrderRealtime({"category": "spot", "symbol": "BTCUSDT"})
    ours = shape(body)["result"]["list"][0]
    docs = shape(recorded("order_realtime"))["result"]["list"][0]
    assert set(docs) - set(ours) == {"tpslMode", "lastPriceOnCreated"}
    assert set(ours) - set(docs) == {"marketUnit", "basePrice"}
    assert {k: v for k, v in ours.items() if k in docs} == {
        k: v for k, v in docs.items() if k in ours
    }


def test_execution_list(traded):
    """GET /v5/execution/list matches the docs' example, spot and linear alike."""
    linear, spot = traded[0], traded[1]
    expected = shape(recorded("execution_list"))
    for ex, cat in ((linear, "linear"), (spot, "spot")):
        assert shape(ex.privateGetV5ExecutionList({"category": cat})) == expected


def test_wallet_balance_account_info_and_fee_rate(traded):
    """wallet-balance, account/info and fee-rate match the docs' examples."""
    linear = traded[0]
    wallet = linear.privateGetV5AccountWalletBalance({"accountType": "UNIFIED"})
    assert shape(wallet) == shape(recorded("wallet_balance"))
    info = linear.privateGetV5AccountInfo()
    assert shape(info["result"]) == shape(recorded("account_info")["result"])
    fee = linear.privateGetV5AccountFeeRate({"category": "linear", "symbol": "BTCUSDT"})
    assert shape(fee) == shape(recorded("fee_rate"))


def test_public_market_data(sim):
    """time, tickers (spot; linear as the documented derivatives example), orderbook, kline."""
    get = lambda path, **q: sim.http.get(path, params=q).json()  # noqa: E731
    assert shape(get("/v5/market/time")) == shape(recorded("market_time"))
    spot = get("/v5/market/tickers", category="spot", symbol="BTCUSDT")
    assert shape(spot) == shape(recorded("tickers_spot"))
    linear = get("/v5/market/tickers", category="linear", symbol="BTCUSDT")
    docs = recorded("tickers_linear")
    docs["result"]["category"] = "linear"
    assert shape(linear) == shape(docs)
    book = get("/v5/market/orderbook", category="spot", symbol="BTCUSDT")
    assert shape(book) == shape(recorded("orderbook"))
    kline = get("/v5/market/kline", category="linear", symbol="BTCUSDT", interval="60")
    assert shape(kline) == shape(recorded("kline"))


@pytest.mark.parametrize(
    ("category", "missing", "extra"),
    [
        ("linear", {"symbolId", "symbolType"}, {"displayName"}),
        ("spot", {"symbolId", "symbolType", "stTag"}, set()),
    ],
)
def test_instruments_info_entries_are_the_recorded_real_ones(sim, category, missing, extra):
    """Served entries are the recorded real ones; vs the newer docs only Bybit's new keys differ."""
    body = sim.http.get(
        "/v5/market/instruments-info", params={"category": category, "symbol": "BTCUSDT"}
    ).json()
    entry = body["result"]["list"][0]
    stored = json.loads((DATA_DIR / "bybit_instruments_info.json").read_text())[category]
    real = next(e for e in stored["result"]["list"] if e["symbol"] == "BTCUSDT")
    if "fundingInterval" in real:
        real["fundingInterval"] = int(real["fundingInterval"])  # the API sends a number
    assert entry == real
    docs = recorded(f"instruments_{category}")
    top = shape(body)
    top["result"]["list"] = []
    docs_top = shape(docs)
    docs_top["result"]["list"] = []
    assert top == docs_top
    ours, theirs = shape(entry), shape(docs["result"]["list"][0])
    assert set(theirs) - set(ours) == missing and set(ours) - set(theirs) == extra
    common = set(ours) & set(theirs) - {"riskParameters", "lotSizeFilter"}
    assert {k: ours[k] for k in common} == {k: theirs[k] for k in common}
    assert set(ours["lotSizeFilter"]) <= set(theirs["lotSizeFilter"])
