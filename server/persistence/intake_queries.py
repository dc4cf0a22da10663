"""The webhook fast path's reads and writes, in as few database round trips as possible.

Every accepted webhook needs the sender (user, secret, `signals` settings, active accounts) and
then writes the signal, its duplicate-window slot and its webhook-log row atomically. Through
the ORM that is 3 reads and 5 statements (BEGIN, 3 inserts, COMMIT); on PostgreSQL this module
does it in one read and one write statement, with SQL text built once. SQLite (the embedded
default) takes the ORM path; both paths are tested against each other.

The write is one statement, so it is atomic without an explicit transaction:
- the slot upsert inserts a new (user, body hash) slot, or takes over one older than the
  window, or changes nothing (`RETURNING` yields no row: a duplicate);
- the signal and the log row are inserted only when the slot was claimed;
- a repeated `signal_id` violates the signal's unique (user, dedupe_key) key and the whole
  statement fails with `IntegrityError`.
Racing requests serialise on the slot's and the signal's unique keys, whatever the number of
web processes.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import EXCLUDED

from server.persistence.db import db, is_postgres
from server.persistence.fields import ExactDecimalField, JSONDocField
from server.persistence.models import (
    ExchangeAccount,
    SettingsVersion,
    Signal,
    SignalFingerprint,
    User,
    WebhookLog,
)

_DOC = JSONDocField()
_DEC = ExactDecimalField()


@dataclass(frozen=True)
class Sender:
    """The user behind a webhook URL, as the intake needs them."""

    user: User  # id, is_active, webhook_secret_enc
    signals_settings: dict | None  # the stored `signals` section, None when never saved
    accounts: list[tuple[str, str, str, str]]  # active: (id, exchange, market_type, label)
    # `signals_settings` as JSON text (PostgreSQL's canonical jsonb text), None when never
    # saved: a key under which its validated form can be cached (services.intake).
    signals_text: str | None = None


_SENDER_SQL_PG = """
SELECT u.is_active, u.webhook_secret_enc,
  (SELECT (sv.document -> 'signals')::text FROM settings_version sv
    WHERE sv.user_id = u.id ORDER BY sv.version DESC LIMIT 1),
  (SELECT json_agg(json_build_array(a.id, a.exchange, a.market_type, a.label)
                   ORDER BY a.created_at)::text
     FROM exchange_account a WHERE a.user_id = u.id AND a.is_active)
