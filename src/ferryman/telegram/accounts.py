"""The pool of accounts ferryman sends with: its own session, and each one logged in with
``ferryman telegram login --as NAME``.

Telegram caps each account (users see 4-5 MB/s per account, ~10 Mbit/s per bot token),
so several accounts that may post to one chat deliver a job together: each album goes
through one account, chosen here (free of waits, allowed in the chat, Premium where the
album needs it, the fewest albums under way). Every member has its own session file,
hub (client, uploader) and limits (``telegram/account``: its own Premium flag). An
account joins the pool once a login finished (its ``<NAME>.account.json`` is written
then), a running engine's too: the pool reads the sessions folder again when a job's
sink opens and the folder changed (``refresh``); a logout leaves it the same way. The
one named ``telegram.session`` is the first member, as before pools; with no login of
its own, the named accounts alone are the pool (a bot and helper bots, each logged in
with ``--as``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferryman.telegram.account import Limits, account_file, has_premium, remembered

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.resources import Shared
    from ferryman.telegram.hub import TelegramHub

log = logging.getLogger(__name__)

POOL_KEY = "telegram.pool"
MOST_SHOWN = 32  # accounts named in figures at most (bounded metric labels)
FIGURES = "pool-figures.json"  # beside the sessions: the running engine's figures per account
TAKEN_AT_ONCE = 2  # albums handed to an account at once: its next readies as one uploads
WRITE_EVERY = 2.0  # seconds between two writes of the figures at most


def session_of(settings: Settings, name: str) -> Path:
    return settings.telegram_dir / f"{name}.session"


def with_session(settings: Settings, name: str) -> Settings:
    """The settings as the account ``name`` sees them: its own session file."""
    if name == settings.telegram.session:
        return settings
    telegram = settings.telegram.model_copy(update={"session": name})
    return settings.model_copy(update={"telegram": telegram})


def account_names(settings: Settings) -> list[str]:
    """``telegram.session`` first, then every other session whose login finished
    (its flags were written beside it), by name; the named ones alone when the own
    session was never logged in (with none at all, the own one, whose error says so)."""
    own = settings.telegram.session
    folder = settings.telegram_dir
    others = (
        sorted(
            p.name.removesuffix(".session")
            for p in folder.glob("*.session")
            if account_file(p).exists()
        )
        if folder.is_dir()
        else []
    )
    named = [n for n in others if n != own]
    if named and not session_of(settings, own).exists():
        return named
    return [own, *named]


def logged_in(settings: Settings) -> bool:
    """Whether any account of the pool has a session: the own one or a named one."""
    return session_of(settings, settings.telegram.session).exists() or (
        account_names(settings)[0] != settings.telegram.session
    )


def reader(settings: Settings) -> str | None:
    """The account that reads a chat's history (a chat watch): the pool's first logged
    in that is a person's, as its flags say (an own session whose flags were never
    written counts as one: its listing says if it is a bot), the own session first;
    None when only bots are logged in (a bot cannot read a chat's history), or none."""
    for name in account_names(settings):
        session = session_of(settings, name)
        flags = remembered(session) if session.exists() else None
        if session.exists() and (flags is None or not flags.bot):
            return name
    return None


def fetcher(settings: Settings) -> str:
    """The account a message link's file is fetched through: the own session when it
    is logged in (``serve``'s, which received what its chat is sent), else ``reader``'s,
    else the pool's first (a bot reads a message of a chat it is in)."""
    own = settings.telegram.session
    if session_of(settings, own).exists():
        return own
    return reader(settings) or account_names(settings)[0]


@dataclass(slots=True)
class Figures:
    """One account's work since the engine started (``status -v``, ``/metrics``)."""

    albums: int = 0  # albums it sent
    bytes: int = 0  # file bytes it uploaded
    seconds: float = 0.0  # time spent preparing its albums (uploads, uploadMedia)
    waits: int = 0  # waits Telegram imposed on it (flood, slow mode)
    refused: int = 0  # albums it gave way on (a refusal, a wait)
    waiting_until: float = 0.0  # wall clock: no request before

    def rate(self) -> float:
        """Bytes per second of its uploads (0 before any)."""
        return self.bytes / self.seconds if self.seconds > 0 else 0.0


@dataclass(slots=True, eq=False)
class Ticket:
    """An album waiting for an account of the pool to upload it (``AccountPool.take``)."""

    order: tuple[int, int]  # (job, album's seq): the order its sends go in
    size: int  # its files' bytes
    accounts: frozenset[str]  # the members it may go through


@dataclass(slots=True)
class Member:
    """One account of the pool."""

    name: str
    hub: TelegramHub
    premium: bool
    bot: bool
    own: bool  # the ``telegram.session`` account: its scopes keep their old names
    limits: Limits = field(default_factory=Limits)  # Telegram's, as last told to it
    figures: Figures = field(default_factory=Figures)
    busy: int = 0  # albums it prepares or sends now
    refused_until: dict[str, float] = field(default_factory=dict)  # chat -> monotonic
    may_post: dict[str, bool] = field(default_factory=dict)  # chat -> its rights, as asked
    peers: dict[str, str] = field(default_factory=dict)  # chat -> its peer's key, as looked up
    waits_read: bool = False  # its stored wait was read (then kept in ``figures``)
    uploading: asyncio.Lock = field(default_factory=asyncio.Lock)  # one album's uploads at once
    taken: list[Ticket] = field(default_factory=list)  # handed to it, uploads not ended

    @property
    def load(self) -> int:
        """The bytes of the albums handed to it, uploads not ended."""
        return sum(t.size for t in self.taken)

    def scope(self, base: str) -> str:
        """A wait's scope for this account: ``account``, ``peer:ID`` for the own one (as
        stored before pools), ``account@NAME``, ``peer:ID@NAME`` for the others."""
        return base if self.own else f"{base}@{self.name}"

    @property
    def caption_limit(self) -> int:
        return self.limits.caption_chars(self.premium)

    @property
    def file_bytes(self) -> int:
        """The biggest file it may send (2000 MiB, 4000 with Premium, as Telegram says)."""
        return self.limits.file_bytes(self.premium)

    def allowed(self, chat: str) -> bool:
        return self.refused_until.get(chat, 0.0) <= time.monotonic()

    def refuse(self, chat: str, seconds: float) -> None:
        self.refused_until[chat] = time.monotonic() + seconds


class AccountPool:
    """The engine's accounts, each with its hub (``telegram/hub``), made on first use."""

    def __init__(self, shared: Shared) -> None:
        settings = shared.settings
        self._shared = shared
        self.figures_file = settings.telegram_dir / FIGURES
        self._written = 0.0
        self._writing: asyncio.Task[None] | None = None
        self.members: list[Member] = []
        self._tickets: list[Ticket] = []  # albums waiting for an account to upload them
        self._changed = asyncio.Event()  # set (and replaced) when an account or ticket frees
        self._folder_seen: int | None = None  # the sessions folder's mtime, as last read
        self._left: list[Member] = []  # logged out: their hubs close once they are idle
        self._closing: list[asyncio.Future[None]] = []
        # Chats that are the own account's alone: ``me`` (each account's Saved Messages
        # is its own) and private chats found so (another account's is another chat).
        self.own_chats: set[str] = {"me"}
        # Jobs' indexes (``sinks/telegram_index``) are written one at a time: two albums
        # of a job sent at once through two accounts would each make its first page.
        self.index_lock = asyncio.Lock()
        self.refresh()

    def refresh(self) -> bool:
        """Read the accounts again if the sessions folder changed since (one ``stat``: a
        sink opens as each job starts delivering): a finished login joins, a logout
        leaves. Members that stay keep their figures and albums; the own account stays
        first. An album whose sends an account that left may have sent is not moved
        (``sinks/telegram_accounts.choose`` says to log it in again). True: it was read."""
        from ferryman.telegram.hub import drop_account_hub  # the hub imports this module

        settings = self._shared.settings
        try:
            stamp: int | None = settings.telegram_dir.stat().st_mtime_ns
        except OSError:
            stamp = None
        if self.members and stamp == self._folder_seen:
            self._close_left()
            return False
        self._folder_seen = stamp
        names = account_names(settings)[:MOST_SHOWN]
        before = {m.name: m for m in self.members}
        self.members = [before.get(n) or self._joined(n) for n in names]
        left = [m for n, m in before.items() if n not in names]
        for member in left:  # a login of the same name later makes a new hub
            if drop_account_hub(self._shared, member.name) is not None:
                self._left.append(member)
        self._close_left()
        if before and set(before) != set(names):
            log.info("Telegram accounts of the pool now: %s", ", ".join(names))
            self.changed()  # albums waiting for an account pick again
        return True

    def _joined(self, name: str) -> Member:
        from ferryman.telegram.hub import account_hub  # the hub imports this module

        settings = self._shared.settings
        session = session_of(settings, name)
        flags = remembered(session)
        return Member(
            name,
            account_hub(self._shared, name),
            premium=has_premium(session, settings.telegram.premium),
            bot=flags is not None and flags.bot,
            own=name == settings.telegram.session,
            limits=flags.limits if flags is not None else Limits(),
        )

    def _close_left(self, *, all_of_them: bool = False) -> None:
        """The hubs of accounts that left, once no album of theirs is under way."""
        self._closing = [f for f in self._closing if not f.done()]
        for member in [m for m in self._left if all_of_them or not (m.busy or m.taken)]:
            self._left.remove(member)
            self._closing.append(asyncio.ensure_future(member.hub.close()))

    @property
    def own(self) -> Member:
        return self.members[0]

    @property
    def several(self) -> bool:
        return len(self.members) > 1

    def member(self, name: str | None) -> Member | None:
        """The member of that name (None: the own account, as records before pools)."""
        if name is None:
            return self.own
        return next((m for m in self.members if m.name == name), None)

    async def take(self, ticket: Ticket) -> Member:
        """The account that uploads this album, counted in its ``taken`` until
        ``release``. Accounts pull albums as they become free (one uploading, the next
        readying its records: ``TAKEN_AT_ONCE``), in the order ``_ranks`` gives."""
        self._tickets.append(ticket)
        try:
            while True:
                member = self._pick(ticket)
                if member is not None:
                    member.taken.append(ticket)
                    return member
                await self._changed.wait()
        finally:
            self._tickets.remove(ticket)
            self.changed()

    async def turn(self, member: Member, ticket: Ticket) -> None:
        """Wait until the albums handed to ``member`` before this one ended their uploads
        (an album readies its records beside the one uploading, then uploads in order)."""
        while member.taken and member.taken[0] is not ticket:
            await self._changed.wait()

    def release(self, member: Member, ticket: Ticket) -> None:
        """The album's uploads through ``member`` ended: it pulls the next."""
        if ticket in member.taken:
            member.taken.remove(ticket)
        self.changed()

    def changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _pick(self, ticket: Ticket) -> Member | None:
        # An account readies a second album behind its upload only while more albums
        # wait than the pool has accounts (at the job's end, the last albums go to the
        # accounts that free first), and not behind a big one (twice this one): it would
        # wait out that upload, holding the sends.
        plenty = len(self._tickets) > len(self.members)

        def free(m: Member) -> bool:
            if not m.taken:
                return True
            return plenty and len(m.taken) < TAKEN_AT_ONCE and m.load < 2 * ticket.size

        idle = sorted(
            (m for m in self.members if m.name in ticket.accounts and free(m)),
            key=lambda m: (m.load, m.busy),  # then the fewest albums under way
        )
        if not idle:
            return None
        ranks = self._ranks()
        for member in idle:
            best = min(
                (t for t in self._tickets if member.name in t.accounts), key=lambda t: ranks[t]
            )
            if best is ticket:
                return member
        return None

    def _ranks(self) -> dict[Ticket, tuple[int, float, tuple[int, int]]]:
        """The waiting albums' order of pull. A big one (twice the size of the next to be
        sent, or more) first, while another account is left for the small ones: it holds
        its account longest, so it starts early rather than at its turn, alone. Then the
        least slack: its turn (the bytes waiting before it, shared by the pool) less its
        own upload (its bytes, one account's); in the job's order for albums alike."""
        waiting = sorted(self._tickets, key=lambda t: t.order)
        head = waiting[0].size if waiting else 0
        big_under_way = sum(any(t.size >= 2 * head for t in m.taken) for m in self.members)
        room = big_under_way < len(self.members) - 1
        ranks: dict[Ticket, tuple[int, float, tuple[int, int]]] = {}
        ahead = 0
        for t in waiting:
            big = room and head > 0 and t.size >= 2 * head
            ranks[t] = (0 if big else 1, ahead / len(self.members) - t.size, t.order)
            ahead += t.size
        return ranks

    def figures(self) -> dict[str, Figures]:
        return {m.name: m.figures for m in self.members}

    def noted(self) -> None:
        """An album went or a wait came: the figures are written for ``status -v`` and
        ``/metrics`` (another process may ask), on a thread, at most every 2 s."""
        now = time.monotonic()
        if now - self._written < WRITE_EVERY or (self._writing and not self._writing.done()):
            return
        self._written = now
        data = {
            m.name: dataclasses.asdict(m.figures)
            | {"bot": m.bot, "premium": m.premium, "own": m.own}
            for m in self.members
        }
        self._writing = asyncio.create_task(asyncio.to_thread(_write, self.figures_file, data))

    async def close(self) -> None:
        """The figures as they end, the hubs of accounts that left closed (the others
        are shared resources of their own)."""
        self._close_left(all_of_them=True)
        closing, self._closing = self._closing, []
        await asyncio.gather(*closing, return_exceptions=True)
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)
        self._written = 0.0
        self._writing = None
        if any(m.figures.albums or m.figures.waits for m in self.members):
            self.noted()
            if self._writing is not None:
                await asyncio.gather(self._writing, return_exceptions=True)


