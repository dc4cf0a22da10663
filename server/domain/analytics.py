"""Performance analytics (issue 10, SPEC §7): the trader's figures from closed trades and
equity snapshots. Pure: no clock, database or Redis — `today`, trades and snapshots come in.

Definitions (also in docs/decisions.md, "Performance analytics"):

- **A trade** is one closed position group; its PnL is the group's `realized_pnl_usd`, already
  net of fees. A win is PnL > 0, a loss PnL < 0; a break-even trade (exactly 0) counts as a
  trade (win rate and expectancy denominators) but neither as a win nor as a loss.
- **Win rate** `wins / trades × 100` (a percentage), **average win** `Σ wins / wins`,
  **average loss** `Σ losses / losses` (negative), **expectancy** `Σ PnL / trades`,
  **profit factor** `Σ wins / |Σ losses|` — `None` when there is no losing trade (it would be
  ∞; JSON has no ∞, the page shows "∞" when there are wins and no losses).
- **Rounding**: sums are exact; percentages keep 8 decimals toward zero (as `pnl.py`);
  averages, expectancy and profit factor keep 8 decimals half-even; Sharpe and Sortino keep 4.
- **Daily returns** come from the last snapshot of each UTC day with snapshots:
  `r_d = close_d / close_prev − 1`, `close_prev` the previous day that has a snapshot (a gap of
  days is one return). **Sharpe** `mean(r) / s(r) × √365`, `s` the sample standard deviation
  (n − 1); **Sortino** `mean(r) / DD × √365` with the downside deviation
  `DD = √(Σ min(r, 0)² / (n − 1))` (target and risk-free rate 0). Crypto trades every day,
  hence √365. `None` with fewer than two returns or a zero deviation. All of it in `Decimal`
  (50 digits, `Decimal.sqrt` is correctly rounded): no float anywhere.
- **Periods** (realised day/week/month) are UTC calendar periods containing `today`: the day,
  the ISO week from Monday 00:00 UTC, the month from the 1st 00:00 UTC.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import (
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    Inexact,
    localcontext,
)
from itertools import pairwise

from server.domain.exact import HUNDRED, PERCENT_PLACES, ZERO, div

__all__ = [
    "RATIO_PLACES",
    "RISK_PLACES",
    "Allocation",
    "Bucket",
    "ClosedTrade",
    "OpenExposure",
    "TradeStats",
    "allocation",
    "average_loss",
    "average_win",
    "daily_returns",
    "expectancy",
    "histogram",
    "histogram_of_sorted",
    "period_starts",
    "profit_factor",
    "sharpe_ratio",
    "sortino_ratio",
    "win_rate",
]

RATIO_PLACES = 8  # averages, expectancy, profit factor: half-even
RISK_PLACES = 4  # Sharpe, Sortino: half-even
DAYS_PER_YEAR = 365
ANNUALISATION = "sqrt(365) on daily returns"
_EXACT = Context(prec=200, traps=[Inexact])  # sums of money: exact or an error
_RATIOS = Context(prec=50, rounding=ROUND_HALF_EVEN)  # returns, deviations, square roots


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A closed position group as the analytics see it (`pnl` net of fees)."""

    closed_at: datetime
    pnl: Decimal
    symbol: str
    timeframe: int
    side: str


