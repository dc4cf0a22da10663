"""Signal intake (issue 4): what a signal is and where it goes, duplicate fingerprints, and the
webhook log's filters.

Written by hand. `signal` gains the normalised routing fields (exchange, market type, lane), the
sender's id, the arrival and processing sequence of its lane, and the replay flag.
`signal_fingerprint` holds one row per (user, body hash): the duplicate window of SPEC §2.1 is
enforced by a single upsert on its unique key. `webhook_log` gains the symbol (filter), whether
the request authenticated (only those may be replayed) and the row a replay came from.
`rollback` undoes exactly this, newest first.
"""

import peewee as pw
from peewee_migrate import Migrator

from server.persistence.fields import UUIDTextField


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    """Add the intake columns, the fingerprint table and the log's filter indexes."""

    migrator.add_fields(
        "signal",
        sender_signal_id=pw.CharField(max_length=128, null=True),
        exchange=pw.CharField(max_length=16, null=True),
        market_type=pw.CharField(max_length=16, null=True),
        lane=pw.CharField(max_length=128, null=True),
        arrival_seq=pw.BigIntegerField(null=True),
        processing_seq=pw.BigIntegerField(null=True),
        signal_time=pw.DateTimeField(null=True),
        processing_started_at=pw.DateTimeField(null=True),
        is_replay=pw.BooleanField(default=False),
    )
    migrator.add_index("signal", "status", "created_at", unique=False)

    @migrator.create_model
    class SignalFingerprint(pw.Model):
        id = UUIDTextField(primary_key=True)
        created_at = pw.DateTimeField(index=True)
        user = pw.ForeignKeyField(
            column_name="user_id", field="id", model=migrator.orm["user"], on_delete="CASCADE"
        )
        body_sha256 = pw.CharField(max_length=64)
        signal = pw.ForeignKeyField(
            column_name="signal_id",
            field="id",
            model=migrator.orm["signal"],
            null=True,
            on_delete="SET NULL",
        )
        accepted_at = pw.DateTimeField()

        class Meta:
            table_name = "signal_fingerprint"
            indexes = [(("user", "body_sha256"), True)]

    migrator.add_fields(
        "webhook_log",
        symbol=pw.CharField(max_length=32, null=True),
        authenticated=pw.BooleanField(default=False),
        replay_of=UUIDTextField(null=True),
    )
    migrator.add_index("webhook_log", "user", "status", "created_at", unique=False)
    migrator.add_index("webhook_log", "user", "symbol", "created_at", unique=False)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    """Drop what `migrate` added, newest first."""

    migrator.drop_index("webhook_log", "user", "symbol", "created_at")
    migrator.drop_index("webhook_log", "user", "status", "created_at")
    migrator.remove_fields("webhook_log", "symbol", "authenticated", "replay_of")

    migrator.remove_model("signal_fingerprint")

    migrator.drop_index("signal", "status", "created_at")
    migrator.remove_fields(
        "signal",
        "sender_signal_id",
        "exchange",
        "market_type",
        "lane",
        "arrival_seq",
        "processing_seq",
        "signal_time",
        "processing_started_at",
        "is_replay",
    )
