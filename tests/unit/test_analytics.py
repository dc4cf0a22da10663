"""Performance analytics (issue 10) on series worked out by hand in each docstring."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.analytics import (
    ClosedTrade,
    OpenExposure,
    TradeStats,
    allocation,
    average_loss,
    average_win,
    daily_returns,
    expectancy,
    histogram,
    nice_width,
    period_starts,
    profit_factor,
    sharpe_ratio,
    sortino_ratio,
    win_rate,
)
from server.domain.analytics_codec import (
    decode_equity,
    decode_trades,
    encode_equity,
    encode_trades,
)
from server.domain.analytics_equity import (
    EquityPoint,
    EquitySegment,
    downsample,
    downsample_points,
    merged,
)
from server.domain.analytics_ledger import Ledger, day_start
from server.domain.analytics_report import build_report, realized_periods


def _p(text: str, equity: str) -> EquityPoint:
    return EquityPoint(datetime.fromisoformat(text), D(equity))


def _trade(when: str, pnl: str, symbol: str = "BTCUSDT", timeframe: int = 60) -> ClosedTrade:
    return ClosedTrade(datetime.fromisoformat(when), D(pnl), symbol, timeframe, "long")


def _fold(points) -> EquitySegment:
    segment = EquitySegment.of(points[0])
    for point in points[1:]:
        segment.add(point)
    return segment


# ---- trades ------------------------------------------------------------------------------------


SIX_TRADES = ["30", "-10", "20", "-5", "15", "-10"]


def test_six_trades_by_hand():
    """Trades +30, −10, +20, −5, +15, −10 (USD, net of fees):
    wins 3 (30 + 20 + 15 = 65), losses 3 (−10 − 5 − 10 = −25), net 40.
    win rate 3/6 = 50 %; average win 65/3 = 21.666… → 21.66666667; average loss −25/3 =
    −8.333… → −8.33333333; profit factor 65/25 = 2.6; expectancy 40/6 = 6.666… → 6.66666667
    (= 0.5 × 21.666… + 0.5 × −8.333…)."""
    stats = TradeStats.of(D(p) for p in SIX_TRADES)
    assert (stats.count, stats.wins, stats.losses, stats.breakeven) == (6, 3, 3, 0)
    assert (stats.gross_profit, stats.gross_loss, stats.net) == (D(65), D(-25), D(40))
    assert win_rate(stats) == D(50)
    assert average_win(stats) == D("21.66666667")
    assert average_loss(stats) == D("-8.33333333")
    assert profit_factor(stats) == D("2.6")
    assert expectancy(stats) == D("6.66666667")


def test_no_losses_has_no_profit_factor_and_breakeven_is_a_trade():
    """+10, 0, +5: wins 2, losses 0, break-even 1. Profit factor 15/0 = ∞ → None; win rate
    2/3 = 66.666… → 66.66666666 (toward zero); expectancy 15/3 = 5; no average loss."""
    stats = TradeStats.of([D(10), D(0), D(5)])
    assert stats.breakeven == 1
    assert profit_factor(stats) is None
    assert win_rate(stats) == D("66.66666666")
    assert expectancy(stats) == D(5)
    assert average_loss(stats) is None


def test_only_losses_and_no_trades():
    """−4, −6: profit factor 0/10 = 0, win rate 0; no trades at all: every figure None."""
    losing = TradeStats.of([D(-4), D(-6)])
    assert profit_factor(losing) == D(0)
    assert win_rate(losing) == D(0)
    assert average_win(losing) is None
    empty = TradeStats()
    assert [f(empty) for f in (win_rate, average_win, average_loss, profit_factor, expectancy)] == [
        None
    ] * 5


def test_trade_sums_stay_exact():
    """Sums of 18-decimal PnLs keep every digit (no 28-digit context rounding)."""
    tiny = D("123456789012.123456789012345678")
    stats = TradeStats.of([tiny, tiny, D("-0.000000000000000001")])
    assert stats.net == D("246913578024.246913578024691355")


# ---- Sharpe and Sortino ----------------------------------------------------------------------


def test_sharpe_and_sortino_by_hand():
    """Six UTC days, the last snapshot of each is the close (earlier ones are ignored):

        day      closes          return
        Mar 1    1000
        Mar 2    1010            +0.01
        Mar 3    999.9           −0.01
        Mar 4    1019.898        +0.02
        Mar 5    1009.69902      −0.01
        Mar 6    1019.7960102    +0.01

    mean = 0.02 / 5 = 0.004. Deviations 0.006, −0.014, 0.016, −0.014, 0.006; squares
    0.000036 + 0.000196 + 0.000256 + 0.000196 + 0.000036 = 0.00072; sample variance
    0.00072 / 4 = 0.00018; s = √0.00018 = 0.006·√5 = 0.0134164…
    Sharpe = 0.004 / (0.006·√5) × √365 = (2/3)·√73 = 5.69600249… → 5.6960.
    Downside: (−0.01)² + (−0.01)² = 0.0002; / 4 = 0.00005; DD = √0.00005 = 0.00707106…
    Sortino = 0.004 / 0.00707106… × √365 = 0.4·√730 = 10.80740486… → 10.8074."""
    ledger = Ledger()
    ledger.replace_equity(
        None,
        [
            _p("2026-03-01T08:00:00", "990"),
            _p("2026-03-01T23:55:00", "1000"),
            _p("2026-03-02T23:55:00", "1010"),
            _p("2026-03-03T12:00:00", "1500"),
            _p("2026-03-03T23:55:00", "999.9"),
            _p("2026-03-04T23:55:00", "1019.898"),
            _p("2026-03-05T23:55:00", "1009.69902"),
            _p("2026-03-06T00:00:00", "1019.7960102"),
        ],
    )
    report = build_report(ledger, first_day=None, last_day=None, today=date(2026, 3, 6))
    assert report.daily_returns == 5
    assert report.sharpe == D("5.6960")
    assert report.sortino == D("10.8074")
    closes = [D("1000"), D("1010"), D("999.9"), D("1019.898"), D("1009.69902")]
    assert daily_returns(closes) == [D("0.01"), D("-0.01"), D("0.02"), D("-0.01")]


def test_ratios_need_two_returns_and_some_variation():
    """One return: no Sharpe. Equal returns (s = 0): no Sharpe. No losing day: no Sortino."""
    assert sharpe_ratio([D("0.01")]) is None
    assert sharpe_ratio([D("0.01"), D("0.01")]) is None
    assert sortino_ratio([D("0.01"), D("0.02")]) is None
    assert sortino_ratio([D("0.01"), D("-0.01")]) == D(0)


def test_range_returns_start_from_the_previous_close():
    """Closes Mar 1 100, Mar 2 110, Mar 3 99: the range Mar 2..3 has two returns, +10 %
    (from Mar 1's close) and −10 %: mean 0, so Sharpe 0.0000."""
    ledger = Ledger()
    ledger.replace_equity(
        None,
        [
            _p("2026-03-01T12:00", "100"),
            _p("2026-03-02T12:00", "110"),
            _p("2026-03-03T12:00", "99"),
        ],
    )
    report = build_report(
        ledger, first_day=date(2026, 3, 2), last_day=date(2026, 3, 3), today=date(2026, 3, 3)
    )
    assert report.daily_returns == 2
    assert report.sharpe == D("0.0000")


# ---- drawdown and the curve --------------------------------------------------------------------


DRAWDOWN_SERIES = [
    ("2026-03-02T09:00", "100"),
    ("2026-03-02T12:00", "120"),
    ("2026-03-03T10:00", "90"),
    ("2026-03-03T14:00", "110"),
    ("2026-03-04T08:00", "84"),
    ("2026-03-04T16:00", "130"),
    ("2026-03-05T09:00", "117"),
]


def test_max_drawdown_by_hand():
    """100 → 120 (peak, Mar 2 12:00) → 90 → 110 → 84 (trough, Mar 4 08:00) → 130 → 117.
    From 120 to 84: 36 / 120 = 30 %; from 120 to 90 is only 25 %, from 130 to 117 10 %.
    The same from four day segments merged as from one fold of every point."""
    points = [_p(t, v) for t, v in DRAWDOWN_SERIES]
    dd = _fold(points).drawdown
    assert dd.percent == D(30)
    assert dd.peak == _p("2026-03-02T12:00", "120")
    assert dd.trough == _p("2026-03-04T08:00", "84")
    ledger = Ledger()
    ledger.replace_equity(None, points)
    report = build_report(ledger, first_day=None, last_day=None, today=date(2026, 3, 5))
    assert len(ledger.equity) == 4
    assert report.max_drawdown == dd
    later = build_report(ledger, first_day=date(2026, 3, 4), last_day=None, today=date(2026, 3, 5))
    assert later.max_drawdown.percent == D(10)  # 130 → 117 within Mar 4..5


def test_drawdown_peak_is_the_later_of_equal_highs():
    """100, 120 (t1), 110, 120 (t3), 90: the decline to 90 starts at the second 120 — 25 %."""
    values = ["100", "120", "110", "120", "90"]
    points = [_p(f"2026-03-02T0{i}:00", v) for i, v in enumerate(values)]
    dd = _fold(points).drawdown
    assert dd.peak.t == datetime(2026, 3, 2, 3)
    assert dd.percent == D(25)


def test_drawdown_percent_is_cut_not_rounded():
    """From 3 to 1: 2/3 = 66.666…% → 66.66666666 (8 decimals toward zero)."""
    dd = _fold([_p("2026-03-02T00:00", "3"), _p("2026-03-02T01:00", "1")]).drawdown
    assert dd.percent == D("66.66666666")


_values = st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(values=_values, cuts=st.lists(st.integers(min_value=1, max_value=39), max_size=5))
def test_merging_segments_equals_folding_every_point(values, cuts):
    """Any split of a series into consecutive segments merges back to the fold of all points:
    same first, last, low, high, count and drawdown (peak and trough included, ties too)."""
    start = datetime(2026, 1, 1)
    points = [EquityPoint(start + timedelta(minutes=5 * i), D(v)) for i, v in enumerate(values)]
    edges = sorted({c for c in cuts if c < len(points)})
    chunks = [points[a:b] for a, b in zip([0, *edges], [*edges, len(points)], strict=True)]
    assert merged(_fold(chunk) for chunk in chunks) == _fold(points)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=300))
