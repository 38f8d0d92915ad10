"""Plain-text messages in the chat: send, reply, edit, without ever sleeping inside Telethon.

Requests go through ``client._call`` with ``flood_sleep_threshold=0``: a flood wait comes
back as :class:`TelegramWait` for the caller to honour, instead of a hidden sleep that
would stall whoever is waiting for the reply.
"""

from __future__ import annotations

import secrets
from typing import Any

from telethon import errors as tg
from telethon.tl import functions, types

from ferryman.telegram.errors import from_telethon

TEXT_MAX = 4096  # Telegram's limit for one message


def clip(text: str) -> str:
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


class Chat:
    """The account's side of its private chats."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._peers: dict[int, Any] = {}

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

    async def _call(self, request: Any) -> Any:
        try:
            return await self.client._call(self.client._sender, request, flood_sleep_threshold=0)
        except tg.MessageNotModifiedError:
            return None
        except Exception as exc:
            raise from_telethon(exc) from exc

    async def send(self, chat_id: int, text: str, *, reply_to: int | None = None) -> int:
        """Send ``text``; returns the new message's id."""
        random_id = secrets.randbits(63) or 1
        request = functions.messages.SendMessageRequest(
            peer=await self.peer(chat_id),
            message=clip(text),
            no_webpage=True,
            random_id=random_id,
            reply_to=types.InputReplyToMessage(reply_to) if reply_to else None,
        )
        return _sent_id(await self._call(request), random_id)

    async def edit(self, chat_id: int, message_id: int, text: str) -> None:
        """Replace a message's text; the same text again is not an error."""
        request = functions.messages.EditMessageRequest(
            peer=await self.peer(chat_id), id=message_id, message=clip(text), no_webpage=True
        )
        await self._call(request)


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
