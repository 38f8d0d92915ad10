"""Files as real phones, cameras and other people's encoders make them, through the
whole engine under Telegram's policy (issue 56, item 5): every image of a multi-image
HEIF a photo, the displayed shape kept, a DV file a video, a picture over the limits
a document whatever its format, a malformed APNG its first frame."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from PIL import Image

from ferryman.engine.ops import intake
from ferryman.media.plan import explain
from ferryman.media.policy import TELEGRAM
from ferryman.media.probe import probe, probe_image
from ferryman.model import ItemState, MediaKind, Plan
from ferryman.samples import make_zip
from ferryman.store import Store
from tests.media.test_media_engine import telegram_settings
from tests.support.camera_files import (
    broken_apngs,
    dv_file,
    heif_images,
    jpeg_xl,
    video_with_pixel_shape,
    with_claimed_size,
    with_entity_group,
)
from tests.support.engine_helpers import library_files, run_until_idle

COLOURS = [(220, 30, 30), (30, 160, 40), (30, 60, 220)]


def camera_sources(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    shots = [Image.new("RGB", (320, 240), colour) for colour in COLOURS]
    left, right = (Image.new("RGB", (320, 240), c) for c in COLOURS[:2])
    spatial = heif_images(root / "spatial.heic", [left, right])
    translucent = [Image.new("RGBA", (200, 150), (*c, 120)) for c in COLOURS[:2]]
    avif = root / "huge.avif"
    Image.new("RGB", (64, 64), (10, 200, 90)).save(avif)
    return {
        "burst.heic": heif_images(root / "burst.heic", shots),
        "spatial.heic": with_entity_group(spatial, b"ster", [1, 2]),
        "alpha_pair.heif": heif_images(root / "alpha_pair.heif", translucent),
        "anamorphic.mp4": video_with_pixel_shape(
            root / "anamorphic.mp4", "libvpx-vp9", Fraction(64, 45)
        ),
        "camcorder.dv": dv_file(root / "camcorder.dv"),
        "huge.avif": with_claimed_size(avif, 17000, 17000),
        "photo.jxl": jpeg_xl(root / "photo.jxl"),
        **broken_apngs(root),
    }


@pytest.mark.slow
async def test_real_cameras_files_arrive_as_what_they_show(tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path)
    store = await Store.open(settings.database)
    files = camera_sources(tmp_path / "in")
    archive = make_zip(tmp_path / "camera.zip", list(files.items()))
    job = await intake.add_source(store, archive)
    await run_until_idle(store, settings, limit=150)

    items = {it.source_path: it for it in await store.job_items(job.id)}
    for name, item in items.items():
        assert item.state is ItemState.DELIVERED, (name, item.state, item.error_message)
    arrived: dict[str, list[Path]] = {}
    for entry in library_files(settings.library):
        album = Path(entry["album_dir"])
        names = entry["parts"] or [entry["file"]]
        arrived[entry["source_path"]] = [album / name for name in names]

    # A burst: every image a photo, in order; with alpha too (laid on white).
    burst = arrived["burst.heic"]
    assert len(burst) == 3
    for path, colour in zip(burst, COLOURS, strict=True):
        assert _photo_ok(path)
        with Image.open(path) as image:
            assert _near(image.convert("RGB").getpixel((160, 120)), colour)
    assert len(arrived["alpha_pair.heif"]) == 2
    assert all(_photo_ok(path) for path in arrived["alpha_pair.heif"])
    # A stereo pair (a spatial photo) is one photo: its primary (left) view.
    (spatial,) = arrived["spatial.heic"]
    with Image.open(spatial) as image:
        assert _near(image.convert("RGB").getpixel((160, 120)), COLOURS[0])
    assert items["spatial.heic"].kind is MediaKind.PHOTO

    # Non-square pixels: 720 x 576 of 64:45 shows 1024 x 576, and so does the output.
    shaped = probe(arrived["anamorphic.mp4"][0])
    assert explain(MediaKind.VIDEO, shaped, TELEGRAM)[0] is Plan.AS_IS
    assert shaped.width is not None and shaped.height is not None
    assert abs(shaped.width / shaped.height - 16 / 9) < 0.01, (shaped.width, shaped.height)
    assert items["anamorphic.mp4"].media is not None
    assert (items["anamorphic.mp4"].media.width, items["anamorphic.mp4"].media.height) == (
        shaped.width,
        shaped.height,
    )

    # DV is a video (by its bytes: FFmpeg reads it), transcoded to play inline, 4:3.
    dv = items["camcorder.dv"]
    assert (dv.kind, dv.plan) == (MediaKind.VIDEO, Plan.TRANSCODE)
    played = probe(arrived["camcorder.dv"][0])
    assert played.width is not None and played.height is not None
    assert abs(played.width / played.height - 4 / 3) < 0.01

    # Over the limits: a document, as a HEIC would be, not quarantined as unreadable.
    huge = items["huge.avif"]
    assert huge.plan is Plan.DOCUMENT and (huge.reason or "").startswith("media.too_many_pixels")

    # JPEG XL, decoded by its Pillow plugin: a photo, as a JPEG.
    (jxl,) = arrived["photo.jxl"]
    assert items["photo.jxl"].plan is Plan.IMAGE and jxl.suffix == ".jpg"
    assert _photo_ok(jxl)

    # Malformed APNGs Pillow opens: each arrives as its first frame, a photo.
    for name in ("sequence_gap.png", "no_fdat.png", "num_frames_high.png", "frame_too_wide.png"):
        assert items[name].kind is MediaKind.PHOTO, name
        (first,) = arrived[name]
        with Image.open(first) as image:
            assert _near(image.convert("RGB").getpixel((10, 10)), (255, 0, 0)), name
    await store.close()


def _photo_ok(path: Path) -> bool:
    return explain(MediaKind.PHOTO, probe_image(path), TELEGRAM)[0] is Plan.AS_IS


def _near(pixel: object, colour: tuple[int, int, int], within: int = 40) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(a - b) <= within for a, b in zip(pixel, colour, strict=False))
