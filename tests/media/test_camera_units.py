"""Each kind of real camera's file, one at a time and fast (issue 56, item 5); the
whole engine's run of them is ``test_camera_files``."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ferryman.errors import FerrymanError
from ferryman.media import apng
from ferryman.media.classify import classify, classify_entry
from ferryman.media.heif_boxes import parse_header
from ferryman.media.probe import probe, probe_image
from ferryman.media.remux import remux_to_mp4
from ferryman.media.segment_plan import EncodeSettings, output_format
from ferryman.media.split import split_at_keyframes
from ferryman.media.thumbnail import video_attributes
from ferryman.model import MediaKind
from tests.support.camera_files import (
    broken_apngs,
    dv_file,
    heif_images,
    jpeg_xl,
    video_with_pixel_shape,
    with_claimed_size,
    with_container_shape,
    with_entity_group,
)

SHOTS = [(220, 30, 30), (30, 160, 40), (30, 60, 220)]


def test_a_heif_burst_is_photos_and_a_stereo_pair_its_primary_view(tmp_path: Path) -> None:
    images = [Image.new("RGB", (64, 48), c) for c in SHOTS]
    burst = probe_image(heif_images(tmp_path / "burst.heic", images))
    assert (burst.frames, burst.pages) == (1, 3)
    pair = heif_images(tmp_path / "spatial.heic", images[:2])
    spatial = probe_image(with_entity_group(pair, b"ster", [1, 2]))
    assert (spatial.frames, spatial.pages) == (1, None)
    assert parse_header(pair.read_bytes()).one_scene


def test_the_animation_child_reads_heif_too(tmp_path: Path) -> None:
    """A fresh interpreter (as a spawned child is) opens a HEIF in the converter."""
    src = heif_images(tmp_path / "a.heic", [Image.new("RGB", (64, 48), c) for c in SHOTS])
    code = (
        "import sys; from pathlib import Path;"
        "from ferryman.media.animation import animation_to_mp4;"
        "animation_to_mp4(Path(sys.argv[1]), Path(sys.argv[2]))"
    )
    out = tmp_path / "a.mp4"
    subprocess.run([sys.executable, "-c", code, str(src), str(out)], check=True, timeout=120)
    assert probe(out).video_codec == "h264"


@pytest.mark.parametrize("codec", ["libvpx-vp9", "libx264"])
def test_non_square_pixels_are_kept_as_displayed(tmp_path: Path, codec: str) -> None:
    src = video_with_pixel_shape(tmp_path / "v.mp4", codec, Fraction(64, 45))
    info = probe(src)
    assert (info.width, info.height) == (1024, 576)  # as shown
    assert (info.coded_width, info.coded_height) == (720, 576)
    attributes = video_attributes(replace(info, duration=info.duration or 1.0))
    assert (attributes.width, attributes.height) == (1024, 576)  # Telegram's w/h
    assert output_format(src, EncodeSettings(max_height=1080)).size == (1024, 576)


def test_a_remux_and_a_split_keep_the_shape_the_container_says(tmp_path: Path) -> None:
    """The stream says 64:45, the container 16:15: shown 768 x 576 (FFmpeg, players);
    a copy of the codec's parameters alone came out 1024 x 576."""
    keyframes = {"g": "5", "keyint_min": "5", "sc_threshold": "0"}
    src = video_with_pixel_shape(
        tmp_path / "v.mp4", "libx264", Fraction(64, 45), frames=90, options=keyframes
    )
    with_container_shape(src, Fraction(16, 15))
    assert (probe(src).width, probe(src).height) == (768, 576)
    remux_to_mp4(src, tmp_path / "remuxed.mp4")
    assert (probe(tmp_path / "remuxed.mp4").width, probe(tmp_path / "remuxed.mp4").height) == (
        768,
        576,
    )
    parts = split_at_keyframes(src, tmp_path, "part", src.stat().st_size * 2 // 3)
    assert len(parts) > 1
    for part in parts:
        assert (probe(part).width, probe(part).height) == (768, 576)


def test_dv_is_a_video_by_its_bytes(tmp_path: Path) -> None:
    head = dv_file(tmp_path / "tape.bin").read_bytes()[:4096]
    assert classify_entry(head, "tape.bin") is MediaKind.VIDEO
    assert classify_entry(head, "tape.dv") is MediaKind.VIDEO
    assert classify_entry(bytes(range(256)) * 16, "blob.bin") is MediaKind.OTHER


def test_an_avif_over_its_decoders_limit_is_too_many_pixels(tmp_path: Path) -> None:
    avif = tmp_path / "huge.avif"
    Image.new("RGB", (64, 64), (10, 200, 90)).save(avif)
    with_claimed_size(avif, 17000, 17000)
    for data in (None, avif.read_bytes()):
        with pytest.raises(FerrymanError) as caught:
            probe_image(avif, data)
        assert caught.value.code == "media.too_many_pixels"
        assert "17000x17000" in caught.value.message


def test_malformed_apngs_are_pictures_and_a_sound_one_an_animation(tmp_path: Path) -> None:
    for name, path in broken_apngs(tmp_path).items():
        assert probe_image(path).frames == 1, name
    good = tmp_path / "good.png"
    frames = [Image.new("RGB", (16, 16), c) for c in SHOTS]
    frames[0].save(good, save_all=True, append_images=frames[1:], duration=50)
    assert probe_image(good).frames == 2


def test_a_message_names_the_file_never_a_python_object(tmp_path: Path) -> None:
    path = tmp_path / "holiday.jpg"
    data = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    with pytest.raises(FerrymanError) as caught:
        probe_image(path, data)
    assert "object at 0x" not in caught.value.message
    assert "holiday.jpg" in caught.value.message


def test_jpeg_xl_is_a_photo_decoded_by_its_plugin(tmp_path: Path) -> None:
    src = jpeg_xl(tmp_path / "shot.jxl")
    assert classify(src.read_bytes()[:4096], "shot.bin") is MediaKind.PHOTO
    info = probe_image(src)
    assert (info.container, info.width, info.height) == ("jxl", 320, 240)


@pytest.mark.parametrize(
    ("options", "outcome"),
    [
        ("MediaOptions(TELEGRAM)", "SKIPPED|None"),
        # a library asked for media alone (no send_documents) is a backup all the same
        ("MediaOptions(LIBRARY, keeps_undecoded=True)", "READY|DOCUMENT"),
    ],
)
def test_jpeg_xl_without_its_plugin_is_skipped_with_the_true_reason(
    tmp_path: Path, options: str, outcome: str
) -> None:
    """In a fresh interpreter where the plugin cannot be imported (as on Termux): skipped,
    except by a backup, which keeps it as it is, the true reason said either way."""
    src = jpeg_xl(tmp_path / "shot.jxl")
    code = (
        "import sys; sys.modules['pillow_jxl'] = None\n"
        "from pathlib import Path\n"
        "from ferryman.engine.read.prepare import prepare\n"
        "from ferryman.engine.read.stage import Staged\n"
        "from ferryman.engine.plumbing.media_options import MediaOptions\n"
        "from ferryman.media.policy import LIBRARY, TELEGRAM\n"
        "from ferryman.model import MediaKind\n"
        "path = Path(sys.argv[1])\n"
        "staged = Staged(path, path.stat().st_size, 'x', MediaKind.PHOTO)\n"
        f"done = prepare(staged, False, {options})\n"
        "print(done.state.name, done.plan and done.plan.name, done.reason, sep='|')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(src)], capture_output=True, text=True, timeout=120
    )
    state, plan, reason = run.stdout.strip().split("|")
    assert f"{state}|{plan}" == outcome, run.stderr
    assert reason.startswith("media.no_decoder: a JPEG XL picture")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=600))
def test_the_heif_header_reader_is_total(data: bytes) -> None:
    header = parse_header(struct.pack(">I4sI", 12 + len(data), b"meta", 0) + data)
    assert isinstance(header.one_scene, bool)
    parse_header(data)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=600))
def test_the_apng_check_is_total(data: bytes) -> None:
    assert isinstance(apng.playable(io.BytesIO(b"\x89PNG\r\n\x1a\n" + data)), bool)
    assert isinstance(apng.playable(io.BytesIO(data)), bool)
