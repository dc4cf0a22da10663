"""The risk engine (SPEC §6) through the real stack and the simulator: one loser at −7 %, four
winners; block and skip-once; the action; a winner close the exchange refuses.

Setup (Binance spot, simulated, fee 0.1 % — on a spot buy the exchange takes it in the base
asset): capital 10,000 over 10 groups → 1,000 per group, 5 pyramids → 200 USDT a pyramid;
one leg (gap 0, weight 100, TP +50 % so no TP is reached), entry at market. Every group holds
one filled leg of 200 USDT:

| group | entry | qty | held (−0.1 %) | price | unrealised = price × held − cost(held) |
|---|---|---|---|---|---|
| BTCUSDT (loser) | 60,000 | 0.00333 | 0.00332667 | 55,800 | 185.628186 − 199.6002 = −13.972014 |
| ETHUSDT W1 | 2,000 | 0.1 | 0.0999 | 2,060 | 205.794 − 199.8 = 5.994 |
| SOLUSDT W2 | 100 | 2 | 1.998 | 102.5 | 204.795 − 199.8 = 4.995 |
| BNBUSDT W3 | 500 | 0.4 | 0.3996 | 510 | 203.796 − 199.8 = 3.996 |
| LTCUSDT W4 | 80 | 2.5 | 2.4975 | 81.2 | 202.797 − 199.8 = 2.997 |

(BTC: 200 / 60,000 rounded down to the step 1e-5 = 0.00333, cost 199.8, of which what it
holds cost 199.8 × 0.00332667 / 0.00333 = 199.6002; −13.972014 / 199.8 = −6.993 %.)
Required: 13.972014. Top two cover 10.989 < 13.972014, so three are needed; W4 never.
W1: min(5.994, 13.972014) = 5.994 / (2,060 − 2,000) = 0.0999 → all it holds;
W2: min(4.995, 7.978014) = 4.995 / 2.5 = 1.998 → all it holds;
W3: 2.983014 / 10 = 0.2983014 → rounded UP to the step 0.001 → 0.299 (covers 2.99).
Realised (SPEC §7; sell fees 0.1 % in USDT; entry fee 0.2 USDT each, BTC 0.1998):
W1 205.794 − 199.8 − 0.2 − 0.205794 = 5.588206;
W2 204.795 − 199.8 − 0.2 − 0.204795 = 4.590205;
W3 152.49 − 149.5 − 0.1495 (its share 0.299 / 0.4 of 0.2) − 0.15249 = 2.68801;
loser: 0.00332 sold (held rounded down) → 185.256 − 199.2 − 0.1998 − 0.185256 = −14.329056.
Net −1.462635 = gross +0.035 (W3's step rounding +0.007, the loser's unsold 0.00000667 BTC
keeps its cost) − fees 1.497635: ≈ 0 within fees and one step.
"""

from __future__ import annotations

import time
from datetime import timedelta

import httpx

from server.clock import utcnow
from server.persistence.models import PositionGroup
from server.services import risk as risk_service
from tests.lifecycle_support import D, _purpose, make_trader, settled, sim_orders, wait_for

SETTINGS = {
    "grid": {"legs": [{"gap_percent": "0", "weight_percent": "100", "tp_percent": "50"}]},
    "risk": {
        "require_full_pyramids": False,
        "timer_start_condition": "after_all_dca_filled",
        "post_full_wait_minutes": 60,
        "evaluation_interval_sec": 86400,
    },
}
GROUPS = [
    ("BTCUSDT", "60000", "55800"),
    ("ETHUSDT", "2000", "2060"),
    ("SOLUSDT", "100", "102.5"),
    ("BNBUSDT", "500", "510"),
    ("LTCUSDT", "80", "81.2"),
]


def _open_groups(trader, sim, groups=GROUPS) -> dict[str, dict]:
    """Each symbol bought at its entry, then moved to its test price; waits until the price
    monitor has priced them all."""
    for symbol, entry, _ in groups:
        sim.price(symbol, entry)
        trader.signal(symbol=symbol, entry_price=entry)
    found = wait_for(
        lambda: (g := trader.groups("open")) and len(g) == len(groups) and g,
        what="every group opened",
    )
    by_symbol = {g["symbol"]: g for g in found}
    for symbol, *_ in groups:
        settled(trader, by_symbol[symbol]["id"], "active")
    for symbol, _, price in groups:
        sim.price(symbol, price)
    loser_id = by_symbol["BTCUSDT"]["id"]

    def priced():
        panel = trader.get("/api/risk")
        rows = {r["group_id"]: r for r in panel["groups"]}
        ok = len(rows) == len(groups) and D(rows[loser_id]["loss_percent"]) < D("-6.9")
        return panel if ok and all(D(r["loss_usd"]) != 0 for r in rows.values()) else None

    wait_for(priced, 30, what="unrealised PnL of every group")
    return by_symbol


