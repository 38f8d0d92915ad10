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
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferryman.errors import FerrymanError, ServerWait
from ferryman.fsutil import safe_name
from ferryman.links import grab_join, jsruntime, make, native
from ferryman.links.failures import LIVE_WAIT, error_for, from_exception
from ferryman.links.grab_download import (
    Curve,
    Event,
    download,
    download_path,
    expected_size,
    remembered,
    scaled,
)
from ferryman.links.grab_extras import add_extras
from ferryman.links.profile import Profile, parse_token
from ferryman.links.select import Choice, choose
from ferryman.media.ffmpeg_binary import find_ffmpeg
from ferryman.naming import link_title, unique_name

log = logging.getLogger(__name__)

DONE_FILE = "done.json"
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
    js_runtime: str = "auto"  # links.js_runtime: YouTube's challenges (links.jsruntime)
    block_private: bool = False  # network.block_private: every connection yt-dlp makes
    private_allowed: tuple[str, ...] = ()
    # convert.crf, preset, threads and lookahead: a link's transcode is made as the
    # engine's own, its quality and x264's frames held the same (``EncodeSettings``)
    crf: int = 23
    preset: str = "veryfast"
    threads: int = 0
    lookahead: int | None = None


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

    profile = parse_token(token)
    root = Path(folder)
    (root / OUT_DIR).mkdir(parents=True, exist_ok=True)
    curve = Curve(progress, event)
    with contextlib.ExitStack() as stack:
        # yt-dlp connects by itself: its lookups are checked (metadata refused always)
        from ferryman.net.egress import Egress, guarded_lookups  # lazy: start-up

        egress = Egress.named(options.block_private, options.private_allowed)
        guard = stack.enter_context(guarded_lookups(egress))
        stack.enter_context(native.no_programs())  # nor do programs it would start
        stack.enter_context(jsruntime.quiet_runtime())  # the solver's runtime asks no one
        try:
            _grab(url, profile, root, options, curve, event)
        except Exception as exc:  # yt-dlp's own: DownloadError, ExtractorError, network…
            if guard.refused:  # whatever yt-dlp made of it
                raise FerrymanError("link.blocked", guard.refused) from exc
            if isinstance(exc, FerrymanError):
                raise  # a ServerWait too: run_in_child hands its seconds to the fetch stage
            raise _coded(exc, url) from exc


def installed_yt_dlp() -> Any:  # yt-dlp has no types
    """yt-dlp as installed now. This child forked from a template that loaded yt-dlp
    when the engine started (``media.child``); after an update while ferryman runs
    (``ferryman update``, the next step ``source.changed`` gives), that old core
    would meet the new extractor files it loads from disk. So when the version on disk
    is not the one loaded, yt-dlp is loaded afresh."""
    import yt_dlp  # lazy: the one in sys.modules now, maybe loaded afresh since
    from yt_dlp import version  # lazy: the same

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
    url: str, profile: Profile, root: Path, options: GrabOptions, curve: Curve, event: Event
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
            try:
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
            except FerrymanError as exc:  # in the video's name, not the work area's file's
                if exc.code != "media.no_audio":
                    raise
                said = f"{entry['title']}: the video has no sound (asked {profile.describe()})"
                raise FerrymanError(exc.code, said) from exc
            made = add_extras(
                ydl, entry, profile, root / f"entry-{number}", root / OUT_DIR, made, curve,
                options.max_size,
            )  # fmt: skip
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
        **native.native_params(),
        **jsruntime.ytdlp_params(jsruntime.find_runtime(options.js_runtime)),
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
    curve: Curve,
    taken: set[str],
) -> dict[str, Any]:
    """Download and make one entry (its name none of ``taken``, the names the earlier
    entries were made under); returns what ``done.json`` records of it."""

    _refuse(info, options)
    curve.phase("downloading")
    work.mkdir(parents=True, exist_ok=True)
    formats = native.native_formats(ydl, info, info.get("formats") or [info])
    choice = choose(remembered(work, formats), profile)
    (work / "choice.json").write_text(json.dumps(list(choice.format_ids)))
    downloads = [f for f in (choice.video, choice.audio) if f is not None]
    sizes = [expected_size(f, info) for f in downloads]
    if options.max_size and sum(sizes) > options.max_size:
        raise FerrymanError(
            "content.too_large",
            f"about {sum(sizes) / 1e6:.0f} MB, over links.max_size"
            f" ({options.max_size / 1e6:.0f} MB)",
        )

    ffmpeg = find_ffmpeg(options.ffmpeg)
    name = _file_name(info, profile, taken)
    streams = (
        profile.output in grab_join.STREAMED
        and len(downloads) == 1
        and grab_join.pipes(downloads[0])
    )
    if ffmpeg is not None and streams:
        made = grab_join.streamed(
            ydl, info, downloads[0], profile, work, out / name, ffmpeg, options.max_size, curve
        )
        return _record(info, profile, choice, name, made)
    convert_share = make.cost_share(profile, choice)
    fetched: list[Path] = []
    done_before = 0.0
    total = sum(sizes) or len(sizes)
    target = out / name
    if ffmpeg is not None and grab_join.joins_streamed(profile, downloads):
        joined, fetched = grab_join.joined(
            ydl, info, downloads, sizes, profile, work, target, ffmpeg, options.max_size, curve
        )
        if joined is not None:
            return _record(info, profile, choice, name, joined)
        done_before = 1 - convert_share  # both downloaded: the join from the files
    for fmt, size in zip(downloads[len(fetched) :], sizes[len(fetched) :], strict=True):
        share = (size or 1) / total * (1 - convert_share)
        start = done_before
        path = download_path(work, fmt)
        download(ydl, info, fmt, path, scaled(curve, start, share), curve, options.max_size)
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
        crf=options.crf,
        preset=options.preset,
        threads=options.threads,
        lookahead=options.lookahead,
    )
    return _record(info, profile, choice, name, verified)


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
