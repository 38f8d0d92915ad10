"""The fake over TCP: a client in another process talks to a :class:`FakeTelegram` here.

Crash tests kill the client with SIGKILL, so it must live in a child process while the
fake, and what it saw, stays in the test. :func:`serve` listens for connections;
:class:`RemoteSender` is a :class:`FakeSender` whose requests travel over a socket, and
:class:`RemoteDialer` is ferryman's ``Dialer`` built on it.

Wire format: frames of a 4-byte big-endian length and a payload. A connection opens with
the data centre it dials (2 bytes, 0: its key's own) and the client's auth key (256
bytes, or none yet: then the server makes one, as the key exchange would) and the
server's answer with the key in use. After that each request is an 8-byte id and the TL
bytes; each answer is that id, a kind byte and a body (the TL result, an RPC error's
code and message, "dropped", or a bug in the fake). Requests are answered concurrently,
in whatever order they finish. Updates the server pushes travel as frames with id 0.
Dropping a connection on either side closes the socket, so the other side's requests in
flight fail with ``ConnectionError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import struct
from dataclasses import dataclass, field
from typing import Any

from telethon.crypto import AuthKey

from faketg.client import announce
from faketg.sender import Dropped, FakeSender, RpcFault
from faketg.server import FakeTelegram

OK, RPC_ERROR, DROPPED, FAILED, UPDATE = range(5)
_HEAD = struct.Struct(">QB")  # request id, kind


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    size = int.from_bytes(await reader.readexactly(4), "big")
    return await reader.readexactly(size)


def _write_frame(writer: asyncio.StreamWriter, payload: bytes) -> None:
    writer.write(len(payload).to_bytes(4, "big") + payload)


# ------------------------------------------------------------------ server side


class _Connection(FakeSender):
    """The server's view of one client connection: what ``FakeTelegram`` attaches."""

    def __init__(
        self, server: FakeTelegram, writer: asyncio.StreamWriter, key: bytes, dc_id: int | None
    ) -> None:
        super().__init__(server, AuthKey(key or None), dc_id=dc_id)
        self.writer = writer

    def _detach(self) -> None:
        super()._detach()
        self.writer.close()

    def _answer(self, rid: int, kind: int, body: bytes) -> None:
        if self.is_connected() and not self.writer.is_closing():
            _write_frame(self.writer, _HEAD.pack(rid, kind) + body)

    async def answer(self, rid: int, data: bytes) -> None:
        try:
            body = await self.server.call(self, data)
        except RpcFault as fault:
            code = struct.pack(">i", fault.code)
            self._answer(rid, RPC_ERROR, code + fault.message.encode())
        except Dropped:
            self._answer(rid, DROPPED, b"")
            self.drop()
        except Exception as exc:  # a bug in the fake: surface it in the client
            self._answer(rid, FAILED, repr(exc).encode())
        else:
            self._answer(rid, OK, body)

    def deliver_update(self, body: bytes) -> None:
        self._answer(0, UPDATE, body)


@dataclass(slots=True)
class RemoteTelegram:
    """A listening fake: clients connect to ``port`` on ``host``."""

    server: FakeTelegram
    tcp: asyncio.Server
    host: str
    port: int
    connections: set[_Connection] = field(default_factory=set)

    async def close(self) -> None:
        self.tcp.close()
        for conn in list(self.connections):
            conn.drop()
        await self.tcp.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            hello = await _read_frame(reader)
        except (asyncio.IncompleteReadError, OSError):
            writer.close()
            return
        dc_id = int.from_bytes(hello[:2], "big") or None
        conn = _Connection(self.server, writer, hello[2:], dc_id)
        await conn.connect()  # attaches to the server, making a key if there was none
        self.connections.add(conn)
        _write_frame(writer, conn.auth_key.key)
        try:
            while conn.is_connected():
                payload = await _read_frame(reader)
                if not conn.is_connected():
                    break  # dropped meanwhile: what is still buffered never arrived
                (rid,) = struct.unpack(">Q", payload[:8])
                task = asyncio.create_task(conn.answer(rid, payload[8:]))
                conn._tasks.add(task)
                task.add_done_callback(conn._tasks.discard)
        except (asyncio.IncompleteReadError, OSError):
            pass  # the client went away (or was killed)
        finally:
            self.connections.discard(conn)
            conn._close(None)


