"""Turning what a person hands over into jobs: source URIs, names, dedupe keys, early errors."""

from __future__ import annotations

import hashlib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ferryman.archive.suffixes import file_job_name, strip_archive_suffixes
from ferryman.config import Settings
from ferryman.engine.ops import limits
from ferryman.engine.ops.who import MACHINE, Who, own_source
from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.links.profile import Profile
from ferryman.model import Job
from ferryman.sinks.base import SinkRegistry
from ferryman.sinks.builtin import default_sinks
from ferryman.sources.base import Access, Inspection, Ready, Source, SourceRegistry
from ferryman.sources.builtin import default_sources

if TYPE_CHECKING:  # `ferryman add` writes through the light store, without SQLAlchemy
    from ferryman.store.ports import Intake
    from ferryman.store.startup.sqlite3_store import Sqlite3Store


def dedupe_key(ident: str, dest: str) -> str:
    """The same input (its source's identity) to the same place is one job, unless forced."""
    return hashlib.sha256(f"{dest}|{ident}".encode()).hexdigest()


def entry_job(
    raw: str,
    *,
    dest: str,
    ident: str | None,
    profile: Profile | None,
    sources: SourceRegistry,
    sinks: SinkRegistry,
) -> dict[str, object]:
    """A watch's new entry as a job's row (``add_job``'s arguments), understood as any
    input is (``understand``; the destination was checked for the whole look). The
    watch stage is handed this (``watch/check.EntryJob``) and imports no operation.
    ``ident``: the entry's identity at its source, which makes it one job however its
    link is spelled."""
    new = understand(raw, dest=dest, sources=sources, sinks=sinks, profile=profile)
    job = new.job(new.name, 0, None)
    if ident is not None:
        job["dedupe_key"] = dedupe_key(ident, str(job["dest"]))
    return job


def _fallback_name(described: str) -> str:
    """A job name when the source could not say one: the last part of what was given
    (of a URI's path: ``mem:trip`` → ``trip``, ``https://h/a/b.zip?x`` → ``b``)."""
    try:
        parts = urllib.parse.urlsplit(described)
    except ValueError:  # a path such as //[x reads as a broken host: the text is the name
        tail = described
    else:
        tail = parts.path or parts.netloc or described if parts.scheme else described
    last = PurePosixPath(tail.rstrip("/")).name or described
    return safe_name(strip_archive_suffixes(last), "job")


def _inspect(source: Source, uri: str) -> Inspection | FerrymanError:
    try:
        return source.inspect(uri)
    except FerrymanError as exc:
        return exc


@dataclass(frozen=True, slots=True)
class NewInput:
    """What a job is made of: its source URI, whether it is fetched first, its name,
    its dedupe key (None: forced), and the error that fails it at once, if any."""

    uri: str
    fetch: bool
    name: str
    dedupe_key: str | None
    error: FerrymanError | None
    described: str  # as a person names it: a link without its secrets
    dest: str  # the destination made canonical (``SinkKind.parse``)

    def job(
        self, name: str, priority: int, password: str | None, account: int | None = None
    ) -> dict[str, Any]:
        """The store's ``add_job`` arguments (the full store and the start-up one alike:
        both write them through ``store/jobs/new.insert_job``); ``account``'s (whose
        job) only scopes the dedupe key: the caller hands it to ``add_job`` too."""
        key = self.dedupe_key
        if account is not None and key is not None:
            # A person's own: the same link from another is their job, not "already job N".
            key = dedupe_key(key, f"account:{account}")
        return {
            "fetch": self.fetch,
            "source": self.uri,
            "name": name,
            "dest": self.dest,
            "priority": priority,
            "password": password,
            "dedupe_key": key,
            "error": self.error,
        }

    def duplicate(self, exc: FerrymanError) -> FerrymanError:
        """The store's "already job N", naming the input the way a person sees it."""
        if exc.code != "source.duplicate":
            return exc
        return FerrymanError(exc.code, f"{self.described} is {exc.message}")


def understand(
    raw: str | Path,
    *,
    dest: str = "library:",
    force: bool = False,
    sources: SourceRegistry | None = None,
    sinks: SinkRegistry | None = None,
    settings: Settings | None = None,
    profile: Profile | None = None,
) -> NewInput:
    """Everything ``add_source`` decides before it writes. Blocking (the source may
    look at the input): call it off the event loop.

    Raises ``source.unsupported`` / ``sink.unknown`` for an input or a destination
    ferryman does not know; with ``settings``, a destination or an input that cannot
    work yet is refused (not configured, not logged in, no debrid key: the kind says
    which), instead of the job failing later; the check is offline and cheap.
    """
    destinations = sinks or default_sinks()
    dest = destinations.parse(dest).text  # library:out is where `add` ran, not `run`
    if settings is not None:
        destinations.check_ready(settings, dest)
    registry = sources or default_sources()
    uri = _with_profile(registry, registry.to_uri(str(raw)), profile, force)
    source = registry.for_uri(uri)
    if settings is not None and isinstance(source, Ready):
        source.check_ready(settings, uri)  # a debrid key, a login: refused now, not at its run
    found = _inspect(source, uri)
    if isinstance(found, FerrymanError):
        error: FerrymanError | None = found
        described = source.describe(uri)
        found = Inspection(_fallback_name(described), f"{described}|missing")
    else:
        error = None
    key = None if force else dedupe_key(found.ident, dest)
    fetch = source.access is Access.FETCH
    return NewInput(uri, fetch, found.name, key, error, source.describe(uri), dest)


