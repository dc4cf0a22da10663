"""Order queries shared by the Binance spot and USDⓈ-M dialects (same parameters, same rules):
`openOrders` and `allOrders`. Each dialect supplies `sim`, `venue`, `rules`, `symbol_rules`
and its own `order_json`."""

from __future__ import annotations

from server.simulator import binance_common as bc
from server.simulator.core import Request, Response
from server.simulator.core import json_response as ok


class BinanceOrderQueries:
    def open_orders(self, req: Request) -> Response:
        key = bc.authenticate(req, self.sim)
        with self.sim.lock:
            symbol = req.params.get("symbol")
            if symbol and symbol not in self.rules:
                raise bc.error(-1121, "Invalid symbol.")
            orders = sorted(self.venue.open_orders(key, symbol), key=lambda o: o.order_id)
            return ok([self.order_json(o) for o in orders])

    def all_orders(self, req: Request) -> Response:
        key = bc.authenticate(req, self.sim)
        with self.sim.lock:
            rules = self.symbol_rules(req.params)
            orders = self.venue.owner_orders(key, rules.symbol)
            chosen = bc.select(
                orders, lambda o: o.order_id, req.params, "orderId", lambda o: o.created_ms
            )
            return ok([self.order_json(o) for o in chosen])
