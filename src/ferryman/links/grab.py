"""One link to media, fetched and made into its output profile: the work of the fetch
stage's child process (``media.child.run_in_child``), so a cancel or a stop kills it.

yt-dlp extracts the page (or reads a platform's API) and lists its formats; ferryman
chooses (``links.select``), lets yt-dlp's own downloaders fetch each chosen format
(plain HTTP with Range resume; HLS and DASH fragment by fragment, its ``.ytdl`` file
recording the fragment reached, so a SIGKILL costs at most the fragment in flight) and
makes the output itself with PyAV: no ffmpeg binary is needed.

Layout of the folder (the job's fetch folder, kept across restarts):
``entry-N/`` the downloads of entry N (its chosen format IDs in ``choice.json``),
``out/`` the finished, verified files, and ``done.json`` what each finished entry gave
(a restart skips them). Progress is one curve: each entry an equal share, inside an
entry the download (by bytes, or fragments) then the making of the output, weighted
by what each costs; it only rises.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import re
import shutil
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferryman.errors import FerrymanError, ServerWait
from ferryman.fsutil import safe_name
from ferryman.links.failures import LIVE_WAIT, error_for, from_exception
from ferryman.links.profile import Output, Profile
from ferryman.links.select import Choice, choose
from ferryman.naming import link_title, unique_name

if TYPE_CHECKING:
    from ferryman.media.ffmpeg_binary import StreamingEncoder

log = logging.getLogger(__name__)

Event = Callable[[str, Any], None]
DONE_FILE = "done.json"
STEP = 0.001  # progress messages: one per 0.1 %
OUT_DIR = "out"


@dataclass(frozen=True, slots=True)
class GrabOptions:
    """What the child needs from the settings (plain data: it crosses a process)."""

    cookies_file: str | None = None
    max_duration: float = 0.0  # seconds; 0: no limit
    max_size: int = 0  # bytes; 0: no limit
    playlist_max: int = 50
    socket_timeout: float = 60.0  # yt-dlp keeps its own browser-like User-Agent
    retries: int = 3
    ffmpeg: str = "auto"  # links.ffmpeg: a binary for MP3/Opus and joins (media.ffmpeg_binary)
    block_private: bool = False  # network.block_private: every connection yt-dlp makes
    private_allowed: tuple[str, ...] = ()


def grab(
    *,
    url: str,
    token: str,
    folder: str,
    options: GrabOptions,
    progress: Callable[[float], None],
    event: Event,
) -> None:
    """Fetch ``url`` as profile ``token`` into ``folder`` (see the module's layout)."""
    from ferryman.links.profile import parse_token

    profile = parse_token(token)
    root = Path(folder)
    (root / OUT_DIR).mkdir(parents=True, exist_ok=True)
    curve = _Curve(progress, event)
    with contextlib.ExitStack() as stack:
        guard = None
        if options.block_private:  # yt-dlp connects by itself: its lookups are checked
            from ferryman.net.addresses import guarded_lookups

            guard = stack.enter_context(guarded_lookups(options.private_allowed))
        try:
            _grab(url, profile, root, options, curve, event)
        except Exception as exc:  # yt-dlp's own: DownloadError, ExtractorError, network…
            if guard is not None and guard.refused:  # whatever yt-dlp made of it
                raise FerrymanError("link.blocked", guard.refused) from exc
            if isinstance(exc, FerrymanError):
                raise  # a ServerWait too: run_in_child hands its seconds to the fetch stage
            raise _coded(exc, url) from exc


def installed_yt_dlp() -> Any:  # yt-dlp has no types
    """yt-dlp as installed now. This child forked from a template that loaded yt-dlp
    when the engine started (``media.child``); after an update while ferryman runs
    (``pip install -U yt-dlp``, the next step ``source.changed`` gives), that old core
    would meet the new extractor files it loads from disk. So when the version on disk
    is not the one loaded, yt-dlp is loaded afresh."""
    import yt_dlp
    from yt_dlp import version

    try:
        text = Path(version.__file__).read_text(encoding="utf-8")
    except (OSError, TypeError, UnicodeDecodeError):
        return yt_dlp
    found = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", text, re.MULTILINE)
    if found is None or found.group(1) == version.__version__:
        return yt_dlp
    for name in [n for n in sys.modules if n == "yt_dlp" or n.startswith("yt_dlp.")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    return importlib.import_module("yt_dlp")


def _grab(
    url: str, profile: Profile, root: Path, options: GrabOptions, curve: _Curve, event: Event
) -> None:
    yt_dlp = installed_yt_dlp()
    done = read_done(root)
    with yt_dlp.YoutubeDL(_params(options, profile)) as ydl:
        info = _extract(ydl, url)
        entries = list(_entries(info, profile, options))
        if not entries:
            raise FerrymanError("link.no_media", "the playlist has no entries")
        event("entries", len(entries))
        for number, entry in enumerate(entries):
            curve.enter(number, len(entries))
            key = str(number)
            if key in done and (root / OUT_DIR / done[key]["file"]).exists():
                curve.at(1.0)
                continue
            if entry.get("_type") in ("url", "url_transparent"):
                outer = entry
                entry = _extract(ydl, str(entry.get("url") or entry.get("webpage_url")))
                if outer.get("_type") == "url_transparent" and outer.get("title"):
                    entry["title"] = outer["title"]  # the page's title, not its stream's
            entry["title"] = link_title(
                str(entry.get("title") or entry.get("fulltitle") or ""),
                str(entry.get("id") or ""),
                str(entry.get("webpage_url") or url),
                alone=len(entries) == 1,
            )
            made = _one(
                ydl,
                entry,
                profile,
                root / f"entry-{number}",
                root / OUT_DIR,
                options,
                curve,
                {str(earlier["file"]).lower() for earlier in done.values()},
            )
            done[key] = made
            _write_done(root, done)
            event("made", made)
            shutil.rmtree(root / f"entry-{number}", ignore_errors=True)
        curve.at(1.0)


def _params(options: GrabOptions, profile: Profile) -> dict[str, Any]:
    params: dict[str, Any] = {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        # yt-dlp formats its (unshown) progress line for every block it downloads: at
        # loopback speed 0.8 s of a 5-minute 1080p stream's download. Our own hooks
        # still hear every block.
        "progress_delta": 1.0,
        "logger": _Quiet(),
        "noplaylist": not profile.playlist,
        "extract_flat": "in_playlist",
        "playlistend": options.playlist_max,
        "socket_timeout": options.socket_timeout,
        "retries": options.retries,
        "fragment_retries": options.retries,
        "continuedl": True,
        "skip_unavailable_fragments": False,  # a hole in the video is a failure, not a pass
        "format": "all",  # every format listed; ferryman chooses (links.select)
        "check_formats": False,
        "cachedir": False,
        "color": "no_color",
    }
    if options.cookies_file:
        params["cookiefile"] = options.cookies_file
    return params


def _extract(ydl: Any, url: str) -> dict[str, Any]:
    info = ydl.extract_info(url, download=False)
    if not isinstance(info, dict):
        raise FerrymanError("link.no_media", "the extractor returned nothing")
    return info


def _entries(info: dict[str, Any], profile: Profile, options: GrabOptions) -> Iterator[Any]:
    """The videos to make: a playlist's entries (up to ``playlist_max``) when asked for
    with ``playlist``, else only its first (a page holding several videos)."""
    if info.get("_type") == "playlist" or "entries" in info:
        most = options.playlist_max if profile.playlist else 1
        taken = 0
        for entry in info.get("entries") or ():
            if taken >= most:
                return
            if entry:
                taken += 1
                yield entry
        return
    yield info


def _one(
    ydl: Any,
    info: dict[str, Any],
    profile: Profile,
    work: Path,
    out: Path,
    options: GrabOptions,
    curve: _Curve,
    taken: set[str],
) -> dict[str, Any]:
    """Download and make one entry (its name none of ``taken``, the names the earlier
    entries were made under); returns what ``done.json`` records of it."""
    from ferryman.links import make

    _refuse(info, options)
    curve.phase("downloading")
    work.mkdir(parents=True, exist_ok=True)
    formats = info.get("formats") or [info]
    choice = choose(_remembered(work, formats), profile)
    (work / "choice.json").write_text(json.dumps(list(choice.format_ids)))
    downloads = [f for f in (choice.video, choice.audio) if f is not None]
    sizes = [_expected_size(f, info) for f in downloads]
    if options.max_size and sum(sizes) > options.max_size:
        raise FerrymanError(
            "content.too_large",
            f"about {sum(sizes) / 1e6:.0f} MB, over links.max_size"
            f" ({options.max_size / 1e6:.0f} MB)",
        )
    from ferryman.media.ffmpeg_binary import find_ffmpeg

    ffmpeg = find_ffmpeg(options.ffmpeg)
    name = _file_name(info, profile, taken)
    streams = profile.output in _STREAMED and len(downloads) == 1 and _pipes(downloads[0])
    if ffmpeg is not None and streams:
        made = _streamed(ydl, info, downloads[0], profile, work, out / name, ffmpeg, options, curve)
        return _record(info, profile, choice, name, made)
    convert_share = make.cost_share(profile, choice)
    fetched: list[Path] = []
    done_before = 0.0
    total = sum(sizes) or len(sizes)
    target = out / name
    if ffmpeg is not None and _joins_streamed(profile, downloads):
        joined, fetched = _joined(
            ydl, info, downloads, sizes, profile, work, target, ffmpeg, options, curve
        )
        if joined is not None:
            return _record(info, profile, choice, name, joined)
        done_before = 1 - convert_share  # both downloaded: the join from the files
    for fmt, size in zip(downloads[len(fetched) :], sizes[len(fetched) :], strict=True):
        share = (size or 1) / total * (1 - convert_share)
        start = done_before
        path = _download_path(work, fmt)
        _download(ydl, info, fmt, path, _scaled(curve, start, share), curve, options.max_size)
        fetched.append(path)
        done_before += share
    curve.phase("converting", done_before, convert_share, info.get("duration"))
    verified = make.make_output(
        info,
        profile,
        choice,
        fetched,
        target,
        work,
        lambda f: curve.at(done_before + f * convert_share),
        ffmpeg,
    )
    return _record(info, profile, choice, name, verified)


def _joins_streamed(profile: Profile, downloads: Sequence[Mapping[str, Any]]) -> bool:
    """An MP4 of an HLS picture (yt-dlp's own HLS downloader writes its segments one
    after another: a file read front to back) and a separate sound, neither known to
    need more than a copy: the sound is downloaded first and ffmpeg joins the picture
    as it arrives (``_joined``)."""
    if profile.output is not Output.VIDEO or len(downloads) != 2:
        return False
    picture, sound = downloads
    vcodec, acodec = str(picture.get("vcodec") or ""), str(sound.get("acodec") or "")
    return (  # an unknown codec is tried: what the copy makes is checked after
        picture.get("protocol") == "m3u8_native"
        and (not vcodec or vcodec.startswith(("avc1", "h264")))
        and (not acodec or acodec.startswith(("mp4a", "aac")))
    )


def _joined(
    ydl: Any,
    info: dict[str, Any],
    downloads: Sequence[Mapping[str, Any]],
    sizes: Sequence[float],
    profile: Profile,
    work: Path,
    target: Path,
    ffmpeg: str,
    options: GrabOptions,
    curve: _Curve,
) -> tuple[Any | None, list[Path]]:
    """Download the sound, then the picture with ffmpeg copying it into the MP4 as it
    arrives: the join overlaps the download instead of following it (2 s of a 5-minute
    1080p stream on loopback; on a real network the whole join hides in the download).

    Returns the verified result, or None when the copy does not fit after all (the
    picture is not H.264 at the size asked, the sound not AAC: found once both are in)
    or ffmpeg could not read the stream; then the caller makes it from the two files,
    which are returned either way. A restart joins again from the picture's start."""
    from ferryman.links import make
    from ferryman.media.ffmpeg_binary import streaming_join
    from ferryman.media.linkout import joins_by_copy

    picture_fmt, sound_fmt = downloads
    total = sum(sizes) or 2
    sound_share = (sizes[1] or 1) / total * 0.95
    sound = _download_path(work, sound_fmt)
    _download(ydl, info, sound_fmt, sound, _scaled(curve, 0, sound_share), curve, options.max_size)
    picture = _download_path(work, picture_fmt)
    partial = work / ("making" + profile.suffix)
    partial.unlink(missing_ok=True)
    joiner = streaming_join(ffmpeg, sound, partial, make.metadata_of(info), work / "ffmpeg.log")
    moved = _scaled(curve, sound_share, 0.95 - sound_share)
    _download_fed(joiner, ydl, info, picture_fmt, picture, moved, curve, options.max_size)
    fetched = [picture, sound]
    try:
        joiner.finish()
        if joiner.fed != picture.stat().st_size:  # ffmpeg may end well on a cut stream
            raise FerrymanError("media.convert_failed", "the join did not read it all")
        if joins_by_copy(picture, sound, True, profile.height):
            return make.finish_output(info, profile, partial, target, fetched), fetched
    except FerrymanError as exc:  # its verify too: the files are still here to join
        log.info("the join while downloading did not make it (%s); joining the files", exc)
    partial.unlink(missing_ok=True)
    return None, fetched


_STREAMED = (Output.MP3, Output.OPUS)
# Containers ffmpeg reads from a pipe, front to back (an MP4 with its index at the end
# is not one of them: those are downloaded first).
_PIPEABLE = frozenset({"ts", "webm", "mka", "mkv", "ogg", "opus", "mp3", "aac", "flac", "wav"})


def _pipes(fmt: Mapping[str, Any]) -> bool:
    protocol = str(fmt.get("protocol") or "")
    return protocol.startswith("m3u8") or str(fmt.get("ext") or "") in _PIPEABLE


def _streamed(
    ydl: Any,
    info: dict[str, Any],
    fmt: Mapping[str, Any],
    profile: Profile,
    work: Path,
    target: Path,
    ffmpeg: str,
    options: GrabOptions,
    curve: _Curve,
) -> Any:
    """Download the sound and encode it at once, the encoder reading the download as it
    grows (``media.ffmpeg_binary.StreamingEncoder``): the encode hides behind the
    download, or the download behind the encode, instead of following it."""

    from ferryman.links import make
    from ferryman.media.ffmpeg_binary import streaming_encode

    path = _download_path(work, fmt)
    partial = work / ("making" + profile.suffix)
    duration = info.get("duration")
    shares = {"download": 0.0, "encode": 0.0}

    def moved(which: str) -> Callable[[float], None]:
        def report(fraction: float) -> None:
            shares[which] = max(shares[which], fraction)
            curve.at(0.5 * shares["download"] + 0.5 * shares["encode"])

        return report

    encoder = streaming_encode(
        ffmpeg,
        partial,
        profile.output.value,
        profile.kbps or 192,
        make.metadata_of(info),
        float(duration) if isinstance(duration, int | float) else None,
        moved("encode"),
        work / "ffmpeg.log",
    )
    _download_fed(encoder, ydl, info, fmt, path, moved("download"), curve, options.max_size)
    encoder.finish()
    return make.finish_output(info, profile, partial, target, [path])


def _record(
    info: dict[str, Any], profile: Profile, choice: Choice, name: str, verified: Any
) -> dict[str, Any]:
    """What ``done.json`` keeps of a made entry."""
    return {
        "file": name,
        "id": str(info.get("id") or ""),
        "title": str(info.get("title") or ""),
        "extractor": str(info.get("extractor_key") or info.get("extractor") or "generic"),
        "asked": profile.describe(),
        "note": _note(profile, choice, verified),
        "duration": info.get("duration"),
        "webpage_url": str(info.get("webpage_url") or ""),
        "size": verified.size,
        "sha256": verified.sha256,
    }


def _note(profile: Profile, choice: Choice, verified: Any) -> str:
    """What was asked and what came: the chooser's words when it knew the sizes, else
    what the made file is."""
    if profile.output.is_audio:
        rate = f", {verified.audio_kbps:.0f} kbps measured" if verified.audio_kbps else ""
        return f"{choice.note}{rate}"
    if choice.height is None and verified.height:
        asked = f"{profile.height}p" if profile.height else "best"
        got = min(verified.width or verified.height, verified.height)
        return f"asked {asked}; delivered {got}p"
    return choice.note


def _refuse(info: dict[str, Any], options: GrabOptions) -> None:
    """What no download can fix, said before a byte is fetched."""
    if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
        raise ServerWait(
            "content.live", f"{info.get('title') or 'this'} is live or upcoming", LIVE_WAIT
        )
    formats = info.get("formats") or ()
    if info.get("_has_drm") or (formats and all(f.get("has_drm") for f in formats)):
        raise FerrymanError("content.drm", "every format of this video is DRM-protected")
    duration = info.get("duration")
    limit = options.max_duration
    if limit and isinstance(duration, int | float) and duration > limit:
        raise FerrymanError(
            "content.too_long",
            f"{duration / 60:.0f} min, over links.max_duration ({limit / 60:.0f} min)",
        )


def _remembered(work: Path, formats: list[Any]) -> list[Any]:
    """The formats to choose from: after a restart only those chosen before, when the
    page still offers them all (a new choice would leave the half-fetched files of the
    first unused); choosing among them gives the same choice and the same words."""
    try:
        ids = json.loads((work / "choice.json").read_text())
    except (OSError, ValueError):
        return formats
    kept = [f for f in formats if str(f.get("format_id")) in ids]
    return kept if ids and len(kept) == len(ids) else formats


def _download_path(work: Path, fmt: Mapping[str, Any]) -> Path:
    """Where one format's download goes: the same name after a restart, so yt-dlp
    resumes it."""
    return work / f"{safe_name(str(fmt['format_id']), 'f')}.{fmt.get('ext') or 'bin'}"


def _download(
    ydl: Any,
    info: dict[str, Any],
    fmt: Mapping[str, Any],
    path: Path,
    report: Callable[[float], None],
    curve: _Curve,
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

    merged = dict(info)
    merged.update(fmt)
    merged.pop("requested_formats", None)
    ydl._progress_hooks = [hook]  # one download at a time: this format's hook only
    ok = ydl.dl(str(path), merged)
    if not ok or not path.exists() or path.stat().st_size == 0:
        raise FerrymanError("source.network", f"format {fmt.get('format_id')} did not download")
    report(1.0)


def _download_fed(
    encoder: StreamingEncoder,
    ydl: Any,
    info: dict[str, Any],
    fmt: Mapping[str, Any],
    path: Path,
    report: Callable[[float], None],
    curve: _Curve,
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
        _download(ydl, info, fmt, path, report, curve, max_size)
    except BaseException:
        downloaded.set()
        encoder.kill()
        raise
    downloaded.set()
    feeder.join()


def _scaled(curve: _Curve, start: float, share: float) -> Callable[[float], None]:
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
        return min(max(index - 1, 0) / count, 1.0)
    estimate = state.get("total_bytes_estimate")
    if isinstance(done, int) and isinstance(estimate, int | float) and estimate > 0:
        return min(done / estimate, 0.99)
    return None


def _expected_size(fmt: Mapping[str, Any], info: dict[str, Any]) -> float:
    for key in ("filesize", "filesize_approx"):
        value = fmt.get(key)
        if isinstance(value, int | float) and value > 0:
            return float(value)
    rate, duration = fmt.get("tbr"), info.get("duration")
    if isinstance(rate, int | float) and isinstance(duration, int | float):
        return float(rate) * 125 * float(duration)
    return 1.0 if fmt.get("vcodec") != "none" else 0.15


def _file_name(info: dict[str, Any], profile: Profile, taken: set[str]) -> str:
    """``Title.mp4``: a person's name for it (the platform's ID and the page are in its
    tags); ``Title (2).mp4`` when an earlier entry of a playlist had that title."""
    title = str(info.get("title") or "").strip()
    stem = safe_name(title, "") or safe_name(str(info.get("id") or ""), "media")
    encoded = stem.encode()
    if len(encoded) > 180:  # file names are bytes-limited (255), keep room for the suffix
        stem = encoded[:180].decode(errors="ignore").rstrip()
    return unique_name(stem + profile.suffix, set(taken))


def read_done(root: Path) -> dict[str, Any]:
    try:
        found = json.loads((root / DONE_FILE).read_text())
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_done(root: Path, done: dict[str, Any]) -> None:
    tmp = root / (DONE_FILE + ".tmp")
    with open(tmp, "w") as f:
        json.dump(done, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, root / DONE_FILE)


def _coded(exc: BaseException, url: str) -> FerrymanError:
    failure = from_exception(exc)
    coded = error_for(failure)
    log.info("yt-dlp failed (%s): %s → %s", failure.kind, failure.message, coded.code)
    host = urllib.parse.urlsplit(url).hostname or ""
    if coded.code in ("source.host_unknown", "source.tls_refused") and host not in coded.message:
        return FerrymanError(coded.code, f"{host}: {coded.message}")  # yt-dlp's words lack it
    return coded


class _Curve:
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


class _Quiet:
    """yt-dlp's logger: its words go to ferryman's log at debug, never to a terminal
    (a cookies file's path and a link's token stay out of what a person sees)."""

    def debug(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)

    def info(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)

    def warning(self, message: str) -> None:
        log.debug("yt-dlp warning: %s", message)

    def error(self, message: str) -> None:
        log.debug("yt-dlp error: %s", message)
