"""Watching a Torbox account (the protocol-level fake on loopback): an item becomes a
job once it is ready, never while it downloads, and once only; a wrong key is kept as
the watch's error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.config import Settings, TorboxSettings
from ferryman.model import Batch
from ferryman.samples import make_photo
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files, run_until_idle
from tests.support.faketorbox import API_KEY, FakeTorbox, torbox_serving
from tests.support.httpserve import FaultServer, serving

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here


@pytest.fixture
def cdn() -> Iterator[FaultServer]:
    with serving() as server:
        yield server


@pytest.fixture
def torbox(cdn: FaultServer) -> Iterator[FakeTorbox]:
    with torbox_serving(cdn) as fake:
        yield fake


@pytest.fixture
def tb_settings(settings: Settings, torbox: FakeTorbox) -> Settings:
    return settings.model_copy(
        update={"torbox": TorboxSettings(api_key=API_KEY, api_base=torbox.base)}
    )


def _photo(tmp_path: Path, name: str, seed: int) -> tuple[str, bytes, str]:
    return (name, make_photo(tmp_path / name, seed).read_bytes(), "image/jpeg")


def _inputs(source: str) -> list[str]:
    """A watch's job's inputs (one job per look: ``batch:``)."""
    return [item.uri for item in Batch.parse(source).items]


async def test_an_item_becomes_a_job_once_when_it_is_ready(
    store: Store, tb_settings: Settings, torbox: FakeTorbox, tmp_path: Path
) -> None:
    torbox.add("torrent", 11, "Trip", [_photo(tmp_path, "a.jpg", 1)])
    late = torbox.add("torrent", 12, "Later", [_photo(tmp_path, "b.jpg", 2)], finished=False)
    torbox.add("webdl", 13, "Clip", [_photo(tmp_path, "c.jpg", 3)])
    watch = await store.add_watch(
        kind="torbox", source="torbox:torrent", dest="library:",
        every_seconds=3600.0, since="all", next_check_at=0.0,
    )  # fmt: skip
    await run_until_idle(store, tb_settings)
    assert [_inputs(j.source) for j in await store.list_jobs()] == [["torbox:torrent/11"]]
    late.finished = True
    await store.set_watch_paused(watch.id, False)  # due now
    await run_until_idle(store, tb_settings)
    await store.set_watch_paused(watch.id, False)
    await run_until_idle(store, tb_settings)  # nothing new: nothing made
    jobs = await store.list_jobs()
    assert [_inputs(j.source) for j in jobs] == [["torbox:torrent/11"], ["torbox:torrent/12"]]
    assert all(j.state.value == "done" for j in jobs)
    delivered = sorted(Path(f["file"]).name for f in library_files(tb_settings.library))
    assert delivered == ["a.jpg", "b.jpg"]  # the web download is not this watch's kind
    assert [e for e, _ in await store.watch_seen_rows(watch.id)] == ["torrent/11", "torrent/12"]


async def test_a_wrong_key_is_the_watchs_error(
    store: Store, settings: Settings, torbox: FakeTorbox
) -> None:
    bad = settings.model_copy(
        update={"torbox": TorboxSettings(api_key="wrong", api_base=torbox.base)}
    )
    watch = await store.add_watch(
        kind="torbox", source="torbox:", dest="library:",
        every_seconds=3600.0, since="all", next_check_at=0.0,
    )  # fmt: skip
    await run_until_idle(store, bad)
    failed = await store.get_watch(watch.id)
    assert (failed.failures, failed.last_code) == (1, "torbox.auth")
    assert "Invalid API token" in (failed.last_message or "")
