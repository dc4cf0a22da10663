"""Injected faults (`POST /__sim/faults`): which requests they hit and how often.

A fault is `{match: {method?, path?}, kind, rate?, ms?, count?, execute?}`:

* `match.method` (optional, any when absent) and `match.path` — a *prefix* of the request path
  (`/api/v3/order` hits POST/GET/DELETE /api/v3/order and /api/v3/order/test);
* `rate` — probability 0..1 that a matching request is hit (default 1);
* `count` — optional: the fault removes itself after hitting this many requests;
* `kind`:
  - `latency`: wait `ms` (default 200) before handling the request normally;
  - `timeout`: the request *is executed* (an order is placed), then the answer is withheld for
    `ms` (default 15000) and the connection is closed without a response; with
    `"execute": false` the request is dropped unexecuted instead;
  - `http_500`: HTTP 500 with a non-JSON body, nothing executed;
  - `http_429`: HTTP 429, `Retry-After: ceil(ms/1000)` seconds (default 1) and the exchange's
    rate-limit body, nothing executed;
  - `insufficient_funds` / `invalid_key`: the exchange's own error body, nothing executed.

Control paths (`/__sim/...`) are never hit. The first matching fault (in the order they were
added) that fires wins. Held timeouts are released early by reset or by clearing the faults.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

KINDS = ("latency", "timeout", "http_500", "http_429", "insufficient_funds", "invalid_key")
DEFAULT_MS = {"latency": 200, "timeout": 15000, "http_429": 1000}


@dataclass
class Fault:
    id: int
    kind: str
    method: str | None
    path: str | None
    rate: float
    ms: int
    count: int | None
    execute: bool
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or path.startswith(self.path)

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "match": {"method": self.method, "path": self.path},
            "kind": self.kind,
            "rate": self.rate,
            "ms": self.ms,
            "count": self.count,
            "execute": self.execute,
            "hits": self.hits,
        }


def parse_fault(body: dict, fault_id: int) -> Fault:
    """Validate a control-API fault definition; ValueError with a readable reason."""
    kind = body.get("kind")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    match = body.get("match") or {}
    if not isinstance(match, dict):
        raise ValueError("match must be an object {method, path}")
    method = match.get("method")
    rate = float(body.get("rate", 1))
    if not 0 <= rate <= 1:
        raise ValueError("rate must be between 0 and 1")
    ms = int(body.get("ms", DEFAULT_MS.get(kind, 0)))
    if ms < 0:
        raise ValueError("ms must be >= 0")
    count = body.get("count")
    if count is not None and int(count) < 1:
        raise ValueError("count must be >= 1")
    return Fault(
        id=fault_id,
        kind=kind,
        method=method.upper() if method else None,
        path=match.get("path") or None,
        rate=rate,
        ms=ms,
        count=int(count) if count is not None else None,
        execute=bool(body.get("execute", True)),
    )


class FaultSet:
    """The active faults; `pick` is called once per exchange request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1
        self.released = threading.Event()  # set to wake held timeouts

    def add(self, body: dict) -> Fault:
        with self._lock:
            fault = parse_fault(body, self._next_id)
            self._next_id += 1
            self._faults.append(fault)
            if self.released.is_set():
                self.released = threading.Event()
            return fault

    def clear(self) -> None:
        with self._lock:
            self._faults = []
            self.released.set()

    def list(self) -> list[dict]:
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def pick(self, method: str, path: str) -> Fault | None:
        if not self._faults:
            return None
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                if fault.rate < 1 and random.random() >= fault.rate:
                    continue
                fault.hits += 1
                if fault.count is not None and fault.hits >= fault.count:
                    self._faults.remove(fault)
                return fault
        return None
