"""The performance answer's JSON shape (API.md `GET /api/performance`): decimals as strings,
times ISO-8601 UTC with `Z`. Chart points and daily rows are serialised once and spliced in."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from server.domain.analytics import ANNUALISATION, Allocation, TradeStats, win_rate
from server.domain.analytics_equity import EquityPoint
from server.domain.analytics_report import DailyRow, Report
from server.domain.decimals import plain_decimal

__all__ = ["allocation_out", "dumps", "report_json"]


def _money(value: Decimal | None) -> str | None:
    return None if value is None else plain_decimal(value)


def _fixed(value: Decimal | None) -> str | None:
    """Sharpe and Sortino keep their 4 places ("1.2000")."""
    return None if value is None else format(value, "f")


def _stats_out(stats: TradeStats) -> dict:
    return {
        "trades": stats.count,
        "wins": stats.wins,
        "losses": stats.losses,
        "win_rate": _money(win_rate(stats)),
        "realized": plain_decimal(stats.net),
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds") + "Z"  # naive UTC, as stored


# A chart point and a day's row read the same in every answer until their day changes: their
# JSON is made once and spliced into the answers.
@lru_cache(maxsize=16384)
def _point_json(point: EquityPoint) -> str:
    return dumps({"t": _iso(point.t), "equity": plain_decimal(point.equity)})


@lru_cache(maxsize=8192)
def _daily_json(row: DailyRow) -> str:
    return dumps(
        {
            "date": row.day.isoformat(),
            "trades": row.stats.count,
            "wins": row.stats.wins,
            "losses": row.stats.losses,
            "realized": plain_decimal(row.stats.net),
            "equity": _money(row.close.equity) if row.close else None,
        }
    )


def report_json(report: Report) -> str:
    """The figures as JSON text: `_report_out`'s object with the curve and the days appended
    from their cached fragments."""
    head = dumps(_report_out(report))
    curve = ",".join(_point_json(p) for p in report.equity_curve)
    daily = ",".join(_daily_json(row) for row in report.daily)
    return f'{head[:-1]},"equity_curve":[{curve}],"daily":[{daily}]}}'


def _report_out(report: Report) -> dict:
    dd = report.max_drawdown
    return {
        "range": {
            "from": report.first_day.isoformat() if report.first_day else None,
            "to": report.last_day.isoformat() if report.last_day else None,
        },
        "realized": {name: plain_decimal(v) for name, v in report.realized.items()},
        "trades": {
            "count": report.stats.count,
            "wins": report.stats.wins,
            "losses": report.stats.losses,
            "breakeven": report.stats.breakeven,
            "realized": plain_decimal(report.stats.net),
            "gross_profit": plain_decimal(report.stats.gross_profit),
            "gross_loss": plain_decimal(report.stats.gross_loss),
        },
        "win_rate": _money(report.win_rate),
        "avg_win": _money(report.average_win),
        "avg_loss": _money(report.average_loss),
        "profit_factor": _money(report.profit_factor),
        "expectancy": _money(report.expectancy),
        "sharpe": _fixed(report.sharpe),
        "sortino": _fixed(report.sortino),
        "annualisation": ANNUALISATION,
        "daily_returns": report.daily_returns,
        "max_drawdown_percent": _money(dd.percent) if dd else None,
        "max_drawdown": {
            "percent": _money(dd.percent) if dd else None,
            "peak_at": _iso(dd.peak.t) if dd else None,
            "peak_equity": _money(dd.peak.equity) if dd else None,
            "trough_at": _iso(dd.trough.t) if dd else None,
            "trough_equity": _money(dd.trough.equity) if dd else None,
        },
        "distribution": [
            {"bucket": plain_decimal(b.lower), "to": plain_decimal(b.upper), "count": b.count}
            for b in report.distribution
        ],
        "by_symbol": [{"symbol": s} | _stats_out(st) for s, st in report.by_symbol],
        "by_timeframe": [{"timeframe": tf} | _stats_out(st) for tf, st in report.by_timeframe],
    }


def allocation_out(alloc: Allocation) -> dict:
    return {
        "total_capital_usd": plain_decimal(alloc.total_capital),
        "allocated_usd": plain_decimal(alloc.allocated),
        "free_usd": plain_decimal(alloc.free),
        "in_positions_usd": plain_decimal(alloc.in_positions),
        "unrealized_usd": plain_decimal(alloc.unrealized),
        "tvl_usd": plain_decimal(alloc.tvl),
        "open_groups": alloc.open_groups,
    }


def dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))
