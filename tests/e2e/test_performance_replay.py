"""Issue #10's end-to-end check: six trades played through the real stack (web, workers,
scheduler, price monitor, PostgreSQL, Redis, the simulator over ccxt) on real Binance 5-minute
candles replayed by the simulator (`POST /__sim/replay`, `server/simulator/data/ohlcv/`, copied
from the shared data set), driven by scripted TradingView webhooks — entries, pyramids, exits.
Afterwards `GET /api/performance` and the Performance page in headless Chromium must show
exactly what this test computes, with `Decimal`, from the raw fills in the database.

Settings: the defaults (200 USD a pyramid, five 40 USD legs at 0, −0.5, −1, −2, −4 % of the
pyramid's anchor) with `tp_mode` aggregate at 1 %: no take-profit order rests on the exchange;
the price monitor closes the whole group at market once the price reaches the weighted average
entry + 1 %. Each trade starts at its first candle's open (the market leg fills there), the
candles are replayed (open, low, high, close for a rising candle; open, high, low, close for a
falling one), resting legs fill where the replay crosses them.

The script (windows chosen by scanning the files: a loss window never comes within 0.4 % of its
take-profit target, a take-profit window first reaches it in its last candle and closes above):

1. BTCUSDT 60, 05-12 11:20 → 13:45 (30 candles): opens at 56,264.6, the low 55,700 fills legs
   1–2, then it rallies to 56,796.98 — aggregate take-profit, a win.
2. BTCUSDT 60, 05-03 23:45 → 05-04 01:20 (20): opens at 57,278.11, a pyramid at the 00:35 open
   56,461.63, the low 54,580; exit signal at 55,615.31 — a loss.
3. BTCUSDT 60, 05-01 08:15 → 09:30 (16): opens at 57,823.18, dips to 57,116.16 (legs 1–2), back
   to 57,831.16, above the average but short of +1 %; exit signal — a win.
4. ETHUSDT 15, 05-08 15:10 → 16:05 (12): opens at 3,674.69, dips to 3,605.18, up to 3,717.98 —
   take-profit, a win.
5. ETHUSDT 15, 05-02 06:20 → 08:45 (30): opens at 2,921.37, the low 2,852.26; exit signal at
   2,877.12 — a loss.
6. ETHUSDT 15, 05-21 20:30 → 21:25 (12): opens at 2,343.27, a pyramid at the 21:00 open
   2,247.91, the low 2,101 fills all ten legs, bounces to 2,300 — take-profit, a win.

Expected figures (hand rules, SPEC §7 and docs/decisions.md "Performance analytics"): a
group's realised PnL from its fills is `proceeds − cost × sold / bought − entry fees − exit
fees` (cost = Σ price × amount of the entry fills, bought = Σ amount, a fee in the base asset
is worth the fee × that fill's price; the dust below the step size that stays unsold keeps its
cost out of the PnL); win rate `wins / trades × 100` to 8 decimals toward zero; averages and
profit factor `Σ wins / |Σ losses|` to 8 decimals half-even. The exact fill prices depend on
when the monitor sees the price, so the numbers are computed from the database after the run —
never by the code under test — and then compared with the API and with the page.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import (
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    localcontext,
)
from pathlib import Path

from playwright.sync_api import expect

from tests.lifecycle_support import make_trader, settled, sim_orders, wait_for

OHLCV = Path(__file__).resolve().parents[2] / "server" / "simulator" / "data" / "ohlcv"
FILES = {
    "BTCUSDT": "binance_BTC_USDT_5m_2021-05_2021-06.csv",
    "ETHUSDT": "binance_ETH_USDT_5m_2021-05_2021-06.csv",
}
SPEED = 10  # candles per second (four price updates each)
PASSWORD = "Passw0rd-ok"  # tests/conftest.py make_user's default
MINUS = "\u2212"
EXIT = {"type": "exit", "side": "long", "strategy": "grid"}
CAPITAL = Decimal("10000")  # the default capital.total_capital_usd
SETTINGS = {"take_profit": {"tp_mode": "aggregate", "tp_aggregate_percent": "1"}}


@dataclass(frozen=True)
class Trade:
    symbol: str
    timeframe: str
    start: int  # first candle: its row in the CSV (0 = the first data row)
    count: int  # candles replayed
    pyramid_at: int | None  # the candle whose open a second entry signal comes at
    close_by: str  # "take-profit" (the monitor) or "exit" (a signal after the last candle)


SCRIPT = [
    Trade("BTCUSDT", "60", 3304, 30, None, "take-profit"),
    Trade("BTCUSDT", "60", 861, 20, 871, "exit"),
    Trade("BTCUSDT", "60", 99, 16, None, "exit"),
    Trade("ETHUSDT", "15", 2198, 12, None, "take-profit"),
    Trade("ETHUSDT", "15", 364, 30, None, "exit"),
    Trade("ETHUSDT", "15", 6006, 12, 6012, "take-profit"),
]


def _opens(symbol: str) -> list[Decimal]:
    """Every candle's open of the symbol's file, read straight from the CSV."""
    with open(OHLCV / FILES[symbol], newline="", encoding="utf-8") as fh:
        return [Decimal(row["open"]) for row in csv.DictReader(fh)]


# ---- playing the script ----------------------------------------------------------------------


def _replay(sim, symbol: str, start: int, count: int) -> None:
    """Replay `count` candles from row `start` and wait until the last price is set."""
    sim.post(
        "/__sim/replay",
        {
            "symbol": symbol,
            "file": FILES[symbol],
            "speed": SPEED,
            "exchange": "binance",
            "market": "spot",
            "start": start,
            "count": count,
        },
    )

    def done():
        status = sim.http.get("/__sim/replay").json()["replays"]
        mine = [r for r in status if r["symbol"] == symbol]
        return mine and not mine[0]["running"] and mine[0]["candles_done"] == count

    wait_for(done, timeout=count / SPEED + 15, interval=0.1, what=f"{symbol} replay")


def _entry(trader, trade: Trade, price: Decimal) -> None:
    trader.signal(
        symbol=trade.symbol, timeframe=trade.timeframe, entry_price=str(price), order_id="Long"
    )


def _open_group(trader, symbol: str) -> dict:
    def probe():
        found = [g for g in trader.groups("open") if g["symbol"] == symbol]
        return found[0] if len(found) == 1 else None

    return wait_for(probe, what=f"an open {symbol} group")


def _engine_knows_every_fill(trader, sim, group_id: str, seen_before: int) -> None:
    """Wait until the engine counts as many filled legs as the simulator filled since the
    group's first order (the fill monitor runs every 2 s)."""

    def probe():
        rows = sim_orders(sim)[seen_before:]
        filled = sum(1 for r in rows if r["status"] == "FILLED" and r["side"] == "BUY")
        return trader.position(group_id)["filled_dca_legs"] == filled

    wait_for(probe, timeout=30, what="the engine to see every fill")


