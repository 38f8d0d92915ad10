"""A drain heard while a stage worker reads its settings: no claim starts after it.

A worker checked the drain, then read its lease from the settings (a store read once a
second, long on a loaded machine), then claimed: a drain heard in between let the claim
start after it, and a drained node took the job added next (test_nodes' drain test
failed so, under load ~35)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ferryman.config import Settings
from ferryman.engine import runner
from ferryman.engine.ops import intake, nodes
from ferryman.engine.pipeline import lease_seconds
from ferryman.engine.runner import Engine
from ferryman.model import JobState
from ferryman.samples import make_photo_set
from ferryman.store import Store
from tests.support.waiting import eventually


async def test_no_claim_starts_once_the_drain_is_heard(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker's lease read is held, once the drain is asked for, until the drain has
    been heard and a job added: the read of a loaded machine, at its worst moment."""
    settings = settings.model_copy(update={"node_name": "phone", "lease_seconds": 3.0})
    store = await Store.open(settings.database)
    engine = Engine(store, settings)
    asked = asyncio.Event()  # the drain asked for: lease reads are held from then
    added = asyncio.Event()  # the drain heard and the job added: they go on
    busy = [0]  # lease reads held and claims of the read under way

    async def held_read(ctx: Any) -> float:
        busy[0] += 1
        try:
            if asked.is_set():
                await added.wait()
            return await lease_seconds(ctx)
        finally:
            busy[0] -= 1  # a claim that follows is counted before the loop goes on

    async def counted(*args: Any, **kwargs: Any) -> Any:
        busy[0] += 1
        try:
            return await claim_jobs(*args, **kwargs)
        finally:
            busy[0] -= 1

    claim_jobs = store.claim_jobs
    monkeypatch.setattr(runner, "lease_seconds", held_read)
    monkeypatch.setattr(store, "claim_jobs", counted)
    running = asyncio.create_task(engine.run())
    try:
        await eventually(lambda: _has_run(store), "the engine beat")
        asked.set()
        await nodes.drain(store, "phone")
        await eventually(lambda: _draining(engine), "the engine drained")
        job = await intake.add_source(store, make_photo_set(tmp_path / "in", 1)[0].parent)
        added.set()
        await eventually(lambda: _idle(busy), "the held reads and any claim after them ended")
        assert (await store.get_job(job.id)).state is JobState.QUEUED
    finally:
        added.set()
        engine.stop()
        await running
        await store.close()


async def _idle(busy: list[int]) -> bool:
    return busy[0] == 0


async def _has_run(store: Store) -> bool:
    return bool(await store.node_runs())


async def _draining(engine: Engine) -> bool:
    return engine.ctx.run.draining
