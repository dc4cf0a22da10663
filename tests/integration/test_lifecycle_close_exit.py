"""The close routine (SPEC §4.5) through the real stack: an exit signal mid-grid, a manual
close through the API, and a futures close that is reduce-only — each cancels every working
order, closes what is held with one market order and books the realised PnL net of fees.

Spot numbers as in test_lifecycle_close_tp: legs 0 and 1 of the 64,250.5 grid filled (0.00124
BTC, invested 79.4714388, entry fees 0.03983531 + 0.0396361288 = 0.0794714388 USDT, held
0.00123876 → 0.00123 sellable); legs 2–4 working; per-leg TPs resting for legs 0 and 1.
"""

from __future__ import annotations

import httpx

from server.domain.enums import OrderPurpose
from tests.integration.test_lifecycle_close_tp import _at_sim, _shape, _tp_orders_resting
from tests.integration.test_lifecycle_close_tp import _two_legs_filled as two_legs
from tests.lifecycle_support import D, legs, make_trader, only_group, settled, wait_for

EXIT = {"type": "exit", "side": "long", "strategy": "grid"}


def test_exit_signal_mid_grid_cancels_everything_and_sells_what_is_held(app, stack, sim, make_user):
    """At 64,000 an exit signal: both resting TPs and legs 2–4 are cancelled, one market sell
    of 0.00123. Realised: 0.00123 × 64,000 = 78.72, fee 0.07872; cost 79.4714388 × 123 / 124
    = 78.8305401; entry fees 0.0794714388 → 78.72 − 78.8305401 − 0.0794714388 − 0.07872 =
    −0.2687315388 USDT."""
    trader = make_trader(app, stack, make_user)
    group = two_legs(trader, sim)
    _tp_orders_resting(sim, 2)
    sim.price("BTCUSDT", "64000")
    trader.signal(EXIT, action="sell", market_position="flat", prev_market_position="long")
    detail = settled(trader, group["id"], "closed")
    assert D(detail["realized_pnl_usd"]) == D("-0.2687315388")
    assert _shape(_at_sim(sim, OrderPurpose.CLOSE)) == [
        ("SELL", "MARKET", None, D("0.00123"), "FILLED")
    ]
    assert [r[-1] for r in _shape(_at_sim(sim, OrderPurpose.TAKE_PROFIT))] == [
        "CANCELED",
        "CANCELED",
    ]
    assert [leg["status"] for leg in legs(detail)][2:] == ["cancelled"] * 3
    (close,) = detail["orders"]
    assert (close["purpose"], close["status"], D(close["fee"])) == (
        "close",
        "filled",
        D("0.07872"),
    )
    transitions = [
        (e["from_status"], e["to_status"])
        for e in detail["events"]
        if e["kind"] in ("status_changed", "group_closed")
    ]
    assert transitions[-2:] == [("partially_filled", "closing"), ("closing", "closed")]
    line = next(e for e in detail["events"] if e["kind"] == "group_closed")["detail"]["message"]
    assert line.startswith(
        "BTCUSDT 60m long closed by exit signal: sold 0.00123 at 64,000, realised -0.27 USDT"
    )
    logs = trader.get("/api/logs?category=TRADING")["items"]
    assert any(row["message"] == line for row in logs)