def _expire_timers(app, trader) -> None:
    """The first scheduled evaluation (finished: `last_run_at` is stamped at its end) started
    the timers (60 min); start them 2 h ago."""
    wait_for(lambda: trader.get("/api/risk")["last_run_at"], 20, what="a scheduled evaluation")
    with app.app_context():
        PositionGroup.update(risk_timer_started_at=utcnow() - timedelta(hours=2)).where(
            PositionGroup.user == trader.user_id
        ).execute()


def _post(trader, path: str, headers=None) -> httpx.Response:
    return httpx.post(f"{trader.base}{path}", headers=headers or trader.headers, timeout=60)


def _risk_orders(sim, trader) -> list[dict]:
    return [r for r in sim_orders(sim, trader.key) if _purpose(r["client_order_id"]) == "risk"]


def test_loser_closed_against_the_top_three_winners(app, stack, sim, make_user):
    """The projected plan (module docstring); block, then skip-once, hold it back; the third
    run acts: three partial closes then the loser, net ≈ 0."""
    trader = make_trader(app, stack, make_user, settings=SETTINGS)
    groups = _open_groups(trader, sim)
    ids = {symbol: g["id"] for symbol, g in groups.items()}
    _expire_timers(app, trader)

    panel = trader.get("/api/risk")
    plan = panel["plan"]
    assert plan["loser"] == ids["BTCUSDT"] and plan["will_act"]
    assert D(plan["required_usd"]) == D("13.972014")
    assert [
        (w["group_id"], D(w["close_quantity"]), D(w["close_usd"])) for w in plan["winners"]
    ] == [
        (ids["ETHUSDT"], D("0.0999"), D("5.994")),
        (ids["SOLUSDT"], D("1.998"), D("4.995")),
        (ids["BNBUSDT"], D("0.299"), D("2.983014")),
    ]

    # viewers and strangers cannot act
    _, viewer = make_user("viewer")
    assert _post(trader, "/api/risk/run", viewer).status_code == 403
    _, stranger = make_user("trader")
    assert _post(trader, f"/api/risk/{ids['BTCUSDT']}/block", stranger).status_code == 404

    # blocked: never the loser — the evaluation records which rule held it back
    assert _post(trader, f"/api/risk/{ids['BTCUSDT']}/block").json()["blocked"] is True
    blocked = _post(trader, "/api/risk/run").json()
    assert (blocked["outcome"], blocked["reason"]) == ("blocked", "blocked")
    assert blocked["action"]["loser"] == ids["BTCUSDT"]
    # scheduled evaluations of the same blocked state record nothing new
    with app.app_context():
        for _ in range(2):
            assert risk_service.run(trader.user_id, "scheduled")["action"] is None
    assert len(trader.get("/api/risk/actions")["items"]) == 1
    _post(trader, f"/api/risk/{ids['BTCUSDT']}/unblock")

    # skip once: the next evaluation passes it (consumed), nothing is closed
    assert _post(trader, f"/api/risk/{ids['BTCUSDT']}/skip").json()["skip_once"] is True
    skipped = _post(trader, "/api/risk/run").json()
    assert (skipped["outcome"], skipped["reason"]) == ("skipped", "skip_once")
    assert _risk_orders(sim, trader) == []

    done = _post(trader, "/api/risk/run").json()
    assert done["outcome"] == "executed", done
    winners = done["action"]["plan"]["winners"]
    assert [(w["group_id"], D(w["filled_quantity"])) for w in winners] == [
        (ids["ETHUSDT"], D("0.0999")),
        (ids["SOLUSDT"], D("1.998")),
        (ids["BNBUSDT"], D("0.299")),
    ]
    assert [D(w["realised_usd"]) for w in winners] == [
        D("5.588206"),
        D("4.590205"),
        D("2.68801"),
    ]
    doc = done["action"]["plan"]
    assert D(doc["loser_realised_usd"]) == D("-14.329056")
    assert D(doc["winners_realised_usd"]) >= D("13.972014") - D("1.2")  # less their fees
    assert D(doc["net_realised_usd"]) == D("-1.462635")

    at_sim = _risk_orders(sim, trader)
    assert [(r["side"], r["type"], D(r["qty"]), r["status"]) for r in at_sim] == [
        ("SELL", "MARKET", D("0.0999"), "FILLED"),
        ("SELL", "MARKET", D("1.998"), "FILLED"),
        ("SELL", "MARKET", D("0.299"), "FILLED"),
    ]
    loser = trader.position(ids["BTCUSDT"])
    assert loser["status"] == "closed" and D(loser["realized_pnl_usd"]) == D("-14.329056")
    bnb = trader.position(ids["BNBUSDT"])
    assert bnb["status"] == "active" and D(bnb["realized_pnl_usd"]) == D("2.68801")
    # what BNB keeps: 0.4 − 0.299 = 0.101 bought (0.1006 held), cost 200 × 0.101 / 0.4 = 50.5;
    # at 510: 510 × 0.1006 − 50.5 × 0.1006 / 0.101 = 51.306 − 50.3 = 1.006 → 1.006 / 50.5 =
    # 1.99207920 % (the price monitor and the recompute agree)
    time.sleep(1.5)  # a few monitor passes
    bnb = trader.position(ids["BNBUSDT"])
    assert D(bnb["total_filled_quantity"]) == D("0.101")
    assert (D(bnb["unrealized_pnl_usd"]), D(bnb["unrealized_pnl_percent"])) == (
        D("1.006"),
        D("1.9920792"),
    )
    for symbol in ("ETHUSDT", "SOLUSDT"):  # all they held went to the offset
        assert trader.position(ids[symbol])["status"] == "closed"
    assert trader.position(ids["LTCUSDT"])["realized_pnl_usd"] in ("0", "0.0")

    history = trader.get("/api/risk/actions")["items"]
    assert [a["outcome"] for a in history] == ["executed", "skipped", "blocked"]
    assert history[0]["trigger"] == "manual" and history[0]["triggered_by"] == trader.user_id

    # BNB's leg reaches its take-profit (500 × 1.5 = 750) after the offset: the leg alone
    # would sell its 0.3996 held (0.399 at the step 0.001), but the group holds only 0.1006
    # now — the close is capped at that, rounded down: 0.100 (SPEC §4.3, never more than held).
    sim.price("BNBUSDT", "750")
    tp = wait_for(
        lambda: [
            r
            for r in sim_orders(sim, trader.key)
            if r["symbol"] == "BNBUSDT"
            and _purpose(r["client_order_id"]) == "tp"
            and r["type"] == "MARKET"
        ],
        20,
        what="BNB's take-profit close",
    )
    assert [(r["side"], D(r["qty"]), r["status"]) for r in tp] == [("SELL", D("0.1"), "FILLED")]


