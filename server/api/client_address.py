"""The caller's address, honouring `X-Forwarded-For` only from configured trusted proxies."""

from __future__ import annotations

from flask import current_app, request


def client_ip() -> str:
    """Remote address of the real client.

    `X-Forwarded-For` is attacker-controlled unless the hop that sent it is one of ours, so it
    is read only when the direct peer is in TRUSTED_PROXIES, and then right-to-left: the first
    address that is not itself a trusted proxy is the client.
    """
    peer = request.remote_addr or "unknown"
    trusted = set(current_app.config.get("TRUSTED_PROXIES") or ())
    if peer not in trusted:
        return peer
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
    for address in reversed([a for a in forwarded if a]):
        if address not in trusted:
            return address
    return peer
