"""``/api/v1/events``: the job views as they change, numbered (``web.stream.Stream``), over a
WebSocket, Server-Sent Events or long polling; a client that reconnects with the last
number it saw gets what it missed, or a snapshot."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import zlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from ferryman.clock import Clock
from ferryman.errors import FerrymanError
from ferryman.timeouts import within
from ferryman.web.accounts.held import Holder
from ferryman.web.accounts.identify import identify
from ferryman.web.accounts.who import ADMIN, Me, Who
from ferryman.web.auth import foreign
from ferryman.web.core import API, Web
from ferryman.web.stream import FRAME_MESSAGES, Sent, latest, wanted


def routes(app: FastAPI, web: Web) -> None:
    # the last snapshot, by what it was made of: the number, the jobs, whose
    made: list[tuple[tuple[int, frozenset[int] | None, Who], Sent]] = []

    async def catch_up(
        after: int, epoch: str | None, jobs: set[int] | None, who: Who = ADMIN
    ) -> tuple[list[Sent], int]:
        """What a client that saw ``after`` (of ``epoch``) is missing, and the number
        it has seen then: a snapshot when the stream cannot tell. A person gets only
        their own jobs' messages (an administrator everyone's)."""
        seq = web.stream.seq  # read before any await: nothing published later is lost
        missed = web.stream.since(after, epoch)
        if missed is not None:
            return [m for m in missed if wanted(m, jobs) and who.sees(m.account)], seq
        key = (seq, frozenset(jobs) if jobs is not None else None, who)
        if made and made[0][0] == key:  # the views as sent at ``seq``: the same JSON
            return [made[0][1]], seq
        views = web.tracker.snapshot()
        kept = views is not None
        if views is None:
            views = await web.tracker.views()
        chosen = [v for v in views if (jobs is None or v["id"] in jobs) and who.sees(v["account"])][
            :SNAPSHOT_JOBS
        ]
        snapshot = {"type": "snapshot", "seq": seq, "epoch": web.stream.epoch, "jobs": chosen}
        sent = Sent(seq, None, json.dumps(snapshot))
        if kept:  # made once for the thousand clients arriving (a restart's reconnects)
            made[:] = [(key, sent)]
        return [sent], seq

    async def frames(
        last: int, epoch: str | None, jobs: set[int] | None, who: Who, holder: Holder
    ) -> AsyncGenerator[tuple[list[Sent], int]]:
        """A client's frames and the number it has seen then: first exactly what it
        missed (or a snapshot), then what comes, each job's newest view, as often as its
        audience is woken (``Stream.wait_after``); no messages: a ping, after 15 s of
        quiet. A frame holds ``FRAME_MESSAGES`` at most: a client that reads slowly
        holds one frame in this server, never all it is behind. It ends, before its
        next frame, when the credential it was opened with ends (``accounts.held``)."""
        exact = True  # the catch-up: every message, as the docs promise a reconnect
        sent_at = -math.inf
        loop = asyncio.get_running_loop()
        with web.stream.joined(jobs):
            while not web.stream.closed and not holder.ended:
                messages, seen = await catch_up(last, epoch, jobs, who)
                if holder.ended:
                    return
                epoch = web.stream.epoch
                if not exact:
                    messages = latest(messages)
                exact = len(messages) > FRAME_MESSAGES and exact
                if len(messages) > FRAME_MESSAGES:
                    messages = messages[:FRAME_MESSAGES]
                    seen = messages[-1].seq
                last = seen
                if messages:
                    yield messages, last
                    sent_at = loop.time()
                if web.stream.behind(last, jobs):  # woken while it sent: paced by itself
                    await asyncio.sleep(max(0.0, sent_at + web.stream.pace_for(jobs) - loop.time()))
                    continue
                await web.stream.wait_after(last, 15.0, jobs)
                if web.stream.seq == last and not web.stream.closed and not holder.ended:
                    yield [], last

    @app.websocket(f"{API}/events")
    async def websocket(socket: WebSocket) -> None:
        _, who, problem = await identify(web, socket)
        if foreign(socket):  # browsers allow any site to open a WebSocket here
            problem = FerrymanError("auth.csrf", "a connection from another site's page")
        if problem is not None:
            await socket.close(code=4401, reason=problem.code)
            return
        await socket.accept()
        web.stream.clients += 1
        try:
            jobs, last, epoch = await _hello(socket, web.clock)
            with web.held.hold(socket, who) as holder:
                async with contextlib.aclosing(frames(last, epoch, jobs, who, holder)) as sending:
                    async for messages, seen in sending:  # closed with the socket: counted out
                        if messages:
                            await socket.send_text(frame(messages))
                        else:
                            await socket.send_text(json.dumps({"type": "ping", "seq": seen}))
            if holder.ended:  # signed out, revoked, removed: as a refused handshake says
                await socket.close(code=4401, reason="auth.required")
            else:
                await socket.close(code=1001, reason="the server is stopping")  # going away
        except FerrymanError as exc:  # a malformed subscription
            await socket.close(code=4400, reason=exc.message[:120])
        except Malformed as exc:  # not a subscription at all: said with a close frame
            await socket.close(code=exc.code, reason=exc.reason)
        except (WebSocketDisconnect, ValueError, TypeError, RuntimeError):
            pass
        finally:
            web.stream.clients -= 1

    @app.get(f"{API}/events", tags=["events"])
    async def server_sent(
        request: Request,
        who: Me,
        jobs: str | None = None,
        after: int = 0,
        epoch: str | None = None,
    ) -> StreamingResponse:
        """The same messages as the WebSocket, as Server-Sent Events (``id`` is
        ``epoch:seq``; ``Last-Event-ID`` on reconnect catches up)."""
        wanted_jobs = _job_set(jobs)
        last_id = request.headers.get("last-event-id")
        if last_id and ":" in last_id:
            epoch, _, seq = last_id.partition(":")
            after = int(seq) if seq.isdigit() else 0

        packed = gzip_stream() if takes_gzip(request.headers.get("accept-encoding")) else None

        async def body() -> AsyncIterator[bytes]:
            # No look at request.is_disconnected() each round: StreamingResponse listens
            # for the disconnect itself and ends this; asking cost a third of the loop's
            # time with 1,000 clients.
            web.stream.clients += 1
            try:
                yield pack(packed, "retry: 1000\n\n")
                era = web.stream.epoch
                with web.held.hold(request, who) as holder:
                    sending = frames(after, epoch, wanted_jobs, who, holder)
                    async with contextlib.aclosing(sending):
                        async for messages, _ in sending:
                            text = "".join(
                                f"id: {era}:{m.seq}\ndata: {m.text}\n\n" for m in messages
                            )
                            yield pack(packed, text or ": ping\n\n")
            finally:
                web.stream.clients -= 1

        headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
        if packed is not None:
            headers["Content-Encoding"] = "gzip"
        return StreamingResponse(body(), media_type="text/event-stream", headers=headers)

    @app.get(f"{API}/events/poll", tags=["events"])
    async def poll(
        request: Request,
        who: Me,
        jobs: str | None = None,
        after: int = 0,
        epoch: str | None = None,
    ) -> dict[str, Any]:
        """For clients with neither: what came after ``after`` (waits up to 10 s)."""
        wanted_jobs = _job_set(jobs)
        with web.held.hold(request, who) as holder:
            if web.stream.since(after, epoch) == []:
                await web.stream.wait_after(after, 10.0)
        if holder.ended:
            raise FerrymanError("auth.required", "signed out, or the credential was revoked")
        messages, seq = await catch_up(after, epoch, wanted_jobs, who)
        return {
            "messages": [json.loads(m.text) for m in messages],
            "seq": seq,
            "epoch": web.stream.epoch,
        }


class Malformed(Exception):
    """The first message is not a subscription: closed with ``code`` (RFC 6455: 1003
    not text, 1007 not a JSON object, 1008 none in time; 1009, too big, is the server's
    own, past ``MAX_MESSAGE``) and a reason a person can read."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


