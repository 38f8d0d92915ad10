"""SIGKILL the real `ferryman run` while its notices go out to a slow webhook on loopback
that checks every HMAC signature: after the last run every job's end, the watch's
finds and its failing were each told at least once, nothing was told of a change the
store does not hold, and a notice heard twice is the same notice (its
``X-Ferryman-Notice`` id and its signed body byte for byte: the at-least-once contract
of docs/watch.md)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ferryman.engine.ops.intake import add_source
from ferryman.samples import make_photo, make_zip
from ferryman.store import Store
from tests.crash.test_watch_crash import _add_watch, _env, _publish, _query, _run
from tests.support.httpserve import serving
from tests.support.waiting import eventually_sync

pytestmark = pytest.mark.slow

SECRET = "crash-secret"


@dataclass
class Heard:
    """Each POST the receiver took (signature checked): its notice ids, event, body."""

    got: list[tuple[str, str, bytes]] = field(default_factory=list)
    forged: int = 0
    cut: int = 0  # bodies shorter than their Content-Length: the sender killed mid-send
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.got)


@contextmanager
def slow_signed_receiver(delay: float) -> Iterator[Heard]:
    """Keeps what it is sent when the signature is right (401 if not), then waits
    ``delay`` before it answers: a kill often falls between the two, so the sender
    never hears the 200 and must send it again."""
    heard = Heard()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if len(body) < length:  # killed between headers and body: nothing to check
                with heard.lock:
                    heard.cut += 1
                return
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            good = hmac.compare_digest(self.headers.get("X-Ferryman-Signature", ""), expected)
            with heard.lock:
                if good:
                    ids = self.headers.get("X-Ferryman-Notice", "")
                    heard.got.append((ids, self.headers.get("X-Ferryman-Event", ""), body))
                else:
                    heard.forged += 1
            time.sleep(delay)  # a slow webhook server's pace: not a wait
            self.send_response(200 if good else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    heard.port = server.server_address[1]
    thread = threading.Thread(  # polls 0.05 s: shutdown() waits for a poll (0.5 s)
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield heard
    finally:
        server.shutdown()
        _take_the_backlog(server)
        server.server_close()  # joins every handler: each POST taken is in ``heard``


def _take_the_backlog(server: ThreadingHTTPServer) -> None:
    """Hand each connection still in the listen queue to a handler: one a sender made
    before it ended, that ``serve_forever`` (stopped) had not taken yet. With the
    senders gone, ``heard`` is then all they sent once the handlers are joined."""
    server.socket.setblocking(False)
    while True:
        try:
            request, address = server.get_request()
        except BlockingIOError:
            return
        request.setblocking(True)
        server.process_request(request, address)


def _add_jobs(data: Path, tmp_path: Path, count: int) -> None:
    """``count`` zips of one photo each, and one that is no zip (it fails)."""

    async def go() -> None:
        store = await Store.open(f"sqlite+aiosqlite:///{data / 'ferryman.db'}")
        try:
            for n in range(count):
                photo = make_photo(tmp_path / "in" / f"p{n:02}.jpg", 100 + n, size=(64, 48))
                made = make_zip(tmp_path / "in" / f"set{n:02}.zip", [(photo.name, photo)])
                await add_source(store, made, dest="library:")
            broken = tmp_path / "in" / "broken.zip"
            broken.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
            await add_source(store, broken, dest="library:")
        finally:
            await store.close()

    asyncio.run(go())


def _settled(db: Path) -> bool:
    """Every watch checked once and not checking now (its job made: a check killed
    mid-way waits for its lease, and the jobs can all end before it), every job ended,
    every event made into notices, every notice sent."""
    unchecked = _query(
        db, "SELECT count(*) FROM watches WHERE last_check_at IS NULL OR state != 'idle'"
    )
    open_jobs = _query(db, "SELECT count(*) FROM jobs WHERE finished_at IS NULL")
    unsent = _query(db, "SELECT count(*) FROM notices WHERE state != 'sent'")
    return unchecked == [(0,)] and open_jobs == [(0,)] and unsent == [(0,)]


def test_sigkill_while_notices_go_out_tells_each_change_once_or_again_the_same(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    db = data / "ferryman.db"
    rng = random.Random(9)
    jobs_made = 12
    with slow_signed_receiver(delay=0.15) as heard, serving() as feed:
        env = _env(data) | {
            "FERRYMAN_NOTIFY__URLS": json.dumps([f"ferryman://127.0.0.1:{heard.port}/hook"]),
            "FERRYMAN_NOTIFY__WEBHOOK_SECRET": SECRET,
            "FERRYMAN_NOTIFY__DIGEST_SECONDS": "0",
            "FERRYMAN_NOTIFY__RETRY_SECONDS": "0.2",
        }
        _publish(feed, tmp_path, 4)
        _add_watch(data, feed.url("/feed.xml"))  # 4 entries: one job, one watch_found
        _add_watch(data, feed.url("/gone.xml"))  # 404: one watch_failing
        _add_jobs(data, tmp_path, jobs_made)
        kills = 0
        for _ in range(7):
            before = heard.count()
            proc = _run(env)
            eventually_sync(
                lambda proc=proc, before=before: (  # type: ignore[misc]
                    heard.count() > before or proc.poll() is not None or _settled(db)
                ),
                "a notice under way",
                within=60,
            )
            time.sleep(rng.uniform(0.0, 0.4))  # the kill's random moment: the scenario
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(30)
        assert kills >= 5
        final = _run(env)
        try:
            eventually_sync(lambda: _settled(db), "every notice sent", within=120)
        finally:
            # The stop's last round looks at the outbox once more (what is due goes), and
            # past the child's end nothing can come: no window waited out.
            final.send_signal(signal.SIGTERM)
            assert final.wait(30) == 0, final.stderr.read() if final.stderr else ""
    # The receiver closed: every connection any child made was handled (``heard`` whole).
    got = list(heard.got)
    assert heard.forged == 0
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT id, kind, job_id, watch_id, url, state FROM notices ORDER BY id"
        ).fetchall()
        ended = dict(conn.execute("SELECT id, state FROM jobs").fetchall())
        found_by_watch = conn.execute(
            "SELECT job_id FROM watch_seen WHERE job_id IS NOT NULL"
        ).fetchall()
    assert all(url != "" for _, _, _, _, url, _ in rows)  # every event made into notices
    assert {state for *_, state in rows} == {"sent"}
    by_id = {str(row[0]): row for row in rows}
    # Every notice delivered at least once; nothing heard that the store does not hold.
    heard_ids = [ids for ids, _, _ in got]
    assert sorted(set(heard_ids), key=int) == sorted(by_id, key=int)
    # Heard twice: the same notice, byte for byte (what a receiver dedupes by).
    bodies: dict[str, bytes] = {}
    for ids, event, body in got:
        assert bodies.setdefault(ids, body) == body
        assert event == by_id[ids][1]
    # Each job's end told once (no notice for an end that did not commit: each job
    # ended in the state its notice says), the watch's finds once, its failing once.
    # A list, not a dict by job: a job told twice is two rows, which a dict would fold.
    told = sorted((row[2], row[1]) for row in rows if row[1].startswith("job_"))
    assert told == sorted(
        (job, "job_done" if state == "done" else "job_failed") for job, state in ended.items()
    )
    assert sorted(ended.values()).count("failed") == 1 and len(ended) == jobs_made + 1 + 1
    finds = [json.loads(bodies[str(row[0])]) for row in rows if row[1] == "watch_found"]
    found_jobs = sorted(j for notice in finds for j in notice["watch"]["jobs"])
    assert found_jobs == sorted({row[0] for row in found_by_watch}) and len(found_jobs) == 1
    assert [row[1] for row in rows].count("watch_failing") == 1
