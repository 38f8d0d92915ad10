"""A stand-in for Telethon's ``MTProtoSender`` that talks to a ``FakeTelegram``.

Everything above the sender is the real Telethon client: requests are serialised with
``bytes(request)``, parsed again by the fake from those bytes, and the fake's answer is
serialised and read back with the request's own ``read_result``, exactly as a reply from
Telegram would be. Errors come back as ``RpcError`` messages turned into Telethon's
exceptions by Telethon's own table. Requests and answers are encrypted as MTProto 2.0
(``crypto``: Telethon's own ``MTProtoState`` on this side); acks, containers and the
TCP framing are skipped.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

from telethon.crypto import AuthKey
from telethon.errors import rpc_message_to_error
from telethon.extensions import BinaryReader
from telethon.network.mtprotosender import MTProtoSender
from telethon.tl.types import RpcError
from telethon.utils import is_list_like

from faketg.crypto import ClientWire
from faketg.network import Pipe

if TYPE_CHECKING:
    from faketg.server import FakeTelegram


class Dropped(Exception):
    """The fake dropped this connection (an injected fault)."""


class RpcFault(Exception):
    """What the fake answers instead of a result: an RPC error code and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


class FakeSender:
    """One connection to the fake; Telethon's client uses it as its ``_sender``."""

    def __init__(
        self,
        server: FakeTelegram,
        auth_key: AuthKey | None = None,
        updates_queue: asyncio.Queue[Any] | None = None,
        dc_id: int | None = None,
    ) -> None:
        self.server = server
        self.dc_id = dc_id  # the data centre dialled (None: the key's own, ``dcs``)
        self.auth_key = auth_key if auth_key is not None else AuthKey(None)
        self._updates_queue = updates_queue
        self._connection: Any = None
        self._user_connected = False
        self._disconnected_future: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.pipe = Pipe()
        self.id = 0
        self.api_id: int | None = None
        self._wire: ClientWire | None = None

    # ------------------------------------------------------------- lifecycle

    async def connect(self, connection: Any = None) -> bool:
        if self._user_connected:
            return False
        self._connection = connection
        await self._attach()
        self._wire = ClientWire(self.auth_key)  # a new MTProto session per connection
        self._user_connected = True
        self._disconnected_future = asyncio.get_running_loop().create_future()
        return True

    async def _attach(self) -> None:
        """Join the server (a subclass may reach it some other way, see ``remote``)."""
        if self.auth_key.key is None:
            self.auth_key.key = os.urandom(256)  # what the key exchange would have made
        self.pipe = Pipe()
        self.id = self.server.attach(self)

    def _detach(self) -> None:
        self.server.detach(self)

    def is_connected(self) -> bool:
        return self._user_connected

    @property
    def _state(self) -> Any:
        """Telethon's ``MTProtoState`` of this connection, as ``MTProtoSender._state``."""
        return self._wire.state if self._wire is not None else None

    def _transport_connected(self) -> bool:
        return self._user_connected

    def _keepalive_ping(self, _rnd: int) -> None:
        """Telethon's update loop pings an idle connection; the fake needs none."""

    async def disconnect(self) -> None:
        self._close(None)

    def _close(self, error: BaseException | None) -> None:
        if not self._user_connected:
            return
        self._user_connected = False
        self._detach()
        for task in list(self._tasks):
            task.cancel()
        fut = self._disconnected_future
        if fut is not None and not fut.done():
            if error is None:
                fut.set_result(None)
            else:
                fut.set_exception(error)
                fut.exception()  # retrieved: nobody need await it

    def drop(self) -> None:
        """Cut the connection as a network failure would (requests in flight fail)."""
        self._close(ConnectionError("connection dropped by the fake Telegram server"))

    @property
    def disconnected(self) -> asyncio.Future[None]:
        fut = self._disconnected_future
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            fut.set_result(None)
        return asyncio.shield(fut)

    # --------------------------------------------------------------- requests

    def send(self, request: Any, ordered: bool = False) -> Any:
        if not self._user_connected:
            raise ConnectionError("Cannot send requests while disconnected")
        if is_list_like(request):
            return [self._submit(r) for r in request]
        return self._submit(request)

    def _submit(self, request: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if self._wire is None:
            raise ConnectionError("Cannot send requests while disconnected")
        _msg_id, data = self._wire.seal(bytes(request))  # on the loop, as Telethon does
        task = loop.create_task(self._roundtrip(request, data, fut))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda t: _cancelled_to(fut, t))
        return fut

    async def _roundtrip(self, request: Any, data: bytes, fut: asyncio.Future[Any]) -> None:
        try:
            body = await self._call(data)
        except RpcFault as fault:
            _settle(fut, error=rpc_message_to_error(RpcError(fault.code, fault.message), request))
        except Dropped:
            _settle(fut, error=ConnectionError("connection dropped by the fake Telegram server"))
            self.drop()
        except Exception as exc:  # a bug in the fake: surface it to the test
            _settle(fut, error=exc)
        else:
            try:
                if self._wire is None:
                    raise ConnectionError("the connection closed with the request in flight")
                with BinaryReader(self._wire.open(body)) as reader:
                    result = request.read_result(reader)
            except Exception as exc:
                _settle(fut, error=exc)
            else:
                # As Telethon's own sender does: a reply's updates also feed the update
                # loop (flagged outgoing), so the client's pts never shows a false gap.
                MTProtoSender._store_own_updates(self, result)
                _settle(fut, result=result)

    async def _call(self, data: bytes) -> bytes:
        """One request's answer; raises :class:`RpcFault` or :class:`Dropped` instead."""
        return await self.server.call(self, data)

    def deliver_update(self, body: bytes) -> None:
        """Push an ``Updates`` object (as bytes) the way the server pushes updates."""
        if self._updates_queue is None or not self._user_connected:
            return
        with BinaryReader(body) as reader:
            self._updates_queue.put_nowait(reader.tgread_object())


def _settle(
    fut: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None
) -> None:
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


def _cancelled_to(fut: asyncio.Future[Any], task: asyncio.Task[None]) -> None:
    if task.cancelled() and not fut.done():
        fut.set_exception(ConnectionError("connection closed while the request was in flight"))
