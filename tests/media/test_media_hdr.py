"""HDR video (10-bit HEVC, PQ or HLG, BT.2020) arrives as SDR BT.709 H.264 that looks like
the picture that was graded, not a grey wash. The clips are real HEVC made with PyAV's
libx265 from a known SDR picture, so the output can be compared with it."""

from __future__ import annotations

import math
import shutil
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image, ImageStat

from ferryman.media.hdr import _nits_to_pq, sdr_colour
from ferryman.media.plan import explain
from ferryman.media.policy import TELEGRAM
from ferryman.media.probe import probe
from ferryman.media.segmented import EncodeSettings, transcode_resumable
from ferryman.model import MediaKind, Plan
from tests.media.test_media_probe_plan import FPS, frame_image

SIZE = (192, 108)
# BT.709 → BT.2020 primaries, linear light (ITU-R BT.2087).
TO_2020 = ((0.6274, 0.3293, 0.0433), (0.0691, 0.9195, 0.0114), (0.0164, 0.0880, 0.8956))
TAGS = {"pq": 16, "hlg": 18}


def linear(code: float) -> float:
    """BT.709's transfer undone (scene light 0–1)."""
    return code / 4.5 if code < 0.081 else ((code + 0.099) / 1.099) ** (1 / 0.45)


def hlg_code(scene: float) -> float:
    """BT.2100's HLG OETF."""
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    return math.sqrt(3 * scene) if scene <= 1 / 12 else a * math.log(12 * scene - b) + c


def hdr_codes(light: list[float], transfer: str) -> list[float]:
    """BT.2020 linear light (SDR white = 1.0, shown at 203 nits as BT.2408 says) as
    PQ or HLG code values; HLG's display light is undone to scene light first (its
    OOTF: a 1000-nit screen, system gamma 1.2)."""
    nits = [203 * v for v in light]
    if transfer == "pq":
        return [_nits_to_pq(n) for n in nits]
    luma = 0.2627 * nits[0] + 0.6780 * nits[1] + 0.0593 * nits[2]
    scene_luma = (luma / 1000) ** (1 / 1.2)
    gain = 1000 * scene_luma**0.2 if luma > 0 else 1.0
    return [hlg_code(n / gain) for n in nits]


def graded(picture: Image.Image, transfer: str) -> Image.Image:
    """``picture`` as an HDR grade would hold it (BT.2020, PQ or HLG), 8-bit RGB codes."""
    table: dict[tuple[int, int, int], tuple[int, int, int]] = {}
    out = Image.new("RGB", picture.size)
    pixels = []
    width, height = picture.size
    for rgb in (picture.getpixel((x, y)) for y in range(height) for x in range(width)):
        assert isinstance(rgb, tuple)
        if rgb not in table:
            light = [linear(v / 255) for v in rgb]
            wide = [sum(m * v for m, v in zip(row, light, strict=True)) for row in TO_2020]
            codes = [round(v * 255) for v in hdr_codes(wide, transfer)]
            table[rgb] = (codes[0], codes[1], codes[2])
        pixels.append(table[rgb])
    out.putdata(pixels)
    return out


def write_hdr_clip(path: Path, transfer: str, picture: Image.Image) -> Path:
    tag = TAGS[transfer]
    params = "colorprim=bt2020:transfer={}:colormatrix=bt2020nc:range=limited:log-level=error"
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream(
            "libx265",
            rate=FPS,
            options={"x265-params": params.format("smpte2084" if tag == 16 else "arib-std-b67")},
        )
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p10le"
        ctx = stream.codec_context
        ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range = 9, tag, 9, 1
        rgb = av.VideoFrame.from_image(graded(picture, transfer)).reformat(format="gbrp16le")
        for i in range(10):
            frame = rgb.reformat(
                format="yuv420p10le", dst_colorspace="bt2020", dst_color_range="MPEG"
            )
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def looks(picture: Image.Image) -> tuple[float, float]:
    """Mean brightness (0–255 luma) and mean saturation (0–255, HSV)."""
    brightness = ImageStat.Stat(picture.convert("L")).mean[0]
    saturation = ImageStat.Stat(picture.convert("HSV")).mean[1]
    return brightness, saturation


@pytest.mark.parametrize("transfer", ["pq", "hlg"])
def test_hdr_is_tone_mapped_to_bt709_and_looks_like_its_grade(
    tmp_path: Path, transfer: str
) -> None:
    picture = frame_image(7, SIZE)
    src = write_hdr_clip(tmp_path / "hdr.mkv", transfer, picture)
    info = probe(src)
    assert (info.video_codec, info.pix_fmt) == ("hevc", "yuv420p10le")
    dst, work = tmp_path / "out.mp4", tmp_path / "parts"
    transcode_resumable(src, dst, work, EncodeSettings(crf=18))
    shutil.rmtree(work)

    assert explain(MediaKind.VIDEO, probe(dst), TELEGRAM)[0] is Plan.AS_IS
    with av.open(str(dst)) as out:
        ctx = out.streams.video[0].codec_context
        assert (ctx.color_primaries, ctx.color_trc, ctx.colorspace) == (1, 1, 1)  # BT.709
        assert ctx.color_range == 1  # limited, as H.264 players expect
        frame = next(out.decode(video=0))
    shown = frame.to_image()  # decoded with the BT.709 matrix the stream is tagged with
    brightness, saturation = looks(shown)
    want_brightness, want_saturation = looks(picture)
    # Highlights roll off (white at 203 nits comes out a little below SDR white), so
    # the picture may be slightly darker; colours keep their strength.
    assert 0.75 * want_brightness <= brightness <= 1.1 * want_brightness
    assert 0.75 * want_saturation <= saturation <= 1.25 * want_saturation


def test_the_mapping_keeps_greys_grey_and_rolls_off_highlights() -> None:
    greys = [sdr_colour((_nits_to_pq(n),) * 3, "pq") for n in (1, 37, 203, 1000, 10_000)]
    assert all(max(c) - min(c) < 1e-3 for c in greys)
    levels = [c[0] for c in greys]
    assert levels == sorted(levels)  # brighter stays brighter...
    assert levels[-2] == pytest.approx(1.0) and levels[-1] == pytest.approx(1.0)  # ...to white
    assert levels[1] == pytest.approx(0.41, abs=0.02)  # mid grey (18 % of 203 nits) kept
    assert sdr_colour((0.75, 0.75, 0.75), "hlg")[0] == pytest.approx(levels[2], abs=0.01)
