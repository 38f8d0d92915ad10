"""The ``http(s):`` source: a direct link to a file or an archive.

Nothing is asked of the server when the link is added (``add`` stays fast and works
offline); the engine's fetch stage calls ``fetch`` first, which probes the link and
decides by what the server says it is (Content-Type, then the bytes), never by the
link's extension: an HTML page is not the file (``link.unsupported`` until links to
media exist); anything else is downloaded, resumably, into the job's work area, and
read from there like a local input.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ferryman.archive.suffixes import strip_archive_suffixes
from ferryman.config import NetworkSettings
from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.sources.base import Access, Fetched, FetchPlan, Inspection, ReadOptions, SourceEntry

if TYPE_CHECKING:  # httpx loads when a link is fetched or read, not when it is added
    import httpx

    from ferryman.net.probe import LinkFacts

_HTTP = re.compile(r"^https?://", re.IGNORECASE)


class HttpSource:
    """Direct links, fetched first into the work area."""

    schemes: tuple[str, ...] = ("http", "https")
    access = Access.FETCH

    def recognise(self, raw: str) -> str | None:
        text = raw.strip().strip("<>")
        if not _HTTP.match(text):
            return None
        parts = urllib.parse.urlsplit(text)
        if not parts.hostname:
            raise FerrymanError("link.invalid", f"'{raw}' has no host")
        return urllib.parse.urlunsplit(parts._replace(scheme=parts.scheme.lower(), fragment=""))

    def describe(self, uri: str) -> str:
        """The link without secrets: no user info, and the query (tokens) elided."""
        from ferryman.net.http import shown_url

        return shown_url(uri)

    def local_path(self, uri: str) -> None:
        return None  # the fetched copy is the engine's (ReadOptions.fetched)

    def inspect(self, uri: str) -> Inspection:
        parts = urllib.parse.urlsplit(uri)
        last = urllib.parse.unquote(PurePosixPath(parts.path).name)
        stripped = strip_archive_suffixes(last)
        if stripped == last and PurePosixPath(last).suffix:  # clip.mp4 → clip, as for files
            stripped = PurePosixPath(last).stem
        return Inspection(safe_name(stripped or parts.hostname or "", "link"), uri)

    async def fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        import asyncio

        from ferryman.net.download import download
        from ferryman.net.kinds import LinkKind
        from ferryman.net.probe import probe

        async with plan.client() as client:
            facts = await probe(client, uri, network=plan.network)
            if facts.kind is LinkKind.PAGE:
                raise FerrymanError(
                    "link.unsupported",
                    f"{self.describe(uri)} is a web page ({facts.content_type or 'HTML'}),"
                    " not a file",
                )
            if self._in_place(facts, plan) and await asyncio.to_thread(
                _zip_readable_in_place, uri, plan
            ):
                return Fetched(None, facts.size, facts.name)  # read where it is
            got = await download(
                client,
                uri,
                plan.folder,
                network=plan.network,
                retry=plan.retry,
                make_room=plan.make_room,
                on_progress=plan.on_progress,
            )
        return Fetched(got.path, got.size, got.name)

    @staticmethod
    def _in_place(facts: LinkFacts, plan: FetchPlan) -> bool:
        """Whether to try reading a zip where it is: the server answers Range and says
        (by its bytes, type or name) it is a zip; the central directory decides."""
        from ferryman.net.kinds import LinkKind

        zip_like = (
            facts.head[:2] == b"PK"
            or "zip" in (facts.content_type or "").lower()
            or facts.name.lower().endswith(".zip")
        )
        return (
            plan.network.stream_archives == "auto"
            and facts.accepts_ranges
            and bool(facts.size)
            and facts.kind in (LinkKind.ARCHIVE, LinkKind.OTHER)
            and zip_like
        )

    @contextmanager
    def open(self, uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
        from ferryman.sources.local import iter_local

        if options.fetched is not None:
            with iter_local(options.fetched, options) as entries:
                yield entries
            return
        with _remote_zip(uri, options) as entries:
            yield entries


def _sync_client(network: NetworkSettings) -> httpx.Client:
    import httpx

    from ferryman.net.http import request_timeout

    return httpx.Client(
        follow_redirects=True,
        max_redirects=network.max_redirects,
        headers={"User-Agent": network.user_agent},
        timeout=request_timeout(network),
    )


def _head(client: httpx.Client, uri: str) -> tuple[str, int, str | None]:
    """The final URL, size and validator of a link, for reading it by range."""
    import httpx

    from ferryman.net.http import content_length, status_error, transport_error

    try:
        response = client.head(uri)
    except httpx.HTTPError as exc:
        raise transport_error(exc, uri) from exc
    if response.status_code != 200:
        raise status_error(response)
    size = content_length(response)
    if not size:
        raise FerrymanError("source.http.refused", f"{uri}: the server gives no size")
    validator = response.headers.get("etag")
    if validator is None or validator.startswith("W/"):
        validator = response.headers.get("last-modified")
    return str(response.url), size, validator


def _zip_readable_in_place(uri: str, plan: FetchPlan) -> bool:
    """Whether the zip's central directory reads over Range and holds only what the
    in-place backend reads (else it is fetched whole for the full backends)."""
    import zipfile

    from ferryman.archive.zipfile_backend import unreadable_reason
    from ferryman.net.rangefile import open_range_file

    with _sync_client(plan.network) as client:
        final, size, validator = _head(client, uri)
        with open_range_file(client, final, size, validator, plan.retry) as remote:
            try:
                with zipfile.ZipFile(remote) as archive:
                    return unreadable_reason(archive) is None
            except zipfile.BadZipFile:
                return False


@contextmanager
def _remote_zip(uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
    """A zip read where it is: the central directory, then only the entries read."""
    from ferryman.archive.guard import GuardedReader, NestingTally
    from ferryman.archive.zipfile_backend import ZipfileReader
    from ferryman.config import Retry
    from ferryman.net.rangefile import open_range_file
    from ferryman.sources.local import archive_entries

    network = options.network or NetworkSettings()  # type: ignore[call-arg]
    name = urllib.parse.unquote(PurePosixPath(urllib.parse.urlsplit(uri).path).name) or "link"
    with _sync_client(network) as client:
        final, size, validator = _head(client, uri)
        with open_range_file(client, final, size, validator, Retry()) as remote:  # type: ignore[call-arg]
            tally = NestingTally()
            inner = ZipfileReader(remote, name, options.archive)
            reader = GuardedReader(inner, name, options.archive.limits, tally)
            with reader:
                yield archive_entries(reader, options, tally)