async def serve(server: FakeTelegram, host: str = "127.0.0.1", port: int = 0) -> RemoteTelegram:
    """Listen for :class:`RemoteSender` connections to ``server``; ``port=0`` picks one."""
    remote: RemoteTelegram
    tcp = await asyncio.start_server(lambda r, w: remote._serve(r, w), host, port)
    bound = tcp.sockets[0].getsockname()[1]
    remote = RemoteTelegram(server, tcp, host, bound)
    return remote


# ------------------------------------------------------------------ client side


class RemoteSender(FakeSender):
    """A :class:`FakeSender` whose server is at ``host:port`` (see :func:`serve`)."""

    def __init__(
        self,
        host: str,
        port: int,
        auth_key: AuthKey | None = None,
        updates_queue: asyncio.Queue[Any] | None = None,
        dc_id: int | None = None,
    ) -> None:
        super().__init__(None, auth_key, updates_queue, dc_id)  # type: ignore[arg-type]
        self.host = host
        self.port = port
        self._writer: asyncio.StreamWriter | None = None
        self._listener: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
        self._ids = itertools.count(1)

    async def _attach(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            dc = (self.dc_id or 0).to_bytes(2, "big")
            _write_frame(writer, dc + (self.auth_key.key or b""))
            key = await _read_frame(reader)
        except (asyncio.IncompleteReadError, OSError) as exc:
            writer.close()
            raise ConnectionError("the fake Telegram closed the connection") from exc
        if self.auth_key.key is None:
            self.auth_key.key = key
        self._writer = writer
        self._pending = {}
        self._listener = asyncio.create_task(self._listen(reader))

    def _detach(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._listener is not None and self._listener is not asyncio.current_task():
            self._listener.cancel()
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            fut.cancel()

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                payload = await _read_frame(reader)
                rid, kind = _HEAD.unpack_from(payload)
                body = payload[_HEAD.size :]
                if kind == UPDATE:
                    self.deliver_update(body)
                    continue
                fut = self._pending.pop(rid, None)
                if fut is not None and not fut.done():
                    fut.set_result((kind, body))
        except (asyncio.IncompleteReadError, OSError):
            self._close(ConnectionError("the fake Telegram closed the connection"))

    async def _call(self, data: bytes) -> bytes:
        writer = self._writer
        if writer is None or writer.is_closing():
            raise Dropped
        rid = next(self._ids)
        fut: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            _write_frame(writer, rid.to_bytes(8, "big") + data)
            with contextlib.suppress(OSError):
                await writer.drain()  # a lost connection shows up in the listener
            kind, body = await fut
        finally:
            self._pending.pop(rid, None)
        if kind == OK:
            return body
        if kind == RPC_ERROR:
            (code,) = struct.unpack(">i", body[:4])
            raise RpcFault(code, body[4:].decode())
        if kind == DROPPED:
            raise Dropped
        raise RuntimeError(f"the fake Telegram failed: {body.decode()}")


class RemoteDialer:
    """ferryman's ``Dialer`` for a fake in another process: every connection is TCP."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.opened = 0

    def install(self, client: Any) -> None:
        client._sender = RemoteSender(
            self.host, self.port, client.session.auth_key, client._updates_queue
        )

    async def open_sender(self, client: Any) -> Any:
        sender = RemoteSender(self.host, self.port, client.session.auth_key)
        await sender.connect()
        self.opened += 1
        return sender

    async def open_dc_sender(
        self, client: Any, dc_id: int, auth_key: Any, *, cdn: bool = False
    ) -> Any:
        """A connection to another data centre of the fake (``faketg.dcs``)."""
        key = AuthKey(None) if auth_key is None else auth_key
        sender = RemoteSender(self.host, self.port, key, dc_id=dc_id)
        await sender.connect()
        if not cdn:
            await announce(client, sender)
        self.opened += 1
        return sender
