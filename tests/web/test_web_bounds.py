"""The web server answers only to its own names, and bounds every request before it is
parsed: `ferryman web` children on loopback, raw sockets where a client misbehaves, the
server's memory read with psutil."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from ferryman.errors import FerrymanError
from ferryman.web import guard
from ferryman.web.guard import new_token
from tests.support import forked
from tests.support.webserve import WebServer, running_web, web_env

PUBLIC = "https://ferry.example.org/app"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def open_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """No tokens, on 127.0.0.1, with a public_url and 1 MiB upload pieces."""
    data = tmp_path_factory.mktemp("open") / "data"
    env = {"FERRYMAN_WEB__PUBLIC_URL": PUBLIC, "FERRYMAN_WEB__MAX_PIECE": str(MIB)}
    with running_web(data, **env) as web:
        yield web


@pytest.fixture(scope="module")
def token_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebServer, str]]:
    token, hashed = new_token()
    data = tmp_path_factory.mktemp("tokens") / "data"
    with running_web(data, FERRYMAN_WEB__TOKENS=json.dumps([hashed])) as web:
        yield web, token


def _port(web: WebServer) -> int:
    return int(web.base.rsplit(":", 1)[1])


def test_the_names_it_answers_to() -> None:
    from ferryman.web import hosts

    names = hosts.own_names("127.0.0.1", PUBLIC)
    for ok in ("localhost", "LOCALHOST:8080", "127.0.0.1:80", "[::1]:8080", "[::1]", "::1"):
        assert hosts.answers_to(ok, names), ok
    assert hosts.answers_to("127.0.0.2:8080", names)  # a loopback literal cannot be rebound
    assert hosts.answers_to("ferry.example.org", names)
    assert hosts.answers_to("localhost.:9", names)
    for refused in ("evil.test", "evil.test:8080", "localhost.evil.test", "", None, "[::2]"):
        assert not hosts.answers_to(refused, names), refused
    assert not hosts.answers_to("ferry.example.org", hosts.own_names("127.0.0.1", None))


def test_an_empty_or_wildcard_host_is_a_public_bind_that_needs_a_token() -> None:
    for public in ("", "0.0.0.0", "::", "[::]"):
        assert not guard.is_loopback(public), public
        with pytest.raises(FerrymanError) as refused:
            guard.check_bind(public, [])
        assert refused.value.code == "config.invalid"
        said = refused.value.message  # the line to type, each way out
        assert "ferryman config set web.tokens" in said, said
        assert "ferryman config set web.host 127.0.0.1" in said, said
        guard.check_bind(public, [new_token()[1]])


def test_an_empty_web_host_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    config = tmp_path / "ferryman.toml"
    config.write_text('[web]\nhost = ""\n')
    done = forked.run(
        ["--config", str(config), "web", "--port", "0"],
        env=web_env(data),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 4, done.stdout + done.stderr  # a set-up error (exit table)
    assert "config.invalid" in done.stderr and "every interface" in done.stderr


def test_without_tokens_a_request_for_another_name_is_refused_before_routing(
    open_web: WebServer,
) -> None:
    """DNS rebinding: a page at evil.test whose name now resolves to 127.0.0.1 sends
    Host and Origin both naming evil.test; it reaches nothing."""
    port = _port(open_web)
    evil = {"Host": f"evil.test:{port}", "Origin": f"http://evil.test:{port}"}
    with open_web.client() as client:
        for method, path in (("GET", "/api/v1/jobs"), ("GET", "/"), ("GET", "/healthz")):
            refused = client.request(method, path, headers=evil)
            assert refused.status_code == 421, (path, refused.text)
            error = refused.json()["error"]
            assert error["code"] == "web.host_unknown" and "web.public_url" in error["next"]
        added = client.post("/api/v1/jobs", json={"source": "https://a.example/x"}, headers=evil)
        assert added.status_code == 421
        assert client.get("/api/v1/jobs").json()["jobs"] == []  # nothing was added
        for name in (f"localhost:{port}", f"[::1]:{port}", "127.0.0.1", "ferry.example.org"):
            assert client.get("/api/v1/jobs", headers={"Host": name}).status_code == 200, name
    assert _ws_status(port, f"evil.test:{port}") == 403  # closed before the handshake ends
    assert _ws_status(port, f"localhost:{port}") == 101


def _ws_status(port: int, host: str) -> int:
    """The status a WebSocket handshake with ``Host: host`` gets (a raw socket: a
    client library sends its own Host)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"GET /api/v1/events HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        return int(sock.recv(4096).split()[1])


