"""The ``tg:`` source: a message in a Telegram channel or group, by its link.

``https://t.me/c/<id>/<n>`` (a private channel or supergroup, by its internal id) becomes
``tg:c/<id>/<n>``; ``https://t.me/<name>/<n>`` (a public one) becomes ``tg:<name>/<n>``.
``t.me/…`` without a scheme, ``telegram.me``, a forum topic's ``…/<topic>/<n>`` and
Telegram's own ``tg://resolve?domain=…&post=…`` / ``tg://privatepost?channel=…&post=…``
are taken too. Recognising is offline; the link must be asked before ``http(s):``.

It is read through an account's hub (``telegram/accounts.fetcher``: the own session's,
else a named one's); its file is fetched into the job's work area as ``NAME.part``, a
record beside it (``net/sidecar``), 1 MiB requests several at once written strictly in
order, so a crash or a cut resumes from the last whole MiB, then read as a local file.
Only the linked message is fetched, not the rest of its album.

A watch on a chat (``sources/listers/telegram_chat``) makes one input of an album:
``tg:c/<id>/<n>,<m>,…``, its files fetched at once, each into a folder of its own (``1/``,
``2/``… in the album's order) and read in that order, so the destination keeps them together.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Coroutine, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferryman.errors import FerrymanError
from ferryman.sources import ready
from ferryman.sources.base import Access, Fetched, FetchPlan, Inspection, ReadOptions, SourceEntry

if TYPE_CHECKING:  # Telethon loads when a message is fetched, not when its link is added
    import asyncio

    from ferryman.net.sidecar import PartRecord
    from ferryman.telegram.hub import TelegramHub
    from ferryman.telegram.pool import ClientPool, SenderPool
    from ferryman.telegram.remote import RemoteFile

_WEB = re.compile(r"^(?:https?://)?(?:www\.)?(?:t|telegram)\.me/(?P<path>[^?#]*)", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_NUMBER = re.compile(r"^[0-9]{1,19}$")
_DEEP = re.compile(r"^tg://(resolve|privatepost)\?(.*)$", re.IGNORECASE)
_URI = re.compile(
    r"^tg:(?:c/(?P<id>[0-9]{1,19})|u/(?P<user>[0-9]{1,19})|(?P<name>[a-z][a-z0-9_]{3,31}))"
    r"/(?P<n>[0-9]{1,19})(?P<more>(?:,[0-9]{1,19}){0,9})$"
)
_EXPECTED = "a link to a message: https://t.me/NAME/N or https://t.me/c/ID/N"
POOL_KEY = "telegram.downloads"  # the download connections, an account's (``Shared``)
# An album's files are fetched at once, their requests sharing IN_FLIGHT with every file
# fetched through the same connections (a watch's look fetches several albums at once);
# of the big ones (each may hold a window of chunks in memory), BIG_AT_ONCE at a time.
BIG_AT_ONCE = 2
SMALL_FILE = 4 * 1024 * 1024  # at most this much of a small file waits in memory


@dataclass(frozen=True, slots=True)
class MessageRef:
    """One message: in the private channel ``channel`` or the public one ``name``, or
    in the account's private chat with ``user`` (a file sent to the chat door);
    ``more``: the rest of its album, when a watch took the album as one input."""

    message: int
    channel: int | None = None
    name: str | None = None
    more: tuple[int, ...] = ()
    user: int | None = None

    @classmethod
    def parse(cls, uri: str) -> MessageRef:
        match = _URI.match(uri)
        if match is None:
            raise FerrymanError("link.invalid", f"'{uri}' is not {_EXPECTED}")
        channel, user = match.group("id"), match.group("user")
        more = tuple(int(n) for n in match.group("more").split(",") if n)
        first = int(match.group("n"))
        return cls(
            first,
            int(channel) if channel else None,
            match.group("name"),
            more,
            int(user) if user else None,
        )

    @property
    def messages(self) -> tuple[int, ...]:
        return (self.message, *self.more)

    def single(self, message: int) -> MessageRef:
        """One message of the same chat."""
        return MessageRef(message, self.channel, self.name, user=self.user)

    def __str__(self) -> str:
        where = f"c/{self.channel}" if self.channel is not None else self.name
        if self.user is not None:
            where = f"u/{self.user}"
        return f"tg:{where}/{','.join(str(n) for n in self.messages)}"

    def link(self) -> str:
        """The first message's t.me link (an album's others follow it); the chat's own
        for message 0 (a watch names the whole chat so); a private chat's message has
        no link: its ``tg:u/`` name."""
        if self.user is not None:
            return str(self)
        if self.message == 0:
            return self.chat_link()
        return f"https://t.me/{str(self.single(self.message)).removeprefix('tg:')}"

    def chat_link(self) -> str:
        return f"https://t.me/{f'c/{self.channel}' if self.channel is not None else self.name}"


def _ref(channel: str | None, name: str | None, message: str | None) -> MessageRef | None:
    if not message or not _NUMBER.match(message) or int(message) == 0:
        return None
    if channel is not None:
        channel = channel.removeprefix("-100")
        return MessageRef(int(message), channel=int(channel)) if _NUMBER.match(channel) else None
    if name is not None and _NAME.match(name):
        return MessageRef(int(message), name=name.lower())
    return None


def parse_link(raw: str) -> MessageRef | None:
    """The message a t.me / telegram.me / tg: link names; None when it is not such a
    link; ``link.invalid`` for one that is, but names no message (a channel, an invite)."""
    text = raw.strip().strip("<>")
    if text.lower().startswith("tg:u/"):  # made by the chat door only, never typed
        raise FerrymanError("link.invalid", f"'{raw}': a file sent in the chat is taken as sent")
    if text.lower().startswith("tg:") and not text.lower().startswith("tg://"):
        return MessageRef.parse(text.lower())
    deep = _DEEP.match(text)
    if deep is not None:
        query = dict(urllib.parse.parse_qsl(deep.group(2)))
        if deep.group(1).lower() == "resolve":
            ref = _ref(None, query.get("domain"), query.get("post"))
        else:
            ref = _ref(query.get("channel"), None, query.get("post"))
    else:
        web = _WEB.match(text)
        if web is None:
            return None
        parts = [p for p in web.group("path").split("/") if p]
        if parts[:1] == ["s"]:  # the web preview of a public channel
            parts = parts[1:]
        ref = None
        if len(parts) in (3, 4) and parts[0].lower() == "c":  # c/ID/[TOPIC/]N
            ref = _ref(parts[1], None, parts[-1])
        elif len(parts) in (2, 3):  # NAME/[TOPIC/]N
            ref = _ref(None, parts[0], parts[-1])
    if ref is None:
        raise FerrymanError("link.invalid", f"'{raw}' is not {_EXPECTED}")
    return ref


class TelegramLinkSource:
    """Messages of channels and groups by link, fetched through the logged-in account."""

    schemes: tuple[str, ...] = ("tg",)
    description = "https://t.me/c/ID/N or t.me/NAME/N: a Telegram message's file"
    shown_as = "t.me message links"
    access = Access.FETCH
    # At once a fetch worker (``Pooled``): a photo is 2 round trips and a commit (which holds
    # a slot, not a request); requests share the pool's IN_FLIGHT, big files BIG_AT_ONCE.
    fetches_at_once = 16
    check_ready = ready.telegram_link  # a login: refused when added without one

    def recognise(self, raw: str) -> str | None:
        ref = parse_link(raw)
        return str(ref) if ref is not None else None

    def describe(self, uri: str) -> str:
        return MessageRef.parse(uri).link()

    def local_path(self, uri: str) -> None:
        return None  # the fetched copy is the engine's (ReadOptions.fetched)

    def inspect(self, uri: str) -> Inspection:
        """Offline: named after the chat and the message (its file's name is known
        only once it is fetched); the same message is the same input."""
        ref = MessageRef.parse(uri)
        chat = ref.name if ref.name is not None else f"c{ref.channel}"
        if ref.user is not None:
            chat = f"u{ref.user}"
        return Inspection(f"{chat}-{ref.message}", str(ref))

    async def fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        from ferryman.telegram.accounts import fetcher, with_session
        from ferryman.telegram.hub import TelegramHub, account_hub

        ref = MessageRef.parse(uri)
        if plan.shared is not None:
            hub = account_hub(plan.shared, name := fetcher(plan.shared.settings))
            pools = plan.shared.get(f"{POOL_KEY}@{name}", lambda: _pools(hub))
            return await _fetch(ref, plan, hub, pools)
        if plan.settings is None:
            raise FerrymanError("engine.internal", f"{uri}: fetched without settings")
        hub = TelegramHub(with_session(plan.settings, fetcher(plan.settings)))  # ours, closed after
        pools = _pools(hub)
        try:
            return await _fetch(ref, plan, hub, pools)
        finally:
            await pools.close()
            await hub.close()

    @contextmanager
    def open(self, uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
        from ferryman.sources.local import iter_local

        if options.fetched is None:
            raise FerrymanError("engine.internal", f"{uri}: read before it was fetched")
        if MessageRef.parse(uri).more:
            album = _album_entries(options.fetched, options)
            try:
                yield album
            finally:
                album.close()
            return
        with iter_local(options.fetched, options) as entries:
            yield entries


def _pools(hub: TelegramHub) -> ClientPool:
    """The download connections, with the requests in flight and the big files' turns
    shared by every file fetched through them."""
    from ferryman.telegram.download import CONNECTIONS, IN_FLIGHT
    from ferryman.telegram.pool import ClientPool

    return ClientPool(hub.dialer, CONNECTIONS, in_flight=IN_FLIGHT, big=BIG_AT_ONCE)


async def _fetch(ref: MessageRef, plan: FetchPlan, hub: TelegramHub, pools: ClientPool) -> Fetched:
    """The message's file into ``plan.folder``, resumed from what is there; an album's
    files each into a folder of its own below it, fetched at once (``BIG_AT_ONCE``)."""

    from ferryman.net.progress import ProgressReporter

    client = await hub.client()  # telegram.not_logged_in: `ferryman telegram login`
    if ref.user is None:  # a chat not yet known: its dialogs read once for the links at once
        async with pools.dialogs:
            await chat_peer(client, ref)
    reporter = ProgressReporter(plan.on_progress)
    pool = pools.pool(client)
    if not ref.more:
        remote = await _remote(client, ref)
        fetch = _Fetch(client, pool, plan, lambda done: reporter.update(done, remote.size, 0))
        if remote.size <= SMALL_FILE:
            path = await fetch.one(ref, remote, plan.folder)
        else:  # links fetched at once (fetches_at_once) hold a window each: a turn
            async with pools.big:
                path = await fetch.one(ref, remote, plan.folder)
        reporter.update(remote.size, remote.size, 0, force=True)
        return Fetched(path, remote.size, remote.name)
    remotes = await _album_remotes(client, ref)
    total = sum(remote.size for _, remote in remotes)
    done = [0] * len(remotes)
    gate, turns = pools.gate, pools.big  # shared with the other files fetched at once

    async def one(place: int, one: MessageRef, remote: RemoteFile) -> None:
        def progress(now: int) -> None:
            done[place - 1] = now
            reporter.update(sum(done), total, 0)

        fetch = _Fetch(client, pool, plan, progress, gate)
        if remote.size <= SMALL_FILE:
            await fetch.one(one, remote, plan.folder / str(place))
            return
        async with turns:
            await fetch.one(one, remote, plan.folder / str(place))

    await _all(one(place, *pair) for place, pair in enumerate(remotes, 1))
    reporter.update(total, total, 0, force=True)
    return Fetched(plan.folder, total, remotes[0][1].name)


async def _all(work: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Every one of ``work`` to its end; the first failure cancels the others."""
    import asyncio

    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass(slots=True)
