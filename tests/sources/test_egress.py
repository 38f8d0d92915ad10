"""The one egress guard (``net/egress.py``): every kind of target a URL from the page,
the API or the chat can name (a webhook, an Apprise URL, a feed, a WebDAV folder, a
Torbox CDN link, a link's redirect) is refused at its connection when it leads to this
machine, with every spelling of loopback, while a real listener on loopback (IPv4 and
IPv6, one port) counts the connections it is offered: it must be offered none. Each
test first shows the same URL does reach it when the guard lets it (so the count can
fail), and a name rebound between check and connection gets nowhere either.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferryman.config import NetworkSettings, Settings, TorboxSettings
from ferryman.engine.notify import deliver
from ferryman.engine.ops import intake, report
from ferryman.engine.plumbing.events import EventBus
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.net.http import make_client, make_sync_client
from ferryman.sources.listers.feed import list_feed
from ferryman.sources.webdav import walk
from ferryman.store import Store
from ferryman.store.notices.sql import Notice
from ferryman.web.server import web_app
from tests.support.contract import memory_store
from tests.support.faketorbox import API_KEY, torbox_serving
from tests.support.httpserve import serving
from tests.watch.test_watch_feed import serve_feed

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

# Every spelling of this machine the links' tests try, and those a resolver or a URL
# parser also takes: decimal, hex and octal IPv4, short forms, a trailing dot, IPv6,
# IPv4-mapped IPv6, the unspecified addresses (a connection to them lands here), names.
SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0x7f.0.0.1",
    "0177.0.0.1",
    "017700000001",
    "127.0.0.1.",
    "0.0.0.0",
    "0",
    "localhost",
    "localhost.",
    "LocalHost",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::]",
]
REACHES = ["127.0.0.1", "[::1]", "2130706433"]  # unguarded, these reach it (any client)
ON = NetworkSettings(block_private=True)  # type: ignore[call-arg]
OFF = NetworkSettings(block_private=False)  # type: ignore[call-arg]


@dataclass
class Listener:
    """A real HTTP server on 127.0.0.1 and ::1 (one port): connections offered to it."""

    port: int = 0
    offered: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.offered)


@contextmanager
def listening(port: int = 0) -> Iterator[Listener]:
    seen = Listener()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            size = int(self.headers.get("Content-Length", "0") or 0)
            self.rfile.read(size)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = do_HEAD = do_PROPFIND = _answer

        def log_message(self, *args: object) -> None:
            pass

    class Counting(ThreadingHTTPServer):
        def process_request(self, request: Any, client_address: Any) -> None:
            with seen.lock:
                seen.offered.append(str(client_address[0]))
            super().process_request(request, client_address)

    class Counting6(Counting):
        address_family = socket.AF_INET6

    v4 = Counting(("127.0.0.1", port), Handler)
    seen.port = v4.server_address[1]
    servers: list[ThreadingHTTPServer] = [v4]
    with contextlib.suppress(OSError):  # no IPv6 loopback here: the IPv4 one still counts
        servers.append(Counting6(("::1", seen.port), Handler))
    for server in servers:
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
    try:
        yield seen
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def _at(spelling: str, port: int) -> str:
    return f"{spelling}:{port}"


def _notice(url: str) -> Notice:
    payload = {"event": "job_done", "title": "ferryman: done: x", "body": "1 file."}
    return Notice(1, "job_done", url, None, None, False, payload, "queued", 0, None, 0.0, None)


def _with(settings: Settings, network: NetworkSettings, **notify: Any) -> Settings:
    return settings.model_copy(
        update={
            "network": network,
            "notify": settings.notify.model_copy(update={"timeout_seconds": 10.0, **notify}),
        }
    )


async def _outcomes(settings: Settings, urls: list[str]) -> dict[str, str]:
    """Each notice URL delivered with ``settings``: "sent", or the error's code."""

    few = asyncio.Semaphore(3)  # Apprise's children: a few at once on a small machine

    async def one(url: str) -> str:
        async with few:
            try:
                await deliver([_notice(url)], settings)
            except FerrymanError as exc:
                return exc.code
            return "sent"

    found = await asyncio.gather(*(one(u) for u in urls))
    return dict(zip(urls, found, strict=True))


