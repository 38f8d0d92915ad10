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

from ferryman.archive.suffixes import strip_archive_suffixes
from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.sources.base import Access, Fetched, FetchPlan, Inspection, ReadOptions, SourceEntry

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
        parts = urllib.parse.urlsplit(uri)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        shown = urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))
        return shown + ("?…" if parts.query else "")

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

    @contextmanager
    def open(self, uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
        if options.fetched is None:
            raise FerrymanError("engine.internal", f"{self.describe(uri)} was not fetched first")
        from ferryman.sources.local import iter_local

        with iter_local(options.fetched, options) as entries:
            yield entries
