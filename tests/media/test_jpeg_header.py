"""A plain JPEG's probe in the engine, from its header alone (``media.jpeg_header``):
the same answer as the box's Pillow probe, no call to a decoding worker, and a parse
that is total (any bytes: an answer or None, never an exception) and bounded."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from ferryman.engine.plumbing import decoding
from ferryman.engine.plumbing.media_options import MediaOptions
from ferryman.media.jpeg_header import HEAD_BYTES, JpegHeader, probe_header, read_header
from ferryman.media.policy import TELEGRAM
from ferryman.media.probe import probe_image


def jpeg(
    mode: str = "RGB",
    size: tuple[int, int] = (64, 48),
    orientation: int | None = None,
    taken: str | None = None,
    **options: Any,
) -> bytes:
    image = Image.new(mode, size, "white" if mode != "CMYK" else (0, 0, 0, 0))
    if mode != "CMYK":
        ImageDraw.Draw(image).ellipse((2, 2, size[0] - 3, size[1] - 3), fill="black")
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken
        exif[0x0132] = "2001:01:01 00:00:00"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes() if len(exif) else b"", **options)
    return out.getvalue()


class _Refused:
    """A decoder that fails the test when asked: the probe must not cross to the box."""

    def run(self, target: str, *args: object, **kwargs: object) -> object:
        raise AssertionError(f"the box was asked: {target}")


CASES = [
    ("RGB", (64, 48), None, None, {}),
    ("L", (64, 48), None, None, {}),
    ("RGB", (64, 48), None, None, {"progressive": True}),
    ("RGB", (640, 480), 6, "2024:07:01 12:34:56", {}),
    ("RGB", (40, 30), 8, None, {}),
    ("RGB", (40, 30), 2, None, {}),
    ("RGB", (40, 30), 5, "2019:02:03 04:05:06", {}),
    ("RGB", (40, 30), 3, "0000:00:00 00:00:00", {}),
]


@pytest.mark.parametrize(("mode", "size", "orientation", "taken", "options"), CASES)
def test_a_plain_jpeg_is_probed_in_the_engine_as_the_box_probes_it(
    tmp_path: Path,
    mode: str,
    size: tuple[int, int],
    orientation: int | None,
    taken: str | None,
    options: dict[str, Any],
) -> None:
    path = tmp_path / "p.jpg"
    path.write_bytes(jpeg(mode, size, orientation, taken, **options))
    by_pillow = probe_image(path, None, 1 << 30)  # what the box's worker answers
    media = MediaOptions(TELEGRAM, decoder=_Refused())  # type: ignore[arg-type]
    in_engine = decoding.probe_image(media, path, path.stat().st_size, 1 << 30)
    assert in_engine == by_pillow


def test_what_is_not_a_plain_jpeg_goes_to_the_box(tmp_path: Path) -> None:
    cmyk = tmp_path / "cmyk.jpg"
    cmyk.write_bytes(jpeg("CMYK"))
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(jpeg(size=(300, 200))[:-100])  # no end marker: a cut file
    png = tmp_path / "p.png"
    Image.new("RGB", (8, 8)).save(png)
    big = tmp_path / "big.jpg"
    big.write_bytes(jpeg(size=(400, 300)))
    for path in (cmyk, cut, png):
        assert probe_header(path, None, None) is None, path.name
    assert probe_header(big, 100_000, None) is None  # over the pixel limit
    assert probe_header(big, None, 1000) is None  # over the decode budget
    assert probe_header(big, None, None) is not None


def test_a_photo_s_date_and_orientation_are_read(tmp_path: Path) -> None:
    found = read_header(jpeg(orientation=6, taken="2024:07:01 12:34:56"))
    assert found == JpegHeader(64, 48, "RGB", 6, datetime(2024, 7, 1, 12, 34, 56))


_SEED = jpeg(size=(32, 24), orientation=6, taken="2024:07:01 12:34:56")
_HEADER_END = _SEED.index(b"\xff\xda") + 2


@given(
    edits=st.lists(
        st.tuples(st.integers(0, _HEADER_END - 1), st.integers(0, 255)), min_size=1, max_size=12
    ),
    cut=st.integers(0, len(_SEED)),
)
@settings(max_examples=400, deadline=None, derandomize=True)
def test_the_header_parse_is_total_on_damaged_headers(
    edits: list[tuple[int, int]], cut: int
) -> None:
    """A real photo's header damaged anywhere (its EXIF too), or cut anywhere: an
    answer whose size Pillow would give, or None; never an exception."""
    damaged = bytearray(_SEED[:cut])
    for at, value in edits:
        if at < len(damaged):
            damaged[at] = value
    found = read_header(bytes(damaged))
    assert found is None or isinstance(found, JpegHeader)
    if found is not None:
        with Image.open(io.BytesIO(bytes(damaged))) as image:
            assert (found.width, found.height) == image.size


@given(data=st.binary(max_size=2000))
@settings(max_examples=400, deadline=None, derandomize=True)
def test_the_header_parse_takes_any_bytes(data: bytes) -> None:
    for candidate in (data, b"\xff\xd8" + data, b"\xff\xd8\xff\xe1" + data):
        found = read_header(candidate)
        assert found is None or (found.width > 0 and found.height > 0)


def test_the_header_parse_reads_no_more_than_its_bound() -> None:
    """Megabytes of markers: the walk stops within ``HEAD_BYTES`` (and MAX_MARKERS)."""
    comment = b"\xff\xfe\xff\xff" + b"x" * 0xFFFD
    huge = b"\xff\xd8" + comment * 100 + _SEED[2:]
    assert len(huge) > 4 * HEAD_BYTES
    assert read_header(huge) is None