async def test_a_webhook_to_any_spelling_of_this_machine_never_connects(
    settings: Settings,
) -> None:
    """The webhook (``ferryman://``), given with a job or a watch: refused at the
    connection, the listener offered nothing."""
    with listening() as here:
        urls = [f"ferryman://{_at(s, here.port)}/x" for s in SPELLINGS]
        unguarded = await _outcomes(_with(settings, OFF), urls)
        sent = [u for u, outcome in unguarded.items() if outcome == "sent"]
        assert {u for u in urls if _reaching(u)} <= set(sent), unguarded  # they do reach it
        reached = here.count()
        assert reached >= len(sent)
        refused = await _outcomes(_with(settings, ON), urls)
        assert here.count() == reached, here.offered  # nothing more was offered
    assert set(refused.values()) <= {"notify.blocked", "notify.bad_url", "notify.undelivered"}
    for url in sent:  # those that connect when let through are refused by the guard
        assert refused[url] == "notify.blocked", (url, refused[url])


@pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")  # Apprise's
def test_an_apprise_notice_to_any_spelling_of_this_machine_never_connects() -> None:
    """Apprise's own connections (``json://``), guarded at their lookups: the child's
    work (``net.apprise_send.send``) run here, so every spelling costs no process
    (``deliver`` sends it from a child: the tests below go through it)."""

    from ferryman.net.apprise_send import send
    from ferryman.net.egress import Egress

    def outcome(url: str, egress: Egress) -> str:
        try:
            send(url=url, title="t", body="b", shown="x", egress=egress, progress=lambda _: None)
        except FerrymanError as exc:
            return exc.code
        return "sent"

    with listening() as here:
        urls = [f"json://{_at(s, here.port)}/x" for s in SPELLINGS]
        unguarded = {u: outcome(u, Egress()) for u in urls}
        sent = [u for u, said in unguarded.items() if said == "sent"]
        assert {u for u in urls if _reaching(u)} <= set(sent), unguarded
        reached = here.count()
        assert reached >= len(sent)
        refused = {u: outcome(u, Egress(block_private=True)) for u in urls}
        assert here.count() == reached, here.offered
    assert set(refused.values()) <= {"notify.blocked", "notify.bad_url", "notify.undelivered"}
    for url in sent:
        assert refused[url] == "notify.blocked", (url, refused[url])


def _reaching(url: str) -> bool:
    return any(f"//{s}:" in url for s in REACHES)


async def test_notice_urls_from_the_settings_are_trusted_and_metadata_never(
    settings: Settings,
) -> None:
    with listening() as here:
        own = f"ferryman://127.0.0.1:{here.port}/mine"
        allowed = ON.model_copy(update={"private_allowed": ["::1"]})
        trusted = _with(settings, ON, urls=[own])
        assert await _outcomes(trusted, [own]) == {own: "sent"}
        listed = f"json://[::1]:{here.port}/nas"
        assert await _outcomes(_with(settings, allowed), [listed]) == {listed: "sent"}
        assert here.count() == 2
    metadata = ["ferryman://169.254.169.254/x", "json://[fd00:ec2::254]/x"]
    for network in (OFF, ON.model_copy(update={"private_allowed": ["169.254.169.254"]})):
        assert set((await _outcomes(_with(settings, network), metadata)).values()) == {
            "notify.blocked"
        }