class _Fetch:
    """How one file is fetched: the client, the connections, the job's plan."""

    client: Any
    pool: SenderPool
    plan: FetchPlan
    progress: Callable[[int], None]
    gate: asyncio.Semaphore | None = None

    async def one(self, ref: MessageRef, remote: RemoteFile, folder: Path) -> Path:
        """One message's file into ``folder`` (resumed)."""
        import asyncio

        from ferryman.net.sidecar import part_path
        from ferryman.telegram.download import Download

        record, have = await asyncio.to_thread(_prepare, folder, ref, remote)
        if record.complete:
            return folder / record.name
        if self.plan.wait_to_write is not None:
            await self.plan.wait_to_write(remote.size - have)
        download = Download(
            self.client,
            self.pool,
            remote.location,
            remote.size,
            part_path(folder, record.name),
            refresh=lambda: _fresh_location(self.client, ref),
            on_progress=self.progress,
            gate=self.gate,
            durable=False,  # _finish fsyncs it before the rename
        )
        await download.run()
        return await asyncio.to_thread(_finish, folder, record)


async def _album_remotes(client: Any, ref: MessageRef) -> list[tuple[MessageRef, RemoteFile]]:
    """The files of an album's messages, in its order; a message deleted (or left
    without a file) since the watch saw it is left out, all of them gone is an error."""
    from ferryman.telegram.remote import remote_file

    found = []
    for message in await _messages(client, ref):
        remote = remote_file(message) if message is not None else None
        if remote is not None:
            found.append((ref.single(int(message.id)), remote))
    if not found:
        raise FerrymanError("source.not_found", f"{ref.link()}: the album's messages are gone")
    return found


