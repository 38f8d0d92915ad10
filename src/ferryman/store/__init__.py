"""Durable state: the only truth about jobs, items and albums (SQLAlchemy Core).

``Store`` loads on first use, so the light store (``startup/sqlite3_store``, the standard
library's sqlite3) serves the commands that answer at once without SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ferryman.store.store import Store

__all__ = ["Store"]


def __getattr__(name: str) -> Any:
    if name == "Store":
        from ferryman.store.store import Store  # lazy: start-up

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
