"""A group's trail in words a trader reads: position events and system-log lines.

`label(group)` names a group the way log lines start ("BTCUSDT 60m long"); `record` writes one
`PositionEvent` (group transitions and order events share the table, `order` set for the
latter) with a `message` the SPA shows as the event's one-line detail.
"""

from __future__ import annotations

from decimal import Decimal

from server.domain.decimals import plain_decimal
from server.domain.pnl import to_cents
from server.persistence.models import PositionEvent, PositionGroup
from server.persistence.prepared import insert_rows

_TIMEFRAMES = ((43200, "M"), (10080, "W"), (1440, "D"))


def timeframe_text(minutes: int) -> str:
    """60 → "60m", 1440 → "1D", 10080 → "1W", 43200 → "1M"."""
    for size, unit in _TIMEFRAMES:
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def label(group: PositionGroup) -> str:
    return f"{group.symbol} {timeframe_text(group.timeframe)} {group.side}"


def num(value: Decimal | None) -> str:
    """A price or quantity as given, with thousands separators ("64,250.50")."""
    if value is None:
        return "—"
    text = plain_decimal(value)
    whole, _, frac = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = f"{int(whole.lstrip('-') or 0):,}"
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def usd(value: Decimal | None) -> str:
    """Money for a log line: two decimals, thousands separators ("1,000.00")."""
    return "—" if value is None else f"{to_cents(value):,}"


def event(
    group_id,
    kind: str,
    message: str,
    *,
    order_id=None,
    from_status: str | None = None,
    to_status: str | None = None,
    **detail,
) -> PositionEvent:
    """One unsaved event (`record` saves it; `record_all` saves several in one INSERT)."""
    return PositionEvent(
        group=group_id,
        order=order_id,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        detail={"message": message, **_plain(detail)},
    )


def record(group_id, kind: str, message: str, **fields) -> PositionEvent:
    row = event(group_id, kind, message, **fields)
    insert_rows([row])
    return row


def record_all(rows: list[PositionEvent]) -> None:
    """Save several events in one statement (the hot path before the first order: its text
    is built once, `prepared.insert_rows`)."""
    insert_rows(rows)


def _plain(detail: dict) -> dict:
    return {
        k: plain_decimal(v) if isinstance(v, Decimal) else v
        for k, v in detail.items()
        if v is not None
    }
