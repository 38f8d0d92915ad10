"""The store's asyncio engine comes without SQLAlchemy's ORM (``store/sqla_async.py``),
and ``sqlalchemy.ext.asyncio`` is still whole to whoever asks it for more; each check
runs in a fresh interpreter, where nothing has imported the package yet."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.splitlines()


def test_the_store_loads_no_orm() -> None:
    out = _run(
        "import sys, ferryman.store.store\n"
        "print(sorted(m for m in sys.modules if m.startswith('sqlalchemy.orm')))"
    )
    assert out == ["[]"]


def test_the_package_is_whole_to_what_asks_for_more() -> None:
    """Its other names (the ORM's session) load the package's own ``__init__`` on the
    same module: the names are SQLAlchemy's, the engine the store's."""
    out = _run(
        "import sys\n"
        "from ferryman.store import sqla_async\n"
        "from sqlalchemy.ext.asyncio import AsyncSession, AsyncEngine, async_sessionmaker\n"
        "import sqlalchemy.ext.asyncio as package\n"
        "print(AsyncSession.__module__, async_sessionmaker.__module__)\n"
        "print(AsyncEngine is sqla_async.AsyncEngine, package.AsyncResult.__name__)\n"
        "print(sys.modules['sqlalchemy.ext.asyncio'] is package, 'sqlalchemy.orm' in sys.modules)"
    )
    assert out == [
        "sqlalchemy.ext.asyncio.session sqlalchemy.ext.asyncio.session",
        "True AsyncResult",
        "True True",
    ]


def test_a_package_loaded_before_is_used_as_it_is() -> None:
    out = _run(
        "import sqlalchemy.ext.asyncio as package\n"
        "from ferryman.store import sqla_async\n"
        "same = package.AsyncConnection is sqla_async.AsyncConnection\n"
        "print(same, '__getattr__' in vars(package))"
    )
    assert out == ["True False"]
