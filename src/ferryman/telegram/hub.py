"""One connected Telegram client (and its uploader) per running engine, opened on first use.

Sinks and the front door share it: one login, one set of upload connections. Closing it
disconnects everything it opened. Uploads start as soon as the client is connected,
while its login is still being checked (``connecting``): parts post nothing, and that
check's round trip is off the way to a file's first part. A warm-up opens the upload
connections as the client connects (they need only the session's key), not after, and
an upload may use them at once (``uploader``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ferryman.config import Settings
from ferryman.model import UploadBook
from ferryman.telegram.accounts import with_session
from ferryman.telegram.aes import aes_in_use
from ferryman.telegram.client import Dialer, MTProtoDialer
from ferryman.telegram.early_upload import EarlyUploads
from ferryman.telegram.login import connect_session, disconnect, require_login
from ferryman.telegram.upload import Uploader

if TYPE_CHECKING:
    from ferryman.resources import Shared


SHARED_KEY = "telegram.hub"
log = logging.getLogger(__name__)


def shared_hub(shared: Shared) -> TelegramHub:
    """The engine's one hub (made on first use, closed with the engine): the Telegram
    sink, the chat and the message-link source all go through it, one login."""
    return shared.get(SHARED_KEY, lambda: TelegramHub(shared.settings, shared.dialer))


def account_hub(shared: Shared, name: str) -> TelegramHub:
    """The hub of one account of the pool (``telegram/accounts``): the own session's is
    :func:`shared_hub`; another's has its own session file, client and uploader."""
    if name == shared.settings.telegram.session:
        return shared_hub(shared)
    settings = with_session(shared.settings, name)
    return shared.get(f"{SHARED_KEY}@{name}", lambda: TelegramHub(settings, shared.dialer))


def drop_account_hub(shared: Shared, name: str) -> TelegramHub | None:
    """The hub of an account that left the pool (logged out), no longer shared: the
    pool closes it once its albums let go of it (never the own session's)."""
    if name == shared.settings.telegram.session:
        return None
    hub = shared.pop(f"{SHARED_KEY}@{name}")
    return hub if isinstance(hub, TelegramHub) else None