@dataclass(frozen=True, slots=True)
class TradeStats:
    """Running sums of a set of trades; adding trades never needs the earlier ones."""

    count: int = 0
    wins: int = 0
    losses: int = 0
    gross_profit: Decimal = ZERO  # Σ of winning PnL (≥ 0)
    gross_loss: Decimal = ZERO  # Σ of losing PnL (≤ 0)

    @classmethod
    def of(cls, pnls: Iterable[Decimal]) -> TradeStats:
        stats = cls()
        for pnl in pnls:
            stats = stats.plus(pnl)
        return stats

    def plus(self, pnl: Decimal) -> TradeStats:
        if pnl > 0:
            return TradeStats(
                self.count + 1,
                self.wins + 1,
                self.losses,
                _EXACT.add(self.gross_profit, pnl),
                self.gross_loss,
            )
        if pnl < 0:
            return TradeStats(
                self.count + 1,
                self.wins,
                self.losses + 1,
                self.gross_profit,
                _EXACT.add(self.gross_loss, pnl),
            )
        return TradeStats(
            self.count + 1, self.wins, self.losses, self.gross_profit, self.gross_loss
        )

    def __add__(self, other: TradeStats) -> TradeStats:
        return TradeStats(
            self.count + other.count,
            self.wins + other.wins,
            self.losses + other.losses,
            _EXACT.add(self.gross_profit, other.gross_profit),
            _EXACT.add(self.gross_loss, other.gross_loss),
        )

    def __sub__(self, other: TradeStats) -> TradeStats:
        """The trades of `self` that are not in `other` (a prefix sum minus an earlier one)."""
        return TradeStats(
            self.count - other.count,
            self.wins - other.wins,
            self.losses - other.losses,
            _EXACT.subtract(self.gross_profit, other.gross_profit),
            _EXACT.subtract(self.gross_loss, other.gross_loss),
        )

    @property
    def breakeven(self) -> int:
        return self.count - self.wins - self.losses

    @property
    def net(self) -> Decimal:
        """Σ PnL of every trade (break-even trades add 0)."""
        return _EXACT.add(self.gross_profit, self.gross_loss)


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    return div(numerator, denominator, RATIO_PLACES, ROUND_HALF_EVEN)


def win_rate(stats: TradeStats) -> Decimal | None:
    """`wins / trades × 100`, 8 decimals toward zero; None without trades."""
    if stats.count == 0:
        return None
    return div(Decimal(stats.wins) * HUNDRED, Decimal(stats.count), PERCENT_PLACES, ROUND_DOWN)


def average_win(stats: TradeStats) -> Decimal | None:
    return _ratio(stats.gross_profit, Decimal(stats.wins)) if stats.wins else None


def average_loss(stats: TradeStats) -> Decimal | None:
    """Negative: the mean of the losing trades."""
    return _ratio(stats.gross_loss, Decimal(stats.losses)) if stats.losses else None


def profit_factor(stats: TradeStats) -> Decimal | None:
    """`Σ wins / |Σ losses|`; None when nothing was lost (∞, or no trades at all)."""
    if stats.losses == 0:
        return None
    return _ratio(stats.gross_profit, -stats.gross_loss)


def expectancy(stats: TradeStats) -> Decimal | None:
    """Mean PnL per trade (= win rate × average win + loss rate × average loss)."""
    return _ratio(stats.net, Decimal(stats.count)) if stats.count else None


# ---- risk-adjusted returns ------------------------------------------------------------------


def daily_returns(closes: Sequence[Decimal]) -> list[Decimal]:
    """`close_i / close_(i−1) − 1` for consecutive closes (50 significant digits). A close
    after a non-positive one has no return (there is nothing to be relative to)."""
    returns = []
    for previous, current in pairwise(closes):
        if previous > 0:
            returns.append(_RATIOS.subtract(_RATIOS.divide(current, previous), Decimal(1)))
    return returns


def _annualised(mean: Decimal, deviation: Decimal) -> Decimal | None:
    if deviation == 0:
        return None
    with localcontext(_RATIOS):
        value = mean / deviation * Decimal(DAYS_PER_YEAR).sqrt()
        return value.quantize(Decimal(1).scaleb(-RISK_PLACES), rounding=ROUND_HALF_EVEN)


def _mean(values: Sequence[Decimal]) -> Decimal:
    with localcontext(_RATIOS):
        return sum(values, ZERO) / len(values)


def sharpe_ratio(returns: Sequence[Decimal]) -> Decimal | None:
    """`mean / sample std × √365`, 4 decimals; None below two returns or with no variation."""
    if len(returns) < 2:
        return None
    mean = _mean(returns)
    with localcontext(_RATIOS):
        variance = sum(((r - mean) ** 2 for r in returns), ZERO) / (len(returns) - 1)
        deviation = variance.sqrt()
    return _annualised(mean, deviation)


