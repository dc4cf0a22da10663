"""Performance analytics (issue 10): closed groups by user, status and close time.

Written by hand. The performance page re-reads a user's groups closed since the start of the
day (and the CSV export a range of them) on every request; `(user_id, status, closed_at)`
answers that from the index instead of walking every closed group of the user. Snapshots are
already indexed by `(user_id, taken_at)`. `rollback` drops exactly this index.
"""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    """Index closed groups by user, status and close time."""

    migrator.add_index("position_group", "user", "status", "closed_at", unique=False)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    """Drop the index."""

    migrator.drop_index("position_group", "user", "status", "closed_at")
