"""Previews of delivered results (``media.preview``) and how the results store lists
them with each file's kind and duration (``web.results``), on real pictures and videos
made by Pillow and PyAV."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from PIL import Image

from ferryman.errors import FerrymanError
from ferryman.media.preview import PREVIEW_SIDE, make_preview
from ferryman.model import MediaKind
from ferryman.samples import make_photo, make_video
from ferryman.sinks.library import MANIFEST
from ferryman.web.results import LocalResults
from tests.support.image_corpus import exif


def _shown(data: bytes | None) -> Image.Image:
    assert data is not None
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    return image


def test_a_photo_turned_by_exif_gets_an_upright_preview_of_320_px(tmp_path: Path) -> None:
    wide = make_photo(tmp_path / "wide.jpg", 3, size=(1600, 1200))
    turned = tmp_path / "turned.jpg"
    Image.open(wide).save(turned, "JPEG", exif=exif(6))  # stored wide, shown tall
    image = _shown(make_preview(turned, MediaKind.PHOTO))
    assert image.size == (240, PREVIEW_SIDE)
    assert len(make_preview(turned, MediaKind.PHOTO) or b"") < 30_000


@pytest.mark.parametrize("mode", ["CMYK", "RGBA", "I;16", "P"])
def test_a_photo_in_any_mode_gets_a_preview(tmp_path: Path, mode: str) -> None:
    source = Image.open(make_photo(tmp_path / "p.png", 1, size=(640, 480), fmt="PNG"))
    path = tmp_path / ("p.tif" if mode in ("CMYK", "I;16") else "p.png")
    source.convert(mode).save(path)
    image = _shown(make_preview(path, MediaKind.PHOTO))
    assert max(image.size) == PREVIEW_SIDE


def test_an_iphone_heic_photo_gets_a_preview(tmp_path: Path) -> None:
    import pillow_heif

    source = Image.open(make_photo(tmp_path / "p.jpg", 2, size=(1024, 768)))
    pillow_heif.from_pillow(source).save(tmp_path / "IMG_0001.HEIC", quality=80)
    image = _shown(make_preview(tmp_path / "IMG_0001.HEIC", MediaKind.PHOTO))
    assert image.size == (PREVIEW_SIDE, 240)


def test_a_video_preview_is_its_prepared_thumbnail_or_a_frame_made_now(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "clip.mp4", 5, seconds=3.0, size=(480, 270))
    made = _shown(make_preview(clip, MediaKind.VIDEO))
    assert made.size == (PREVIEW_SIDE, 180)
    thumb = tmp_path / "clip.thumb.jpg"
    Image.new("RGB", (200, 100), "red").save(thumb)
    reused = _shown(make_preview(clip, MediaKind.VIDEO, thumb)).convert("RGB")
    assert reused.size == (200, 100) and reused.getpixel((50, 50))[0] > 200


def test_no_preview_for_sound_or_a_broken_file_and_the_reason_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    assert make_preview(broken, MediaKind.AUDIO) is None
    with caplog.at_level(logging.WARNING):
        assert make_preview(broken, MediaKind.PHOTO) is None
        assert make_preview(broken, MediaKind.VIDEO) is None
    assert caplog.text.count("no preview for broken.jpg") == 2


def test_results_list_kind_duration_and_preview_from_the_manifest(tmp_path: Path) -> None:
    album = tmp_path / "results" / "job-7" / "0001"
    (album / ".thumbs").mkdir(parents=True)
    for name in ("a.jpg", "b.mp4", "c.part1.mp4", "c.part2.mp4", "d.m4a", "e.gif"):
        (album / name).write_bytes(b"x" * 10)
    (album / ".thumbs" / "a.jpg.webp").write_bytes(b"w")
    (album / ".thumbs" / "b.mp4.webp").write_bytes(b"w")
    items = [
        {"file": "a.jpg", "kind": "photo", "media": {"duration": None}},
        {"file": "b.mp4", "kind": "animation", "media": {"duration": 2.5}},
        {"file": "c.part1.mp4", "parts": ["c.part1.mp4", "c.part2.mp4"], "kind": "video",
         "media": {"duration": 700.0}},
        {"file": "d.m4a", "kind": "audio", "media": {"duration": 3.0}},
        {"file": "e.gif", "kind": "animation", "media": {"duration": 1.0}},
    ]  # fmt: skip
    (album / MANIFEST).write_text(json.dumps({"items": items}))
    results = LocalResults(tmp_path / "results")
    listed = {f.name: f for f in results.files_now(7)}
    assert list(listed) == ["a.jpg", "b.mp4", "c.part1.mp4", "c.part2.mp4", "d.m4a", "e.gif"]
    assert (listed["a.jpg"].kind, listed["a.jpg"].preview) == ("photo", "0001/.thumbs/a.jpg.webp")
    assert (listed["b.mp4"].kind, listed["b.mp4"].duration) == ("video", 2.5)
    assert listed["c.part2.mp4"].duration is None  # the whole video's, not this part's
    assert (listed["d.m4a"].kind, listed["d.m4a"].preview) == ("audio", None)
    assert listed["e.gif"].kind == "photo"  # shown in an <img>, not a <video>
    assert results.locate_now(7, "0001/.thumbs/a.jpg.webp").read_bytes() == b"w"
    with pytest.raises(FerrymanError):
        results.locate_now(7, "0001/.thumbs/../../job-8/x")


def test_results_without_a_manifest_guess_the_kind_from_the_name(tmp_path: Path) -> None:
    album = tmp_path / "results" / "job-2" / "0001"
    album.mkdir(parents=True)
    for name in ("a.png", "b.webm", "c.mp3", "d.pdf"):
        (album / name).write_bytes(b"x")
    kinds = [(f.name, f.kind) for f in LocalResults(tmp_path / "results").files_now(2)]
    assert kinds == [
        ("a.png", "photo"),
        ("b.webm", "video"),
        ("c.mp3", "audio"),
        ("d.pdf", "other"),
    ]


class _Recorded:
    """A decoder that runs each call in this process and notes its target: which decodes
    a sink or the page asks of the engine's confined workers."""

    def __init__(self) -> None:
        self.targets: list[str] = []

    def run(self, target: str, *args: object, limits: object, **kwargs: object) -> object:
        from ferryman.media.box.pool import resolve

        self.targets.append(target)
        return resolve(target)(*args, **kwargs)

    async def run_async(self, target: str, *args: object, limits: object, **kw: object) -> object:
        raise AssertionError("previews are made on a sink's or the page's thread")

    def close(self) -> None:
        return