def _play(trader, sim, trade: Trade) -> str:
    """One scripted trade; returns the closed group's id."""
    opens = _opens(trade.symbol)
    seen_before = len(sim_orders(sim))
    sim.price(trade.symbol, opens[trade.start])
    _entry(trader, trade, opens[trade.start])
    group_id = _open_group(trader, trade.symbol)["id"]
    settled(trader, group_id, "partially_filled", filled_dca_legs=1)
    first = (trade.pyramid_at or trade.start + trade.count) - trade.start
    _replay(sim, trade.symbol, trade.start, first)
    if trade.pyramid_at is not None:
        sim.price(trade.symbol, opens[trade.pyramid_at])
        _entry(trader, trade, opens[trade.pyramid_at])
        wait_for(lambda: trader.position(group_id)["pyramid_count"] == 2, what="the pyramid")
        _replay(sim, trade.symbol, trade.pyramid_at, trade.count - first)
    if trade.close_by == "exit":
        _engine_knows_every_fill(trader, sim, group_id, seen_before)
        trader.signal(
            EXIT,
            symbol=trade.symbol,
            timeframe=trade.timeframe,
            action="sell",
            market_position="flat",
            prev_market_position="long",
        )
    detail = settled(trader, group_id, "closed", timeout=40)
    closed = next(e for e in detail["events"] if e["kind"] == "group_closed")
    words = "aggregate take-profit" if trade.close_by == "take-profit" else "exit signal"
    assert f"closed by {words}" in closed["detail"]["message"], closed
    return group_id


