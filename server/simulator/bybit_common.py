"""What every Bybit v5 endpoint shares: the envelope, error bodies, signing, parameters.

Envelope (guide.mdx "Common response parameters"): every answer, success or error, is
`{"retCode", "retMsg", "result", "retExtInfo", "time"}`; business errors are HTTP 200 with a
non-zero `retCode` (error.mdx). Numbers are sent as strings.

Signing (guide.mdx "Create A Request"): HMAC-SHA256 hex over
`timestamp + api_key + recv_window + (queryString | jsonBodyString)`, sent in `X-BAPI-API-KEY`,
`X-BAPI-TIMESTAMP`, `X-BAPI-SIGN` and `X-BAPI-RECV-WINDOW` (default 5000); accepted window
`server_time - recv_window <= timestamp < server_time + 1000`. The simulator signs the query
string and body exactly as received (ccxt does not URL-encode its query values).

Error texts: the error-code table of error.mdx (`../shared/data/bybit_v5_api_examples.md`),
except where a real live body is on record, which wins (the docs say the live `retMsg` is not
always the table's text): 10002 (pybit/bybit-api issues, 2023-2025), 10004 (sieblyio/bybit-api
#537, 2026), 10001 "openapi sign params error!" and "Not supported symbols" (ccxt's bybit error
map comments), 110007 "ab not enough for new order" (ccxt), 110017 "Reduce-only rule not
satisfied" (ccxt issue #19588), 10001 "The number of contracts exceeds minimum/maximum limit
allowed" (pybit issues #168, #244, #284).

Key rule: the same as the Binance dialect (binance_common.py): a key is known once
`/__sim/balances` gave it a balance (or with `--open-keys`); its secret is the registered
`api_secret`, else `sim-secret-<api_key>`. Keys registered `read_only` get 10005 on trading.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from urllib.parse import parse_qsl

from server.simulator.core import ApiError, Request, Response, Simulator, json_response

KEY_RE = re.compile(r"[A-Za-z0-9_\-]{1,128}")
LINK_ID_RE = re.compile(r"[A-Za-z0-9_\-]{1,36}")
CATEGORIES = ("spot", "linear")
DEFAULT_RECV_WINDOW = 5000

PARAM_ERROR = "Request parameter error."
NOT_SUPPORTED_SYMBOLS = "Not supported symbols"
INVALID_KEY = "API key is invalid."
PERMISSION_DENIED = "Permission denied, please check your API key permissions."
RATE_LIMIT_MSG = "Too many visits!"
SPOT_INSUFFICIENT = (170131, "Balance insufficient")
LINEAR_INSUFFICIENT = (110007, "ab not enough for new order")
RATE_LIMIT_PER_SECOND = 10  # the create-order limit shown in rate-limit.mdx's header example


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def envelope(result, ret_code: int = 0, ret_msg: str = "OK") -> dict:
    return {
        "retCode": ret_code,
        "retMsg": ret_msg,
        "result": result,
        "retExtInfo": {},
        "time": now_ms(),
    }


def ok(result) -> Response:
    return json_response(envelope(result))


def error(code: int, msg: str, status: int = 200, headers: tuple = ()) -> ApiError:
    """A Bybit error: HTTP 200 (unless told otherwise) with a non-zero retCode."""
    return ApiError(status, envelope({}, code, msg), headers)


def param_error(msg: str = PARAM_ERROR) -> ApiError:
    return error(10001, msg)


# --- number formatting (Bybit sends every number as a string) ---------------------------------
_Q: dict[int, Decimal] = {}


def decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def fixed(value: Decimal, places: int) -> str:
    """`value` with exactly `places` decimals (prices and quantities: "1600.00", "0.10")."""
    q = _Q.get(places)
    if q is None:
        q = _Q[places] = Decimal(1).scaleb(-places)
    return format(value.quantize(q, rounding=ROUND_DOWN), "f")


def plain(value: Decimal) -> str:
    """Shortest plain form (values and fees: "119.015", "0"), never exponent notation."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


# --- parameters ------------------------------------------------------------------------------
def params(req: Request) -> dict:
    """GET: the query string; POST: the JSON body (Bybit v5 POSTs are JSON)."""
    if req.method == "GET":
        return dict(parse_qsl(req.query, True))
    if not req.body:
        return {}
    try:
        body = json.loads(req.body)
    except ValueError:
        raise param_error() from None
    if not isinstance(body, dict):
        raise param_error()
    return body


def text(p: dict, name: str) -> str | None:
    """A string parameter; JSON numbers are accepted as their text, null/"" as absent."""
    value = p.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def number(p: dict, name: str) -> Decimal | None:
    raw = text(p, name)
    if raw is None:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise param_error() from None
    if not value.is_finite():
        raise param_error()
    return value