def test_downsampling_keeps_extremes_and_the_bound(values):
    """At most max_points points, in time order, including the first, last, lowest and highest
    snapshot and the drawdown's peak and trough."""
    start = datetime(2026, 1, 1)
    points = [EquityPoint(start + timedelta(minutes=5 * i), D(v)) for i, v in enumerate(values)]
    shown = downsample_points(points, max_points=40)
    assert len(shown) <= 40
    assert [p.t for p in shown] == sorted({p.t for p in shown})
    whole = _fold(points)
    for point in (whole.first, whole.last, whole.low, whole.high):
        assert point in shown
    if whole.drawdown:
        assert whole.drawdown.peak.equity in {p.equity for p in shown}
        assert whole.drawdown.trough.equity in {p.equity for p in shown}


def test_a_year_of_day_segments_fits_the_chart():
    """365 day segments of 288 snapshots → at most 4 points a day = 1,460 ≤ 2,000."""
    days = [_fold([_p(f"2026-01-01T00:0{m}", str(100 + m)) for m in range(4)]) for _ in range(365)]
    assert len(downsample(days, 2000)) <= 1460
    assert len(downsample(days * 3, 2000)) <= 2000


# ---- distribution ------------------------------------------------------------------------------


def test_histogram_of_the_six_trades():
    """Spread 30 − (−10) = 40; 40/5 = 8 → nice width 10; edges −10, 0, 10, 20, 30, 40:
    [−10, 0) holds −10, −5, −10; [10, 20) 15; [20, 30) 20; [30, 40) 30; [0, 10) is empty."""
    buckets = histogram([D(p) for p in SIX_TRADES], target=5)
    assert [(str(b.lower), str(b.upper), b.count) for b in buckets] == [
        ("-10", "0", 3),
        ("0", "10", 0),
        ("10", "20", 1),
        ("20", "30", 1),
        ("30", "40", 1),
    ]