def test_manual_close_through_the_api(app, stack, sim, make_user):
    """POST /api/positions/<id>/close answers 202 `closing` at once, the worker closes the
    group; a second close is 409; another trader's close is 404 and a viewer's 403. Leg 0
    alone (0.00062 @ 64,250.5, fee 0.03983531, held 0.00061938 → 0.00061) sold at 64,500:
    39.345, fee 0.039345; cost 39.83531 × 61 / 62 = 39.192805 → 39.345 − 39.192805 −
    0.03983531 − 0.039345 = 0.07301469 USDT."""
    trader = make_trader(app, stack, make_user)
    sim.price("BTCUSDT", "64250.5")
    trader.signal(entry_price="64250.5")
    group = only_group(trader)
    settled(trader, group["id"], "partially_filled", filled_dca_legs=1)
    url = f"{stack.base_url}/api/positions/{group['id']}/close"
    _, other_headers = make_user("trader")
    assert httpx.post(url, headers=other_headers).status_code == 404
    _, viewer_headers = make_user("viewer")
    assert httpx.post(url, headers=viewer_headers).status_code == 403
    sim.price("BTCUSDT", "64500")
    answer = httpx.post(url, headers=trader.headers)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "closing"
    detail = settled(trader, group["id"], "closed")
    assert D(detail["realized_pnl_usd"]) == D("0.07301469")
    again = httpx.post(url, headers=trader.headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    line = next(e for e in detail["events"] if e["kind"] == "group_closed")["detail"]["message"]
    assert line.startswith("BTCUSDT 60m long closed by manual close: sold 0.00061 at 64,500")


FUTURES = {"capital": {"total_capital_usd": "100000"}}


def test_futures_close_is_reduce_only(app, stack, sim, make_user):
    """Binance USDⓈ-M (tick 0.1, step 0.001, min notional 100), capital 100,000 → 400 USDT a
    leg: leg 0 market-buys 400 / 64,250.5 → 0.006 at 64,250.5 (taker fee 0.05 % = 0.1927515
    USDT); its TP is a reduce-only sell limit 0.006 @ 64,893.1 (64,893.005 up to the tick).
    An exit at 64,800 (below the TP) cancels it and legs 1–4 and sends a reduce-only market
    sell of 0.006: 388.8, fee 0.1944 → 388.8 − 385.503 − 0.1927515 − 0.1944 = 2.9098485
    USDT."""
    trader = make_trader(app, stack, make_user, market_type="futures", settings=FUTURES)
    sim.price("BTCUSDT", "64250.5")
    trader.signal(entry_price="64250.5")
    group = only_group(trader)
    settled(trader, group["id"], "partially_filled", filled_dca_legs=1)
    tps = wait_for(lambda: _at_sim(sim, OrderPurpose.TAKE_PROFIT), what="the futures TP")
    assert [(r["side"], r["type"], D(r["price"]), D(r["qty"]), r["reduce_only"]) for r in tps] == [
        ("SELL", "LIMIT", D("64893.1"), D("0.006"), True)
    ]
    sim.price("BTCUSDT", "64800")
    trader.signal(EXIT, action="sell", market_position="flat", prev_market_position="long")
    detail = settled(trader, group["id"], "closed")
    (close,) = _at_sim(sim, OrderPurpose.CLOSE)
    assert (close["side"], close["type"], D(close["qty"]), close["reduce_only"]) == (
        "SELL",
        "MARKET",
        D("0.006"),
        True,
    )
    assert close["status"] == "FILLED"
    assert D(detail["realized_pnl_usd"]) == D("2.9098485")


def test_bybit_linear_short_aggregate_tp_buys_back_reduce_only(app, stack, sim, make_user):
    """Bybit linear (tick 0.1, step 0.001, min notional 5), capital 100,000, aggregate 1 %: a
    short sells 0.006 at market at 64,250.5 (taker 0.055 % = 0.21202665). Its target is
    64,250.5 × 0.99 = 63,607.995 → down to the tick 63,607.9 (a short's target rounds toward
    more profit). At 63,600 the monitor (Bybit's ticker list) closes it: legs 1–4 (sells above)
    cancelled, a reduce-only market buy of 0.006: 381.6, fee 0.20988 →
    385.503 − 381.6 − 0.21202665 − 0.20988 = 3.48109335 USDT."""
    settings = FUTURES | {"take_profit": {"tp_mode": "aggregate"}}
    trader = make_trader(
        app, stack, make_user, exchange="bybit", market_type="futures", settings=settings
    )
    sim.price("BTCUSDT", "64250.5", exchange="bybit", market="linear")
    short = {"type": "entry", "side": "short", "strategy": "grid"}
    trader.signal(short, exchange="BYBIT", symbol="BTCUSDT.P", action="sell",
                  market_position="short", entry_price="64250.5")  # fmt: skip
    group = only_group(trader)
    settled(trader, group["id"], "partially_filled", filled_dca_legs=1)
    sim.price("BTCUSDT", "63600", exchange="bybit", market="linear")
    detail = settled(trader, group["id"], "closed")
    (close,) = _at_sim(sim, OrderPurpose.CLOSE)
    assert (close["side"], close["type"], D(close["qty"]), close["reduce_only"]) == (
        "BUY",
        "MARKET",
        D("0.006"),
        True,
    )
    assert D(detail["realized_pnl_usd"]) == D("3.48109335")
    assert [leg["status"] for leg in legs(detail)][1:] == ["cancelled"] * 4


def test_manual_close_and_exit_signal_at_once_close_once(app, stack, sim, make_user):
    """A manual close and an exit signal for the same group in the same instant: the per-group
    lock serialises them — one close order reaches the exchange, one `group_closed` event."""
    trader = make_trader(app, stack, make_user)
    group = two_legs(trader, sim)
    url = f"{stack.base_url}/api/positions/{group['id']}/close"
    trader.signal(EXIT, action="sell", market_position="flat", prev_market_position="long")
    answer = httpx.post(url, headers=trader.headers)
    assert answer.status_code in (202, 409), answer.text
    detail = settled(trader, group["id"], "closed")
    assert len(_at_sim(sim, OrderPurpose.CLOSE)) == 1
    assert [e["kind"] for e in detail["events"]].count("group_closed") == 1
