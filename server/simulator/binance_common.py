"""What Binance spot and USDⓈ-M futures share: request signing, error bodies, parameters.

Signing (rest-api.md "SIGNED endpoint security"): header `X-MBX-APIKEY`; HMAC-SHA256 hex of
the query string concatenated without separator to the form body, with the `signature`
parameter itself removed; `timestamp` (ms, or µs when > 1e14) must satisfy
`timestamp < now + 1000` and `now - timestamp <= recvWindow` (default 5000, max 60000).

Key rule of the simulator: a key is known when `/__sim/balances` has given it a balance (or the
simulator runs with `--open-keys`). Its secret is the `api_secret` registered with
`/__sim/balances`, else `sim-secret-<api_key>`. Key syntax: 1-128 characters of
`[A-Za-z0-9_-]` (real keys are 64 alphanumerics; hyphens allow readable test keys).

Statuses: -2014/-2015 answer HTTP 401, every other error HTTP 400, rate limits 429.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from server.simulator.core import ApiError, Request, Response, Simulator, json_response

CID_RE = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")
KEY_RE = re.compile(r"[A-Za-z0-9_\-]{1,128}")
DECIMAL_RE = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")
_Q: dict[int, Decimal] = {}

INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."
RATE_LIMIT_MSG = (
    "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. "
    "Please use WebSocket Streams for live updates to avoid polling the API."
)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def fmt(value: Decimal, places: int) -> str:
    """Fixed-point string with `places` decimals, as Binance prints numbers."""
    q = _Q.get(places)
    if q is None:
        q = _Q[places] = Decimal(1).scaleb(-places)
    return format(value.quantize(q, rounding=ROUND_HALF_UP), "f")


def error(code: int, msg: str, status: int = 400, headers: tuple = ()) -> ApiError:
    return ApiError(status, {"code": code, "msg": msg}, headers)


def mandatory(name: str) -> ApiError:
    return error(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise mandatory(name)
    return value


def decimal_param(params: dict[str, str], name: str, needed: bool = True) -> Decimal | None:
    """A DECIMAL parameter, validated with Binance's own legal-range pattern."""
    raw = params.get(name)
    if raw is None or raw == "":
        if needed:
            raise mandatory(name)
        return None
    if not DECIMAL_RE.fullmatch(raw):
        raise error(
            -1100,
            f"Illegal characters found in parameter '{name}'; "
            "legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
        )
    try:
        return Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern already guarantees a number
        raise mandatory(name) from None


def int_param(params: dict[str, str], name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise mandatory(name) from None


def sign(payload: bytes, secret: str) -> str:
    """HMAC-SHA256 hex digest, as in rest-api.md's worked example."""
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def signed_payload(req: Request) -> bytes:
    """Query string + body, each without its `signature=` pair (the signed payload)."""
    parts = []
    for raw in (req.query.encode(), req.body):
        if raw:
            parts.append(b"&".join(p for p in raw.split(b"&") if not p.startswith(b"signature=")))
    return b"".join(parts)


def api_key(req: Request, sim: Simulator) -> str:
    """Check the `X-MBX-APIKEY` header only (USER_STREAM / MARKET_DATA style endpoints)."""
    key = req.headers.get("x-mbx-apikey", "")
    if not KEY_RE.fullmatch(key):
        raise error(-2014, "API-key format invalid.", 401)
    if not sim.key_known(key):
        raise error(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    return key


def authenticate(req: Request, sim: Simulator) -> str:
    """Full SIGNED check (key, timestamp window, HMAC); returns the API key."""
    key = api_key(req, sim)
    params = req.params
    ts = int_param(params, "timestamp")
    if ts is None:
        raise mandatory("timestamp")
    if ts > 100_000_000_000_000:  # microseconds
        ts //= 1000
    try:
        window = Decimal(params.get("recvWindow") or 5000)
    except InvalidOperation:
        raise mandatory("recvWindow") from None
    if window > 60000:
        raise error(-1131, "recvWindow must be less than 60000")
    signature = params.get("signature")
    if not signature:
        raise mandatory("signature")
    server = now_ms()
    if ts >= server + 1000:
        raise error(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if server - ts > window:
        raise error(-1021, "Timestamp for this request is outside of the recvWindow.")
    expected = sign(signed_payload(req), sim.secret_for(key))
    if not hmac.compare_digest(expected, signature.lower()):
        raise error(-1022, "Signature for this request is not valid.")
    return key


def order_fields(req: Request) -> dict:
    """What the order log keeps of an order request, whether it was accepted or not."""
    p = req.params
    return {
        "api_key": req.headers.get("x-mbx-apikey", ""),
        "client_order_id": p.get("newClientOrderId"),
        "symbol": p.get("symbol"),
        "side": p.get("side"),
        "type": p.get("type"),
        "price": p.get("price"),
        "qty": p.get("quantity") or p.get("quoteOrderQty"),
        "reduce_only": p.get("reduceOnly", "false").lower() == "true",
    }


def fault_response(kind: str, ms: int, insufficient: tuple[int, str]) -> Response:
    """The Binance answer for an injected fault (see faults.py for the kinds)."""
    if kind == "http_500":
        body = b"<html><body><h1>500 Internal Server Error</h1></body></html>"
        return Response(500, body, content_type="text/html")
    if kind == "http_429":
        retry = str(max(1, -(-ms // 1000)))
        return json_response({"code": -1003, "msg": RATE_LIMIT_MSG}, 429, (("Retry-After", retry),))
    if kind == "insufficient_funds":
        code, msg = insufficient
        return json_response({"code": code, "msg": msg}, 400)
    if kind == "invalid_key":
        return json_response(
            {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, 401
        )
    raise ValueError(kind)


def symbols_param(params: dict[str, str]) -> list[str] | None:
    """`symbols=["A","B"]` (JSON array, possibly without quotes) → ['A', 'B']."""
    raw = params.get("symbols")
    if not raw:
        return None
    return [s.strip().strip('"') for s in raw.strip("[]").split(",") if s.strip()]


def new_client_id(prefix: str = "sim") -> str:
    return prefix + secrets.token_urlsafe(16).replace("-", "x").replace("_", "y")[:22]


def order_lookup(params: dict) -> tuple[int | None, str | None]:
    order_id = int_param(params, "orderId")
    client_id = params.get("origClientOrderId") or None
    if order_id is None and client_id is None:
        raise error(
            -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        )
    return order_id, client_id


def select(items: list, id_of, params: dict, from_key: str, time_of) -> list:
    """allOrders / myTrades windowing: from-id, startTime, endTime, then the newest `limit`."""
    from_id = int_param(params, from_key)
    start, end = int_param(params, "startTime"), int_param(params, "endTime")
    limit = max(1, min(int_param(params, "limit", 500) or 500, 1000))
    out = [
        x
        for x in items
        if (from_id is None or id_of(x) >= from_id)
        and (start is None or time_of(x) >= start)
        and (end is None or time_of(x) <= end)
    ]
    return out[:limit] if from_id is not None or start is not None else out[-limit:]