async def test_a_watch_added_through_the_api_with_a_loopback_notice_is_refused(
    tmp_path: Path, settings: Settings
) -> None:
    """``ferryman web`` turns block_private on; the feed stands for a public site
    (``private_allowed``: 127.0.0.2); a notice to loopback is refused when added, with
    its code, nothing recorded, the listener offered nothing."""
    network = ON.model_copy(update={"private_allowed": ["127.0.0.2"]})
    web_settings = settings.model_copy(update={"network": network})
    store = await Store.open(settings.database)
    try:
        with listening() as here, serving(host="127.0.0.2") as feed:
            serve_feed(feed, tmp_path, ["ep1"])
            async with (
                web_app(web_settings, store, EventBus(), lambda: True) as served,
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=served.app), base_url="http://127.0.0.1"
                ) as client,
            ):
                source = feed.url("/feed.xml")
                for notify in (
                    f"json://127.0.0.1:{here.port}/x",
                    f"ferryman://[::1]:{here.port}/x",
                    f"jsons://2130706433:{here.port}/x",
                    f"ntfy://localhost:{here.port}/topic",
                    f"ferrymans://[::ffff:127.0.0.1]:{here.port}/x",
                    "json://169.254.169.254/x",
                ):
                    body = {"source": source, "to": "library:", "notify": notify}
                    answer = await client.post("/api/v1/watches", json=body)
                    assert answer.status_code == 400, (notify, answer.text)
                    error = answer.json()["error"]
                    assert error["code"] == "notify.blocked", (notify, error)
                    assert "private_allowed" in error["next"]
                fine = {"source": source, "to": "library:", "notify": "json://127.0.0.2/x"}
                assert (await client.post("/api/v1/watches", json=fine)).status_code == 201
            assert here.count() == 0
        assert [w.notify for w in await store.list_watches()] == ["json://127.0.0.2/x"]
    finally:
        await store.close()


