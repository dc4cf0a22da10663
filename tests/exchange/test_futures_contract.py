"""Futures-only behaviour the engine relies on: reduce-only closing orders (SPEC §2.3)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from server.exchange.errors import InvalidOrder
from server.exchange.types import ExchangeOrderStatus, OrderSide, OrderType
from tests.exchange.conftest import make_client


@pytest.mark.needs("futures")
def test_reduce_only_closes_but_never_opens(sim, venue):
    """A reduce-only sell with no position is refused; after a 0.003 buy it closes it."""
    sim.price("BTCUSDT", "60000")
    client = make_client(sim, venue)
    with pytest.raises(InvalidOrder):
        client.create_order(
            "BTCUSDT",
            OrderSide.SELL,
            OrderType.MARKET,
            Decimal("0.003"),
            None,
            "cid-ro-1",
            reduce_only=True,
        )
    client.create_order(
        "BTCUSDT", OrderSide.BUY, OrderType.MARKET, Decimal("0.003"), None, "cid-ro-open"
    )
    close = client.create_order(
        "BTCUSDT",
        OrderSide.SELL,
        OrderType.MARKET,
        Decimal("0.003"),
        None,
        "cid-ro-2",
        reduce_only=True,
    )
    order = client.fetch_order("BTCUSDT", exchange_id=close.id)
    assert order.status is ExchangeOrderStatus.FILLED and order.filled == Decimal("0.003")
