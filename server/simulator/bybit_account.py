"""Bybit's Unified Trading Account (UTA) and its account endpoints.

One UTA per API key backs both Bybit venues, as on the real exchange, where
`/v5/account/wallet-balance?accountType=UNIFIED` has no category and spot coins are the
collateral of linear positions:

* `UnifiedSpotLedger` is the coin wallet (free/locked per coin; spot orders lock what they may
  spend, ledgers.SpotLedger). A spot order spending USDT must also fit in what the linear side
  leaves available (wallet + unrealised PnL - position and order margin).
* `UnifiedLinearLedger` is ledgers.LinearLedger (one-way, cross, USDT) whose `wallet` is a view
  on the free coins of that same wallet: realised PnL and fees move the coin balance, spot-locked
  USDT is not available as margin.

`/__sim/balances` on either venue therefore sets the same wallet. Leverage defaults to the
ledger's 20 (no Bybit default is on record); maintenance margin is not modelled (0).

Endpoints: wallet-balance (docs example shape; `availableToWithdraw` and `availableToBorrow`
are "" because the docs deprecate them for UNIFIED — ccxt then computes free = walletBalance -
locked - totalPositionIM - totalOrderIM), account/info (docs example), fee-rate (docs example;
`category` only for spot, as documented), user/query-api (shape of ccxt's bybit.py comment,
MIT; the docs page is not stored), position/list (ccxt's "unified account" example) and
position/set-leverage.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, MutableMapping
from decimal import Decimal
from typing import TYPE_CHECKING

from server.simulator import bybit_common as bb
from server.simulator.core import Request, Response
from server.simulator.ledgers import FuturesAccount, LinearLedger, SpotLedger
from server.simulator.matching import BUY, Order

if TYPE_CHECKING:
    from server.simulator.bybit import Bybit

ZERO = Decimal(0)
USD_COINS = ("USDT", "USDC")


class _FreeCoins(MutableMapping):
    """`FuturesAccount.wallet` of one key, read and written through the UTA's free coins."""

    def __init__(self, spot: SpotLedger, owner: str) -> None:
        self.spot, self.owner = spot, owner

    def __getitem__(self, asset: str) -> Decimal:
        slot = self.spot.wallets.get(self.owner, {}).get(asset)
        if slot is None:
            raise KeyError(asset)
        return slot[0]

    def __setitem__(self, asset: str, value: Decimal) -> None:
        self.spot.wallets.setdefault(self.owner, {}).setdefault(asset, [ZERO, ZERO])[0] = value

    def __delitem__(self, asset: str) -> None:
        raise KeyError(asset)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.spot.wallets.get(self.owner, {})))

    def __len__(self) -> int:
        return len(self.spot.wallets.get(self.owner, {}))


class UnifiedLinearLedger(LinearLedger):
    """Linear positions and margin of the UTA (see the module docstring)."""

    def __init__(self, price_of, spot: SpotLedger) -> None:
        super().__init__(price_of)
        self.spot = spot
        self.realized: dict[str, Decimal] = {}

    def has(self, owner: str) -> bool:
        return self.spot.has(owner)

    def account(self, owner: str) -> FuturesAccount:
        acct = self.accounts.get(owner)
        if acct is None:
            acct = self.accounts[owner] = FuturesAccount(wallet=_FreeCoins(self.spot, owner))  # type: ignore[arg-type]
        return acct

    def set_balances(self, owner: str, balances: dict[str, Decimal], now: int) -> None:
        self.spot.set_balances(owner, balances, now)
        self.account(owner).updated_ms = now

    def settle(self, order: Order, fill) -> None:
        super().settle(order, fill)
        self.realized[order.owner] = self.realized.get(order.owner, ZERO) + fill.realized_pnl
        self.spot.updated_ms[order.owner] = fill.time_ms


class UnifiedSpotLedger(SpotLedger):
    """The UTA's coins; USDT spending is also bounded by the linear side's available margin."""

    linear: UnifiedLinearLedger | None = None

    def reserve(self, order: Order, ref_price: Decimal) -> bool:
        linear = self.linear
        if linear is not None and order.side == BUY and order.quote == linear.margin_asset:
            px = ref_price if order.price is None else order.price
            if linear.totals(order.owner)["available"] < px * order.qty:
                return False
        return super().reserve(order, ref_price)


