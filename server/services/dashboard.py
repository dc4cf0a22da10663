"""The dashboard's one read (API.md `GET /api/dashboard`, SPEC §4.1, §5, §6, §7).

- `active_groups`: groups neither closed nor failed (waiting ones included: they are the
  trader's, queued for a slot);
- `pool`: `used` = groups holding a slot (SPEC §4.1: from `live` until `closed`/`failed`, i.e.
  live / partially_filled / active / closing), `max` = the settings' `pool.max_open_groups`;
- `queued`: entry signals waiting for a slot;
- `pnl`: realised = Σ `realized_pnl_usd` of every group (a leg take-profit of an open group is
  realised too), unrealised = Σ `unrealized_pnl_usd` of the open groups (as the equity snapshots,
  `services/equity.py`), total = both, `total_percent` = total / `capital.total_capital_usd`
  × 100, 8 decimals toward zero (as the groups' own PnL %);
- `last_webhook_at`: the newest webhook received for the user, whatever its outcome;
- `engine_status` (`running|paused|degraded|error`) with the whole status in `engine`;
- `risk`: enabled, last run, next run, last action;
- `alerts`: unacknowledged WARNING/ERROR/CRITICAL lines, newest first (`alerts_total` counts all).

The pool block is `pool.usage(user_id)` (Redis, rebuilt from PostgreSQL when lost), the risk
block `risk.status(user_id)`.
"""

from __future__ import annotations

from decimal import Decimal

from peewee import fn

from server.api.serializers import money
from server.clock import isoformat
from server.domain.enums import FINISHED_GROUP_STATUSES
from server.domain.exact import ZERO, add
from server.domain.pnl import unrealised_percent
from server.persistence.db import is_postgres, plain_rows
from server.persistence.models import (
    PositionGroup,
    SystemLog,
    User,
    WebhookLog,
)
from server.services import engine, risk
from server.services import pool as pool_service
from server.services.logs import ALERT_LEVELS, log_out
from server.services.settings import current_settings

ALERTS_SHOWN = 20
_FINISHED = [s.value for s in FINISHED_GROUP_STATUSES]


def _group_figures(user_id) -> tuple[int, Decimal, Decimal]:
    """(active groups, realised of every group, unrealised of the active ones) in one read.
    PostgreSQL counts and adds them up (NUMERIC sums are exact): one row back instead of every
    group the user ever had. SQLite keeps decimals as text (its SUM would go through floats),
    so there the rows are read and added here."""
    group = PositionGroup
    active = group.status.not_in(_FINISHED)
    mine = group.user == user_id
    if is_postgres():
        count, realised, unrealised = (
            group.select(
                fn.COUNT(group.id).filter(active),
                fn.SUM(group.realized_pnl_usd),
                fn.SUM(group.unrealized_pnl_usd).filter(active),
            )
            .where(mine)
            .tuples()
            .get()
        )
        return count, add(realised or ZERO), add(unrealised or ZERO)
    columns = (group.status, group.realized_pnl_usd, group.unrealized_pnl_usd)
    rows = plain_rows(group.select(*columns).where(mine), columns)
    open_rows = [u for s, _, u in rows if s not in _FINISHED]
    realised = add(*(r for _, r, _ in rows if r is not None))
    return len(open_rows), realised, add(*(u for u in open_rows if u is not None))


def _pnl(realised: Decimal, unrealised: Decimal, settings: dict) -> dict:
    total = add(realised, unrealised)
    capital = Decimal(settings["capital"]["total_capital_usd"])
    return {
        "realized_usd": money(realised),
        "unrealized_usd": money(unrealised),
        "total_usd": money(total),
        "total_percent": money(unrealised_percent(total, capital)),
        "capital_usd": money(capital),
    }


def _alerts(user_id) -> tuple[list[dict], int]:
    query = SystemLog.select().where(
        (SystemLog.user == user_id)
        & (SystemLog.acknowledged == False)  # noqa: E712
        & SystemLog.level.in_(list(ALERT_LEVELS))
    )
    rows = query.order_by(SystemLog.created_at.desc(), SystemLog.id.desc()).limit(ALERTS_SHOWN)
    return [log_out(r) for r in rows], query.count()


def _last_webhook(user_id) -> WebhookLog | None:
    return (
        WebhookLog.select(WebhookLog.created_at, WebhookLog.status, WebhookLog.symbol)
        .where(WebhookLog.user == user_id)
        .order_by(WebhookLog.created_at.desc())
        .first()
    )


def dashboard(owner: User) -> dict:
    """Everything the dashboard shows for `owner`, read now."""
    _version, settings = current_settings(owner)
    active, realised, unrealised = _group_figures(owner.id)
    pool = pool_service.usage(owner.id, settings)
    alerts, alerts_total = _alerts(owner.id)
    webhook = _last_webhook(owner.id)
    status = engine.status_of(owner.id)
    return {
        "active_groups": active,
        "pool": pool,
        "queued": pool["queued"],
        "pnl": _pnl(realised, unrealised, settings),
        "last_webhook_at": isoformat(webhook.created_at) if webhook else None,
        "last_webhook": (
            {
                "at": isoformat(webhook.created_at),
                "status": webhook.status,
                "symbol": webhook.symbol,
            }
            if webhook
            else None
        ),
        "engine_status": status["status"],
        "engine": status,
        "risk": risk.status(owner.id),
        "alerts": alerts,
        "alerts_total": alerts_total,
    }
