"""One entry's fault stays that entry's: an unexpected exception while one picture is
staged, probed or fixed ends that entry with ``entry.internal`` (when it was staged: kept
as it is by a library, which decodes nothing, else in quarantine), logs the bug with its
traceback, and every other entry of the folder or zip is delivered; the job does not end
``engine.internal``.

Real inputs: JPEGs by Pillow, a TIFF whose second page lost its width (bytes surgery on
a Pillow-made file: Pillow's ``n_frames`` raises ``TypeError: Missing dimensions``), a
real zip; the engine runs in-process to the library. The generic faults are injected
where the engine calls the probe and the sniffer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ferryman.config import Settings, load_settings
from ferryman.engine.ops import intake
from ferryman.engine.plumbing import decoding as decoding_module
from ferryman.engine.plumbing import quarantine
from ferryman.engine.read import decision as decision_module
from ferryman.engine.read import prepare as prepare_module
from ferryman.engine.read import stage as stage_module
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.media import probe as probe_module
from ferryman.media.box.pool import InProcess
from ferryman.media.probe import probe_image
from ferryman.model import ItemState, MediaInfo, MediaKind, Plan
from ferryman.samples import make_photo, make_zip
from ferryman.store import Store
from tests.support.engine_helpers import library_files, run_until_idle, sha256
from tests.support.image_corpus import tiff_without_second_width

PHOTOS = 6
BAD = "odd.jpg"  # the entry whose probe (or sniffing) the tests make raise
ODD_SIZE = (65, 49)  # a size only the odd picture has


def settings_for(tmp_path: Path) -> Settings:
    return load_settings(
        None,
        {
            "data_dir": tmp_path / "data",
            "poll_seconds": 0.05,
            "space_floor": 0,
            "media": {"policy": "telegram"},
        },
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(settings_for(tmp_path).database)
    try:
        yield opened
    finally:
        await opened.close()


def folder_of_pictures(root: Path) -> Path:
    """``PHOTOS`` JPEGs, the odd one among them, and the malformed TIFF."""
    root.mkdir(parents=True)
    for seed in range(PHOTOS):
        make_photo(root / f"p{seed}.jpg", seed, size=(64, 48))
    make_photo(root / BAD, 99, size=(64, 48))
    (root / "scan.tif").write_bytes(tiff_without_second_width())
    return root


def as_input(tmp_path: Path, kind: str) -> Path:
    folder = folder_of_pictures(tmp_path / "pictures")
    if kind == "folder":
        return folder
    files = [(p.name, p) for p in sorted(folder.iterdir())]
    return make_zip(tmp_path / "pictures.zip", files)


def test_a_tiff_whose_pages_cannot_be_counted_is_one_picture(tmp_path: Path) -> None:
    """Pillow's ``n_frames`` raises ``TypeError`` on it; the probe used to let it out."""
    path = tmp_path / "scan.tif"
    path.write_bytes(tiff_without_second_width())
    info = probe_image(path)
    assert (info.width, info.height, info.pages) == (64, 48, None)
    assert probe_image(path, path.read_bytes()).pages is None


@pytest.mark.parametrize("kind", ["folder", "zip"])
async def test_a_malformed_tiff_among_pictures_does_not_stop_the_rest(
    tmp_path: Path, store: Store, kind: str
) -> None:
    settings = settings_for(tmp_path)
    job = await intake.add_source(store, as_input(tmp_path, kind))
    await run_until_idle(store, settings, limit=60)

    done = await store.get_job(job.id)
    assert done.error_code != "engine.internal", done.error_message
    items = {it.source_path: it for it in await store.job_items(job.id)}
    assert len(items) == PHOTOS + 2
    assert {it.state for it in items.values()} == {ItemState.DELIVERED}, {
        name: (it.state, it.error_message) for name, it in items.items()
    }
    delivered = {f["source_path"] for f in library_files(settings.library)}
    assert delivered == set(items)


def _pages_counted_as_before(image: Image.Image, *_: object) -> int:
    """The page count before the fix: Pillow's ``n_frames``, unguarded."""
    return int(getattr(image, "n_frames", 1)) if image.format == "TIFF" else 1


