"""A conversion that fails for good (an encoder's error, every retry spent) held the
original back in quarantine: to a library asked to make its videos play anywhere
(``library_convert``), the video was then in no library, and a folder watch's files all
stayed. A backup keeps it as it came instead: the original's bytes in the library, the
code of why it was not converted the reason. Elsewhere (a download link) it is
quarantined as before.

Real parts: an HEVC clip by PyAV, which a playable library transcodes; the engine and
the library sink in-process, on the memory store. The failure is injected where the
convert stage runs its encoder (a real encoder's failure is covered by
tests/media/test_media_convert.py), after the item was claimed for conversion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ferryman.config import Settings
from ferryman.engine.convert import step as convert_step
from ferryman.engine.ops import intake
from ferryman.engine.ops.report import report
from ferryman.engine.plumbing import quarantine
from ferryman.errors import FerrymanError
from ferryman.model import ItemState, Plan
from ferryman.samples import make_photo, make_video
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files, run_until_idle, sha256

__all__ = ["memory_store"]


def _converting(settings: Settings) -> Settings:
    """A library made to play anywhere, and one try per conversion (no backoff)."""
    media = settings.media.model_copy(update={"library_convert": True})
    retry = settings.retry.model_copy(update={"max_attempts": 1})
    return settings.model_copy(update={"media": media, "retry": retry})


@pytest.mark.parametrize("dest", ["library:", "link:"])
async def test_a_video_whose_conversion_fails_for_good_goes_to_a_backup_as_it_came(
    store: Store,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dest: str,
) -> None:
    folder = tmp_path / "trip"
    shot = sha256(make_photo(folder / "a.jpg", 1))
    clip = make_video(folder / "clip.mp4", 2, seconds=0.4, vcodec="libx265", acodec=None)
    original = sha256(clip)
    tried: list[str] = []

    async def failing(*args: Any, **kwargs: Any) -> None:
        tried.append("encode")
        raise FerrymanError("media.convert_failed", "the encoder gave up")

    monkeypatch.setattr(convert_step, "_encode", failing)
    settings = _converting(settings)
    job = await intake.add_source(store, folder, dest=dest, settings=settings)
    await run_until_idle(store, settings)

    assert tried == ["encode"]  # it was planned for a transcode, and that failed
    items = {it.source_path: it for it in await store.job_items(job.id)}
    kept = quarantine.list_quarantine(settings.quarantine_dir)
    if dest == "link:":  # no backup: held back, as before
        assert items["clip.mp4"].state is ItemState.QUARANTINED
        assert [code for _, code in kept] == ["media.convert_failed"]
        return
    clip_item = items["clip.mp4"]
    assert (clip_item.state, clip_item.plan) == (ItemState.DELIVERED, Plan.DOCUMENT)
    assert (clip_item.reason or "").startswith("media.convert_failed: ")
    assert (await store.get_job(job.id)).error_code is None  # delivered whole
    placed = {Path(f["path"]).name: f["disk_sha256"] for f in library_files(settings.library)}
    assert placed["clip.mp4"] == original and shot in placed.values()
    assert kept == []
    said = {i["path"]: i for i in (await report(store, job.id))["items"]}
    assert said["clip.mp4"]["reason"].startswith("media.convert_failed")
