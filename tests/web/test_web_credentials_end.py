"""Credentials that end, through a real server (the app and the engine in this process,
uvicorn on loopback) and real clients (httpx for Server-Sent Events, a WebSocket client):
a sign-out, a token revoked, a password reset, a removal on the page and one from
another process (`ferryman user remove`) each close the event streams opened with that
credential within seconds, and those streams receive no view of a job added after; a
copy of a signed-out session's cookie no longer works; a removed person's number is
never given to the next one."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from ferryman.clock import SYSTEM
from ferryman.config import Settings
from ferryman.engine.plumbing.events import EventBus
from ferryman.store.memory.store import MemoryStore
from ferryman.web import guard
from ferryman.web.accounts.held import CHECK_SECONDS
from ferryman.web.accounts.identify import identify, new_session
from ferryman.web.accounts.passwords import hash_password
from ferryman.web.server import web_app
from tests.support import forked
from tests.support.clock import ManualClock
from tests.support.waiting import eventually, eventually_sync
from tests.support.webinproc import InProcessWeb, web_in_process
from tests.support.webserve import web_env

pytestmark = pytest.mark.slow

API = "/api/v1"
CSRF = {"x-ferryman-csrf": "1"}
ENDS_WITHIN = 15.0  # seconds: the check's period (2 s) and a loaded machine's slack


class _Stream:
    """One open event stream read on a thread of its own: the job ids of every view
    it received, and whether (and how) it ended."""

    def __init__(self) -> None:
        self.jobs: set[int] = set()
        self.frames = 0
        self.ended = threading.Event()
        self.code: int | None = None

    def took(self, message: dict[str, Any]) -> None:
        views = message.get("jobs") or [message.get("job") or {}]
        self.jobs |= {int(v["id"]) for v in views if "id" in v}
        self.frames += 1

    def wait_open(self) -> None:
        eventually_sync(lambda: self.frames > 0, "the stream's first frame", within=30)

    def wait_ended(self) -> None:
        assert self.ended.wait(ENDS_WITHIN), "the stream stayed open"


def _sse(web: InProcessWeb, headers: dict[str, str], until: int | None = None) -> _Stream:
    """A stream read until the server ends it (or, ``until``, that job's view came)."""
    stream = _Stream()

    def read() -> None:
        try:
            with (
                httpx.Client(base_url=web.base, timeout=60) as client,
                client.stream("GET", f"{API}/events", headers=headers) as answer,
            ):
                assert answer.status_code == 200, answer.read()
                for line in answer.iter_lines():
                    if line.startswith("data: "):
                        stream.took(json.loads(line[6:]))
                    if until in stream.jobs:
                        break
        except httpx.HTTPError:
            pass
        finally:
            stream.ended.set()

    threading.Thread(target=read, daemon=True).start()
    return stream


def _ws(web: InProcessWeb, headers: dict[str, str]) -> _Stream:
    stream = _Stream()
    url = web.base.replace("http://", "ws://") + f"{API}/events"

    def read() -> None:
        try:
            with connect(url, additional_headers=headers) as socket:
                socket.send(json.dumps({"jobs": "all"}))
                while True:
                    data = json.loads(socket.recv(60))
                    for message in data if isinstance(data, list) else [data]:
                        stream.took(message)
        except ConnectionClosed as closed:
            stream.code = closed.rcvd.code if closed.rcvd else None
        finally:
            stream.ended.set()

    threading.Thread(target=read, daemon=True).start()
    return stream


def _opened(web: InProcessWeb, headers: dict[str, str]) -> list[_Stream]:
    streams = [_sse(web, headers), _ws(web, headers)]
    for stream in streams:
        stream.wait_open()
    return streams


def web_of(client: httpx.Client) -> InProcessWeb:
    return InProcessWeb(str(client.base_url).rstrip("/"))


def _cached(data: Path, suffix: str) -> Path:
    """A link result cached for a person, as ``links.cache`` keeps one."""
    folder = data / "cache" / "links" / hashlib.sha256(suffix.encode()).hexdigest()[:40]
    folder.mkdir(parents=True)
    (folder / "clip.mp4").write_bytes(b"clip")
    meta = {"key": f"youtube:abc|mp3{suffix}", "at": 1.0, "files": ["clip.mp4"]}
    (folder / "result.json").write_text(json.dumps(meta))
    return folder


def _cookie(key: str) -> dict[str, str]:
    return {"cookie": f"{guard.COOKIE}={key}"}


@contextmanager
def _signed_in(web: InProcessWeb, name: str) -> Iterator[httpx.Client]:
    with web.client(headers=CSRF) as client:
        answer = client.post(
            f"{API}/session/password", json={"name": name, "password": f"pw-{name}-long"}
        )
        assert answer.status_code == 204, answer.text
        yield client


def _job(client: httpx.Client, n: int) -> int:
    # A link to a closed loopback port: its view is made (and fails) at once.
    made = client.post(
        f"{API}/jobs", json={"source": f"http://127.0.0.1:9/{n}.zip", "deliver": {"to": "link"}}
    )
    assert made.status_code == 202, made.text
    return int(made.json()["id"])


def _closed_before(streams: list[_Stream], client: httpx.Client, n: int) -> None:
    """Every stream ended (the WebSocket as a refused handshake would be), and a job
    added after is in none of them."""
    for stream in streams:
        stream.wait_ended()
    assert streams[1].code == 4401, streams[1].code
    job = _job(client, n)
    asking = dict(client.headers) | _cookie(client.cookies[guard.COOKIE])
    told = _sse(web_of(client), asking, until=job)  # it is told, to a stream still open
    assert told.ended.wait(30) and job in told.jobs
    assert all(job not in s.jobs for s in streams)


def test_streams_close_when_their_credential_ends(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token, hashed = guard.new_token()
    with (
        web_in_process(data, clock=SYSTEM, tokens=[hashed]) as web,
        web.client(headers={"authorization": f"Bearer {token}"}) as admin,
    ):
        ids = {}
        for name in ("ann", "bob", "cat"):
            made = admin.post(f"{API}/users", json={"name": name, "password": f"pw-{name}-long"})
            assert made.status_code == 201, made.text
            ids[name] = made.json()["id"]

        with _signed_in(web, "ann") as ann, _signed_in(web, "ann") as ann_again:
            # Signed out: the session ends here, a copy of its cookie with it.
            copied = ann.cookies[guard.COOKIE]
            streams = _opened(web, _cookie(copied))
            assert ann.delete(f"{API}/session").status_code == 204
            _closed_before(streams, ann_again, 1)
            with web.client(headers=_cookie(copied)) as thief:
                assert thief.get(f"{API}/jobs").status_code == 401

            # A token revoked: the streams opened with it close.
            made = ann_again.post(f"{API}/me/tokens", json={"label": "script"}).json()
            streams = _opened(web, {"authorization": f"Bearer {made['token']}"})
            assert ann_again.delete(f"{API}/me/tokens/{made['id']}").status_code == 204
            _closed_before(streams, ann_again, 2)

            # A password reset by an administrator ends every session of hers.
            streams = _opened(web, _cookie(ann_again.cookies[guard.COOKIE]))
            reset = admin.post(f"{API}/users/ann/password", json={"password": "pw-ann-newer"})
            assert reset.status_code == 204
            for stream in streams:
                stream.wait_ended()
            assert ann_again.get(f"{API}/jobs").status_code == 401

        # Removed on the page: his streams close, his cookies.txt and cached link
        # results go; the next person gets a new number.
        with _signed_in(web, "bob") as bob:
            streams = _opened(web, _cookie(bob.cookies[guard.COOKIE]))
            jar = "# Netscape HTTP Cookie File\nsite.example\tFALSE\t/\tFALSE\t0\tsid\tbobs\n"
            assert bob.put(f"{API}/cookies", content=jar.encode()).status_code == 200
            his, theirs = _cached(data, f"|person:{ids['bob']}"), _cached(data, "|person:1")
            assert admin.delete(f"{API}/users/bob").status_code == 204
            assert not (data / "cookies" / "people" / str(ids["bob"])).exists()
            assert not his.exists() and theirs.exists()
            made = admin.post(f"{API}/users", json={"name": "dan", "password": "pw-dan-long"})
            assert made.json()["id"] not in ids.values()
            with _signed_in(web, "dan") as dan:
                _closed_before(streams, dan, 3)

        # Removed by `ferryman user remove` in another process: no word reaches this
        # server, its check finds it within seconds.
        with _signed_in(web, "cat") as cat:
            streams = _opened(web, _cookie(cat.cookies[guard.COOKIE]))
            done = forked.run(
                ["user", "remove", "cat"], env=web_env(data), capture_output=True, text=True,
                timeout=120,
            )  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
            for stream in streams:
                stream.wait_ended()
            assert streams[1].code == 4401
            assert cat.get(f"{API}/jobs").status_code == 401


async def test_the_check_runs_on_the_pages_clock(settings: Settings) -> None:
    """No word of a removal reaches the page when another door made it (here: the store
    directly, as `ferryman user remove` does): the page's check, every ``CHECK_SECONDS``
    of its clock, finds it; before that moment, nothing ends."""
    clock = ManualClock()
    store = MemoryStore(clock.now)
    ann = await store.add_user("ann", hash_password("pw-ann-long"))
    async with web_app(settings, store, EventBus(), lambda: True, clock=clock) as served:
        web = served.web
        key = await new_session(web, ann)
        scope = {
            "type": "http",
            "method": "GET",
            "path": f"{API}/events",
            "headers": [(b"cookie", f"{guard.COOKIE}={key}".encode())],
            "client": ("127.0.0.1", 5000),
        }
        _, who, problem = await identify(web, Request(scope))
        assert problem is None and who.account == ann.id
        with web.held.hold(Request(scope), who) as holder:
            await clock.until_sleeping(1, "the page's check waiting on its clock")
            await clock.advance(CHECK_SECONDS)
            assert not holder.ended  # still hers
            assert await store.remove_user(ann.id)
            await clock.advance(CHECK_SECONDS - 0.5)
            assert not holder.ended  # not yet its moment
            await clock.advance(0.5)
            await eventually(lambda: holder.ended, "the stream told its credential ended")
