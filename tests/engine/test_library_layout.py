"""The library laid out for people and media servers (issue 46, point 7): named, flat
folders by default, ferryman's records hidden in ``.ferryman/``, a template with
``{date}``, no way out of the library, exactly once through a fault mid-album, and an
old album-layout library kept as it is. Real zips and photos, the real engine."""

from __future__ import annotations

import asyncio
import json
import os
import random
from datetime import datetime
from pathlib import Path, PurePosixPath

import av
import pytest
from PIL import Image

from ferryman.config import Settings, load_settings
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.media.taken import taken_at
from ferryman.model import JobState
from ferryman.samples import make_photo, make_photo_set, make_video, make_zip
from ferryman.samples.archives import ARCHIVE_TIME
from ferryman.sinks import flat
from ferryman.sinks.layout import check_template, render
from ferryman.store import Store
from tests.crash.test_crash import _add, _all_terminal, _env, _kill_repeatedly
from tests.engine.test_full_destination import (
    _half_built,
    _noise_pngs,
    _tiny_disk,
    _waiting_for_space,
)
from tests.support.contract import memory_store
from tests.support.engine_helpers import leftovers, library_files, run_until_idle, sha256

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here


def _settings(tmp_path: Path, layout: str | None = None, **extra: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "poll_seconds": 0.05,
        "space_floor": 0,
        "space_recheck_seconds": 0.1,
    }
    if layout is not None:
        values["library_layout"] = layout
    return load_settings(None, values | extra)


def _on_disk(library: Path) -> list[str]:
    """Every file a media server would see (nothing under ``.ferryman``)."""
    return sorted(
        str(p.relative_to(library))
        for p in library.rglob("*")
        if p.is_file() and ".ferryman" not in p.relative_to(library).parts
    )


def _pictures(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.is_file() and p.suffix == ".jpg")