# ---- the expected figures, from the raw fills ------------------------------------------------


def _fee_in_quote(fill, quote: str) -> Decimal:
    """A fill's fee in USDT: as is when charged in USDT, else (the base asset) × its price."""
    if (fill.fee_currency or quote).upper() == quote:
        return fill.fee_cost
    return fill.fee_cost * fill.price


def _pnl_from_fills(group) -> Decimal:
    """`proceeds − cost × sold / bought − entry fees − exit fees` (module docstring); the
    cost share keeps 18 decimals half-even when it is not exact (docs/decisions.md)."""
    from server.persistence.models import DcaOrder, Fill

    quote = "USDT"
    buys, sells = [], []
    for fill in Fill.select(Fill, DcaOrder).join(DcaOrder).where(DcaOrder.group == group.id):
        (buys if fill.order.side == "buy" else sells).append(fill)
        assert fill.order.purpose in ("entry", "close"), fill.order.purpose  # aggregate TP
    bought = sum((f.amount for f in buys), Decimal(0))
    cost = sum((f.price * f.amount for f in buys), Decimal(0))
    sold = sum((f.amount for f in sells), Decimal(0))
    proceeds = sum((f.price * f.amount for f in sells), Decimal(0))
    fees = sum((_fee_in_quote(f, quote) for f in buys + sells), Decimal(0))
    assert 0 < sold <= bought
    with localcontext(Context(prec=100)):
        share = (cost * sold / bought).quantize(Decimal("1e-18"), ROUND_HALF_EVEN)
        return proceeds - share - fees


def _expected(app, trader, group_ids: list[str]) -> dict:
    from server.persistence.models import PositionGroup

    with app.app_context():
        groups = list(
            PositionGroup.select().where(
                (PositionGroup.user == trader.user_id) & (PositionGroup.status == "closed")
            )
        )
        assert sorted(str(g.id) for g in groups) == sorted(group_ids)
        trades = [
            (g.symbol, g.timeframe, _pnl_from_fills(g), g.realized_pnl_usd, g.closed_at.date())
            for g in groups
        ]
    for symbol, _, mine, stored, _ in trades:
        assert mine == stored, (symbol, mine, stored)  # the engine booked what was filled
    figures = _figures([(symbol, tf, pnl) for symbol, tf, pnl, _, _ in trades])
    days: dict = {}
    for _, _, pnl, _, day in trades:  # the UTC day of each close (a run may cross midnight)
        days.setdefault(day, []).append(pnl)
    figures["days"] = {
        day: (len(p), sum(1 for x in p if x > 0), sum(1 for x in p if x < 0), sum(p, Decimal(0)))
        for day, p in sorted(days.items())
    }
    return figures


def _ratio(a: Decimal, b: Decimal) -> str:
    return _plain((a / b).quantize(Decimal("1e-8"), ROUND_HALF_EVEN))


def _win_rate(wins: int, count: int) -> str:
    return _plain((Decimal(wins * 100) / count).quantize(Decimal("1e-8"), ROUND_DOWN))


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _figures(trades: list[tuple[str, int, Decimal]]) -> dict:
    pnls = [pnl for _, _, pnl in trades]
    wins, losses = [p for p in pnls if p > 0], [p for p in pnls if p < 0]
    by_symbol = {}
    for symbol in sorted({s for s, _, _ in trades}):
        mine = [p for s, _, p in trades if s == symbol]
        won = sum(1 for p in mine if p > 0)
        by_symbol[symbol] = {
            "trades": len(mine),
            "wins": won,
            "losses": sum(1 for p in mine if p < 0),
            "win_rate": _win_rate(won, len(mine)),
            "realized": sum(mine, Decimal(0)),
        }
    return {
        "pnls": sorted(pnls),
        "count": len(pnls),
        "wins": len(wins),
        "losses": len(losses),
        "realized": sum(pnls, Decimal(0)),
        "gross_profit": sum(wins, Decimal(0)),
        "gross_loss": sum(losses, Decimal(0)),
        "win_rate": _win_rate(len(wins), len(pnls)),
        "avg_win": _ratio(sum(wins, Decimal(0)), Decimal(len(wins))),
        "avg_loss": _ratio(sum(losses, Decimal(0)), Decimal(len(losses))),
        "profit_factor": _ratio(sum(wins, Decimal(0)), -sum(losses, Decimal(0))),
        "expectancy": _ratio(sum(pnls, Decimal(0)), Decimal(len(pnls))),
        "by_symbol": by_symbol,
    }


