"""A query module of the store reaches the database only through ``store/sql/access``
(``_read``, ``_snapshot``, ``_write``, ``_transaction``, ``_transaction_then``): those
choose the fast paths, so the plain path is the one to read (issue 57). About 46 reads
opened a connection of their own, the fast path skipped and their statement built per
call; nothing here lets one come back."""

from __future__ import annotations

import ast
from pathlib import Path

STORE = Path(__file__).resolve().parents[2] / "src" / "ferryman" / "store"

# Where connections and transactions are made, not used: the ways in themselves, the
# engines' making and migrating, the wake-ups, the start-up store on sqlite3, and the
# store's assembly (it hands its engines to a sink's state).
ALLOWED = (
    "sql/",
    "connect.py",
    "sqlite_thread.py",
    "sqlite_file.py",
    "migrate.py",
    "migrations/",
    "wakeup.py",
    "startup/",
    "store.py",
)
OPENERS = {"connect", "begin", "begin_nested"}  # a connection or a transaction of its own
ENGINES = {"engine", "reader", "_engine", "_reader"}  # the ways around the ways in
FAST_PATHS = {"transaction", "transaction_then"}  # sqlite_thread's, which the ways in take


def ways_around(source: str) -> list[str]:
    """Each place in ``source`` that opens a connection or a transaction, names an
    engine of the store, or takes ``sqlite_thread``'s transaction itself."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value.id if isinstance(node.value, ast.Name) else None
        if node.attr in ENGINES and owner == "self":
            found.append(f"line {node.lineno}: self.{node.attr}")
        elif node.attr in FAST_PATHS and owner == "sqlite_thread":
            found.append(f"line {node.lineno}: sqlite_thread.{node.attr}")
        elif node.attr in OPENERS:
            found.append(f"line {node.lineno}: .{node.attr}()")
    return found


def test_the_finder_sees_each_way_around() -> None:
    source = """
async def f(self, conn):
    async with self.reader.connect() as c: ...
    async with self.engine.begin() as c: ...
    await sqlite_thread.transaction(e, g)
    with conn.begin_nested(): ...
    await self._read(X)
"""
    assert sorted(ways_around(source)) == [
        "line 3: .connect()",
        "line 3: self.reader",
        "line 4: .begin()",
        "line 4: self.engine",
        "line 5: sqlite_thread.transaction",
        "line 6: .begin_nested()",
    ]


def test_query_modules_take_only_the_ways_in() -> None:
    found = {}
    for path in sorted(STORE.rglob("*.py")):
        name = path.relative_to(STORE).as_posix()
        if name.startswith(ALLOWED):
            continue
        around = ways_around(path.read_text())
        if around:
            found[name] = around
    assert found == {}, "take store/sql/access's ways in (_read, _snapshot, _write, …)"
