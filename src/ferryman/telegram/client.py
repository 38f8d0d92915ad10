"""Making a Telethon client for ferryman, and extra connections for parallel transfers.

A :class:`Dialer` is the one seam between ferryman and the network: production uses
Telethon's own MTProto sender; the test suite and benchmarks pass one that talks to a
protocol-level fake of Telegram's servers. Everything above it is the real client.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from telethon import TelegramClient
from telethon.network.mtprotosender import MTProtoSender
from telethon.sessions import SQLiteSession
from telethon.tl import functions
from telethon.tl.alltlobjects import LAYER

from ferryman.config import Settings
from ferryman.errors import FerrymanError


class Dialer(Protocol):
    def install(self, client: TelegramClient) -> None:
        """Prepare a new client before it connects (replace its sender, if need be)."""
        ...

    async def open_sender(self, client: TelegramClient) -> Any:
        """Another connection to the client's DC, authorised with the same key."""
        ...

    async def open_dc_sender(
        self, client: TelegramClient, dc_id: int, auth_key: Any, *, cdn: bool = False
    ) -> Any:
        """A connection to data centre ``dc_id`` (a CDN's, with ``cdn``) with ``auth_key``
        (None: a new key, logged in nowhere yet: ``telegram/dcs`` imports the account's
        authorization on it). Its layer is announced, except on a CDN."""
        ...


class MTProtoDialer:
    """The real network: Telethon's sender, plus more of them on the same DC.

    Several connections share the account's auth key, each with its own MTProto
    session (as FastTelethon and tdl do), so parts travel in parallel over separate
    TCP streams instead of queueing behind each other on one.
    """

    def install(self, client: TelegramClient) -> None:
        return None

    async def open_sender(self, client: TelegramClient) -> Any:
        session = client.session
        sender = MTProtoSender(session.auth_key, loggers=client._log)
        await sender.connect(
            client._connection(
                session.server_address,
                session.port,
                session.dc_id,
                loggers=client._log,
                proxy=client._proxy,
                local_addr=client._local_addr,
            )
        )
        # A new MTProto session announces the layer and the app, as the client's first does.
        init = client._init_request
        init.query = functions.help.GetConfigRequest()
        await sender.send(functions.InvokeWithLayerRequest(LAYER, init))
        return sender

    async def open_dc_sender(
        self, client: TelegramClient, dc_id: int, auth_key: Any, *, cdn: bool = False
    ) -> Any:
        """As Telethon's ``_create_exported_sender`` does; a CDN's address and RSA key come
        from ``help.getCdnConfig`` (Telethon's ``_get_dc``)."""
        dc = await client._get_dc(dc_id, cdn=cdn)
        sender = MTProtoSender(auth_key, loggers=client._log)
        await sender.connect(
            client._connection(
                dc.ip_address,
                dc.port,
                dc.id,
                loggers=client._log,
                proxy=client._proxy,
                local_addr=client._local_addr,
            )
        )
        if not cdn:
            init = client._init_request
            init.query = functions.help.GetConfigRequest()
            await sender.send(functions.InvokeWithLayerRequest(LAYER, init))
        return sender


class Session(SQLiteSession):  # type: ignore[misc]
    """Telethon's SQLite session, which no longer stores again the key it holds: every
    connect set the key it had just read, and that rewrote the session's row and
    committed (a journal and its fsyncs on the event loop, 2-40 ms) before the
    client's first request."""

    closing_later = False  # ``close`` leaves the commit to ``close_now`` (``disconnect``)

    @SQLiteSession.auth_key.setter  # type: ignore[untyped-decorator]
    def auth_key(self, value: Any) -> None:
        if value is not None and value == self._auth_key:
            return
        SQLiteSession.auth_key.fset(self, value)

    def close(self) -> None:
        """Telethon closes the session as it disconnects, on the event loop: its commit
        (a journal and its fsyncs, 5-80 ms) is left to ``close_now`` on a thread."""
        if not self.closing_later:
            self.close_now()

    def close_now(self) -> None:
        SQLiteSession.close(self)


def session_path(settings: Settings) -> Path:
    """Where the session lives; the folder is made private (0700) on first use."""
    folder = settings.telegram_dir
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder / f"{settings.telegram.session}.session"


def secure_session_file(path: Path) -> None:
    """Sessions hold the account's auth key: owner-only, like an SSH key."""
    for candidate in (path, path.with_name(path.name + "-journal")):
        if candidate.exists():
            os.chmod(candidate, 0o600)


def make_client(settings: Settings, dialer: Dialer | None = None) -> TelegramClient:
    """A client for the configured account; not connected yet.

    Flood waits are never slept inside Telethon (``flood_sleep_threshold=0``): ferryman
    records them as ``not_before`` so a restart honours them too.
    """
    tg = settings.telegram
    if tg.api_id is None or not tg.api_hash:
        raise FerrymanError(
            "telegram.not_configured", "telegram.api_id and telegram.api_hash are not set"
        )
    path = session_path(settings)
    old_umask = os.umask(0o077)  # the session file is created 0600, never readable by others
    try:
        client = TelegramClient(
            Session(str(path)),
            tg.api_id,
            tg.api_hash,
            flood_sleep_threshold=0,
            device_model="ferryman",
            app_version="ferryman 0.1",
            request_retries=1,
            # The session keeps what was seen (its update state); at connect the client
            # asks for what came meanwhile (getDifference) and hands it to the handlers
            # registered before connecting: messages sent while ferryman was off.
            catch_up=True,
        )
    finally:
        os.umask(old_umask)
    secure_session_file(path)
    (dialer or MTProtoDialer()).install(client)
    return client