def _prepare(folder: Path, ref: MessageRef, remote: RemoteFile) -> tuple[PartRecord, int]:
    """The folder's record for this file, and the bytes already there: a record of
    another file (the message was edited to carry a new one) starts over."""
    from ferryman.net.partfile import recover, start_over
    from ferryman.net.sidecar import PartRecord, part_path
    from ferryman.telegram.download import CHUNK as ONE_REQUEST

    old, have = recover(folder)
    if old is not None and old.etag == remote.key and old.name == remote.name:
        return old, have
    new = PartRecord(remote.name, str(ref), ref.link(), remote.key, None, remote.size, None)
    if old is None and remote.size <= ONE_REQUEST:
        # One request (a photo): a cut starts it over whatever is recorded, so its
        # record is written once, complete, by _finish (three fsyncs fewer a file).
        part_path(folder, new.name).unlink(missing_ok=True)
        return new, 0
    start_over(folder, old, new)
    return new, 0


def _finish(folder: Path, record: PartRecord) -> Path:
    from ferryman.net.partfile import finish

    if finish(folder, record) is None:
        raise FerrymanError("telegram.download_failed", f"{record.name}: the size does not match")
    return folder / record.name


async def _remote(client: Any, ref: MessageRef) -> RemoteFile:
    """The file of the message ``ref`` names, or the coded reason there is none."""
    from ferryman.telegram.remote import remote_file

    message = await _message(client, ref)
    remote = remote_file(message) if message is not None else None
    if remote is None:
        what = "no such message" if message is None else "the message carries no file"
        raise FerrymanError("source.not_found", f"{ref.link()}: {what}")
    return remote


