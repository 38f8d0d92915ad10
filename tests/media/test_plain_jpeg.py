"""A small plain JPEG is checked without Pillow's header parse (``probe._plain_jpeg``):
the same answer as Pillow's, the same faults found, everything else left to Pillow."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from ferryman.errors import FerrymanError
from ferryman.media import probe as probe_module
from ferryman.media.probe import probe_image


def jpeg(mode: str = "RGB", size: tuple[int, int] = (64, 48), **options: object) -> bytes:
    image = Image.new(mode, size, "white" if mode != "CMYK" else (0, 0, 0, 0))
    if mode != "CMYK":
        ImageDraw.Draw(image).ellipse((2, 2, size[0] - 3, size[1] - 3), fill="black")
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def no_pillow_open(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object, **kwargs: object) -> Image.Image:
        raise AssertionError("Pillow's Image.open was asked")

    monkeypatch.setattr(probe_module.Image, "open", refused)


@pytest.mark.parametrize(
    ("mode", "size", "options"),
    [
        ("RGB", (64, 48), {}),
        ("L", (64, 48), {}),
        ("RGB", (64, 48), {"progressive": True}),
        ("RGB", (5, 300), {}),
        ("RGB", (1000, 700), {"quality": 40}),
    ],
)
def test_a_plain_jpeg_is_read_as_pillow_reads_it_without_its_parse(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    size: tuple[int, int],
    options: dict[str, object],
) -> None:
    data = jpeg(mode, size, **options)
    path = tmp_path / "p.jpg"
    path.write_bytes(data)
    by_pillow = probe_image(path)  # no bytes given: Pillow's way
    no_pillow_open(monkeypatch)
    fast = probe_image(path, data)
    assert fast == by_pillow
    assert (fast.width, fast.height, fast.image_mode, fast.container) == (*size, mode, "jpeg")


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_a_cut_plain_jpeg_is_still_unreadable(tmp_path: Path, keep: float) -> None:
    data = jpeg(size=(320, 240), quality=95)
    cut = data[: int(len(data) * keep)]
    path = tmp_path / "cut.jpg"
    path.write_bytes(cut)
    assert probe_module._plain_jpeg(path, cut, None) is None  # left to Pillow
    with pytest.raises(FerrymanError) as caught:
        probe_image(path, cut)
    assert caught.value.code == "media.unreadable"


def test_what_is_not_plain_is_left_to_pillow(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = jpeg(exif=exif)
    assert probe_module._plain_jpeg(tmp_path / "r.jpg", rotated, None) is None
    info = probe_image(tmp_path / "r.jpg", rotated)
    assert (info.width, info.height, info.rotation) == (48, 64, 270)
    cmyk = jpeg("CMYK", (40, 40))
    assert probe_module._plain_jpeg(tmp_path / "c.jpg", cmyk, None) is None
    assert probe_image(tmp_path / "c.jpg", cmyk).image_mode == "CMYK"
    big = jpeg(size=(1500, 1000))
    assert probe_module._plain_jpeg(tmp_path / "b.jpg", big, None) is None
    assert probe_image(tmp_path / "b.jpg", big).width == 1500
    # a decode over the budget is Pillow's to refuse, with its words
    with pytest.raises(FerrymanError) as caught:
        probe_image(tmp_path / "p.jpg", jpeg(size=(800, 800)), max_bytes=100)
    assert caught.value.code == "media.over_budget"


_SEED = jpeg(size=(40, 24), quality=80)


@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(_SEED) - 1), st.integers(0, 255)), min_size=1, max_size=8
    ),
    cut=st.integers(2, len(_SEED)),
)
@settings(max_examples=150, deadline=None, derandomize=True)
def test_the_header_walk_is_total_and_agrees_with_pillow(
    edits: list[tuple[int, int]], cut: int
) -> None:
    """Bytes from anywhere: a damaged plain JPEG is either answered as Pillow reads it
    or left to Pillow, never a crash or a size Pillow would not give."""
    damaged = bytearray(_SEED[:cut])
    for at, value in edits:
        if at < len(damaged):
            damaged[at] = value
    data = bytes(damaged)
    found = probe_module._plain_jpeg(Path("x.jpg"), data, None)
    if found is None:
        return
    with Image.open(io.BytesIO(data)) as image:
        assert (found.width, found.height) == image.size
        assert found.image_mode == image.mode


@given(data=st.binary(max_size=300).map(lambda tail: b"\xff\xd8" + tail))
@settings(max_examples=150, deadline=None, derandomize=True)
def test_the_header_walk_takes_any_bytes(data: bytes) -> None:
    found = probe_module._plain_jpeg(Path("x.jpg"), data, 1 << 20)
    assert found is None or (found.width > 0 and found.height > 0)