async def test_a_watch_notice_stored_for_loopback_is_never_posted_by_the_engine(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """One that got in before the check (an older version, a CLI add): the engine's
    notifier gives it up with ``notify.blocked``; the listener is offered nothing."""
    network = ON.model_copy(update={"private_allowed": ["127.0.0.2"]})
    settings = _with(settings, network, retry_seconds=0.1, digest_seconds=0.0)
    with listening() as here, serving(host="127.0.0.2") as feed:
        serve_feed(feed, tmp_path, ["ep1"])
        await store.add_watch(
            kind="feed",
            source=feed.url("/feed.xml"),
            dest="library:",
            every_seconds=3600,
            since="all",
            next_check_at=0.0,
            notify=f"ferryman://[::1]:{here.port}/x json://127.0.0.1:{here.port}/y",
        )
        engine = Engine(store, settings)
        running = asyncio.create_task(engine.run())
        try:
            from tests.support.waiting import eventually

            async def given_up() -> list[Notice]:
                notices = await store.list_notices()
                done = notices and all(n.state == "failed" for n in notices)
                return notices if done and len(notices) >= 4 else []

            notices = await eventually(given_up, "the notices given up", within=60)
        finally:
            engine.stop()
            await running
        assert here.count() == 0, here.offered
    assert {n.attempts for n in notices} == {1}  # not retried: a refusal is final
    assert all("inside a private or local network" in (n.error_message or "") for n in notices)


def test_a_feed_a_webdav_folder_and_a_redirect_to_this_machine_never_connect(
    settings: Settings,
) -> None:
    with listening() as here, serving(host="127.0.0.2") as public:
        allowed = ON.model_copy(update={"private_allowed": ["127.0.0.2"]})
        guarded = settings.model_copy(update={"network": allowed})
        for spelling in REACHES:  # unguarded they reach it
            with pytest.raises(FerrymanError):  # "{}" is no feed, but it was asked
                list_feed(f"http://{_at(spelling, here.port)}/feed.xml", settings)
        assert here.count() == len(REACHES)
        here.offered.clear()
        codes = set()
        for n, spelling in enumerate(SPELLINGS):
            where = _at(spelling, here.port)
            public.redirect(f"/to-{n}", f"http://{where}/secret")
            for kind, url in (("feed", "http"), ("dav", "davs"), ("dav", "dav")):
                with pytest.raises((FerrymanError, httpx.InvalidURL)) as refused:
                    if kind == "feed":
                        list_feed(f"{url}://{where}/feed.xml", guarded)
                    else:
                        walk(f"{url}://{where}/photos/", allowed, guarded)
                if isinstance(refused.value, FerrymanError):
                    codes.add(refused.value.code)
            with (  # an invalid Location, a name that does not resolve: httpx's own errors
                make_sync_client(allowed) as client,
                pytest.raises((FerrymanError, httpx.HTTPError)),
            ):
                client.get(public.url(f"/to-{n}"))
        assert here.count() == 0, here.offered
    assert "link.blocked" in codes


async def test_a_link_redirected_to_this_machine_is_refused_at_its_connection() -> None:
    with listening() as here, serving(host="127.0.0.2") as public:
        public.redirect("/away", f"http://[::1]:{here.port}/x")
        public.add("/fine", b"ok")
        allowed = ON.model_copy(update={"private_allowed": ["127.0.0.2"]})
        async with make_client(allowed) as client:
            assert (await client.get(public.url("/fine"))).content == b"ok"
            with pytest.raises(FerrymanError) as refused:
                await client.get(public.url("/away"))
        async with make_client(OFF) as client:
            assert (await client.get(public.url("/away"))).status_code == 200
        assert here.count() == 1  # the unguarded one only
    assert refused.value.code == "link.blocked"
    assert refused.value.message == "::1 is inside a private or local network"


@pytest.mark.parametrize("blocking", [False, True])
async def test_a_name_rebound_between_check_and_connection_gets_nowhere(
    monkeypatch: pytest.MonkeyPatch, blocking: bool
) -> None:
    """DNS rebinding: ``rebind.test`` first answers 127.0.0.2 (a public server, listed
    in ``private_allowed``), then 127.0.0.1. Whatever is asked first is what is
    connected to: the listener on 127.0.0.1 is offered nothing."""
    real = socket.getaddrinfo
    answers = iter(["127.0.0.2"])

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name == "rebind.test":
            return real(next(answers, "127.0.0.1"), port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with serving(host="127.0.0.2") as public:
        public.add("/x", b"public")
        port = int(public.url("/x").rsplit(":", 1)[1].split("/")[0])
        with listening(port) as here:  # the same port inside: where a rebinding leads
            allowed = ON.model_copy(update={"private_allowed": ["127.0.0.2"]})
            url = f"http://rebind.test:{port}/x"
            if blocking:
                with make_sync_client(allowed) as client:
                    answer = client.get(url)
            else:
                async with make_client(allowed) as client:
                    answer = await client.get(url)
            assert here.count() == 0, here.offered
        assert answer.content == b"public"


async def test_the_torbox_api_written_in_the_settings_is_trusted_its_cdn_links_are_not(
    settings: Settings,
) -> None:
    """``torbox.api_base`` on loopback (the operator's) is asked; the CDN link it hands
    out, to 127.0.0.2 (inside), is refused at its connection: nothing served."""
    with serving(host="127.0.0.2") as cdn, torbox_serving(cdn) as torbox:
        torbox.add("torrent", 7, "Inside", [("a.jpg", b"\xff\xd8\xff" + bytes(64), "image/jpeg")])
        guarded = settings.model_copy(
            update={
                "torbox": TorboxSettings(api_key=API_KEY, api_base=torbox.base),
                "network": ON.model_copy(update={"stall_seconds": 3.0}),
                "retry": settings.retry.model_copy(update={"base_seconds": 0.05}),
            }
        )
        store = await Store.open(guarded.database)
        try:
            job = await intake.add_source(store, "torbox:torrent/7", settings=guarded)
            await asyncio.wait_for(Engine(store, guarded).run(until_idle=True), 60)
            summary = await report.report(store, job.id)
        finally:
            await store.close()
        assert torbox.calls["mylist"] >= 1  # the API was asked
        assert sum(cdn.served.values()) == 0 and cdn.requests == []
    codes = {it.get("error", {}).get("code") for it in summary["items"]}
    codes.add((summary.get("error") or {}).get("code"))
    assert "link.blocked" in codes, summary


def test_the_guard_refuses_metadata_always_and_private_only_when_asked() -> None:
    from ferryman.net.egress import Egress

    free, guarded = Egress(), Egress.named(True, ["nas.local", "[fd00::5]"])
    for address in ("169.254.169.254", "::ffff:169.254.169.254", "fd00:ec2::254"):
        assert free.refuses("x", address) and guarded.refuses("169.254.169.254", address)
    assert not free.refuses("x", "127.0.0.1")
    assert guarded.refuses("x", "127.0.0.1") and guarded.refuses("x", "fe80::1%2")
    assert not guarded.refuses("nas.local", "192.168.1.5")  # by its name
    assert not guarded.refuses("x", "fd00::5")  # by its address
    assert not guarded.refuses("example.org", "93.184.216.34")


def test_checked_addresses_are_tried_with_the_families_taking_turns() -> None:
    """Connected to one by one (a name would be resolved again): a dead first family
    costs each of its addresses a short wait, the last one has the whole timeout."""
    from ferryman.net.egress import NEXT_ADDRESS_SECONDS, _tries

    both = ["2001:db8::1", "2001:db8::2", "192.0.2.1"]
    assert _tries(both, 20.0) == [
        ("2001:db8::1", NEXT_ADDRESS_SECONDS),
        ("192.0.2.1", NEXT_ADDRESS_SECONDS),
        ("2001:db8::2", 20.0),
    ]
    assert _tries(["192.0.2.1"], 20.0) == [("192.0.2.1", 20.0)]


def test_guarded_lookups_refuse_metadata_always_and_loopback_when_asked() -> None:
    """What yt-dlp's and Apprise's children run under: the lookup every connection
    starts with answers only addresses the guard lets through."""
    from ferryman.net.egress import Egress, guarded_lookups

    with guarded_lookups(Egress()) as free:
        assert socket.getaddrinfo("127.0.0.1", 80)  # private is not refused unless asked
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("169.254.169.254", 80)
    assert free.refused == "169.254.169.254 is a cloud metadata address"
    with guarded_lookups(Egress(block_private=True)) as guarded:
        for spelling in ("2130706433", "0x7f.1", "::ffff:127.0.0.1", "localhost"):
            with pytest.raises(socket.gaierror):
                socket.getaddrinfo(spelling, 80)
        assert socket.getaddrinfo(None, 80)  # a socket to listen on connects nowhere
    assert guarded.refused is not None and "inside a private or local network" in guarded.refused
    assert socket.getaddrinfo("localhost", 80)  # the process's own lookups are back


def test_the_chat_front_door_turns_the_guard_on_unless_told(settings: Settings) -> None:
    """``telegram serve`` (like ``ferryman web``): links from the chat are guarded."""
    from ferryman.frontdoors.cli.telegram import chat_settings

    assert not settings.network.block_private
    assert chat_settings(settings).network.block_private
    home = settings.model_copy(
        update={"telegram": settings.telegram.model_copy(update={"allow_private_links": True})}
    )
    assert not chat_settings(home).network.block_private


def test_a_socket_connected_or_sent_to_directly_is_guarded_in_a_child_too() -> None:
    """Some Apprise plugins (syslog over UDP, MQTT, Growl) connect a socket by name or
    address without the lookup the others start with: ``connect`` and ``sendto`` are
    checked as well. Unguarded, the same calls do reach the listeners."""
    from ferryman.net.egress import Egress, guarded_lookups

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.setblocking(False)
    with listening() as here, udp:
        target = ("127.0.0.1", here.port)
        with guarded_lookups(Egress(block_private=True)) as guard:
            for spelling in ("127.0.0.1", "localhost", "2130706433", ""):
                with socket.socket() as tcp, pytest.raises(OSError):
                    tcp.connect((spelling, here.port))
            with socket.socket() as tcp, pytest.raises(OSError):
                tcp.connect_ex(target)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out, pytest.raises(OSError):
                out.sendto(b"x", ("localhost", udp.getsockname()[1]))
        assert guard.refused is not None
        with pytest.raises(BlockingIOError):
            udp.recv(16)  # nothing was sent
        assert here.count() == 0, here.offered
        with guarded_lookups(Egress()), socket.socket() as tcp:  # the control: it does reach
            tcp.settimeout(30)
            tcp.connect(target)
            tcp.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert tcp.recv(64).startswith(b"HTTP/1.0 200")
        assert here.count() == 1
    assert socket.socket.connect is not None and "connect" not in vars(socket.socket)
