"""Faults that no retry can mend end the job at once, with a code of their own that
names the host: a name that does not resolve (``source.host_unknown``, asked once more
to confirm), a TLS certificate that is not trusted (``source.tls_refused``), a 404 or a
410 (``source.not_found``). Passing faults (a refused connection, a 503) keep their
backoff. Links, WebDAV folders and Torbox items alike, against servers on loopback; the
unknown name is in the ``.invalid`` top-level domain, which never resolves (RFC 6761).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from ferryman.config import Settings, TorboxSettings
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.model import Job, JobState
from ferryman.net.http import transport_error
from ferryman.samples import make_photo_set, make_zip
from ferryman.store import Store
from tests.support.httpserve import Faults, FaultServer, serving

UNKNOWN = "no-such-host.invalid"


@pytest.fixture
def fast(settings: Settings) -> Settings:
    """Backoff in tenths of a second: five counted attempts take about a second."""
    return settings.model_copy(
        update={
            "network": settings.network.model_copy(
                update={"stall_seconds": 3.0, "block_private": False}
            ),
            "retry": settings.retry.model_copy(update={"base_seconds": 0.05, "max_seconds": 0.2}),
        }
    )


async def _run(settings: Settings, uri: str) -> tuple[Job, int, float]:
    """Add ``uri``, run until idle: the job, its fetch attempts, the seconds it took."""
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, uri, settings=settings)
        began = time.monotonic()
        await asyncio.wait_for(Engine(store, settings).run(until_idle=True), 60)
        took = time.monotonic() - began
        done = await store.get_job(job.id)
        fetched = await store.fetched(job.id)
    finally:
        await store.close()
    return done, (fetched.attempts if fetched is not None else done.attempts), took


def test_the_name_really_does_not_resolve_here() -> None:
    """The premise: this machine's resolver says 'no such name', not 'try again'."""
    with pytest.raises(socket.gaierror) as caught:
        socket.getaddrinfo(UNKNOWN, 80)
    assert caught.value.errno == socket.EAI_NONAME


