"""Live subscribers never hold up the engine: a job added through the API while hundreds
of event streams are open (Server-Sent Events that read, WebSockets, and clients that
never read) is taken, delivered and ended with the engine's poll at an hour, so only its
in-process wake-up can end it, and the streams still carry its views.

Issue 56: 200 idle Server-Sent Events clients made a 100-photo job take 58 s instead of
0.7 s. Each stream's opening took one of the address's 120 requests a minute, so the
job's ``POST`` was answered 429 with ``Retry-After: 57`` and the job was added a minute
late; the engine itself was never slow. The time a job takes with a thousand of them is
in ``python -m bench web`` (a time is no test)."""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from ferryman.samples import make_photo_set, make_zip
from tests.support.httpserve import serving
from tests.support.waiting import eventually_sync
from tests.support.webserve import running_web

pytestmark = pytest.mark.slow

READING = 200  # over web.rate_limit's default of 120 a minute: each one counted before
SOCKETS = 40  # WebSocket clients (never counted: the rate limit is HTTP's)
NEVER_READ = 5  # their socket buffers full: the server must not wait on them


class _Streams:
    """Raw Server-Sent Events connections, drained by one thread (the first one's bytes
    kept), and some that are never read."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.selector = selectors.DefaultSelector()
        self.sockets: list[socket.socket] = []
        self.first = bytearray()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._drain, daemon=True)

    def open(self, *, read: bool) -> None:
        conn = socket.create_connection(self.address, timeout=30)
        if not read:  # a small window: the server's side fills at once
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        conn.sendall(
            b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:
            got = conn.recv(1)
            assert got, f"closed before an answer: {head!r}"
            head += got
        status = head.split(b"\r\n", 1)[0]
        assert status == b"HTTP/1.1 200 OK", f"stream {len(self.sockets) + 1}: {head!r}"
        self.sockets.append(conn)
        if read:
            conn.setblocking(False)
            self.selector.register(conn, selectors.EVENT_READ, len(self.sockets) == 1)

    def _drain(self) -> None:
        while not self.stop.is_set():
            for key, _ in self.selector.select(0.1):
                with contextlib.suppress(BlockingIOError, OSError):
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if key.data:
                        self.first += data

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(10)
        for conn in self.sockets:
            conn.close()


@contextlib.contextmanager
def _subscribers(base: str) -> Iterator[_Streams]:
    host, port = base.removeprefix("http://").split(":")
    streams = _Streams((host, int(port)))
    with contextlib.ExitStack() as sockets:
        sockets.callback(streams.close)
        for n in range(READING + NEVER_READ):
            streams.open(read=n < READING)
        streams.thread.start()
        for _ in range(SOCKETS):
            ws = sockets.enter_context(connect(f"ws://{host}:{port}/api/v1/events"))
            ws.send(json.dumps({"jobs": "all", "after": 0}))
        yield streams


def test_a_job_ends_at_once_with_hundreds_of_streams_open(tmp_path: Path) -> None:
    photos = make_photo_set(tmp_path / "p", 3)
    archive = make_zip(tmp_path / "a.zip", [(p.name, p) for p in photos])
    with serving() as links:
        links.add("/a.zip", archive.read_bytes(), content_type="application/zip")
        with (
            running_web(tmp_path / "data", FERRYMAN_POLL_SECONDS="3600") as web,
            _subscribers(web.base) as streams,
            web.client() as client,
        ):
            made = client.post("/api/v1/jobs", json={"source": links.url("/a.zip")})
            assert made.status_code == 202, made.text
            job = made.json()["id"]
            view = web.wait_for(job, ("done", "failed"), within=120)
            assert view["status"] == "done", view
            # The streams carried it: the first reader saw the job's last view.
            done = f'"id": {job}, '.encode()
            eventually_sync(
                lambda: any(
                    done in line and b'"status": "done"' in line
                    for line in bytes(streams.first).split(b"\n")
                ),
                "the job's done view on a Server-Sent Events stream",
            )
            metrics = client.get("/metrics").text
            assert f"ferryman_event_clients {READING + NEVER_READ + SOCKETS}" in metrics, metrics
