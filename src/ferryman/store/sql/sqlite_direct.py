"""The store's hottest statements on SQLite, run on the sqlite3 connection itself.

Inside a transaction that runs whole on SQLite's thread (``sqlite_thread.transaction``),
each statement through SQLAlchemy still went through its execution context, events,
result machinery and the asyncio adapter's greenlet hand-over: about 150 µs a statement
on this machine where SQLite itself took 10, and an album of ten photos ran some fifteen
statements (bench/results/pipeline.md, 2026-11-26). ``execute`` runs such a statement
with the SQL SQLAlchemy compiled for it (compiled once per statement and shape in a
process: ``_PLANS``), SQLAlchemy's own bind and result conversions, and rows that read as
SQLAlchemy's do (``row.id``, ``row._mapping``). Anywhere else (PostgreSQL, a call off
SQLite's thread) it is ``conn.execute``.
"""

from __future__ import annotations

import collections
import contextlib
import sqlite3
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.sql import Executable

from ferryman.store import sqlite_thread

Params = Mapping[str, Any]
_Shape = tuple[tuple[str, ...], tuple[int, ...]]  # a call's parameter names, its lists' widths
_MAX_VALUES = 30_000  # ``?`` a statement may hold (SQLite's limit: 32,766)
_Convert = Callable[[Any], Any]


class Result(Protocol):
    """What the store reads of a statement's outcome (SQLAlchemy's ``CursorResult`` too)."""

    @property
    def rowcount(self) -> int: ...

    def first(self) -> Any: ...

    def one(self) -> Any: ...

    def all(self) -> Sequence[Any]: ...

    def scalar_one(self) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


@dataclass(frozen=True, slots=True)
class _Plan:
    """One statement's SQL for one shape of parameters: its ``?`` values are ``fixed``
    but where ``taken`` names a parameter (or an item of an expanding one) to put there,
    converted as SQLAlchemy would; rows are built as ``row`` with ``results`` applied."""

    sql: str
    fixed: tuple[Any, ...]
    taken: tuple[tuple[int, str, int, _Convert | None], ...]  # (place, name, item or -1, bind)
    row: type[tuple[Any, ...]] | None  # the rows' type, for a statement that returns rows
    results: tuple[tuple[int, _Convert], ...]  # (column, conversion) where there is one

    def values(self, params: Params) -> list[Any]:
        out = list(self.fixed)
        for place, name, item, bind in self.taken:
            if item < 0:
                value = params[name]
            else:  # a list's places past its end repeat its last item (``_width``)
                given = params[name]
                value = given[item] if item < len(given) else given[-1]
            out[place] = value if bind is None or value is None else bind(value)
        return out

    def rows(self, found: list[tuple[Any, ...]]) -> list[Any]:
        make = self.row
        if make is None:
            return []
        if not self.results:
            return [make(r) for r in found]
        rows = []
        for r in found:
            values = list(r)
            for column, convert in self.results:
                if values[column] is not None:
                    values[column] = convert(values[column])
            rows.append(make(values))
        return rows


class _Rows:
    """A finished statement's rows, read as SQLAlchemy's result reads them."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if not self._rows:
            raise NoResultFound("No row was found when one was required")
        if len(self._rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when exactly one was required")
        return self._rows[0]

    def all(self) -> list[Any]:
        return list(self._rows)

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalars(self) -> Iterator[Any]:
        return (row[0] for row in self._rows)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


def execute(
    conn: SyncConnection, statement: Executable, params: Params | Sequence[Params]
) -> Result:
    """``conn.execute(statement, params)``, on SQLite's thread without SQLAlchemy's
    execution. A list of parameter sets for an insert is one multi-row ``INSERT``
    (its rows, if it returns any, in no set order)."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, sqlite_thread.Connection) or not driver.on_its_thread():
        return conn.execute(statement, params)
    many = [params] if isinstance(params, Mapping) else list(params)
    if not many:
        return _Rows([], 0)
    one = many[0]
    shape = (tuple(one), tuple(-1 if type(v) is not list else _width(len(v)) for v in one.values()))
    plans = _PLANS.get(statement)
    if plans is None:
        plans = _PLANS.setdefault(statement, {})
    plan = plans.get(shape)
    if plan is None:
        plan = plans[shape] = _plan(conn, statement, _padded(one))
    if len(many) == 1:
        return _execute(driver, plan, plan.sql, plan.values(one))
    rows: list[Any] = []
    count = 0
    for sql, values in _batches(plan, many):
        done = _execute(driver, plan, sql, values)
        rows += done.all()
        count += done.rowcount
    return _Rows(rows, count)