def _nice_width(raw: Decimal) -> Decimal:
    """The smallest 1, 2 or 5 × 10^k not below `raw` (decisions: the histogram's buckets)."""
    exponent = raw.adjusted()
    return next(
        Decimal(step).scaleb(exponent)
        for step in (1, 2, 5, 10)
        if Decimal(step).scaleb(exponent) >= raw
    )


def _buckets(pnls: list[Decimal], target: int = 20) -> list[tuple[Decimal, Decimal, int]]:
    """About 20 buckets of one nice width, edges multiples of it (so 0 is an edge)."""
    low, high = pnls[0], pnls[-1]
    width = _nice_width((high - low) / target)
    start = (low / width).to_integral_value(rounding=ROUND_FLOOR) * width
    n = int((high - start) // width) + 1
    edges = [start + i * width for i in range(n + 1)]
    return [
        (edges[i], edges[i + 1], sum(1 for p in pnls if edges[i] <= p < edges[i + 1]))
        for i in range(n)
    ]


# ---- how the page writes them (webapp/src/utils/format.ts: half away from zero) ---------------


def _usd(value: Decimal | str) -> str:
    """formatPnlUsd: "+1,234.50", "−12.30"."""
    shown = Decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP)
    sign = "+" if shown > 0 else MINUS if shown < 0 else ""
    return f"{sign}{abs(shown):,.2f}"


def _one_place(value: str) -> str:
    return f"{Decimal(value).quantize(Decimal('0.1'), ROUND_HALF_UP)}"


def _cells(table) -> list[list[str]]:
    rows = table.locator("tbody tr")
    return [
        [c.strip() for c in rows.nth(i).locator("td").all_inner_texts()]
        for i in range(rows.count())
    ]


# ---- the test --------------------------------------------------------------------------------


