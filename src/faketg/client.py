"""Wiring real Telethon clients (and ferryman's dialer seam) to a :class:`FakeTelegram`."""

from __future__ import annotations

from typing import Any

from telethon import TelegramClient
from telethon.crypto import AuthKey
from telethon.sessions import MemorySession
from telethon.tl import functions
from telethon.tl.alltlobjects import LAYER

from faketg.sender import FakeSender
from faketg.server import FakeTelegram
from faketg.state import Account


class FakeDialer:
    """ferryman's ``Dialer`` for the fake: every connection is a :class:`FakeSender`."""

    def __init__(self, server: FakeTelegram) -> None:
        self.server = server
        self.opened = 0

    def install(self, client: TelegramClient) -> None:
        client._sender = FakeSender(self.server, client.session.auth_key, client._updates_queue)

    async def open_sender(self, client: TelegramClient) -> Any:
        sender = FakeSender(self.server, client.session.auth_key)
        await sender.connect()
        self.opened += 1
        return sender

    async def open_dc_sender(
        self, client: TelegramClient, dc_id: int, auth_key: Any, *, cdn: bool = False
    ) -> Any:
        """A connection to another data centre (``faketg.dcs``): a new key when
        ``auth_key`` is None, as the key exchange there would make."""
        sender = FakeSender(
            self.server, AuthKey(None) if auth_key is None else auth_key, dc_id=dc_id
        )
        await sender.connect()
        if not cdn:
            await announce(client, sender)
        self.opened += 1
        return sender


async def announce(client: TelegramClient, sender: Any) -> None:
    """The layer and the app, as a new MTProto session's first request says them."""
    init = client._init_request
    init.query = functions.help.GetConfigRequest()
    await sender.send(functions.InvokeWithLayerRequest(LAYER, init))


async def logged_in_client(
    server: FakeTelegram,
    account: Account,
    session: Any = None,
    *,
    api_id: int = 1,
    api_hash: str = "fakehash",
    **kwargs: Any,
) -> TelegramClient:
    """A connected client already authorised as ``account`` (as after a login)."""
    client = TelegramClient(session or MemorySession(), api_id, api_hash, **kwargs)
    FakeDialer(server).install(client)
    sender: FakeSender = client._sender
    if sender.auth_key.key is None:
        import os

        sender.auth_key.key = os.urandom(256)
        client.session.auth_key = sender.auth_key
    server.authorize(sender.auth_key.key_id, account)
    await client.connect()
    return client


async def save_login(server: FakeTelegram, client: TelegramClient, account: Account) -> None:
    """Connect ``client`` (its dialer the fake's), let the fake know its key as
    ``account``'s, save its session and disconnect: a session file as after a login."""
    await client.connect()
    server.authorize(client.session.auth_key.key_id, account)
    client.session.save()
    await client.disconnect()