def test_histogram_edges():
    """0 is always an edge; a single value gets one bucket; nice widths are 1, 2, 5 × 10^k."""
    assert [nice_width(D(x)) for x in ("0.3", "1", "1.01", "3", "7", "42")] == [
        D("0.5"),
        D(1),
        D(2),
        D(5),
        D(10),
        D(50),
    ]
    single = histogram([D("12.5")])
    assert len(single) == 1 and single[0].count == 1 and single[0].lower <= D("12.5")
    zero = histogram([D(0), D(0)])
    assert [(b.lower, b.upper, b.count) for b in zero] == [(D(0), D(1), 2)]
    mixed = histogram([D("-0.5"), D("0.5")], target=20)
    assert all(not (b.lower < 0 < b.upper) for b in mixed)
    assert sum(b.count for b in mixed) == 2
    assert histogram([]) == []


# ---- periods, ledger, report -----------------------------------------------------------------


def test_realized_periods_are_utc_calendar_periods():
    """Today Wednesday 2026-11-25. Trades: Oct 31 +100, Nov 2 −20, Mon Nov 23 +7,
    Nov 25 +5 and −1. Day 4; week (from Mon Nov 23) 7 + 4 = 11; month (from Nov 1)
    −20 + 7 + 4 = −9; all 100 − 9 = 91."""
    today = date(2026, 11, 25)
    assert period_starts(today) == {
        "day": today,
        "week": date(2026, 11, 23),
        "month": date(2026, 11, 1),
        "all": None,
    }
    ledger = Ledger()
    ledger.replace_trades(
        None,
        [
            _trade("2026-10-31T23:59:59", "100"),
            _trade("2026-11-02T00:00:00", "-20"),
            _trade("2026-11-23T00:00:00", "7"),
            _trade("2026-11-25T09:00:00", "5"),
            _trade("2026-11-25T10:00:00", "-1"),
        ],
    )
    assert realized_periods(ledger, today) == {
        "day": D(4),
        "week": D(11),
        "month": D(-9),
        "all": D(91),
    }