def test_a_refused_winner_close_stops_the_action(app, stack, sim, make_user):
    """The exchange refuses the first winner's offset (insufficient funds, injected): the
    action ends `winner_close_failed` with the exchange's words, the loser stays open and no
    other offset is sent."""
    trader = make_trader(app, stack, make_user, settings=SETTINGS)
    groups = _open_groups(trader, sim, GROUPS[:4])
    _expire_timers(app, trader)
    sim.fault("insufficient_funds", path="/api/v3/order", method="POST", count=1)
    result = _post(trader, "/api/risk/run").json()
    assert result["outcome"] == "winner_close_failed", result
    assert "ETHUSDT" in result["reason"] and "insufficient" in result["reason"].lower()
    assert trader.position(groups["BTCUSDT"]["id"])["status"] == "active"
    # the next winners' orders were never created: nothing pending is left to re-send
    assert [w.get("status") for w in result["action"]["plan"]["winners"]] == [
        "failed",
        None,
        None,
    ]
    assert all(r["status"] == "REJECTED" for r in _risk_orders(sim, trader))


def test_a_resumed_action_never_closes_a_winner_twice(app, stack, sim, make_user):
    """A run that stopped right after the first winner's offset filled — the action still
    `executing`, its plan not yet told — is resumed by the next run: the offset is found under
    its client id and not sent again; the other two winners and the loser follow, with the
    same numbers as above."""
    from server.persistence.models import RiskAction, User

    trader = make_trader(app, stack, make_user, settings=SETTINGS)
    groups = _open_groups(trader, sim)
    _expire_timers(app, trader)
    with app.app_context():
        user = User.get_by_id(trader.user_id)
        plan = risk_service._evaluate(user, utcnow())[2]
        action = risk_service._start(user, plan, "manual", user.id)
        doc = dict(action.plan)
        risk_service._close_winner(action, doc, doc["winners"][0])  # then the run "dies"
        stored = RiskAction.get_by_id(action.id)
        assert stored.outcome == "executing" and "realised_usd" not in stored.plan["winners"][0]
        risk_service.run(trader.user_id, "scheduled")
        done = RiskAction.get_by_id(action.id)
    assert done.outcome == "executed", done.plan
    assert [D(w["realised_usd"]) for w in done.plan["winners"]] == [
        D("5.588206"),
        D("4.590205"),
        D("2.68801"),
    ]
    assert D(done.plan["loser_realised_usd"]) == D("-14.329056")
    sent = _risk_orders(sim, trader)
    assert len(sent) == 3 and len({r["client_order_id"] for r in sent}) == 3
    assert trader.position(groups["BTCUSDT"]["id"])["status"] == "closed"
