"""Watching an RSS feed served on loopback that gains entries while ferryman runs: each
new entry's archive is delivered once; what was there before `--since now` is not; a
feed that fails backs off, says why, and keeps its place; the CLI end to end."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from pathlib import Path
from typing import TypeVar

import pytest
from typer.testing import CliRunner, Result

from ferryman.config import Settings
from ferryman.engine.runner import Engine
from ferryman.frontdoors.cli.root import app
from ferryman.samples import make_photo, make_zip
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.httpserve import FaultServer, serving
from tests.support.waiting import eventually

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

T = TypeVar("T")


async def until(get: Callable[[], Awaitable[T]], ok: Callable[[T], bool], what: str) -> T:
    """``get()`` polled until ``ok`` holds for it; that value."""

    async def check() -> tuple[T] | None:
        value = await get()
        return (value,) if ok(value) else None

    return (await eventually(check, what, within=90))[0]


def rss(server: FaultServer, entries: list[tuple[str, str]]) -> bytes:
    """An RSS 2.0 feed, newest first: (guid, path of the enclosure) per entry."""
    items = []
    for n, (guid, path) in enumerate(entries):
        items.append(
            f"<item><title>Episode {guid}</title><guid>{guid}</guid>"
            f"<pubDate>{formatdate(1_700_000_000 - n * 3600, usegmt=True)}</pubDate>"
            f'<enclosure url="{server.url(path)}" type="application/zip" length="1"/>'
            "</item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>drops</title>'
        f"<link>{server.base}/</link>{''.join(items)}</channel></rss>"
    ).encode()


def zip_of(tmp_path: Path, name: str, seed: int) -> bytes:
    photo = make_photo(tmp_path / f"{name}.jpg", seed)
    return make_zip(tmp_path / f"{name}.zip", [(f"{name}.jpg", photo)]).read_bytes()


def test_a_feed_entry_naming_a_local_path_or_another_scheme_is_not_listed(
    settings: Settings, tmp_path: Path
) -> None:
    from ferryman.sources.listers.feed import list_feed

    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"private")
    with serving() as server:
        server.add("/a.zip", b"zip")
        items = "".join(
            f"<item><title>{n}</title><guid>{n}</guid><enclosure url='{link}'/></item>"
            for n, link in enumerate(
                [secret.as_uri(), str(secret), "torbox:torrent/1", "dav://h/x", "/a.zip"]
            )
        )
        feed = f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'
        server.add("/feed.xml", feed.encode(), content_type="application/rss+xml")
        listed = list_feed(server.url("/feed.xml"), settings)
    # A path becomes a link on the feed's own server; the rest are left out.
    assert [(e.id, e.input) for e in listed] == [
        ("1", server.url(str(secret))),
        ("4", server.url("/a.zip")),
    ]


def serve_feed(server: FaultServer, tmp_path: Path, names: list[str]) -> None:
    for n, name in enumerate(names):
        if f"/{name}.zip" not in server.resources:
            server.add(f"/{name}.zip", zip_of(tmp_path, name, n + 1))
    feed = rss(server, [(name, f"/{name}.zip") for name in reversed(names)])
    if "/feed.xml" in server.resources:
        server.replace("/feed.xml", feed)
    else:
        server.add("/feed.xml", feed, content_type="application/rss+xml")


def delivered_names(settings: Settings) -> list[str]:
    """The library's delivered files while the engine may be writing to it: an album
    still being built (a hidden folder renamed into place when whole) does not count."""
    found = []
    # os.walk, pruning the hidden folders before it looks inside them: rglob listed an
    # album's ``.0001.partial`` folder and then looked into it just after the library
    # renamed it into place (FileNotFoundError, once in a full parallel run).
    for folder, subfolders, files in os.walk(settings.library):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        if "manifest.json" in files:
            manifest = json.loads((Path(folder) / "manifest.json").read_text())
            found.extend(Path(e["file"]).name for e in manifest["items"])
    return sorted(found)


async def test_a_feed_that_gains_entries_delivers_each_new_one_once(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    with serving() as server:
        serve_feed(server, tmp_path, ["ep1", "ep2"])
        watch = await store.add_watch(
            kind="feed",
            source=server.url("/feed.xml"),
            dest="library:",
            every_seconds=0.3,
            since="now",
            next_check_at=0.0,
        )
        engine = Engine(store, settings)
        running = asyncio.create_task(engine.run())
        try:
            await until(lambda: store.get_watch(watch.id), lambda w: w.primed, "first look")
            assert await store.list_jobs() == []  # --since now: what was there stays
            serve_feed(server, tmp_path, ["ep1", "ep2", "ep3"])
            await until(lambda: _names(settings), lambda n: n == [_e(3)], "ep3 sent")
            serve_feed(server, tmp_path, ["ep1", "ep2", "ep3", "ep4", "ep5"])
            await until(
                lambda: _names(settings),
                lambda n: n == [_e(3), _e(4), _e(5)],
                "ep4 and ep5 sent",
            )
            checks = (await store.get_watch(watch.id)).last_check_at
            await until(
                lambda: store.get_watch(watch.id),
                lambda w: (w.last_check_at or 0) > (checks or 0) + 0.5,
                "two more looks",
            )
            await until(
                store.list_jobs,
                lambda jobs: all(j.state.value == "done" for j in jobs),
                "every job ended",
            )
        finally:
            engine.stop()
            await running
    # One job a look, named after the feed; its files after the entries' titles.
    jobs = await store.list_jobs()
    assert sorted(j.name for j in jobs) == ["drops", "drops (2)"]
    assert all(j.state.value == "done" for j in jobs)
    assert delivered_names(settings) == [_e(3), _e(4), _e(5)]
    seen = dict(await store.watch_seen_rows(watch.id))
    assert sorted(seen) == ["ep1", "ep2", "ep3", "ep4", "ep5"]
    assert seen["ep1"] is None and seen["ep2"] is None  # there before: no job
    assert seen["ep4"] == seen["ep5"] != seen["ep3"]  # found at one look: one job
    assert {seen["ep3"], seen["ep4"]} == {j.id for j in jobs}
    assert (await store.get_watch(watch.id)).found == 2


def _e(n: int) -> str:
    """Episode N's delivered file: the one photo of its zip, by its own name."""
    return f"ep{n}.jpg"


