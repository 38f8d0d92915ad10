"""MP3 and Opus through an ffmpeg binary, when one is at hand: measured 3–4x faster
than the same encoders inside PyAV's wheel.

PyAV bundles FFmpeg's libraries, but its libmp3lame encodes five minutes of stereo in
about 8.5 s on this machine where a static ffmpeg build (imageio-ffmpeg's) takes 2.1 s
(``python -m bench links`` and ``docs/links.md``). So the link converter encodes MP3 and
Opus with a binary when ``links.ffmpeg`` finds one (``auto``: imageio-ffmpeg's, then
``ffmpeg`` on PATH, as Termux's ``pkg install ffmpeg`` gives) and with PyAV otherwise:
nothing beyond ferryman's own dependencies is ever required.

The binary runs as a child that dies with its parent (PR_SET_PDEATHSIG), reports its
progress on a pipe (``-progress``), and writes a file the caller then verifies.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from ferryman.errors import FerrymanError

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_ENCODERS = {"mp3": ("libmp3lame", "mp3"), "opus": ("libopus", "opus")}


def find_ffmpeg(setting: str) -> str | None:
    """The binary ``links.ffmpeg`` names: ``auto`` looks for one, ``off`` (or empty)
    wants none, anything else is a path (or a command on PATH)."""
    if setting in ("", "off", "none", "pyav"):
        return None
    if setting != "auto":
        return shutil.which(setting) or (setting if Path(setting).is_file() else None)
    try:
        import imageio_ffmpeg  # type: ignore[import-untyped]

        found = str(imageio_ffmpeg.get_ffmpeg_exe())
        if Path(found).is_file():
            return found
    except Exception:  # not installed, or a build without its binary (Termux)
        pass
    return shutil.which("ffmpeg")


def encode_audio(
    ffmpeg: str,
    src: Path,
    dst: Path,
    fmt: str,
    kbps: int,
    tags: dict[str, str],
    seconds: float | None,
    progress: Callable[[float], None],
) -> None:
    """Encode the first audio stream of ``src`` as ``fmt`` at ``kbps`` into ``dst``.

    Raises ``media.convert_failed`` with ffmpeg's last words; a partial ``dst`` goes."""
    codec, muxer = _ENCODERS[fmt]
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(src)]
    cmd += ["-map", "0:a:0", "-vn", "-c:a", codec, "-b:a", f"{kbps}k"]
    for key, value in tags.items():
        cmd += ["-metadata", f"{key}={value}"]
    cmd += ["-progress", "pipe:1", "-nostats", "-f", muxer, str(dst)]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_die_with_parent,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        key, _, value = line.strip().partition("=")
        if key == "out_time_us" and seconds and value.isdigit():
            progress(min(int(value) / 1e6 / seconds, 0.999))
    err = proc.stderr.read() if proc.stderr is not None else ""
    if proc.wait() != 0:
        dst.unlink(missing_ok=True)
        raise FerrymanError(
            "media.convert_failed", f"{src.name}: ffmpeg's {fmt} encode failed: {err[-300:]}"
        )
    progress(1.0)


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
