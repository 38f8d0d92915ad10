"""Turning what a person hands over into jobs: source URIs, names, dedupe keys, early errors."""

from __future__ import annotations

import asyncio
import hashlib
import urllib.parse
from pathlib import Path, PurePosixPath

from ferryman.archive.suffixes import strip_archive_suffixes
from ferryman.config import Settings
from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.model import Job
from ferryman.sinks.base import SinkRegistry
from ferryman.sinks.builtin import default_sinks
from ferryman.sources.base import Access, Inspection, Source, SourceRegistry
from ferryman.sources.builtin import default_sources
from ferryman.store import Store


def dedupe_key(ident: str, dest: str) -> str:
    """The same input (its source's identity) to the same place is one job, unless forced."""
    return hashlib.sha256(f"{dest}|{ident}".encode()).hexdigest()


def _fallback_name(described: str) -> str:
    """A job name when the source could not say one: the last part of what was given
    (of a URI's path: ``mem:trip`` → ``trip``, ``https://h/a/b.zip?x`` → ``b``)."""
    parts = urllib.parse.urlsplit(described)
    tail = parts.path or parts.netloc or described if parts.scheme else described
    last = PurePosixPath(tail.rstrip("/")).name or described
    return safe_name(strip_archive_suffixes(last), "job")


def _inspect(source: Source, uri: str) -> Inspection | FerrymanError:
    try:
        return source.inspect(uri)
    except FerrymanError as exc:
        return exc


async def add_source(
    store: Store,
    raw: str | Path,
    *,
    dest: str = "library:",
    password: str | None = None,
    priority: int = 0,
    force: bool = False,
    sources: SourceRegistry | None = None,
    sinks: SinkRegistry | None = None,
    settings: Settings | None = None,
) -> Job:
    """Record one input (a path, a URI, a link) as a job. An input its source cannot
    read (a missing path, an empty file…) is recorded failed, with its code, so the
    person sees it in ``status``.

    Raises ``source.duplicate`` (nothing recorded) when the same input was added
    before, and ``source.unsupported`` / ``sink.unknown`` (nothing recorded) for an
    input or a destination ferryman does not know. With ``settings`` (front doors pass
    theirs), a destination that cannot work yet is refused too, nothing recorded
    (not configured, not logged in: the kind says which), instead of every album
    failing later; the check is offline and cheap.
    """
    destinations = sinks or default_sinks()
    destinations.parse(dest)
    if settings is not None:
        destinations.check_ready(settings, dest)
    registry = sources or default_sources()
    uri = registry.to_uri(str(raw))
    source = registry.for_uri(uri)
    found = await asyncio.to_thread(_inspect, source, uri)
    if isinstance(found, FerrymanError):
        error: FerrymanError | None = found
        described = source.describe(uri)
        found = Inspection(_fallback_name(described), f"{described}|missing")
    else:
        error = None
    key = None if force else dedupe_key(found.ident, dest)
    name = await store.unique_name(found.name, dest)
    return await store.add_job(
        fetch=source.access is Access.FETCH,
        source=uri,
        name=name,
        dest=dest,
        priority=priority,
        password=password,
        dedupe_key=key,
        error=error,
    )
