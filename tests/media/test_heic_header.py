"""An iPhone's HEIC probed in the engine from its boxes alone (``media.heic_header``):
the same answer as the box's Pillow probe (pillow-heif, libheif), no call to a decoding
worker, and a parse that is total (any bytes: an answer or None, never an exception)
and bounded. Real HEICs made by pillow-heif (x265): turned and mirrored (``irot``,
``imir``), cropped (``clap``), a grid of tiles as an iPhone writes, with EXIF dates."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pillow_heif
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from ferryman.engine.plumbing import decoding
from ferryman.engine.plumbing.media_options import MediaOptions
from ferryman.media.heic_header import HeicHeader, probe_header, read_header
from ferryman.media.openers import ensure_openers
from ferryman.media.policy import TELEGRAM
from ferryman.media.probe import probe_image
from tests.media.test_jpeg_header import _Refused


@contextmanager
def _tiles(size: int) -> Iterator[None]:
    """pillow-heif writes pictures larger than ``size`` as a grid of tiles (0: one)."""
    before = pillow_heif.options.GRID_TILE_SIZE
    pillow_heif.options.GRID_TILE_SIZE = size
    try:
        yield
    finally:
        pillow_heif.options.GRID_TILE_SIZE = before


def heic(
    size: tuple[int, int] = (64, 48),
    orientation: int | None = None,
    taken: str | None = None,
    *,
    mode: str = "RGB",
    tile: int = 0,
) -> bytes:
    image = Image.new(mode, size, "white" if mode != "RGBA" else (255, 255, 255, 90))
    if min(size) > 3:
        ImageDraw.Draw(image).ellipse((1, 1, size[0] - 2, size[1] - 2), fill="black")
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken
        exif[0x0132] = "2001:01:01 00:00:00"
    out = io.BytesIO()
    with _tiles(tile):
        extra = {"exif": exif.tobytes()} if len(exif) else {}
        pillow_heif.from_pillow(image).save(out, quality=40, **extra)
    return out.getvalue()


def _both(path: Path) -> tuple[object, object]:
    """(the engine's answer, the box's Pillow probe's)."""
    media = MediaOptions(TELEGRAM, decoder=_Refused())  # type: ignore[arg-type]
    in_engine = decoding.probe_image(media, path, path.stat().st_size, 1 << 30)
    return in_engine, probe_image(path, None, 1 << 30)


CASES = [
    ((64, 48), None, None, 0),
    ((320, 240), 6, "2024:07:01 12:34:56", 0),
    ((61, 37), 8, None, 0),  # odd sides: a crop (clap) of the coded picture
    ((40, 30), 2, None, 0),  # mirrored (imir)
    ((40, 30), 5, "2019:02:03 04:05:06", 0),
    ((40, 30), 3, "0000:00:00 00:00:00", 0),
    ((700, 500), 6, "2023:12:24 18:00:00", 256),  # a grid of 256 px tiles, as an iPhone's
]


@pytest.mark.parametrize(("size", "orientation", "taken", "tile"), CASES)
def test_a_heic_is_probed_in_the_engine_as_the_box_probes_it(
    tmp_path: Path,
    size: tuple[int, int],
    orientation: int | None,
    taken: str | None,
    tile: int,
) -> None:
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(heic(size, orientation, taken, tile=tile))
    in_engine, by_pillow = _both(path)  # the engine's asks no decoder (_Refused)
    assert in_engine == by_pillow


@given(
    width=st.integers(1, 300),
    height=st.integers(1, 300),
    orientation=st.sampled_from([None, 1, 2, 3, 4, 5, 6, 7, 8]),
    taken=st.sampled_from([None, "2024:07:01 12:34:56", "1999:12:31 23:59:59", ""]),
    tile=st.sampled_from([0, 64, 128]),
)
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_any_plain_heic_is_answered_in_the_engine_as_the_box_answers(
    tmp_path: Path,
    width: int,
    height: int,
    orientation: int | None,
    taken: str | None,
    tile: int,
) -> None:
    path = tmp_path / "p.heic"
    path.write_bytes(heic((width, height), orientation, taken, tile=tile))
    found = probe_header(path, None, None)
    by_pillow = probe_image(path, None, 1 << 30)
    assert found is None or found == by_pillow
    if tile == 0 or (width <= tile and height <= tile):
        assert found is not None, (width, height, orientation, taken)  # one coded picture


def test_what_is_not_a_plain_heic_goes_to_the_box(tmp_path: Path) -> None:
    ensure_openers()
    made = {
        "alpha": heic(mode="RGBA"),
        "grey": heic(mode="L"),
        "cut": heic((120, 90), 6, "2024:07:01 12:34:56")[:-40],
        "trailer": heic() + b"\x00" * 7,  # bytes after the last box
    }
    burst = pillow_heif.from_pillow(Image.new("RGB", (64, 48), "red"))
    burst.add_from_pillow(Image.new("RGB", (32, 24), "blue"))
    out = io.BytesIO()
    burst.save(out, quality=40)
    made["burst"] = out.getvalue()  # two pictures shown: the box counts pages
    for name, data in made.items():
        path = tmp_path / f"{name}.heic"
        path.write_bytes(data)
        assert probe_header(path, None, None) is None, name
    big = tmp_path / "big.heic"
    big.write_bytes(heic((400, 300)))
    assert probe_header(big, 100_000, None) is None  # over the pixel limit
    assert probe_header(big, None, 1000) is None  # over the decode budget
    assert probe_header(big, None, None) is not None


_SEED = heic((48, 32), 6, "2024:07:01 12:34:56")
_HEADER_END = _SEED.index(b"mdat")


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
    """A real HEIC's boxes damaged anywhere, or cut anywhere: an answer of positive
    sides within the bound, or None; never an exception."""
    damaged = bytearray(_SEED[:cut])
    for at, value in edits:
        if at < len(damaged):
            damaged[at] = value
    found = read_header(bytes(damaged))
    assert found is None or isinstance(found, HeicHeader)
    if found is not None:
        assert 0 < found.width <= 16384 and 0 < found.height <= 16384


@given(cut=st.integers(1, len(_SEED) - 1))
@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_a_cut_heic_is_never_answered_in_the_engine(
    cut: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Cut anywhere (a download stopped short), the engine answers nothing: the box,
    which decodes it, says it is unreadable."""
    folder = tmp_path_factory.mktemp("cut")
    path = folder / "p.heic"
    path.write_bytes(_SEED[:cut])
    assert probe_header(path, None, None) is None


@given(data=st.binary(max_size=2000))
@settings(max_examples=400, deadline=None, derandomize=True)
def test_the_header_parse_takes_any_bytes(data: bytes) -> None:
    for candidate in (data, _SEED[:40] + data, b"\x00\x00\x00\x18ftypheic" + data):
        found = read_header(candidate)
        assert found is None or (found.width > 0 and found.height > 0)


def test_the_header_parse_reads_no_more_than_its_bound() -> None:
    """Thousands of empty boxes inside ``meta``: the walk stops at ``MAX_BOXES``."""
    meta_body = b"\x00\x00\x00\x00" + b"\x00\x00\x00\x08free" * 100_000
    meta = (8 + len(meta_body)).to_bytes(4, "big") + b"meta" + meta_body
    assert read_header(_SEED[:28] + meta) is None