def test_a_link_albums_previews_are_decoded_by_the_engines_confined_workers(
    tmp_path: Path,
) -> None:
    """The link sink decodes each delivered file for its tile through the Delivery's
    decoder (the engine's box), never in the engine itself."""
    from ferryman.model import Album, AlbumGroup, AlbumState, Item, ItemState, Job, JobState
    from ferryman.sinks.base import Delivery
    from ferryman.sinks.link import album_previews

    photo = make_photo(tmp_path / "a.jpg", 1, size=(640, 480))
    clip = make_video(tmp_path / "b.mp4", 2, seconds=1.0, size=(160, 90))
    job = Job(1, "x", "x", "link:", JobState.ACTIVE, 0, None, None, None, 0, True, 0.0, None)

    def item(seq: int, path: Path, kind: MediaKind) -> Item:
        return Item(seq, 1, seq, path.name, kind, ItemState.READY, path.stat().st_size,
                    None, str(path), None, None, None, 0, 1)  # fmt: skip

    items = [item(1, photo, MediaKind.PHOTO), item(2, clip, MediaKind.VIDEO)]
    album = Album(1, 1, 1, AlbumGroup.VISUAL, AlbumState.DELIVERING, 0, items)
    recorded = _Recorded()
    delivery = Delivery(job, album, "", decoder=recorded)  # type: ignore[arg-type]
    files = [(photo, "a.jpg"), (clip, "b.mp4")]
    shown = dict(album_previews(delivery, files))
    assert sorted(shown) == ["a.jpg", "b.mp4"]
    assert recorded.targets == ["ferryman.media.preview:make_preview"] * 2
    assert max(_shown(shown["a.jpg"]).size) == PREVIEW_SIDE


def test_a_video_that_blows_up_its_decoder_costs_its_tile_not_the_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An MP4 declaring 4 x 88 million samples (FFmpeg indexes them all: GiBs in the
    process that opens it): its preview, made in a confined worker, ends there (its
    allocations refused past the worker's cap): no tile, the reason logged, this
    process's peak unchanged, and the next file's preview still made."""
    import resource

    from ferryman.media.box.pool import MediaBox
    from ferryman.sinks.link import boxed_preview
    from tests.support.media_bombs import sample_count_bomb

    bomb = sample_count_bomb(tmp_path / "bomb.mp4", tracks=4)
    photo = make_photo(tmp_path / "a.jpg", 1, size=(640, 480))
    box = MediaBox(keep=1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    try:
        with caplog.at_level(logging.WARNING):
            assert boxed_preview(box, bomb, MediaKind.VIDEO) is None
        assert "no preview for bomb.mp4: [media." in caplog.text
        assert max(_shown(boxed_preview(box, photo, MediaKind.PHOTO)).size) == PREVIEW_SIDE
    finally:
        box.close()
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown < 256 * 1024, f"this process grew {grown} KiB"