def test_with_tokens_the_token_is_the_guard_whatever_the_name(
    token_web: tuple[WebServer, str],
) -> None:
    web, token = token_web
    evil = {"Host": "evil.test"}
    with web.client() as client:
        assert client.get("/api/v1/jobs", headers=evil).status_code == 401
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/jobs", headers=evil | bearer).status_code == 200


def test_with_tokens_health_details_metrics_and_the_api_description_need_one(
    token_web: tuple[WebServer, str],
) -> None:
    web, token = token_web
    with web.client() as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok"}  # no yt-dlp version
        ready = anonymous.get("/readyz")
        assert ready.status_code in (200, 503) and set(ready.json()) == {"ready"}
        for path in ("/metrics", "/api/openapi.json", "/api/docs"):
            refused = anonymous.get(path)
            assert refused.status_code == 401, path
            assert refused.json()["error"]["code"] == "auth.required"
            assert "PyAV" not in refused.text and "ferryman_" not in refused.text
    with web.client(headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.get("/healthz").json()["yt_dlp"]["update"] == "ferryman update"
        assert "PyAV" in client.get("/readyz").json()["checks"]["media"]["detail"]
        assert "ferryman_queue_depth" in client.get("/metrics").text
        assert "/api/v1/jobs" in client.get("/api/openapi.json").json()["paths"]
        assert client.get("/api/docs").status_code == 200


def test_without_tokens_health_metrics_and_the_description_stay_open_on_loopback(
    open_web: WebServer,
) -> None:
    with open_web.client() as client:
        assert set(client.get("/readyz").json()) == {"ready", "checks", "stuck"}
        assert client.get("/metrics").status_code == 200
        assert client.get("/api/openapi.json").status_code == 200


def _rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def _head(port: int, path: str, *lines: str) -> bytes:
    extra = "".join(f"{line}\r\n" for line in lines)
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode()


def _answer(sock: socket.socket) -> tuple[int, dict[str, object]]:
    """The status and the JSON body of the answer on ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_a_huge_body_without_a_token_is_refused_early_and_costs_no_memory(
    token_web: tuple[WebServer, str],
) -> None:
    """400 MiB streamed to the session route (outside the token guard), chunked so no
    Content-Length gives it away, generated as it goes (never held by the test)."""
    web, _ = token_web
    port = _port(web)
    with web.client() as client:  # the route and its JSON parsing warmed up
        assert client.post("/api/v1/session", json={"token": "nope"}).status_code == 401
    before = _rss(web.process.pid)
    piece = b"[" * MIB
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = ("Content-Type: application/json", "Transfer-Encoding: chunked")
        sock.sendall(_head(port, "/api/v1/session", *head))
        try:
            while sent < 400 * MIB and not select.select([sock], [], [], 0)[0]:
                sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                sent += len(piece)
        except OSError:  # the server answered and closed while we were still sending
            pass
        try:
            status, body = _answer(sock)
        except ConnectionResetError:
            status, body = 413, {"error": {"code": "(reset after the answer)"}}
    grown = _rss(web.process.pid) - before
    assert sent < 64 * MIB, f"{sent} bytes were taken before the refusal"
    assert status == 413
    assert body["error"]["code"] in ("request.too_large", "(reset after the answer)")  # type: ignore[index]
    assert grown < 8 * MIB, f"the server grew by {grown / MIB:.1f} MiB"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:  # said at once
        sock.sendall(_head(port, "/api/v1/session", f"Content-Length: {400 * MIB}"))
        status, body = _answer(sock)
    assert status == 413 and body["error"]["code"] == "request.too_large"  # type: ignore[index]
    assert "smaller pieces" in body["error"]["next"]  # type: ignore[index]


def test_an_upload_piece_over_max_piece_is_refused_before_it_is_read(open_web: WebServer) -> None:
    with open_web.client() as client:
        made = client.post("/api/v1/uploads", json={"name": "a.zip", "size": 3 * MIB}).json()
        url = f"/api/v1/uploads/{made['id']}"
        big = client.put(
            url,
            content=b"x" * (2 * MIB),
            headers={"Content-Range": f"bytes 0-{2 * MIB - 1}/{3 * MIB}"},
        )
        assert big.status_code == 413 and big.json()["error"]["code"] == "request.too_large"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it comes
            yield from (b"y" * 65536 for _ in range(48))

        streamed = client.put(url, content=chunks())
        assert streamed.status_code == 413, streamed.text
        assert streamed.json()["error"]["code"] == "request.too_large"
        assert client.get(url).json()["offset"] <= MIB
        fits = client.get(url).json()["offset"]
        rest = min(MIB, 3 * MIB - fits)
        ok = client.put(
            url,
            content=b"z" * rest,
            headers={"Content-Range": f"bytes {fits}-{fits + rest - 1}/{3 * MIB}"},
        )
        assert ok.status_code == 200 and ok.json()["offset"] == fits + rest


def test_a_malformed_first_websocket_message_gets_a_close_frame_with_a_code(
    open_web: WebServer,
) -> None:
    ws_url = open_web.base.replace("http://", "ws://") + "/api/v1/events"
    for message, code in (
        ("not json", 1007),
        ("[1, 2]", 1007),
        ('{"after": "x"}', 1007),
        (b"\x00binary", 1003),
        ("{" + " " * (128 * 1024) + "}", 1009),
    ):
        with connect(ws_url) as sock:
            sock.send(message)
            with pytest.raises(ConnectionClosed) as closed:
                sock.recv(30)
        assert closed.value.rcvd is not None, message  # a close frame came, not a drop
        assert closed.value.rcvd.code == code, (message, closed.value.rcvd)
        if code != 1009:
            assert "jobs" in closed.value.rcvd.reason or "after" in closed.value.rcvd.reason
    with connect(ws_url) as sock:  # a good one still works
        sock.send(json.dumps({"jobs": "all"}))
        assert json.loads(sock.recv(30))["type"] == "snapshot"


def test_bodies_of_ordinary_json_routes_are_capped_too(open_web: WebServer) -> None:
    with open_web.client() as client:
        huge = {"source": "https://a.example/" + "a" * (300 * 1024)}
        refused = client.post("/api/v1/jobs", json=huge)
        assert refused.status_code == 413
        assert refused.json()["error"]["code"] == "request.too_large"
        assert httpx.get(open_web.base + "/healthz").status_code == 200


def test_a_request_head_that_trickles_in_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slowloris: one byte of a header at a time resets uvicorn's keep-alive timer; the
    head's own deadline closes the connection all the same (uvicorn in this process
    with ferryman's protocol, the deadline shortened)."""
    import threading

    import uvicorn

    from ferryman.web import connections
    from tests.support.waiting import eventually_sync

    monkeypatch.setattr(connections, "HEAD_SECONDS", 0.5)

    async def app(scope: dict[str, object], _receive: object, send: Any) -> None:
        headers = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, http=connections.BoundedH11, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        eventually_sync(lambda: server.started, "uvicorn started")
        port = server.servers[0].sockets[0].getsockname()[1]

        def trickled(sock: socket.socket) -> int:
            """Bytes of a never-ending header sent, one every 0.1 s, before the server
            closed the connection (-1: it never did)."""
            sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
            for sent in range(100):  # 10 s of trickle at most
                try:  # a close with our bytes unread arrives as a reset (seen loaded)
                    if select.select([sock], [], [], 0.1)[0]:
                        return sent if sock.recv(4096) == b"" else -2
                    sock.sendall(b"a")
                except (ConnectionResetError, BrokenPipeError):
                    return sent
            return -1

        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            assert trickled(sock) >= 0  # closed while the trickle went on
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")  # a whole head: answered
            answer = b""
            while not answer.endswith(b"ok") and (chunk := sock.recv(4096)):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200")
            assert trickled(sock) >= 0  # and the next head on the same connection is bound
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            assert sock.recv(4096) == b""  # one that says nothing is closed too (timeout: 30 s)
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_head_too_large_or_malformed_gets_a_coded_answer(open_web: WebServer) -> None:
    port = _port(open_web)
    for head, status in (
        (f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {'a' * 20000}\r\n\r\n", 431),
        ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n", 400),
    ):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(head.encode())
            got, body = _answer(sock)
        assert got == status, head[:40]
        assert body["error"]["code"] == "request.invalid"  # type: ignore[index]
        assert body["error"]["next"]  # type: ignore[index]


async def test_a_json_body_that_trickles_in_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """A body that stops coming holds neither the route nor its buffer (the layer alone,
    its deadline shortened; the route behind it must never run)."""
    import asyncio

    from ferryman.web import limits

    monkeypatch.setattr(limits, "BODY_SECONDS", 0.2)
    reached: list[object] = []

    async def route(scope: object, receive: object, send: object) -> None:
        reached.append(scope)

    first = True

    async def receive() -> dict[str, object]:
        nonlocal first
        if first:  # a little, then nothing more (the client went quiet)
            first = False
            return {"type": "http.request", "body": b'{"tok', "more_body": True}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/v1/session", "headers": []}
    await limits.BodyLimit(route, piece=1024)(scope, receive, send)
    assert not reached
    assert sent[0]["status"] == 408
    assert json.loads(sent[1]["body"])["error"]["code"] == "request.timeout"
