"""Money per API key: a spot wallet (free/locked per asset) and a linear-futures ledger.

Both are dialect-neutral (Bybit spot and linear can reuse them) and pure apart from their own
dicts; the `Venue` in core.py calls them under the simulator lock:

* `reserve(order, ref_price)` before matching — False means "insufficient balance/margin";
* `settle(order, fill)` after each fill;
* `release(order)` when an order closes (filled, canceled, expired) to free what is left.

Spot: a LIMIT buy locks price x qty of the quote asset, a sell locks qty of the base asset; a
MARKET buy locks last x qty. A fill below the locked price refunds the difference. The fee is
taken from the asset received (matching.FeeSchedule).

Futures (USDⓈ-M, one-way mode, cross margin, USDT margined): the wallet holds `walletBalance`
per asset; a signed net position per symbol with an average entry price; realised PnL and fees
move the wallet. Margin check: the part of an order that opens or increases a position needs
notional / leverage of available balance (wallet + unrealised PnL - position margin -
open-order margin). Reduce-only orders never need margin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from server.simulator.matching import BUY, MARKET, ZERO, Fill, Order

DEFAULT_LEVERAGE = 20


class SpotLedger:
    """Spot wallets: owner -> asset -> [free, locked]; per-order reservations."""

    def __init__(self) -> None:
        self.wallets: dict[str, dict[str, list[Decimal]]] = {}
        self.updated_ms: dict[str, int] = {}
        self._held: dict[int, tuple[str, Decimal, Decimal]] = {}  # order_id -> asset, amount, px

    def has(self, owner: str) -> bool:
        return owner in self.wallets

    def set_balances(self, owner: str, balances: dict[str, Decimal], now: int) -> None:
        """Set the free amount of each listed asset (locked amounts and other assets stay)."""
        wallet = self.wallets.setdefault(owner, {})
        for asset, amount in balances.items():
            wallet.setdefault(asset, [ZERO, ZERO])[0] = amount
        self.updated_ms[owner] = now

    def balances(self, owner: str) -> dict[str, tuple[Decimal, Decimal]]:
        return {a: (v[0], v[1]) for a, v in self.wallets.get(owner, {}).items()}

    def _slot(self, owner: str, asset: str) -> list[Decimal]:
        return self.wallets.setdefault(owner, {}).setdefault(asset, [ZERO, ZERO])

    def reserve(self, order: Order, ref_price: Decimal) -> bool:
        """Lock what the order may spend; False (nothing locked) when the free balance is short."""
        if order.side == BUY:
            px = ref_price if order.type == MARKET or order.price is None else order.price
            asset, amount = order.quote, px * order.qty
        else:
            px, asset, amount = ZERO, order.base, order.qty
        slot = self._slot(order.owner, asset)
        if slot[0] < amount:
            return False
        slot[0] -= amount
        slot[1] += amount
        self._held[order.order_id] = (asset, amount, px)
        return True

    def settle(self, order: Order, fill: Fill) -> None:
        asset, held, px = self._held[order.order_id]
        base = self._slot(order.owner, order.base)
        quote = self._slot(order.owner, order.quote)
        if order.side == BUY:
            spend_locked = px * fill.qty
            quote[1] -= spend_locked
            quote[0] += spend_locked - fill.quote_qty  # refund when filled below the locked price
            base[0] += fill.qty - (fill.commission if fill.commission_asset == order.base else 0)
            held -= spend_locked
        else:
            base[1] -= fill.qty
            received = fill.quote_qty
            quote[0] += received - (fill.commission if fill.commission_asset == order.quote else 0)
            held -= fill.qty
        self._held[order.order_id] = (asset, held, px)
        self.updated_ms[order.owner] = fill.time_ms

    def release(self, order: Order) -> None:
        held = self._held.pop(order.order_id, None)
        if held is None:
            return
        asset, amount, _px = held
        slot = self._slot(order.owner, asset)
        slot[1] -= amount
        slot[0] += amount


@dataclass
class Position:
    """Net one-way position of one owner in one symbol."""

    amount: Decimal = ZERO  # signed: > 0 long, < 0 short
    entry: Decimal = ZERO
    updated_ms: int = 0


@dataclass
class FuturesAccount:
    wallet: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    leverage: dict[str, int] = field(default_factory=dict)
    updated_ms: int = 0


class LinearLedger:
    """USDT-margined futures accounts; `price_of(symbol)` gives the mark (= last) price."""

    margin_asset = "USDT"

    def __init__(self, price_of: Callable[[str], Decimal]) -> None:
        self.accounts: dict[str, FuturesAccount] = {}
        self.price_of = price_of
        self.open_orders: Callable[[str], list[Order]] = lambda owner: []

    def has(self, owner: str) -> bool:
        return owner in self.accounts

    def account(self, owner: str) -> FuturesAccount:
        return self.accounts.setdefault(owner, FuturesAccount())

    def set_balances(self, owner: str, balances: dict[str, Decimal], now: int) -> None:
        acct = self.account(owner)
        acct.wallet.update(balances)
        acct.updated_ms = now

    def leverage(self, owner: str, symbol: str) -> int:
        return self.account(owner).leverage.get(symbol, DEFAULT_LEVERAGE)

    def position(self, owner: str, symbol: str) -> Position:
        return self.account(owner).positions.setdefault(symbol, Position())

    def unrealized(self, owner: str, symbol: str) -> Decimal:
        pos = self.account(owner).positions.get(symbol)
        if pos is None or pos.amount == 0:
            return ZERO
        return (self.price_of(symbol) - pos.entry) * pos.amount

    def position_margin(self, owner: str, symbol: str) -> Decimal:
        pos = self.account(owner).positions.get(symbol)
        if pos is None or pos.amount == 0:
            return ZERO
        return abs(pos.amount) * self.price_of(symbol) / self.leverage(owner, symbol)

    def order_margin(self, order: Order) -> Decimal:
        if order.reduce_only or order.price is None:
            return ZERO
        return order.remaining * order.price / self.leverage(order.owner, order.symbol)

    def totals(self, owner: str) -> dict[str, Decimal]:
        """Account-wide figures of the margin asset, as the account endpoints report them."""
        acct = self.account(owner)
        wallet = acct.wallet.get(self.margin_asset, ZERO)
        unrealized = sum((self.unrealized(owner, s) for s in acct.positions), ZERO)
        pos_margin = sum((self.position_margin(owner, s) for s in acct.positions), ZERO)
        order_margin = sum((self.order_margin(o) for o in self.open_orders(owner)), ZERO)
        available = wallet + unrealized - pos_margin - order_margin
        return {
            "wallet": wallet,
            "unrealized": unrealized,
            "position_margin": pos_margin,
            "order_margin": order_margin,
            "margin_balance": wallet + unrealized,
            "available": available,
        }

    def would_increase(self, order: Order) -> bool:
        """True when a reduce-only order would open or grow the position (Binance -2022)."""
        pos = self.position(order.owner, order.symbol).amount
        return pos == 0 or (pos > 0) == (order.side == BUY)

    def reduce_cap(self, order: Order, qty: Decimal) -> Decimal:
        """For reduce-only orders: never trade more than the position that is left."""
        if not order.reduce_only:
            return qty
        if self.would_increase(order):
            return ZERO
        return min(qty, abs(self.position(order.owner, order.symbol).amount))

    def reserve(self, order: Order, ref_price: Decimal) -> bool:
        """Margin check for the opening part of the order (nothing is locked: margin is live)."""
        if order.reduce_only:
            return True
        pos = self.position(order.owner, order.symbol).amount
        closing = abs(pos) if pos != 0 and (pos > 0) != (order.side == BUY) else ZERO
        opening = max(order.qty - closing, ZERO)
        px = order.price if order.price is not None else ref_price
        need = opening * px / self.leverage(order.owner, order.symbol)
        return need <= self.totals(order.owner)["available"]

    def settle(self, order: Order, fill: Fill) -> None:
        acct = self.account(order.owner)
        pos = self.position(order.owner, order.symbol)
        signed = fill.qty if order.side == BUY else -fill.qty
        realized = ZERO
        if pos.amount != 0 and (pos.amount > 0) != (signed > 0):
            closed = min(abs(signed), abs(pos.amount))
            direction = 1 if pos.amount > 0 else -1
            realized = (fill.price - pos.entry) * closed * direction
            new_amount = pos.amount + signed
            if new_amount == 0:
                pos.entry = ZERO
            elif (new_amount > 0) != (pos.amount > 0):
                pos.entry = fill.price  # flipped: the remainder opens at the fill price
            pos.amount = new_amount
        else:
            total = abs(pos.amount) + abs(signed)
            pos.entry = (pos.entry * abs(pos.amount) + fill.price * abs(signed)) / total
            pos.amount += signed
        pos.updated_ms = fill.time_ms
        fill.realized_pnl = realized
        asset = self.margin_asset
        acct.wallet[asset] = acct.wallet.get(asset, ZERO) + realized - fill.commission
        acct.updated_ms = fill.time_ms

    def release(self, order: Order) -> None:
        """Nothing to unlock: open-order margin is computed from the open orders."""
