"""A ``.tgz`` Takeout as the local source streams it: its parts' index made by reading
each through once, in bounded memory (a big entry streamed, never held); a set is all
``.zip`` or all ``.tgz``; a gap named with its suffix; a watch's part indexed with the
parts beside it, the set read through once however many parts ask."""

from __future__ import annotations

import io
import os
import tarfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.net import abort
from ferryman.sources import takeout as takeout_module
from ferryman.sources.base import KeptLast, ReadOptions
from ferryman.sources.local import iter_local
from ferryman.sources.local_path import Below
from ferryman.sources.takeout import DUPLICATE, SIDECAR, read_index, takeout_parts
from ferryman.sources.takeout_tar import TarFile
from tests.engine.test_takeout import check_library, photos, sidecar, takeout
from tests.engine.test_takeout_tgz import tgz_parts
from tests.sources.test_takeout_remote import _run, _with_dav, dav, settings
from tests.support.davserve import DavServer

__all__ = ["dav", "settings"]  # the WebDAV server, a library keeping originals

BIG = 96 << 20  # a video of 96 MiB (zeros: quick to pack, as long to read through)


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, made as they are read (the test holds none of them)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def listing(
    path: Path, below: Below | None = None, options: ReadOptions | None = None
) -> list[tuple[str, str | None, float | None]]:
    with iter_local(path, options, below=below) as entries:
        return [(e.info.path, e.skip, e.facts.taken if e.facts else None) for e in entries]


def test_both_tgz_parts_are_one_stream_told_by_their_sidecars(tmp_path: Path) -> None:
    parts, _ = tgz_parts(tmp_path, "gnu")
    first = listing(parts[0])
    assert first == listing(parts[1])  # any part: the set, the same stream
    told = {path: taken for path, skip, taken in first if skip is None}
    for photo in photos():
        assert told[photo.path] == photo.taken, photo.path
    skipped = {path: skip for path, skip, _ in first if skip is not None}
    assert skipped["Takeout/Google Photos/Paris trip/IMG_0001.jpg"] == DUPLICATE
    assert skipped["Takeout/Google Photos/Paris trip/metadata.json"] == SIDECAR
    assert not [p for p in told if p.endswith(".json")]


def test_the_index_pass_streams_a_big_entry_in_bounded_memory(tmp_path: Path) -> None:
    """A 96 MiB video and a 24 MiB JSON file (no sidecar: another product's) beside a
    photo and its sidecar: the index reads them through without holding them (Python's
    heap peaks far below either), the photo told by its sidecar."""
    photo = photos()[0]
    name = photo.path.rpartition("/")[2]
    folder = photo.path.rpartition("/")[0]
    part = tmp_path / "takeout-20240115T101112Z-001.tgz"
    files = [
        (f"{folder}/VID_BIG.mp4", BIG),
        (f"{folder}/notes.json", 24 << 20),
        (f"{folder}/{name}", 0),
        (f"{folder}/{photo.sidecar}", -1),
    ]
    with tarfile.open(part, "w:gz", compresslevel=1) as tar:
        for path, size in files:
            data = sidecar(photo) if size < 0 else b"\xff\xd8photo" if size == 0 else None
            info = tarfile.TarInfo(path)
            info.size = len(data) if data is not None else size
            tar.addfile(info, io.BytesIO(data) if data is not None else _Zeros(size))
    tracemalloc.start()
    try:
        index = read_index((part,))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak} bytes held to index a {BIG}-byte entry"
    told = index.facts[photo.path]
    assert told.taken == photo.taken and told.latitude == pytest.approx(48.85837)
    assert index.skip[f"{folder}/{photo.sidecar}"] == SIDECAR
    assert f"{folder}/notes.json" not in index.skip  # no sidecar: delivered as a file


def test_a_set_is_all_zip_or_all_tgz_and_a_gap_is_named_with_its_suffix(tmp_path: Path) -> None:
    parts, _ = tgz_parts(tmp_path / "tgz", "tarfile")
    zips, _ = takeout(tmp_path / "zip")
    beside = [p.rename(tmp_path / "tgz" / p.name) for p in zips]
    assert takeout_parts(parts[0]) == tuple(parts)  # its .zip namesakes are another set
    assert takeout_parts(beside[1]) == tuple(beside)
    parts[1].rename(parts[1].with_name("takeout-20240115T101112Z-003.tgz"))
    with pytest.raises(FerrymanError) as caught:
        takeout_parts(parts[0])
    assert caught.value.code == "archive.volume_missing"
    assert "takeout-20240115T101112Z-002.tgz" in caught.value.message


