"""Encoding of the performance ledger's day rollups as JSON-ready lists (decimals as strings,
every digit kept; times as microseconds since the epoch) for the cache in Redis."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from server.domain.analytics import TradeStats
from server.domain.analytics_equity import Drawdown, EquityPoint, EquitySegment
from server.domain.analytics_ledger import DayEquity, DayTrades
from server.domain.decimals import plain_decimal

__all__ = ["decode_equity", "decode_trades", "encode_equity", "encode_trades"]

_EPOCH = datetime(1970, 1, 1)
_MICRO = timedelta(microseconds=1)


def _t(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICRO


def _from_t(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _point(point: EquityPoint) -> list:
    return [_t(point.t), plain_decimal(point.equity)]


def _from_point(raw: list) -> EquityPoint:
    return EquityPoint(_from_t(raw[0]), Decimal(raw[1]))


def _stats(stats: TradeStats) -> list:
    return [
        stats.count,
        stats.wins,
        stats.losses,
        plain_decimal(stats.gross_profit),
        plain_decimal(stats.gross_loss),
    ]


def _from_stats(raw: list) -> TradeStats:
    return TradeStats(raw[0], raw[1], raw[2], Decimal(raw[3]), Decimal(raw[4]))


def encode_trades(day: DayTrades) -> list:
    return [
        _stats(day.stats),
        {symbol: _stats(s) for symbol, s in day.by_symbol.items()},
        [[tf, _stats(s)] for tf, s in day.by_timeframe.items()],
        [plain_decimal(p) for p in day.pnls],
    ]


def decode_trades(raw: list) -> DayTrades:
    stats, by_symbol, by_timeframe, pnls = raw
    return DayTrades(
        _from_stats(stats),
        {symbol: _from_stats(s) for symbol, s in by_symbol.items()},
        {int(tf): _from_stats(s) for tf, s in by_timeframe},
        [Decimal(p) for p in pnls],
    )


def _segment(seg: EquitySegment) -> list:
    dd = seg.drawdown
    return [
        _point(seg.first),
        _point(seg.last),
        _point(seg.low),
        _point(seg.high),
        None if dd is None else [_point(dd.peak), _point(dd.trough)],
        seg.count,
    ]


def _from_segment(raw: list) -> EquitySegment:
    first, last, low, high, dd, count = raw
    drawdown = None if dd is None else Drawdown(_from_point(dd[0]), _from_point(dd[1]))
    return EquitySegment(
        _from_point(first), _from_point(last), _from_point(low), _from_point(high), drawdown, count
    )


def encode_equity(day: DayEquity) -> list:
    return [_segment(day.day), [_segment(h) for h in day.hours]]


def decode_equity(raw: list) -> DayEquity:
    return DayEquity(_from_segment(raw[0]), [_from_segment(h) for h in raw[1]])
