"""The execution pool's one question, asked before a new group opens (SPEC §5).

Today the pool is unlimited: the pool-and-queue issue replaces `try_take_slot` with the atomic
Redis slot (a Lua script) and the queue for signals that find the pool full.
"""

from __future__ import annotations


def try_take_slot(user, group) -> bool:
    """May `user` open `group` now? Always True until the pool issue replaces this function
    (then: take a slot atomically, or say no so the signal is queued)."""
    return True


def release_slot(group) -> None:
    """Give back the slot `group` held, then promote from the queue (SPEC §4.5: "free the
    slot, then promote"). Called once a group is `closed` or `failed` by the close routine.
    A no-op while the pool is unlimited: the pool-and-queue issue replaces this function
    (release atomically in Redis, then promote the top queued signal)."""
    return None
