"""Thin-slice signal handling: an accepted signal becomes a `waiting` position group.

The signal-intake and position-lifecycle issues replace this with classification, grids and
orders; until then it proves the path webhook → worker → database → live browser update.
Fields are read best-effort from the TradingView payload and defaulted when absent.
"""

from __future__ import annotations

import re

from server import events
from server.api.serializers import group_out
from server.clock import utcnow
from server.domain.enums import GroupStatus, PositionSide
from server.persistence.db import db
from server.persistence.models import ExchangeAccount, PositionGroup, Signal, WebhookLog

_TIMEFRAMES = {"D": 1440, "1D": 1440, "W": 10080, "1W": 10080, "M": 43200, "1M": 43200}


def _symbol(tv: dict) -> str:
    raw = str(tv.get("symbol") or "UNKNOWN").upper()
    raw = raw.split(":")[-1].removesuffix(".P").replace("/", "")
    return re.sub(r"[^A-Z0-9]", "", raw)[:32] or "UNKNOWN"


def _timeframe(tv: dict) -> int:
    text = str(tv.get("timeframe") or "60").upper()
    if text.isdigit():
        return int(text)
    return _TIMEFRAMES.get(text, 60)


def _side(payload: dict) -> str:
    intent = payload.get("execution_intent") or {}
    tv = payload.get("tv") or {}
    word = str(intent.get("side") or tv.get("action") or "long").lower()
    return PositionSide.SHORT.value if word in ("short", "sell") else PositionSide.LONG.value


def open_placeholder_group(signal_id: str) -> PositionGroup | None:
    with db.atomic():
        signal = Signal.get_or_none(Signal.id == signal_id)
        if signal is None or signal.group_id is not None:
            return None  # already handled (a re-run of the job changes nothing)
        payload = signal.payload if isinstance(signal.payload, dict) else {}
        tv = payload.get("tv") if isinstance(payload.get("tv"), dict) else {}
        account = (
            ExchangeAccount.select()
            .where(ExchangeAccount.user == signal.user_id)
            .order_by(ExchangeAccount.created_at)
            .first()
        )
        group = PositionGroup.create(
            user=signal.user_id,
            account=account,
            exchange=(
                account.exchange if account else str(tv.get("exchange") or "binance")
            ).lower()[:16],
            symbol=_symbol(tv),
            timeframe=_timeframe(tv),
            side=_side(payload),
            status=GroupStatus.WAITING.value,
        )
        signal.group = group
        signal.status = "processed"
        signal.classification = "placeholder_group"
        signal.processed_at = utcnow()
        signal.save()
        WebhookLog.update(group=group, classification="placeholder_group").where(
            WebhookLog.signal == signal.id
        ).execute()
    events.publish(events.Event.GROUP_UPDATED, group_out(group), signal.user_id)
    return group
