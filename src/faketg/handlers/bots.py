"""What only bots do: their command menu, and the buttons people press on their messages.

``bots.setBotCommands`` keeps the menu per language (the default scope only: the scope
is checked to be a known kind); ``getBotCommands`` reads it back. A person presses an
inline button with ``messages.getBotCallbackAnswer`` (or ``people.press``): the bot gets
an ``updateBotCallbackQuery`` and the press waits for its ``setBotCallbackAnswer``, as
Telegram's app shows a spinner until then (``BOT_RESPONSE_TIMEOUT`` after a while).
Rules enforced: commands are 1-32 of ``a-z0-9_`` with a 1-256 character description,
at most 100; a button's data must be one the message carries (``DATA_INVALID``); a query
is answered once (``QUERY_ID_INVALID`` after), with at most 200 characters.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from telethon.tl import functions, types

from faketg.sender import RpcFault
from faketg.state import Account, StoredMessage
from faketg.tl import BOOL_TRUE, Raw, entities_for, resolve_peer, when

if TYPE_CHECKING:
    from faketg.server import Call, FakeTelegram

COMMANDS_MAX = 100
ANSWER_TIMEOUT = 10.0  # seconds a press waits for the bot's answer
ANSWER_MAX = 200  # characters of the answer's toast
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


def _bot(call: Call) -> Account:
    me = call.me()
    if not me.bot:
        raise RpcFault(400, "USER_BOT_REQUIRED")
    return me


async def set_bot_commands(server: FakeTelegram, call: Call, req: Any) -> Any:
    me = _bot(call)
    if not isinstance(req.scope, types.BotCommandScopeDefault | types.BotCommandScopeUsers):
        raise RpcFault(400, "FAKE_NOT_IMPLEMENTED_SCOPE")
    if len(req.commands) > COMMANDS_MAX:
        raise RpcFault(400, "BOT_COMMANDS_TOO_MUCH")
    for command in req.commands:
        if not _COMMAND.fullmatch(command.command):
            raise RpcFault(400, "BOT_COMMAND_INVALID")
        if not 1 <= len(command.description) <= 256:
            raise RpcFault(400, "BOT_COMMAND_DESCRIPTION_INVALID")
    server.bot_commands[(me.id, req.lang_code)] = list(req.commands)
    return Raw(BOOL_TRUE)


class _Commands:
    """``Vector<BotCommand>`` as bytes (Telethon has no class for a bare vector)."""

    def __init__(self, commands: list[Any]) -> None:
        self.commands = commands

    def __bytes__(self) -> bytes:
        import struct

        head = struct.pack("<II", 0x1CB5C415, len(self.commands))
        return head + b"".join(bytes(c) for c in self.commands)


async def get_bot_commands(server: FakeTelegram, call: Call, req: Any) -> Any:
    me = _bot(call)
    return _Commands(server.bot_commands.get((me.id, req.lang_code), []))


def button_data(message: StoredMessage) -> list[bytes]:
    """Every callback button's data on a message."""
    markup = message.reply_markup
    if not isinstance(markup, types.ReplyInlineMarkup):
        return []
    found: list[bytes] = []
    for row in markup.rows:
        for button in row.buttons:
            kind = getattr(button, "type", button)  # the layer's shape, old or new
            data = getattr(kind, "data", None)
            if isinstance(data, bytes):
                found.append(data)
    return found


async def press(
    server: FakeTelegram,
    person: Account,
    bot: Account,
    message_id: int,
    data: bytes,
    wait: float = ANSWER_TIMEOUT,
) -> Any:
    """``person`` presses the button with ``data`` on the bot's message ``message_id``
    (its id in the bot's box, as the bot sent it); returns the bot's answer."""
    box = server.box("user", bot.id).messages
    msg = next((m for m in box if m.id == message_id and m.peer == ("user", person.id)), None)
    if msg is None:
        raise RpcFault(400, "MESSAGE_ID_INVALID")
    if data not in button_data(msg):
        raise RpcFault(400, "DATA_INVALID")
    query_id = server.rng.getrandbits(63)
    answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    server.callback_queries[query_id] = answer
    update = types.UpdateBotCallbackQuery(
        query_id=query_id,
        user_id=person.id,
        peer=types.PeerUser(person.id),
        msg_id=msg.id,
        chat_instance=person.id ^ bot.id,
        data=data,
    )
    users, chats = entities_for(server, [("user", person.id)], bot)
    server.push(bot.id, types.Updates([update], users, chats, when(server.clock()), 0))
    try:
        async with asyncio.timeout(wait):
            return await answer
    except TimeoutError:
        raise RpcFault(400, "BOT_RESPONSE_TIMEOUT") from None
    finally:
        server.callback_queries.pop(query_id, None)


async def get_bot_callback_answer(server: FakeTelegram, call: Call, req: Any) -> Any:
    """A person's app pressing a button (``msg_id`` as the person's box numbers it)."""
    me = call.me()
    peer = resolve_peer(server, call, req.peer)
    bot = server.accounts[peer[1]] if peer[0] == "user" else None
    if bot is None or not bot.bot:
        raise RpcFault(400, "PEER_ID_INVALID")
    mine = server.box("user", me.id).messages
    seen = next((m for m in mine if m.id == req.msg_id and m.peer == peer), None)
    if seen is None or seen.twin is None:
        raise RpcFault(400, "MESSAGE_ID_INVALID")
    return await press(server, me, bot, seen.twin, req.data or b"")


async def set_bot_callback_answer(server: FakeTelegram, call: Call, req: Any) -> Any:
    _bot(call)
    if len(req.message or "") > ANSWER_MAX:
        raise RpcFault(400, "MESSAGE_TOO_LONG")
    waiting = server.callback_queries.pop(req.query_id, None)
    if waiting is None or waiting.done():
        raise RpcFault(400, "QUERY_ID_INVALID")
    waiting.set_result(
        types.messages.BotCallbackAnswer(
            cache_time=req.cache_time, alert=req.alert, message=req.message, url=req.url
        )
    )
    return Raw(BOOL_TRUE)


HANDLERS: dict[type, Any] = {
    functions.bots.SetBotCommandsRequest: set_bot_commands,
    functions.bots.GetBotCommandsRequest: get_bot_commands,
    functions.messages.GetBotCallbackAnswerRequest: get_bot_callback_answer,
    functions.messages.SetBotCallbackAnswerRequest: set_bot_callback_answer,
}
