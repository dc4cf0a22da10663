"""Position groups, their pyramids, DCA orders and the event trail of both (SPEC §4)."""

from __future__ import annotations

from decimal import Decimal

from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from server.clock import utcnow
from server.domain.enums import GroupStatus, OrderStatus
from server.persistence.fields import ExactDecimalField, JSONDocField
from server.persistence.models.accounts import ExchangeAccount
from server.persistence.models.base import UUIDModel
from server.persistence.models.users import User


class PositionGroup(UUIDModel):
    """One exchange account + symbol + timeframe + side; holds up to `max_pyramids` pyramids.

    Aggregates (`weighted_avg_entry`, `total_filled_quantity`, ...) are recomputed from the
    legs; they are stored so lists and the risk engine read them without joining every order.
    """

    user = ForeignKeyField(User, backref="groups", on_delete="CASCADE")
    account = ForeignKeyField(ExchangeAccount, null=True, backref="groups", on_delete="RESTRICT")
    exchange = CharField(max_length=16)
    symbol = CharField(max_length=32)
    timeframe = IntegerField()  # minutes
    side = CharField(max_length=8)
    status = CharField(max_length=20, default=GroupStatus.WAITING.value)
    status_changed_at = DateTimeField(default=utcnow)
    failure_reason = TextField(null=True)
    pyramid_count = IntegerField(default=0)
    max_pyramids = IntegerField(default=5)
    filled_dca_legs = IntegerField(default=0)
    total_dca_legs = IntegerField(default=0)
    weighted_avg_entry = ExactDecimalField(null=True)
    total_filled_quantity = ExactDecimalField(default=Decimal("0"))
    total_invested_usd = ExactDecimalField(default=Decimal("0"))
    unrealized_pnl_usd = ExactDecimalField(default=Decimal("0"))
    unrealized_pnl_percent = ExactDecimalField(default=Decimal("0"))
    realized_pnl_usd = ExactDecimalField(default=Decimal("0"))
    tp_mode = CharField(max_length=16, default="per_leg")
    risk_blocked = BooleanField(default=False)
    risk_skip_once = BooleanField(default=False)
    risk_timer_started_at = DateTimeField(null=True)
    over_limit = BooleanField(default=False)
    updated_at = DateTimeField(default=utcnow)
    closed_at = DateTimeField(null=True)
    # The last price the engine saw for the symbol (a fill, the price monitor): unrealised PnL.
    last_price = ExactDecimalField(null=True)
    last_price_at = DateTimeField(null=True)
    # Set after insufficient funds (SPEC §4.6): no further order is sent for this group, the
    # legs already filled keep being managed.
    no_more_orders = BooleanField(default=False)
    no_more_orders_reason = TextField(null=True)

    class Meta:
        indexes = (
            (("user", "status"), False),
            (("account", "symbol", "timeframe", "side", "status"), False),
        )


class Pyramid(UUIDModel):
    """One entry into a group: a grid of DCA legs anchored on its own entry price."""

    group = ForeignKeyField(PositionGroup, backref="pyramids", on_delete="CASCADE")
    index = IntegerField()
    entry_price = ExactDecimalField()
    capital_usd = ExactDecimalField()
    status = CharField(max_length=20, default="pending")

    class Meta:
        indexes = ((("group", "index"), True),)


class DcaOrder(UUIDModel):
    """An exchange order of a group: a DCA leg, a take-profit, a close or a risk offset.

    Created with its deterministic `client_order_id` *before* it is sent, so a retry after a
    crash asks the exchange for that id instead of sending a second order.
    """

    group = ForeignKeyField(PositionGroup, backref="orders", on_delete="CASCADE")
    pyramid = ForeignKeyField(Pyramid, null=True, backref="legs", on_delete="CASCADE")
    leg_index = IntegerField(null=True)
    purpose = CharField(max_length=8)
    side = CharField(max_length=4)  # buy | sell
    order_type = CharField(max_length=8)  # limit | market
    reduce_only = BooleanField(default=False)
    status = CharField(max_length=20, default=OrderStatus.PENDING.value, index=True)
    price = ExactDecimalField(null=True)
    quantity = ExactDecimalField()
    filled_quantity = ExactDecimalField(default=Decimal("0"))
    avg_fill_price = ExactDecimalField(null=True)
    fee = ExactDecimalField(default=Decimal("0"))  # every fill's fee in the quote currency
    fee_currency = CharField(max_length=16, null=True)  # the currency `fee` is in (the quote)
    fee_base = ExactDecimalField(default=Decimal("0"))  # the part taken in the base asset
    weight_percent = ExactDecimalField(null=True)
    gap_percent = ExactDecimalField(null=True)
    tp_percent = ExactDecimalField(null=True)
    tp_price = ExactDecimalField(null=True)
    tp_hit = BooleanField(default=False)
    client_order_id = CharField(max_length=64, unique=True)
    exchange_order_id = CharField(max_length=64, null=True, index=True)
    attempt = IntegerField(default=0)
    submitted_at = DateTimeField(null=True)
    updated_at = DateTimeField(default=utcnow)
    failure_reason = TextField(null=True)  # why it is `failed` (the exchange's words)
    last_error = TextField(null=True)  # the last transient error while sending or reading it
    send_count = IntegerField(default=0)  # create calls made under this client order id
    last_synced_at = DateTimeField(null=True)


class Fill(UUIDModel):
    """One exchange trade of an order, keyed by (order, trade id): applying it twice changes
    nothing. `fee_quote` is the fee in the quote currency (None when it was charged in a third
    currency with no known rate); `fee_base` is the part charged in the base asset."""

    order = ForeignKeyField(DcaOrder, backref="fills", on_delete="CASCADE")
    trade_id = CharField(max_length=64)
    price = ExactDecimalField()
    amount = ExactDecimalField()
    fee_cost = ExactDecimalField(default=Decimal("0"))
    fee_currency = CharField(max_length=16, null=True)
    fee_quote = ExactDecimalField(null=True)
    fee_base = ExactDecimalField(default=Decimal("0"))
    traded_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("order", "trade_id"), True),)


class PositionEvent(UUIDModel):
    """The trail of a group: every group transition and every order event, timestamped."""

    group = ForeignKeyField(PositionGroup, backref="events", on_delete="CASCADE")
    order = ForeignKeyField(DcaOrder, null=True, backref="events", on_delete="CASCADE")
    kind = CharField(max_length=32)
    from_status = CharField(max_length=20, null=True)
    to_status = CharField(max_length=20, null=True)
    detail = JSONDocField(default=dict)

    class Meta:
        indexes = ((("group", "created_at"), False),)
