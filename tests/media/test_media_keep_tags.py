"""A converted video keeps the date and place it was recorded (photo libraries sort and
map videos by them); before, every remux and transcode wrote a fresh header."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from ferryman.media.audio import transcode_audio_only
from ferryman.media.remux import remux_to_mp4
from tests.media.test_media_convert import transcode_to_mp4
from tests.media.test_media_probe_plan import write_video

WHEN = "2023-07-14T10:20:30.000000Z"
WHERE = "+48.8584+002.2945/"


def tagged(path: Path, **write: object) -> Path:
    """A clip whose container says when and where it was recorded, as a phone's does."""
    plain = write_video(path.with_name(f"plain-{path.name}"), **write)  # type: ignore[arg-type]
    with av.open(str(plain)) as inp, av.open(str(path), "w") as out:
        out.metadata.update({"creation_time": WHEN, "location": WHERE, "encoder": "camera"})
        copies = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is None:
                continue
            packet.stream = copies[packet.stream.index]
            out.mux(packet)
    return path


def recorded(path: Path) -> dict[str, str]:
    with av.open(str(path)) as container:
        tags = {k.lower(): v for k, v in container.metadata.items()}
    return {k: tags[k] for k in ("creation_time", "location") if k in tags}


@pytest.mark.parametrize(
    ("name", "write", "convert"),
    [
        ("remux.mov", {}, remux_to_mp4),
        ("audio.mkv", {"acodec": "ac3"}, transcode_audio_only),
        ("full.mkv", {"vcodec": "mpeg4"}, transcode_to_mp4),
    ],
    ids=["remux", "audio_transcode", "transcode"],
)
def test_a_converted_video_keeps_when_and_where_it_was_recorded(
    tmp_path: Path, name: str, write: dict[str, object], convert: object
) -> None:
    src = tagged(tmp_path / name, **write)
    assert recorded(src)["creation_time"] == WHEN  # the clip says it, as a phone's does
    dst = tmp_path / "out.mp4"
    convert(src, dst)  # type: ignore[operator]
    assert recorded(dst) == {"creation_time": WHEN, "location": WHERE}
    with av.open(str(dst)) as out:
        assert out.metadata.get("encoder") != "camera"  # the writer's own name, not kept
