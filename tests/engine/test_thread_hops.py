"""A job's hops to threads (``asyncio.to_thread``, the reading thread): each costs the
loop a wake-up and the GIL a hand-over, ~1,000 context switches a job in a links row of
200 photos (issue 49 item 2). What a small input's read and a fetch's start send."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ferryman.config import Settings, load_settings
from ferryman.engine.fetch import step as fetch_step
from ferryman.engine.ops import intake
from ferryman.engine.plumbing.workarea import job_work_dir
from ferryman.engine.read.reading_thread import ReadingThread
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.samples import make_photo_set
from ferryman.store import Store
from tests.support.engine_helpers import run_until_idle


def _name(fn: Callable[..., Any]) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return getattr(fn, "__qualname__", repr(fn))


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the calls sent to threads: ``asyncio.to_thread``'s and the reading
    thread's."""
    names: list[str] = []
    to_thread, call = asyncio.to_thread, ReadingThread.call

    async def counted(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        names.append(_name(fn))
        return await to_thread(fn, *args, **kwargs)

    async def read_call(self: ReadingThread, fn: Callable[..., Any], *a: Any, **k: Any) -> Any:
        names.append("reading: " + _name(fn))
        return await call(self, fn, *a, **k)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    monkeypatch.setattr(ReadingThread, "call", read_call)
    return names


async def test_a_photo_s_read_sends_no_empty_hop(
    tmp_path: Path, store: Store, settings: Settings, sent: list[str]
) -> None:
    """A photo's read: whether its input is a folder and a zip's names in one hop (two
    were), no hop to close a box of archive children that holds none, nor to close
    entries that have no ``close``; delivered as before."""
    [photo] = make_photo_set(tmp_path / "in", 1)
    job = await intake.add_source(store, str(photo))
    await run_until_idle(store, settings)
    assert (await store.get_job(job.id)).state is JobState.DONE
    assert "Path.is_dir" not in sent and "zip_names" not in sent
    assert sent.count("_folder_or_zip_names") == 1
    assert "BoxPool.close" not in sent
    assert "reading: _nothing" not in sent


async def test_a_fetch_starts_in_one_hop(
    tmp_path: Path, store: Store, settings: Settings, sent: list[str]
) -> None:
    """A fetch's start: the part a cancelled try set aside taken back, its folder made
    and what it holds already, in one hop (two, and a mkdir on the loop, before); a
    link to nowhere then fails as before, with its cause."""
    job = await intake.add_source(store, "http://127.0.0.1:9/x.zip")
    engine = Engine(store, settings)
    try:
        claimed = await store.claim_fetch("f", 30)
        assert claimed is not None and claimed.job_id == job.id
        sent.clear()
        outcome = await fetch_step.fetch(engine.ctx, claimed)
    finally:
        await engine.ctx.resources.close()
    assert sent[:1] == ["_folder_ready"], sent
    assert "take_back" not in sent and "held" not in sent
    assert (job_work_dir(settings, job.id) / "fetch").is_dir()
    assert isinstance(outcome, FerrymanError) and outcome.code.startswith("source."), outcome


async def test_captions_are_made_final_in_one_hop(
    tmp_path: Path, store: Store, sent: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job's end at a library of the default layout: whether it keeps the album
    layout and its manifests' captions made final in one hop (the layout's look was one
    more at every job's end: a sink is opened per claim)."""
    monkeypatch.delenv("FERRYMAN_LIBRARY_LAYOUT", raising=False)  # the suite pins albums
    values = {"data_dir": tmp_path / "data", "poll_seconds": 0.05, "space_floor": 0}
    settings = load_settings(None, values)
    [photo] = make_photo_set(tmp_path / "in", 1)
    job = await intake.add_source(store, str(photo))
    await run_until_idle(store, settings)
    assert (await store.get_job(job.id)).state is JobState.DONE
    assert "FlatLibrarySink._deliver_noted" in sent and "FlatLibrarySink.albums" not in sent
    assert sent.count("FlatLibrarySink.make_captions_final.<locals>.final") == 1
