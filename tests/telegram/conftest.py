"""The chat tests' ``world``: the fake Telegram, its people and a SQLite store, one a
test. Here once, not copied into each file that drives the chat (a file that wants
another world, e.g. parametrised, defines its own)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ferryman.store import Store
from tests.support.clock import ManualClock
from tests.telegram.test_telegram_frontdoor import World, make_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with _opened(make_world(tmp_path)) as w:
        yield w


@pytest.fixture
async def world_on_clock(tmp_path: Path) -> AsyncIterator[World]:
    """``world`` whose store and engine (``serving``) share a ``ManualClock``
    (``World.clock``): a retry's moment comes when the test moves the clock past it."""
    w = make_world(tmp_path)
    w.clock = ManualClock()
    async with _opened(w) as opened:
        yield opened


@contextlib.asynccontextmanager
async def _opened(w: World) -> AsyncIterator[World]:
    """``w`` with its SQLite store open (on its clock, if it has one) until the end."""
    clock = {} if w.clock is None else {"clock": w.clock.now}
    w.store = await Store.open(f"sqlite+aiosqlite:///{w.tmp / 'store.db'}", **clock)
    try:
        yield w
    finally:
        await w.store.close()
