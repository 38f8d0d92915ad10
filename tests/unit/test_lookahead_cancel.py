"""Waiting for an album prepared ahead: its preparation's end is the waiter's business,
a cancel of the waiter itself is not to be swallowed with it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import cast

import pytest

from ferryman.engine.context import Context
from ferryman.engine.deliver.lookahead import Lookahead, Prepare


async def _preparing() -> Mapping[int, str]:
    """A preparation that ends only by its cancel."""
    await asyncio.Event().wait()
    return {}


def _lookahead_with(task: asyncio.Task[Mapping[int, str]]) -> Lookahead:
    # prepared() reads no context and prepares nothing itself
    lookahead = Lookahead(cast(Context, object()), cast(Prepare, object()))
    lookahead._preparing[7] = task
    return lookahead


async def test_a_preparation_cancelled_alone_is_done_in_turn() -> None:
    task: asyncio.Task[Mapping[int, str]] = asyncio.create_task(_preparing())
    lookahead = _lookahead_with(task)
    waiter = asyncio.create_task(lookahead.prepared(7))
    await asyncio.sleep(0)
    task.cancel()  # its lease was lost
    assert await waiter is None


async def test_a_waiter_cancelled_with_its_preparation_stays_cancelled() -> None:
    task: asyncio.Task[Mapping[int, str]] = asyncio.create_task(_preparing())
    lookahead = _lookahead_with(task)
    waiter = asyncio.create_task(lookahead.prepared(7))
    await asyncio.sleep(0)
    task.cancel()  # the engine stops: both at once
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
