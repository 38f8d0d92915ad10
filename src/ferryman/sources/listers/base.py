"""The watch-lister seam: a kind of source a watch can follow, and what it lists.

A lister lists the entries a source holds now, each with a stable id (the same entry
has the same id at every check, so the store's ``watch_seen`` can tell new from old)
and the input a job is made of (a link the source registry reads). Listing is
network work: ``entries`` is async and keeps its blocking part off the event loop
(a thread, or a child process for yt-dlp).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from ferryman.config import Settings
from ferryman.errors import FerrymanError
from ferryman.sources.takeout_names import PART, part_key
from ferryman.urls import split_link


@dataclass(frozen=True, slots=True)
class WatchEntry:
    """One entry of a watched source."""

    id: str  # stable across checks: a feed's guid, a file's href + ETag, a video's id
    input: str  # what a job is made of: a link or URI the source registry understands
    title: str
    duration: float | None = None  # seconds, when the source says
    published: float | None = None  # epoch seconds, when the source says
    # Why this entry makes no job (a chat's text post, listed so the chat's reading
    # point passes it): it is only marked seen. None: an entry like any other.
    skip: str | None = None
    # The input's identity when the source is spelled several ways (a Telegram chat by
    # its name or its number): jobs dedupe by it, so two watches of one chat to one
    # place make each job once. None: the input's own (``Source.inspect``).
    ident: str | None = None
    # The name of what lists it, when the source says one (a feed's title): the job a
    # look makes is called so. None: named after the source's link.
    group: str | None = None
    # Not yet: a file still being written, looked at again at this time (epoch
    # seconds). Neither recorded nor seen; the watch's next look is no later.
    ready_at: float | None = None
    # The file's own name where the title is something else (a post's caption): what
    # tells a Google Takeout's part (``engine/watch/takeout_hold``). None: the title's.
    name: str | None = None


def part_set(entry: WatchEntry) -> tuple[str, str] | None:
    """The Google Takeout set ``entry`` is a part of (its folder, the set's name), or
    None: by its file's own name when the source says one (a post's caption is its
    title). A watch holds a set's parts together (``engine/watch/takeout_hold``): a
    ``.tgz`` set in a folder on this machine only, the one place its parts are indexed
    together (``sources/takeout_tar``); elsewhere each ``.tgz`` is read as it comes."""
    folder, _, name = (entry.name or entry.title).rpartition("/")
    found = PART.match(name)
    if found is None:
        return None
    stem, kind = part_key(found)
    if kind != "zip" and not entry.input.startswith(("file:", "rclone:")):
        return None
    return folder, f"{stem}.{kind}"


@dataclass(frozen=True, slots=True)
class Seen:
    """What a watch knows before it lists, for a source read on from a point (a chat's
    history): the stable ids it has seen, and the first check's ``--since`` (``now``,
    ``all``, ``N``), or None once the first check happened."""

    ids: tuple[str, ...]
    first: str | None


@runtime_checkable
class Resuming(Protocol):
    """A kind of source read on from what the watch saw last (a chat's history from its
    last seen message), rather than listed whole at each check."""

    async def entries_after(self, source: str, settings: Settings, seen: Seen) -> list[WatchEntry]:
        """What is new since ``seen`` (on a first check: what ``seen.first`` asks for,
        and the newest message, so the next check starts after it)."""
        ...


@runtime_checkable
class Ready(Protocol):
    """A kind of source that needs something set up first (a Telegram login, an
    rclone remote)."""

    def check_ready(self, settings: Settings, source: str) -> None:
        """Raise a coded FerrymanError when the watch could not list ``source``
        (blocking: off the event loop)."""
        ...


@runtime_checkable
class ReadsThrough(Protocol):
    """A kind of source read through one of the server's own accounts (a Telegram
    chat by its number: the account ferryman runs as reads it)."""

    def read_through(self, source: str) -> str | None:
        """The input ``source`` is read as, for ``ops/who.own_source`` to judge whether
        a person may (``tg:c/ID/0`` for a private chat), or None: nothing to judge."""
        ...


@runtime_checkable
class Placed(Protocol):
    """A kind of source on this machine (a folder), stored as a path of its own."""

    def placed(self, source: str, settings: Settings, *, remote: bool) -> str:
        """``source`` as stored (an absolute path); a coded FerrymanError when it is
        none, or, ``remote`` (asked through the API or the chat), when it is not a place
        the settings let a front door from afar name."""
        ...


@runtime_checkable
class Notifying(Protocol):
    """A kind of source that can say when it changed (a folder, through the platform's
    change notices): the engine then looks at its watch early. The watch's period still
    holds: a notice only wakes it sooner."""

    def changes(self, source: str) -> AsyncIterator[set[str]]:
        """What changed, a batch at a time, for as long as it is iterated; ends at
        once where the platform gives no notices."""
        ...


@runtime_checkable
class Tidying(Protocol):
    """A kind of source whose entries are a person's own files (a folder), which a
    watch may delete or move away once their job has delivered them (``--then``)."""

    def checked_after(self, source: str, action: str, settings: Settings, *, remote: bool) -> str:
        """``action`` as stored (``delete``, ``move:/abs/dir``), or ``watch.bad_then``
        (``remote``: a folder to move to is held to what ``placed`` allows)."""
        ...

    def after_delivery(
        self,
        source: str,
        entry: WatchEntry,
        action: str,
        kept: Callable[[Path], bool] | None = None,
    ) -> str | None:
        """Do ``action`` to the delivered ``entry`` if it is still the content that was
        delivered and ``kept(path)`` (the destination holds its bytes, read back now;
        None: the destination cannot be read back) (blocking: a thread's work); what
        was done, or None when it was left."""
        ...


@runtime_checkable
class RemoteTidying(Protocol):
    """A kind of source whose entries are a person's own files on a remote (an rclone
    remote's folder), which a watch may delete or move there once their job has
    delivered them (``--then``): as ``Tidying``, on the loop."""

    def checked_after(self, source: str, action: str, settings: Settings, *, remote: bool) -> str:
        """``action`` as stored, or ``watch.bad_then``."""
        ...

    async def tidy_after(
        self,
        source: str,
        entry: WatchEntry,
        action: str,
        kept: Callable[[Path], bool] | None,
        settings: Settings,
    ) -> str | None:
        """As ``Tidying.after_delivery``: ``kept`` is asked of a fresh local copy of the
        entry's bytes (blocking: called on a thread)."""
        ...


class Lister(Protocol):
    """One kind of watched source."""

    kind: str  # stored with the watch: "feed", "dav", "ytdlp"…
    description: str  # what it watches, for `watch add --help` and errors
    # An entry's input may come back with new content (a changed file at the same
    # link): its job is then not deduplicated against the job the old content made.
    changes_in_place: bool
    # Its entries are listed newest first but read oldest first (a chat, top down).
    read_oldest_first: bool

    def accepts(self, source: str) -> bool:
        """Whether this kind can follow ``source`` (offline, cheap: by its form)."""
        ...

    def describe(self, source: str) -> str:
        """The source as people see it: no user info, no token."""
        ...

    async def entries(self, source: str, settings: Settings) -> list[WatchEntry]:
        """What the source holds now, in its own order (newest first for most).
        Raises FerrymanError with a code when the source cannot be listed."""
        ...

    async def matches(self, source: str, settings: Settings) -> bool:
        """Among kinds that accept the same form (a web link: a feed or a yt-dlp
        page), whether this one is what ``source`` is (may ask the network)."""
        ...


class ListerRegistry:
    """The kinds of watched source, asked in order (immutable: ``with_kind`` makes a new
    registry, as the source and sink registries do)."""

    def __init__(self, kinds: Iterable[Lister] = ()) -> None:
        self._kinds: tuple[Lister, ...] = tuple(kinds)

    def with_kind(self, kind: Lister) -> ListerRegistry:
        return ListerRegistry((*(k for k in self._kinds if k.kind != kind.kind), kind))

    @property
    def kinds(self) -> tuple[Lister, ...]:
        return self._kinds

    def get(self, kind: str) -> Lister:
        for lister in self._kinds:
            if lister.kind == kind:
                return lister
        raise FerrymanError(
            "watch.source_unsupported",
            f"no watch kind '{kind}': choose {', '.join(k.kind for k in self._kinds)}",
        )

    async def choose(self, source: str, settings: Settings, *, prefer: str | None) -> Lister:
        """The kind that follows ``source``: ``prefer`` when given (``--kind``, or what
        an output option implies), else the first that accepts it and says it is its
        own, else the last that accepts it. A link (``scheme://…``) is checked first:
        ``link.invalid`` for a bad port, host or bracket, before any kind is asked."""
        if "://" in source:
            split_link(source)
        if prefer is not None:
            lister = self.get(prefer)
            if not lister.accepts(source):
                raise _unsupported(source, self._kinds, lister)
            return lister
        fitting = [k for k in self._kinds if k.accepts(source)]
        if not fitting:
            raise _unsupported(source, self._kinds, None)
        for lister in fitting[:-1]:
            if await lister.matches(source, settings):
                return lister
        return fitting[-1]


def _unsupported(source: str, kinds: tuple[Lister, ...], asked: Lister | None) -> FerrymanError:
    listed = "; ".join(f"{k.kind}: {k.description}" for k in kinds)
    what = f"a {asked.kind} watch cannot follow it" if asked else "no kind of watch follows it"
    return FerrymanError("watch.source_unsupported", f"{source}: {what} ({listed})")