def test_report_groups_by_symbol_timeframe_and_day():
    """Mar 1: BTC 60m +30, ETH 15m −10; Mar 2: BTC 60m +20, ETH 60m −5, SOL 15m +15,
    BTC 15m −10. By symbol (best first): BTC 3 trades +40, SOL +15, ETH −15. By timeframe:
    15m 3 trades −5, 60m 3 trades +45. Daily: Mar 1 2 trades +20, Mar 2 4 trades +20."""
    ledger = Ledger()
    ledger.replace_trades(
        None,
        [
            _trade("2026-03-01T10:00", "30", "BTCUSDT", 60),
            _trade("2026-03-01T11:00", "-10", "ETHUSDT", 15),
            _trade("2026-03-02T10:00", "20", "BTCUSDT", 60),
            _trade("2026-03-02T11:00", "-5", "ETHUSDT", 60),
            _trade("2026-03-02T12:00", "15", "SOLUSDT", 15),
            _trade("2026-03-02T13:00", "-10", "BTCUSDT", 15),
        ],
    )
    report = build_report(ledger, first_day=None, last_day=None, today=date(2026, 3, 2))
    assert [(s, st.count, st.net) for s, st in report.by_symbol] == [
        ("BTCUSDT", 3, D(40)),
        ("SOLUSDT", 1, D(15)),
        ("ETHUSDT", 2, D(-15)),
    ]
    assert [(tf, st.count, st.net) for tf, st in report.by_timeframe] == [
        (15, 3, D(-5)),
        (60, 3, D(45)),
    ]
    assert [(r.day, r.stats.count, r.stats.net) for r in report.daily] == [
        (date(2026, 3, 1), 2, D(20)),
        (date(2026, 3, 2), 4, D(20)),
    ]
    assert report.profit_factor == D("2.6")
    only_second = build_report(
        ledger, first_day=date(2026, 3, 2), last_day=date(2026, 3, 2), today=date(2026, 3, 2)
    )
    assert only_second.stats.count == 4
    assert only_second.realized["all"] == D(40)  # the headline ignores the range


