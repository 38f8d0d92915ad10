"""ferryman's own FFmpeg (the binary of ``media.ffmpeg_binary``, PyAV's libraries) opens
files and pipes only: a downloaded file that is an HLS playlist naming a machine inside
(its segments, its key) makes no connection past the egress guard (issue 56, item 2).
FFmpeg's default for a file input already holds this; the binary is also told so."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg
import pytest

from ferryman.errors import FerrymanError
from ferryman.media import ffmpeg_binary
from ferryman.media.probe import probe
from tests.support.httpserve import FaultServer, serving

pytestmark = pytest.mark.slow


@pytest.fixture
def inside() -> Iterator[FaultServer]:
    with serving(host="127.0.0.2") as server:
        server.add("/seg0.ts", b"G" * 188 * 8, content_type="video/mp2t")
        server.add("/key", bytes(16), content_type="application/octet-stream")
        yield server


def _playlist(folder: Path, name: str, inside: FaultServer) -> Path:
    path = folder / name
    path.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
        f'#EXT-X-KEY:METHOD=AES-128,URI="{inside.url("/key")}"\n'
        f"#EXTINF:1.0,\n{inside.url('/seg0.ts')}\n#EXT-X-ENDLIST\n"
    )
    return path


@pytest.mark.parametrize("name", ["sound.m3u8", "picture.ts"])
def test_a_playlist_given_to_ffmpeg_reaches_nothing(
    name: str, inside: FaultServer, tmp_path: Path
) -> None:
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    playlist = _playlist(tmp_path, name, inside)
    with pytest.raises(FerrymanError, match="convert_failed"):
        ffmpeg_binary.encode_audio(
            ffmpeg, playlist, tmp_path / "out.mp3", "mp3", 128, {}, None, lambda _f: None
        )
    with pytest.raises(FerrymanError, match="convert_failed"):
        ffmpeg_binary.join_copy(
            ffmpeg, playlist, playlist, tmp_path / "out.mp4", True, {}, None, lambda _f: None
        )
    encoder = ffmpeg_binary.streaming_encode(
        ffmpeg, tmp_path / "fed.mp3", "mp3", 128, {}, None, lambda _f: None, tmp_path / "log"
    )
    done = threading.Event()
    done.set()
    encoder.feed(playlist, playlist, done)
    with pytest.raises(FerrymanError):
        encoder.finish()
    with pytest.raises(FerrymanError):
        probe(playlist)
    assert sum(inside.served.values()) == 0, inside.served


def test_the_binary_is_told_to_open_files_and_pipes_only(tmp_path: Path) -> None:
    """Every input of every command: an older or other build on PATH holds it too."""
    commands = [
        ffmpeg_binary._command("ffmpeg", ["-i", "pipe:0"], tmp_path / "o", "mp3", 128, {}),
        ffmpeg_binary._join_command(
            "ffmpeg", ["-i", "a"], tmp_path / "b", tmp_path / "o", True, {}
        ),
    ]
    for cmd in commands:
        inputs = [n for n, word in enumerate(cmd) if word == "-i"]
        assert inputs
        for n in inputs:
            assert cmd[n - 2 : n] == ["-protocol_whitelist", "file,pipe"], cmd
