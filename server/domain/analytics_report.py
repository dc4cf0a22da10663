"""Every figure of the performance page from a `Ledger`, for a range of whole UTC days.

- The range is `first_day ..= last_day` (either may be open). Trades count on the UTC day of
  their `closed_at`; snapshots on the UTC day of their `taken_at`.
- Realised day / week / month / all are calendar periods around `today`, whatever the range
  (the page's headline); everything else is over the range.
- Daily returns start from the close of the last day *before* the range when there is one, so
  a 7-day range has 7 returns, not 6.
- The equity curve comes from hourly segments when the range has at most `max_points` hours of
  snapshots, else from day segments (at most 4 points each, M4); a range over ~500 days merges
  consecutive days — at most `max_points` points either way, every extreme kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from server.domain.analytics import (
    Bucket,
    TradeStats,
    average_loss,
    average_win,
    daily_returns,
    expectancy,
    histogram_of_sorted,
    period_starts,
    profit_factor,
    sharpe_ratio,
    sortino_ratio,
    win_rate,
)
from server.domain.analytics_equity import Drawdown, EquityPoint, downsample, merged
from server.domain.analytics_ledger import Ledger

__all__ = ["DailyRow", "Report", "build_report", "realized_periods"]

MAX_CURVE_POINTS = 2000
HISTOGRAM_BUCKETS = 20


@dataclass(frozen=True, slots=True)
class DailyRow:
    day: date
    stats: TradeStats
    close: EquityPoint | None  # the day's last snapshot


@dataclass(frozen=True)
class Report:
    first_day: date | None  # the range as asked (None: open)
    last_day: date | None
    realized: dict[str, Decimal]
    stats: TradeStats
    win_rate: Decimal | None
    average_win: Decimal | None
    average_loss: Decimal | None
    profit_factor: Decimal | None
    expectancy: Decimal | None
    sharpe: Decimal | None
    sortino: Decimal | None
    daily_returns: int  # how many returns Sharpe and Sortino rest on
    max_drawdown: Drawdown | None
    equity_curve: list[EquityPoint]
    distribution: list[Bucket]
    by_symbol: list[tuple[str, TradeStats]]
    by_timeframe: list[tuple[int, TradeStats]]
    daily: list[DailyRow]


def realized_periods(ledger: Ledger, today: date) -> dict[str, Decimal]:
    """Realised PnL of the UTC day, ISO week and month containing `today`, and of all time."""
    index = ledger.trade_index()
    totals = {}
    for name, start in period_starts(today).items():
        i, j = index.span(start, None)
        totals[name] = index.totals_between(i, j).net
    return totals


def _closes(ledger: Ledger, equity_days: list[date], before: date | None) -> list[Decimal]:
    """Closes of the range's days, after the close of the day before it (`before`) if any."""
    closes = [ledger.equity[d].close.equity for d in equity_days]
    if before is not None:
        closes.insert(0, ledger.equity[before].close.equity)
    return closes


def _curve(ledger: Ledger, equity_days: list[date], max_points: int) -> list[EquityPoint]:
    days = [ledger.equity[d] for d in equity_days]
    if sum(len(day.hours) for day in days) <= max_points:
        return downsample([h for day in days for h in day.hours], max_points)
    return downsample([day.day for day in days], max_points)


def build_report(
    ledger: Ledger,
    *,
    first_day: date | None,
    last_day: date | None,
    today: date,
    max_points: int = MAX_CURVE_POINTS,
    buckets: int = HISTOGRAM_BUCKETS,
) -> Report:
    index = ledger.trade_index()
    i, j = index.span(first_day, last_day)
    trade_days = index.days[i:j]
    stats = index.totals_between(i, j)
    equity = ledger.equity_index()
    k, m = equity.span(first_day, last_day)
    equity_days = equity.days[k:m]
    before = equity.days[k - 1] if k > 0 and first_day is not None else None
    returns = daily_returns(_closes(ledger, equity_days, before))
    if k == 0 and m > 0:
        whole = equity.prefix[m - 1]
    else:
        whole = merged(ledger.equity[d].day for d in equity_days)
    by_symbol = index.grouped_between("by_symbol", i, j)
    by_timeframe = index.grouped_between("by_timeframe", i, j)
    empty = TradeStats()
    daily = [
        DailyRow(
            day,
            ledger.trades[day].stats if day in ledger.trades else empty,
            ledger.equity[day].close if day in ledger.equity else None,
        )
        for day in sorted(set(trade_days) | set(equity_days))
    ]
    return Report(
        first_day=first_day,
        last_day=last_day,
        realized=realized_periods(ledger, today),
        stats=stats,
        win_rate=win_rate(stats),
        average_win=average_win(stats),
        average_loss=average_loss(stats),
        profit_factor=profit_factor(stats),
        expectancy=expectancy(stats),
        sharpe=sharpe_ratio(returns),
        sortino=sortino_ratio(returns),
        daily_returns=len(returns),
        max_drawdown=None if whole is None else whole.drawdown,
        equity_curve=_curve(ledger, equity_days, max_points),
        distribution=histogram_of_sorted(index.pnl_groups(i, j), buckets),
        by_symbol=sorted(by_symbol.items(), key=lambda kv: (-kv[1].net, kv[0])),
        by_timeframe=sorted(by_timeframe.items()),
        daily=daily,
    )