def test_a_watchs_tgz_parts_are_read_through_once_for_the_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watch takes the parts at one look, each an input of its own, each indexed with
    the set beside it: the set is read through once (the index kept in the job's read
    options, which its inputs share, for the next part), not once per part."""
    parts, _ = tgz_parts(tmp_path, "tarfile")
    read: list[str] = []
    real = takeout_module.tar_files

    def counted(part: Path, *args: object, **kwargs: object) -> Iterator[TarFile]:
        read.append(part.name)
        return real(part, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(takeout_module, "tar_files", counted)
    seen = os.stat(tmp_path)
    below = Below(tmp_path, seen.st_dev, seen.st_ino)
    job = ReadOptions(kept=KeptLast())  # one job's read, as the read stage makes it
    second = listing(parts[1], below, job)
    first = listing(parts[0], below, job)
    assert read == [p.name for p in parts]  # each part read through once to index
    listing(parts[0], below, ReadOptions(kept=KeptLast()))  # another job's: its own
    assert read == [p.name for p in parts] * 2
    told = {path: taken for path, skip, taken in first + second if skip is None}
    petra = next(p for p in photos() if p.path.endswith("IMG_0010.jpg"))  # sidecar: part 1
    assert told[f"{parts[1].name}/{petra.path}"] == petra.taken
    skipped = {path: skip for path, skip, _ in second if skip is not None}
    assert skipped[f"{parts[1].name}/Takeout/Google Photos/Paris trip/IMG_0001.jpg"] == DUPLICATE


async def test_a_one_part_tgz_in_a_webdav_folder_is_indexed_where_it_was_copied(
    tmp_path: Path, dav: DavServer, settings: Settings
) -> None:
    """A ``.tgz`` is no zip to read by Range: copied to scratch once, then indexed and
    read there as a local one is (two readings of the copy, one download)."""
    parts, content = tgz_parts(tmp_path / "made-export", "tarfile", parts_of=1)
    (dav.root / "Export").mkdir()
    parts[0].rename(dav.root / "Export" / parts[0].name)
    state, summary, _ = await _run(_with_dav(settings, dav), dav.uri("Export/"))
    assert state is JobState.DONE, summary
    check_library(settings.library, content)  # every date and place, each once, no .json
    assert (
        dav.sent[f"/Export/{parts[0].name}"] == (dav.root / "Export" / parts[0].name).stat().st_size
    )


@pytest.mark.parametrize("name", ["my export.tgz", "photos.tar.gz"])
def test_a_renamed_tgz_is_known_by_its_entries(tmp_path: Path, name: str) -> None:
    """A one-part export renamed: its first entries under ``Takeout/``, a JSON among
    them; a tar.gz of other files is read as it is."""
    parts, _ = tgz_parts(tmp_path / "export", "gnu", parts_of=1)
    renamed = parts[0].rename(tmp_path / name)
    told = {path: taken for path, skip, taken in listing(renamed) if skip is None}
    for photo in photos():
        assert told[photo.path] == photo.taken, photo.path
    other = tmp_path / "other.tgz"
    with tarfile.open(other, "w:gz") as tar:
        info = tarfile.TarInfo("notes/IMG_1.jpg.json")
        data = sidecar(photos()[0])
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert listing(other) == [("notes/IMG_1.jpg.json", None, None)]  # not skipped: no Takeout


def test_a_stop_cuts_the_index_pass_short(tmp_path: Path) -> None:
    """The index pass runs on the reading thread, where a stop ends it between blocks
    (``net.abort``), as it ends the staging of an entry: not after the whole part."""
    parts, _ = tgz_parts(tmp_path, "tarfile", parts_of=1)
    stop = abort.Abort()
    stop.trigger()
    with pytest.raises(abort.Aborted):
        abort.run_with(stop, read_index, (parts[0],))
    assert read_index((parts[0],)).facts  # not stopped: indexed (nothing kept of the cut)
