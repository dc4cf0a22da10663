"""The positions list (API.md `GET /api/positions`): up to 1,000 groups, newest first, each
in the shape `group_out` writes (`serializers.GROUP_SHAPE`), handed to the route as the JSON
text of the array.

It is the SPA's whole positions view, so it is read lean. On PostgreSQL the database writes
the JSON itself: every value as the contract writes it — ids as text, decimals by
`trim_scale` (no exponent, no trailing zeros: `plain_decimal`), times by `to_char` (ISO UTC,
milliseconds truncated, a Z: `isoformat`) — each row by `row_to_json` (keys in GROUP_SHAPE's
order, compact), joined into one array. Building a model, a `Decimal` and a `datetime` per
value cost three times the rest of the request at 1,000 rows; after those were written by
PostgreSQL, encoding the 700 KB of dicts with `json.dumps` was 44 % of the web process's CPU
(docs/performance.md). The index on (user_id, created_at) (migration 006) lets PostgreSQL
read the newest 1,000 in order instead of sorting every group of the user.

SQLite keeps decimals and times as text of its own, so there the rows are converted and
written in Python, then encoded the way PostgreSQL writes them (compact, keys in the same
order, non-ASCII as UTF-8): the same text on both databases.
"""

from __future__ import annotations

import json

from peewee import Select, fn

from server.api.serializers import GROUP_SHAPE, WRITERS
from server.persistence.db import db, is_postgres, plain_rows
from server.persistence.models import PositionGroup

LIMIT = 1000
_ISO_MILLISECONDS = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'  # the columns are UTC without a zone
_WRITTEN_BY_POSTGRES = {
    "id": lambda column: column.cast("text"),
    "money": lambda column: fn.trim_scale(column).cast("text"),
    "time": lambda column: fn.to_char(column, _ISO_MILLISECONDS),
    "plain": lambda column: column,
}
# One JSON array of the written rows, newest first. `created_at` is written as fixed-width ISO
# text, so ordering by it orders by time; an aggregate's input order is only kept with an
# ORDER BY of its own.
_AS_JSON_ARRAY = (
    "SELECT '[' || coalesce(string_agg(row_to_json(written)::text, ',' "
    "ORDER BY written.created_at DESC), '') || ']' FROM ({rows}) AS written"
)


def list_json(user_id, statuses: list[str] | None) -> str:
    """The user's groups in `statuses` (None: every status), newest first, at most `LIMIT`,
    as the JSON text of one array."""
    if is_postgres():
        return db.execute_sql(*json_array_sql(user_id, statuses)).fetchone()[0]
    return json.dumps(list_groups(user_id, statuses), ensure_ascii=False, separators=(",", ":"))


def json_array_sql(user_id, statuses: list[str] | None) -> tuple[str, list]:
    """PostgreSQL: the statement (and its parameters) that writes the list's JSON array."""
    sql, params = db.get_sql_context().sql(written_query(user_id, statuses)).query()
    return _AS_JSON_ARRAY.format(rows=sql), params


def list_groups(user_id, statuses: list[str] | None) -> list[dict]:
    """SQLite: the same groups as dicts, each value written in Python."""
    columns = [column for _, column, _ in GROUP_SHAPE]
    writers = [(key, WRITERS[kind]) for key, _, kind in GROUP_SHAPE]
    return [
        {key: write(value) for (key, write), value in zip(writers, row, strict=True)}
        for row in plain_rows(_newest(user_id, statuses, columns), columns)
    ]


def written_query(user_id, statuses: list[str] | None) -> Select:
    """PostgreSQL: the newest groups, then each value written under its key. Written outside
    the sorted, limited subquery on purpose: the planner computes a select list before the
    sort (its functions are cheap by their declared cost), so in one flat query every group
    of the user would be formatted and most of them thrown away by the LIMIT."""
    newest = _newest(user_id, statuses, [column for _, column, _ in GROUP_SHAPE]).alias("newest")
    written = [
        _WRITTEN_BY_POSTGRES[kind](getattr(newest.c, column.column_name)).alias(key)
        for key, column, kind in GROUP_SHAPE
    ]
    return Select([newest], written)


def _newest(user_id, statuses: list[str] | None, columns: list) -> Select:
    group = PositionGroup
    mine = group.user == user_id
    if statuses is not None:
        mine &= group.status.in_(statuses)
    return group.select(*columns).where(mine).order_by(group.created_at.desc()).limit(LIMIT)
