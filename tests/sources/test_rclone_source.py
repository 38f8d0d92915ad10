"""``rclone:REMOTE:path`` as an input, against rclone's local backend and ``rclone serve
sftp`` on loopback: fetched through ``rclone rcd``, then read as a local input."""

from __future__ import annotations

from pathlib import Path

from ferryman.engine.ops import intake
from ferryman.model import ItemState, JobState
from ferryman.samples import make_zip
from ferryman.sources.rclone import set_names
from ferryman.store import Store
from tests.sinks.test_rclone_sink import (
    TREE,
    _config,
    _photos,
    _settings,
    _sha,
    pytestmark,
    sftp_remote,
)
from tests.support.engine_helpers import run_until_idle

__all__ = ["pytestmark", "sftp_remote"]


async def _run(tmp_path: Path, conf: Path, source: str) -> tuple[JobState, str | None, Path]:
    settings = _settings(tmp_path, conf)
    library = tmp_path / "library"
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, source, dest=f"library:{library}")
        await run_until_idle(store, settings)
        ended = await store.get_job(job.id)
        if ended.state is JobState.DONE:
            assert {it.state for it in await store.job_items(job.id)} == {ItemState.DELIVERED}
        return ended.state, ended.error_code, library
    finally:
        await store.close()


def _library(library: Path) -> set[str]:
    return {_sha(p) for p in library.rglob("*.jpg") if ".ferryman" not in p.parts}


async def test_a_zip_on_a_remote_is_fetched_and_delivered(tmp_path: Path) -> None:
    conf = _config(tmp_path)
    entries = _photos(tmp_path / "in", TREE)
    remote = tmp_path / "remote"
    remote.mkdir()
    make_zip(remote / "trip.zip", entries)
    state, code, library = await _run(tmp_path, conf, f"rclone:loc:{remote}/trip.zip")
    assert (state, code) == (JobState.DONE, None)
    assert _library(library) == {_sha(p) for _, p in entries}


async def test_a_folder_on_an_sftp_box_is_fetched_whole(
    tmp_path: Path, sftp_remote: tuple[Path, str]
) -> None:
    served, part = sftp_remote
    conf = _config(tmp_path, part)
    entries = _photos(served / "camera", ["x.jpg", "y.jpg", "z.jpg"])
    state, code, library = await _run(tmp_path, conf, "rclone:box:camera")
    assert (state, code) == (JobState.DONE, None)
    assert _library(library) == {_sha(p) for _, p in entries}


async def test_a_path_not_on_the_remote_fails_with_a_code(tmp_path: Path) -> None:
    conf = _config(tmp_path)
    state, code, _ = await _run(tmp_path, conf, f"rclone:loc:{tmp_path}/nothing.zip")
    assert (state, code) == (JobState.FAILED, "source.not_found")


async def test_a_part_of_a_set_on_a_remote_is_fetched_with_the_other_parts(
    tmp_path: Path,
) -> None:
    """``takeout-…-001.zip`` and ``x.7z.002`` are read with their sets, as on this
    machine: a photo in the second part, or in the second volume, is delivered too."""
    conf = _config(tmp_path)
    entries = _photos(tmp_path / "in", ["a.jpg", "b.jpg", "c.jpg"])
    remote = tmp_path / "remote"
    remote.mkdir()
    photos = "Takeout/Google Photos/Photos from 2019"
    make_zip(remote / "takeout-20261130T000000Z-001.zip", [(f"{photos}/a.jpg", entries[0][1])])
    make_zip(remote / "takeout-20261130T000000Z-002.zip", [(f"{photos}/b.jpg", entries[1][1])])
    make_zip(remote / "takeout-20250101T000000Z-001.zip", [(f"{photos}/c.jpg", entries[2][1])])
    state, code, library = await _run(
        tmp_path, conf, f"rclone:loc:{remote}/takeout-20261130T000000Z-001.zip"
    )
    assert (state, code) == (JobState.DONE, None)
    assert _library(library) == {_sha(p) for _, p in entries[:2]}  # not another export's

    whole = make_zip(tmp_path / "split.zip", entries).read_bytes()
    (remote / "split.zip.001").write_bytes(whole[: len(whole) // 2])
    (remote / "split.zip.002").write_bytes(whole[len(whole) // 2 :])
    state, code, library = await _run(tmp_path, conf, f"rclone:loc:{remote}/split.zip.002")
    assert (state, code) == (JobState.DONE, None)
    assert _library(library) >= {_sha(p) for _, p in entries}


def test_which_names_are_a_file_s_set() -> None:
    names = ["x.7z.001", "x.7z.002", "y.7z.001", "x.rar", "x.r00", "x.zip", "trip.zip"]
    assert set_names("x.7z.002", names) == ["x.7z.002", "x.7z.001"]
    assert set_names("x.rar", names) == ["x.rar", "x.r00"]
    assert set_names("trip.zip", names) == ["trip.zip"]
    parts = ["takeout-20261130T000000Z-002.zip", "takeout-20250101T000000Z-001.zip"]
    assert set_names("takeout-20261130T000000Z-001.zip", parts) == [
        "takeout-20261130T000000Z-001.zip",
        "takeout-20261130T000000Z-002.zip",
    ]
    tgz = ["takeout-20261130T000000Z-002.tgz", "takeout-20261130T000000Z-001.zip", *parts]
    assert set_names("takeout-20261130T000000Z-001.tgz", tgz) == [  # a set: all .tgz
        "takeout-20261130T000000Z-001.tgz",
        "takeout-20261130T000000Z-002.tgz",
    ]


def test_each_part_of_a_set_on_a_remote_is_the_set_s_one_input(tmp_path: Path) -> None:
    """Added part by part, a set is one job ("already job N"): each part is fetched and
    read with its set, so a second job would deliver every file again."""
    dest = f"library:{tmp_path / 'lib'}"
    for names in (
        ["takeout-20261130T000000Z-001.zip", "takeout-20261130T000000Z-002.zip"],
        ["takeout-20261130T000000Z-001.tgz", "takeout-20261130T000000Z-002.tgz"],
        ["x.7z.001", "x.7z.002"],
        ["x.part1.rar", "x.part2.rar"],
        ["x.rar", "x.r00", "x.r01"],
    ):
        found = {intake.understand(f"rclone:loc:box/{n}", dest=dest) for n in names}
        assert len({n.dedupe_key for n in found}) == 1, names
        assert len({n.name for n in found}) == 1, names
    apart = {intake.understand(f"rclone:loc:box/{n}", dest=dest) for n in ("a.zip", "b.zip")}
    assert len({n.dedupe_key for n in apart}) == 2
