"""The chat tests' ``world``: the fake Telegram, its people and a SQLite store, one a
test. Here once, not copied into each file that drives the chat (a file that wants
another world, e.g. parametrised, defines its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ferryman.store import Store
from tests.telegram.test_telegram_frontdoor import World, make_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = make_world(tmp_path)
    w.store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        yield w
    finally:
        await w.store.close()