class TelegramHub:
    def __init__(self, settings: Settings, dialer: Dialer | None = None) -> None:
        self.settings = settings
        self.dialer: Dialer = dialer or MTProtoDialer()
        self._client: Any = None
        self._login: asyncio.Future[None] | None = None  # the client's login check
        self._uploader: Uploader | None = None
        self._lock = asyncio.Lock()
        self._listeners: list[tuple[Any, Any]] = []
        self._warming: asyncio.Task[None] | None = None
        self._early: EarlyUploads | None = None
        self._adopted: Any = None  # a client handed over (``adopt``), never disconnected
        self._warm_early = False  # a warm-up asked: upload connections open with the client
        self._book: UploadBook | None = None  # where big uploads are recorded (``resume``)
        aes = aes_in_use()  # every byte to and from Telegram goes through it: say which
        (log.warning if aes.slow else log.info)("Telegram's AES-IGE: %s", aes.words)

    def early_uploads(self) -> EarlyUploads:
        """The uploads made while big files are still being staged (on the loop)."""
        if self._early is None:
            self._early = EarlyUploads(asyncio.get_running_loop(), self.uploader)
        return self._early

    def keep_uploads(self, book: UploadBook) -> None:
        """Record big uploads in ``book`` (a sink's state in the store) from now on, so
        that a run after a crash resumes them (``telegram/resume.py``)."""
        self._book = book
        if self._uploader is not None:
            self._uploader.book = book

    def adopt(self, client: Any, dialer: Dialer | None = None) -> None:
        """Go through ``client`` (connected and logged in, owned by whoever made it: it is
        not disconnected here) instead of a connection of our own: ``serve`` handed a
        client shares it with the engine, so the files its chat receives are fetched by
        the account that received them. ``dialer``: how its extra connections are made."""
        if self._client is not None:
            return  # already connected: one login either way
        self._client, self._adopted = client, client
        self._login = asyncio.get_running_loop().create_future()
        self._login.set_result(None)
        if dialer is not None:
            self.dialer = dialer

    def listen(self, callback: Any, event: Any) -> None:
        """Hand ``event``s to ``callback`` from the connection on, caught-up ones included:
        registered before the client connects (now too, if it is connected already)."""
        self._listeners.append((callback, event))
        if self._client is not None:
            self._client.add_event_handler(callback, event)

    def unlisten(self, callback: Any) -> None:
        self._listeners = [(c, e) for c, e in self._listeners if c != callback]
        if self._client is not None:
            self._client.remove_event_handler(callback)

    async def client(self) -> Any:
        """Connected and logged in, or a clear reason: not logged in, revoked, banned."""
        client, login = await self.connecting()
        await asyncio.shield(login)
        return client

    async def connecting(self) -> tuple[Any, asyncio.Future[None]]:
        """The client once it is connected, and its login check, maybe still under way:
        what posts nothing (an upload's parts) may go before the check ends; anything
        else waits for it, and its error is the one to tell."""
        async with self._lock:
            if self._client is not None and not self._client.is_connected():
                try:  # the connection dropped: the same client (and session file) reconnects
                    await self._client.connect()
                except Exception:
                    await self._dispose()
            if self._client is None or self._login is None:  # both set, or neither
                try:
                    self._client = await self._connect()
                except BaseException:
                    await self._drop_uploader()  # opened early for a client now gone
                    raise
                self._login = asyncio.ensure_future(self._check(self._client))
                self._login.add_done_callback(_retrieve)
            return self._client, self._login

    async def _check(self, client: Any) -> None:
        """``client`` is logged in; if not, it is let go (the next use connects anew)."""
        try:
            await require_login(client)  # disconnects it on failure
        except Exception:
            if self._client is client:
                self._client = self._login = None
                await self._drop_uploader()  # its connections belong to this client
            raise

    async def _dispose(self) -> None:
        """Let go of a client that cannot reconnect, closing its session file first."""
        await self._drop_uploader()  # its connections belong to the old client
        if self._login is not None and not self._login.done():
            self._login.cancel()
            await asyncio.gather(self._login, return_exceptions=True)
        self._login = None
        if self._client is not None and self._client is not self._adopted:
            await disconnect(self._client)
        self._client = None

    async def _connect(self) -> Any:
        """Connected, its login not checked yet (:meth:`_check`)."""

        def prepare(client: Any) -> None:
            for callback, event in self._listeners:
                client.add_event_handler(callback, event)
            # Warming: the upload connections open beside the client's own (their
            # handshakes need only the session's key), not one round trip after it.
            if self._warm_early and client.session.auth_key is not None:
                self._made_uploader(client).warm()

        return await connect_session(self.settings, self.dialer, prepare)

    async def uploader(self) -> Uploader:
        """The uploader, once the client is connected (its login may still be checked);
        while a warm-up connects it, at once: parts need only the session's key, not
        the client's first round trip (a connect that fails closes it, and an upload
        under way fails with it)."""
        if self._uploader is not None and self._lock.locked():  # made as it connects
            return self._uploader
        client, _login = await self.connecting()
        return self._made_uploader(client)

    def _made_uploader(self, client: Any) -> Uploader:
        if self._uploader is None:
            tg = self.settings.telegram
            self._uploader = Uploader(
                client,
                self.dialer,
                connections=tg.upload_connections,
                max_in_flight=tg.parts_in_flight,
                book=self._book,
            )
        return self._uploader

    async def _drop_uploader(self) -> None:
        if self._uploader is not None:
            await self._uploader.close()
            self._uploader = None

    def warm(self, allowed: Callable[[], Awaitable[bool]] | None = None) -> None:
        """Log in and open the upload connections in the background (once): a job that
        will deliver here has them ready when its first album is. A failure is left to
        the delivery, which meets it again and reports it. ``allowed``: asked first (no
        request goes out during a flood wait Telegram imposed)."""
        if self._warming is None or self._warming.done():
            self._warming = asyncio.create_task(self._warm(allowed))

    async def _warm(self, allowed: Callable[[], Awaitable[bool]] | None) -> None:
        try:
            if allowed is not None and not await allowed():
                return
            self._warm_early = True
            (await self.uploader()).warm()
        except Exception:
            return

    async def close(self) -> None:
        if self._early is not None:
            await self._early.close()
        if self._warming is not None:
            self._warming.cancel()
            await asyncio.gather(self._warming, return_exceptions=True)
        await self._dispose()


def _retrieve(future: asyncio.Future[None]) -> None:
    """A login check nobody waited for (a warm-up's) may fail unseen: the next use meets
    the same reason again and tells it."""
    if not future.cancelled():
        future.exception()
