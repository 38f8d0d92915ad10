"""A person's big file is linked unread and hashed by the read that delivers it; a big
archive entry bound for Telegram is written unhashed, and hashed by the upload's read.

Staging no longer reads a local file of ``HASH_LATER_BYTES`` or more only to hash it;
the Telegram upload hashes it as it reads it, and a sink that does not (the library)
gets it hashed by the engine before it writes its manifest. Either way the item's
recorded hash is the file's, and the unchanged-file rule still holds.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ferryman.engine.ops import intake
from ferryman.engine.read import staging
from ferryman.engine.read.stage import HASH_LATER_BYTES, Staged, stage_entry
from ferryman.model import ItemState
from ferryman.store import Store
from tests.support.engine_helpers import library_files, run_until_idle
from tests.telegram.test_telegram_sink import World, photos, sha


def _big_pdf(path: Path) -> bytes:
    data = b"%PDF-1.4\n" + os.urandom(HASH_LATER_BYTES + 12345)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


async def test_a_big_local_file_sent_to_telegram_has_the_hash_of_what_was_sent(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path, send_documents=True)
    folder = tmp_path / "in"
    data = _big_pdf(folder / "big.pdf")
    photos(folder, 2)
    store = await w.store()
    job = await intake.add_source(store, folder, dest="telegram:@dest")
    await w.run(store)

    items = {Path(it.source_path).name: it for it in await store.job_items(job.id)}
    assert {it.state for it in items.values()} == {ItemState.DELIVERED}
    assert items["big.pdf"].sha256 == sha(data)  # recorded with the delivery
    for name in ("p00.jpg", "p01.jpg"):  # small files: hashed as staged, as before
        assert items[name].sha256 == sha((folder / name).read_bytes())
    sent = [m for m in w.server.chat(w.channel) if m.media.file.size == len(data)]
    assert len(sent) == 1 and sent[0].media.file.sha256 == sha(data)
    assert (folder / "big.pdf").read_bytes() == data  # the person's file is untouched
    await store.close()


async def test_a_big_local_file_into_the_library_is_hashed_before_its_manifest(
    tmp_path: Path,
) -> None:
    w = World(tmp_path, send_documents=True)
    folder = tmp_path / "in"
    data = _big_pdf(folder / "big.pdf")
    library = tmp_path / "library"
    store = await Store.open(w.settings.database)
    job = await intake.add_source(store, folder, dest=f"library:{library}")
    await run_until_idle(store, w.settings)

    (item,) = await store.job_items(job.id)
    assert item.state is ItemState.DELIVERED and item.sha256 == sha(data)
    (entry,) = library_files(library)
    assert entry["sha256"] == entry["disk_sha256"] == sha(data)
    await store.close()


def _zipped(tmp_path: Path) -> tuple[Path, bytes]:
    data = _big_pdf(tmp_path / "src" / "big.pdf")
    archive = tmp_path / "in.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.write(tmp_path / "src" / "big.pdf", "big.pdf")
    return archive, data


def _staged_hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hash each entry had when staged (the reading thread's ``stage_entry``)."""
    seen: list[str] = []

    def noting(*args: Any, **kwargs: Any) -> Staged:
        staged = stage_entry(*args, **kwargs)
        seen.append(staged.sha256)
        return staged

    monkeypatch.setattr(staging, "stage_entry", noting)
    return seen


async def test_a_big_zip_entry_for_telegram_is_written_unhashed_and_hashed_as_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = _staged_hashes(monkeypatch)
    w = await World.logged_in(tmp_path, send_documents=True)
    archive, data = _zipped(tmp_path)
    store = await w.store()
    job = await intake.add_source(store, archive, dest="telegram:@dest")
    await w.run(store)

    assert staged == [""]  # the upload's read hashes it: staging did not
    (item,) = await store.job_items(job.id)
    assert item.state is ItemState.DELIVERED and item.sha256 == sha(data)
    (sent,) = [m for m in w.server.chat(w.channel) if m.media.file.size == len(data)]
    assert sent.media.file.sha256 == sha(data)
    await store.close()


async def test_a_big_zip_entry_into_the_library_is_hashed_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = _staged_hashes(monkeypatch)
    w = World(tmp_path, send_documents=True)
    archive, data = _zipped(tmp_path)
    library = tmp_path / "library"
    store = await Store.open(w.settings.database)
    job = await intake.add_source(store, archive, dest=f"library:{library}")
    await run_until_idle(store, w.settings)

    assert staged == [sha(data)]  # the library does not read it whole: no second read
    (item,) = await store.job_items(job.id)
    assert item.state is ItemState.DELIVERED and item.sha256 == sha(data)
    await store.close()


async def test_a_big_zip_entry_split_for_telegram_has_the_hash_of_its_whole_file(
    tmp_path: Path,
) -> None:
    """Was: no hash at all. A video over the size limit is sent in parts (the upload
    hashes none of them as the item's), and the engine's own read skipped split items:
    the entry staged unhashed kept ``sha256`` NULL once delivered."""
    from tests.media.test_media_engine import noisy_video

    (tmp_path / "src").mkdir()
    # Made by x264's fastest preset: 0.7 CPU-s, not 7 (a bigger file: still over the bound).
    video = noisy_video(
        tmp_path / "src" / "clip.mp4", seconds=4.0, size=(640, 480), preset="ultrafast"
    )
    data = video.read_bytes()
    assert len(data) >= HASH_LATER_BYTES
    archive = tmp_path / "in.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.write(video, "clip.mp4")
    limit = int(len(data) * 0.6)
    w = await World.logged_in(
        tmp_path, media={"segment_seconds": 2, "max_file_bytes": limit, "oversize": "split"}
    )
    store = await w.store()
    job = await intake.add_source(store, archive, dest="telegram:@dest")
    await w.run(store)

    (item,) = await store.job_items(job.id)
    assert item.state is ItemState.DELIVERED and item.parts
    assert item.sha256 == sha(data)
    await store.close()


async def test_a_big_broken_zip_entry_for_telegram_is_quarantined_with_its_hash(
    tmp_path: Path,
) -> None:
    """Was: no hash. A file that goes to quarantine is never uploaded, so the upload's
    read that was to hash it never comes."""
    data = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + os.urandom(
        HASH_LATER_BYTES + 999
    )
    archive = tmp_path / "in.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("broken.mp4", data)
    w = await World.logged_in(tmp_path)
    store = await w.store()
    job = await intake.add_source(store, archive, dest="telegram:@dest")
    await w.run(store)

    (item,) = await store.job_items(job.id)
    assert item.state is ItemState.QUARANTINED
    assert item.sha256 == sha(data)
    await store.close()
