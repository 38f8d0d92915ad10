"""The ``media:`` source: a link to a page or a platform's video, made into the output
profile asked for (an MP4 up to 1080p by default; MP3, M4A, Opus, mute).

Platform links (YouTube, X, TikTok…) come here when added; any other link comes from
the HTTP source once the server says it is a page or a stream manifest. The fetch
stage calls ``fetch``: a fresh result for the same video and profile is taken from the
cache without touching the network; otherwise ``links.grab`` runs in a child process
(killed on cancel or stop, resumed from its folder after a crash) and reports one
rising progress value with the download's speed and ETA. The made files are then read
like a local folder.
"""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.links.canonical import canonical, host_of, is_platform
from ferryman.links.profile import Profile
from ferryman.links.uri import SCHEME, MediaRef, as_media, parse
from ferryman.sources.base import Access, Fetched, FetchPlan, Inspection, ReadOptions, SourceEntry
from ferryman.urls import split_link

log = logging.getLogger(__name__)


class MediaLinkSource:
    schemes: tuple[str, ...] = (SCHEME,)
    description = "a page or a platform's video (YouTube, X, TikTok…), as media:PROFILE:URL"
    shown_as = ""  # reached through http(s) links, never typed
    access = Access.FETCH

    def recognise(self, raw: str) -> str | None:
        text = raw.strip().strip("<>")
        if text.lower().startswith(SCHEME + ":"):
            return parse(text).uri
        if text.lower().startswith(("http://", "https://")) and is_platform(text):
            split_link(text)  # link.invalid: a bad port, host or bracket
            return MediaRef(text, Profile()).uri
        return None

    def address(self, uri: str) -> str:
        return parse(uri).url

    def with_profile(self, uri: str, profile: Profile | None, fresh: bool) -> str | None:
        return as_media(uri, profile, fresh=fresh)

    def describe(self, uri: str) -> str:
        from ferryman.net.http import shown_url  # lazy: start-up

        ref = parse(uri)
        return f"{shown_url(ref.url)} as {ref.profile.describe()}"

    def local_path(self, uri: str) -> None:
        return None

    def inspect(self, uri: str) -> Inspection:
        ref = parse(uri)
        key = canonical(ref.url)
        if key.startswith(("youtube:", "x:")):
            name = key.split(":", 1)[1]
        else:  # the page's own name (watch.html → watch), else its host
            last = PurePosixPath(urllib.parse.urlsplit(ref.url).path).stem
            name = last or host_of(ref.url)
        return Inspection(safe_name(name, "link"), f"media|{ref.cache_key}")

    async def fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        return await fetch_media(parse(uri), plan)

    @contextmanager
    def open(self, uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
        if options.fetched is None:
            raise FerrymanError("engine.internal", f"{uri}: read before it was fetched")
        with read_made(options.fetched, options) as entries:
            yield entries


@contextmanager
def read_made(folder: Path, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
    """The files the link converter made in ``folder`` (a ``media:`` link's, or a page
    or stream an ``http(s):`` link turned out to be), as entries."""
    from ferryman.sources.local import iter_local  # lazy: start-up

    hashes = _hashes(folder.parent)
    alone = len(hashes) == 1 or _one_file(folder)
    name = options.job_name if alone else None
    with iter_local(folder, options) as entries:
        yield (_made(entry, folder, hashes, name) for entry in entries)


def _one_file(folder: Path) -> bool:
    return sum(1 for p in folder.iterdir() if p.is_file()) == 1


def _made(
    entry: SourceEntry, folder: Path, hashes: dict[str, tuple[int, str]], name: str | None
) -> SourceEntry:
    """A made file: asked for (delivered whatever its kind), and the job's own (staged by
    a hard link, not a second copy; not even read again when its maker hashed it and it
    is still that size). The one file of a link is called what its job is called (the
    title, with the output where another result of that title would clash)."""
    path = folder / entry.info.path
    own = path if path.is_file() and path.stat().st_size == entry.info.size else None
    known = hashes.get(entry.info.path)
    digest = known[1] if own is not None and known and known[0] == entry.info.size else None
    info = entry.info
    made = next(iter(hashes), None)
    if name and (known is not None or made is None):
        info = replace(info, path=safe_name(name, path.stem) + path.suffix)
    elif name and made is not None and path.name.startswith(Path(made).stem):
        # a sidecar named after the made file (Title.en.srt, Title.nfo) follows its name
        rest = path.name[len(Path(made).stem) :]
        info = replace(info, path=safe_name(name, Path(made).stem) + rest)
    return replace(entry, info=info, asked=True, local_file=own, local_sha256=digest)


def _hashes(root: Path) -> dict[str, tuple[int, str]]:
    """File name → (size, sha256) as grab recorded them (a cached result has none)."""
    from ferryman.links.grab import read_done  # lazy: start-up

    found = {}
    for entry in read_done(root).values():
        size, digest = entry.get("size"), entry.get("sha256")
        if isinstance(size, int) and isinstance(digest, str):
            found[str(entry["file"])] = (size, digest)
    return found


async def fetch_media(ref: MediaRef, plan: FetchPlan) -> Fetched:
    """Bring ``ref`` into ``plan.folder/out`` as its profile asks (cache first)."""
    import asyncio  # not at import: `ferryman status` lists sources without an event loop

    from ferryman.links import grab as grabbing  # lazy: start-up
    from ferryman.links.cache import ResultCache  # lazy: start-up
    from ferryman.links.cookies import cookies_for  # lazy: start-up
    from ferryman.links.health import record  # lazy: start-up
    from ferryman.media.child import run_in_child  # lazy: start-up
    from ferryman.media.progress import Pace  # lazy: start-up
    from ferryman.net.progress import DownloadProgress  # lazy: start-up

    settings = plan.settings
    if settings is None:
        raise FerrymanError("engine.internal", "a media link needs the settings")
    links = settings.links
    cache = ResultCache(settings.data_dir / "cache" / "links", links.cache_ttl)
    out = plan.folder / grabbing.OUT_DIR
    # A person's runs send their own cookies: what they make is theirs, cached apart.
    key = ref.cache_key if plan.person is None else f"{ref.cache_key}|person:{plan.person}"
    hit = None if ref.fresh else await asyncio.to_thread(cache.get, key)
    if hit is not None:
        await asyncio.to_thread(cache.restore, hit, out)
        log.info("%s: from the cache (made %.0f s ago)", key, cache.clock() - hit.at)
        return await asyncio.to_thread(_fetched, out, hit.done, ref, cached=True)

    started = time.monotonic()
    state: dict[str, Any] = {"fraction": 0.0, "bytes": {}, "extractor": None, "phase": None}

    def report() -> None:
        if plan.on_progress is None:
            return
        seen = state["bytes"]
        done, total = seen.get("done"), seen.get("total")
        fraction, now = state["fraction"], time.monotonic()
        phase = state["phase"]
        if phase is not None and phase["name"] == "converting":
            # Making the file: its own speed (media seconds a second) and time left,
            # never the download's last speed held while the file is made.
            within = (fraction - phase["start"]) / phase["share"] if phase["share"] else 1.0
            speed, eta = phase["pace"].at(min(max(within, 0.0), 1.0), now)
            plan.on_progress(
                DownloadProgress(
                    done=int(done) if isinstance(done, int | float) else 0,
                    total=int(total) if isinstance(total, int | float) else None,
                    speed=speed or 0.0,
                    eta=eta,
                    restarts=0,
                    fraction=fraction,
                    phase="converting",
                )
            )
            return
        # The whole fetch's time left, conversion included: from the rate the one
        # rising value climbs at (yt-dlp's own ETA is for the download in flight only).
        elapsed = now - started
        eta = elapsed * (1 - fraction) / fraction if fraction > 0.02 else None
        plan.on_progress(
            DownloadProgress(
                done=int(done) if isinstance(done, int | float) else 0,
                total=int(total) if isinstance(total, int | float) else None,
                speed=float(seen.get("speed") or 0.0),
                eta=float(eta) if isinstance(eta, int | float) else None,
                restarts=0,
                fraction=state["fraction"],
            )
        )

    def on_progress(fraction: float) -> None:
        if fraction > state["fraction"]:  # only ever rises
            state["fraction"] = fraction
            report()

    def on_event(name: str, value: Any) -> None:
        if name == "bytes" and isinstance(value, dict):
            before = state["bytes"].get("done")
            state["bytes"] = value
            done = value.get("done")
            if value.get("total") is None and isinstance(done, int) and done != before:
                # A size nobody knows (no Content-Length): the share cannot rise until
                # the end, so the bytes so far are what a person sees move.
                report()
        elif name == "made" and isinstance(value, dict):
            state["extractor"] = value.get("extractor")
        elif name == "phase" and isinstance(value, dict):
            state["phase"] = {**value, "pace": Pace(value.get("duration"))}

    options = grabbing.GrabOptions(
        cookies_file=await asyncio.to_thread(cookies_for, settings, plan.folder, plan.person),
        max_duration=links.max_duration,
        max_size=int(links.max_size),
        playlist_max=links.playlist_max,
        socket_timeout=min(plan.network.stall_seconds, 120.0),
        ffmpeg=links.ffmpeg,
        js_runtime=links.js_runtime,
        block_private=plan.network.block_private,
        private_allowed=tuple(plan.network.private_allowed),
        crf=settings.convert.crf,
        preset=settings.convert.preset,
        threads=settings.convert.threads,
        lookahead=settings.convert.lookahead,
    )
    try:
        await run_in_child(
            grabbing.grab,
            {
                "url": ref.url,
                "token": ref.profile.token(),
                "folder": str(plan.folder),
                "options": options,
            },
            on_progress=on_progress,
            timeout=links.timeout_seconds,
            on_event=on_event,
        )
    except FerrymanError as exc:
        extractor = _extractor_named(exc.message) or _extractor_guess(ref.url)
        await asyncio.to_thread(record, settings.data_dir, extractor, exc.code, account=plan.person)
        raise
    extractor = str(state["extractor"] or _extractor_guess(ref.url))
    await asyncio.to_thread(record, settings.data_dir, extractor, None, account=plan.person)
    return await asyncio.to_thread(_kept, plan.folder, out, cache, ref, key)


def _kept(folder: Path, out: Path, cache: Any, ref: MediaRef, key: str) -> Fetched:
    """What grab made, also kept in the result cache (blocking: a thread's work)."""
    from ferryman.links.grab import read_done  # lazy: start-up

    done = read_done(folder)
    made = [str(e["file"]) for e in done.values()]
    made += [str(name) for e in done.values() for name in e.get("sidecars") or ()]
    cache.put(key, out, sorted(made), done)
    return _fetched(out, done, ref, cached=False)


def _fetched(out: Path, done: dict[str, Any], ref: MediaRef, *, cached: bool) -> Fetched:
    profile, url = ref.profile, ref.url
    files = [out / str(entry["file"]) for entry in done.values()]
    size = sum(f.stat().st_size for f in files if f.exists())
    first: dict[str, Any] = next(iter(done.values()), {})
    name = str(first.get("title") or first.get("id") or "media")
    if len(done) > 1:  # a playlist: its first video's title would name it wrongly alone
        name = f"{name} (+{len(done) - 1} more)"
    notes = "; ".join(sorted({str(e.get("note")) for e in done.values() if e.get("note")}))
    log.info("%s: %s%s", name, notes, " (cached)" if cached else "")
    note = notes + (" (from the cache)" if cached else "")
    return Fetched(out, size, name, note=note, variant=profile.variant(), source_end=url)


def _extractor_named(message: str) -> str | None:
    """The extractor a yt-dlp message names (``[youtube] ID: …``)."""
    found = re.match(r"\s*\[([\w:.-]+)\]", message)
    return found.group(1).split(":")[0] if found else None


def _extractor_guess(url: str) -> str:
    """The site's name from its host (www.youtube.com → youtube), or generic."""
    parts = host_of(url).split(".")
    if len(parts) < 2 or parts[-1].isdigit():
        return "generic"
    return parts[-2]
