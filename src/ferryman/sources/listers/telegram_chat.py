"""A Telegram channel or supergroup the logged-in account can read: its new posts'
files. A post with a file (a photo, a video, a document) is an entry, ``tg:`` input
(``sources/telegram_link``); an album is one entry, ``tg:c/ID/N,M,…``, so its files
stay one album at the destination. Its stable id is the chat's id and the message's
(``-1001234/57``, an album ``-1001234/57-59``).

The history is read on from the highest message id the watch has seen (Telethon's
``iter_messages(min_id=…, reverse=True)``, at most ``MAX_MESSAGES`` a check, oldest
first, so a long absence is caught up over a few checks); a first check reads only
what ``--since`` asks for (the newest message for ``now``). A text post is no job,
but the newest message read is always marked seen, so the next check starts after it
however chatty the group. Read through the engine's shared Telegram connection (the
sink's and the chat's one login), or a connection of its own outside an engine.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from telethon.tl import types
from telethon.utils import get_peer_id

from ferryman.config import Settings
from ferryman.errors import FerrymanError
from ferryman.sources.listers.base import Seen, WatchEntry
from ferryman.sources.telegram_link import MessageRef, chat_peer, coded_errors
from ferryman.telegram.accounts import account_names, logged_in, reader, with_session
from ferryman.telegram.remote import remote_file

if TYPE_CHECKING:
    from ferryman.resources import Shared
    from ferryman.telegram.hub import TelegramHub

MAX_MESSAGES = 1000  # read at one check at most (an album's end is read past it)
TITLE_MAX = 120
_NAME = re.compile(r"^@?([A-Za-z][A-Za-z0-9_]{3,31})$")
_CHANNEL_ID = re.compile(r"^-100([0-9]{1,16})$")
_ID = re.compile(r"^[0-9]{1,19}$")  # ASCII digits ("²".isdigit(), yet int() refuses it)
_WEB = re.compile(r"^(?:https?://)?(?:www\.)?(?:t|telegram)\.me/([^?#]*)", re.IGNORECASE)
_TEXT_POST = "a post without a file"  # text, a sticker, a poll, a link preview


def parse_chat(source: str) -> MessageRef | None:
    """The channel or supergroup ``source`` names, as a ``MessageRef`` of message 0 (the
    whole chat), or None. Taken: ``https://t.me/NAME`` (``t.me/s/NAME``, a message link
    ``t.me/NAME/N``), ``t.me/c/ID`` (``t.me/c/ID/N``), ``telegram:@NAME``,
    ``telegram:-100ID``, ``tg://resolve?domain=NAME``. Not a private chat, a basic group
    or an invite link: Telegram's message links name channels and supergroups only."""
    text = source.strip().strip("<>")
    scheme, _, rest = text.partition(":")
    if scheme.lower() == "telegram":
        found = _CHANNEL_ID.match(rest)
        if found is not None:
            return MessageRef(0, channel=int(found.group(1)))
        named = _NAME.match(rest)
        return MessageRef(0, name=named.group(1).lower()) if named and rest != "me" else None
    if text.lower().startswith("tg://resolve?"):
        query = dict(urllib.parse.parse_qsl(text.partition("?")[2]))
        named = _NAME.match(query.get("domain", ""))
        return MessageRef(0, name=named.group(1).lower()) if named else None
    web = _WEB.match(text)
    if web is None:
        return None
    parts = [p for p in web.group(1).split("/") if p]
    if parts[:1] == ["s"]:  # the web preview of a public channel
        parts = parts[1:]
    if len(parts) in (2, 3, 4) and parts[0].lower() == "c" and _ID.match(parts[1]):
        return MessageRef(0, channel=int(parts[1]))
    if parts and len(parts) <= 3 and all(p.isdigit() for p in parts[1:]):
        named = _NAME.match(parts[0])
        if named is not None and not parts[0].startswith("@"):
            return MessageRef(0, name=named.group(1).lower())
    return None


