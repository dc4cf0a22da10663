"""Performance analytics (issue 10, API.md `GET /api/performance`): the page's figures from
closed position groups and equity snapshots, answered incrementally.

Each user's figures rest on a `Ledger` of day rollups (`server/domain/analytics_ledger.py`).
The web process keeps the ledgers it used last in memory; Redis holds a copy for other
processes and restarts (`server/state/performance_cache.py`); PostgreSQL stays the truth:

1. memory, else Redis (same epoch; ~0.5 s to decode a year), else a full build from the
   database (once per user and epoch: ~2–3 s for a year of 5-minute snapshots and 10,000
   closed groups on the 2-core machine);
2. every request then brings it up to date with two small reads: the closed groups since the
   start of the day of the newest `closed_at` seen minus `LAG`, and the snapshots since the
   start of the hour of the newest `taken_at` seen minus `LAG`; the days (hours) they cover are
   rebuilt, and only a real difference counts as a change;
3. changed days are written back to Redis; the figures' JSON is computed from the ledger and
   kept until the ledger changes (the same range asked again costs only the two reads and the
   live capital allocation, which is never cached).

`LAG` covers a close committed late (its `closed_at` set before another group's, committed
after it). A correction of an older group (its PnL rewritten after the fact) is not seen by
these watermarks: whoever makes one calls `invalidate(user_id)`. A group closed with an older
`closed_at` (a backfill) is caught within `COUNT_EVERY_SEC` by comparing the count of closed
groups with the ledger's.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import redis
from flask import current_app
from peewee import JOIN

from server import runtime
from server.clock import isoformat, utcnow
from server.domain.analytics import (
    Allocation,
    ClosedTrade,
    OpenExposure,
    allocation,
)
from server.domain.analytics_equity import EquityPoint
from server.domain.analytics_ledger import Ledger, day_start, hour_start
from server.domain.analytics_report import build_report
from server.domain.decimals import plain_decimal
from server.domain.enums import OPEN_GROUP_STATUSES, GroupStatus
from server.domain.settings import DEFAULT_SETTINGS
from server.persistence.models import (
    EquitySnapshot,
    PositionGroup,
    Pyramid,
    SettingsVersion,
    User,
)
from server.services.performance_out import allocation_out, dumps, report_json
from server.state import performance_cache

log = logging.getLogger(__name__)

LAG = timedelta(minutes=10)
MEMO_USERS = 16  # ledgers kept in this process (~10 MB for a year of snapshots; LRU)
MEMO_BODIES = 8  # answers kept per ledger
COUNT_EVERY_SEC = 60  # how often closed groups are counted to catch backfilled closes
CLOSED = GroupStatus.CLOSED.value
OPEN = [s.value for s in OPEN_GROUP_STATUSES]
DEFAULT_CAPITAL = DEFAULT_SETTINGS["capital"]["total_capital_usd"]


@dataclass
class _Memo:
    epoch: str | None
    ledger: Ledger
    # JSON of the ledger's figures by (ledger version, range, today): the same question
    # between two changes of the ledger is answered without recomputing.
    bodies: OrderedDict = field(default_factory=OrderedDict)
    counted_at: float = 0.0  # monotonic time of the last count of closed groups

    def count_due(self) -> bool:
        """At most one count of closed groups per `COUNT_EVERY_SEC`."""
        now = time.monotonic()
        if now - self.counted_at < COUNT_EVERY_SEC:
            return False
        self.counted_at = now
        return True

    def body(self, key: tuple, compute) -> str:
        key = (self.ledger.version, *key)
        text = self.bodies.get(key)
        if text is None:
            text = self.bodies[key] = compute(self.ledger)
            while len(self.bodies) > MEMO_BODIES:
                self.bodies.popitem(last=False)
        return text


_memo: OrderedDict[str, _Memo] = OrderedDict()
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(user_id: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(user_id, threading.Lock())


def _prefix() -> str:
    return current_app.config["RQ_QUEUE_PREFIX"]


# ---- reading the database ------------------------------------------------------------------


def _closed_trades(user_id, since: datetime | None) -> Iterator[ClosedTrade]:
    """Closed groups (closed_at ≥ since) as trades, oldest first."""
    g = PositionGroup
    query = g.select(g.closed_at, g.realized_pnl_usd, g.symbol, g.timeframe, g.side).where(
        (g.user == user_id) & (g.status == CLOSED) & g.closed_at.is_null(False)
    )
    if since is not None:
        query = query.where(g.closed_at >= since)
    for closed_at, pnl, symbol, timeframe, side in query.order_by(g.closed_at, g.id).tuples():
        yield ClosedTrade(closed_at, pnl, symbol, timeframe, side)


def _closed_count(user_id) -> int:
    g = PositionGroup
    return (
        g.select()
        .where((g.user == user_id) & (g.status == CLOSED) & g.closed_at.is_null(False))
        .count()
    )


def _snapshots(user_id, since: datetime | None) -> Iterator[EquityPoint]:
    s = EquitySnapshot
    query = s.select(s.taken_at, s.equity_usd).where(s.user == user_id)
    if since is not None:
        query = query.where(s.taken_at >= since)
    for taken_at, equity in query.order_by(s.taken_at).tuples():
        yield EquityPoint(taken_at, equity)


def _build(user_id) -> Ledger:
    ledger = Ledger()
    ledger.replace_trades(None, _closed_trades(user_id, None))
    ledger.replace_equity(None, _snapshots(user_id, None))
    return ledger


def _catch_up(user_id, memo: _Memo) -> tuple[set[date], set[date]]:
    """Bring the ledger up to the database; the days whose rollups changed. Trades are read
    again from the start of the day of the newest close seen minus `LAG` (a day's trades,
    usually a few dozen rows), snapshots from the start of the hour of the newest seen minus
    `LAG` (at most a couple of dozen). Unchanged days leave the ledger's version alone."""
    ledger = memo.ledger
    since = None if ledger.trades_through is None else day_start(ledger.trades_through - LAG)
    trade_days = ledger.replace_trades(since, _closed_trades(user_id, since))
    if since is not None and memo.count_due() and _closed_count(user_id) != ledger.trade_count():
        # A group closed with an older `closed_at` than the watermarks reach (a backfill, a
        # repaired close): read every trade again. One index-only count per request buys it.
        log.info("performance ledger of %s missed closed groups; rebuilding its trades", user_id)
        trade_days |= ledger.replace_trades(None, _closed_trades(user_id, None))
    newest = ledger.snapshots_through
    since = None if newest is None else hour_start(newest - LAG)
    equity_days = ledger.replace_equity(since, _snapshots(user_id, since))
    return trade_days, equity_days


