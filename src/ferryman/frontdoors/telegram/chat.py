"""Plain-text messages in the chat: send, reply, edit, without ever sleeping inside Telethon.

Requests go through ``client._call`` with ``flood_sleep_threshold=0``: a flood wait comes
back as :class:`TelegramWait` for the caller to honour, instead of a hidden sleep that
would stall whoever is waiting for the reply.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from telethon import errors as tg
from telethon.tl import functions, types

from ferryman.errors import FerrymanError
from ferryman.frontdoors.telegram import keyboards
from ferryman.frontdoors.telegram.choices import Offer
from ferryman.frontdoors.telegram.keyboards import Numbered
from ferryman.telegram.errors import from_telethon

log = logging.getLogger(__name__)

TEXT_MAX = 4096  # Telegram's limit for one message
FORUMS_OFFERED = 4  # forum groups ``/settings`` offers (the first the dialogs list)
_DIALOGS_READ = 100


def clip(text: str) -> str:
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


class Chat:
    """The account's side of its private chats.

    ``bot``: the session is a bot's (``get_me().bot``, set at start): offers are drawn
    as inline buttons, else as numbered options under the text (``keyboards``).
    ``job_offer``: what a job's status message offers now, asked at each edit of it
    (an edit without buttons takes a message's buttons away)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._peers: dict[int, Any] = {}
        self.bot = False
        self.numbered = Numbered()
        self.job_offer: Callable[[int], Awaitable[Offer | None]] | None = None
        self._shown: dict[tuple[int, int], tuple[str, Offer | None]] = {}  # text, offer
        self._on_reply: dict[tuple[int, int], Offer] = {}  # (chat, replied message) -> offer

    async def peer(self, chat_id: int) -> Any:
        """The chat as an input peer (Telethon's entity cache, then a lookup)."""
        found = self._peers.get(chat_id)
        if found is None:
            try:
                found = await self.client.get_input_entity(chat_id)
            except (ValueError, tg.RPCError) as exc:
                raise from_telethon(exc) from exc
            self._peers[chat_id] = found
        return found

    def remember(self, chat_id: int, peer: Any) -> None:
        """A peer seen in an incoming message: no lookup needed to answer it."""
        if peer is not None:
            self._peers[chat_id] = peer

    async def forums(self) -> list[tuple[int, str]]:
        """The forum groups this account is in, newest first, as (channel id, title):
        ``/settings`` offers each as ``to`` with a topic per folder. None for a bot
        (Telegram lists no bot's dialogs: the typed ``-100…/topics`` is its way) or
        when the dialogs cannot be read now (the choice is offered again next time)."""
        return (await self._forums())[:FORUMS_OFFERED]

    async def forums_of(self, linked: int | None) -> list[tuple[int, str]]:
        """``forums`` for a person whose linked Telegram user is ``linked``: only the
        groups it is a member of (``sinks/telegram_people.may_send``, the rule ``to``
        keeps), none when they linked none: the server's other groups are not theirs
        to see nor to choose."""
        if linked is None:
            return []
        found: list[tuple[int, str]] = []
        for forum in await self._forums():  # asked one at a time, until enough
            if len(found) < FORUMS_OFFERED and await self._member(forum[0], linked):
                found.append(forum)
        return found

    async def _forums(self) -> list[tuple[int, str]]:
        """Every forum group the dialogs read list (none for a bot)."""
        if self.bot:
            return []
        request = functions.messages.GetDialogsRequest(
            offset_date=None,
            offset_id=0,
            offset_peer=types.InputPeerEmpty(),
            limit=_DIALOGS_READ,
            hash=0,
        )
        try:
            found = await self._call(request)
        except FerrymanError as exc:
            log.info("the forum groups were not listed: %s", exc)
            return []
        forums = [
            (int(c.id), str(c.title))
            for c in getattr(found, "chats", ())
            if isinstance(c, types.Channel) and c.forum and not c.left
        ]
        return forums

    async def _member(self, channel_id: int, user: int) -> bool:
        """Whether ``user`` may send to the forum group (a member, not banned): not
        when Telegram cannot say now (the choice is offered again next time)."""
        from ferryman.sinks.telegram_people import may_send  # lazy: Telethon's requests

        try:
            return await may_send(self.client, int(f"-100{channel_id}"), user)
        except FerrymanError as exc:
            log.info("forum group %d: membership not read: %s", channel_id, exc)
            return False

    async def _call(self, request: Any) -> Any:
        try:
            return await self.client._call(self.client._sender, request, flood_sleep_threshold=0)
        except tg.MessageNotModifiedError:
            return None
        except Exception as exc:
            raise from_telethon(exc) from exc

    async def send(
        self,
        chat_id: int,
        text: str,
        *,
        reply_to: int | None = None,
        offer: Offer | None = None,
        prompt: bool = False,
    ) -> int:
        """Send ``text`` with ``offer`` drawn under it (``prompt``: a bot opens the
        person's reply to it); returns the new message's id."""
        random_id = secrets.randbits(63) or 1
        if offer is None and reply_to is not None:
            offer = self._on_reply.pop((chat_id, reply_to), None)
        buttons = keyboards.markup(offer) if self.bot else None
        if prompt and self.bot:
            buttons = keyboards.force_reply()
        request = functions.messages.SendMessageRequest(
            peer=await self.peer(chat_id),
            message=clip(self._drawn(text, offer)),
            no_webpage=True,
            random_id=random_id,
            reply_to=types.InputReplyToMessage(reply_to) if reply_to else None,
            reply_markup=buttons,
        )
        sent = _sent_id(await self._call(request), random_id)
        self._remember(chat_id, sent, text, offer)
        return sent

    async def edit(
        self, chat_id: int, message_id: int, text: str, *, job_id: int | None = None
    ) -> None:
        """Replace a message's text; the same text again is not an error. Its offer
        stays (``job_id``: the offer of that job now, see ``job_offer``)."""
        offer = self._shown.get((chat_id, message_id), ("", None))[1]
        if job_id is not None and self.job_offer is not None:
            offer = await self.job_offer(job_id)
        await self._edit(chat_id, message_id, text, offer)

    async def offer(
        self, chat_id: int, message_id: int, offer: Offer | None, *, text: str | None = None
    ) -> None:
        """Change what a message sent before offers (and its text, if given)."""
        if text is None:
            text = self._shown.get((chat_id, message_id), ("", None))[0]
        await self._edit(chat_id, message_id, text, offer)

    def offer_on_reply(self, chat_id: int, reply_to: int, offer: Offer) -> None:
        """The next message sent in reply to ``reply_to`` offers ``offer`` (the status
        message of a file, posted elsewhere: no edit just to add buttons)."""
        self._on_reply[(chat_id, reply_to)] = offer
        while len(self._on_reply) > keyboards.REMEMBERED:
            self._on_reply.pop(next(iter(self._on_reply)))

    def drop_offer(self, chat_id: int, message_id: int) -> None:
        """The message's next edit offers nothing (the choice is made elsewhere now)."""
        text = self._shown.get((chat_id, message_id), ("", None))[0]
        self._remember(chat_id, message_id, text, None)

    async def _edit(self, chat_id: int, message_id: int, text: str, offer: Offer | None) -> None:
        before = self._shown.get((chat_id, message_id))
        request = functions.messages.EditMessageRequest(
            peer=await self.peer(chat_id),
            id=message_id,
            message=clip(self._drawn(text, offer)),
            no_webpage=True,
            reply_markup=keyboards.markup(offer) if self.bot else None,
        )
        await self._call(request)
        now = self._shown.get((chat_id, message_id))
        if now is not None and now is not before:  # its offer changed meanwhile: that wins
            offer = now[1]
        self._remember(chat_id, message_id, text, offer)

    def _drawn(self, text: str, offer: Offer | None) -> str:
        """The text as sent: a user session adds the offer as numbered options."""
        line = "" if self.bot else keyboards.numbered(offer)
        return f"{text}\n{line}" if line else text

    def _remember(self, chat_id: int, message_id: int, text: str, offer: Offer | None) -> None:
        key = (chat_id, message_id)
        self._shown.pop(key, None)
        self._shown[key] = (text, offer)
        while len(self._shown) > keyboards.REMEMBERED:
            self._shown.pop(next(iter(self._shown)))
        if not self.bot:
            self.numbered.offered(chat_id, message_id, offer)


def _sent_id(result: Any, random_id: int) -> int:
    if isinstance(result, types.UpdateShortSentMessage):
        return int(result.id)
    for update in getattr(result, "updates", []):
        if isinstance(update, types.UpdateMessageID) and update.random_id == random_id:
            return int(update.id)
    for update in getattr(result, "updates", []):
        if isinstance(update, types.UpdateNewMessage | types.UpdateNewChannelMessage):
            return int(update.message.id)
    raise from_telethon(RuntimeError(f"no message id in the answer to a send: {result!r}"))