@pytest.fixture(autouse=True)
def _no_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite runs older tests with the album layout (conftest); these choose."""
    monkeypatch.delenv("FERRYMAN_LIBRARY_LAYOUT", raising=False)


async def test_default_lays_files_flat_and_named_with_manifests_hidden(
    store: Store, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, album_size=2)
    photos = make_photo_set(tmp_path / "p", 5, size=(64, 48))
    archive = make_zip(
        tmp_path / "Holiday 2024.zip",
        [("a/same.jpg", photos[0]), ("b/same.jpg", photos[1]), ("c/same.jpg", photos[2])]
        + [(p.name, p) for p in photos[3:]],
    )
    await intake.add_source(store, archive, settings=settings)
    await run_until_idle(store, settings)

    library = settings.library
    job = (await store.list_jobs())[0]
    assert job.state is JobState.DONE
    names = _on_disk(library)
    # one named folder, the archive's own folders kept in it: same-named files never meet
    assert names == sorted(
        [f"{job.name}/{folder}/same.jpg" for folder in "abc"]
        + [f"{job.name}/{p.name}" for p in photos[3:]]
    )
    assert not list(library.rglob("manifest.json"))
    assert not [p for p in library.rglob("*") if p.is_dir() and p.name.isdigit()]
    manifests = sorted((library / ".ferryman" / job.name).glob("*.json"))
    assert [m.name for m in manifests] == ["0001.json", "0002.json", "0003.json"]
    captions = [json.loads(m.read_text())["caption"] for m in manifests]
    assert [c.rsplit(" ", 1)[-1] for c in captions] == ["1/3", "2/3", "3/3"]  # made final
    files = library_files(library)
    assert sorted(f["disk_sha256"] for f in files) == sorted(sha256(p) for p in photos)
    assert sorted(str(Path(f["path"]).relative_to(library)) for f in files) == names
    assert not list(library.rglob("*.partial"))
    assert leftovers(settings.data_dir / "work") == []


async def test_an_archive_s_top_folder_is_its_name_not_a_folder_twice(
    store: Store, tmp_path: Path
) -> None:
    """`Trip.zip` holding `Trip/2023/Summer/…` is the job "Trip": its files go to
    `Trip/2023/Summer/`, not `Trip/Trip/…`; and `{path}` makes folders in any template."""
    settings = _settings(tmp_path)
    photos = make_photo_set(tmp_path / "p", 2, size=(64, 48))
    archive = make_zip(
        tmp_path / "upload.zip",
        [
            ("Trip/2023/Summer/IMG_0001.jpg", photos[0]),
            ("Trip/2024/Winter/IMG_0001.jpg", photos[1]),
        ],
    )
    await intake.add_source(store, archive, settings=settings)
    await run_until_idle(store, settings)
    job = (await store.list_jobs())[0]
    assert job.name == "Trip"
    assert _on_disk(settings.library) == [
        "Trip/2023/Summer/IMG_0001.jpg",
        "Trip/2024/Winter/IMG_0001.jpg",
    ]
    # The entry's own time (the zip's: ARCHIVE_TIME, mid-2024) stays the library file's: a
    # file browser sorts an old photo as old, not as today's.
    stamped = datetime(*ARCHIVE_TIME).timestamp()
    for name in _on_disk(settings.library):
        assert abs((settings.library / name).stat().st_mtime - stamped) <= 2, name
    values = {"source": "s", "path": "a/../b/./c", "name": "n.jpg"}
    assert render("{path}/{name}", values, datetime.min).as_posix() == "a/_/b/c/n.jpg"
    assert render("x/{path}/{name}", values | {"path": ""}, datetime.min).as_posix() == "x/n.jpg"


async def test_a_date_template_makes_year_and_month_folders(store: Store, tmp_path: Path) -> None:
    settings = _settings(tmp_path, "{date:%Y/%m}/{title} ({source}).{ext}")
    photos = make_photo_set(tmp_path / "p", 2, size=(64, 48))
    await intake.add_source(
        store, make_zip(tmp_path / "trip.zip", [(p.name, p) for p in photos]), settings=settings
    )
    await run_until_idle(store, settings)

    names = _on_disk(settings.library)
    assert len(names) == 2
    for name in names:
        path = settings.library / name
        when = datetime.fromtimestamp(path.stat().st_mtime)  # renamed: the file's own time
        year, month, file = PurePosixPath(name).parts
        assert (year, month) == (f"{when:%Y}", f"{when:%m}")
        assert file.endswith(" (trip).jpg")


def test_templates_are_checked_and_render_only_inside() -> None:
    when = datetime(2023, 4, 5)
    values = {
        "source": "../../etc",
        "name": "../passwd",
        "title": "..",
        "ext": "jpg",
        "album": "0001",
        "index": "1",
        "kind": "photo",
        "path": "../../.ferryman/./x/..",
    }
    templates = ("../../{source}/{name}", "/{source}/../{name}", "{source}/./{title}.{ext}")
    for template in (*templates, "{path}/{name}", "{source}/{path}/../{path}/{title}"):
        rendered = render(template, values, when)
        assert not rendered.is_absolute()
        assert not {"..", ".", ""} & set(rendered.parts)
        assert not any(part.startswith(".") for part in rendered.parts)  # never .ferryman
    assert render("{date:%Y/%m}/{name}", values, when) == PurePosixPath("2023/04/_passwd")
    for bad in ("{name.__class__}", "{0}", "{source}", "{name", "{nope}/{name}"):
        with pytest.raises(FerrymanError) as caught:
            check_template(bad)
        assert caught.value.code == "config.invalid"


async def test_a_hostile_template_and_names_cannot_leave_the_library(
    store: Store, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, "../../{source}/../{name}")
    photos = make_photo_set(tmp_path / "p", 2, size=(64, 48))
    archive = make_zip(tmp_path / "..zip", [("../../x.jpg", photos[0]), ("..jpg", photos[1])])
    await intake.add_source(store, archive, settings=settings)
    await run_until_idle(store, settings)

    outside = _pictures(tmp_path)
    inside = [p for p in outside if p.startswith(str(settings.library) + os.sep)]
    work = [p for p in outside if p.startswith(str(tmp_path / "p") + os.sep)]
    assert len(inside) == 2 and sorted(inside + work) == outside  # nowhere else
    assert sorted(f["disk_sha256"] for f in library_files(settings.library)) == sorted(
        sha256(p) for p in photos
    )


async def test_a_fault_after_the_commit_is_finished_not_repeated(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fails after the album's manifest is committed, with one file moved into
    the library and the others still staged: the album is not split (its manifest says
    part of it is delivered), and the next try moves the rest; every photo once."""
    settings = _settings(tmp_path)
    photos = make_photo_set(tmp_path / "p", 4, size=(64, 48))
    await intake.add_source(
        store, make_zip(tmp_path / "a.zip", [(p.name, p) for p in photos]), settings=settings
    )
    real = flat.put_new  # each file's move into the library (never over a file)
    moved: list[str] = []

    def failing(src: str, dst: str) -> bool:
        moved.append(str(dst))
        if len(moved) == 2:  # the second file into the library
            raise OSError(5, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(flat, "put_new", failing)
    await run_until_idle(store, settings)

    assert len(moved) == 5  # 1, the fault, then the 3 left; none moved twice
    library = settings.library
    assert len(_on_disk(library)) == 4
    assert sorted(f["disk_sha256"] for f in library_files(library)) == sorted(
        sha256(p) for p in photos
    )
    assert not list(library.rglob("*.partial"))


async def test_a_stage_left_by_a_kill_is_swept_or_finished_at_start(
    store: Store, tmp_path: Path
) -> None:
    """A killed run's uncommitted stage goes; a committed one's files are moved."""
    settings = _settings(tmp_path)
    library = settings.library
    sink = flat.FlatLibrarySink(library, "{source}/{name}")
    photos = make_photo_set(tmp_path / "p", 2, size=(64, 48))
    job = await intake.add_source(store, photos[0], settings=settings)
    state = library / ".ferryman" / job.name
    uncommitted = state / ".0001.partial"
    uncommitted.mkdir(parents=True)
    (uncommitted / "000").write_bytes(photos[0].read_bytes())
    committed = state / ".0002.partial"
    committed.mkdir()
    (committed / "000").write_bytes(photos[1].read_bytes())
    (state / "0002.json").write_text(
        json.dumps({"key": "k", "placed": [{"stage": "000", "path": f"{job.name}/b.jpg"}]})
    )

    assert sink.sweep_half_built(job, [1, 2]) == 2
    assert not uncommitted.exists() and not committed.exists()
    assert _on_disk(library) == [f"{job.name}/b.jpg"]
    assert sha256(library / job.name / "b.jpg") == sha256(photos[1])


async def test_an_album_layout_library_keeps_its_layout(store: Store, tmp_path: Path) -> None:
    old = _settings(tmp_path, "albums")
    photos = make_photo_set(tmp_path / "p", 3, size=(64, 48))
    await intake.add_source(
        store, make_zip(tmp_path / "old.zip", [(photos[0].name, photos[0])]), settings=old
    )
    await run_until_idle(store, old)
    assert (old.library / "old" / "0001" / "manifest.json").exists()

    settings = _settings(tmp_path)  # the default: a template
    archive = make_zip(tmp_path / "new.zip", [(p.name, p) for p in photos[1:]])
    await intake.add_source(store, archive, settings=settings)
    await run_until_idle(store, settings)

    assert (settings.library / "new" / "0001" / "manifest.json").exists()
    assert not (settings.library / ".ferryman").exists()
    assert sorted(f["disk_sha256"] for f in library_files(settings.library)) == sorted(
        sha256(p) for p in photos
    )


@pytest.mark.slow
def test_sigkill_mid_album_in_the_default_layout_loses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    """The crash loop of tests/crash/test_crash.py on the default layout: whatever moment a
    run dies at (staging, the commit, the moves), every photo is in the library once,
    and no file is there that no manifest names."""
    data = tmp_path / "data"
    env = _env(data, FERRYMAN_LEASE_SECONDS="1")
    photos = make_photo_set(tmp_path / "p", 600, size=(96, 72))
    half = len(photos) // 2
    inputs = [
        make_zip(tmp_path / "a.zip", [(f"x/{p.name}", p) for p in photos[:half]]),
        make_zip(tmp_path / "b.zip", [(p.name, p) for p in photos[half:]], compress=False),
    ]
    _add(inputs, env)
    _kill_repeatedly(env, random.Random(20261126), (0.02, 0.5), wanted=6, most=10, items=600)

    library = data / "library"
    files = library_files(library)
    assert sorted(f["disk_sha256"] for f in files) == sorted(sha256(p) for p in photos)
    assert sorted(str(Path(f["path"]).relative_to(library)) for f in files) == _on_disk(library)
    assert not list(library.rglob("*.partial"))
    assert _all_terminal(data / "ferryman.db")


async def test_a_disk_that_fills_mid_album_in_the_default_layout_waits_then_delivers_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tests/engine/test_full_destination.py's race on a real 2 MB tmpfs, laid out by the
    default template: the copy into the stage meets ENOSPC; the stage goes, nothing is
    committed, the job waits for room, then every file arrives once."""
    settings = _settings(tmp_path, retry={"max_attempts": 1, "base_seconds": 0.05})
    store = await Store.open(settings.database)
    monkeypatch.setattr(flat, "check_space", lambda *args: None)  # the room was taken meanwhile
    photos = _noise_pngs(tmp_path / "in", 5)
    job = await intake.add_source(
        store, make_zip(tmp_path / "in.zip", [(p.name, p) for p in photos]), settings=settings
    )
    with _tiny_disk(settings.library) as library:
        filler = library / "someone-elses-file"
        filler.write_bytes(b"\0" * 1_200_000)  # room for some of the album, not all
        engine = Engine(store, settings)
        run = asyncio.create_task(engine.run(until_idle=True))
        await _waiting_for_space(store, engine, job.id, rechecks=3)
        assert _half_built(library) == []
        assert not list(library.glob(".ferryman/*/*.json"))  # nothing committed
        filler.unlink()
        await asyncio.wait_for(run, 60)
        assert (await store.get_job(job.id)).state is JobState.DONE
        files = library_files(library)
        assert sorted(f["disk_sha256"] for f in files) == sorted(sha256(p) for p in photos)
        assert len(_on_disk(library)) == len(photos)
        assert _half_built(library) == []
    await store.close()


def _dated_photo(path: Path, seed: int, taken: str) -> Path:
    make_photo(path, seed, size=(64, 48))
    with Image.open(path) as image:
        exif = image.getexif()
        exif.get_ifd(0x8769)[0x9003] = taken  # DateTimeOriginal
        image.save(path, exif=exif)
    return path


def _dated_video(source: Path, path: Path, taken: str) -> Path:
    """``source`` remuxed with a recording date in its header, as a phone writes it."""
    with av.open(str(source)) as inp, av.open(str(path), "w") as out:
        out.metadata["creation_time"] = taken
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    return path


async def test_date_folders_follow_when_a_photo_or_video_was_taken(
    store: Store, tmp_path: Path
) -> None:
    """EXIF's DateTimeOriginal and a video's ``creation_time`` name the folders, not
    when ferryman wrote the file (a template for Immich or Plex sorted by month)."""
    settings = _settings(tmp_path, "{date:%Y/%m}/{name}")
    photo = _dated_photo(tmp_path / "in" / "beach.jpg", 1, "2019:03:14 10:00:00")
    clip = make_video(tmp_path / "plain.mp4", 2, seconds=0.4)
    video = _dated_video(clip, tmp_path / "in" / "party.mp4", "2021-12-31T20:00:00.000000Z")
    await intake.add_source(store, photo.parent, settings=settings)
    await run_until_idle(store, settings)

    names = _on_disk(settings.library)
    assert "2019/03/beach.jpg" in names, names
    assert [n for n in names if n.endswith("party.mp4")] in (
        ["2021/12/party.mp4"],
        ["2022/01/party.mp4"],  # 20:00 UTC is the next day east of +04:00
    ), names
    assert taken_at(video) is not None and taken_at(clip) is None
    # A person's own files are linked, not copied: their dates are theirs, untouched.
    assert photo.stat().st_mtime > datetime(2026, 1, 1).timestamp()


async def test_delivered_files_are_dated_when_they_were_taken(store: Store, tmp_path: Path) -> None:
    """A photo's EXIF date and a video's creation_time date the library's files (a file
    browser sorts a 2019 photo as 2019's), not the archive's date nor today; a file that
    says nothing keeps its entry's own time (tested above)."""
    settings = _settings(tmp_path)
    photo = _dated_photo(tmp_path / "in" / "beach.jpg", 1, "2019:03:14 10:00:00")
    clip = make_video(tmp_path / "plain.mp4", 2, seconds=0.4)
    video = _dated_video(clip, tmp_path / "in" / "party.mp4", "2021-12-31T20:00:00.000000Z")
    archive = make_zip(tmp_path / "phone.zip", [(photo.name, photo), (video.name, video)])
    await intake.add_source(store, archive, settings=settings)
    await run_until_idle(store, settings)
    placed = {p.name: p for p in settings.library.rglob("*") if p.is_file()}
    assert placed["beach.jpg"].stat().st_mtime == datetime(2019, 3, 14, 10).timestamp()
    party = datetime.fromisoformat("2021-12-31T20:00:00+00:00").timestamp()
    assert placed["party.mp4"].stat().st_mtime == party


async def test_a_second_archive_of_the_same_top_folder_has_the_same_shape(
    store: Store, tmp_path: Path
) -> None:
    """Two archives of one top folder (each `Trip/2024/…`) into one library: the first is
    the job "Trip", its files in `Trip/2024/`; the second, "Trip (2)" (two inputs, one
    name), had its files in `Trip (2)/Trip/2024/`, a folder deeper than the first's. Now
    `Trip (2)/2024/`. Two Google Takeouts (each `Takeout/Google Photos/…`: the same
    account exported again) share the first's folder, `Takeout/Google Photos/`."""
    settings = _settings(tmp_path)
    photos = make_photo_set(tmp_path / "p", 4, size=(64, 48))
    for n, photo in enumerate(photos, 1):
        top = "Trip/2024" if n <= 2 else "Takeout/Google Photos"
        archive = make_zip(tmp_path / f"export-{n}.zip", [(f"{top}/IMG_{n}.jpg", photo)])
        await intake.add_source(store, archive, settings=settings)
    await run_until_idle(store, settings)
    assert sorted(job.name for job in await store.list_jobs()) == [
        "Takeout",
        "Takeout (2)",
        "Trip",
        "Trip (2)",
    ]
    assert _on_disk(settings.library) == [
        "Takeout/Google Photos/IMG_3.jpg",
        "Takeout/Google Photos/IMG_4.jpg",
        "Trip (2)/2024/IMG_2.jpg",
        "Trip/2024/IMG_1.jpg",
    ]
