"""The price monitor shared by every user and group (SPEC §4.4, §7): one batched ticker read
per venue per cycle, take-profit triggers found through the index, unrealised PnL kept fresh.

Each cycle (`PRICE_MONITOR_MS`, default 500 ms; the process is `python -m
workers.price_monitor`):

1. the watch list — which venues and symbols have open groups — comes from the trigger index
   (`state.tp_index`), reloaded only when its version changed;
2. every venue is read with ONE `fetch_tickers` call for all its symbols (venues in
   parallel; a public read, any account of the venue will do);
3. for every (venue, symbol, price) the index answers which groups' triggers were crossed —
   two `ZRANGEBYSCORE`s per symbol in one pipeline, whatever the number of groups — and each
   crossed group not already handed over goes to a worker
   (`workers.jobs.positions.evaluate_take_profit` on the `orders` queue) with the price. A
   group stays handed over until its evaluation reports back, then for `RECROSS_AFTER_MS`
   if its trigger did not move (`state.tp_index`): a move that crosses thousands of groups
   queues one evaluation each, not one every few seconds each while the workers catch up;
4. the prices are published to Redis (`tp_index.set_prices`: the close routine's reference
   for the minimum-notional check, the queue's loss ranking later).

The unrealised PnL pass (`pnl_pass`, its own thread, at most once a second) writes each open
group's `last_price` and unrealised USD / % (`domain.pnl.unrealised` on the figures the index
holds) and publishes `group.updated` to its owner — at most once per second per group and
only when something moved — and a `price.tick` per user and symbol at most once a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

from flask import Flask
from rq import Queue

from server import events, queues, runtime
from server.api.serializers import group_out
from server.clock import isoformat, utcnow
from server.domain.pnl import unrealised
from server.exchange.base import ExchangeClient
from server.persistence.db import db, is_postgres
from server.persistence.models import ExchangeAccount, PositionGroup
from server.services.exchanges import client_for
from server.services.position_book import TRADING, index
from server.state.tp_index import TriggerIndex, Watched

log = logging.getLogger(__name__)

PNL_EVERY_SECONDS = 1.0  # group.updated / price.tick: at most this often per group / symbol
ERROR_LOG_EVERY_SECONDS = 30.0
HEARTBEAT = "{prefix}engine:price-monitor:heartbeat"


@dataclass
class CycleResult:
    prices: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    fired: list[tuple[str, Decimal]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


class PriceMonitor:
    """One monitor per stack (a second one is harmless: crossings are handed over once)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._version = -1
        self._epoch: str | None = None
        self._watched: dict[str, Watched] = {}
        self._venues: dict[str, list[str]] = {}  # venue -> symbols
        self._venue_accounts: dict[str, list[str]] = {}  # venue -> account ids
        self._clients: dict[str, ExchangeClient] = {}
        self._last: dict[tuple[str, str], Decimal] = {}
        self._lock = threading.Lock()
        self._sent: dict[str, tuple[float, Decimal, Decimal]] = {}  # group -> (at, price, usd)
        self._ticked: dict[tuple[str, str, str], float] = {}
        self._logged: dict[str, float] = {}
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="prices")

    # --- the watch list -----------------------------------------------------------------------

    def _index(self) -> TriggerIndex:
        return index()

    def refresh(self) -> bool:
        """Bring the watch list up to the index: only the groups that changed since the last
        look (the index's change log), everything when the log does not reach back. True
        when something changed."""
        idx = self._index()
        epoch = idx.epoch()
        delta = idx.changes_since(self._version) if epoch == self._epoch else None
        if delta is not None and not delta[1] and delta[0] == self._version:
            return False
        if delta is None:
            version = idx.version()
            watched = {w.group_id: w for w in idx.all()}
        else:
            version, changed = delta
            watched = dict(self._watched)
            for group_id, entry in changed.items():
                if entry is None:
                    watched.pop(group_id, None)
                else:
                    watched[group_id] = entry
        venues: dict[str, set[str]] = defaultdict(set)
        accounts: dict[str, list[str]] = defaultdict(list)
        for item in watched.values():
            venues[item.venue].add(item.symbol)
            if item.account_id not in accounts[item.venue]:
                accounts[item.venue].append(item.account_id)
        with self._lock:
            self._watched = watched
            self._venues = {v: sorted(s) for v, s in venues.items()}
            for venue in [v for v in self._clients if v not in accounts]:
                del self._clients[venue]
            self._venue_accounts = dict(accounts)
            self._version = version
            self._epoch = epoch
        return True

    def _client(self, venue: str) -> ExchangeClient | None:
        """A client of any account of the venue (tickers are public); kept until the watch
        list changes."""
        client = self._clients.get(venue)
        if client is not None:
            return client
        for account_id in self._venue_accounts.get(venue, []):
            account = ExchangeAccount.get_or_none(ExchangeAccount.id == account_id)
            if account is not None:
                client = self._clients[venue] = client_for(account)
                return client
        return None

    # --- one cycle ----------------------------------------------------------------------------

    def _read(self, venue: str, symbols: list[str]) -> dict[str, Decimal]:
        client = self._client(venue)
        if client is None:
            return {}
        return {s: t.last for s, t in client.fetch_tickers(symbols).items()}

    def _read_in_thread(self, venue: str, symbols: list[str]) -> dict[str, Decimal]:
        with self.app.app_context(), db.connection_context():
            return self._read(venue, symbols)

    def read_prices(self, result: CycleResult) -> dict[tuple[str, str], Decimal]:
        """One batched ticker read per venue; several venues are read in parallel."""
        venues = dict(self._venues)
        for venue in venues:  # clients are made here, in the caller's app context
            self._client(venue)
        answers: dict[str, object] = {}
        if len(venues) == 1:
            venue, symbols = next(iter(venues.items()))
            try:
                answers[venue] = self._read(venue, symbols)
            except Exception as exc:
                answers[venue] = exc
        else:
            futures = {v: self._pool.submit(self._read_in_thread, v, s) for v, s in venues.items()}
            for venue, future in futures.items():
                try:
                    answers[venue] = future.result()
                except Exception as exc:
                    answers[venue] = exc
        prices: dict[tuple[str, str], Decimal] = {}
        for venue, answer in answers.items():
            if isinstance(answer, Exception):  # one venue down must not blind the others
                result.errors[venue] = str(answer)
                self._log_error(venue, answer)
                continue
            for symbol, price in answer.items():
                prices[(venue, symbol)] = price
        return prices

    def _log_error(self, venue: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._logged.get(venue, 0.0) >= ERROR_LOG_EVERY_SECONDS:
            self._logged[venue] = now
            log.warning("price monitor: %s not readable: %s", venue, exc)

    def cycle(self) -> CycleResult:
        """Read prices, hand crossed triggers to workers, publish the prices (module doc)."""
        result = CycleResult()
        self.refresh()
        prices = self.read_prices(result)
        result.prices = prices
        if not prices:
            return result
        idx = self._index()
        crossed = idx.crossed((v, s, p) for (v, s), p in prices.items())
        if crossed:
            chosen = dict(crossed)
            fresh = idx.fire(list(chosen))
            result.fired = [(g, chosen[g]) for g in fresh]
            self._hand_over(result.fired)
        by_venue: dict[str, dict[str, Decimal]] = defaultdict(dict)
        for (venue, symbol), price in prices.items():
            by_venue[venue][symbol] = price
        for venue, venue_prices in by_venue.items():
            idx.set_prices(venue, venue_prices)
        with self._lock:
            self._last.update(prices)
        return result

    def _hand_over(self, fired: list[tuple[str, Decimal]]) -> None:
        """Enqueue one evaluation per crossed group, in one Redis round trip."""
        if not fired:
            return
        queue = queues.queue(queues.ORDERS)
        jobs = [
            Queue.prepare_data(
                "workers.jobs.positions.evaluate_take_profit",
                args=(group_id, str(price)),
                result_ttl=60,
                failure_ttl=24 * 3600,
            )
            for group_id, price in fired
        ]
        queue.enqueue_many(jobs)

    def heartbeat(self) -> None:
        prefix = self.app.config["RQ_QUEUE_PREFIX"]
        runtime.redis_client().set(HEARTBEAT.format(prefix=prefix), str(time.time()), ex=60)

    # --- unrealised PnL -----------------------------------------------------------------------

    def pnl_pass(self) -> int:
        """Store and announce the unrealised PnL of every open group whose price or figures
        moved, at most once a second per group; returns how many groups were written."""
        now = time.monotonic()
        with self._lock:
            watched, last = dict(self._watched), dict(self._last)
        changed: list[tuple[Watched, Decimal, Decimal, Decimal]] = []
        for item in watched.values():
            price = last.get((item.venue, item.symbol))
            if price is None:
                continue
            usd, percent = unrealised(
                item.side, price, held_quantity=item.held, filled_quantity=item.filled,
                invested=item.invested,
            )  # fmt: skip
            sent = self._sent.get(item.group_id)
            if sent is not None and (sent[1], sent[2]) == (price, usd):
                continue
            if sent is not None and now - sent[0] < PNL_EVERY_SECONDS:
                continue
            changed.append((item, price, usd, percent))
        if changed:
            self._store_pnl(changed, now)
        self._ticks(watched, last, now)
        return len(changed)

    def _store_pnl(self, changed, now: float) -> None:
        stamp = utcnow()
        if is_postgres():
            _bulk_update_pnl(changed, stamp)
        else:
            with db.atomic():
                for item, price, usd, percent in changed:
                    PositionGroup.update(
                        last_price=price, last_price_at=stamp, unrealized_pnl_usd=usd,
                        unrealized_pnl_percent=percent, updated_at=stamp,
                    ).where(
                        (PositionGroup.id == item.group_id)
                        & (PositionGroup.status.in_(list(TRADING)))
                    ).execute()  # fmt: skip
        rows = PositionGroup.select().where(
            PositionGroup.id.in_([item.group_id for item, *_ in changed])
            & PositionGroup.status.in_(list(TRADING))
        )
        for group in rows:
            events.publish(events.Event.GROUP_UPDATED, group_out(group), group.user_id)
        for item, price, usd, _ in changed:
            self._sent[item.group_id] = (now, price, usd)
        for gone in set(self._sent) - set(self._watched):
            self._sent.pop(gone, None)

    def _ticks(self, watched: dict[str, Watched], last, now: float) -> None:
        """`price.tick` to each user holding the symbol, at most once a second."""
        seen: set[tuple[str, str, str]] = set()
        for item in watched.values():
            key = (item.user_id, item.venue, item.symbol)
            price = last.get((item.venue, item.symbol))
            if key in seen or price is None:
                continue
            seen.add(key)
            if now - self._ticked.get(key, 0.0) < PNL_EVERY_SECONDS:
                continue
            self._ticked[key] = now
            payload = {
                "exchange": item.venue.split(".")[0],
                "market_type": item.venue.rsplit(".", 1)[-1],
                "symbol": item.symbol,
                "price": str(price),
                "at": isoformat(utcnow()),
            }
            events.publish(events.Event.PRICE_TICK, payload, item.user_id)


_BULK_PNL = """
UPDATE position_group AS g
SET last_price = v.price::numeric, last_price_at = %s, unrealized_pnl_usd = v.usd::numeric,
    unrealized_pnl_percent = v.pct::numeric, updated_at = %s
FROM (VALUES {rows}) AS v(id, price, usd, pct)
WHERE g.id = v.id::uuid AND g.status IN ('live', 'partially_filled', 'active')
"""


def _bulk_update_pnl(changed, stamp, chunk: int = 500) -> None:
    """PostgreSQL: one UPDATE … FROM (VALUES …) per `chunk` groups instead of one per group
    (decimals travel as text and are cast to NUMERIC: nothing is rounded)."""
    for start in range(0, len(changed), chunk):
        part = changed[start : start + chunk]
        rows = ", ".join(["(%s, %s, %s, %s)"] * len(part))
        params: list = [stamp, stamp]
        for item, price, usd, percent in part:
            params += [item.group_id, str(price), str(usd), str(percent)]
        db.execute_sql(_BULK_PNL.format(rows=rows), params)


class FailureLog:
    """How a loop step that keeps failing is logged: the first failure with its traceback,
    then at most one line every `every` seconds with the count so far, and one line when it
    works again — a 5 s database outage is a few lines, not a traceback every cycle."""

    def __init__(self, what: str, every: float = ERROR_LOG_EVERY_SECONDS, clock=time.monotonic):
        self.what, self.every, self.clock = what, every, clock
        self.failures = 0
        self._logged_at = 0.0

    def failed(self, exc: BaseException) -> None:
        self.failures += 1
        now = self.clock()
        if self.failures == 1:
            log.error("%s failed", self.what, exc_info=exc)
            self._logged_at = now
        elif now - self._logged_at >= self.every:
            log.error("%s still failing (%d attempts so far): %s", self.what, self.failures, exc)
            self._logged_at = now

    def worked(self) -> None:
        if self.failures:
            log.warning("%s works again after %d failed attempt(s)", self.what, self.failures)
            self.failures = 0


def run_forever(app: Flask, interval_ms: int, stop: threading.Event) -> None:
    """The monitor's loop: a cycle every `interval_ms` (a slow cycle is followed at once by
    the next), the PnL pass in a thread of its own."""
    monitor = PriceMonitor(app)
    pnl_failures = FailureLog("price monitor: unrealised PnL pass")
    cycle_failures = FailureLog("price monitor cycle")

    def pnl_loop() -> None:
        while not stop.wait(PNL_EVERY_SECONDS / 2):
            try:
                with app.app_context(), db.connection_context():
                    monitor.pnl_pass()
            except Exception as exc:
                pnl_failures.failed(exc)
            else:
                pnl_failures.worked()

    threading.Thread(target=pnl_loop, name="pnl", daemon=True).start()
    interval = interval_ms / 1000
    beat = 0.0
    while not stop.is_set():
        started = time.monotonic()
        try:
            with app.app_context(), db.connection_context():
                monitor.cycle()
                if started - beat >= 2.0:
                    monitor.heartbeat()
                    beat = started
        except Exception as exc:
            cycle_failures.failed(exc)
            stop.wait(1.0)
        else:
            cycle_failures.worked()
        stop.wait(max(interval - (time.monotonic() - started), 0.0))