class AccountViews:
    """Renders the UTA in Bybit's shapes; every public method is a route handler."""

    def __init__(self, dialect: Bybit) -> None:
        self.d = dialect

    @property
    def spot(self) -> UnifiedSpotLedger:
        return self.d.venue("spot").ledger

    @property
    def linear(self) -> UnifiedLinearLedger:
        return self.d.venue("linear").ledger

    def _usd(self, coin: str) -> Decimal:
        """USD value of one coin: 1 for USDT/USDC, else the spot last price of COINUSDT."""
        if coin in USD_COINS:
            return Decimal(1)
        venue = self.d.venue("spot")
        symbol = f"{coin}USDT"
        return venue.last(symbol) if symbol in venue.rules else ZERO

    def wallet_balance(self, req: Request) -> Response:
        key = bb.authenticate(req, self.d.sim)
        p = bb.params(req)
        if bb.text(p, "accountType") != "UNIFIED":
            raise bb.param_error("accountType only support UNIFIED.")
        wanted = bb.text(p, "coin")
        coins_wanted = wanted.split(",") if wanted else None
        with self.d.sim.lock:
            spot, linear = self.spot, self.linear
            totals = linear.totals(key)
            margin = linear.margin_asset
            wallets = spot.balances(key)
            names = coins_wanted if coins_wanted is not None else sorted(wallets)
            coins, usd_wallet, usd_locked = [], ZERO, ZERO
            for coin in names:
                free, locked = wallets.get(coin, (ZERO, ZERO))
                balance = free + locked
                is_margin = coin == margin
                upnl = totals["unrealized"] if is_margin else ZERO
                if coins_wanted is None and balance == 0 and upnl == 0:
                    continue  # "By default, currency information with assets of 0 is not returned"
                px = self._usd(coin)
                usd_wallet += balance * px
                usd_locked += locked * px
                coins.append(
                    {
                        "availableToBorrow": "",
                        "bonus": "0",
                        "accruedInterest": "0",
                        "availableToWithdraw": "",
                        "totalOrderIM": bb.plain(totals["order_margin"] if is_margin else ZERO),
                        "equity": bb.plain(balance + upnl),
                        "totalPositionMM": "0",
                        "usdValue": bb.plain((balance + upnl) * px),
                        "spotHedgingQty": "0",
                        "unrealisedPnl": bb.plain(upnl),
                        "collateralSwitch": True,
                        "borrowAmount": "0",
                        "totalPositionIM": bb.plain(
                            totals["position_margin"] if is_margin else ZERO
                        ),
                        "walletBalance": bb.plain(balance),
                        "cumRealisedPnl": bb.plain(
                            linear.realized.get(key, ZERO) if is_margin else ZERO
                        ),
                        "locked": bb.plain(locked),
                        "marginCollateral": True,
                        "coin": coin,
                        "spotBorrow": "0",
                    }
                )
        initial = totals["position_margin"] + totals["order_margin"]
        margin_balance = usd_wallet + totals["unrealized"]
        available = margin_balance - initial - usd_locked
        im_rate = (initial / margin_balance).quantize(Decimal("0.0001")) if margin_balance else ZERO
        account = {
            "totalEquity": bb.plain(margin_balance),
            "accountIMRate": bb.plain(im_rate),
            "accountIMRateByMp": bb.plain(im_rate),
            "totalMarginBalance": bb.plain(margin_balance),
            "totalInitialMargin": bb.plain(initial),
            "totalInitialMarginByMp": bb.plain(initial),
            "accountType": "UNIFIED",
            "totalAvailableBalance": bb.plain(available),
            "accountMMRate": "0",
            "accountMMRateByMp": "0",
            "totalPerpUPL": bb.plain(totals["unrealized"]),
            "totalWalletBalance": bb.plain(usd_wallet),
            "accountLTV": "0",
            "totalMaintenanceMargin": "0",
            "totalMaintenanceMarginByMp": "0",
            "coin": coins,
        }
        return bb.ok({"list": [account]})

    def account_info(self, req: Request) -> Response:
        key = bb.authenticate(req, self.d.sim)
        with self.d.sim.lock:
            updated = self.spot.updated_ms.get(key, 0)
        return bb.ok(
            {
                "marginMode": "REGULAR_MARGIN",
                "updatedTime": str(updated),
                "unifiedMarginStatus": 6,  # UTA 2.0 Pro (ccxt's default when absent)
                "dcpStatus": "OFF",
                "timeWindow": 0,
                "smpGroup": 0,
                "isMasterTrader": False,
                "spotHedgingStatus": "OFF",
            }
        )

    def query_api(self, req: Request) -> Response:
        """`GET /v5/user/query-api`: the key's permissions (read-only keys hold none)."""
        key = bb.authenticate(req, self.d.sim)
        read_only = key in self.d.sim.read_only
        trade = {
            "ContractTrade": ["Order", "Position"],
            "Spot": ["SpotTrade"],
            "Wallet": ["AccountTransfer", "SubMemberTransfer"],
            "Options": ["OptionsTrade"],
            "Derivatives": ["DerivativesTrade"],
            "CopyTrading": [],
            "BlockTrade": [],
            "Exchange": [],
            "NFT": [],
            "Affiliate": [],
        }
        permissions = {k: [] for k in trade} if read_only else trade
        uid = zlib.crc32(key.encode()) % 100_000_000
        return bb.ok(
            {
                "id": str(uid),
                "note": "simulator",
                "apiKey": key,
                "readOnly": 1 if read_only else 0,
                "secret": "",
                "permissions": permissions,
                "ips": ["*"],
                "type": 1,
                "deadlineDay": -1,
                "expiredAt": "",
                "createdAt": "2024-01-01T00:00:00Z",
                "unified": 0,
                "uta": 1,
                "userID": uid,
                "inviterID": 0,
                "vipLevel": "No VIP",
                "mktMakerLevel": "0",
                "affiliateID": 0,
                "rsaPublicKey": "",
                "isMaster": True,
                "parentUid": "0",
                "kycLevel": "LEVEL_DEFAULT",
                "kycRegion": "",
            }
        )

    def fee_rate(self, req: Request) -> Response:
        bb.authenticate(req, self.d.sim)
        p = bb.params(req)
        cat = bb.category(p)
        symbol = bb.text(p, "symbol")
        names = [self.d.market.instrument(cat, symbol).rules.symbol] if symbol else None
        fees = self.d.venue(cat).fees
        rows = [
            {
                "symbol": s,
                "takerFeeRate": bb.plain(fees.taker),
                "makerFeeRate": bb.plain(fees.maker),
            }
            for s in (names or list(self.d.instruments[cat]))
        ]
        result: dict = {"list": rows}
        if cat == "spot":
            result = {"category": "spot", "list": rows}
        return bb.ok(result)

    def position_list(self, req: Request) -> Response:
        key = bb.authenticate(req, self.d.sim)
        p = bb.params(req)
        if bb.category(p) != "linear":
            raise bb.param_error()
        symbol = bb.text(p, "symbol")
        settle = bb.text(p, "settleCoin")
        base = bb.text(p, "baseCoin")
        if symbol is None and settle is None and base is None:
            raise bb.param_error()
        with self.d.sim.lock:
            venue, ledger = self.d.venue("linear"), self.linear
            acct = ledger.account(key)
            if symbol is not None:
                names = [self.d.market.instrument("linear", symbol).rules.symbol]
            else:
                names = [
                    s
                    for s, pos in sorted(acct.positions.items())
                    if pos.amount != 0
                    and (base is None or venue.rules[s].base == base)
                    and (settle is None or settle == ledger.margin_asset)
                ]
            rows = [self._position(key, s) for s in names]
        chunk, cursor = rows, ""
        return bb.ok({"list": chunk, "nextPageCursor": cursor, "category": "linear"})

    def _position(self, key: str, symbol: str) -> dict:
        ledger, inst = self.linear, self.d.instruments["linear"][symbol]
        pos = ledger.position(key, symbol)
        mark = self.d.venue("linear").last(symbol)
        lev = ledger.leverage(key, symbol)
        size = abs(pos.amount)
        side = "" if pos.amount == 0 else ("Buy" if pos.amount > 0 else "Sell")
        return {
            "symbol": symbol,
            "leverage": str(lev),
            "avgPrice": bb.plain(pos.entry),
            "liqPrice": "",
            "riskLimitValue": "2000000",
            "takeProfit": "",
            "positionValue": bb.plain(size * pos.entry),
            "tpslMode": "Full",
            "riskId": 1,
            "trailingStop": "0",
            "unrealisedPnl": bb.plain(ledger.unrealized(key, symbol)),
            "markPrice": inst.px(mark),
            "cumRealisedPnl": bb.plain(ledger.realized.get(key, ZERO)),
            "positionMM": "0",
            "createdTime": str(pos.updated_ms),
            "positionIdx": 0,
            "positionIM": bb.plain(ledger.position_margin(key, symbol)),
            "updatedTime": str(pos.updated_ms),
            "side": side,
            "bustPrice": "",
            "size": inst.qty(size),
            "positionStatus": "Normal",
            "stopLoss": "",
            "tradeMode": 0,
        }

    def set_leverage(self, req: Request) -> Response:
        key = bb.authenticate(req, self.d.sim)
        bb.can_trade(key, self.d.sim)
        p = bb.params(req)
        if bb.category(p) != "linear":
            raise bb.param_error()
        inst = self.d.market.instrument("linear", bb.text(p, "symbol"))
        buy, sell = bb.number(p, "buyLeverage"), bb.number(p, "sellLeverage")
        if buy is None or sell is None or buy != sell:
            raise bb.param_error()
        max_lev = Decimal(inst.entry["leverageFilter"]["maxLeverage"])
        if not 1 <= buy <= max_lev or buy != buy.to_integral_value():
            raise bb.param_error("leverage invalid")
        with self.d.sim.lock:
            symbol = inst.rules.symbol
            if self.linear.leverage(key, symbol) == int(buy):
                raise bb.error(110043, "Set leverage has not been modified.")
            self.linear.account(key).leverage[symbol] = int(buy)
        return bb.ok({})