async def _fresh_location(client: Any, ref: MessageRef) -> Any:
    """A new file reference for an expired one: the message asked for again."""
    return (await _remote(client, ref)).location


async def _message(client: Any, ref: MessageRef) -> Any:
    return (await _messages(client, ref.single(ref.message)))[0]


async def _messages(client: Any, ref: MessageRef) -> list[Any]:
    """The messages ``ref`` names (one request), None for each that is gone. A private
    chat's are asked by number alone (the account numbers them across its private
    chats), then kept only if they are of ``ref``'s chat."""
    from telethon.tl import types

    peer = await chat_peer(client, ref) if ref.user is None else None
    with coded_errors(ref):
        messages = await client.get_messages(peer, ids=list(ref.messages))
    return [
        None
        if m is None
        or isinstance(m, types.MessageEmpty | types.MessageService)
        or (ref.user is not None and m.chat_id != ref.user)
        else m
        for m in messages
    ]


async def chat_peer(client: Any, ref: MessageRef) -> Any:
    """The input peer of ``ref``'s channel or supergroup, or the coded reason there is
    none the account can read (a watch on a chat lists it through this too)."""
    from telethon.tl import types

    with coded_errors(ref):
        peer = await _peer(client, ref)
    if not isinstance(peer, types.InputPeerChannel):
        raise FerrymanError(
            "source.not_found", f"{ref.link()}: @{ref.name} is not a channel or group"
        )
    return peer


