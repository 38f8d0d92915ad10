"""One chosen format downloaded by yt-dlp's own downloaders, and the one rising progress
curve a link's child reports: the download half of ``links.grab``, apart from choosing
and making so that each can be read alone."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.links.native import check_native

if TYPE_CHECKING:
    from ferryman.media.ffmpeg_binary import StreamingEncoder

Event = Callable[[str, Any], None]
STEP = 0.001  # progress messages: one per 0.1 %


def remembered(work: Path, formats: list[Any]) -> list[Any]:
    """The formats to choose from: after a restart only those chosen before, when the
    page still offers them all (a new choice would leave the half-fetched files of the
    first unused); choosing among them gives the same choice and the same words."""
    try:
        ids = json.loads((work / "choice.json").read_text())
    except (OSError, ValueError):
        return formats
    kept = [f for f in formats if str(f.get("format_id")) in ids]
    return kept if ids and len(kept) == len(ids) else formats


def download_path(work: Path, fmt: Mapping[str, Any]) -> Path:
    """Where one format's download goes: the same name after a restart, so yt-dlp
    resumes it."""
    return work / f"{safe_name(str(fmt['format_id']), 'f')}.{fmt.get('ext') or 'bin'}"


def download(
    ydl: Any,
    info: dict[str, Any],
    fmt: Mapping[str, Any],
    path: Path,
    report: Callable[[float], None],
    curve: Curve,
    max_size: int = 0,
) -> None:
    def hook(state: dict[str, Any]) -> None:
        done = state.get("downloaded_bytes")
        if max_size and isinstance(done, int) and done > max_size:  # the size was unknown
            raise FerrymanError(
                "content.too_large", f"over links.max_size ({max_size / 1e6:.0f} MB)"
            )
        fraction = _fraction(state)
        if fraction is not None:
            report(fraction)
        curve.bytes(state)

    check_native(ydl, info, fmt)  # no program yt-dlp would start: it is not guarded
    merged = dict(info)
    merged.update(fmt)
    merged.pop("requested_formats", None)
    ydl._progress_hooks = [hook]  # one download at a time: this format's hook only
    ok = ydl.dl(str(path), merged)
    if not ok or not path.exists() or path.stat().st_size == 0:
        raise FerrymanError("source.network", f"format {fmt.get('format_id')} did not download")
    report(1.0)


def download_fed(
    encoder: StreamingEncoder,
    ydl: Any,
    info: dict[str, Any],
    fmt: Mapping[str, Any],
    path: Path,
    report: Callable[[float], None],
    curve: Curve,
    max_size: int,
) -> None:
    """Download ``fmt`` to ``path`` while ``encoder`` reads the file as it grows; on
    failure the encoder is killed, else left to finish."""
    downloaded = threading.Event()
    feeder = threading.Thread(
        target=encoder.feed,
        args=(path.with_name(path.name + ".part"), path, downloaded),
        daemon=True,
    )
    feeder.start()
    try:
        download(ydl, info, fmt, path, report, curve, max_size)
    except BaseException:
        downloaded.set()
        encoder.kill()
        raise
    downloaded.set()
    feeder.join()


def scaled(curve: Curve, start: float, share: float) -> Callable[[float], None]:
    return lambda fraction: curve.at(start + fraction * share)


def _fraction(state: dict[str, Any]) -> float | None:
    if state.get("status") == "finished":
        return 1.0
    done = state.get("downloaded_bytes")
    total = state.get("total_bytes")
    if isinstance(done, int) and isinstance(total, int) and total > 0:
        return min(done / total, 1.0)
    index, count = state.get("fragment_index"), state.get("fragment_count")
    if isinstance(index, int) and isinstance(count, int) and count > 0:
        # yt-dlp's ``fragment_index`` counts the fragments done; within the one in
        # flight its bytes against the average fragment (``total_bytes_estimate``) move
        # the share on, held inside that fragment's own step: a slow server's fragment
        # of many seconds does not freeze the bar.
        done_frags = min(max(index, 0), count)
        within = 0.0
        estimate = state.get("total_bytes_estimate")
        if isinstance(done, int) and isinstance(estimate, int | float) and estimate > 0:
            within = done / estimate * count - done_frags
        return min((done_frags + min(max(within, 0.0), 0.99)) / count, 0.99)
    estimate = state.get("total_bytes_estimate")
    if isinstance(done, int) and isinstance(estimate, int | float) and estimate > 0:
        return min(done / estimate, 0.99)
    return None


def expected_size(fmt: Mapping[str, Any], info: dict[str, Any]) -> float:
    for key in ("filesize", "filesize_approx"):
        value = fmt.get(key)
        if isinstance(value, int | float) and value > 0:
            return float(value)
    rate, duration = fmt.get("tbr"), info.get("duration")
    if isinstance(rate, int | float) and isinstance(duration, int | float):
        return float(rate) * 125 * float(duration)
    return 1.0 if fmt.get("vcodec") != "none" else 0.15


class Curve:
    """One rising progress value over every entry, plus the bytes and speed of the
    download in flight (for the speed and ETA a person sees)."""

    def __init__(self, send: Callable[[float], None], event: Event) -> None:
        # Both the download (this thread) and a streaming encoder's progress reader
        # report: one pipe to the parent, so one sender at a time.
        self._lock = threading.Lock()
        self._send = send
        self._event = event
        self._entry = 0
        self._entries = 1
        self._last = 0.0

    def enter(self, number: int, count: int) -> None:
        self._entry, self._entries = number, count

    def at(self, fraction: float) -> None:
        """Send the overall value when it has risen by a step worth a message (a join
        reports every packet: tens of thousands) or reached the end."""
        value = (self._entry + min(max(fraction, 0.0), 1.0)) / self._entries
        with self._lock:
            if value >= self._last + STEP or (value >= 1.0 > self._last):
                self._last = value
                self._send(value)

    def phase(
        self, name: str, start: float = 0.0, share: float = 1.0, duration: Any = None
    ) -> None:
        """The entry is now ``downloading`` or ``converting`` (its value climbing from
        ``start`` over ``share`` of it, ``duration`` seconds of media): the parent turns
        that climb into the phase's own speed and time left."""
        seconds = float(duration) if isinstance(duration, int | float) and duration > 0 else None
        told = {
            "name": name,
            "start": (self._entry + start) / self._entries,
            "share": share / self._entries,
            "duration": seconds,
        }
        with self._lock:
            self._event("phase", told)

    def bytes(self, state: dict[str, Any]) -> None:
        seen = {
            "done": state.get("downloaded_bytes"),
            "total": state.get("total_bytes") or state.get("total_bytes_estimate"),
            "speed": state.get("speed"),
            "eta": state.get("eta"),
        }
        with self._lock:
            self._event("bytes", seen)