def test_replacing_from_a_day_never_counts_twice():
    """A late close (committed after a newer one was read) is picked up by re-reading from the
    start of the watermark's day, and the trades already seen are not added again."""
    ledger = Ledger()
    first = [_trade("2026-03-01T10:00", "5"), _trade("2026-03-02T10:05", "7")]
    ledger.replace_trades(None, first)
    assert ledger.trades_through == datetime(2026, 3, 2, 10, 5)
    late = _trade("2026-03-02T10:01", "-3")
    since = day_start(ledger.trades_through - timedelta(minutes=10))
    changed = ledger.replace_trades(since, [late, first[1]])
    assert changed == {date(2026, 3, 2)}
    assert ledger.trades[date(2026, 3, 2)].stats == TradeStats.of([D(-3), D(7)])
    assert ledger.trades[date(2026, 3, 1)].stats == TradeStats.of([D(5)])
    assert ledger.replace_trades(since, [late, first[1]]) == set()  # nothing new: no change


_trade_strategy = st.tuples(
    st.integers(min_value=0, max_value=4 * 24 * 60),
    st.integers(min_value=-50, max_value=50),
    st.sampled_from(["BTCUSDT", "ETHUSDT"]),
    st.sampled_from([15, 60]),
)


@settings(max_examples=150, deadline=None)
@given(raw=st.lists(_trade_strategy, max_size=40), cut=st.integers(min_value=0, max_value=5760))
def test_incremental_ledger_equals_a_full_build(raw, cut):
    """Trades read in two passes (up to a watermark, then from its day on) give the same day
    rollups as reading all of them at once."""
    start = datetime(2026, 3, 1)
    trades = sorted(
        (ClosedTrade(start + timedelta(minutes=m), D(p), s, tf, "long") for m, p, s, tf in raw),
        key=lambda t: t.closed_at,
    )
    full = Ledger()
    full.replace_trades(None, trades)
    moment = start + timedelta(minutes=cut)
    step = Ledger()
    step.replace_trades(None, [t for t in trades if t.closed_at <= moment])
    since = day_start(moment - timedelta(minutes=10))
    step.replace_trades(since, [t for t in trades if t.closed_at >= since])
    assert step.trades == full.trades


def test_rollups_survive_the_cache_encoding():
    """Encoded to JSON-ready lists and back, day rollups compare equal (every digit kept)."""
    ledger = Ledger()
    ledger.replace_trades(
        None,
        [
            _trade("2026-03-01T10:00", "0.000000000000000001", "BTCUSDT", 60),
            _trade("2026-03-01T11:00", "-12345678901234.5", "ETHUSDT", 15),
        ],
    )
    ledger.replace_equity(None, [_p(t, v) for t, v in DRAWDOWN_SERIES])
    for day in ledger.trades.values():
        assert decode_trades(encode_trades(day)) == day
    for day in ledger.equity.values():
        assert decode_equity(encode_equity(day)) == day


def test_curve_uses_hours_for_short_ranges():
    """Two days of 5-minute snapshots (576) → 48 hourly segments → at most 192 points, the
    day's lowest and highest snapshot among them."""
    start = datetime(2026, 3, 1)
    points = [
        EquityPoint(start + timedelta(minutes=5 * i), D(1000 + (i * 37) % 101)) for i in range(576)
    ]
    points[300] = EquityPoint(points[300].t, D(500))
    ledger = Ledger()
    ledger.replace_equity(None, points)
    curve = build_report(ledger, first_day=None, last_day=None, today=date(2026, 3, 2)).equity_curve
    assert 48 < len(curve) <= 192
    assert points[300] in curve


# ---- allocation ------------------------------------------------------------------------------


def test_allocation_by_hand():
    """Capital 10,000. Group A: grids hold 1,000, invested 600, unrealised +30. Group B: grids
    hold 500 but invested 520 (fees), unrealised −20. Allocated 1,000 + 520 = 1,520; free
    8,480; in positions 1,120; TVL 1,120 + 10 = 1,130."""
    alloc = allocation(
        D(10000),
        [OpenExposure(D(600), D(30), D(1000)), OpenExposure(D(520), D(-20), D(500))],
    )
    assert (alloc.allocated, alloc.free, alloc.in_positions, alloc.tvl) == (
        D(1520),
        D(8480),
        D(1120),
        D(1130),
    )
    assert alloc.open_groups == 2


