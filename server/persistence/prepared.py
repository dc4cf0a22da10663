"""Statements whose SQL text is built once per process (the signal job's hot path, issue 5).

Peewee builds a statement's SQL text from its expression tree on every execution; on the
signal job's path in front of the first order that was about half of the job's CPU. A
`Prepared` statement is an ordinary peewee query written with `Slot`s where the values go.
The first time it runs (per kind of database: PostgreSQL and SQLite differ in placeholders and
in clauses such as FOR UPDATE) its text and the position of every slot are worked out; every
run after that only converts the values — through the field a slot stands for, as peewee
itself would — and sends the text. Rows come back through the query's own cursor wrapper, so
a SELECT yields the same model instances (joined models included) as the query run by peewee.

`insert_rows` does the same for INSERTs of model instances: one statement for a list of rows,
its text kept per (model, columns, number of rows); `save_row` for `save()` of a stored row;
`get_row` / `lock_row` for reading one row by primary key (`lock_row`: FOR UPDATE where the
database has it).

Only constants and `Slot`s may appear in a prepared query: anything else would be frozen into
the text at its first run. (The intake's `intake_queries` goes further — hand-written SQL —
for its one-statement write; here the statements stay peewee queries.)
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping

from peewee import Field, Model, Node, Query

from server.persistence.db import db, locked


class Slot(Node):
    """A value of a prepared statement, named; converted by `field` (its `db_value`) when
    given, as peewee converts a value compared with or assigned to that field."""

    def __init__(self, name: Hashable, field: Field | None = None) -> None:
        super().__init__()
        self.name = name
        self.convert = field.db_value if field is not None else None

    def __sql__(self, ctx):
        ctx._values.append(self)
        return ctx.literal(ctx.state.param or "?")


class Prepared:
    """A peewee query (`build()` returns it, with `Slot`s for its values) whose SQL text is
    built once per database kind and reused."""

    def __init__(self, build: Callable[[], Query]) -> None:
        self._build = build
        self._built: dict[type, tuple[Query, str, tuple]] = {}

    def _prepared(self) -> tuple[Query, str, tuple]:
        kind = type(db.obj)
        found = self._built.get(kind)
        if found is None:
            query = self._build()
            sql, params = query.sql()
            found = self._built[kind] = (query, sql, tuple(params))
        return found

    def execute(self, values: Mapping):
        """Run the statement with `values` (by slot name); returns the database cursor."""
        _query, sql, params = self._prepared()
        return db.execute_sql(sql, _bind(params, values))

    def rows(self, **values) -> Iterator:
        """The rows of a SELECT, as the query would yield them (model instances)."""
        query, sql, params = self._prepared()
        cursor = db.execute_sql(sql, _bind(params, values))
        return iter(query._get_cursor_wrapper(cursor))

    def first(self, **values):
        """The first row, or None (write the query with `.limit(1)`)."""
        return next(self.rows(**values), None)

    def scalar(self, **values):
        """The first column of the first row, or None."""
        row = self.execute(values).fetchone()
        return None if row is None else row[0]

    def rowcount(self, **values) -> int:
        """Run an UPDATE or DELETE; how many rows it changed."""
        return self.execute(values).rowcount


def slots(model: type[Model], *names: str) -> dict:
    """`{field: Slot(name, field)}` for the fields `names` of `model`: an UPDATE's
    assignments, each value given at run time under the field's name."""
    return {getattr(model, n): Slot(n, getattr(model, n)) for n in names}


def _bind(params: tuple, values: Mapping) -> list:
    out = []
    for p in params:
        if isinstance(p, Slot):
            value = values[p.name]
            out.append(p.convert(value) if p.convert is not None else value)
        else:
            out.append(p)
    return out


_INSERTS: dict[tuple, Prepared] = {}


def insert_rows(rows: list[Model]) -> None:
    """INSERT unsaved model instances, all of one model, in one statement — the columns are
    the fields set on them (defaults included, as `save(force_insert=True)` and `bulk_create`
    write them). Marks them saved (clean), as `save` does."""
    if not rows:
        return
    model = type(rows[0])
    fields = tuple(f for f in model._meta.sorted_fields if any(f.name in r.__data__ for r in rows))
    key = (model, tuple(f.name for f in fields), len(rows))
    statement = _INSERTS.get(key)
    if statement is None:
        statement = _INSERTS[key] = Prepared(_insert_builder(model, fields, len(rows)))
    statement.execute(_RowValues(rows))
    for row in rows:
        row._dirty.clear()


def _insert_builder(model: type[Model], fields: tuple, count: int) -> Callable[[], Query]:
    def build() -> Query:
        slots = [[Slot((i, f.name), f) for f in fields] for i in range(count)]
        return model.insert_many(slots, fields=list(fields)).returning()

    return build


class _RowValues(Mapping):
    """Slot values `(row index, field name)` read from the instances' data."""

    def __init__(self, rows: list[Model]) -> None:
        self._rows = rows

    def __getitem__(self, key):
        index, name = key
        return self._rows[index].__data__.get(name)

    def __iter__(self):
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._rows)


_UPDATES: dict[tuple, Prepared] = {}


def save_row(row: Model) -> int:
    """`row.save()` for a stored row: UPDATE every field set on it, by its primary key (the
    columns `save()` writes). Marks it clean, as `save` does; returns the rows changed."""
    model = type(row)
    pk = model._meta.primary_key
    fields = tuple(f for f in model._meta.sorted_fields if f is not pk and f.name in row.__data__)
    key = (model, tuple(f.name for f in fields))
    statement = _UPDATES.get(key)
    if statement is None:
        statement = _UPDATES[key] = Prepared(_update_builder(model, fields))
    changed = statement.execute(row.__data__).rowcount
    row._dirty.clear()
    return changed


def _update_builder(model: type[Model], fields: tuple) -> Callable[[], Query]:
    pk = model._meta.primary_key

    def build() -> Query:
        assignments = {f: Slot(f.name, f) for f in fields}
        return model.update(assignments).where(pk == Slot(pk.name, pk))

    return build


_BY_ID: dict[tuple[type, bool], Prepared] = {}


def get_row(model: type[Model], row_id):
    """The row of `model` with primary key `row_id` (every column), or None."""
    return _by_id(model, False).first(id=row_id)


def lock_row(model: type[Model], row_id):
    """`get_row`, locking the row until the transaction ends (FOR UPDATE on PostgreSQL; SQLite
    serialises writers by itself). Raises the model's `DoesNotExist` when there is none."""
    row = _by_id(model, True).first(id=row_id)
    if row is None:
        raise model.DoesNotExist(f"{model.__name__} {row_id} does not exist")
    return row


def _by_id(model: type[Model], lock: bool) -> Prepared:
    statement = _BY_ID.get((model, lock))
    if statement is None:
        pk = model._meta.primary_key

        def build() -> Query:
            query = model.select().where(pk == Slot("id", pk)).limit(1)
            return locked(query) if lock else query

        statement = _BY_ID[(model, lock)] = Prepared(build)
    return statement
