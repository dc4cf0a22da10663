"""Position lifecycle (issue 5): fills keyed by trade id, base-asset fees, order failures, and
what a group needs to stop sending or price itself.

Written by hand. `fill` holds one row per exchange trade of an order, unique by (order,
trade id), so applying a trade twice changes nothing. `dca_order` gains the fee taken in the
base asset (what a spot buy really received is filled − fee_base), the reason an order
failed, the last transient error, how often it was sent, and when it was last read back.
`position_group` gains its last known price (unrealised PnL) and the no-more-orders flag set
after insufficient funds (SPEC §4.6). `rollback` undoes exactly this, newest first.
"""

import peewee as pw
from peewee_migrate import Migrator

from server.persistence.fields import ExactDecimalField, UUIDTextField


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    """Add the lifecycle columns and the fill table."""

    migrator.add_fields(
        "position_group",
        last_price=ExactDecimalField(null=True),
        last_price_at=pw.DateTimeField(null=True),
        no_more_orders=pw.BooleanField(default=False),
        no_more_orders_reason=pw.TextField(null=True),
    )
    migrator.add_fields(
        "dca_order",
        fee_base=ExactDecimalField(default="0"),
        failure_reason=pw.TextField(null=True),
        last_error=pw.TextField(null=True),
        send_count=pw.IntegerField(default=0),
        last_synced_at=pw.DateTimeField(null=True),
    )

    @migrator.create_model
    class Fill(pw.Model):
        id = UUIDTextField(primary_key=True)
        created_at = pw.DateTimeField(index=True)
        order = pw.ForeignKeyField(
            column_name="order_id",
            field="id",
            model=migrator.orm["dca_order"],
            on_delete="CASCADE",
        )
        trade_id = pw.CharField(max_length=64)
        price = ExactDecimalField()
        amount = ExactDecimalField()
        fee_cost = ExactDecimalField(default="0")
        fee_currency = pw.CharField(max_length=16, null=True)
        fee_quote = ExactDecimalField(null=True)
        fee_base = ExactDecimalField(default="0")
        traded_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "fill"
            indexes = [(("order", "trade_id"), True)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    """Drop what `migrate` added, newest first."""

    migrator.remove_model("fill")
    migrator.remove_fields(
        "dca_order", "fee_base", "failure_reason", "last_error", "send_count", "last_synced_at"
    )
    migrator.remove_fields(
        "position_group", "last_price", "last_price_at", "no_more_orders", "no_more_orders_reason"
    )
