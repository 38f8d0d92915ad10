"""Every request's body bounded before anything parses it, as plain ASGI.

Why here and not in the routes: FastAPI reads a JSON body whole before a route (or a
schema's ``max_length``) sees it, and ``POST /api/v1/session`` is answered without a
token, so 400 MiB sent to it once cost the server 800 MiB. This layer counts bytes as
they arrive and refuses with 413 ``request.too_large`` as soon as ``Content-Length``
says too much or the bytes pass the cap (a JSON route: ``JSON_BODY``; an upload piece:
``web.max_piece``, streamed to disk by ``uploads``, never held). A JSON body must
arrive within ``BODY_SECONDS`` (408 ``request.timeout``): a trickle does not hold a
connection and its buffer for good.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.web.core import API, error_response, send_error

JSON_BODY = 256 * 1024  # the largest JSON request (a link, a password, a watch) is ~10 KiB
BODY_SECONDS = 30.0
_PIECE = re.compile(rf"^{re.escape(API)}/uploads/[^/]+$")


class TooLarge(FerrymanError):
    """Raised out of ``receive`` when a streamed body passes its cap: the app's
    FerrymanError handler answers it (413), or this layer does."""

    def __init__(self, cap: int) -> None:
        super().__init__("request.too_large", f"the request's body is over {cap} bytes")


class BodyLimit:
    """The cap per route: ``piece`` for ``PUT`` of an upload's piece, else ``JSON_BODY``
    (every other route, whatever its method: none streams a body)."""

    def __init__(self, app: Any, *, piece: int) -> None:
        self.app = app
        self.piece = piece

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        streamed = scope["method"] == "PUT" and _PIECE.match(scope["path"]) is not None
        cap = self.piece if streamed else JSON_BODY
        declared = _content_length(scope)
        if streamed:  # the piece's range says how much ``uploads`` will read
            declared = max(declared or 0, _range_length(scope) or 0)
        if declared is not None and declared > cap:
            await send_error(send, error_response(TooLarge(cap)), [_CLOSE])
            return
        if streamed:
            await self._streamed(scope, receive, send, cap)
            return
        try:
            async with asyncio.timeout(BODY_SECONDS):
                body = await _read(receive, cap)
        except TimeoutError:
            slow = FerrymanError("request.timeout", f"no whole body within {BODY_SECONDS:g} s")
            await send_error(send, error_response(slow), [_CLOSE])
            return
        except TooLarge as exc:
            await send_error(send, error_response(exc), [_CLOSE])
            return
        if body is None:  # the client left
            return
        await self.app(scope, _replay(body, receive), send)

    async def _streamed(self, scope: Any, receive: Any, send: Any, cap: int) -> None:
        seen = 0
        started = False

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise TooLarge(cap)
            return message

        async def watched(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except TooLarge as exc:  # not answered by the app's handler: answer it here
            if not started:
                await send_error(send, error_response(exc), [_CLOSE])


_CLOSE = (b"connection", b"close")  # the rest of a refused body is not read


def _content_length(scope: Any) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # h11 refuses a malformed one before we see it
    return None


_RANGE = re.compile(rb"^\s*bytes (\d+)-(\d+)/\d+\s*$")


def _range_length(scope: Any) -> int | None:
    """The length a ``Content-Range: bytes START-END/SIZE`` announces (None: none)."""
    for name, value in scope["headers"]:
        if name == b"content-range" and (found := _RANGE.match(value)):
            return int(found[2]) - int(found[1]) + 1
    return None


async def _read(receive: Any, cap: int) -> bytes | None:
    """The whole body, refused (``TooLarge``) once past ``cap``; None: disconnected."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise TooLarge(cap)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    """A ``receive`` that gives ``body`` once, then waits on the real one (for the
    disconnect a streaming response listens for)."""
    given = False

    async def replayed() -> Any:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