class TelegramChatLister:
    kind = "telegram"
    description = (
        "a Telegram channel or group the logged-in account reads (https://t.me/NAME,"
        " t.me/c/ID, telegram:@NAME, telegram:-100ID): its new posts' files, an album as one"
    )
    changes_in_place = False
    read_oldest_first = True  # a chat is read top down: a look's job keeps that order

    def __init__(self, shared: Shared | None = None) -> None:
        self._shared = shared  # the engine's resources: its one Telegram connection

    def accepts(self, source: str) -> bool:
        return parse_chat(source) is not None

    def describe(self, source: str) -> str:
        ref = parse_chat(source)
        return ref.chat_link() if ref is not None else source

    def read_through(self, source: str) -> str | None:
        """A chat by its number (``t.me/c/ID``, ``telegram:-100ID``) as a message of it."""
        ref = parse_chat(source)
        return f"tg:c/{ref.channel}/0" if ref is not None and ref.channel is not None else None

    async def matches(self, source: str, settings: Settings) -> bool:
        return True  # a t.me link to a chat is nothing a feed or yt-dlp reads

    def check_ready(self, settings: Settings, source: str) -> None:
        tg = settings.telegram
        if tg.api_id is None or not tg.api_hash:
            raise FerrymanError(
                "telegram.not_configured",
                "cannot watch a Telegram chat: telegram.api_id and telegram.api_hash are"
                " not set; nothing was added",
            )
        _reader(settings, "cannot watch a Telegram chat", "; nothing was added")

    async def entries(self, source: str, settings: Settings) -> list[WatchEntry]:
        """The oldest ``MAX_MESSAGES`` posts (a watch reads on with ``entries_after``)."""
        return await self.entries_after(source, settings, Seen((), "all"))

    async def entries_after(self, source: str, settings: Settings, seen: Seen) -> list[WatchEntry]:
        ref = parse_chat(source)
        if ref is None:
            raise FerrymanError("watch.source_unsupported", f"{source} names no Telegram chat")
        hub, own = self._hub(settings)
        try:
            client = await hub.client()  # telegram.not_logged_in: `ferryman telegram login`
            if await client.is_bot():
                raise FerrymanError(
                    "watch.needs_user",
                    f"{ref.chat_link()}: ferryman is logged in to Telegram as a bot, and a bot"
                    " cannot read a chat's history",
                )
            peer = await chat_peer(client, ref)
            messages = await _read(client, ref, peer, seen)
            return _entries(ref, int(get_peer_id(peer)), int(peer.channel_id), messages)
        finally:
            if own:
                await hub.close()

    def _hub(self, settings: Settings) -> tuple[TelegramHub, bool]:
        """The reading account's hub (``_reader``): the engine's, or one of our own
        (closed after the listing)."""
        from ferryman.telegram.hub import (  # lazy: its client, for a Telegram watch only
            TelegramHub,
            account_hub,
        )

        name = _reader(settings, "cannot read a Telegram chat")
        if self._shared is not None:
            return account_hub(self._shared, name), False
        return TelegramHub(with_session(settings, name)), True


def _reader(settings: Settings, cannot: str, more: str = "") -> str:
    """The account a chat is read through (``telegram/accounts.reader``: the own
    session, else the pool's first person's, a named one too); ``telegram.not_logged_in``
    with none logged in, ``watch.needs_user`` with bots alone (when ``more`` says so,
    nothing was added: the steps say to add it again)."""
    name = reader(settings)
    if name is not None:
        return name
    again = " then add the watch again." if more else " then `ferryman watch resume ID`."
    if not logged_in(settings):
        raise FerrymanError(
            "telegram.not_logged_in",
            f"{cannot}: no Telegram account is logged in here{more}",
            step="Log in as a person's account: `ferryman telegram login` (by phone; one more"
            " account of a pool with --as NAME)," + again,
        )
    bots = ", ".join(account_names(settings))
    raise FerrymanError(
        "watch.needs_user",
        f"{cannot}: ferryman is logged in to Telegram as a bot only ({bots}), and a bot"
        f" cannot read a chat's history{more}",
        step="Log in a person's account too: `ferryman telegram login --as NAME` (by phone,"
        " not a bot token; the bots still send)," + again,
    )


def highest(ids: Sequence[str]) -> int:
    """The highest message id among seen entry ids (``chat/N`` or ``chat/N-M``)."""
    top = 0
    for ident in ids:
        for part in ident.rpartition("/")[2].split("-"):
            if part.isdigit():
                top = max(top, int(part))
    return top


