"""The execution pool (SPEC §5): how many groups a user may have open at once.

A group holds a slot from `live` until `closed`/`failed`; taking one is one Lua script
(`state.pool_store`), so two signals racing for the last slot never both get it. Pyramids take
no slot unless `count_pyramids_toward_pool` (then each pyramid after the first holds one).

Redis is a fast copy. `ensure_built` rebuilds the pools and the queues from PostgreSQL when
the copy's marker key is missing (start-up, a flushed or replaced Redis) and logs it. While the
copy is missing every script refuses, so no slot is handed out from an empty copy; and the
rebuild takes a PostgreSQL advisory lock exclusively while every transaction that takes a slot
holds it shared (`_slot_guard`) — so a rebuild never reads the groups while a slot taken from
the old copy is still uncommitted (it would be missing from the new copy and the pool would
overfill).

`release_slot` is called by the close routine once a group is `closed`/`failed`; it frees the
slot and promotes from the queue in the same job (`services.queue_promotion.promote_ready`).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC
from functools import cache

from flask import current_app
from peewee import fn

from server import events, runtime
from server.domain.enums import SLOT_HOLDING_STATUSES, LogCategory, LogLevel
from server.persistence.db import db, is_postgres
from server.persistence.models import PositionGroup, QueuedSignal, User
from server.services.journal import system_log
from server.services.settings import effective_settings
from server.state.pool_store import NotBuilt, PoolStore, slot_value

log = logging.getLogger(__name__)

ADVISORY_KEY = 0x504F4F4C  # "POOL": shared by slot takers, exclusive for a rebuild
OPEN = [s.value for s in SLOT_HOLDING_STATUSES]


class PoolNotReady(RuntimeError):
    """The Redis copy vanished inside a transaction: the caller retries (transient)."""


@cache
def _stores() -> dict:
    return {}


def store() -> PoolStore:
    """This process's pool store for the configured Redis and key prefix."""
    client = runtime.redis_client()
    prefix = current_app.config["RQ_QUEUE_PREFIX"]
    key = (id(client), prefix)
    found = _stores().get(key)
    if found is None:
        found = _stores()[key] = PoolStore(client, prefix)
    return found


def now_ms() -> int:
    return int(time.time() * 1000)


def limit_of(settings: dict) -> int:
    return int(settings["pool"]["max_open_groups"])


def pyramids_count(settings: dict) -> bool:
    return bool(settings["pool"]["count_pyramids_toward_pool"])


# --------------------------------------------------------------------------- rebuild


def _slot_guard() -> None:
    """Inside the caller's transaction: hold the rebuild lock shared until commit."""
    if db.in_transaction() and is_postgres():
        db.execute_sql("SELECT pg_advisory_xact_lock_shared(%s)", (ADVISORY_KEY,))


def _pools_from_database() -> tuple[dict[str, dict[str, str]], int]:
    """Every open group's slot (and, where pyramids count, its pyramids' slots)."""
    pools: dict[str, dict[str, str]] = {}
    settings_of: dict[str, dict] = {}
    count = 0
    groups = PositionGroup.select(
        PositionGroup.id, PositionGroup.user, PositionGroup.pyramid_count, PositionGroup.created_at
    ).where(PositionGroup.status.in_(OPEN))
    for group in groups:
        user = str(group.user_id)
        if user not in settings_of:
            settings_of[user] = effective_settings(User.get_by_id(group.user_id))
        taken = (
            int(group.created_at.replace(tzinfo=UTC).timestamp() * 1000)
            if group.created_at
            else now_ms()
        )
        slots = pools.setdefault(user, {})
        slots[str(group.id)] = slot_value(str(group.id), taken)
        count += 1
        if pyramids_count(settings_of[user]):
            for index in range(1, max(1, group.pyramid_count)):
                slots[f"{group.id}:p{index}"] = slot_value(str(group.id), taken)
                count += 1
    return pools, count


def rebuild(why: str) -> dict[str, int]:
    """Rebuild every pool and queue from PostgreSQL and set the marker (one MULTI/EXEC).
    Waits for transactions that hold a slot from the old copy to commit (advisory lock)."""
    from server.services import queue

    started = time.monotonic()
    with db.atomic():
        if is_postgres():
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_KEY,))
        pools, slots = _pools_from_database()
        queues, queued = queue.scores_from_database()
        users = {str(u.user_id) for u in QueuedSignal.select(QueuedSignal.user).distinct()}
        store().rebuild(pools, queues, users)
    took = int((time.monotonic() - started) * 1000)
    message = (
        f"pool and queue rebuilt from PostgreSQL ({why}): {slots} slot(s) held, "
        f"{queued} signal(s) queued, {len(set(pools) | set(queues))} user(s), {took} ms"
    )
    log.warning(message)
    system_log(LogLevel.WARNING, LogCategory.SYSTEM, message)
    return {"slots": slots, "queued": queued}