def test_replayed_trades_match_the_api_and_the_page(app, stack, sim, make_user, page, shots_dir):
    """Play the script, compute the figures from the fills, compare the API and the page."""
    trader = make_trader(app, stack, make_user, settings=SETTINGS)
    closed = [_play(trader, sim, trade) for trade in SCRIPT]
    with app.app_context():  # the 5-minute snapshot job's own work, run now
        from server.services.equity import snapshot_all

        assert snapshot_all() == 1
    want = _expected(app, trader, closed)
    assert (want["count"], want["wins"], want["losses"]) == (6, 4, 2)  # the script's outcomes

    got = trader.get("/api/performance")
    assert got["trades"] == {
        "count": 6,
        "wins": 4,
        "losses": 2,
        "breakeven": 0,
        "realized": _plain(want["realized"]),
        "gross_profit": _plain(want["gross_profit"]),
        "gross_loss": _plain(want["gross_loss"]),
    }
    today = date.fromisoformat(got["generated_at"][:10])
    starts = {  # UTC calendar periods containing today (SPEC/decisions: Monday-based weeks)
        "day": today,
        "week": today - timedelta(days=today.weekday()),
        "month": today.replace(day=1),
        "all": date.min,
    }
    periods = {
        name: sum((t[3] for d, t in want["days"].items() if d >= start), Decimal(0))
        for name, start in starts.items()
    }
    assert periods["all"] == want["realized"]
    for name, expected in periods.items():
        assert Decimal(got["realized"][name]) == expected, name
    for name in ("win_rate", "avg_win", "avg_loss", "profit_factor", "expectancy"):
        assert Decimal(got[name]) == Decimal(want[name]), name
    assert [
        (row["symbol"], row["trades"], row["wins"], row["losses"], Decimal(row["win_rate"]))
        for row in got["by_symbol"]
    ] == [
        (s, f["trades"], f["wins"], f["losses"], Decimal(f["win_rate"]))
        for s, f in sorted(want["by_symbol"].items(), key=lambda kv: (-kv[1]["realized"], kv[0]))
    ]
    for row in got["by_symbol"]:
        assert Decimal(row["realized"]) == want["by_symbol"][row["symbol"]]["realized"]
    timeframes = {row["timeframe"]: row for row in got["by_timeframe"]}
    assert timeframes[60]["trades"] == timeframes[15]["trades"] == 3
    for timeframe, symbol in ((60, "BTCUSDT"), (15, "ETHUSDT")):  # one pair per timeframe
        mine = want["by_symbol"][symbol]
        assert Decimal(timeframes[timeframe]["realized"]) == mine["realized"]
    daily_rows = {date.fromisoformat(row["date"]): row for row in got["daily"]}
    for day, (count, won, lost, realized) in want["days"].items():
        row = daily_rows[day]
        assert (row["trades"], row["wins"], row["losses"]) == (count, won, lost), day
        assert Decimal(row["realized"]) == realized, day
    assert set(daily_rows) <= set(want["days"]) | {today}  # the snapshot's day, if no close
    # equity = total capital 10,000 + Σ realised (nothing open, nothing unrealised)
    assert Decimal(daily_rows[today]["equity"]) == CAPITAL + want["realized"]
    assert [Decimal(p["equity"]) for p in got["equity_curve"]] == [CAPITAL + want["realized"]]
    buckets = [(Decimal(b["bucket"]), Decimal(b["to"]), b["count"]) for b in got["distribution"]]
    assert buckets == _buckets(want["pnls"])
    assert sum(b[2] for b in buckets) == 6

    # ---- the page -----------------------------------------------------------------------
    with app.app_context():
        from server.persistence.models import User

        username = User.get_by_id(trader.user_id).username
    page.goto("/login")
    page.get_by_test_id("login-login").fill(username)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("logout-button")).to_be_visible(timeout=15000)
    page.get_by_test_id("nav-performance").click()
    expect(page.get_by_test_id("performance-page")).to_have_attribute(
        "data-state", "loaded", timeout=15000
    )

    def kpi(key: str):
        return page.get_by_test_id(f"perf-kpi-{key}").locator(".value")

    for name, expected in periods.items():
        expect(kpi(f"realized-{name}")).to_have_text(_usd(expected))
    expect(kpi("win-rate")).to_have_text(f"{_one_place(want['win_rate'])}%")
    expect(page.get_by_test_id("perf-kpi-win-rate")).to_contain_text("4 of 6 trades")
    pf = Decimal(want["profit_factor"]).quantize(Decimal("0.01"), ROUND_HALF_UP)
    expect(kpi("profit-factor")).to_have_text(f"{pf}")
    expect(kpi("avg-win")).to_have_text(_usd(want["avg_win"]))
    expect(kpi("avg-loss")).to_have_text(_usd(want["avg_loss"]))
    expect(kpi("expectancy")).to_have_text(_usd(want["expectancy"]))

    by_symbol = page.get_by_test_id("perf-by-symbol")
    expect(by_symbol.locator("tbody tr")).to_have_count(2)
    assert sorted(_cells(by_symbol)) == sorted(
        [
            s,
            str(f["trades"]),
            str(f["wins"]),
            str(f["losses"]),
            f"{_one_place(f['win_rate'])}%",
            _usd(f["realized"]),
        ]
        for s, f in want["by_symbol"].items()
    )
    shown = _cells(page.get_by_test_id("perf-daily"))
    assert [row[:5] for row in shown] == [  # newest first
        [
            row["date"],
            str(row["trades"]),
            str(row["wins"]),
            str(row["losses"]),
            _usd(want["days"].get(date.fromisoformat(row["date"]), (0, 0, 0, Decimal(0)))[3]),
        ]
        for row in reversed(got["daily"])
    ]
    equity = (CAPITAL + want["realized"]).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert shown[0][5] == f"{equity:,.2f}"  # today's close
    expect(page.get_by_test_id("perf-equity-chart")).to_be_visible()
    expect(page.get_by_text("1 point · UTC")).to_be_visible()
    histogram = page.get_by_test_id("perf-histogram")
    expect(histogram).to_have_attribute("data-buckets", str(len(buckets)))
    page.set_viewport_size({"width": 1400, "height": 1700})  # the console scrolls inside
    page.wait_for_timeout(800)  # the charts' entry animation
    page.screenshot(path=str(shots_dir / "performance-replay.png"))
