"""What the Telegram sink decodes before a send (a split part's probe, the documents'
thumbnail a chat user chose) is decoded in the engine's media box, not in the engine:
on real media made by PyAV and Pillow, and an MP4 that blows up its decoder."""

from __future__ import annotations

import resource
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from ferryman.errors import FerrymanError
from ferryman.media.box.pool import MediaBox
from ferryman.media.policy import ThumbLimits
from ferryman.model import Item, ItemState, MediaKind
from ferryman.samples import make_photo, make_video
from ferryman.sinks.telegram_media import fitted_thumb, video_facts
from ferryman.telegram.outgoing import Outgoing
from tests.support.media_bombs import sample_count_bomb


def _part(path: Path) -> Outgoing:
    """The first part of a video split to fit a size limit (probed again when sent)."""
    item = Item(1, 1, 1, "big.mp4", MediaKind.VIDEO, ItemState.GROUPED, path.stat().st_size,
                None, str(path), None, None, None, 0, 1, parts=[str(path)])  # fmt: skip
    return Outgoing(0, item, 0, path, "big.part1.mp4", "video")


@pytest.fixture
def box() -> Iterator[MediaBox]:
    made = MediaBox(keep=1)
    yield made
    made.close()


def test_a_split_parts_facts_come_from_a_probe_in_the_box(tmp_path: Path, box: MediaBox) -> None:
    clip = make_video(tmp_path / "part1.mp4", 3, seconds=2.0, size=(320, 180))
    facts = video_facts(_part(clip), box)
    assert (facts.width, facts.height) == (320, 180)
    assert 1 <= facts.duration <= 3


def test_a_part_that_blows_up_its_decoder_fails_in_the_box_not_this_process(
    tmp_path: Path, box: MediaBox
) -> None:
    """Four tracks declaring 88 million samples each: FFmpeg indexes them all (GiBs in
    the process that probes it). Probed through the box, the call ends at the worker's
    cap with a media code; this process's peak is unchanged."""
    bomb = sample_count_bomb(tmp_path / "bomb.mp4", tracks=4)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    with pytest.raises(FerrymanError) as failed:
        video_facts(_part(bomb), box)
    assert failed.value.code.startswith("media.")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown < 256 * 1024, f"this process grew {grown} KiB"


def test_the_documents_thumbnail_is_fitted_in_the_box(tmp_path: Path, box: MediaBox) -> None:
    chosen = make_photo(tmp_path / "chosen.jpg", 4, size=(1600, 900))
    fitted = fitted_thumb(chosen, box)
    assert fitted is not None and fitted.parent != tmp_path
    limits = ThumbLimits()
    with Image.open(fitted) as picture:
        assert picture.format == "JPEG" and max(picture.size) <= limits.max_side
    assert fitted.stat().st_size <= limits.max_bytes
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not a picture")
    assert fitted_thumb(broken, box) is None
    assert fitted_thumb(tmp_path / "gone.jpg", box) is None
