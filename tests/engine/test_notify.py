"""Notices on loopback: a signed webhook whose receiver checks the HMAC and the job's
view, an Apprise ``json://`` URL, a receiver that fails twice (retried, the job
unaffected), a digest of jobs that end together, a watch that finds entries (one
notice), a target that never answers (given up, the job done), and --notify none."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ferryman.config import Settings
from ferryman.engine.ops.intake import add_source
from ferryman.engine.runner import Engine
from ferryman.model import Job
from ferryman.samples import make_photo, make_zip
from ferryman.store import Store
from tests.archive.test_archive_engine import needs_7zz, zip_with_password
from tests.support.contract import memory_store
from tests.support.httpserve import serving
from tests.support.waiting import eventually
from tests.watch.test_watch_feed import serve_feed

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

SECRET = "s3cret-for-tests"


@dataclass
class Receiver:
    """What the receiving server got: each POST's path, headers and body."""

    fail_first: int = 0
    got: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    refused: int = 0
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self, path: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(b) for p, _, b in self.got if path is None or p == path]


@contextmanager
def receiving(fail_first: int = 0) -> Iterator[Receiver]:
    """A real HTTP server on loopback that answers 500 to the first ``fail_first``
    POSTs and 200 after, keeping what it was sent."""
    seen = Receiver(fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with seen.lock:
                fail = seen.refused < seen.fail_first
                if fail:
                    seen.refused += 1
                else:
                    seen.got.append((self.path, dict(self.headers.items()), body))
            self.send_response(500 if fail else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    seen.port = server.server_address[1]
    thread = threading.Thread(  # polls 0.05 s: shutdown() waits for a poll (0.5 s)
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def with_notify(settings: Settings, **notify: Any) -> Settings:
    values = {"webhook_secret": SECRET, "digest_seconds": 0.0, "retry_seconds": 0.1} | notify
    return settings.model_copy(update={"notify": settings.notify.model_copy(update=values)})


async def a_job(store: Store, settings: Settings, tmp: Path, seed: int, **options: Any) -> Job:
    photo = make_photo(tmp / f"p{seed}.jpg", seed)
    archive = make_zip(tmp / f"set{seed}.zip", [(f"p{seed}.jpg", photo)])
    return await add_source(store, archive, dest="library:", settings=settings, **options)


async def run_until(engine: Engine, what: str, check: Any, within: float = 60) -> Any:
    running = asyncio.create_task(engine.run())
    try:
        return await eventually(check, what, within=within)
    finally:
        engine.stop()
        await running


def signed_right(headers: dict[str, str], body: bytes) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("X-Ferryman-Signature", ""), expected)


async def test_a_job_that_ends_reaches_a_signed_webhook_with_its_view(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    with receiving() as hook:
        url = f"ferryman://127.0.0.1:{hook.port}/hook"
        settings = with_notify(settings, urls=[url])
        job = await a_job(store, settings, tmp_path, 1)
        await run_until(Engine(store, settings), "a notice", lambda: hook.bodies())
        (path, headers, body), *more = hook.got
    assert more == []
    assert path == "/hook"
    assert signed_right(headers, body)
    assert not signed_right(headers, body + b" ")  # the check can fail
    assert headers["X-Ferryman-Event"] == "job_done"
    sent = json.loads(body)
    assert sent["event"] == "job_done"
    assert sent["title"] == f"ferryman: done: {job.name}"
    view = sent["job"]
    assert (view["id"], view["status"], view["dest"]) == (job.id, "done", "library:")
    assert view["counts"]["delivered"] == 1
    notices = await store.list_notices()
    assert [(n.state, n.job_id, n.attempts) for n in notices] == [("sent", job.id, 0)]


async def test_an_apprise_json_url_gets_the_title_and_body(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    with receiving() as hook:
        settings = with_notify(settings, urls=[f"json://127.0.0.1:{hook.port}/apprise"])
        job = await a_job(store, settings, tmp_path, 2)
        await run_until(Engine(store, settings), "an Apprise notice", lambda: hook.bodies())
        sent = hook.bodies("/apprise")
    assert len(sent) == 1
    assert sent[0]["title"] == f"ferryman: done: {job.name}"
    assert sent[0]["message"] == "1 file to the library."


async def test_a_receiver_that_fails_twice_gets_it_the_third_time_and_the_job_is_done(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    with receiving(fail_first=2) as hook:
        settings = with_notify(settings, urls=[f"ferryman://127.0.0.1:{hook.port}/h"])
        job = await a_job(store, settings, tmp_path, 3)
        await run_until(Engine(store, settings), "the third try", lambda: hook.bodies())
        assert hook.refused == 2
        assert len(hook.got) == 1
    assert (await store.get_job(job.id)).state.value == "done"
    (notice,) = await store.list_notices()
    assert (notice.state, notice.attempts) == ("sent", 2)
    assert "HTTP 500" in (notice.error_message or "")


async def test_a_target_that_never_answers_is_given_up_and_the_job_is_done(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    with receiving() as hook:
        dead = hook.port
    settings = with_notify(settings, urls=[f"ferryman://127.0.0.1:{dead}/h"], max_tries=3)
    job = await a_job(store, settings, tmp_path, 4)

    async def given_up() -> bool:
        return [n.state for n in await store.list_notices()] == ["failed"]

    await run_until(Engine(store, settings), "given up", given_up)
    (notice,) = await store.list_notices()
    assert notice.attempts == 3
    assert (await store.get_job(job.id)).state.value == "done"


async def test_jobs_that_end_together_go_out_as_one_digest(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    # The store's clock stands still until the three jobs are done, then runs on: they
    # end together however slowly a loaded machine runs them one after another (on the
    # wall clock they ended more than the 3 s window apart there, and went as two).
    started, held = time.time(), [True]
    resumed: list[float] = []
    store.clock = lambda: started if held[0] else time.time() - (resumed[0] - started)

    async def all_done() -> bool:
        if held[0] and {j.state for j in await store.list_jobs()} == {"done"}:
            resumed.append(time.time())
            held[0] = False
        return bool(hook.bodies())

    with receiving() as hook:
        settings = with_notify(
            settings, urls=[f"ferryman://127.0.0.1:{hook.port}/d"], digest_seconds=3.0
        )
        made = [await a_job(store, settings, tmp_path, n) for n in range(5, 8)]
        await run_until(Engine(store, settings), "a digest", all_done)
        # The engine stopped and its notifier flushed (run_until): nothing else follows.
        sent = hook.bodies()
        assert all(signed_right(h, b) for _, h, b in hook.got)
    assert len(sent) == 1
    (digest,) = sent
    assert digest["event"] == "digest"
    assert digest["title"] == "ferryman: 3 jobs ended (3 done)"
    assert sorted(j["id"] for j in digest["jobs"]) == sorted(j.id for j in made)
    assert len(digest["body"].splitlines()) == 3
    assert {n.state for n in await store.list_notices()} == {"sent"}


async def test_a_watch_that_finds_entries_sends_one_notice(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    with receiving() as hook, serving() as feed:
        serve_feed(feed, tmp_path, ["ep1", "ep2"])
        settings = with_notify(settings, urls=[], digest_seconds=0.0)
        watch = await store.add_watch(
            kind="feed",
            source=feed.url("/feed.xml"),
            dest="library:",
            every_seconds=3600,
            since="all",
            next_check_at=0.0,
            notify=f"ferryman://127.0.0.1:{hook.port}/w",
        )

        def found() -> list[dict[str, Any]]:
            bodies = hook.bodies("/w")
            ends = [b for b in bodies if b["event"] == "job_done"]
            return bodies if len(ends) == 1 else []

        await run_until(Engine(store, settings), "the watch's notice", found)
        bodies = hook.bodies("/w")
    watch_notices = [b for b in bodies if b["event"] == "watch_found"]
    assert len(watch_notices) == 1  # one notice for the check, not one per entry
    (notice,) = watch_notices
    assert notice["watch"]["id"] == watch.id
    [job] = await store.list_jobs()  # the two entries of one look: one job
    assert notice["watch"]["jobs"] == [job.id]
    assert notice["watch"]["titles"] == ["Episode ep2", "Episode ep1"]  # the feed's order
    assert notice["title"] == f"ferryman: 2 new from {feed.url('/feed.xml')}"
    first = notice["body"].splitlines()[0]
    assert first == f"2 new entries found: job {job.id} to the library", first
    # the watch's job carried its target: its end went there too
    assert [b["job"]["id"] for b in bodies if b["event"] == "job_done"] == [job.id]


async def test_notify_none_on_a_job_sends_nothing_for_it(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    with receiving() as hook:
        url = f"ferryman://127.0.0.1:{hook.port}/q"
        loud = with_notify(settings, urls=[url])
        quiet = await a_job(store, loud, tmp_path, 9, notify="none")
        spoken = await a_job(store, loud, tmp_path, 10)
        await run_until(Engine(store, loud), "one notice", lambda: hook.bodies())
        # The engine stopped, its notifier flushed (run_until): no notice comes later.
        assert [b["job"]["id"] for b in hook.bodies()] == [spoken.id]
        assert (await store.get_job(quiet.id)).state.value == "done"
    assert [n.job_id for n in await store.list_notices()] == [spoken.id]


def test_targets_the_override_then_the_settings_unless_quiet(settings: Settings) -> None:
    from ferryman.engine.plumbing.notice_targets import check_target, targets

    loud = with_notify(settings, urls=["ntfy://topic"]).notify
    hushed = with_notify(settings, urls=["ntfy://topic"], quiet=True).notify
    assert targets(None, loud) == ["ntfy://topic"]
    assert targets(None, hushed) == []
    assert targets("json://h/ ferryman://h/x", hushed) == ["json://h/", "ferryman://h/x"]
    assert targets("none", loud) == []
    assert check_target(" json://h/,ntfy://t ") == "json://h/ ntfy://t"
    try:
        check_target("example.com")
    except Exception as exc:
        assert getattr(exc, "code", None) == "notify.bad_url"
    else:
        raise AssertionError("a target without a scheme was taken")


@needs_7zz
async def test_a_job_waiting_for_a_password_says_so_at_once(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    with receiving() as hook:
        settings = with_notify(
            settings, urls=[f"ferryman://127.0.0.1:{hook.port}/p"], digest_seconds=30.0
        )
        photo = make_photo(tmp_path / "open.jpg", 11)
        hidden = make_photo(tmp_path / "hidden.jpg", 12)
        archive = zip_with_password(tmp_path / "locked.zip", [photo], [hidden], "pw")
        job = await add_source(store, archive, dest="library:", settings=settings)
        # digest_seconds holds job ends back, not a wait on the person
        await run_until(Engine(store, settings), "the wait's notice", lambda: hook.bodies())
        (sent,) = hook.bodies()
    assert sent["event"] == "job_waiting"
    assert sent["job"]["id"] == job.id
    assert sent["job"]["status"] == "needs_password"
    assert sent["body"].startswith("archive.password_required: ")
    assert f"ferryman password {job.id}" in sent["body"]


async def test_a_watch_that_starts_failing_says_so_once(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    with receiving() as hook, serving() as feed:
        settings = with_notify(settings, urls=[f"ferryman://127.0.0.1:{hook.port}/f"])
        watch = await store.add_watch(
            kind="feed",
            source=feed.url("/missing.xml"),
            dest="library:",
            every_seconds=0.2,
            since="all",
            next_check_at=0.0,
        )

        async def failed_thrice() -> bool:
            return (await store.get_watch(watch.id)).failures >= 3

        await run_until(Engine(store, settings), "three failed looks", failed_thrice)
        # The engine stopped, its notifier flushed (run_until): no notice comes later.
        sent = hook.bodies()
    assert [b["event"] for b in sent] == ["watch_failing"]  # once, not at every retry
    assert sent[0]["watch"]["id"] == watch.id
    assert sent[0]["watch"]["error"]["code"] == "source.not_found"


def test_add_and_watch_add_keep_their_notify_target(
    settings: Settings, tmp_path: Path, monkeypatch: Any
) -> None:
    from typer.testing import CliRunner

    from ferryman.frontdoors.cli.root import app

    monkeypatch.setenv("FERRYMAN_DATA_DIR", str(settings.data_dir))
    photo = make_photo(tmp_path / "c.jpg", 13)
    archive = make_zip(tmp_path / "c.zip", [("c.jpg", photo)])
    runner = CliRunner()
    added = runner.invoke(app, ["add", str(archive), "--notify", "ntfy://t, json://h/"])
    assert added.exit_code == 0, added.output
    bad = runner.invoke(app, ["add", str(archive), "--force", "--notify", "example.com"])
    assert bad.exit_code == 2
    assert "notify.bad_url" in bad.output
    with serving() as feed:
        serve_feed(feed, tmp_path, ["ep1"])
        watched = runner.invoke(
            app, ["watch", "add", feed.url("/feed.xml"), "--to", "library:", "--notify", "none"]
        )
        assert watched.exit_code == 0, watched.output

    async def stored() -> tuple[list[str | None], list[str | None]]:
        store = await Store.open(settings.database)
        try:
            jobs = [await store.job_notify(j.id) for j in await store.list_jobs()]
            return jobs, [w.notify for w in await store.list_watches()]
        finally:
            await store.close()

    assert asyncio.run(stored()) == (["ntfy://t json://h/"], ["none"])


async def test_a_job_done_with_a_quarantined_file_is_done_with_problems(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    make_photo(folder / "good.jpg", 14)
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 12)
    with receiving() as hook:
        settings = with_notify(settings, urls=[f"ferryman://127.0.0.1:{hook.port}/x"])
        # a download link quarantines the broken video (a library keeps it as it is)
        job = await add_source(store, folder, dest="link:", settings=settings)
        await run_until(Engine(store, settings), "a notice", lambda: hook.bodies())
        (sent,) = hook.bodies()
    assert sent["event"] == "job_problems"
    assert sent["title"] == f"ferryman: done with problems: {job.name}"
    counts = sent["job"]["counts"]
    assert (counts["delivered"], counts["quarantined"]) == (1, 1)
    assert f"ferryman report {job.id}" in sent["body"]
    # The job's outcome says so too, with the next step, not only the counts.
    assert sent["job"]["error"]["code"] == "job.partly_delivered"
    assert sent["job"]["error"]["message"].startswith("1 file of 2 not delivered")
    assert f"job.partly_delivered: `ferryman report {job.id}` lists" in sent["body"]


async def test_a_notice_held_by_a_node_that_died_is_sent_by_the_next_engine(
    store: Store, settings: Settings
) -> None:
    """The outbox outlives its sender: a claimed, unsent notice whose lease ran out (a
    SIGKILLed node) is handed back and sent once."""
    with receiving() as hook:
        url = f"ferryman://127.0.0.1:{hook.port}/late"
        settings = with_notify(settings, urls=[url])
        payload = {"event": "job_done", "title": "ferryman: done: x", "body": "b", "job": None}
        (made,) = await store.add_notices("job_done", [url], payload, job_id=None)
        (held,) = await store.claim_notices("dead-node", -1.0, 0.0)  # ran out a second ago
        assert held.id == made
        await run_until(Engine(store, settings), "the late notice", lambda: hook.bodies())
        # The engine stopped, its notifier flushed (run_until): no second sending later.
        assert hook.bodies() == [payload]  # once
    (notice,) = await store.list_notices()
    assert notice.state == "sent"


async def test_a_run_until_idle_sends_its_last_jobs_ends_before_it_returns(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """The digest's window does not keep a finished run's notices for the next run."""
    with receiving() as hook:
        url = f"ferryman://127.0.0.1:{hook.port}/idle"
        settings = with_notify(settings, urls=[url], digest_seconds=60.0)
        made = [await a_job(store, settings, tmp_path, n) for n in (15, 16)]
        await asyncio.wait_for(Engine(store, settings).run(until_idle=True), 120)
        sent = hook.bodies()
    assert [b["event"] for b in sent] == ["digest"]
    assert sorted(j["id"] for j in sent[0]["jobs"]) == sorted(j.id for j in made)
    assert {n.state for n in await store.list_notices()} == {"sent"}


def test_config_show_hides_the_targets_tokens_and_the_secret(settings: Settings) -> None:
    from ferryman.config.shown import mask_secrets

    shown = mask_secrets(with_notify(settings, urls=["tgram://123:TOKEN/456"]))
    assert shown["notify"]["urls"] == ["tgram://***"]
    assert shown["notify"]["webhook_secret"] == "***"
    assert "TOKEN" not in json.dumps(shown)
