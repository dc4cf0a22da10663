"""Execution pool and queue (issue 6): why a queued signal ended, and a lookup by lane.

Written by hand. `queued_signal` gains `reason` (promoted into which group, expired after how
long, dropped by which exit/cancel, removed by whom) and an index on (account, symbol,
timeframe, side, status): a new entry signal looks up the queued signal of its lane to replace
it, an exit or cancel to drop it. `rollback` undoes exactly this, newest first.
"""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    """Add the reason column and the lane index."""

    migrator.add_fields("queued_signal", reason=pw.TextField(null=True))
    migrator.add_index(
        "queued_signal", "account", "symbol", "timeframe", "side", "status", unique=False
    )


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    """Drop the index and the column."""

    migrator.drop_index("queued_signal", "account", "symbol", "timeframe", "side", "status")
    migrator.remove_fields("queued_signal", "reason")