FROM "user" u WHERE u.id = %s::uuid
"""


def load_sender(user_id: uuid.UUID) -> Sender | None:
    """The sender of `user_id`, or `None` when there is no such user (active or not)."""
    if is_postgres():
        row = db.execute_sql(_SENDER_SQL_PG, (str(user_id),)).fetchone()
        if row is None:
            return None
        active, secret_enc, settings_text, accounts_text = row
        user = User(id=user_id, is_active=active, webhook_secret_enc=secret_enc)
        accounts = [tuple(a) for a in json.loads(accounts_text)] if accounts_text else []
        settings = json.loads(settings_text) if settings_text else None
        return Sender(user, settings, accounts, settings_text if settings is not None else None)
    return _load_sender_orm(user_id)


def _load_sender_orm(user_id: uuid.UUID) -> Sender | None:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        return None
    latest = (
        SettingsVersion.select(SettingsVersion.document)
        .where(SettingsVersion.user == user_id)
        .order_by(SettingsVersion.version.desc())
        .first()
    )
    accounts = [
        (str(a.id), a.exchange, a.market_type, a.label)
        for a in ExchangeAccount.select()
        .where((ExchangeAccount.user == user_id) & (ExchangeAccount.is_active == True))  # noqa: E712
        .order_by(ExchangeAccount.created_at)
    ]
    settings = (latest.document or {}).get("signals") if latest else None
    text = None if settings is None else json.dumps(settings, sort_keys=True)
    return Sender(user, settings, accounts, text)


# --------------------------------------------------------------------------- writing

_SIGNAL_COLUMNS = (
    ("id", "uuid"),
    ("created_at", "timestamp"),
    ("user_id", "uuid"),
    ("account_id", "uuid"),
    ("dedupe_key", "text"),
    ("sender_signal_id", "text"),
    ("intent", "text"),
    ("exchange", "text"),
    ("market_type", "text"),
    ("symbol", "text"),
    ("timeframe", "integer"),
    ("side", "text"),
    ("entry_price", "numeric"),
    ("signal_time", "timestamp"),
    ("payload", "jsonb"),
    ("lane", "text"),
    ("is_replay", "boolean"),
    ("status", "text"),
)
_LOG_COLUMNS = (
    ("id", "uuid"),
    ("created_at", "timestamp"),
    ("user_id", "uuid"),
    ("remote_addr", "text"),
    ("status", "text"),
    ("http_status", "integer"),
    ("reason", "text"),
    ("payload", "jsonb"),
    ("symbol", "text"),
    ("authenticated", "boolean"),
    ("is_replay", "boolean"),
    ("replay_of", "uuid"),
)


def _select_list(prefix: str, columns) -> str:
    return ", ".join(f"%({prefix}{name})s::{kind}" for name, kind in columns)


# Built once from the constant column lists above (no request data ever reaches the text).
_ACCEPT_SQL_PG = f"""
WITH claim AS (
  INSERT INTO signal_fingerprint (id, created_at, user_id, body_sha256, signal_id, accepted_at)
  VALUES (%(fp_id)s::uuid, %(now)s, %(s_user_id)s::uuid, %(digest)s, %(s_id)s::uuid, %(now)s)
  ON CONFLICT (user_id, body_sha256) DO UPDATE
    SET signal_id = EXCLUDED.signal_id, accepted_at = EXCLUDED.accepted_at
    WHERE signal_fingerprint.accepted_at <= %(cutoff)s
  RETURNING 1
), sig AS (
  INSERT INTO signal ({", ".join(n for n, _ in _SIGNAL_COLUMNS)})
  SELECT {_select_list("s_", _SIGNAL_COLUMNS)} WHERE EXISTS (SELECT 1 FROM claim)
  RETURNING id
)
INSERT INTO webhook_log ({", ".join(n for n, _ in _LOG_COLUMNS)}, signal_id)
SELECT {_select_list("l_", _LOG_COLUMNS)}, sig.id FROM sig
RETURNING 1
"""  # noqa: S608


def _pg_params(prefix: str, values: dict) -> dict:
    out = {}
    for key, value in values.items():
        if key == "payload":
            value = _DOC.db_value(value)
        elif key == "entry_price":
            value = _DEC.db_value(value)
        elif isinstance(value, uuid.UUID):
            value = str(value)
        out[f"{prefix}{key}"] = value
    return out


def insert_accepted(
    signal: dict, log: dict, digest: str | None, now: datetime, window: timedelta
) -> bool:
    """Store an accepted signal and its log row atomically, claiming the body's slot in the
    duplicate window when `digest` is given. False when the body is a duplicate (nothing is
    written); `IntegrityError` when the signal's dedupe key (a `signal_id`) was seen."""
    if digest is not None and is_postgres():
        params = _pg_params("s_", signal) | _pg_params("l_", log)
        params |= {"fp_id": str(uuid.uuid4()), "now": now, "cutoff": now - window}
        params["digest"] = digest
        return db.execute_sql(_ACCEPT_SQL_PG, params).fetchone() is not None
    try:
        with db.atomic():
            Signal.insert(**signal).execute()
            if digest is not None and not _claim_slot(
                signal["user_id"], digest, signal["id"], now, window
            ):
                raise _SlotTaken
            WebhookLog.insert(**log, signal_id=signal["id"]).execute()
    except _SlotTaken:
        return False  # rolled back: nothing of this request is stored
    return True


class _SlotTaken(Exception):
    pass


def _claim_slot(user_id, digest: str, signal_id, now: datetime, window: timedelta) -> bool:
    query = SignalFingerprint.insert(
        id=uuid.uuid4(),
        created_at=now,
        user=user_id,
        body_sha256=digest,
        signal=signal_id,
        accepted_at=now,
    ).on_conflict(
        conflict_target=[SignalFingerprint.user, SignalFingerprint.body_sha256],
        update={
            SignalFingerprint.signal: EXCLUDED.signal_id,
            SignalFingerprint.accepted_at: EXCLUDED.accepted_at,
        },
        where=(SignalFingerprint.accepted_at <= now - window),
    )
    return db.execute(query).rowcount == 1