def _retries(caplog: pytest.LogCaptureFixture) -> int:
    return sum("again in" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
async def test_an_unknown_host_fails_after_one_confirming_retry(
    fast: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    done, _, took = await _run(fast, f"http://{UNKNOWN}/x.mp4")
    assert (done.state, done.error_code) == (JobState.FAILED, "source.host_unknown"), done
    assert UNKNOWN in (done.error_message or "")
    assert _retries(caplog) == 1  # the first answer, and one that confirms it
    assert took < 10


async def test_an_unknown_host_behind_a_redirect_is_named(
    fast: Settings, plain: FaultServer
) -> None:
    plain.redirect("/go", f"http://{UNKNOWN}/x.zip")
    done, _, _ = await _run(fast, plain.url("/go"))
    assert done.error_code == "source.host_unknown"
    assert UNKNOWN in (done.error_message or "")


def test_a_resolver_that_cannot_be_asked_is_a_passing_fault() -> None:
    """EAI_AGAIN (no DNS server reachable: a phone in a tunnel) is retried as before."""
    request = httpx.Request("GET", f"http://{UNKNOWN}/x")
    said = {socket.EAI_AGAIN: "source.io", socket.EAI_NONAME: "source.host_unknown"}
    for errno, code in said.items():
        try:
            raise socket.gaierror(errno, "resolver")
        except socket.gaierror as cause:
            exc = httpx.ConnectError(str(cause), request=request)
            exc.__cause__ = cause
        assert transport_error(exc, str(request.url)).code == code


@pytest.fixture
def plain() -> Iterator[FaultServer]:
    with serving() as server:
        yield server


@pytest.mark.parametrize("status", [404, 410])
async def test_a_404_or_410_fails_at_once_naming_the_host(
    fast: Settings, plain: FaultServer, status: int
) -> None:
    plain.add("/clip.zip", b"PK", content_type="application/zip")
    plain.resources["/clip.zip"].faults = Faults(status=status, status_times=None)
    done, attempts, _ = await _run(fast, plain.url("/clip.zip"))
    assert (done.state, done.error_code) == (JobState.FAILED, "source.not_found")
    assert "127.0.0.1" in (done.error_message or "") and str(status) in (done.error_message or "")
    assert attempts == 0 and len(plain.requests_for("/clip.zip")) <= 2  # a HEAD, maybe a GET


async def test_passing_faults_keep_their_backoff(
    fast: Settings, plain: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A 503 without Retry-After, then a refused connection: each is tried the full five
    times (the 503 heals on the third, the refusal never does)."""
    data = _zip(fast.data_dir.parent)
    plain.add("/trip.zip", data, content_type="application/zip")
    plain.resources["/trip.zip"].faults = Faults(status=503, status_times=2)
    healed, _, _ = await _run(fast, plain.url("/trip.zip"))
    assert healed.state is JobState.DONE, healed
    with socket.socket() as spare:  # a port nobody listens on
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    caplog.clear()
    refused, _, _ = await _run(fast, f"http://127.0.0.1:{port}/x.zip")
    assert (refused.state, refused.error_code) == (JobState.FAILED, "source.io")
    assert _retries(caplog) == fast.retry.max_attempts - 1


def _zip(tmp: Path) -> bytes:
    photos = make_photo_set(tmp / "photos", 2, size=(96, 72))
    return make_zip(tmp / "trip.zip", [(p.name, p) for p in photos], compress=False).read_bytes()


@dataclass(frozen=True)
class TlsServer:
    """An HTTPS server on 127.0.0.1 whose certificate nobody vouches for."""

    port: int
    cert: Path

    def url(self, path: str, scheme: str = "https") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"


@pytest.fixture
def self_signed(tmp_path: Path) -> Iterator[TlsServer]:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    body = _zip(tmp_path)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def do_GET(self) -> None:
            self._answer(head=False)

        def do_PROPFIND(self) -> None:
            self.send_response(405)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _answer(self, *, head: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.handle_error = lambda *_: None  # type: ignore[method-assign]  # refused handshakes
    thread = threading.Thread(  # polls 0.05 s: shutdown() waits for a poll (0.5 s)
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield TlsServer(server.server_address[1], cert)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
async def test_a_refused_certificate_fails_at_once_naming_the_host(
    fast: Settings,
    self_signed: TlsServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    done, _, took = await _run(fast, self_signed.url("/trip.zip"))
    assert (done.state, done.error_code) == (JobState.FAILED, "source.tls_refused"), done
    assert "127.0.0.1" in (done.error_message or "")
    assert "self-signed" in (done.error_message or "") or "self signed" in (
        done.error_message or ""
    )
    assert _retries(caplog) == 1 and took < 10
    # The same server, its certificate trusted: the job goes through (the refusal was
    # the certificate's, and the next step's SSL_CERT_FILE is true).
    monkeypatch.setenv("SSL_CERT_FILE", str(self_signed.cert))
    again = fast.model_copy(update={"data_dir": tmp_path / "trusted"})
    trusted, _, _ = await _run(again, self_signed.url("/trip.zip"))
    assert trusted.state is JobState.DONE, trusted


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
async def test_a_webdav_folder_fails_the_same_ways(fast: Settings, self_signed: TlsServer) -> None:
    tls, _, _ = await _run(fast, self_signed.url("/Trip/", scheme="davs"))
    assert tls.error_code == "source.tls_refused", tls
    store_settings = fast.model_copy(update={"data_dir": fast.data_dir.parent / "dav2"})
    unknown, _, took = await _run(store_settings, f"dav://{UNKNOWN}/Trip/")
    assert unknown.error_code == "source.host_unknown", unknown
    assert UNKNOWN in (unknown.error_message or "") and took < 10


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
async def test_a_torbox_api_with_a_refused_certificate_or_unknown_host(
    fast: Settings, self_signed: TlsServer
) -> None:
    for base, code, name in (
        (self_signed.url(""), "source.tls_refused", "127.0.0.1"),
        (f"https://api.{UNKNOWN}", "source.host_unknown", f"api.{UNKNOWN}"),
    ):
        settings = fast.model_copy(
            update={
                "torbox": TorboxSettings(api_key="k" * 20, api_base=base),
                "data_dir": fast.data_dir.parent / code,
            }
        )
        done, _, took = await _run(settings, "torbox:torrent/7")
        assert done.error_code == code, done
        assert name in (done.error_message or "") and took < 10


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
async def test_a_link_to_media_on_an_unknown_host_fails_fast(
    fast: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The same for a link yt-dlp reads (its own connections, its own words)."""
    done, _, took = await _run(fast, f"media:mp3-128:https://login.{UNKNOWN}/watch?v=1")
    assert (done.state, done.error_code) == (JobState.FAILED, "source.host_unknown"), done
    assert f"login.{UNKNOWN}" in (done.error_message or "")
    assert _retries(caplog) == 1 and took < 30


async def test_a_link_to_media_with_a_refused_certificate_names_the_host(
    fast: Settings, self_signed: TlsServer
) -> None:
    done, _, _ = await _run(fast, "media:mp3-128:" + self_signed.url("/watch"))
    assert (done.state, done.error_code) == (JobState.FAILED, "source.tls_refused"), done
    assert "127.0.0.1" in (done.error_message or "")


@dataclass
class _Device:
    """A device whose route out is as the test says (the real probe of the routing
    table is tested in a network namespace: tests/engine/test_offline.py)."""

    has_route: bool

    def online(self) -> bool:
        return self.has_route


@dataclass
class _Ctx:
    device: _Device


async def test_an_unknown_host_on_a_device_without_network_is_a_wait() -> None:
    """A phone in a tunnel cannot ask any resolver: whatever the resolver said, with no
    route out the fetch waits (`network.offline`, uncounted) instead of failing."""
    from ferryman.engine.plumbing.offline import offline_or

    request = httpx.Request("GET", f"http://{UNKNOWN}/x")
    try:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    except socket.gaierror as cause:
        exc = httpx.ConnectError(str(cause), request=request)
        exc.__cause__ = cause
    unknown = transport_error(exc, str(request.url))
    unknown.__cause__ = exc
    assert unknown.code == "source.host_unknown"
    offline = await offline_or(_Ctx(_Device(False)), unknown)  # type: ignore[arg-type]
    assert offline.code == "network.offline" and UNKNOWN in offline.message
    online = await offline_or(_Ctx(_Device(True)), unknown)  # type: ignore[arg-type]
    assert online is unknown
