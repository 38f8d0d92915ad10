"""``media.declared``: an MP4 whose tables declare more than its bytes can hold is
refused before any decoder, real files of every kind pass, and the check is total
(Hypothesis mutates real MP4s and writes boxes of its own: it returns or refuses with
``media.declares_too_much``, never anything else).

Real parts: MP4, MOV, M4A and fragmented MP4 written by PyAV; bombs made from them by
patching their tables' counts (``tests/support/media_bombs``).
"""

from __future__ import annotations

import struct
from pathlib import Path

import av
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferryman.errors import ERRORS, FerrymanError
from ferryman.media.declared import CODE, check_declared
from ferryman.samples import make_video
from tests.support.media_bombs import sample_count_bomb

PIXELS = 150_000_000
TOTAL = settings(
    max_examples=300,
    derandomize=True,  # a fixed seed: the same examples every run
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _refused(path: Path) -> FerrymanError:
    with pytest.raises(FerrymanError) as caught:
        check_declared(path, PIXELS)
    assert caught.value.code == CODE
    assert ERRORS[CODE].next_step
    return caught.value


def _fragmented(path: Path) -> Path:
    """An MP4 of fragments (``moof``/``trun``), as live recorders and DASH write."""
    with av.open(str(path), "w", options={"movflags": "frag_keyframe+empty_moov"}) as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"g": "5"}
        for n in range(20):
            frame = av.VideoFrame(64, 48, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([n * 10 % 256]) * plane.buffer_size)
            frame.pts = n
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


@pytest.mark.parametrize("name", ["a.mp4", "b.mov", "c.mp4-end", "d.m4v"])
def test_real_files_pass(tmp_path: Path, name: str) -> None:
    suffix = name.split(".")[1]
    path = tmp_path / name.replace("-end", "")
    made = make_video(
        path,
        3,
        seconds=1.0,
        container="mp4" if suffix == "m4v" else None,
        faststart=suffix != "mp4-end",
    )
    check_declared(made, PIXELS)


def test_a_fragmented_mp4_passes(tmp_path: Path) -> None:
    check_declared(_fragmented(tmp_path / "frag.mp4"), PIXELS)


def test_what_is_no_mp4_is_not_judged(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "c.mkv", 3, seconds=0.4)
    check_declared(clip, PIXELS)
    (tmp_path / "empty").write_bytes(b"")
    check_declared(tmp_path / "empty", PIXELS)


def test_88_million_samples_in_2_kb_are_refused(tmp_path: Path) -> None:
    refused = _refused(sample_count_bomb(tmp_path / "bomb.mp4"))
    assert "88,000,000 samples" in refused.message


def test_tracks_that_each_fit_but_not_together_are_refused(tmp_path: Path) -> None:
    """Thirty tracks each declaring a thirtieth... of twice the file: each could be, all
    of them cannot (their samples would share the same bytes)."""
    probe = sample_count_bomb(tmp_path / "size.mp4", tracks=30, samples=1)
    each = probe.stat().st_size // 15  # 30 tracks: twice the file's bytes
    bomb = sample_count_bomb(tmp_path / "bomb.mp4", tracks=30, samples=each)
    assert each <= bomb.stat().st_size
    refused = _refused(bomb)
    assert "30 tracks" in refused.message


def test_a_table_longer_than_its_box_is_refused(tmp_path: Path) -> None:
    data = bytearray(make_video(tmp_path / "c.mp4", 3, seconds=0.4).read_bytes())
    stco = data.index(b"stco")
    struct.pack_into(">I", data, stco + 8, 50_000_000)  # its entry count
    (tmp_path / "bomb.mp4").write_bytes(data)
    assert "stco lists 50,000,000 entries" in _refused(tmp_path / "bomb.mp4").message


def test_a_video_of_gigapixels_is_refused(tmp_path: Path) -> None:
    data = bytearray(make_video(tmp_path / "c.mp4", 3, seconds=0.4).read_bytes())
    avc1 = data.index(b"avc1", data.index(b"stsd"))  # the sample entry, not the brand
    struct.pack_into(">HH", data, avc1 + 4 + 24, 60000, 60000)  # width, height
    (tmp_path / "bomb.mp4").write_bytes(data)
    assert "60000 x 60000" in _refused(tmp_path / "bomb.mp4").message


@pytest.fixture(scope="module")
def real_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("mp4")
    return make_video(folder / "c.mp4", 3, seconds=0.4, size=(64, 48)).read_bytes()


@TOTAL
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=12))
def test_a_mutated_mp4_is_passed_or_refused_never_crashes(
    real_mp4: bytes, tmp_path: Path, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(real_mp4)
    for where, value in flips:
        data[where % len(data)] = value
    _judged(tmp_path / "m.mp4", bytes(data))


_BOX_TYPES = [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsz", b"stz2", b"stts", b"stco"]
_BOX_TYPES += [b"co64", b"ctts", b"stsc", b"stss", b"elst", b"edts", b"moof", b"traf", b"trun"]
_BOX_TYPES += [b"stsd", b"avc1", b"mdat", b"free"]


@st.composite
def _box(draw: st.DrawFn, depth: int = 0) -> bytes:
    kind = draw(st.sampled_from(_BOX_TYPES))
    if depth < 3 and draw(st.booleans()):
        body = b"".join(draw(st.lists(_box(depth + 1), max_size=3)))
    else:
        body = draw(st.binary(max_size=64))
    size = draw(st.sampled_from([8 + len(body), 0, 1, 7, 8, 2**32 - 1]))
    if size == 1:  # a 64-bit size follows
        return struct.pack(">I4sQ", 1, kind, draw(st.integers(0, 2**64 - 1))) + body
    return struct.pack(">I4s", size, kind) + body


@TOTAL
@given(st.lists(_box(), min_size=1, max_size=4))
def test_boxes_of_any_shape_are_passed_or_refused_never_crash(
    tmp_path: Path, boxes: list[bytes]
) -> None:
    _judged(tmp_path / "b.mp4", struct.pack(">I4s4s", 12, b"ftyp", b"isom") + b"".join(boxes))


def _judged(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        check_declared(path, PIXELS)
    except FerrymanError as exc:
        assert exc.code == CODE