def _write(path: Path, data: dict[str, Any]) -> None:
    part = path.with_name(path.name + ".part")
    try:
        part.write_text(json.dumps(data))
        os.replace(part, path)  # a reader sees the old figures or the new, never half
    except OSError:
        return  # figures only: the delivery goes on


def read_figures(settings: Settings) -> dict[str, dict[str, Any]]:
    """The figures per account the last engine wrote (empty: none yet)."""
    try:
        data = json.loads((settings.telegram_dir / FIGURES).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def own_only(figures: dict[str, dict[str, Any]]) -> str:
    """What the pool does not share (``status -v``, the page): each account's Saved
    Messages and private chats are its own (another's ``me`` is another chat, a bot's
    chat with a person is the bot's), so the own account alone sends there."""
    own = next((n for n, f in figures.items() if f.get("own")), next(iter(figures), "?"))
    return f"telegram:me and private chats go through {own} alone (the others' are other chats)"


def account_pool(shared: Shared) -> AccountPool:
    """The engine's one pool (made on first use)."""
    return shared.get(POOL_KEY, lambda: AccountPool(shared))


def any_premium(settings: Settings) -> bool:
    """Whether some account of the pool has Premium (or the setting forces it): a job's
    files may then be as big as Premium allows, and go through that account."""
    forced = settings.telegram.premium
    if forced is not None:
        return forced
    return any(has_premium(session_of(settings, name), None) for name in account_names(settings))


def told_limits(settings: Settings) -> Limits:
    """Telegram's limits as last told to an account of the pool, the own one first (they
    are Telegram's, the same for every account); the defaults while none was told."""
    for name in account_names(settings):
        flags = remembered(session_of(settings, name))
        if flags is not None:
            return flags.limits
    return Limits()