def sortino_ratio(returns: Sequence[Decimal]) -> Decimal | None:
    """`mean / downside deviation × √365`, DD = √(Σ min(r, 0)² / (n − 1)); None below two
    returns or without a losing day."""
    if len(returns) < 2:
        return None
    mean = _mean(returns)
    with localcontext(_RATIOS):
        downside = sum((r * r for r in returns if r < 0), ZERO) / (len(returns) - 1)
        deviation = downside.sqrt()
    return _annualised(mean, deviation)


# ---- distribution ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bucket:
    """Trades with `lower ≤ PnL < upper`."""

    lower: Decimal
    upper: Decimal
    count: int


def nice_width(raw: Decimal) -> Decimal:
    """The smallest of 1, 2, 5 × 10^k that is ≥ `raw` (> 0)."""
    exponent = raw.adjusted()
    for step in (1, 2, 5, 10):
        width = Decimal(step).scaleb(exponent)
        if width >= raw:
            return width
    raise AssertionError("unreachable")  # pragma: no cover


def histogram(pnls: Sequence[Decimal], target: int = 20) -> list[Bucket]:
    """PnL buckets of one "nice" width (1, 2 or 5 × 10^k) giving about `target` buckets.
    Edges are multiples of the width, so 0 is always an edge: a bucket never mixes wins and
    losses (break-even trades fall in the bucket starting at 0). Empty buckets between the
    lowest and highest are kept, so the bars read as a histogram."""
    return histogram_of_sorted([sorted(pnls)], target)


def histogram_of_sorted(groups: Sequence[Sequence[Decimal]], target: int = 20) -> list[Bucket]:
    """`histogram` of the union of several ascending lists (a day's PnLs each), counted with
    one binary search per list and edge instead of a pass over every trade."""
    groups = [g for g in groups if g]
    if not groups:
        return []
    low, high = min(g[0] for g in groups), max(g[-1] for g in groups)
    spread = high - low
    if spread > 0:
        width = nice_width(_RATIOS.divide(spread, Decimal(target)))
    else:
        width = nice_width(_RATIOS.divide(abs(high), Decimal(target))) if high else Decimal(1)
    with localcontext(_EXACT):
        start = (low / width).to_integral_value(rounding=ROUND_FLOOR) * width
        n = int((high - start) // width) + 1
        edges = [start + i * width for i in range(n + 1)]
    below = [0] * (n + 1)  # trades under each edge
    for group in groups:
        for i, edge in enumerate(edges):
            below[i] += bisect_left(group, edge)
    return [Bucket(edges[i], edges[i + 1], below[i + 1] - below[i]) for i in range(n)]


# ---- periods and capital --------------------------------------------------------------------


def period_starts(today: date) -> dict[str, date | None]:
    """First UTC day of each realised period containing `today` (None: since the start)."""
    return {
        "day": today,
        "week": today - timedelta(days=today.weekday()),
        "month": today.replace(day=1),
        "all": None,
    }


@dataclass(frozen=True, slots=True)
class OpenExposure:
    """One open group: what it cost so far, its unrealised PnL, the capital its grids hold."""

    invested: Decimal
    unrealized: Decimal
    reserved: Decimal  # Σ pyramid capital


@dataclass(frozen=True, slots=True)
class Allocation:
    total_capital: Decimal
    allocated: Decimal  # held by open groups' grids (at least what they invested)
    free: Decimal  # total − allocated (negative when over-allocated)
    in_positions: Decimal  # cost of what open groups hold (filled)
    unrealized: Decimal
    tvl: Decimal  # market value of open positions: in_positions + unrealized
    open_groups: int


def allocation(total_capital: Decimal, groups: Iterable[OpenExposure]) -> Allocation:
    """Capital split: allocated (each open group's pyramid capital, or what it invested if
    more), free (the rest of the configured capital), in positions, and TVL — the market value
    locked in open positions now (cost + unrealised)."""
    allocated = in_positions = unrealized = ZERO
    count = 0
    with localcontext(_EXACT):
        for group in groups:
            count += 1
            allocated += max(group.reserved, group.invested)
            in_positions += group.invested
            unrealized += group.unrealized
        return Allocation(
            total_capital=total_capital,
            allocated=allocated,
            free=total_capital - allocated,
            in_positions=in_positions,
            unrealized=unrealized,
            tvl=in_positions + unrealized,
            open_groups=count,
        )
