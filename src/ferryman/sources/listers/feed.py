"""RSS and Atom feeds whose entries link to files or archives (the leech bots' feeds):
each entry's enclosure (else its link) is read as ``ferryman add`` would read it, one
input of the look's job (named after the feed's title).

The feed is fetched with the project's HTTP client (its user agent, timeouts, and the
private-address guard when ``network.block_private`` is on) and read by ``feedparser``,
in a child process (``media.child``): feedparser reads the whole document in pure
Python (8 s of CPU and 240 MB for 100,000 entries), which on a thread held the GIL
from the event loop and, at a stop, held the process's exit until it was done; a
child is killed. An entry's stable id is its ``guid``/``id``, else its link.
"""

from __future__ import annotations

import calendar
import urllib.parse
from collections.abc import Callable
from typing import Any

import feedparser
import httpx

from ferryman.config import Settings
from ferryman.errors import FerrymanError
from ferryman.links.canonical import is_platform
from ferryman.media.child import run_in_child
from ferryman.net.http import make_sync_client, shown_url, status_error, transport_error
from ferryman.net.own_thread import on_own_thread
from ferryman.sources.listers.base import WatchEntry
from ferryman.urls import scheme_of, split_link

MAX_FEED_BYTES = 16 << 20  # a feed larger than this is no feed
LIST_TIMEOUT = 300.0  # seconds one listing (fetch and parse) may take
_CHUNK = 5000  # entries per message from the child


class FeedLister:
    kind = "feed"
    description = "an RSS or Atom feed whose entries link to files or archives"
    changes_in_place = False
    read_oldest_first = False

    def accepts(self, source: str) -> bool:
        return scheme_of(source) in ("http", "https")

    def describe(self, source: str) -> str:
        return shown_url(source)

    async def entries(self, source: str, settings: Settings) -> list[WatchEntry]:
        got: list[WatchEntry] = []

        def on_event(name: str, value: Any) -> None:
            if name == "entries":
                got.extend(value)

        try:
            await run_in_child(
                _list_in_child,
                {"source": source, "settings": settings},
                on_progress=None,
                timeout=LIST_TIMEOUT,
                on_event=on_event,
            )
        except FerrymanError as exc:
            if not exc.code.startswith("media.convert"):
                raise
            raise FerrymanError(  # the child died or ran out of time: the feed's fault
                "watch.feed_unreadable", f"{self.describe(source)}: {exc.message}"
            ) from exc
        return got

    async def matches(self, source: str, settings: Settings) -> bool:
        """A link is a feed when what it serves parses as RSS or Atom; a platform's link
        (YouTube, Vimeo…) is yt-dlp's, unasked. A link that cannot be fetched now cannot
        be told: that is said, with ``--kind`` as the way on."""

        if is_platform(source):
            return False
        try:
            body, _ = await on_own_thread(_fetch, source, settings)
        except FerrymanError as exc:
            raise FerrymanError(
                exc.code,
                f"{exc.message}; cannot tell whether it is a feed: try again, or name the"
                " kind with --kind feed or --kind ytdlp",
            ) from exc
        return _parsed(body).get("version") not in (None, "")


def list_feed(source: str, settings: Settings) -> list[WatchEntry]:
    """The feed's entries, in its order (blocking: a thread's work)."""
    body, final = _fetch(source, settings)
    parsed = _parsed(body)
    if not parsed.get("version"):
        raise FerrymanError(
            "watch.feed_unreadable",
            f"{FeedLister().describe(source)} is not an RSS or Atom feed"
            f" ({parsed.get('bozo_exception') or 'no feed found'})",
        )
    found = []
    group = str((parsed.get("feed") or {}).get("title") or "").strip() or None
    for entry in parsed.get("entries") or ():
        made = _entry(entry, final, group)
        if made is not None:
            found.append(made)
    return found


def _list_in_child(
    *, source: str, settings: Settings, progress: Callable[[float], None], event: Any
) -> None:
    """``list_feed`` in a child process, its entries sent back in chunks."""
    found = list_feed(source, settings)
    for start in range(0, len(found), _CHUNK):
        event("entries", found[start : start + _CHUNK])
    progress(1.0)


def _fetch(source: str, settings: Settings) -> tuple[bytes, str]:
    try:
        with (
            make_sync_client(settings.network) as client,
            client.stream("GET", source) as response,
        ):
            if response.status_code >= 400:
                raise status_error(response)
            body = bytearray()
            for block in response.iter_bytes():
                body += block
                if len(body) > MAX_FEED_BYTES:
                    raise FerrymanError(
                        "watch.feed_unreadable",
                        f"{FeedLister().describe(source)} is larger than"
                        f" {MAX_FEED_BYTES >> 20} MiB: not a feed",
                    )
            return bytes(body), str(response.url)
    except httpx.HTTPError as exc:
        raise transport_error(exc, source) from exc


def _parsed(body: bytes) -> Any:
    """The feed as feedparser reads it; links are made absolute here (``_entry``), not
    by feedparser, which would also rewrite a guid that is no link."""

    return feedparser.parse(body)


def _entry(entry: Any, base: str, group: str | None) -> WatchEntry | None:
    link = None
    for enclosure in entry.get("enclosures") or ():
        if enclosure.get("href"):
            link = enclosure["href"]
            break
    link = link or entry.get("link")
    if not link:
        return None
    try:
        link = urllib.parse.urljoin(base, str(link))
        scheme = split_link(link).scheme.lower()
    except (ValueError, FerrymanError):  # a malformed link (a bad port, host or bracket)
        return None
    if scheme not in ("http", "https"):
        return None  # a feed from afar never names a local path (file:, /etc/…) or a login
    ident = str(entry.get("id") or link)
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    return WatchEntry(
        id=ident,
        input=link,
        title=str(entry.get("title") or link.rstrip("/").rpartition("/")[2]),
        duration=_duration(entry.get("itunes_duration")),
        published=float(calendar.timegm(when)) if when else None,
        group=group,
    )


def _duration(value: Any) -> float | None:
    """An itunes:duration (``SS``, ``MM:SS`` or ``HH:MM:SS``) in seconds."""
    if not value:
        return None
    try:
        seconds = 0.0
        for part in str(value).split(":"):
            seconds = seconds * 60 + float(part)
    except ValueError:
        return None
    return seconds
