"""The front door: private messages from allowed people become jobs, commands and replies.

Telethon runs each event handler as its own task; the handler here only queues the
message, and one consumer answers them in the order they came, so ``/pause`` followed
by ``/resume`` never runs the other way round. Nothing long runs here: a file sent
becomes a job at once, downloaded by the engine's fetch stage (``inbox``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from telethon import events

from ferryman.config import Settings
from ferryman.engine.ops import who as asking
from ferryman.engine.plumbing.events import EventBus
from ferryman.errors import FerrymanError
from ferryman.frontdoors.telegram.allow import AllowList
from ferryman.frontdoors.telegram.callbacks import Actions
from ferryman.frontdoors.telegram.caption import links_in
from ferryman.frontdoors.telegram.chat import Chat
from ferryman.frontdoors.telegram.commands import Commands
from ferryman.frontdoors.telegram.help import register_menu
from ferryman.frontdoors.telegram.inbox import Inbox
from ferryman.frontdoors.telegram.status import StatusBoard
from ferryman.frontdoors.telegram.user_settings import Who
from ferryman.resources import Shared
from ferryman.sinks.base import SinkRegistry
from ferryman.sinks.builtin import default_sinks
from ferryman.sources.base import SourceRegistry
from ferryman.sources.builtin import default_sources
from ferryman.store.ports import ChatDoor
from ferryman.telegram.remote import remote_file

log = logging.getLogger(__name__)

NOT_UNDERSTOOD = "send me an archive, a media file or a link to one, or /help"
TOAST_MAX = 200  # characters of a button's answer
CLOSE_GRACE_SECONDS = 10.0  # for the message being answered when ferryman stops


class FrontDoor:
    def __init__(
        self,
        settings: Settings,
        store: ChatDoor,
        client: Any,
        bus: EventBus,
        wake: Callable[[], None],
        sinks: SinkRegistry | None = None,
        arrived: asyncio.Queue[Any] | None = None,
        sources: SourceRegistry | None = None,
        resources: Shared | None = None,
    ) -> None:
        """``arrived``: messages someone else listens for on the door's behalf since
        before the client connected (``serve`` with the engine's shared client), so the
        caught-up ones are answered too; without it the door listens from ``start``.
        ``resources``: the engine's (its Telegram client asks whether a chat a person
        names is theirs: ``ops/who.own_place``)."""
        self.settings = settings
        self.store = store
        self.client = client
        self.bus = bus
        self.sources = sources or default_sources()  # what a message's words may name
        self.chat = Chat(client)
        self.board = StatusBoard(store, self.chat, settings.telegram.status_every_seconds)
        self.inbox = Inbox(
            settings, store, self.board, wake, sinks or default_sinks(), self.sources, resources
        )
        self.commands = Commands(settings, store, self.inbox, wake)
        self.actions = Actions(settings, store, self.chat, self.commands, self.inbox, self.sources)
        self.allow = AllowList(set())
        self._listens = arrived is None
        self._queue: asyncio.Queue[Any] = arrived if arrived is not None else asyncio.Queue()
        self._answering: asyncio.Task[None] | None = None
        self._showing: asyncio.Task[None] | None = None
        self._unsubscribe: list[Callable[[], None]] = []

    async def start(self) -> None:
        """Resolve who is allowed, pick up earlier status messages and held lists, listen."""
        self.allow = await AllowList.resolve(self.client, self.settings.telegram.allow_users)
        await self._know_session()
        await self.board.load()
        self._unsubscribe = [
            self.bus.subscribe(self.board.on_event),
            self.bus.subscribe(self.inbox.on_event),
        ]
        self._showing = asyncio.create_task(self.board.run(), name="status-board")
        self._answering = asyncio.create_task(self._answer_all(), name="front-door")
        if self._listens:
            self.client.add_event_handler(self._on_message, events.NewMessage(incoming=True))
        await self.inbox.start()

    async def _know_session(self) -> None:
        """A bot (``get_me().bot``) gets buttons, callbacks and its command menu; a
        user account numbered choices and ``/help`` as its menu."""
        me = await self.client.get_me()
        bot = bool(getattr(me, "bot", False))
        self.chat.bot = self.commands.bot = bot
        if bot:
            await register_menu(self.client)
            self.client.add_event_handler(self._on_message, events.CallbackQuery())

    async def close(self) -> None:
        """Stop listening; a message being answered is finished first (store writes are
        not cut in half); the engine's downloads are the engine's to stop."""
        self.client.remove_event_handler(self._on_message, events.CallbackQuery)
        if self._listens:
            self.client.remove_event_handler(self._on_message)
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._queue.put_nowait(None)
        if self._answering is not None:
            await asyncio.wait({self._answering}, timeout=CLOSE_GRACE_SECONDS)
        await self.inbox.close()
        tasks = [t for t in (self._answering, self._showing) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _on_message(self, event: Any) -> None:
        # No await before queueing: handlers run as tasks, and order is kept only here.
        self._queue.put_nowait(event)

    async def _answer_all(self) -> None:
        while (event := await self._queue.get()) is not None:
            person = await self._asker(event) if event.is_private else None
            if person is None:
                continue  # the allow-list is known only once started: checked here
            if isinstance(event, events.CallbackQuery.Event):
                await self._press(event, person)
                continue
            message = event.message
            try:
                with contextlib.suppress(Exception):  # else looked up when answering
                    self.chat.remember(event.chat_id, await event.get_input_chat())
                reply = await self.answer(message, person)
                if reply:
                    await self.chat.send(message.chat_id, reply, reply_to=message.id)
            except FerrymanError as exc:
                log.warning("answering message %s failed: %s", message.id, exc)
            except Exception:
                log.exception("answering message %s failed", message.id)

    async def _asker(self, event: Any) -> asking.Who | None:
        """Who asks (``ops/who``), or None for a stranger (ignored, logged once). Linked
        to a page's account (``/link``; the accounts are an allow-list too): that
        account, confined to its own things unless an administrator's. On the
        allow-list and linked to none: the machine's own user, as before accounts. A
        stranger's ``/link CODE`` is heard (the code, made by a signed-in person and
        good once for ten minutes, is the proof), as nobody's."""
        sender = event.sender_id
        user = await self.store.user_of_telegram(sender) if sender is not None else None
        if user is not None:
            return asking.of_user(user)
        if sender is not None and sender in self.allow.ids:
            return asking.MACHINE
        text = getattr(getattr(event, "message", None), "message", None) or ""
        if isinstance(text, str) and _links(text):
            return asking.NOBODY
        self.allow.allows(sender)  # logs the stranger once
        return None

    async def _press(self, event: Any, person: asking.Who) -> None:
        """A button pressed on one of the bot's messages: carried out, then answered
        (the app's spinner stops; the note shows as a toast)."""
        try:
            data = bytes(event.data or b"").decode(errors="replace")
            who = Who(event.sender_id, event.chat_id, person)
            done = await self.actions.run(event.chat_id, event.message_id, data, who)
            await event.answer(done.note[:TOAST_MAX])
        except Exception:
            log.exception("answering a button failed")

    async def _chosen(self, message: Any, text: str, who: Who) -> str | None:
        """A reply that answers something the account asked or offered: a password
        prompt, a list of files, a numbered choice (user accounts). None: not one."""
        chat_id, reply_to = message.chat_id, message.reply_to_msg_id
        said = await self.actions.password_reply(chat_id, reply_to, text, who)
        if said is not None or self.chat.bot:
            return said
        picked = await self.actions.pick_reply(chat_id, reply_to, text)
        if picked is not None:
            return picked.note
        answered = self.chat.numbered.answer(chat_id, text, reply_to)
        if answered is None:
            return None
        offered_on, option = answered
        done = await self.actions.run(chat_id, offered_on, option.action, who)
        return done.note

    async def answer(self, message: Any, person: asking.Who) -> str | None:
        """The reply to one message from an allowed ``person`` (None: no reply)."""
        text = message.message or ""
        who = Who(message.sender_id, message.chat_id, person)
        if person.account is None and not person.admin:  # a stranger: /link CODE only
            return await self.commands.run(text, who, message) if _links(text) else None
        remote = remote_file(message)
        if remote is not None and not _sets_thumbnail(text):  # that photo is a setting's
            return await self.inbox.receive(message, remote, who)
        chosen = await self._chosen(message, text, who)
        if chosen is not None:
            return chosen
        if text.startswith("/"):
            await self.actions.offer_settings_on_reply(text, who, message.id)
            return await self.commands.run(text, who, message)
        links = links_in(text, _entity_urls(message), self.sources)
        if links:
            return await self.inbox.take_links(message, links, who)
        return NOT_UNDERSTOOD


def _links(text: str) -> bool:
    """``/link CODE`` (``/link@bot CODE`` too): all a stranger is heard for; a file
    under that caption, a link after it, is no command and not heard."""
    words = text.split()
    return len(words) == 2 and words[0].split("@", 1)[0].lower() == "/link"


def _sets_thumbnail(caption: str) -> bool:
    """``/settings thumbnail`` as a photo's caption: the photo is that setting's, not a
    job (any other caption, a command's words included, leaves a file a job)."""
    return caption.split()[:2] == ["/settings", "thumbnail"]


def _entity_urls(message: Any) -> list[str]:
    """The links Telegram marked in a message: a plain URL entity (its text, which
    Telethon cuts out by UTF-16 offsets) or a hidden one behind other text."""
    urls: list[str] = []
    try:
        pairs = message.get_entities_text() if getattr(message, "entities", None) else []
    except Exception:  # a message object without entity helpers: fall back to the text
        return urls
    for entity, text in pairs:
        kind = type(entity).__name__
        if kind == "MessageEntityTextUrl":
            urls.append(entity.url)
        elif kind == "MessageEntityUrl":
            urls.append(text)
    return urls
