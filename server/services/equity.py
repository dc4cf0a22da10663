"""Equity snapshots for the performance page (SPEC §7), one per user every
`EQUITY_SNAPSHOT_SEC` (default 300).

Per user, from the stored groups (summed in Python: money columns are text on SQLite):

- realised   = Σ `realized_pnl_usd` of every group, closed or open (leg take-profits of an
               open group are realised too);
- unrealised = Σ `unrealized_pnl_usd` of the open groups (the price monitor keeps it fresh);
- allocated  = Σ `total_invested_usd` of the open groups (what is in positions now);
- equity     = the settings' `total_capital_usd` + realised + unrealised.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from server.clock import utcnow
from server.domain.enums import FINISHED_GROUP_STATUSES
from server.domain.exact import ZERO, add
from server.persistence.db import db
from server.persistence.models import EquitySnapshot, PositionGroup, User
from server.services.settings import effective_settings

log = logging.getLogger(__name__)

__all__ = ["snapshot_all", "snapshot_of"]

_FINISHED = {s.value for s in FINISHED_GROUP_STATUSES}


def snapshot_of(user: User, groups: list[PositionGroup], now: datetime) -> EquitySnapshot:
    """The (unsaved) snapshot of `user` from their groups."""
    open_groups = [g for g in groups if g.status not in _FINISHED]
    realised = add(ZERO, *(g.realized_pnl_usd or ZERO for g in groups))
    unrealised = add(ZERO, *(g.unrealized_pnl_usd or ZERO for g in open_groups))
    allocated = add(ZERO, *(g.total_invested_usd or ZERO for g in open_groups))
    capital = Decimal(effective_settings(user)["capital"]["total_capital_usd"])
    return EquitySnapshot(
        user=user.id,
        taken_at=now,
        equity_usd=add(capital, realised, unrealised),
        realized_usd=realised,
        unrealized_usd=unrealised,
        allocated_usd=allocated,
    )


def snapshot_all(now: datetime | None = None) -> int:
    """One snapshot for every active user who has ever had a position; returns how many."""
    now = now or utcnow()
    groups: dict = {}
    for group in PositionGroup.select(
        PositionGroup.user,
        PositionGroup.status,
        PositionGroup.realized_pnl_usd,
        PositionGroup.unrealized_pnl_usd,
        PositionGroup.total_invested_usd,
    ):
        groups.setdefault(group.user_id, []).append(group)
    if not groups:
        return 0
    users = User.select().where(User.id.in_(list(groups)) & (User.is_active == True))  # noqa: E712
    rows = []
    for user in users:
        try:
            rows.append(snapshot_of(user, groups[user.id], now))
        except Exception:  # one user's odd settings must not stop the others' snapshots
            log.exception("equity snapshot of user %s failed", user.id)
    with db.atomic():
        for row in rows:
            row.save(force_insert=True)
    return len(rows)