@pytest.mark.parametrize("value", ["0", "-1"])
def test_no_drawdown_without_a_positive_peak(value):
    """A depth relative to a peak at or below zero means nothing: none is reported."""
    seg = _fold([_p("2026-03-01T00:00", value), _p("2026-03-01T01:00", "-5")])
    assert seg.drawdown is None


@settings(max_examples=150, deadline=None)
@given(
    raw=st.lists(_trade_strategy, max_size=40),
    first=st.one_of(st.none(), st.integers(min_value=0, max_value=4)),
    span=st.integers(min_value=0, max_value=4),
    later=st.lists(_trade_strategy, max_size=10),
)
def test_prefix_sums_match_adding_the_days(raw, first, span, later):
    """Range totals, per symbol and per timeframe from the prefix sums equal the plain sums of
    the day rollups, also after the ledger changed (the sums are rebuilt from that day)."""
    start = datetime(2026, 3, 1)

    def trades_of(items):
        return sorted(
            (
                ClosedTrade(start + timedelta(minutes=m), D(p), s, tf, "long")
                for m, p, s, tf in items
            ),
            key=lambda t: t.closed_at,
        )

    ledger = Ledger()
    ledger.replace_trades(None, trades_of(raw))
    ledger.trade_index()  # built once, then updated below
    since = start + timedelta(days=2)
    ledger.replace_trades(since, [t for t in trades_of(raw + later) if t.closed_at >= since])
    first_day = None if first is None else date(2026, 3, 1) + timedelta(days=first)
    last_day = None if first_day is None else first_day + timedelta(days=span)
    report = build_report(ledger, first_day=first_day, last_day=last_day, today=date(2026, 3, 5))
    days = [
        d
        for d in sorted(ledger.trades)
        if (first_day is None or d >= first_day) and (last_day is None or d <= last_day)
    ]
    expected = TradeStats()
    symbols: dict = {}
    for d in days:
        expected = expected + ledger.trades[d].stats
        for key, stats in ledger.trades[d].by_symbol.items():
            symbols[key] = symbols.get(key, TradeStats()) + stats
    assert report.stats == expected
    assert dict(report.by_symbol) == symbols
    pnls = [p for d in days for p in ledger.trades[d].pnls]
    assert report.distribution == histogram(pnls)


@settings(max_examples=150, deadline=None)
@given(
    raw=st.lists(
        st.tuples(st.integers(min_value=0, max_value=3 * 288), st.integers(1, 50)), max_size=60
    ),
    cut=st.integers(min_value=0, max_value=3 * 288),
    first=st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
)
def test_incremental_equity_equals_a_full_build(raw, cut, first):
    """Snapshots read in two passes (up to a watermark, then from the start of its hour minus
    the lag) give the same day and hour segments, drawdown and curve as one full read."""
    start = datetime(2026, 3, 1)
    by_time = {start + timedelta(minutes=5 * m): D(v) for m, v in raw}
    points = [EquityPoint(t, by_time[t]) for t in sorted(by_time)]
    full = Ledger()
    full.replace_equity(None, points)
    moment = start + timedelta(minutes=5 * cut)
    step = Ledger()
    step.replace_equity(None, [p for p in points if p.t <= moment])
    step.equity_index()  # built before the change, then brought up to date
    since = moment - timedelta(minutes=10)
    step.replace_equity(since, [p for p in points if p.t >= since.replace(minute=0)])
    assert step.equity == full.equity
    first_day = None if first is None else date(2026, 3, 1) + timedelta(days=first)
    a = build_report(step, first_day=first_day, last_day=None, today=date(2026, 3, 4))
    b = build_report(full, first_day=first_day, last_day=None, today=date(2026, 3, 4))
    assert (a.max_drawdown, a.equity_curve, a.sharpe) == (b.max_drawdown, b.equity_curve, b.sharpe)
    inside = [p for p in points if first_day is None or p.t.date() >= first_day]
    if inside:
        assert a.max_drawdown == _fold(inside).drawdown
