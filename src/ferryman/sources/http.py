"""The ``http(s):`` source: a direct link to a file or an archive.

Nothing is asked of the server when the link is added (``add`` stays fast and works
offline); the engine's fetch stage calls ``fetch`` first, which probes the link and
decides by what the server says it is (Content-Type, then the bytes), never by the
link's extension: an HTML page is not the file (``link.unsupported`` until links to
media exist); anything else is downloaded, resumably, into the job's work area, and
read from there like a local input.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ferryman.archive.suffixes import strip_archive_suffixes
from ferryman.config import NetworkSettings
from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.sources.base import Access, Fetched, FetchPlan, Inspection, ReadOptions, SourceEntry
from ferryman.urls import split_link

if TYPE_CHECKING:  # httpx loads when a link is fetched or read, not when it is added
    import httpx

    from ferryman.archive.reader import ArchiveReader
    from ferryman.config import Retry
    from ferryman.links.profile import Profile
    from ferryman.net.probe import LinkFacts

log = logging.getLogger(__name__)

_HTTP = re.compile(r"^https?://", re.IGNORECASE)
_ZIP_TYPES = frozenset({"application/zip", "application/x-zip", "application/x-zip-compressed"})


class HttpSource:
    """Direct links, fetched first into the work area."""

    schemes: tuple[str, ...] = ("http", "https")

    description = "http(s)://host/file: a link to a file or an archive"
    shown_as = "http(s):// links"
    access = Access.FETCH

    def recognise(self, raw: str) -> str | None:
        text = raw.strip().strip("<>")
        if not _HTTP.match(text):
            return None
        parts = split_link(text)  # link.invalid: a bad port, host or bracket
        if not parts.hostname:
            raise FerrymanError("link.invalid", f"'{self.describe(text)}' has no host")
        return urllib.parse.urlunsplit(parts._replace(scheme=parts.scheme.lower(), fragment=""))

    def describe(self, uri: str) -> str:
        """The link without secrets: no user info, and the query (tokens) elided."""
        from ferryman.net.http import shown_url  # lazy: start-up

        return shown_url(uri)

    def local_path(self, uri: str) -> None:
        return None  # the fetched copy is the engine's (ReadOptions.fetched)

    def with_profile(self, uri: str, profile: Profile | None, fresh: bool) -> str | None:
        """A link asked as audio or a quality goes to the link converter (``media:``);
        with ``fresh`` alone, only a platform's link does."""
        from ferryman.links.uri import as_media  # lazy: start-up

        return as_media(uri, profile, fresh=fresh)

    def inspect(self, uri: str) -> Inspection:
        parts = split_link(uri)
        last = urllib.parse.unquote(PurePosixPath(parts.path).name)
        stripped = strip_archive_suffixes(last)
        if stripped == last and PurePosixPath(last).suffix:  # clip.mp4 → clip, as for files
            stripped = PurePosixPath(last).stem
        return Inspection(safe_name(stripped or parts.hostname or "", "link"), uri)

    async def fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        try:
            return await self._fetch(uri, plan)
        except FerrymanError as exc:
            hinted = _expired_hint(uri, exc)
            if hinted is exc:
                raise  # its cause kept (`raise exc from exc` made it its own)
            raise hinted from exc

    async def _fetch(self, uri: str, plan: FetchPlan) -> Fetched:

        from ferryman.net.download import download  # lazy: start-up
        from ferryman.net.kinds import LinkKind  # lazy: start-up
        from ferryman.net.own_thread import on_own_thread  # lazy: start-up
        from ferryman.net.probe import probe  # lazy: start-up

        async with plan.client() as client:
            facts = await probe(client, uri, network=plan.network)
            if facts.kind is LinkKind.PAGE or _manifest(facts):
                # a page around media, or an HLS/DASH playlist: the link converter's
                from ferryman.links.profile import Profile  # lazy: start-up
                from ferryman.links.uri import MediaRef  # lazy: start-up
                from ferryman.sources.media_link import fetch_media  # lazy: start-up

                return await fetch_media(MediaRef(uri, Profile()), plan)
            if self._in_place(facts, plan) and await on_own_thread(
                _zip_readable_in_place, uri, plan
            ):  # a slow origin holds it for minutes: not the loop's shared pool
                return Fetched(None, facts.size, facts.name)  # read where it is
            if self._streams(facts, plan):
                return Fetched(None, facts.size, facts.name)  # read as it downloads
            got = await download(
                client,
                uri,
                plan.folder,
                network=plan.network,
                retry=plan.retry,
                wait_to_write=plan.wait_to_write,
                on_progress=plan.on_progress,
            )
        return Fetched(got.path, got.size, got.name)

    @staticmethod
    def _in_place(facts: LinkFacts, plan: FetchPlan) -> bool:
        """Whether to try reading a zip where it is: the server answers Range and says
        (by its bytes, type or name) it is a zip; the central directory decides."""
        from ferryman.net.kinds import LinkKind, mime_type  # lazy: start-up

        zip_like = (
            facts.head[:2] == b"PK"
            or mime_type(facts.content_type) in _ZIP_TYPES
            or facts.name.lower().endswith(".zip")
        )
        return (
            plan.network.stream_archives == "auto"
            and facts.accepts_ranges
            and bool(facts.size)
            and facts.kind in (LinkKind.ARCHIVE, LinkKind.OTHER)
            and zip_like
        )

    @staticmethod
    def _streams(facts: LinkFacts, plan: FetchPlan) -> bool:
        """Whether to read a tar (plain or compressed) front to back as it downloads:
        the server answers Range (a cut is picked up where it stopped) and the bytes,
        name or type say tar."""
        from ferryman.net.kinds import LinkKind, tar_stream  # lazy: start-up

        return (
            plan.network.stream_archives == "auto"
            and facts.accepts_ranges
            and bool(facts.size)
            and facts.kind in (LinkKind.ARCHIVE, LinkKind.OTHER)
            and tar_stream(facts.head, facts.name, facts.content_type)
        )

    @contextmanager
    def open(self, uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
        from ferryman.sources.local import iter_local  # lazy: start-up

        if options.fetched is not None and options.fetched.is_dir():  # a page, a stream
            from ferryman.sources.media_link import read_made  # lazy: start-up

            with read_made(options.fetched, options) as entries:
                yield entries
            return
        if options.fetched is not None:
            with iter_local(options.fetched, options) as entries:
                yield entries
            return
        with _remote_archive(uri, options) as entries:
            yield entries

    @contextmanager
    def zip_in_place(self, uri: str, options: ReadOptions) -> Iterator[ArchiveReader | None]:
        """The zip at ``uri`` read by Range where it lies (not entered), for a look at
        its central directory and small files (a Takeout's sidecars: ``sources/batch``)."""
        from ferryman.config import Retry  # lazy: start-up

        network = options.network or NetworkSettings()  # type: ignore[call-arg]
        retry = options.settings.retry if options.settings else Retry.model_validate({})
        name = urllib.parse.unquote(PurePosixPath(urllib.parse.urlsplit(uri).path).name)
        with _sync_client(network) as client, ExitStack() as stack:
            final, size, validator, _ = _head_facts(client, uri)
            link = _Pinned(client, final, size, validator, retry)
            yield _zip_in_place(stack, link, name or "link", options)


_MANIFEST_TYPES = frozenset(
    {
        "application/vnd.apple.mpegurl",
        "application/x-mpegurl",
        "audio/mpegurl",
        "audio/x-mpegurl",
        "application/dash+xml",
    }
)


def _manifest(facts: LinkFacts) -> bool:
    """An HLS or DASH playlist (by type or bytes): a stream to assemble, not a file."""
    from ferryman.net.kinds import mime_type  # lazy: start-up

    head = facts.head.lstrip()[:512]
    return (
        mime_type(facts.content_type) in _MANIFEST_TYPES
        or head.startswith(b"#EXTM3U")
        or (head.startswith(b"<?xml") and b"<MPD" in head)
        or head.startswith(b"<MPD")
    )


def _expired_hint(uri: str, exc: FerrymanError) -> FerrymanError:
    """A debrid CDN link (Torbox's ``*.tb-cdn.st``) that is refused has most likely
    expired: say so, and what lasts instead. Other errors pass unchanged."""
    host = (urllib.parse.urlsplit(uri).hostname or "").lower()
    if not host.endswith(".tb-cdn.st") or exc.code not in ("source.auth", "source.not_found"):
        return exc
    return FerrymanError(
        exc.code,
        f"{exc.message}: this Torbox link has expired; add torbox:torrent/ID (or usenet/,"
        " webdl/) instead, which ferryman renews by itself, or a fresh link",
    )


def _sync_client(network: NetworkSettings) -> httpx.Client:
    from ferryman.net.http import make_sync_client  # lazy: start-up

    return make_sync_client(network)


def _head(client: httpx.Client, uri: str) -> tuple[str, int, str | None]:
    """The final URL, size and validator of a link, for reading it by range."""
    final, size, validator, _ = _head_facts(client, uri)
    return final, size, validator


def _head_facts(client: httpx.Client, uri: str) -> tuple[str, int, str | None, str | None]:
    """``_head``, and the Content-Type. A server that refuses HEAD (a presigned link
    often does: 403 or 405), or answers it with a page where the probe's GET found a
    file, is asked by a GET of the first byte, as the probe does."""
    import httpx  # lazy: start-up

    from ferryman.net.http import (  # lazy: start-up
        content_length,
        shown_url,
        status_error,
        transport_error,
    )
    from ferryman.net.kinds import LinkKind, kind_of  # lazy: start-up

    try:
        response = client.head(uri)
        said = response.headers.get("content-type")
        if response.status_code >= 400 or kind_of(said) is LinkKind.PAGE:
            return _first_byte_facts(client, uri)
    except httpx.HTTPError as exc:
        raise transport_error(exc, uri) from exc
    if response.status_code != 200:
        raise status_error(response)
    size = content_length(response)
    if not size:
        raise FerrymanError(_NO_SIZE, f"{shown_url(uri)}: the server gives no size")
    return str(response.url), size, _validator(response), response.headers.get("content-type")


def _first_byte_facts(client: httpx.Client, uri: str) -> tuple[str, int, str | None, str | None]:
    """What a HEAD would have said, from ``Range: bytes=0-0`` (the total in its
    Content-Range); a server that answers it with the whole file takes no ranges."""
    from ferryman.net.http import parse_content_range, shown_url, status_error  # lazy: start-up

    with client.stream("GET", uri, headers={"Range": "bytes=0-0"}) as response:
        if response.status_code == 200:
            raise FerrymanError(
                "source.http.no_ranges",
                f"{shown_url(uri)}: the server sent the whole file when asked for a part",
            )
        if response.status_code != 206:
            response.read()
            raise status_error(response)
        span = parse_content_range(response.headers.get("content-range"))
        if span is None or not span.total:
            raise FerrymanError(_NO_SIZE, f"{shown_url(uri)}: the server gives no size")
        return (
            str(response.url),
            span.total,
            _validator(response),
            response.headers.get("content-type"),
        )


def _validator(response: httpx.Response) -> str | None:
    """What ``If-Range`` may pin: a strong ETag, else Last-Modified."""
    validator: str | None = response.headers.get("etag")
    if validator is None or validator.startswith("W/"):
        validator = response.headers.get("last-modified")
    return validator


def _zip_readable_in_place(uri: str, plan: FetchPlan) -> bool:
    """Whether the zip's central directory reads over Range and holds only what the
    in-place backend reads (else it is fetched whole for the full backends). A server
    whose HEAD gives no size, or that sends the whole file when asked for a part (its
    ``Accept-Ranges`` notwithstanding), is not read in place but downloaded."""
    from ferryman.archive.zipfile_backend import readable_in_place  # lazy: start-up
    from ferryman.net.rangefile import open_range_file  # lazy: start-up

    with _sync_client(plan.network) as client:
        try:
            final, size, validator = _head(client, uri)
            with open_range_file(client, final, size, validator, plan.retry) as remote:
                return readable_in_place(remote)
        except FerrymanError as exc:
            if exc.code not in _NOT_BY_RANGE:
                raise
            log.info("%s: downloading it whole (%s)", exc.message, exc.code)
            return False


_NO_SIZE = "source.http.no_size"  # a HEAD without Content-Length: ranges cannot be planned
# Seen only while deciding: a file that "changed" between two requests a second apart
# is more likely served by balanced origins whose validators differ; downloading it
# whole is right either way.
_NOT_BY_RANGE = frozenset({"source.http.no_ranges", "source.http.changed", _NO_SIZE})


@contextmanager
def _remote_archive(uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
    """An archive read where it is (nothing stored): a tar front to back as it
    downloads, a zip by range (the central directory, then only the entries read).
    The first bytes, asked again, say which (the fetch stage decided the same way)."""
    from ferryman.archive.guard import GuardedReader, NestingTally  # lazy: start-up
    from ferryman.config import Retry  # lazy: start-up
    from ferryman.sources.local import archive_entries  # lazy: start-up
    from ferryman.sources.takeout_remote import reader_index  # lazy: start-up

    network = options.network or NetworkSettings()  # type: ignore[call-arg]
    retry = options.settings.retry if options.settings else Retry.model_validate({})
    name = urllib.parse.unquote(PurePosixPath(urllib.parse.urlsplit(uri).path).name) or "link"
    with _sync_client(network) as client:
        final, size, validator, content_type = _head_facts(client, uri)
        _same_as_before(options, uri, size, validator)
        link = _Pinned(client, final, size, validator, retry)
        tally = NestingTally()
        with ExitStack() as stack:
            by_range = not _tar_read(link, name, content_type)
            if by_range:
                inner = _zip_in_place(stack, link, name, options)
            else:
                inner = _tar_stream(stack, link, name, options)
            reader = stack.enter_context(GuardedReader(inner, name, options.archive.limits, tally))
            # By range, an entry skipped at its head is not fetched; a stream reads past it.
            entries = archive_entries(reader, options, tally, over_network=by_range)
            index = reader_index(name, inner) if by_range else None  # a Google Takeout
            yield entries if index is None else map(index.told, entries)


_PIN_KEY = "http.pinned"


def _same_as_before(options: ReadOptions, uri: str, size: int, validator: str | None) -> None:
    """The file read in place is the one an earlier run began on (its size and validator
    are kept in the source memo), or ``source.http.replaced``: entries are counted by
    index, so reading a new version past the cursor would skip some and mix two files."""
    import json  # lazy: start-up

    from ferryman.net.http import shown_url  # lazy: start-up

    if options.memo is None:
        return
    now = json.dumps([size, validator])
    before = options.memo.get(_PIN_KEY)
    if before is None:
        options.memo.put(_PIN_KEY, now)
    elif before != now:
        raise FerrymanError(
            "source.http.replaced",
            f"{shown_url(uri)} changed on the server after ferryman began reading it",
        )


@dataclass(frozen=True, slots=True)
class _Pinned:
    """A link's final URL with its size and validator: what every read in place pins."""

    client: httpx.Client
    url: str
    size: int
    validator: str | None
    retry: Retry


def _tar_read(link: _Pinned, name: str, content_type: str | None) -> bool:
    """Whether the archive the fetch stage left in place is a tar (else a zip): the type
    or the name when they say, else the first KiB."""
    from ferryman.net.kinds import mime_type, tar_stream  # lazy: start-up
    from ferryman.net.rangefile import RangeFile  # lazy: start-up

    if mime_type(content_type) in _ZIP_TYPES or name.lower().endswith(".zip"):
        return False
    if tar_stream(b"", name, content_type):
        return True
    remote = RangeFile(link.client, link.url, link.size, link.validator, link.retry)
    head = remote.read(min(1024, link.size)) or b""
    return head[:2] != b"PK" and tar_stream(head, name, content_type)


def _tar_stream(stack: ExitStack, link: _Pinned, name: str, options: ReadOptions) -> ArchiveReader:
    """libarchive over one GET of the whole body, resumed by Range when cut; in its box
    (``archive.box.stream``), in-process only where no child can be forked."""
    import io  # lazy: start-up

    from ferryman.archive.box.stream import BoxedStreamReader  # lazy: start-up
    from ferryman.archive.libarchive.backend import LibarchiveReader  # lazy: start-up
    from ferryman.net.streamfile import StreamFile  # lazy: start-up

    body = StreamFile(link.client, link.url, link.size, link.validator, link.retry)
    buffered = stack.enter_context(io.BufferedReader(stack.enter_context(body), 1 << 20))
    try:
        return stack.enter_context(BoxedStreamReader(buffered, name, link.size, options.archive))
    except OSError as exc:  # no memory for a child: read as before
        log.warning("%s: read in-process (no child process: %s)", name, exc)
    return LibarchiveReader.from_stream(buffered, name, options.archive)


def _zip_in_place(
    stack: ExitStack, link: _Pinned, name: str, options: ReadOptions
) -> ArchiveReader:
    """A zip by range: its central directory, then each entry read up to its end and no
    further, the next one asked for ahead (``net.rangewindows``): a restart or a skip
    is sent little more than what it used."""
    import io  # lazy: start-up

    from ferryman.archive.zipfile_backend import ZipfileReader  # lazy: start-up
    from ferryman.net.rangefile import READ_AHEAD, RangeFile  # lazy: start-up

    remote = RangeFile(link.client, link.url, link.size, link.validator, link.retry)
    buffered = stack.enter_context(io.BufferedReader(remote, READ_AHEAD))
    return ZipfileReader(buffered, name, options.archive, tell=remote.want)