def ensure_built() -> bool:
    """Rebuild when Redis has no copy (True when it did). Call outside a transaction."""
    if store().built():
        return False
    rebuild("Redis had no pool copy: start-up or Redis restarted empty")
    return True


def call(action):
    """Run a store action; on `NotBuilt` rebuild (outside a transaction) and run it again,
    inside one raise `PoolNotReady` (the lane retries; the sweep rebuilds)."""
    try:
        return action()
    except NotBuilt:
        if db.in_transaction():
            raise PoolNotReady("the pool copy in Redis is being rebuilt") from None
        ensure_built()
        return action()


# --------------------------------------------------------------------------- slots


def try_take_slot(user_id, group, settings: dict | None = None) -> bool:
    """Take a slot for the new `group` (atomic), or False: the pool is full (queue it)."""
    settings = settings or effective_settings(User.get_by_id(user_id))
    _slot_guard()
    value = slot_value(str(group.id), now_ms())
    return call(lambda: store().take(user_id, str(group.id), value, limit_of(settings)))


def try_take_pyramid_slot(group, index: int, settings: dict) -> bool:
    """A pyramid's slot when `count_pyramids_toward_pool`, else True (it needs none)."""
    if not pyramids_count(settings):
        return True
    _slot_guard()
    value = slot_value(str(group.id), now_ms())
    slot_id = f"{group.id}:p{index}"
    return call(lambda: store().take(group.user_id, slot_id, value, limit_of(settings)))


def release_slot(group) -> None:
    """Give back every slot `group` holds, then promote from the queue (SPEC §4.5: "free the
    slot, then promote") — in the caller's job. Called once the group is `closed`/`failed`."""
    from server.services import queue_promotion

    freed = call(lambda: store().release_group(group.user_id, str(group.id)))
    if freed:
        publish_pool(group.user_id)
    try:
        queue_promotion.promote_ready(group.user_id)
    except Exception:  # the close is done; the sweep promotes in a few seconds anyway
        log.exception("promotion after releasing %s failed", group.id)


# --------------------------------------------------------------------------- reading


def pool_out(user_id, settings: dict | None = None) -> dict:
    """GET /api/pool: `{max_open_groups, used, free, groups, over_limit, slots}`."""
    settings = settings or effective_settings(User.get_by_id(user_id))
    if not db.in_transaction():
        ensure_built()
    slots = sorted(store().slots(user_id), key=lambda s: (s.taken_ms, s.slot_id))
    limit = limit_of(settings)
    used = len(slots)
    return {
        "max_open_groups": limit,
        "used": used,
        "free": max(0, limit - used),
        "over_limit": max(0, used - limit),
        "groups": list(dict.fromkeys(s.group_id for s in slots)),
        "slots": [
            {"slot_id": s.slot_id, "group_id": s.group_id, "forced": s.forced} for s in slots
        ],
    }


def usage(user_id, settings: dict | None = None) -> dict:
    """The dashboard's pool line: `dict(used, max, free, queued)`, from the counts alone
    (HLEN, ZCARD): reading and sorting every slot, as `pool_out` does, costs milliseconds
    per thousand open groups. `settings`: the user's current document, when the caller has
    it already."""
    limit = limit_of(settings or effective_settings(User.get_by_id(user_id)))
    if not db.in_transaction():
        ensure_built()
    used = store().used(user_id)
    return {
        "used": used,
        "max": limit,
        "free": max(0, limit - used),
        "queued": store().queued(user_id),
    }


def publish_pool(user_id) -> None:
    try:
        events.publish(events.Event.POOL_UPDATED, pool_out(user_id), user_id)
    except Exception:
        log.exception("pool.updated not published")


def open_group_counts() -> dict[str, int]:
    """Open groups per user in PostgreSQL (the reconciliation's reference)."""
    rows = (
        PositionGroup.select(PositionGroup.user, fn.COUNT(PositionGroup.id).alias("n"))
        .where(PositionGroup.status.in_(OPEN))
        .group_by(PositionGroup.user)
    )
    return {str(r.user_id): int(r.n) for r in rows}
