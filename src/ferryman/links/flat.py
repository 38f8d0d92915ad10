"""A playlist's, channel's or feed's entries as yt-dlp lists them (flat: nothing is
downloaded, entries are not opened one by one): the work of a watch's child process
(``media.child.run_in_child``), as ``grab`` is a fetch's. The entries go back to the
parent as one ``entries`` event of plain dicts."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.links import native
from ferryman.links.grab import GrabOptions, _coded, _Quiet, installed_yt_dlp

Event = Callable[[str, Any], None]


def list_flat(
    *, url: str, options: GrabOptions, progress: Callable[[float], None], event: Event
) -> None:
    """List ``url``'s entries (up to ``options.playlist_max``), newest first as the site
    lists them; a page that is one video is one entry."""
    with contextlib.ExitStack() as stack:
        # yt-dlp connects by itself: its lookups are checked (metadata refused always)
        from ferryman.net.egress import Egress, guarded_lookups  # lazy: start-up

        egress = Egress.named(options.block_private, options.private_allowed)
        guard = stack.enter_context(guarded_lookups(egress))
        stack.enter_context(native.no_programs())  # nor do programs it would start
        try:
            event("entries", _list(url, options))
        except Exception as exc:
            if guard.refused:
                raise FerrymanError("link.blocked", guard.refused) from exc
            if isinstance(exc, FerrymanError):
                raise
            raise _coded(exc, url) from exc
    progress(1.0)


def _list(url: str, options: GrabOptions) -> list[dict[str, Any]]:
    yt_dlp = installed_yt_dlp()
    params: dict[str, Any] = {
        "quiet": True,
        "no_warnings": True,
        "logger": _Quiet(),
        "extract_flat": "in_playlist",
        "playlistend": options.playlist_max,
        "socket_timeout": options.socket_timeout,
        "retries": options.retries,
        "cachedir": False,
        "color": "no_color",
        **native.native_params(),
    }
    if options.cookies_file:
        params["cookiefile"] = options.cookies_file
    with yt_dlp.YoutubeDL(params) as ydl:
        info = ydl.extract_info(url, download=False)
    if not isinstance(info, dict):
        raise FerrymanError("link.no_media", "the extractor returned nothing")
    entries = info.get("entries") if "entries" in info else [info]
    found = []
    for entry in entries or ():
        if not isinstance(entry, dict):
            continue
        made = _entry(entry, yt_dlp)
        if made is not None:
            found.append(made)
        if len(found) >= options.playlist_max:
            break
    return found


def _entry(entry: dict[str, Any], yt_dlp: Any) -> dict[str, Any] | None:
    """One entry as the parent needs it. A flat entry (``_type`` url: a channel's video,
    a feed's item) is its link, its id the extractor's (a feed item's guid); an entry
    yt-dlp already resolved (a page's ``<video>`` tags, numbered by position) is the
    media's own link, which is also its id, as positions shift when a page grows."""
    flat = entry.get("_type") in ("url", "url_transparent")
    link = entry.get("url") if flat else None
    if not link:
        formats = entry.get("formats") or ()
        media = [f.get("url") for f in formats if isinstance(f, dict) and f.get("url")]
        link = media[-1] if len(media) == 1 else entry.get("webpage_url") or entry.get("url")
    if not link:
        return None
    link, smuggled = yt_dlp.utils.unsmuggle_url(str(link), {})
    if not str(link).lower().startswith(("http://", "https://")):
        return None  # a listing from afar never names a local path or another scheme
    key = entry.get("ie_key") or entry.get("extractor_key") or "generic"
    ident = (smuggled or {}).get("force_videoid") or (entry.get("id") if flat else None)
    return {
        "id": f"{key}:{ident}" if ident else str(link),
        "url": str(link),
        "title": str(entry.get("title") or entry.get("id") or link),
        "duration": _number(entry.get("duration")),
        "published": _number(entry.get("timestamp") or entry.get("release_timestamp")),
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
