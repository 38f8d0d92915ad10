"""One connected Telegram client (and its uploader) per running engine, opened on first use.

Sinks and the front door share it: one login, one set of upload connections. Closing it
disconnects everything it opened.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ferryman.config import Settings
from ferryman.telegram.client import Dialer, MTProtoDialer
from ferryman.telegram.login import disconnect, open_session
from ferryman.telegram.upload import Uploader


class TelegramHub:
    def __init__(self, settings: Settings, dialer: Dialer | None = None) -> None:
        self.settings = settings
        self.dialer: Dialer = dialer or MTProtoDialer()
        self._client: Any = None
        self._uploader: Uploader | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Any:
        async with self._lock:
            if self._client is not None and not self._client.is_connected():
                try:  # the connection dropped: the same client (and session file) reconnects
                    await self._client.connect()
                except Exception:
                    await self._dispose()
            if self._client is None:
                self._client = await self._connect()
            return self._client

    async def _dispose(self) -> None:
        """Let go of a client that cannot reconnect, closing its session file first."""
        if self._uploader is not None:  # its connections belong to the old client
            await self._uploader.close()
            self._uploader = None
        if self._client is not None:
            await disconnect(self._client)
            self._client = None

    async def _connect(self) -> Any:
        """Connected and logged in, or a clear reason: not logged in, revoked, banned."""
        return await open_session(self.settings, self.dialer)

    async def uploader(self) -> Uploader:
        client = await self.client()
        if self._uploader is None:
            tg = self.settings.telegram
            self._uploader = Uploader(
                client,
                self.dialer,
                connections=tg.upload_connections,
                max_in_flight=tg.parts_in_flight,
            )
        return self._uploader

    async def close(self) -> None:
        await self._dispose()
