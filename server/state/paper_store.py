"""State of paper-trading accounts in Redis, shared by every process and kept across restarts.

Keys (one set per account, `{base}` = ``{prefix}engine:paper:{account_id}``):

* ``{base}:ledger`` — JSON of the account's money (spot wallets and reservations, or the
  futures wallet and net positions); absent until the first operation funds the account;
* ``{base}:open`` — hash order id → JSON of each open (resting) order;
* ``{base}:done`` — hash order id → JSON of each finished order (filled, cancelled, expired);
* ``{base}:clients`` — hash client order id → order id (client order ids are unique per account);
* ``{base}:lock`` — the redis-py `Lock` that serialises every read-modify-write of the account.

``{prefix}engine:paper:seq`` numbers orders and trades of every paper account (never reset, so
an id is never reused, not even after an account reset). Orders and the ledger are plain JSON
with decimals as strings; the paper exchange (server/exchange/paper.py) owns their shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis

BASE = "{prefix}engine:paper:{account_id}"
SEQ = "{prefix}engine:paper:seq"
PARTS = ("ledger", "open", "done", "clients")


@dataclass(frozen=True)
class Snapshot:
    """What one locked operation starts from: the ledger (None before the first operation)
    and every open order."""

    ledger: dict | None
    open_orders: list[dict]


class PaperStore:
    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        account_id: str,
        *,
        lock_timeout: float = 60.0,
        lock_wait: float = 30.0,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.account_id = account_id
        self.base = BASE.format(prefix=prefix, account_id=account_id)
        self.lock_timeout = lock_timeout  # a crashed holder frees the account after this
        self.lock_wait = lock_wait  # how long an operation waits for the account

    def key(self, part: str) -> str:
        return f"{self.base}:{part}"

    def lock(self) -> redis.lock.Lock:
        """The account's lock; `with store.lock():` raises redis' LockError after `lock_wait`."""
        return self.client.lock(
            self.key("lock"), timeout=self.lock_timeout, blocking_timeout=self.lock_wait
        )

    def next_id(self) -> int:
        return int(self.client.incr(SEQ.format(prefix=self.prefix)))

    def load(self) -> Snapshot:
        pipe = self.client.pipeline(transaction=False)
        pipe.get(self.key("ledger"))
        pipe.hvals(self.key("open"))
        ledger, opened = pipe.execute()
        return Snapshot(json.loads(ledger) if ledger else None, [json.loads(o) for o in opened])

    def order(self, order_id: int) -> dict | None:
        """An order by id, open or finished."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(self.key("open"), str(order_id))
        pipe.hget(self.key("done"), str(order_id))
        opened, done = pipe.execute()
        raw = opened or done
        return json.loads(raw) if raw else None

    def order_id_for(self, client_order_id: str) -> int | None:
        raw = self.client.hget(self.key("clients"), client_order_id)
        return int(raw) if raw is not None else None

    def save(
        self,
        ledger: dict | None,
        open_orders: dict[int, dict],
        done_orders: dict[int, dict],
        clients: dict[str, int],
    ) -> None:
        """Write one operation's changes atomically (MULTI/EXEC)."""
        pipe = self.client.pipeline(transaction=True)
        if ledger is not None:
            pipe.set(self.key("ledger"), _dumps(ledger))
        if open_orders:
            pipe.hset(self.key("open"), mapping={str(k): _dumps(v) for k, v in open_orders.items()})
        if done_orders:
            pipe.hset(self.key("done"), mapping={str(k): _dumps(v) for k, v in done_orders.items()})
            pipe.hdel(self.key("open"), *(str(k) for k in done_orders))
        if clients:
            pipe.hset(self.key("clients"), mapping={k: str(v) for k, v in clients.items()})
        pipe.execute()

    def clear(self) -> None:
        """Forget the account's orders and money (the id sequence and the lock stay)."""
        self.client.delete(*(self.key(part) for part in PARTS))


def _dumps(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"))