# ---- the ledger: memory, Redis, database -----------------------------------------------------


def _cached(client: redis.Redis | None, user_id: str) -> _Memo:
    """The user's ledger: this process's copy while Redis names the same epoch, else Redis's
    copy, else a full build from the database. Without Redis, memory and the database only."""
    prefix = _prefix()
    try:
        epoch = performance_cache.read_epoch(client, prefix, user_id) if client else None
    except redis.RedisError:
        log.warning("performance cache unreadable; answering from memory and the database")
        client, epoch = None, None
    memo = _memo.get(user_id)
    if memo is not None and (client is None or (epoch is not None and memo.epoch == epoch)):
        _memo.move_to_end(user_id)
        return memo
    ledger = None
    try:
        if client is not None and epoch is not None:
            ledger = performance_cache.load(client, prefix, user_id, epoch)
        if ledger is None:
            ledger = _build(user_id)
            if client is not None:
                epoch = performance_cache.claim_epoch(client, prefix, user_id)
                performance_cache.store(client, prefix, user_id, epoch, ledger)
    except redis.RedisError:
        log.warning("performance cache unavailable; the ledger stays in this process only")
        epoch = None
        if ledger is None:
            ledger = _build(user_id)
    memo = _memo[user_id] = _Memo(epoch, ledger)
    while len(_memo) > MEMO_USERS:
        _memo.popitem(last=False)
    return memo


def _with_ledger(user_id: str, use):
    """Call `use(memo)` with the user's up-to-date ledger, one request per user at a time."""
    client = runtime.redis_client()
    with _lock_for(user_id):
        memo = _cached(client, user_id)
        trade_days, equity_days = _catch_up(user_id, memo)
        if (trade_days or equity_days) and memo.epoch:
            try:
                performance_cache.store(
                    client, _prefix(), user_id, memo.epoch, memo.ledger, trade_days, equity_days
                )
            except redis.RedisError:
                log.warning("performance cache not written; it is rebuilt when needed")
        return use(memo)


