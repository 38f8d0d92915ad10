"""``/api/v1/events``: the job views as they change, numbered (``web.stream.Stream``), over a
WebSocket, Server-Sent Events or long polling; a client that reconnects with the last
number it saw gets what it missed, or a snapshot."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from ferryman.errors import FerrymanError
from ferryman.web.auth import caller, foreign
from ferryman.web.core import API, Web
from ferryman.web.stream import Sent, wanted


def routes(app: FastAPI, web: Web) -> None:
    async def catch_up(
        after: int, epoch: str | None, jobs: set[int] | None
    ) -> tuple[list[Sent], int]:
        """What a client that saw ``after`` (of ``epoch``) is missing, and the number
        it has seen then: a snapshot when the stream cannot tell."""
        seq = web.stream.seq  # read before any await: nothing published later is lost
        missed = web.stream.since(after, epoch)
        if missed is not None:
            return [m for m in missed if wanted(m, jobs)], seq
        views = web.tracker.snapshot()
        if views is None:
            views = await web.tracker.views()
        chosen = [v for v in views if jobs is None or v["id"] in jobs][:SNAPSHOT_JOBS]
        snapshot = {"type": "snapshot", "seq": seq, "epoch": web.stream.epoch, "jobs": chosen}
        return [Sent(seq, None, json.dumps(snapshot))], seq

    @app.websocket(f"{API}/events")
    async def websocket(socket: WebSocket) -> None:
        _, problem = caller(web, socket)
        if foreign(socket):  # browsers allow any site to open a WebSocket here
            problem = FerrymanError("auth.csrf", "a connection from another site's page")
        if problem is not None:
            await socket.close(code=4401, reason=problem.code)
            return
        await socket.accept()
        web.stream.clients += 1
        try:
            hello = json.loads(await socket.receive_text())
            jobs = _job_set(hello.get("jobs"))
            last = int(hello.get("after") or 0)
            epoch = hello.get("epoch")
            sent_at = 0.0
            while not web.stream.closed:
                messages, last = await catch_up(last, epoch, jobs)
                epoch = web.stream.epoch
                if messages:
                    await socket.send_text(frame(messages))
                    sent_at = time.monotonic()
                await web.stream.wait_after(last, 15.0, jobs)
                wait = BATCH_SECONDS - (time.monotonic() - sent_at)
                if wait > 0 and web.stream.newer(last, jobs):  # busy: one frame for what comes
                    await asyncio.sleep(wait)
                if web.stream.seq == last and not web.stream.closed:
                    await socket.send_text(json.dumps({"type": "ping", "seq": last}))
            await socket.close(code=1001, reason="the server is stopping")  # going away
        except FerrymanError as exc:  # a malformed subscription
            await socket.close(code=4400, reason=exc.message[:120])
        except (WebSocketDisconnect, ValueError, TypeError, RuntimeError):
            pass
        finally:
            web.stream.clients -= 1

    @app.get(f"{API}/events", tags=["events"])
    async def server_sent(
        request: Request, jobs: str | None = None, after: int = 0, epoch: str | None = None
    ) -> StreamingResponse:
        """The same messages as the WebSocket, as Server-Sent Events (``id`` is
        ``epoch:seq``; ``Last-Event-ID`` on reconnect catches up)."""
        wanted_jobs = _job_set(jobs)
        last_id = request.headers.get("last-event-id")
        if last_id and ":" in last_id:
            epoch, _, seq = last_id.partition(":")
            after = int(seq) if seq.isdigit() else 0

        async def body() -> AsyncIterator[str]:
            web.stream.clients += 1
            last, era = after, epoch
            try:
                yield "retry: 1000\n\n"
                while not web.stream.closed and not await request.is_disconnected():
                    messages, last = await catch_up(last, era, wanted_jobs)
                    era = web.stream.epoch
                    if messages:
                        yield "".join(f"id: {era}:{m.seq}\ndata: {m.text}\n\n" for m in messages)
                    await web.stream.wait_after(last, 15.0, wanted_jobs)
                    if web.stream.seq == last and not web.stream.closed:
                        yield ": ping\n\n"
            finally:
                web.stream.clients -= 1

        return StreamingResponse(
            body(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    @app.get(f"{API}/events/poll", tags=["events"])
    async def poll(
        jobs: str | None = None, after: int = 0, epoch: str | None = None
    ) -> dict[str, Any]:
        """For clients with neither: what came after ``after`` (waits up to 10 s)."""
        wanted_jobs = _job_set(jobs)
        if web.stream.since(after, epoch) == []:
            await web.stream.wait_after(after, 10.0)
        messages, seq = await catch_up(after, epoch, wanted_jobs)
        return {
            "messages": [json.loads(m.text) for m in messages],
            "seq": seq,
            "epoch": web.stream.epoch,
        }


SNAPSHOT_JOBS = 200  # the newest jobs a snapshot holds
BATCH_SECONDS = 0.05  # a busy client gets a frame at most this often, with all that came


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
