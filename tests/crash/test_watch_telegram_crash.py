"""SIGKILL the engine (``tests.support.telegram_child``, a real ``run --until-idle`` against the
fake Telegram over TCP) while it reads a watched channel's history, and while it fetches
an album the watch made a job of: each post with a file is delivered once, the album
as one album, and a later run takes only what was posted meanwhile."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from pathlib import Path

import pytest
from telethon.tl import functions

from faketg import FakeTelegram
from faketg.people import channel_posts, stored_photo
from faketg.remote import RemoteTelegram, serve
from ferryman.samples import make_photo
from ferryman.store import Store
from tests.crash.test_telegram_crash import CHILD_LIMIT, Killer, nth
from tests.support.engine_helpers import library_files
from tests.support.forked import AsyncProcess
from tests.support.telegram_child import spawn_child
from tests.support.telegram_helpers import log_in, tg_settings
from tests.support.waiting import child_ends

pytestmark = pytest.mark.slow


class World:
    """What ``Killer`` needs of a world: the fake, a child to spawn, its log."""

    def __init__(self, tmp_path: Path) -> None:
        self.server = FakeTelegram()
        self.me = self.server.add_user("Ann", username="ann", phone="+1555")
        self.poster = self.server.add_user("Poster", username="poster")
        self.channel = self.server.add_channel("News", username="newsroom", admins=[self.poster])
        self.settings = tg_settings(tmp_path)
        self.tmp = tmp_path
        self.remote: RemoteTelegram | None = None
        self.runs = 0
        self.posted: list[str] = []  # sha256 of every photo posted
        self.seed = 0

    async def start(self) -> None:
        await log_in(self.settings, self.server, self.me)
        self.remote = await serve(self.server)

    def post(self, count: int = 1, caption: str = "") -> None:
        """One photo, or an album of ``count``."""
        posts = []
        for _ in range(count):
            self.seed += 1
            data = make_photo(self.tmp / "made" / f"{self.seed}.jpg", self.seed).read_bytes()
            self.posted.append(hashlib.sha256(data).hexdigest())
            posts.append((caption, stored_photo(self.server, self.poster, data)))
        channel_posts(self.server, self.poster, self.channel, posts, album=count > 1)

    async def spawn(self) -> AsyncProcess:
        assert self.remote is not None
        self.runs += 1
        log = self.tmp / f"child-{self.runs}.log"
        return await spawn_child(self.settings.data_dir, self.remote.port, log)

    def child_log(self) -> str:
        return (self.tmp / f"child-{self.runs}.log").read_text(errors="replace")

    async def finish(self) -> None:
        proc = await self.spawn()
        code = await child_ends(proc, CHILD_LIMIT, "the child run ended")
        assert code == 0, self.child_log()

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with contextlib.closing(
            sqlite3.connect(self.settings.data_dir / "ferryman.db", timeout=5)
        ) as conn:
            return conn.execute(sql).fetchall()

    def look_again(self) -> None:
        with (
            contextlib.closing(
                sqlite3.connect(self.settings.data_dir / "ferryman.db", timeout=5)
            ) as c,
            c,
        ):
            c.execute("UPDATE watches SET next_check_at = 0")

    def delivered(self) -> list[str]:
        return sorted(f["disk_sha256"] for f in library_files(self.settings.library))


async def test_sigkill_while_reading_and_fetching_delivers_each_post_once(
    tmp_path: Path,
) -> None:
    world = World(tmp_path)
    await world.start()
    try:
        world.post(caption="alone")
        world.post(3, caption="the trip")
        channel_posts(world.server, world.poster, world.channel, [("words", None)])
        store = await Store.open(world.settings.database)
        try:
            await store.add_watch(
                kind="telegram",
                source="https://t.me/newsroom",
                dest="library:",
                every_seconds=3600.0,
                since="all",
                next_check_at=0.0,
            )
        finally:
            await store.close()
        # Killed as the history page was answered: the check recorded nothing.
        await Killer(world.server, nth(functions.messages.GetHistoryRequest, 1)).run(world)
        assert world.query("SELECT count(*) FROM jobs") == [(0,)]
        assert world.query("SELECT count(*) FROM watch_seen") == [(0,)]
        # Killed while the files are fetched (the album's among them).
        await Killer(world.server, nth(functions.upload.GetFileRequest, 2)).run(world)
        assert world.query("SELECT count(*) FROM jobs") == [(1,)]  # one look: one job
        await world.finish()
        assert world.delivered() == sorted(world.posted)  # each once
        albums = {f["album_dir"] for f in library_files(world.settings.library)}
        assert len(albums) == 1  # the single photo and the album's three: one album of four
        # Posted while no engine ran: the next run takes those, and nothing again.
        world.post(2, caption="later pair")
        world.post(caption="later one")
        world.look_again()
        await world.finish()
        assert world.delivered() == sorted(world.posted)
        assert world.query("SELECT count(*), min(state), max(state) FROM jobs") == [
            (2, "done", "done")
        ]
    finally:
        if world.remote is not None:
            await world.remote.close()
