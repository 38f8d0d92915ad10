"""Fixtures the store's tests share."""

from __future__ import annotations

from typing import Any

import pytest

from ferryman.store import sqlite_thread


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls sent to any SQLite connection's thread (``hops[0]``)."""
    count = [0]
    original = sqlite_thread.Connection._call

    def counted(self: sqlite_thread.Connection, call: Any) -> Any:
        count[0] += 1
        return original(self, call)

    monkeypatch.setattr(sqlite_thread.Connection, "_call", counted)
    return count
