"""uvicorn's HTTP/1.1 connections (h11), with the bounds it lacks: a request's head must
arrive whole within ``HEAD_SECONDS`` of the connection opening (or of the last answer on
a kept-alive one), else the connection is closed.

Why: uvicorn's ``timeout_keep_alive`` is cancelled by any byte received, so a client
that sends one byte of a header every few seconds (slowloris) holds a connection for
good; h11's ``max_incomplete_event_size`` bounds the head's bytes, not its time. A
head h11 refuses (malformed, or over ``HEAD_BYTES``) is answered with a coded JSON error
like every other refusal, not uvicorn's plain text.
Imported only when the server starts (uvicorn is not loaded by other commands).
"""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ferryman.web.core import error_body

HEAD_SECONDS = 10.0  # a request line and its headers, whole
HEAD_BYTES = 16 * 1024  # h11's limit on a head's size (its default, said out loud)
KEEP_ALIVE_SECONDS = 5  # idle between requests on one connection


class BoundedH11(H11Protocol):
    """``H11Protocol`` with a deadline for each request's head."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # a whole head came: the route's time now
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm()  # the next request's head, on a kept-alive connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:  # a head is awaited: bound its size here
            pending = self.conn.trailing_data[0] + data  # h11 checks only what stays
            if len(pending) > HEAD_BYTES and pending.find(b"\r\n\r\n", 0, HEAD_BYTES) < 0:
                self._disarm()  # incomplete, so a head sent in one read got through
                self._refuse(431, f"the request's head is over {HEAD_BYTES} bytes")
                return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a head h11 refused, as ours: a coded JSON error."""
        self._refuse(400, f"not a well-formed HTTP/1.1 request ({msg})")

    def _refuse(self, status: int, message: str) -> None:
        body = json.dumps(error_body("request.invalid", message)).encode()
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(HEAD_SECONDS, self._head_late)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()
