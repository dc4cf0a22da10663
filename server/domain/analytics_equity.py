"""The equity series of the performance page (SPEC §7): segments, max drawdown, chart points.

Pure and exact. An `EquitySegment` summarises consecutive snapshots — first, last, lowest,
highest and the deepest drawdown *inside* it — and two adjacent segments merge into the
segment of both without the points themselves:

    deepest(a + b) = deeper of (a's own, from a's high down to b's low, b's own)

because a drawdown that crosses the seam has its peak in `a` (best: a's high) and its trough
in `b` (best: b's low). So the max drawdown of a year of 5-minute snapshots is the merge of
365 day segments, exact to the snapshot, and the chart keeps every extreme (M4: per bucket
the first, lowest, highest and last point).

Conventions: a drawdown's depth is `(peak − trough) / peak`; only peaks above zero count (a
depth relative to a non-positive peak means nothing). On equal highs the later one is the
peak (the top the decline started from); on equal lows the earlier one is the trough; on
equal depths the earlier drawdown is kept. Depths are compared by cross-multiplication, so
no quotient is rounded before the comparison.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Context, Decimal, Inexact

from server.domain.exact import HUNDRED, PERCENT_PLACES, div, mul

__all__ = [
    "Drawdown",
    "EquityPoint",
    "EquitySegment",
    "downsample",
    "downsample_points",
    "merged",
    "segments_by",
]

POINTS_PER_BUCKET = 4  # first, low, high, last
# Products for depth comparisons: wide enough to be exact, and trapping if they were not.
_EXACT = Context(prec=200, traps=[Inexact])


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """One equity reading: naive UTC time, equity in USD."""

    t: datetime
    equity: Decimal


@dataclass(frozen=True, slots=True)
class Drawdown:
    """A decline from `peak` to a later `trough`."""

    peak: EquityPoint
    trough: EquityPoint

    @property
    def percent(self) -> Decimal:
        """`(peak − trough) / peak × 100`, 8 decimals toward zero (never overstated)."""
        drop = self.peak.equity - self.trough.equity
        return div(mul(drop, HUNDRED), self.peak.equity, PERCENT_PLACES, ROUND_DOWN)

    def deeper_than(self, other: Drawdown | None) -> bool:
        """Strictly deeper than `other` (None: any drawdown is deeper).

        t1/p1 < t2/p2  ⇔  t1·p2 < t2·p1 for positive peaks: exact, no division."""
        if other is None:
            return True
        if other.peak.equity == self.peak.equity:  # the common case: same peak, lower trough
            return self.trough.equity < other.trough.equity
        mine = _EXACT.multiply(self.trough.equity, other.peak.equity)
        theirs = _EXACT.multiply(other.trough.equity, self.peak.equity)
        return mine < theirs


def _drawdown(peak: EquityPoint, trough: EquityPoint) -> Drawdown | None:
    if peak.equity > 0 and trough.equity < peak.equity:
        return Drawdown(peak, trough)
    return None


def _later_candidate(cross: Drawdown | None, inner: Drawdown | None) -> Drawdown | None:
    """The deeper of the two drawdowns ending in a later segment; on equal depth the one whose
    trough comes first (as a point-by-point fold finds it), the inner one on the same trough
    (its peak is the later of two equal highs)."""
    if cross is None or inner is None:
        return cross or inner
    if cross.deeper_than(inner):
        return cross
    if inner.deeper_than(cross):
        return inner
    return inner if inner.trough.t <= cross.trough.t else cross


class EquitySegment:
    """Consecutive snapshots folded in time order: first, last, low, high, deepest drawdown."""

    __slots__ = ("_corners", "count", "drawdown", "first", "high", "last", "low")

    def __init__(
        self,
        first: EquityPoint,
        last: EquityPoint,
        low: EquityPoint,
        high: EquityPoint,
        drawdown: Drawdown | None = None,
        count: int = 1,
    ) -> None:
        self.first, self.last, self.low, self.high = first, last, low, high
        self.drawdown = drawdown
        self.count = count
        self._corners: list[EquityPoint] | None = None

    @classmethod
    def of(cls, point: EquityPoint) -> EquitySegment:
        return cls(point, point, point, point)

    def copy(self) -> EquitySegment:
        return EquitySegment(self.first, self.last, self.low, self.high, self.drawdown, self.count)

    def add(self, point: EquityPoint) -> None:
        """Fold the next point (not earlier than `last`): the segment's high so far is the
        running peak, so the only new drawdown candidate is high → point."""
        candidate = _drawdown(self.high, point)
        if candidate is not None and candidate.deeper_than(self.drawdown):
            self.drawdown = candidate
        if point.equity >= self.high.equity:
            self.high = point
        if point.equity < self.low.equity:
            self.low = point
        self.last = point
        self.count += 1
        self._corners = None

    def extend(self, later: EquitySegment) -> None:
        """Append the segment that follows this one (see the module docstring). The result is
        exactly what folding every point of both in order gives, ties included."""
        candidate = _later_candidate(_drawdown(self.high, later.low), later.drawdown)
        if candidate is not None and candidate.deeper_than(self.drawdown):
            self.drawdown = candidate
        if later.high.equity >= self.high.equity:
            self.high = later.high
        if later.low.equity < self.low.equity:
            self.low = later.low
        self.last = later.last
        self.count += later.count
        self._corners = None

    def corners(self) -> list[EquityPoint]:
        """First, low, high, last in time order, each time once (M4's points); kept until the
        segment changes."""
        if self._corners is None:
            by_time = {p.t: p for p in (self.first, self.low, self.high, self.last)}
            self._corners = [by_time[t] for t in sorted(by_time)]
        return self._corners

    def _key(self) -> tuple:
        return (self.first, self.last, self.low, self.high, self.drawdown, self.count)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EquitySegment) and self._key() == other._key()

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        return (
            f"EquitySegment({self.first.t}→{self.last.t}, n={self.count}, "
            f"low={self.low.equity}, high={self.high.equity})"
        )


def merged(segments: Iterable[EquitySegment]) -> EquitySegment | None:
    """The segment of consecutive segments (in time order); None for none."""
    out: EquitySegment | None = None
    for segment in segments:
        if out is None:
            out = segment.copy()
        else:
            out.extend(segment)
    return out


def segments_by(points: Iterable[EquityPoint], key) -> Iterator[tuple[object, EquitySegment]]:
    """Consecutive time-ordered points grouped by `key(point.t)` (an hour, a day), folded."""
    current_key: object = None
    current: EquitySegment | None = None
    for point in points:
        k = key(point.t)
        if current is not None and k == current_key:
            current.add(point)
            continue
        if current is not None:
            yield current_key, current
        current_key, current = k, EquitySegment.of(point)
    if current is not None:
        yield current_key, current


def downsample(segments: Sequence[EquitySegment], max_points: int = 2000) -> list[EquityPoint]:
    """At most `max_points` chart points keeping every extreme (M4): consecutive segments are
    merged into at most `max_points / 4` buckets of equal count, and each bucket gives its
    first, lowest, highest and last point."""
    if not segments:
        return []
    buckets = max(1, max_points // POINTS_PER_BUCKET)
    size = math.ceil(len(segments) / buckets)
    points: list[EquityPoint] = []
    if size == 1:
        for segment in segments:
            points.extend(segment.corners())
        return points
    for start in range(0, len(segments), size):
        bucket = merged(segments[start : start + size])
        if bucket is not None:
            points.extend(bucket.corners())
    return points


def downsample_points(points: Sequence[EquityPoint], max_points: int = 2000) -> list[EquityPoint]:
    """Raw points as they are when there are few enough, else M4 over equal-count chunks."""
    if len(points) <= max_points:
        return list(points)
    buckets = max(1, max_points // POINTS_PER_BUCKET)
    size = math.ceil(len(points) / buckets)
    segments = []
    for start in range(0, len(points), size):
        chunk = points[start : start + size]
        segment = EquitySegment.of(chunk[0])
        for point in chunk[1:]:
            segment.add(point)
        segments.append(segment)
    return downsample(segments, max_points)
