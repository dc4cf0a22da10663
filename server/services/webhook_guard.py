"""Who may send webhooks and how often (SPEC §2.1): rate limits, failed-authentication blocks
and the per-user IP allowlist.

Limits run on flask-limiter's own strategy object (moving window, on Redis, under the stack's
key prefix), called from the intake service rather than as a route decorator, so the intake
decides the order of the checks and writes every refusal to the webhook log:

1. every request, per client address (`WEBHOOK_RATE_LIMIT_ADDRESS`);
2. a (address, webhook URL) pair that failed authentication `WEBHOOK_AUTH_FAILURE_LIMIT`
   times in the window gets `429` for *every* request, even with the right secret, until the
   window slides on — otherwise the 429 would itself tell a guesser which secret is right;
3. authenticated requests, per user (`WEBHOOK_RATE_LIMIT_USER`).

When Redis is unreachable the limits fail open (logged): a signal is worth more than a throttle.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import redis
from flask import current_app
from limits import RateLimitItem, parse

from server import runtime
from server.extensions import limiter

log = logging.getLogger(__name__)

# TradingView's published webhook sender addresses (the `use_tradingview_preset` setting).
TRADINGVIEW_ADDRESSES = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")
_LOGGED_KEY = "{prefix}engine:webhook-refusal-logged:{what}"


@dataclass(frozen=True)
class Refusal:
    """A request refused by a limit, with how long until it would pass."""

    reason: str
    retry_after: int


@cache
def _item(text: str) -> RateLimitItem:
    return parse(text)


def _prefix() -> str:
    return current_app.config["RATELIMIT_KEY_PREFIX"]


def _retry_after(item: RateLimitItem, *identifiers: str) -> int:
    try:
        stats = limiter.limiter.get_window_stats(item, _prefix(), *identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))
    except Exception:  # a missing hint must not fail the refusal itself
        return int(item.get_expiry())


def _enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True)) and limiter.enabled


def _hit(setting: str, *identifiers: str) -> Refusal | None:
    if not _enabled():
        return None
    item = _item(current_app.config[setting])
    try:
        allowed = limiter.limiter.hit(item, _prefix(), *identifiers)
    except (redis.RedisError, OSError) as exc:
        log.warning("webhook limit %s not checked (Redis: %s); let through", setting, exc)
        return None
    if allowed:
        return None
    return Refusal(f"rate limited: more than {item}", _retry_after(item, *identifiers))


def check_address(address: str) -> Refusal | None:
    """Count one request from `address`; a refusal when it is over the per-address limit."""
    return _hit("WEBHOOK_RATE_LIMIT_ADDRESS", *_address_key(address))


def check_user(user_id: str) -> Refusal | None:
    """Count one authenticated request of a user; a refusal when over the per-user limit."""
    return _hit("WEBHOOK_RATE_LIMIT_USER", "webhook-user", user_id)


def _address_key(address: str) -> tuple[str, ...]:
    return ("webhook-address", address)


def _auth_key(address: str, url_user_id: str) -> tuple[str, ...]:
    return ("webhook-auth-failures", address, url_user_id[:64])


def check_address_and_auth(address: str, url_user_id: str) -> tuple[Refusal | None, Refusal | None]:
    """`check_address` and `auth_blocked` in one Redis round trip: (the address refusal, the
    failed-authentication block). Every request needs both before anything else, so the two
    moving-window scripts go out in one pipeline; the answers are exactly those of the two
    calls one after the other (the block is only read, never counted, here). Off Redis storage,
    or when Redis has lost the scripts (NOSCRIPT), the two calls are made one by one."""
    if not _enabled():
        return None, None
    storage = limiter.limiter.storage
    scripts = ("lua_acquire_moving_window", "lua_moving_window", "prefixed_key")
    if not all(hasattr(storage, name) for name in scripts):
        return check_address(address), auth_blocked(address, url_user_id)
    per_address = _item(current_app.config["WEBHOOK_RATE_LIMIT_ADDRESS"])
    failures = _item(current_app.config["WEBHOOK_AUTH_FAILURE_LIMIT"])
    address_key = storage.prefixed_key(per_address.key_for(_prefix(), *_address_key(address)))
    auth_key = storage.prefixed_key(failures.key_for(_prefix(), *_auth_key(address, url_user_id)))
    now = time.time()
    try:
        pipe = storage.get_connection().pipeline(transaction=False)
        pipe.evalsha(
            storage.lua_acquire_moving_window.sha,
            1,
            address_key,
            now,
            per_address.amount,
            per_address.get_expiry(),
            1,
        )
        pipe.evalsha(
            storage.lua_moving_window.sha, 1, auth_key, now - failures.get_expiry(), failures.amount
        )
        acquired, window = pipe.execute(raise_on_error=False)
    except (redis.RedisError, OSError) as exc:
        log.warning("webhook address limit and block not checked (Redis: %s); let through", exc)
        return None, None
    if isinstance(acquired, Exception):  # NOSCRIPT: the library's call loads the script
        address_refusal = check_address(address)
    elif acquired:
        address_refusal = None
    else:
        address_refusal = Refusal(
            f"rate limited: more than {per_address}",
            _retry_after(per_address, *_address_key(address)),
        )
    if isinstance(window, Exception):
        return address_refusal, auth_blocked(address, url_user_id)
    failed = int(window[1]) if window else 0
    if failed <= failures.amount - 1:
        return address_refusal, None
    return address_refusal, Refusal(
        f"blocked: more than {failures} failed authentications from this address",
        _retry_after(failures, *_auth_key(address, url_user_id)),
    )


def auth_blocked(address: str, url_user_id: str) -> Refusal | None:
    """A refusal while (address, webhook URL) is over its failed-authentication limit."""
    if not _enabled():
        return None
    item = _item(current_app.config["WEBHOOK_AUTH_FAILURE_LIMIT"])
    identifiers = _auth_key(address, url_user_id)
    try:
        if limiter.limiter.test(item, _prefix(), *identifiers):
            return None
    except (redis.RedisError, OSError) as exc:
        log.warning("failed-authentication block not checked (Redis: %s)", exc)
        return None
    return Refusal(
        f"blocked: more than {item} failed authentications from this address",
        _retry_after(item, *identifiers),
    )


def count_auth_failure(address: str, url_user_id: str) -> None:
    if not _enabled():
        return
    item = _item(current_app.config["WEBHOOK_AUTH_FAILURE_LIMIT"])
    try:
        limiter.limiter.hit(item, _prefix(), *_auth_key(address, url_user_id))
    except (redis.RedisError, OSError) as exc:
        log.warning("failed authentication not counted (Redis: %s)", exc)


def first_in_second(what: str) -> bool:
    """True for the first refusal of its kind in a second: a flood of refused requests writes
    one webhook-log row per second per limit key, not one per request."""
    key = _LOGGED_KEY.format(prefix=current_app.config["RQ_QUEUE_PREFIX"], what=what)
    try:
        return bool(runtime.redis_client().set(key, "1", nx=True, ex=1))
    except (redis.RedisError, OSError):
        return True


# --------------------------------------------------------------------------- IP allowlist


def allowlist(signal_settings: Mapping) -> list[str]:
    """The user's effective allowlist: their entries plus TradingView's preset if chosen.
    Empty means every address may send (the secret still has to match)."""
    entries = list(signal_settings.get("ip_allowlist") or [])
    if signal_settings.get("use_tradingview_preset"):
        entries += [a for a in TRADINGVIEW_ADDRESSES if a not in entries]
    return entries


def address_allowed(address: str | None, entries: list[str]) -> bool:
    if not entries:
        return True
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:52.89.214.238 is the IPv4 sender on a dual-stack socket
    for entry in entries:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False