async def _names(settings: Settings) -> list[str]:
    return await asyncio.to_thread(delivered_names, settings)


async def test_a_failing_feed_backs_off_says_why_and_keeps_its_place(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    with serving() as server:
        watch = await store.add_watch(
            kind="feed",
            source=f"{server.base}/feed.xml",
            dest="library:",
            every_seconds=0.3,
            since="all",
            match="^Episode ep[0-9]$",
            skip_match="ep2",
            next_check_at=0.0,
        )
        engine = Engine(store, settings)
        running = asyncio.create_task(engine.run())
        try:
            failing = await until(
                lambda: store.get_watch(watch.id), lambda w: w.failures >= 2, "two failures"
            )
            assert failing.last_code == "source.not_found"
            assert "404" in (failing.last_message or "")
            assert failing.last_ok_at is None
            serve_feed(server, tmp_path, ["ep1", "ep2", "ep3", "ep10"])
            await until(lambda: _names(settings), lambda n: n == [_e(1), _e(3)], "ep1, ep3")
            server.resources["/feed.xml"].faults.status = 503
            server.resources["/feed.xml"].faults.status_times = None
            down = await until(
                lambda: store.get_watch(watch.id), lambda w: w.failures >= 1, "down again"
            )
            assert down.last_code == "source.http.status"
            server.resources["/feed.xml"].faults.status = None
            await until(lambda: store.get_watch(watch.id), lambda w: w.failures == 0, "back")
        finally:
            engine.stop()
            await running
    assert [j.name for j in await store.list_jobs()] == ["drops"]  # one look, nothing twice
    seen = dict(await store.watch_seen_rows(watch.id))
    assert set(seen) == {"ep1", "ep2", "ep3", "ep10"}
    assert seen["ep2"] is None and seen["ep10"] is None  # filtered: seen, no job


ENV = {
    "FERRYMAN_SPACE_FLOOR": "0",
    "FERRYMAN_POLL_SECONDS": "0.05",
    "FERRYMAN_CONFIG": None,
    "COLUMNS": "200",
}


def cli(data: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--data-dir", str(data), *args], env=ENV)


def test_the_cli_adds_lists_checks_pauses_and_removes_a_feed_watch(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serving() as server:
        serve_feed(server, tmp_path, ["a1", "a2", "a3"])
        added = cli(
            data,
            "watch",
            "add",
            server.url("/feed.xml"),
            "--to",
            "library:",
            "--every",
            "2h",
            "--since",
            "2",
            "--window",
            "00:00-23:59",
        )
        assert added.exit_code == 0, added.output
        assert "watch 1:" in added.stdout and "(feed)" in added.stdout
        checked = cli(data, "watch", "check", "1")
        assert checked.exit_code == 0, checked.output
        assert "3 listed, 2 new → job 1;" in checked.stdout, checked.stdout
        assert "seen, left out: Episode a1" in checked.stdout
        again = cli(data, "watch", "check")
        assert "3 listed, 0 new" in again.stdout, again.output
        listed = cli(data, "watch", "list", "--json")
        assert listed.exit_code == 0, listed.output
        (view,) = json.loads(listed.stdout)["watches"]
        assert view["kind"] == "feed" and view["every_seconds"] == 7200.0
        assert view["jobs_made"] == 1 and view["state"] == "waiting" and view["error"] is None
        ran = cli(data, "run", "--until-idle")
        assert ran.exit_code == 0, ran.output
    done = cli(data, "status", "--json")
    [job] = json.loads(done.stdout)["jobs"]  # the two found at one look: one job
    assert job["name"] == "drops" and job["counts"]["delivered"] == 2
    assert "paused" in cli(data, "watch", "pause", "1").stdout
    assert json.loads(cli(data, "watch", "list", "--json").stdout)["watches"][0]["paused"]
    assert "resumed" in cli(data, "watch", "resume", "1").stdout
    assert cli(data, "watch", "remove", "1").exit_code == 0
    gone = cli(data, "watch", "remove", "1")
    assert gone.exit_code == 1 and "watch.not_found" in gone.output
    bad = cli(data, "watch", "add", "ftp://h/x", "--to", "library:")
    assert bad.exit_code == 1 and "watch.source_unsupported" in bad.output
    bad = cli(data, "watch", "add", "dav://h/x/", "--to", "library:", "--every", "1s")
    assert bad.exit_code == 2 and "watch.bad_option" in bad.output
    bad = cli(data, "watch", "add", "dav://h/x/", "--to", "library:", "--window", "25:00-01:00")
    assert bad.exit_code == 2 and "watch.bad_window" in bad.output


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
async def test_a_stop_cuts_a_stalled_listing_at_once_and_records_nothing(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    with serving() as server:
        serve_feed(server, tmp_path, ["s1"])
        faults = server.resources["/feed.xml"].faults
        faults.stall_at, faults.stall_seconds, faults.stall_times = 0, 60.0, None
        watch = await store.add_watch(
            kind="feed",
            source=server.url("/feed.xml"),
            dest="library:",
            every_seconds=3600.0,
            since="all",
            next_check_at=0.0,
        )
        engine = Engine(store, settings)
        running = asyncio.create_task(engine.run())
        await until(
            lambda: asyncio.to_thread(server.requests_for, "/feed.xml"), bool, "the feed asked"
        )
        assert (await store.get_watch(watch.id)).owner is not None
        started = time.monotonic()
        engine.stop()
        await running
        took = time.monotonic() - started
    assert took < 10, took  # not the 20 s grace, nor the 60 s stall
    after = await store.get_watch(watch.id)
    assert after.owner is None and after.last_check_at is None and after.failures == 0
    assert await store.list_jobs() == [] and await store.watch_seen_rows(watch.id) == []


def test_watch_add_tells_a_feed_from_a_page_and_says_when_it_cannot(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serving() as server:
        serve_feed(server, tmp_path, ["k1"])
        server.add("/page.html", b"<html><body><video src='/k1.zip'></video></body></html>",
                   content_type="text/html")  # fmt: skip
        feed = cli(data, "watch", "add", server.url("/feed.xml"), "--to", "library:")
        assert "(feed)" in feed.stdout, feed.output
        page = cli(data, "watch", "add", server.url("/page.html"), "--to", "library:")
        assert "(ytdlp)" in page.stdout, page.output
        mp3 = cli(data, "watch", "add", server.url("/feed.xml"), "--to", "library:",
                  "--audio", "mp3")  # fmt: skip
        assert "(ytdlp)" in mp3.stdout, mp3.output  # an output asked: made by yt-dlp
        gone = cli(data, "watch", "add", f"{server.base}/missing.xml", "--to", "library:")
        assert gone.exit_code == 1 and "source.not_found" in gone.output
        assert "--kind feed or --kind ytdlp" in gone.output
        named = cli(data, "watch", "add", f"{server.base}/missing.xml", "--to", "library:",
                    "--kind", "feed")  # fmt: skip
        assert "(feed)" in named.stdout, named.output  # named: not asked
    dav = cli(data, "watch", "add", "dav://h/x/", "--to", "library:", "--audio", "mp3")
    assert dav.exit_code == 2 and "link.output_for_file" in dav.output
    views = json.loads(cli(data, "watch", "list", "--json").stdout)["watches"]
    assert [(v["kind"], v["output"]) for v in views] == [
        ("feed", None), ("ytdlp", None), ("ytdlp", "mp3"), ("feed", None),
    ]  # fmt: skip