def integer(p: dict, name: str, default: int | None = None) -> int | None:
    raw = text(p, name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise param_error() from None


def flag(p: dict, name: str) -> bool:
    value = p.get(name)
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1")


def category(p: dict) -> str:
    value = text(p, "category")
    if value not in CATEGORIES:
        raise param_error()
    return value


def limit(p: dict, default: int, maximum: int) -> int:
    value = integer(p, "limit", default)
    assert value is not None
    if not 1 <= value <= maximum:
        raise param_error()
    return value


def cursor_id(p: dict) -> int | None:
    """Our cursors are `page_token%3D<id>%26` (the docs' form); the id is the page's last."""
    raw = text(p, "cursor")
    if raw is None:
        return None
    found = re.search(r"(\d+)", raw)
    if found is None:
        raise param_error()
    return int(found.group(1))


def page(items: list, p: dict, id_of, default: int, maximum: int) -> tuple[list, str]:
    """Newest-first `items` → (one page, nextPageCursor or "" when nothing follows)."""
    after = cursor_id(p)
    size = limit(p, default, maximum)
    if after is not None:
        items = [x for x in items if id_of(x) < after]
    chunk = items[:size]
    more = len(items) > size
    return chunk, (f"page_token%3D{id_of(chunk[-1])}%26" if more and chunk else "")


# --- signing ---------------------------------------------------------------------------------
def sign(payload: str, secret: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signed_payload(req: Request) -> str:
    """What the client signed after `timestamp + key + recv_window`."""
    if req.method == "GET":
        return req.query
    return req.body.decode("utf-8", "replace")


def authenticate(req: Request, sim: Simulator) -> str:
    """Check the `X-BAPI-*` headers (key, timestamp window, HMAC); returns the API key."""
    h = req.headers
    key = h.get("x-bapi-api-key", "")
    ts_raw = h.get("x-bapi-timestamp", "")
    signature = h.get("x-bapi-sign", "")
    if not key or not ts_raw or not signature:
        raise param_error(
            f"empty value: apiTimestamp[{ts_raw}] apiKey[{key}] apiSignature[{signature}]: "
            "openapi sign params error!"
        )
    if not KEY_RE.fullmatch(key) or not sim.key_known(key):
        raise error(10003, INVALID_KEY)
    window_raw = h.get("x-bapi-recv-window") or str(DEFAULT_RECV_WINDOW)
    try:
        ts, window = int(ts_raw), int(window_raw)
    except ValueError:
        raise param_error() from None
    server = now_ms()
    if not server - window <= ts < server + 1000:
        raise error(
            10002,
            "invalid request, please check your server timestamp or recv_window param. "
            f"req_timestamp[{ts}],server_timestamp[{server}],recv_window[{window}]",
        )
    payload = signed_payload(req)
    expected = sign(f"{ts_raw}{key}{window_raw}{payload}", sim.secret_for(key))
    if not hmac.compare_digest(expected, signature.lower()):
        raise error(
            10004,
            "Error sign, please check your signature generation algorithm: "
            f"origin_string[***{payload}]",
        )
    return key


def can_trade(key: str, sim: Simulator) -> None:
    if key in sim.read_only:
        raise error(10005, PERMISSION_DENIED)


def fault_response(kind: str, ms: int, insufficient: tuple[int, str]) -> Response:
    """The Bybit answer for an injected fault (see faults.py for the kinds).

    http_429: HTTP 429 (error.mdx: system-level frequency protection) carrying the API
    rate-limit body `10006 Too many visits!` and rate-limit headers (rate-limit.mdx), plus
    `Retry-After`; ccxt reads the body first (RateLimitExceeded).
    """
    if kind == "http_500":
        body = b"<html><body><h1>500 Internal Server Error</h1></body></html>"
        return Response(500, body, content_type="text/html")
    if kind == "http_429":
        retry = max(1, -(-ms // 1000))
        reset = now_ms() + ms
        headers = (
            ("Retry-After", str(retry)),
            ("X-Bapi-Limit", str(RATE_LIMIT_PER_SECOND)),
            ("X-Bapi-Limit-Status", "0"),
            ("X-Bapi-Limit-Reset-Timestamp", str(reset)),
        )
        return json_response(envelope({}, 10006, RATE_LIMIT_MSG), 429, headers)
    if kind == "insufficient_funds":
        return json_response(envelope({}, *insufficient))
    if kind == "invalid_key":
        return json_response(envelope({}, 10003, INVALID_KEY))
    raise ValueError(kind)


def order_fields(req: Request) -> dict:
    """What the order log keeps of an order request, whether it was accepted or not."""
    try:
        p = params(req)
    except ApiError:
        p = {}
    cat = p.get("category")
    return {
        "api_key": req.headers.get("x-bapi-api-key", ""),
        "venue": f"bybit-{cat}" if cat in CATEGORIES else "bybit",
        "client_order_id": text(p, "orderLinkId"),
        "symbol": text(p, "symbol"),
        "side": text(p, "side"),
        "type": text(p, "orderType"),
        "price": text(p, "price"),
        "qty": text(p, "qty"),
        "reduce_only": flag(p, "reduceOnly"),
    }
