"""USDⓈ-M account reads: account v2/v3, balance, positionRisk v2/v3, leverage and brackets.

Mark price = last price. Maintenance margin = notional x `maintMarginPercent` of the symbol's
exchangeInfo entry; the leverage bracket is a single invented bracket (initial leverage 125,
that maintenance ratio) because no real bracket data is stored. Default leverage is 20.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from server.simulator import binance_common as bc
from server.simulator.core import Request, Response
from server.simulator.core import json_response as ok

if TYPE_CHECKING:
    from server.simulator.binance_futures import BinanceFutures

ZERO = Decimal(0)
MAX_NOTIONAL = Decimal(1_000_000_000)


def f8(value: Decimal) -> str:
    return bc.fmt(value, 8)


class FuturesAccountViews:
    """Renders the futures ledger in Binance's shapes; every method is a route handler."""

    def __init__(self, dialect: BinanceFutures) -> None:
        self.d = dialect

    @property
    def ledger(self):
        return self.d.venue.ledger

    def _positions(self, key: str, symbols) -> list[dict]:
        """Neutral per-symbol figures used by every position-bearing answer."""
        ledger, venue = self.ledger, self.d.venue
        out = []
        for s in symbols:
            pos = ledger.position(key, s)
            mark = venue.last(s)
            notional = pos.amount * mark
            lev = ledger.leverage(key, s)
            order_margin = sum((ledger.order_margin(o) for o in venue.open_orders(key, s)), ZERO)
            out.append(
                {
                    "symbol": s,
                    "amount": pos.amount,
                    "entry": pos.entry,
                    "mark": mark,
                    "notional": notional,
                    "unrealized": ledger.unrealized(key, s),
                    "leverage": lev,
                    "initial": abs(notional) / lev,
                    "maint": abs(notional) * self.d.maint[s],
                    "order_margin": order_margin,
                    "updated": pos.updated_ms,
                }
            )
        return out

    def _assets(self, key: str, v2: bool) -> tuple[list[dict], dict]:
        ledger = self.ledger
        acct = ledger.account(key)
        totals = ledger.totals(key)
        maint = sum((p["maint"] for p in self._positions(key, list(acct.positions))), ZERO)
        assets = []
        for asset, balance in sorted(acct.wallet.items()):
            margin = asset == ledger.margin_asset
            unreal = totals["unrealized"] if margin else ZERO
            avail = totals["available"] if margin else balance
            entry = {
                "asset": asset,
                "walletBalance": f8(balance),
                "unrealizedProfit": f8(unreal),
                "marginBalance": f8(balance + unreal),
                "maintMargin": f8(maint if margin else ZERO),
                "initialMargin": f8(
                    totals["position_margin"] + totals["order_margin"] if margin else ZERO
                ),
                "positionInitialMargin": f8(totals["position_margin"] if margin else ZERO),
                "openOrderInitialMargin": f8(totals["order_margin"] if margin else ZERO),
                "crossWalletBalance": f8(balance),
                "crossUnPnl": f8(unreal),
                "availableBalance": f8(avail),
                "maxWithdrawAmount": f8(max(avail, ZERO)),
            }
            if v2:
                entry["marginAvailable"] = True
            entry["updateTime"] = acct.updated_ms or 1
            assets.append(entry)
        totals["maint"] = maint
        return assets, totals

    def _account(self, req: Request, v2: bool) -> Response:
        key = bc.authenticate(req, self.d.sim)
        with self.d.sim.lock:
            assets, t = self._assets(key, v2)
            acct = self.ledger.account(key)
            symbols = (
                list(self.d.rules)
                if v2
                else [s for s, p in acct.positions.items() if p.amount != 0]
            )
            positions = []
            for p in self._positions(key, symbols):
                entry = {
                    "symbol": p["symbol"],
                    "positionSide": "BOTH",
                    "positionAmt": bc.fmt(p["amount"], self.d.rules[p["symbol"]].qty_decimals),
                    "unrealizedProfit": f8(p["unrealized"]),
                    "isolatedMargin": f8(ZERO),
                    "notional": f8(p["notional"]),
                    "isolatedWallet": "0",
                    "initialMargin": f8(p["initial"] + p["order_margin"]),
                    "maintMargin": f8(p["maint"]),
                    "updateTime": p["updated"],
                }
                if v2:
                    entry.update(
                        {
                            "positionInitialMargin": f8(p["initial"]),
                            "openOrderInitialMargin": f8(p["order_margin"]),
                            "leverage": str(p["leverage"]),
                            "isolated": False,
                            "entryPrice": f8(p["entry"]),
                            "breakEvenPrice": f8(p["entry"]),
                            "maxNotional": str(MAX_NOTIONAL),
                            "bidNotional": "0",
                            "askNotional": "0",
                        }
                    )
                positions.append(entry)
        body: dict = {}
        if v2:
            body.update(
                {
                    "feeTier": 0,
                    "feeBurn": False,
                    "canTrade": True,
                    "canDeposit": True,
                    "canWithdraw": True,
                    "updateTime": 0,
                    "multiAssetsMargin": False,
                    "tradeGroupId": -1,
                }
            )
        initial = t["position_margin"] + t["order_margin"]
        body.update(
            {
                "totalInitialMargin": f8(initial),
                "totalMaintMargin": f8(t["maint"]),
                "totalWalletBalance": f8(t["wallet"]),
                "totalUnrealizedProfit": f8(t["unrealized"]),
                "totalMarginBalance": f8(t["margin_balance"]),
                "totalPositionInitialMargin": f8(t["position_margin"]),
                "totalOpenOrderInitialMargin": f8(t["order_margin"]),
                "totalCrossWalletBalance": f8(t["wallet"]),
                "totalCrossUnPnl": f8(t["unrealized"]),
                "availableBalance": f8(t["available"]),
                "maxWithdrawAmount": f8(max(t["available"], ZERO)),
                "assets": assets,
                "positions": positions,
            }
        )
        return ok(body)

    def account_v2(self, req: Request) -> Response:
        return self._account(req, v2=True)

    def account_v3(self, req: Request) -> Response:
        return self._account(req, v2=False)

    def balance(self, req: Request) -> Response:
        key = bc.authenticate(req, self.d.sim)
        with self.d.sim.lock:
            assets, _ = self._assets(key, v2=True)
        return ok(
            [
                {
                    "accountAlias": "SimAccount",
                    "asset": a["asset"],
                    "balance": a["walletBalance"],
                    "crossWalletBalance": a["crossWalletBalance"],
                    "crossUnPnl": a["crossUnPnl"],
                    "availableBalance": a["availableBalance"],
                    "maxWithdrawAmount": a["maxWithdrawAmount"],
                    "marginAvailable": True,
                    "updateTime": a["updateTime"],
                }
                for a in assets
            ]
        )

    def _risk(self, req: Request, v3: bool) -> Response:
        key = bc.authenticate(req, self.d.sim)
        symbol = req.params.get("symbol")
        if symbol and symbol not in self.d.rules:
            raise bc.error(-1121, "Invalid symbol.")
        with self.d.sim.lock:
            acct = self.ledger.account(key)
            if v3:
                symbols = [s for s, p in acct.positions.items() if p.amount != 0]
            else:
                symbols = list(self.d.rules)
            if symbol:
                symbols = [s for s in symbols if s == symbol]
            rows = self._positions(key, symbols)
        out = []
        for p in rows:
            r = self.d.rules[p["symbol"]]
            row = {
                "symbol": p["symbol"],
                "positionSide": "BOTH",
                "positionAmt": bc.fmt(p["amount"], r.qty_decimals),
                "entryPrice": f8(p["entry"]),
                "breakEvenPrice": f8(p["entry"]),
                "markPrice": f8(p["mark"]),
                "unRealizedProfit": f8(p["unrealized"]),
                "liquidationPrice": "0",
                "isolatedMargin": "0",
                "notional": f8(p["notional"]),
                "isolatedWallet": "0",
                "updateTime": p["updated"],
            }
            if v3:
                row.update(
                    {
                        "marginAsset": "USDT",
                        "initialMargin": f8(p["initial"] + p["order_margin"]),
                        "maintMargin": f8(p["maint"]),
                        "positionInitialMargin": f8(p["initial"]),
                        "openOrderInitialMargin": f8(p["order_margin"]),
                        "adl": 0,
                        "bidNotional": "0",
                        "askNotional": "0",
                    }
                )
            else:
                row.update(
                    {
                        "leverage": str(p["leverage"]),
                        "maxNotionalValue": str(MAX_NOTIONAL),
                        "marginType": "cross",
                        "isAutoAddMargin": "false",
                    }
                )
            out.append(row)
        return ok(out)

    def position_risk_v2(self, req: Request) -> Response:
        return self._risk(req, v3=False)

    def position_risk_v3(self, req: Request) -> Response:
        return self._risk(req, v3=True)

    def set_leverage(self, req: Request) -> Response:
        key = bc.authenticate(req, self.d.sim)
        rules = self.d.symbol_rules(req.params)
        lev = bc.int_param(req.params, "leverage")
        if lev is None:
            raise bc.mandatory("leverage")
        if not 1 <= lev <= 125:
            raise bc.error(-4028, f"Leverage {lev} is not valid")
        with self.d.sim.lock:
            self.ledger.account(key).leverage[rules.symbol] = lev
        return ok({"leverage": lev, "maxNotionalValue": str(MAX_NOTIONAL), "symbol": rules.symbol})

    def leverage_bracket(self, req: Request) -> Response:
        bc.authenticate(req, self.d.sim)
        symbol = req.params.get("symbol")
        if symbol and symbol not in self.d.rules:
            raise bc.error(-1121, "Invalid symbol.")
        entries = [
            {
                "symbol": s,
                "notionalCoef": 1.0,
                "brackets": [
                    {
                        "bracket": 1,
                        "initialLeverage": 125,
                        "notionalCap": int(MAX_NOTIONAL),
                        "notionalFloor": 0,
                        "maintMarginRatio": float(self.d.maint[s]),
                        "cum": 0.0,
                    }
                ],
            }
            for s in ([symbol] if symbol else list(self.d.rules))
        ]
        return ok(entries[0] if symbol else entries)

    def commission_rate(self, req: Request) -> Response:
        bc.authenticate(req, self.d.sim)
        rules = self.d.symbol_rules(req.params)
        fees = self.d.venue.fees
        return ok(
            {
                "symbol": rules.symbol,
                "makerCommissionRate": str(fees.maker),
                "takerCommissionRate": str(fees.taker),
            }
        )