@contextlib.contextmanager
def savepoint(conn: SyncConnection) -> Iterator[None]:
    """``conn.begin_nested()``: what runs inside is undone alone if it raises; on SQLite's
    thread a plain ``SAVEPOINT`` (SQLAlchemy's nested transaction was two of its statements
    and their bookkeeping)."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, sqlite_thread.Connection) or not driver.on_its_thread():
        with conn.begin_nested():
            yield
        return

    def run(sql: str) -> None:
        driver.here(lambda db: _run(db, sql, []))

    run("SAVEPOINT ferryman_direct")
    try:
        yield
    except BaseException:
        run("ROLLBACK TO ferryman_direct")
        run("RELEASE ferryman_direct")
        raise
    run("RELEASE ferryman_direct")


# The plans of each statement by shape, for the whole process: a plan is a function of the
# statement, the shape and SQLite's dialect alone (every store's), as ``re`` keeps its
# compiled patterns. Kept by the connection, they were compiled again for each store
# opened (and for each reading connection): some sixty statements a store, where a test
# opens a store or three (2.7 of 16.7 CPU-s in two engine test files, ``_plan``'s own
# thread time; three engine files 18.0 -> 15.4 CPU-s with this). Weakly keyed: a
# statement built per store (the claims, ``sql/base``) goes with its store.
_PLANS: weakref.WeakKeyDictionary[Any, dict[_Shape, _Plan]] = weakref.WeakKeyDictionary()


def _width(n: int) -> int:
    """The places a plan gives a list of ``n`` (an ``IN``'s expanding parameter): ``n``
    up to 8, else the next power of two, so a statement asked of lists of every length
    (a watch's batches of keys) keeps a few plans, not one per length."""
    return n if n <= 8 else 1 << (n - 1).bit_length()


def _padded(params: Params) -> dict[str, Any]:
    """``params`` with each list as long as its plan's places, its last item repeated:
    ``x IN (a, b, b)`` means ``x IN (a, b)``, and ``NOT IN`` likewise."""
    out = dict(params)
    for name, value in params.items():
        if type(value) is list and value:
            out[name] = value + [value[-1]] * (_width(len(value)) - len(value))
    return out


def _batches(plan: _Plan, many: list[Params]) -> Iterator[tuple[str, list[Any]]]:
    """An insert's rows in statements of at most ``_MAX_VALUES`` values (each set of
    parameters with the first's names); another statement once a set each."""
    head, sep, tail = plan.sql.partition(" VALUES (")
    group, close, rest = tail.partition(")")
    width = len(plan.fixed)
    if not (sep and close and width and group == ", ".join("?" * width)):
        for one in many:
            yield plan.sql, plan.values(one)
        return
    per = max(1, _MAX_VALUES // width)
    for start in range(0, len(many), per):
        chunk = many[start : start + per]
        groups = ", ".join([f"({group})"] * len(chunk))
        values = [v for one in chunk for v in plan.values(one)]
        yield f"{head} VALUES {groups}{rest}", values


def _execute(driver: sqlite_thread.Connection, plan: _Plan, sql: str, values: list[Any]) -> _Rows:
    try:
        found, changed = driver.here(lambda db: _run(db, sql, values))
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, values, exc, sqlite3.Error) from exc
    return _Rows(plan.rows(found), changed)


def _run(db: sqlite3.Connection, sql: str, values: list[Any]) -> tuple[list[Any], int]:
    """On SQLite's thread: the statement, its rows, its row count."""
    cursor = db.execute(sql, values)
    try:
        return cursor.fetchall(), cursor.rowcount
    finally:
        cursor.close()


def _plan(conn: SyncConnection, statement: Any, params: Params) -> _Plan:
    """The statement compiled as SQLAlchemy would run it with ``params``' names (an
    insert's columns are those given, plus their scalar defaults)."""
    dialect = conn.dialect
    compiled = statement.compile(dialect=dialect, column_keys=list(params))
    state = compiled.construct_expanded_state(dict(params))
    items = {
        name: (orig, i)
        for orig, names in state.parameter_expansion.items()
        for i, name in enumerate(names)
    }
    fixed: list[Any] = []
    taken: list[tuple[int, str, int, _Convert | None]] = []
    for place, name in enumerate(state.positiontup or ()):
        bind = state.processors.get(name)
        if name in params or (name in items and items[name][0] in params):
            given, item = (name, -1) if name in params else items[name]
            taken.append((place, given, item, bind))
            fixed.append(None)
        else:
            value = state.parameters.get(name)
            value = _default(statement, name) if value is None else value
            fixed.append(value if bind is None or value is None else bind(value))
    row: type[tuple[Any, ...]] | None = None
    results: list[tuple[int, _Convert]] = []
    columns = list(getattr(statement, "exported_columns", ()))
    if columns:
        names = [rc[0] for rc in compiled._result_columns]  # the names SQLAlchemy's rows take
        row = _row_type(names)
        for n, column in enumerate(columns):
            convert = column.type.result_processor(dialect, None)
            if convert is not None:
                results.append((n, convert))
    return _Plan(state.statement, tuple(fixed), tuple(taken), row, tuple(results))


def _default(statement: Any, name: str) -> Any:
    """An insert's column left out: its scalar default, as SQLAlchemy's execution fills in
    (None: not an insert's column, or no default). Another kind of default (a function)
    is refused: this module runs no Python on a statement's behalf."""
    table = getattr(statement, "table", None) if getattr(statement, "is_insert", False) else None
    column = table.c.get(name) if table is not None else None
    default = getattr(column, "default", None)
    if default is None:
        return None
    if not default.is_scalar:
        raise NotImplementedError(f"sql/sqlite_direct: {name}'s default is not a value")
    return default.arg


def _row_type(names: list[str]) -> type[tuple[Any, ...]]:
    """A named tuple of these columns that also reads as SQLAlchemy's ``row._mapping``."""
    base = collections.namedtuple("Row", names, rename=True)  # type: ignore[misc]
    fields = base._fields

    def mapping(self: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(fields, self, strict=True))

    def make(cls: type[tuple[Any, ...]], values: Sequence[Any]) -> tuple[Any, ...]:
        return tuple.__new__(cls, values)

    return type("Row", (base,), {"__slots__": (), "_mapping": property(mapping), "__new__": make})
