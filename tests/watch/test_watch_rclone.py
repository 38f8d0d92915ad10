"""A watch of an rclone remote's folder, against real rclone backends run here (its
local backend, ``rclone serve webdav`` on loopback) through ``rclone rcd``: new files
taken once each, a file still being written left for a later look, and ``--then``
acting on the remote only once the destination holds the file's bytes."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from ferryman.config import Settings
from ferryman.engine.ops.watch_admin import NewWatch, add_watch
from ferryman.errors import FerrymanError
from ferryman.net.rclone import rclone_binary
from ferryman.samples import make_photo
from ferryman.sources.listers.rclone import RcloneLister, modtime
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files, run_until_idle, sha256
from tests.support.rclone_serve import serve

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

BINARY = rclone_binary()
pytestmark = pytest.mark.skipif(BINARY is None, reason="rclone is not installed here")
OLD = time.time() - 3600


def _photo(path: Path, seed: int, *, old: bool = True) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    make_photo(path, seed)
    if old:
        os.utime(path, (OLD, OLD))
    return sha256(path)


def _spoil(path: Path) -> None:
    path.write_bytes(b"not the photo")


def _copy(source: Path, target: Path) -> None:
    target.write_bytes(source.read_bytes())


def _with_rclone(settings: Settings, conf: Path) -> Settings:
    watch = settings.watch.model_copy(update={"settle_seconds": 30.0})
    rclone = settings.rclone.model_copy(update={"config": conf})
    return settings.model_copy(update={"watch": watch, "rclone": rclone})


async def test_a_remote_folder_lists_its_media_and_holds_back_a_file_being_written(
    settings: Settings, tmp_path: Path
) -> None:
    conf = tmp_path / "rclone.conf"
    conf.write_text("[loc]\ntype = local\n")
    settings = _with_rclone(settings, conf)
    cam = tmp_path / "cam"
    _photo(cam / "a.jpg", 1)
    _photo(cam / "Trip" / "b.jpg", 2)
    _photo(cam / ".hidden" / "c.jpg", 3)
    (cam / "notes.txt").write_text("not media")
    os.utime(cam / "notes.txt", (OLD, OLD))
    _photo(cam / "fresh.jpg", 4, old=False)  # written just now
    lister = RcloneLister()
    source = f"rclone:loc:{cam}"
    first = {e.title: e for e in await lister.entries(source, settings)}
    assert set(first) == {"a.jpg", "Trip/b.jpg", "fresh.jpg"}
    assert first["a.jpg"].ready_at is None and first["a.jpg"].input == f"rclone:loc:{cam}/a.jpg"
    fresh = first["fresh.jpg"].ready_at
    assert fresh is not None and fresh > time.time() + 20  # its time plus the settle
    # A file that grows between looks (its time kept old, as a copy keeping times
    # would) waits a look; unchanged at the next, it is taken under a new id.
    with (cam / "a.jpg").open("ab") as f:
        f.write(b"\0" * 100)
    os.utime(cam / "a.jpg", (OLD, OLD))
    second = {e.title: e for e in await lister.entries(source, settings)}
    assert second["a.jpg"].ready_at is not None
    assert second["Trip/b.jpg"].id == first["Trip/b.jpg"].id  # the same file, the same id
    third = {e.title: e for e in await lister.entries(source, settings)}
    assert third["a.jpg"].ready_at is None and third["a.jpg"].id != first["a.jpg"].id
    with pytest.raises(FerrymanError) as gone:
        await lister.entries(f"rclone:loc:{tmp_path / 'nothing'}", settings)
    assert gone.value.code == "source.not_found"


def test_rclones_modification_times_are_read_with_their_nanoseconds_and_offsets() -> None:
    at = datetime(2026, 11, 29, 13, 35, 22, 123456, tzinfo=UTC).timestamp()
    assert modtime("2026-11-29T13:35:22.123456789Z") == at
    assert modtime("2026-11-29T14:35:22.123456+01:00") == at
    for bad in ("", "yesterday", None, 5, "2026-13-40T00:00:00Z"):
        assert modtime(bad) is None


@examples(max_examples=300, deadline=None, derandomize=True)
@given(
    when=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    nanos=st.integers(0, 999),
    offset=st.integers(-14 * 60, 14 * 60),
)
def test_any_time_rclone_writes_reads_back_to_the_microsecond(
    when: datetime, nanos: int, offset: int
) -> None:
    """rclone writes RFC 3339 with up to nine digits of fraction, ``Z`` or an offset."""
    shifted = when.astimezone(timezone(timedelta(minutes=offset)))
    text = shifted.strftime("%Y-%m-%dT%H:%M:%S") + f".{shifted.microsecond:06d}{nanos:03d}"
    text += "Z" if offset == 0 else shifted.strftime("%z")[:3] + ":" + shifted.strftime("%z")[3:]
    assert modtime(text) == when.timestamp()


@examples(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=40))
def test_any_text_as_a_modification_time_is_a_time_or_none(text: str) -> None:
    found = modtime(text)
    assert found is None or isinstance(found, float)


async def test_a_webdav_remote_watched_takes_each_file_once_and_deletes_it_once_delivered(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    assert BINARY is not None
    served = tmp_path / "served"
    shots = {name: _photo(served / "Camera" / name, n) for n, name in enumerate(["1.jpg", "2.jpg"])}
    with serve(BINARY, "webdav", served, "dav") as part:
        conf = tmp_path / "rclone.conf"
        conf.write_text(part)
        settings = _with_rclone(settings, conf)
        watch = await store.add_watch(
            kind="rclone", source="rclone:dav:Camera", dest="library:", every_seconds=3600.0,
            since="all", next_check_at=0.0, after_delivery="delete",
        )  # fmt: skip
        await run_until_idle(store, settings)
        [job] = await store.list_jobs()
        assert job.state.value == "done"
        assert sorted(f["disk_sha256"] for f in library_files(settings.library)) == sorted(
            shots.values()
        )
        assert (served / "Camera" / "1.jpg").exists()  # the look that made the job came first

        _photo(served / "Camera" / "3.jpg", 3)
        await store.set_watch_paused(watch.id, False)  # due now
        await run_until_idle(store, settings)
        # The two delivered are gone from the remote; the new one made a job of its own
        # and stays until a look after that job delivered it.
        assert sorted(p.name for p in (served / "Camera").iterdir()) == ["3.jpg"]
        assert len(await store.list_jobs()) == 2
        await store.set_watch_paused(watch.id, False)
        await run_until_idle(store, settings)
        assert not (served / "Camera" / "3.jpg").exists()
        assert len(await store.list_jobs()) == 2  # nothing taken twice
        assert len(library_files(settings.library)) == 3


async def test_then_leaves_a_remote_file_the_destination_does_not_hold(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """The library lost the delivered copy: the remote file stays, whatever the store
    says; a move goes outside the watched folder only."""
    conf = tmp_path / "rclone.conf"
    conf.write_text("[loc]\ntype = local\n")
    settings = _with_rclone(settings, conf)
    cam, away = tmp_path / "cam", tmp_path / "away"
    shot = _photo(cam / "a.jpg", 1)
    watch = await store.add_watch(
        kind="rclone", source=f"rclone:loc:{cam}", dest="library:", every_seconds=3600.0,
        since="all", next_check_at=0.0, after_delivery=f"move:loc:{away}",
    )  # fmt: skip
    await run_until_idle(store, settings)
    [placed] = library_files(settings.library)
    _spoil(Path(placed["path"]))
    await store.set_watch_paused(watch.id, False)
    await run_until_idle(store, settings)
    assert sha256(cam / "a.jpg") == shot and not away.exists()
    _copy(cam / "a.jpg", Path(placed["path"]))  # the library holds it again: it goes
    await store.set_watch_paused(watch.id, False)
    await run_until_idle(store, settings)
    assert not (cam / "a.jpg").exists() and sha256(away / "a.jpg") == shot
    lister = RcloneLister()
    with pytest.raises(FerrymanError) as inside:
        lister.checked_after(f"rclone:loc:{cam}", f"move:loc:{cam}/done", settings, remote=False)
    assert inside.value.code == "watch.bad_then"
    assert lister.checked_after(f"rclone:loc:{cam}", "delete", settings, remote=False) == "delete"


async def test_watch_add_takes_an_rclone_source_with_then(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    conf = tmp_path / "rclone.conf"
    conf.write_text("[loc]\ntype = local\n")
    settings = _with_rclone(settings, conf)
    asked = NewWatch(
        source="rclone:loc:/srv/cam", to="library:", every="1h", then="move:loc:/srv/done"
    )
    watch, shown = await add_watch(store, settings, asked)
    assert watch.kind == "rclone" and shown == "rclone:loc:/srv/cam"
    assert watch.after_delivery == "move:loc:/srv/done"