def invalidate(user_id) -> None:
    """Forget the user's cached figures everywhere (after rewriting an old group's PnL)."""
    _memo.pop(str(user_id), None)
    performance_cache.invalidate(runtime.redis_client(), _prefix(), str(user_id))


def warm(user_id) -> None:
    """Bring the user's ledger up to date now (e.g. from the equity-snapshot job), so the
    next page load does no database catch-up of its own."""
    _with_ledger(str(user_id), lambda _memo: None)


# ---- the answer ------------------------------------------------------------------------------


def _total_capital(owner: User) -> Decimal:
    """`capital.total_capital_usd` of the owner's current settings (validated when saved, so
    read as stored; the default when never saved)."""
    row = (
        SettingsVersion.select(SettingsVersion.document)
        .where(SettingsVersion.user == owner.id)
        .order_by(SettingsVersion.version.desc())
        .first()
    )
    capital = ((row.document if row else None) or {}).get("capital") or {}
    return Decimal(str(capital.get("total_capital_usd", DEFAULT_CAPITAL)))


def _allocation(owner: User) -> Allocation:
    """Open groups with their pyramids' capital (one query; sums in Python, exact)."""
    g, p = PositionGroup, Pyramid
    rows = (
        g.select(g.id, g.total_invested_usd, g.unrealized_pnl_usd, p.capital_usd)
        .join(p, JOIN.LEFT_OUTER, on=(p.group == g.id))
        .where((g.user == owner.id) & g.status.in_(OPEN))
        .tuples()
    )
    groups: dict = {}
    for gid, invested, unrealized, capital in rows:
        reserved = groups.get(gid, (invested, unrealized, Decimal(0)))[2]
        groups[gid] = (invested, unrealized, reserved + (capital or 0))
    exposures = (OpenExposure(inv, unr, res) for inv, unr, res in groups.values())
    return allocation(_total_capital(owner), exposures)


def performance_json(
    owner: User, first_day: date | None, last_day: date | None, now: datetime | None = None
) -> str:
    """`GET /api/performance` for `owner` over the UTC days `first_day ..= last_day`, as JSON
    text: the ledger's figures (cached until the ledger changes), then the live allocation and
    the time of the answer."""
    now = now or utcnow()

    def compute(ledger: Ledger) -> str:
        report = build_report(ledger, first_day=first_day, last_day=last_day, today=now.date())
        return report_json(report)

    figures = _with_ledger(
        str(owner.id), lambda memo: memo.body((first_day, last_day, now.date()), compute)
    )
    live = {"allocation": allocation_out(_allocation(owner)), "generated_at": isoformat(now)}
    return figures[:-1] + "," + dumps(live)[1:]


def performance(
    owner: User, first_day: date | None, last_day: date | None, now: datetime | None = None
) -> dict:
    """`performance_json` as a dict."""
    return json.loads(performance_json(owner, first_day, last_day, now))


# ---- CSV export ------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "group_id",
    "exchange",
    "symbol",
    "timeframe",
    "side",
    "opened_at",
    "closed_at",
    "pyramids",
    "invested_usd",
    "realized_pnl_usd",
)


def export_csv(owner: User, first_day: date | None, last_day: date | None) -> str:
    """The closed trades of the range (the same rows the figures count), oldest first."""
    g = PositionGroup
    query = g.select(
        g.id,
        g.exchange,
        g.symbol,
        g.timeframe,
        g.side,
        g.created_at,
        g.closed_at,
        g.pyramid_count,
        g.total_invested_usd,
        g.realized_pnl_usd,
    ).where((g.user == owner.id) & (g.status == CLOSED) & g.closed_at.is_null(False))
    if first_day is not None:
        query = query.where(g.closed_at >= datetime.combine(first_day, datetime.min.time()))
    if last_day is not None:
        end = datetime.combine(last_day + timedelta(days=1), datetime.min.time())
        query = query.where(g.closed_at < end)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for gid, exchange, symbol, tf, side, opened, closed, pyramids, invested, pnl in (
        query.order_by(g.closed_at, g.id).tuples().iterator()
    ):
        writer.writerow(
            [
                gid,
                exchange,
                symbol,
                tf,
                side,
                isoformat(opened),
                isoformat(closed),
                pyramids,
                plain_decimal(invested),
                plain_decimal(pnl),
            ]
        )
    return out.getvalue()