@contextmanager
def coded_errors(ref: MessageRef) -> Iterator[None]:
    """Telethon's errors while reading ``ref``'s chat, as ferryman's codes."""
    from telethon import errors as tg

    from ferryman.telegram.errors import from_telethon

    try:
        yield
    except FerrymanError:
        raise
    except (tg.ChannelPrivateError, tg.ChannelInvalidError, tg.ChatForbiddenError) as exc:
        raise _not_a_member(ref) from exc
    except (tg.UsernameNotOccupiedError, tg.UsernameInvalidError) as exc:
        raise FerrymanError("source.not_found", f"{ref.link()}: no chat is named so") from exc
    except tg.MessageIdInvalidError as exc:
        raise FerrymanError("source.not_found", f"{ref.link()}: no such message") from exc
    except Exception as exc:
        raise from_telethon(exc) from exc


def _album_entries(folder: Path, options: ReadOptions) -> Generator[SourceEntry]:
    """An album's files (``folder/1/``, ``2/``… as fetched) in its order, as one input:
    indexes count on across them; a name met twice gets its place as a suffix."""
    import dataclasses

    from ferryman.net.sidecar import read_record
    from ferryman.sources.local import iter_local

    index = 0
    used: set[str] = set()
    places = sorted((p for p in folder.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    for place in places:
        record = read_record(place)
        if record is None or not (place / record.name).is_file():
            continue
        with iter_local(place / record.name, options) as entries:
            for entry in entries:
                path = entry.info.path
                if path in used:
                    stem, dot, suffix = path.rpartition(".")
                    path = f"{stem} ({place.name}).{suffix}" if dot else f"{path} ({place.name})"
                used.add(path)
                info = dataclasses.replace(entry.info, index=index, path=path)
                index += 1
                yield dataclasses.replace(entry, info=info)


async def _peer(client: Any, ref: MessageRef) -> Any:
    """The chat's input peer. A private one is known by id only once the account has
    seen it: its dialogs are read once (the session keeps what they show)."""
    from telethon.tl import types

    if ref.name is not None:
        try:
            return await client.get_input_entity(ref.name)
        except ValueError as exc:  # Telethon's word for USERNAME_NOT_OCCUPIED
            raise FerrymanError("source.not_found", f"{ref.link()}: no chat is named so") from exc
    wanted = types.PeerChannel(ref.channel)
    try:
        return await client.get_input_entity(wanted)
    except ValueError:
        pass
    await client.get_dialogs()
    try:
        return await client.get_input_entity(wanted)
    except ValueError:
        raise _not_a_member(ref) from None


def _not_a_member(ref: MessageRef) -> FerrymanError:
    return FerrymanError(
        "source.auth",
        f"{ref.link()}: the account ferryman is logged in as cannot read this chat (it is"
        " private and the account is not a member, or it is gone)",
    )
