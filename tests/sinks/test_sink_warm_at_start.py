"""A starting engine warms the sinks of the jobs left to do before it claims any of them.

Warmed only once a job's reading began, a Telegram job's login waited for the start's
lease reap, sweep and first claims (0.1-0.4 s on a loaded machine) before it began.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from telethon.tl import functions

from faketg.client import FakeDialer
from faketg.server import Call
from ferryman.config import load_settings
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.samples import make_photo
from ferryman.sinks.base import Delivered, Delivery, Sink, SinkEnv
from ferryman.sinks.builtin import default_sinks
from ferryman.sinks.telegram_kind import TelegramKind
from ferryman.store import Store
from tests.support.memsink import MemKind, MemSink
from tests.support.waiting import eventually
from tests.telegram.test_telegram_lone_document import documents, pdf
from tests.telegram.test_telegram_sink import World

HEAVY = "tests.support.heavy_module"


async def test_the_login_starts_before_the_first_claim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = await World.logged_in(tmp_path, send_documents=True)
    folder, digest = pdf(tmp_path / "in", 1024 * 1024)
    connected = asyncio.Event()

    def seen(_call: Call, request: Any, _result: Any) -> None:
        if isinstance(request, functions.help.GetConfigRequest):  # the client's connect
            connected.set()

    w.server.after_handle.append(seen)
    before_claim: list[bool] = []
    claim = Store.claim_job

    async def claim_job(self: Store, owner: str, lease_seconds: float) -> Any:
        if not before_claim:  # the first claim waits a while for the login to begin
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await connected.wait()
            before_claim.append(connected.is_set())
        return await claim(self, owner, lease_seconds)

    monkeypatch.setattr(Store, "claim_job", claim_job)
    store = await w.store()
    await intake.add_source(store, folder, dest="telegram:me")
    await w.run(store)

    assert before_claim == [True]  # before: the login began only once the job was read
    assert documents(w) == [digest]
    await store.close()


async def test_nothing_is_warmed_for_ended_or_paused_jobs(tmp_path: Path) -> None:
    w = await World.logged_in(tmp_path, send_documents=True)
    folder, _digest = pdf(tmp_path / "in", 1024 * 1024)
    store = await w.store()
    job = await intake.add_source(store, folder, dest="telegram:me")
    assert await store.live_dests() == ["telegram:me"]
    await store.set_paused(job.id, True)
    assert await store.live_dests() == []
    await store.close()


@dataclass(slots=True)
class _HeavyKind(MemKind):
    """A sink that imports a heavy module of its own when it delivers (as the Telegram
    sink imports PyAV for a video), and says so."""

    uses: tuple[str, ...] = (HEAVY,)

    def open(self, target: str, env: SinkEnv) -> Sink:
        return _HeavySink(self, target, env.policy.caption_chars)


class _HeavySink(MemSink):
    async def deliver(self, delivery: Delivery) -> Delivered:
        with contextlib.suppress(AssertionError):  # before: it never comes; imported here
            await eventually(lambda: HEAVY in sys.modules, "the import ahead", within=5)
        importlib.import_module(HEAVY)
        return await MemSink.deliver(self, delivery)


async def test_a_sinks_heavy_imports_are_made_on_a_thread_not_on_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made on the loop, PyAV's import held an engine's start (the reap, the first claims)
    for 50-100 ms; imported before its sink opened, the login began that much later."""
    monkeypatch.delitem(sys.modules, HEAVY, raising=False)
    kind = _HeavyKind()
    sinks = default_sinks().with_kind(kind)
    settings = load_settings(None, {"data_dir": tmp_path / "data", "space_floor": 0})
    folder = tmp_path / "in"
    folder.mkdir()
    make_photo(folder / "p.jpg", 1, size=(32, 24))
    store = await Store.open(settings.database)
    try:
        await intake.add_source(store, folder, dest="mem:box", sinks=sinks)
        engine = Engine(store, settings, sinks=sinks)
        await asyncio.wait_for(engine.run(until_idle=True), 60)
    finally:
        await store.close()

    assert len(kind.albums) == 1
    imported_by = sys.modules[HEAVY].IMPORTED_BY
    assert imported_by != threading.main_thread().name  # before: on the event loop


class _TelegramHeavy(TelegramKind):
    """The Telegram sink, its media tools standing for PyAV."""

    uses: tuple[str, ...] = (HEAVY,)


async def test_a_document_job_to_telegram_never_imports_the_media_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Imported on a thread as the engine started, PyAV (dlopen of FFmpeg's libraries,
    with the GIL held) stalled the start's claims and the login 0.1-0.4 s for a job
    that never needs it; now only an album holding a video imports them."""
    monkeypatch.delitem(sys.modules, HEAVY, raising=False)
    sinks = default_sinks().with_kind(_TelegramHeavy())
    w = await World.logged_in(tmp_path, send_documents=True)
    folder, digest = pdf(tmp_path / "in", 1024 * 1024)
    store = await w.store()
    try:
        await intake.add_source(store, folder, dest="telegram:me", sinks=sinks)
        engine = Engine(store, w.settings, dialer=FakeDialer(w.server), sinks=sinks)
        await asyncio.wait_for(engine.run(until_idle=True), 60)
    finally:
        await store.close()

    assert documents(w) == [digest]
    assert HEAVY not in sys.modules  # before: imported at the engine's start
