"""MP3 and Opus encodes and MP4 joins through an ffmpeg binary, when one is at hand:
several times faster than the same encoders inside PyAV's wheel, and a join (packets
copied, index moved to the front) faster than PyAV's.

PyAV bundles FFmpeg's libraries, but its libmp3lame encodes far slower than a static
ffmpeg build (imageio-ffmpeg's): ``python -m bench links``, bench/results/links.md.
So the link converter encodes MP3 and
Opus with a binary when ``links.ffmpeg`` finds one (``auto``: imageio-ffmpeg's, then
``ffmpeg`` on PATH, as Termux's ``pkg install ffmpeg`` gives) and with PyAV otherwise:
nothing beyond ferryman's own dependencies is ever required.

A join copies packets: the same work PyAV's join does in ``media.linkout``, without a
Python step per packet (about 23,000 for five minutes of 30 fps video with its sound).

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
import threading
from collections.abc import Callable
from pathlib import Path

from ferryman.errors import FerrymanError

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
# Before each input: ffmpeg opens files and pipes only, never a URL a file names (an HLS
# playlist's segments, a key): its sockets would not be the egress guard's. FFmpeg's own
# default for a file input holds that too; said here, it holds for any build on PATH.
_LOCAL_ONLY = ("-protocol_whitelist", "file,pipe")
# ffmpeg's words when ``-map 0:a:0`` finds no audio stream in its input.
_NO_SOUND = "matches no streams"
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
    cmd = _command(ffmpeg, ["-nostdin", "-i", str(src)], dst, fmt, kbps, tags)
    _run(cmd, dst, seconds, progress, f"{src.name}: ffmpeg's {fmt} encode")


def join_copy(
    ffmpeg: str,
    picture: Path,
    sound: Path | None,
    dst: Path,
    keep_sound: bool,
    tags: dict[str, str],
    seconds: float | None,
    progress: Callable[[float], None],
) -> None:
    """Copy the picture's first video stream and the sound's first audio stream
    (``sound`` None: the picture's own; ``keep_sound`` False: none) into MP4 ``dst``,
    index first (``+faststart``: it plays while it loads). Nothing is re-encoded.

    Raises ``media.convert_failed`` with ffmpeg's last words; a partial ``dst`` goes."""
    cmd = _join_command(ffmpeg, ["-nostdin", "-i", str(picture)], sound, dst, keep_sound, tags)
    _run(cmd, dst, seconds, progress, f"{picture.name}: ffmpeg's join")


def _join_command(
    ffmpeg: str,
    picture: list[str],
    sound: Path | None,
    dst: Path,
    keep_sound: bool,
    tags: dict[str, str],
) -> list[str]:
    """``join_copy``'s command; ``picture``: the options and ``-i`` of its input."""
    # -copyts with one muxer-wide shift to zero: two downloads keep their offset to each
    # other (ffmpeg would otherwise move each file to its own zero, as PyAV's join doesn't).
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-copyts", *_LOCAL_ONLY, *picture]
    audio_from = "0"
    if sound is not None and keep_sound:
        cmd += [*_LOCAL_ONLY, "-i", str(sound)]
        audio_from = "1"
    cmd += ["-map", "0:v:0"]
    if keep_sound:
        cmd += ["-map", f"{audio_from}:a:0"]
    cmd += ["-c", "copy", "-map_metadata", "-1", "-movflags", "+faststart"]
    cmd += ["-avoid_negative_ts", "make_zero"]
    for key, value in tags.items():
        cmd += ["-metadata", f"{key}={value}"]
    return [*cmd, "-progress", "pipe:1", "-nostats", "-f", "mp4", str(dst)]


def _run(
    cmd: list[str],
    dst: Path,
    seconds: float | None,
    progress: Callable[[float], None],
    what: str,
) -> None:
    """Run ffmpeg with ``-progress pipe:1``, reporting its position against
    ``seconds``; a failure removes ``dst`` and raises with its last words."""
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_die_with_parent,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        _report(line, seconds, progress)
    err = proc.stderr.read() if proc.stderr is not None else ""
    if proc.wait() != 0:
        dst.unlink(missing_ok=True)
        raise FerrymanError("media.convert_failed", f"{what} failed: {err[-300:]}")
    progress(1.0)


def streaming_encode(
    ffmpeg: str,
    dst: Path,
    fmt: str,
    kbps: int,
    tags: dict[str, str],
    seconds: float | None,
    progress: Callable[[float], None],
    log_path: Path,
) -> StreamingEncoder:
    """``encode_audio`` of a download still arriving (fed on stdin)."""
    cmd = _command(ffmpeg, ["-i", "pipe:0"], dst, fmt, kbps, tags)
    encoder = StreamingEncoder(cmd, dst, f"ffmpeg's {fmt} encode", seconds, progress, log_path)
    encoder.soundless = True
    return encoder


def streaming_join(
    ffmpeg: str, sound: Path, dst: Path, tags: dict[str, str], log_path: Path
) -> StreamingEncoder:
    """``join_copy`` of a picture still downloading (fed on stdin: a container read
    front to back, such as HLS's MPEG-TS) with ``sound``, already downloaded; its
    progress is the download's."""
    cmd = _join_command(ffmpeg, ["-i", "pipe:0"], sound, dst, True, tags)
    return StreamingEncoder(cmd, dst, "ffmpeg's join", None, lambda _f: None, log_path)


class StreamingEncoder:
    """An ffmpeg that encodes or joins a download while it is still arriving
    (``streaming_encode``, ``streaming_join``): ``feed`` follows the growing file yt-dlp
    writes (``.part``, then renamed) and pipes it in, so the work overlaps the download
    instead of following it. A restart after a crash
    simply encodes again from the file's start (yt-dlp resumes its download)."""

    def __init__(
        self,
        cmd: list[str],
        dst: Path,
        what: str,
        seconds: float | None,
        progress: Callable[[float], None],
        log_path: Path,
    ) -> None:
        """Start ``cmd`` (an ffmpeg reading ``pipe:0``); ``what`` names it in errors."""
        self.dst = dst
        self.what = what
        # An encode of the sound: a source without one is ``media.no_audio`` (not
        # retried, its step says to take the video), not a conversion failure.
        self.soundless = False
        self.fed = 0
        self._log = open(log_path, "w")  # noqa: SIM115 (closed in finish)
        self._log_path = log_path
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=False,
            preexec_fn=_die_with_parent,
        )
        self._seconds = seconds
        self._progress = progress
        self._reader = threading.Thread(target=self._read_progress, daemon=True)
        self._reader.start()

    def _read_progress(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            _report(raw.decode(errors="replace"), self._seconds, self._progress)

    def feed(self, part: Path, final: Path, downloaded: threading.Event) -> None:
        """Pipe the download into the encoder as it grows, until it is complete;
        ``fed`` counts the bytes it took."""
        assert self.proc.stdin is not None
        handle = None
        try:
            while handle is None:
                for candidate in (part, final):
                    with contextlib.suppress(FileNotFoundError):
                        handle = open(candidate, "rb")  # noqa: SIM115 (closed below)
                        break
                gone = handle is None and downloaded.wait(0.05)
                if gone and not final.exists() and not part.exists():
                    return  # the download failed before writing anything
            while True:
                done = downloaded.is_set()  # before reading: bytes written after it are read
                block = handle.read(1 << 20)
                if block:
                    self.proc.stdin.write(block)
                    self.fed += len(block)
                elif done:
                    break  # the download had ended and everything it wrote is in
                else:
                    downloaded.wait(0.05)
        except (BrokenPipeError, ValueError):
            pass  # the encoder ended early: finish() says why
        finally:
            if handle is not None:
                handle.close()
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

    def finish(self) -> None:
        """Wait for the encode; raises ``media.convert_failed`` with ffmpeg's words."""
        code = self.proc.wait()
        self._reader.join(5)
        self._log.close()
        if code != 0:
            self.dst.unlink(missing_ok=True)
            words = self._log_path.read_text(errors="replace")
            if self.soundless and _NO_SOUND in words:  # the map found no audio stream
                raise FerrymanError("media.no_audio", f"{self.what}: the source has no sound")
            raise FerrymanError("media.convert_failed", f"{self.what}: {words[-300:]}")
        self._progress(1.0)

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()
        self._log.close()
        self.dst.unlink(missing_ok=True)


def _command(
    ffmpeg: str, source: list[str], dst: Path, fmt: str, kbps: int, tags: dict[str, str]
) -> list[str]:
    """The encode of the first audio stream of ``source`` into ``dst``, progress on
    stdout (``-progress``), errors only on stderr."""
    codec, muxer = _ENCODERS[fmt]
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *_LOCAL_ONLY, *source]
    cmd += ["-map", "0:a:0", "-vn", "-c:a", codec, "-b:a", f"{kbps}k"]
    for key, value in tags.items():
        cmd += ["-metadata", f"{key}={value}"]
    return [*cmd, "-progress", "pipe:1", "-nostats", "-f", muxer, str(dst)]


def _report(line: str, seconds: float | None, progress: Callable[[float], None]) -> None:
    """One line of ``-progress`` output: its position against ``seconds`` (below 1:
    done is said only once the file is complete)."""
    key, _, value = line.strip().partition("=")
    if key == "out_time_us" and seconds and value.isdigit():
        progress(min(int(value) / 1e6 / seconds, 0.999))


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