def _with_profile(registry: SourceRegistry, uri: str, profile: Profile | None, force: bool) -> str:
    """An input whose source takes an output profile (a web link) carries it (or, added
    with ``force``, skips the result cache) in its URI; a profile for any other input
    (a file, a t.me message, a Torbox item) is refused, nothing recorded."""
    if profile is None and not force:
        return uri
    made = registry.with_profile(uri, profile, force)
    if made is None and profile is not None:
        # A file by its name: a web upload's path on the server is nobody's business.
        path = registry.for_uri(uri).local_path(uri)
        named = path.name if path is not None else uri
        raise FerrymanError(
            "link.output_for_file",
            f"{named} is not a link to media: a quality, mute or a playlist applies to"
            " links only (a video file can be made audio only)",
        )
    return made or uri


def message_input(uri: str, file_name: str, dest: str, sinks: SinkRegistry) -> NewInput:
    """A file a front door received as a message (``tg:u/…``, made by the door, never
    typed): fetched first, named after its file; no dedupe key (the door keeps its own,
    by the file's id)."""
    dest = sinks.parse(dest).text
    return NewInput(uri, True, file_job_name(file_name), None, None, file_name, dest)


async def add_source(
    store: Intake,
    raw: str | Path,
    *,
    dest: str = "library:",
    password: str | None = None,
    priority: int = 0,
    force: bool = False,
    sources: SourceRegistry | None = None,
    sinks: SinkRegistry | None = None,
    settings: Settings | None = None,
    profile: Profile | None = None,
    notify: str | None = None,
    memos: dict[str, str] | None = None,
    who: Who = MACHINE,
) -> Job:
    """Record one input (a path, a URI, a link) as a job (``memos``: source memos it
    starts with, such as the entries a person chose: ``engine.plumbing.chosen``;
    ``who``: who asks, the job's person, within their limits: ``ops/limits``; the
    machine's own user by default, whose jobs are the administrator's; the door made
    ``dest`` a place of theirs: ``ops/who.own_dest``).
    An input
    its source cannot read (a missing path, an empty file…) is recorded failed, with its
    code, so the person sees it in ``status``.

    Raises ``source.duplicate`` (nothing recorded) when the same input was added
    before, and what ``understand`` raises (nothing recorded).
    """
    import asyncio  # lazy: start-up

    await limits.check(store, who)
    if not who.admin:  # before the input is looked at (a login it needs, say)
        try:
            typed = (sources or default_sources()).to_uri(str(raw))
        except FerrymanError:
            typed = ""  # ``understand`` says why
        own_source(who, typed, settings)
    account = who.owner
    if settings is not None and not who.admin:  # a person's rclone: remotes are their own
        from ferryman.net.rclone_conf import own_settings  # lazy: start-up

        settings = await asyncio.to_thread(own_settings, settings, account, (str(raw), dest))
    new = await asyncio.to_thread(
        understand,
        raw,
        dest=dest,
        force=force,
        sources=sources,
        sinks=sinks,
        settings=settings,
        profile=profile,
    )
    try:
        name = await store.unique_name(new.name, new.dest)
        args = new.job(name, priority, password, account)
        job = await store.add_job(**args, notify=notify, memos=memos, account=account)
    except FerrymanError as exc:
        raise new.duplicate(exc) from exc
    if job.error_code is None:
        await store.wake_engines()  # a running engine, maybe another process, takes it now
    return job


def add_source_now(
    store: Sqlite3Store,
    raw: str | Path,
    *,
    dest: str = "library:",
    password: str | None = None,
    priority: int = 0,
    force: bool = False,
    settings: Settings | None = None,
    profile: Profile | None = None,
    notify: str | None = None,
) -> Job:
    """``add_source`` through the light store, for ``ferryman add``: no event loop,
    no SQLAlchemy; the same decisions and the same row."""
    new = understand(raw, dest=dest, force=force, settings=settings, profile=profile)
    try:
        name = store.unique_name(new.name, new.dest)
        return store.add_job(**new.job(name, priority, password), notify=notify)
    except FerrymanError as exc:
        raise new.duplicate(exc) from exc