async def _read(client: Any, ref: MessageRef, peer: Any, seen: Seen) -> list[Any]:
    """The messages to list, oldest first (see the module's words on how far)."""

    with coded_errors(ref):
        if seen.first == "now":
            return [m async for m in client.iter_messages(peer, limit=1)]
        if seen.first is not None and seen.first.isdigit():
            return await _newest_groups(client, peer, int(seen.first))
        cursor = highest(seen.ids)
        got = [
            m
            async for m in client.iter_messages(
                peer, min_id=cursor, reverse=True, limit=MAX_MESSAGES
            )
        ]
        while len(got) >= MAX_MESSAGES and getattr(got[-1], "grouped_id", None) is not None:
            more = [
                m
                async for m in client.iter_messages(peer, min_id=got[-1].id, reverse=True, limit=10)
            ]
            album = [m for m in more if m.grouped_id == got[-1].grouped_id]
            got.extend(album)
            if len(album) < len(more) or not more:
                break
        return got


async def _newest_groups(client: Any, peer: Any, wanted: int) -> list[Any]:
    """The newest messages back to the ``wanted``-th newest post with a file (its whole
    album), oldest first."""
    got: list[Any] = []
    groups: list[int] = []
    async for message in client.iter_messages(peer, limit=MAX_MESSAGES):
        if _has_file(message):
            group = message.grouped_id or -message.id
            if group not in groups:
                if len(groups) == wanted:
                    break
                groups.append(group)
        got.append(message)
    return list(reversed(got))


def _entries(ref: MessageRef, chat_id: int, channel: int, messages: list[Any]) -> list[WatchEntry]:
    """Posts with files as entries (an album as one), newest first, and the newest
    message as a marked-seen entry when it carries no file. ``channel``: the chat's
    number (``chat_id`` without its -100), which every entry's identity names."""

    everything = sorted(
        (m for m in messages if isinstance(m, types.Message | types.MessageService)),
        key=lambda m: m.id,
    )
    posts = [m for m in everything if isinstance(m, types.Message)]
    groups: list[list[Any]] = []
    for message in posts:
        if not _has_file(message):
            continue
        last = groups[-1][-1] if groups else None
        if last is not None and message.grouped_id and message.grouped_id == last.grouped_id:
            groups[-1].append(message)
        else:
            groups.append([message])
    found = [_entry(ref, chat_id, channel, group) for group in groups]
    newest = everything[-1] if everything else None  # a service message moves it too
    if newest is not None and not _has_file(newest):
        found.append(
            WatchEntry(
                id=f"{chat_id}/{newest.id}",
                input="",
                title=_title([newest]) or f"message {newest.id}",
                published=newest.date.timestamp() if newest.date else None,
                skip=_TEXT_POST,
            )
        )
    return list(reversed(found))


def _has_file(message: Any) -> bool:
    """A photo, a video, a document, audio: not a sticker (a document too, to Telegram)."""

    if remote_file(message) is None:
        return False
    document = getattr(getattr(message, "media", None), "document", None)
    attributes = getattr(document, "attributes", None) or ()
    return not any(isinstance(a, types.DocumentAttributeSticker) for a in attributes)


def _entry(ref: MessageRef, chat_id: int, channel: int, group: list[Any]) -> WatchEntry:
    """The post's (the album's) entry: its input as the watch spells the chat (a name
    names its jobs), its identity by the chat's number (``tg:c/ID/N``, a ``t.me/c`` link's
    too), so a watch of ``@name`` and one of ``-100ID`` share their jobs."""

    first, last = group[0].id, group[-1].id
    rest = tuple(m.id for m in group[1:])
    made = MessageRef(first, ref.channel, ref.name, rest)
    names = [r.name for m in group if (r := remote_file(m)) is not None]
    title = _title(group) or ", ".join(names)
    return WatchEntry(
        id=f"{chat_id}/{first}" + (f"-{last}" if rest else ""),
        input=str(made),
        title=title[:TITLE_MAX],
        duration=_duration(group[0]) if not rest else None,
        published=group[0].date.timestamp() if group[0].date else None,
        ident=str(MessageRef(first, channel=channel, more=rest)),
        name=names[0] if len(names) == 1 else None,
    )


def _title(group: list[Any]) -> str:
    """The first line of the post's (or the album's) caption."""
    for message in group:
        text = (getattr(message, "message", None) or "").strip()
        if text:
            return text.splitlines()[0][:TITLE_MAX]
    return ""


def _duration(message: Any) -> float | None:
    document = getattr(getattr(message, "media", None), "document", None)
    for attribute in getattr(document, "attributes", None) or ():
        if isinstance(attribute, types.DocumentAttributeVideo | types.DocumentAttributeAudio):
            return float(attribute.duration)
    return None
