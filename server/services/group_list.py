"""The positions list (API.md `GET /api/positions`): up to 1,000 groups, newest first, each
in the shape `group_out` writes (`serializers.GROUP_SHAPE`), handed to the route as the JSON
text of the array.

It is the SPA's whole positions view, so it is read lean. On PostgreSQL every value comes
back already written as the contract writes it — ids as text, decimals by `trim_scale` (no
exponent, no trailing zeros: `plain_decimal`), times by `to_char` (ISO UTC, milliseconds
truncated, a Z: `isoformat`) — and a row becomes its dict by zipping it with the keys:
building a model, a `Decimal` and a `datetime` per value and formatting them back cost about
three times the rest of the request at 1,000 rows. SQLite keeps decimals and times as text
of its own, so there the rows are converted and written in Python.

The array is encoded by orjson (compact, keys in GROUP_SHAPE's order, non-ASCII as UTF-8):
`json.dumps` of the 700 KB of dicts was 44 % of the web process's CPU (docs/performance.md).
Having PostgreSQL write the JSON itself (`row_to_json`) was tried and measured: it moved the
same CPU from the web process into the database. The index on (user_id, created_at)
(migration 006) lets PostgreSQL read the newest 1,000 in order instead of sorting every
group of the user.
"""

from __future__ import annotations

import orjson
from peewee import Select, fn

from server.api.serializers import GROUP_SHAPE, WRITERS
from server.persistence.db import db, is_postgres, plain_rows
from server.persistence.models import PositionGroup

LIMIT = 1000
_KEYS = tuple(key for key, _, _ in GROUP_SHAPE)
_ISO_MILLISECONDS = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'  # the columns are UTC without a zone
_WRITTEN_BY_POSTGRES = {
    "id": lambda column: column.cast("text"),
    "money": lambda column: fn.trim_scale(column).cast("text"),
    "time": lambda column: fn.to_char(column, _ISO_MILLISECONDS),
    "plain": lambda column: column,
}


def list_json(user_id, statuses: list[str] | None) -> bytes:
    """The user's groups in `statuses` (None: every status), newest first, at most `LIMIT`,
    as the UTF-8 JSON text of one array."""
    return orjson.dumps(list_groups(user_id, statuses))


def list_groups(user_id, statuses: list[str] | None) -> list[dict]:
    """The same groups as dicts, every value as the contract writes it."""
    if is_postgres():
        return [
            dict(zip(_KEYS, row, strict=True))
            for row in db.execute(written_query(user_id, statuses))
        ]
    columns = [column for _, column, _ in GROUP_SHAPE]
    writers = [(key, WRITERS[kind]) for key, _, kind in GROUP_SHAPE]
    return [
        {key: write(value) for (key, write), value in zip(writers, row, strict=True)}
        for row in plain_rows(_newest(user_id, statuses, columns), columns)
    ]


def written_query(user_id, statuses: list[str] | None) -> Select:
    """PostgreSQL: the newest groups, then each value written. Written outside the sorted,
    limited subquery on purpose: the planner computes a select list before the sort (its
    functions are cheap by their declared cost), so in one flat query every group of the user
    would be formatted and most of them thrown away by the LIMIT."""
    newest = _newest(user_id, statuses, [column for _, column, _ in GROUP_SHAPE]).alias("newest")
    written = [
        _WRITTEN_BY_POSTGRES[kind](getattr(newest.c, column.column_name))
        for _, column, kind in GROUP_SHAPE
    ]
    return Select([newest], written).order_by(newest.c.created_at.desc())


def _newest(user_id, statuses: list[str] | None, columns: list) -> Select:
    group = PositionGroup
    mine = group.user == user_id
    if statuses is not None:
        mine &= group.status.in_(statuses)
    return group.select(*columns).where(mine).order_by(group.created_at.desc()).limit(LIMIT)
