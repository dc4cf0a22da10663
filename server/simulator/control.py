"""The control API (`/__sim/...`, API.md "Exchange simulator control"), loopback-only.

Besides the documented endpoints (reset, price, balances, faults, orders, replay) there are
`GET /__sim/health` (open to every address, for container health checks), `GET /__sim/balances`,
`GET /__sim/faults`, `DELETE /__sim/faults`, `GET /__sim/replay` and `POST|GET /__sim/config`
(`partial_fill_ratio`). Venues are named `<exchange>-<market>` (`binance-spot`,
`binance-futures`, `bybit-spot`, `bybit-linear`); `exchange` and `market` in a body narrow a
call to some venues, otherwise it applies to every venue that lists the symbol. Errors answer
400 `{"error": "..."}`; refused addresses 403 (extra networks: SIMULATOR_CONTROL_ALLOW).

Reset restores: the recorded markets, default prices (candles.py), empty books and order log,
no faults, no replays, partial_fill_ratio 1, and one demo key `sim-demo-key` (secret
`sim-secret-sim-demo-key`) holding 10,000 USDT on every venue; other keys are forgotten.
`/__sim/balances` sets the free amount of each listed asset (others untouched) on every venue
unless `exchange`/`market` narrow it, and registers `api_secret` when given; `read_only: true`
marks the key as lacking trading permission (Bybit: `/v5/user/query-api` reports it and
trading answers 10005), `read_only: false` lifts that. Bybit's two venues share one unified
account per key, so setting either sets both.
"""

from __future__ import annotations

import ipaddress
import json
from decimal import Decimal, InvalidOperation

from server.simulator import candles
from server.simulator.core import Request, Response, Simulator, json_response
from server.simulator.matching import Order

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]


class ControlError(Exception):
    pass


def allowed(client: str, extra: list) -> bool:
    try:
        addr = ipaddress.ip_address(client)
    except ValueError:
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    if mapped is not None:
        addr = mapped
    return any(addr in net for net in LOOPBACK + extra if addr.version == net.version)


def _body(req: Request) -> dict:
    if not req.body:
        return {}
    try:
        body = json.loads(req.body)
    except ValueError:
        raise ControlError("body must be JSON") from None
    if not isinstance(body, dict):
        raise ControlError("body must be a JSON object")
    return body


def _decimal(value, name: str, positive: bool = True) -> Decimal:
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ControlError(f"{name} must be a decimal number") from None
    if not out.is_finite() or out < 0 or (positive and out == 0):
        raise ControlError(f"{name} must be a {'positive' if positive else 'non-negative'} number")
    return out