HELLO_SECONDS = 30.0  # a client that opens and says nothing does not hold a socket
MAX_MESSAGE = 64 * 1024  # uvicorn's ws_max_size: a subscription is a few hundred bytes
_SHAPE = 'send {"jobs": "all" | [ids], "after": N, "epoch": E} first'


async def _hello(socket: WebSocket, clock: Clock) -> tuple[set[int] | None, int, str | None]:
    """The subscription: (jobs, after, epoch), or ``Malformed`` (none within
    ``HELLO_SECONDS`` of the page's ``clock``)."""
    try:
        message = await within(socket.receive(), HELLO_SECONDS, clock)
    except TimeoutError:
        raise Malformed(1008, f"no subscription within {HELLO_SECONDS:g} s: {_SHAPE}") from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is None:
        raise Malformed(1003, f"a binary message: {_SHAPE}")
    try:
        hello = json.loads(text)
    except ValueError:
        raise Malformed(1007, f"not JSON: {_SHAPE}") from None
    if not isinstance(hello, dict):
        raise Malformed(1007, f"not a JSON object: {_SHAPE}")
    after, epoch = hello.get("after") or 0, hello.get("epoch")
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise Malformed(1007, "after: the last number seen, an integer from 0")
    if epoch is not None and not isinstance(epoch, str):
        raise Malformed(1007, "epoch: the epoch of the last message seen, a string")
    return _job_set(hello.get("jobs")), after, epoch


SNAPSHOT_JOBS = 200  # the newest jobs a snapshot holds


def takes_gzip(accepted: str | None) -> bool:
    """Whether ``Accept-Encoding`` names gzip (not refused with ``q=0``)."""
    for part in (accepted or "").lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def gzip_stream() -> Any:
    """One client's gzip stream, flushed at each frame. Its views repeat (each job's
    files, signed links): a frame shrinks ~20x, and the bytes written to a thousand
    sockets were most of the loop's time for them; level 1, the cheapest to make, and
    a 4 KiB window as uvicorn's WebSocket deflate has (32 KiB cost 250 KiB a client:
    1,000 clients took 240 MiB more)."""
    return zlib.compressobj(1, zlib.DEFLATED, 16 + 12, 5)


def pack(packed: Any, text: str) -> bytes:
    """``text`` as sent: gzip-packed and flushed for a client that takes it."""
    data = text.encode()
    if packed is None:
        return data
    return bytes(packed.compress(data) + packed.flush(zlib.Z_SYNC_FLUSH))


def frame(messages: list[Sent]) -> str:
    """One WebSocket frame: a message, or a JSON array of several."""
    if len(messages) == 1:
        return messages[0].text
    return "[" + ",".join(m.text for m in messages) + "]"


def _job_set(value: object) -> set[int] | None:
    """``all`` (or nothing): every job; else job ids, a list or ``1,2,3``."""
    if value in (None, "", "all"):
        return None
    parts = value if isinstance(value, list) else str(value).split(",")
    try:
        return {int(str(v).strip()) for v in parts if str(v).strip()}
    except ValueError:
        raise FerrymanError(
            "request.invalid", "jobs: 'all' or job numbers separated by commas"
        ) from None
