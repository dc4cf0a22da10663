"""The incremental store behind the performance page: one rollup per UTC day.

A `Ledger` holds, per day, the sums of the trades closed that day (`DayTrades`: totals, per
symbol, per timeframe, and the sorted PnLs for the histogram) and the equity snapshots of that
day folded into segments (`DayEquity`: each hour, and the day as their merge). Every figure of
the page is a sum or a merge of rollups, so a year answers from ~365 of them instead of
~105,000 snapshots and 10,000 trades, and new data only touches the days it falls on.

Prefix sums over the days (`TradeIndex`, `EquityIndex`) make a range one subtraction (trades)
or one lookup when it starts at the first day (equity); after a change they are rebuilt from
the first day that changed only.

Refreshing is "replace from a moment on": the caller reads every trade closed since the start
of a day (snapshots: since the start of an hour) and `replace_*` rebuilds exactly those days
(hours). The service re-reads from its watermark minus a lag, so a row committed late (a close
whose transaction began before another's) is still picked up, and nothing is counted twice.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from server.domain.analytics import ClosedTrade, TradeStats
from server.domain.analytics_equity import EquityPoint, EquitySegment, merged

__all__ = [
    "DayEquity",
    "DayTrades",
    "EquityIndex",
    "Ledger",
    "TradeIndex",
    "day_start",
    "hour_start",
]


def day_start(moment: datetime) -> datetime:
    """00:00 of the UTC day `moment` falls on."""
    return datetime(moment.year, moment.month, moment.day)


def hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(slots=True)
class DayTrades:
    """The trades closed on one UTC day."""

    stats: TradeStats = field(default_factory=TradeStats)
    by_symbol: dict[str, TradeStats] = field(default_factory=dict)
    by_timeframe: dict[int, TradeStats] = field(default_factory=dict)
    pnls: list[Decimal] = field(default_factory=list)  # ascending

    def add(self, trade: ClosedTrade) -> None:
        self.stats = self.stats.plus(trade.pnl)
        symbol = self.by_symbol.get(trade.symbol, TradeStats())
        self.by_symbol[trade.symbol] = symbol.plus(trade.pnl)
        timeframe = self.by_timeframe.get(trade.timeframe, TradeStats())
        self.by_timeframe[trade.timeframe] = timeframe.plus(trade.pnl)
        insort(self.pnls, trade.pnl)


@dataclass(slots=True)
class DayEquity:
    """The snapshots of one UTC day: each hour as a segment, and the day as their merge."""

    day: EquitySegment
    hours: list[EquitySegment]

    @classmethod
    def of_hours(cls, hours: list[EquitySegment]) -> DayEquity:
        day = merged(hours)
        if day is None:
            raise ValueError("a day needs at least one snapshot")
        return cls(day, hours)

    @property
    def close(self) -> EquityPoint:
        return self.day.last


def _hours(points: Iterable[EquityPoint]) -> dict[date, list[EquitySegment]]:
    """Time-ordered points folded into hour segments, by day."""
    days: dict[date, list[EquitySegment]] = {}
    for point in points:
        hours = days.setdefault(point.t.date(), [])
        if hours and hour_start(hours[-1].last.t) == hour_start(point.t):
            hours[-1].add(point)
        else:
            hours.append(EquitySegment.of(point))
    return days


def _latest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current


def _replace(store: dict, since_day: date | None, fresh: dict) -> set[date]:
    """Days from `since_day` on become `fresh`; returns the days whose rollup changed."""
    old_days = {d for d in store if since_day is None or d >= since_day}
    changed = {d for d in old_days | fresh.keys() if store.get(d) != fresh.get(d)}
    for d in old_days - fresh.keys():
        del store[d]
    store.update(fresh)
    return changed


class TradeIndex:
    """Prefix sums over the trade days in date order: any range of days is one subtraction
    (totals, per symbol, per timeframe); all PnLs kept sorted for the whole-ledger histogram."""

    __slots__ = ("all_pnls", "by_symbol", "by_timeframe", "day_pnls", "days", "totals")

    def __init__(self) -> None:
        self.days: list[date] = []
        self.totals: list[TradeStats] = []
        self.by_symbol: list[dict[str, TradeStats]] = []
        self.by_timeframe: list[dict[int, TradeStats]] = []
        self.day_pnls: list[list[Decimal]] = []
        self.all_pnls: list[Decimal] = []

    def truncate(self, keep: int) -> None:
        for pnls in self.day_pnls[keep:]:
            for pnl in pnls:
                del self.all_pnls[bisect_left(self.all_pnls, pnl)]
        for column in (self.days, self.totals, self.by_symbol, self.by_timeframe, self.day_pnls):
            del column[keep:]

    def append(self, day: date, trades: DayTrades, *, sort: bool = True) -> None:
        previous = self.totals[-1] if self.totals else TradeStats()
        self.days.append(day)
        self.totals.append(previous + trades.stats)
        self.by_symbol.append(_add_grouped(self.by_symbol, trades.by_symbol))
        self.by_timeframe.append(_add_grouped(self.by_timeframe, trades.by_timeframe))
        self.day_pnls.append(trades.pnls)
        if sort:
            for pnl in trades.pnls:
                insort(self.all_pnls, pnl)
        else:
            self.all_pnls.extend(trades.pnls)

    def span(self, first: date | None, last: date | None) -> tuple[int, int]:
        """Positions `[i, j)` of the days within `first ..= last`."""
        return _span(self.days, first, last)

    def totals_between(self, i: int, j: int) -> TradeStats:
        if j <= i:
            return TradeStats()
        return self.totals[j - 1] if i == 0 else self.totals[j - 1] - self.totals[i - 1]

    def grouped_between(self, column: str, i: int, j: int) -> dict:
        if j <= i:
            return {}
        upto = getattr(self, column)[j - 1]
        if i == 0:
            return dict(upto)
        before = getattr(self, column)[i - 1]
        out = {}
        for key, stats in upto.items():
            earlier = before.get(key)
            stats = stats if earlier is None else stats - earlier
            if stats.count:
                out[key] = stats
        return out

    def pnl_groups(self, i: int, j: int) -> list[list[Decimal]]:
        """Sorted PnL lists covering the days `[i, j)`: one list for the whole ledger."""
        if i == 0 and j == len(self.days):
            return [self.all_pnls]
        return self.day_pnls[i:j]


def _span(days: list[date], first: date | None, last: date | None) -> tuple[int, int]:
    i = 0 if first is None else bisect_left(days, first)
    j = len(days) if last is None else bisect_left(days, last + timedelta(days=1))
    return i, max(i, j)


def _add_grouped(column: list[dict], day: dict) -> dict:
    out = dict(column[-1]) if column else {}
    for key, stats in day.items():
        previous = out.get(key)
        out[key] = stats if previous is None else previous + stats
    return out


class EquityIndex:
    """The equity days in date order and the merge of every day up to each one, so a range
    from the first day (the usual "all") is one lookup instead of a merge of every day."""

    __slots__ = ("days", "prefix")

    def __init__(self) -> None:
        self.days: list[date] = []
        self.prefix: list[EquitySegment] = []

    def truncate(self, keep: int) -> None:
        del self.days[keep:]
        del self.prefix[keep:]

    def append(self, day: date, equity: DayEquity) -> None:
        whole = equity.day.copy()
        if self.prefix:
            whole = self.prefix[-1].copy()
            whole.extend(equity.day)
        self.days.append(day)
        self.prefix.append(whole)

    def span(self, first: date | None, last: date | None) -> tuple[int, int]:
        return _span(self.days, first, last)


def _refreshed(index, dirty: date | None, store: dict, make):
    """`index` brought up to date from the first `dirty` day (a new one if None)."""
    if index is None:
        index, dirty = make(), date.min
    elif dirty is None:
        return index
    index.truncate(bisect_left(index.days, dirty))
    for day in sorted(d for d in store if d >= dirty):
        index.append(day, store[day])
    return index


@dataclass
class Ledger:
    """Day rollups of one user's closed trades and equity snapshots, with watermarks.

    `version` grows with every change (a cache key for figures computed from it)."""

    trades: dict[date, DayTrades] = field(default_factory=dict)
    equity: dict[date, DayEquity] = field(default_factory=dict)
    trades_through: datetime | None = None  # newest `closed_at` folded in
    snapshots_through: datetime | None = None  # newest `taken_at` folded in
    version: int = 0
    _trade_index: TradeIndex | None = field(default=None, repr=False, compare=False)
    _equity_index: EquityIndex | None = field(default=None, repr=False, compare=False)
    _trades_dirty: date | None = field(default=None, repr=False, compare=False)
    _equity_dirty: date | None = field(default=None, repr=False, compare=False)

    def replace_trades(self, since: datetime | None, trades: Iterable[ClosedTrade]) -> set[date]:
        """Rebuild every day from `since`'s day on (None: everything) from `trades` — all the
        trades closed since the start of that day, in (closed_at, id) order. Returns the days
        that changed."""
        since_day = None if since is None else since.date()
        fresh: dict[date, DayTrades] = {}
        newest = self.trades_through
        for trade in trades:
            if since_day is not None and trade.closed_at.date() < since_day:
                continue
            fresh.setdefault(trade.closed_at.date(), DayTrades()).add(trade)
            newest = _latest(newest, trade.closed_at)
        self.trades_through = newest
        changed = _replace(self.trades, since_day, fresh)
        if changed:
            self.version += 1
            self._trades_dirty = min(changed | {self._trades_dirty or date.max})
        return changed

    def replace_equity(self, since: datetime | None, points: Iterable[EquityPoint]) -> set[date]:
        """Rebuild every hour from `since`'s hour on (None: everything) from `points` — all the
        snapshots taken since the start of that hour, in `taken_at` order. The hours of that
        day before it are kept. Returns the days that changed."""
        start = None if since is None else hour_start(since)
        by_day = _hours(p for p in points if start is None or p.t >= start)
        if start is not None and start.date() in self.equity:
            kept = [h for h in self.equity[start.date()].hours if h.first.t < start]
            if kept:
                by_day[start.date()] = kept + by_day.get(start.date(), [])
        fresh = {day: DayEquity.of_hours(hours) for day, hours in by_day.items()}
        for day in fresh.values():
            self.snapshots_through = _latest(self.snapshots_through, day.close.t)
        changed = _replace(self.equity, None if start is None else start.date(), fresh)
        if changed:
            self.version += 1
            self._equity_dirty = min(changed | {self._equity_dirty or date.max})
        return changed

    def trade_count(self) -> int:
        """How many trades the ledger holds."""
        index = self.trade_index()
        return index.totals[-1].count if index.totals else 0

    def trade_index(self) -> TradeIndex:
        """The trade prefix sums, brought up to date from the first day that changed."""
        if self._trade_index is None:  # a first build sorts the PnLs once, not one by one
            index = self._trade_index = TradeIndex()
            for day in sorted(self.trades):
                index.append(day, self.trades[day], sort=False)
            index.all_pnls.sort()
        else:
            self._trade_index = _refreshed(
                self._trade_index, self._trades_dirty, self.trades, TradeIndex
            )
        self._trades_dirty = None
        return self._trade_index

    def equity_index(self) -> EquityIndex:
        """The equity prefix merges, brought up to date from the first day that changed."""
        self._equity_index = _refreshed(
            self._equity_index, self._equity_dirty, self.equity, EquityIndex
        )
        self._equity_dirty = None
        return self._equity_index