def _s(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def order_entry(entry) -> dict:
    o: Order | None = entry.order
    f = entry.fields
    out = {
        "received_at": entry.received_ns,
        "venue": entry.venue,
        "api_key": entry.api_key,
        "client_order_id": o.client_order_id if o else f.get("client_order_id"),
        "order_id": o.order_id if o else None,
        "symbol": o.symbol if o else f.get("symbol"),
        "side": o.side if o else f.get("side"),
        "type": o.type if o else f.get("type"),
        "price": _s(o.price) if o else f.get("price"),
        "qty": _s(o.qty) if o else f.get("qty"),
        "reduce_only": o.reduce_only if o else f.get("reduce_only", False),
        "status": o.status if o else "REJECTED",
        "executed_qty": _s(o.executed) if o else "0",
        "fills": [
            {
                "trade_id": x.trade_id,
                "price": _s(x.price),
                "qty": _s(x.qty),
                "commission": _s(x.commission),
                "commission_asset": x.commission_asset,
                "is_maker": x.is_maker,
                "time": x.time_ms,
            }
            for x in (o.fills if o else [])
        ],
        "error": entry.error,
    }
    return out


class Control:
    """Handlers of the control API; `dispatch` routes and enforces the address rule."""

    def __init__(self, sim: Simulator, extra_allowed: list | None = None) -> None:
        self.sim = sim
        self.extra = extra_allowed or []
        self.routes = {
            ("POST", "/__sim/reset"): self.reset,
            ("POST", "/__sim/price"): self.price,
            ("POST", "/__sim/balances"): self.set_balances,
            ("GET", "/__sim/balances"): self.get_balances,
            ("POST", "/__sim/faults"): self.add_fault,
            ("GET", "/__sim/faults"): lambda req: json_response({"faults": sim.faults.list()}),
            ("DELETE", "/__sim/faults"): self.clear_faults,
            ("GET", "/__sim/orders"): self.orders,
            ("POST", "/__sim/replay"): self.replay,
            ("GET", "/__sim/replay"): self.replay_status,
            ("POST", "/__sim/config"): self.set_config,
            ("GET", "/__sim/config"): self.get_config,
        }

    def dispatch(self, req: Request) -> Response:
        if req.path == "/__sim/health":
            venues = sorted(self.sim.venues)
            return json_response(
                {"status": "ok", "venues": venues, "open_keys": self.sim.open_keys}
            )
        if not allowed(req.client, self.extra):
            return json_response({"error": "the control API is loopback-only"}, 403)
        handler = self.routes.get((req.method, req.path))
        if handler is None:
            return json_response({"error": f"no control endpoint {req.method} {req.path}"}, 404)
        try:
            return handler(req)
        except (ControlError, ValueError) as exc:
            return json_response({"error": str(exc)}, 400)

    def reset(self, req: Request) -> Response:
        self.sim.reset()
        return json_response({"status": "ok"})

    def _venues(self, body: dict, symbol: str | None = None):
        venues = self.sim.select(body.get("exchange"), body.get("market"))
        if symbol is not None:
            venues = [v for v in venues if symbol in v.rules]
        if not venues:
            raise ControlError(f"no venue matches symbol={symbol} {body}")
        return venues

    def price(self, req: Request) -> Response:
        body = _body(req)
        symbol = body.get("symbol")
        if not symbol:
            raise ControlError("symbol is required")
        price = _decimal(body.get("price"), "price")
        now = req.received_ns // 1_000_000
        with self.sim.lock:
            venues = self._venues(body, symbol)
            out = {}
            for v in venues:
                trades = [f.trade_id for f in v.set_price(symbol, price, now)]
                out[v.name] = {"price": _s(v.last(symbol)), "trades": trades}
        return json_response({"symbol": symbol, "venues": out})

    def set_balances(self, req: Request) -> Response:
        body = _body(req)
        key = body.get("api_key")
        balances = body.get("balances")
        if not key or not isinstance(balances, dict):
            raise ControlError("api_key and balances {asset: amount} are required")
        parsed = {a: _decimal(v, f"balances.{a}", positive=False) for a, v in balances.items()}
        now = req.received_ns // 1_000_000
        with self.sim.lock:
            venues = self._venues(body)
            if body.get("api_secret"):
                self.sim.secrets[key] = str(body["api_secret"])
            if "read_only" in body:  # see the module docstring
                if body["read_only"]:
                    self.sim.read_only.add(key)
                else:
                    self.sim.read_only.discard(key)
            for venue in venues:
                venue.ledger.set_balances(key, parsed, now)
        return json_response({"api_key": key, "venues": [v.name for v in venues]})

    def get_balances(self, req: Request) -> Response:
        from urllib.parse import parse_qs

        key = (parse_qs(req.query).get("api_key") or [""])[0]
        out = {}
        with self.sim.lock:
            for name, venue in self.sim.venues.items():
                ledger = venue.ledger
                if hasattr(ledger, "wallets"):
                    out[name] = {
                        a: {"free": _s(f), "locked": _s(lk)}
                        for a, (f, lk) in ledger.balances(key).items()
                    }
                else:
                    acct = ledger.account(key)
                    out[name] = {
                        "wallet": {a: _s(b) for a, b in acct.wallet.items()},
                        "positions": {
                            s: {"amount": _s(p.amount), "entry": _s(p.entry)}
                            for s, p in acct.positions.items()
                            if p.amount != 0
                        },
                    }
        return json_response({"api_key": key, "venues": out})

    def add_fault(self, req: Request) -> Response:
        body = _body(req)
        if body.get("clear"):
            return self.clear_faults(req)
        fault = self.sim.faults.add(body)
        return json_response({"fault": fault.as_dict(), "faults": self.sim.faults.list()})

    def clear_faults(self, req: Request) -> Response:
        self.sim.faults.clear()
        return json_response({"faults": []})

    def orders(self, req: Request) -> Response:
        from urllib.parse import parse_qs

        q = {k: v[0] for k, v in parse_qs(req.query).items()}
        since = int(q.get("since", 0) or 0)
        with self.sim.lock:
            rows = [
                order_entry(e)
                for e in self.sim.order_log
                if e.received_ns >= since
                and q.get("api_key") in (None, e.api_key)
                and q.get("venue") in (None, e.venue)
            ]
        for name in ("symbol", "client_order_id"):
            if q.get(name):
                rows = [r for r in rows if r[name] == q[name]]
        return json_response({"orders": rows})

    def replay(self, req: Request) -> Response:
        body = _body(req)
        if body.get("stop"):
            return json_response({"stopped": self.sim.replays.stop(body.get("symbol"))})
        for name in ("symbol", "file", "speed"):
            if body.get(name) in (None, ""):
                raise ControlError(f"{name} is required (files: {', '.join(candles.list_files())})")
        replay = self.sim.replays.start(
            body["symbol"],
            body["file"],
            float(body["speed"]),
            body.get("exchange"),
            body.get("market"),
            int(body.get("start", 0)),
            None if body.get("count") is None else int(body["count"]),
        )
        return json_response({"replay": replay.as_dict()})

    def replay_status(self, req: Request) -> Response:
        return json_response({"replays": self.sim.replays.status(), "files": candles.list_files()})

    def set_config(self, req: Request) -> Response:
        body = _body(req)
        if "partial_fill_ratio" not in body:
            raise ControlError("partial_fill_ratio is required")
        ratio = _decimal(body["partial_fill_ratio"], "partial_fill_ratio")
        if ratio > 1:
            raise ControlError("partial_fill_ratio must be in (0, 1]")
        symbol = body.get("symbol")
        with self.sim.lock:
            for venue in self._venues(body, symbol):
                if symbol:
                    venue.ratios[symbol] = ratio
                else:
                    venue.default_ratio = ratio
                    venue.ratios.clear()
        return self.get_config(req)

    def get_config(self, req: Request) -> Response:
        with self.sim.lock:
            return json_response(
                {
                    name: {
                        "partial_fill_ratio": _s(v.default_ratio),
                        "symbols": {s: {"partial_fill_ratio": _s(r)} for s, r in v.ratios.items()},
                    }
                    for name, v in self.sim.venues.items()
                }
            )