@pytest.mark.parametrize(
    ("kind", "fault"), [("folder", "tiff"), ("zip", "tiff"), ("folder", "bug"), ("zip", "bug")]
)
async def test_a_probe_that_raises_fails_its_entry_alone(
    tmp_path: Path,
    store: Store,
    kind: str,
    fault: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``tiff``: the probe counts pages as it once did, so the real TIFF's ``TypeError``
    from Pillow reaches the engine; ``bug``: the probe raises a ``KeyError`` on one
    JPEG (both the box's probe and the engine's JPEG header read). The decodes run
    in-process (the faults are patched into this process; a worker's bug crosses as
    ``media.box.pool.DecoderBug``: ``test_media_box``)."""
    real = probe_module.probe_image
    if fault == "tiff":
        bad, raised = "scan.tif", TypeError
        monkeypatch.setattr(probe_module, "_pages", _pages_counted_as_before)
    else:
        bad, raised = BAD, KeyError

        def probe(path: Path, data: bytes | None = None, limit: int | None = None) -> MediaInfo:
            if path.name.endswith(BAD):
                raise KeyError("a bug in the probe")
            return real(path, data, limit)

        monkeypatch.setattr(probe_module, "probe_image", probe)
        # A plain JPEG (or HEIC) is probed from its header on the reading thread
        # (``media.jpeg_header``, ``media.heic_header`` via
        # ``engine.plumbing.decoding.probe_image``) and never reaches the box's probe:
        # the bug is injected there too.
        header = decoding_module.header_probe

        def probe_header(path: Path, *args: Any) -> MediaInfo | None:
            if path.name.endswith(BAD):
                raise KeyError("a bug in the probe")
            return header(path, *args)

        monkeypatch.setattr(decoding_module, "header_probe", probe_header)
    settings = settings_for(tmp_path)
    job = await intake.add_source(store, as_input(tmp_path, kind))
    engine = Engine(store, settings, media_box=InProcess())
    with caplog.at_level(logging.ERROR, logger="ferryman.engine.read.prepare"):
        await asyncio.wait_for(engine.run(until_idle=True), 60)

    done = await store.get_job(job.id)
    assert done.error_code is None, (done.error_code, done.error_message)
    items = {it.source_path: it for it in await store.job_items(job.id)}
    odd = items[bad]  # the library keeps its bytes as they are, the bug its reason
    assert (odd.state, odd.plan) == (ItemState.DELIVERED, Plan.DOCUMENT)
    assert (odd.reason or "").startswith("entry.internal: ") and raised.__name__ in odd.reason
    assert {it.state for it in items.values()} == {ItemState.DELIVERED}
    placed = {f["source_path"]: f["disk_sha256"] for f in library_files(settings.library)}
    assert set(placed) == set(items)
    assert placed[bad] == sha256(tmp_path / "pictures" / bad)
    assert quarantine.list_quarantine(settings.quarantine_dir) == []
    logged = [r for r in caplog.records if r.exc_info and bad in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert logged[0].exc_info[0] is raised  # the bug's own traceback, for its report


@pytest.mark.parametrize("kind", ["folder", "zip"])
async def test_a_sniffer_that_raises_while_staging_fails_its_entry_alone(
    tmp_path: Path, store: Store, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = stage_module.classify_entry

    def classify(head: bytes, name: str, ask: Callable[[bytes], MediaKind] | None) -> MediaKind:
        if name.endswith(BAD):
            raise IndexError("a bug in the sniffer")
        return real(head, name, ask)

    monkeypatch.setattr(stage_module, "classify_entry", classify)
    settings = settings_for(tmp_path)
    job = await intake.add_source(store, as_input(tmp_path, kind))
    await run_until_idle(store, settings, limit=60)

    done = await store.get_job(job.id)
    assert done.error_code != "engine.internal", done.error_message
    items = {it.source_path: it for it in await store.job_items(job.id)}
    bad = items.pop(BAD)
    assert (bad.state, bad.error_code) == (ItemState.FAILED, "entry.internal")
    assert "IndexError" in (bad.error_message or "")
    assert {it.state for it in items.values()} == {ItemState.DELIVERED}
    assert {f["source_path"] for f in library_files(settings.library)} == set(items)


def test_a_failed_system_call_is_still_the_jobs_not_the_entrys() -> None:
    """A broken disk is the same for every entry: it is retried as the job's, and no
    entry is marked as a bug."""
    assert prepare_module.entry_fault(KeyError("x"))
    assert prepare_module.entry_fault(OSError("cannot identify image file"))
    assert not prepare_module.entry_fault(OSError(5, "Input/output error"))


async def test_a_media_error_met_outside_the_probe_fails_its_entry_alone(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fixer's ``media.*`` error that no step of ``prepare`` caught (here: from the
    plan, on the one picture of its size) used to end the whole read with it."""
    real = decision_module.explain  # the plan is the decision table's (read/decision)

    def explain(kind: MediaKind, info: MediaInfo, policy: Any) -> Any:
        if (info.width, info.height) == ODD_SIZE:
            raise FerrymanError("media.unreadable", "the plan met something odd")
        return real(kind, info, policy)

    monkeypatch.setattr(decision_module, "explain", explain)
    folder = folder_of_pictures(tmp_path / "pictures")
    make_photo(folder / BAD, 99, size=ODD_SIZE)
    settings = settings_for(tmp_path)
    job = await intake.add_source(store, folder, dest="link:")  # no backup: quarantined
    await run_until_idle(store, settings, limit=60)

    done = await store.get_job(job.id)
    assert done.error_code == "job.partly_delivered", (done.error_code, done.error_message)
    items = {it.source_path: it for it in await store.job_items(job.id)}
    bad = items.pop(BAD)
    assert (bad.state, bad.error_code) == (ItemState.QUARANTINED, "media.unreadable")
    assert {it.state for it in items.values()} == {ItemState.DELIVERED}


async def test_a_read_that_times_out_while_staging_is_retried_not_blamed_on_the_entry(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ``OSError`` while staging is the source's or the disk's, even without an errno
    (a socket's ``TimeoutError``): the read is tried again, and the entry arrives."""
    real = stage_module.classify_entry
    raised: list[str] = []

    def classify(head: bytes, name: str, ask: Callable[[bytes], MediaKind] | None) -> MediaKind:
        if name.endswith(BAD) and not raised:
            raised.append(name)
            raise TimeoutError("timed out")
        return real(head, name, ask)

    monkeypatch.setattr(stage_module, "classify_entry", classify)
    settings = settings_for(tmp_path)
    settings = settings.model_copy(
        update={"retry": settings.retry.model_copy(update={"base_seconds": 0.01})}
    )
    job = await intake.add_source(store, folder_of_pictures(tmp_path / "pictures"))
    await run_until_idle(store, settings, limit=60)

    assert raised == [BAD]
    done = await store.get_job(job.id)
    assert done.error_code is None, (done.error_code, done.error_message)
    items = await store.job_items(job.id)
    assert {it.state for it in items} == {ItemState.DELIVERED}
    assert len(items) == PHOTOS + 2
