"""Watching a Telegram channel (the real Telethon client against the fake's servers): new
posts' files are each in one job once (a look's posts one job), an album's kept
together, a post without a file left out; a restart catches up on what was posted while ferryman was
off, reading on from the last message seen; ``--since`` now, N and all."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from faketg import FakeTelegram
from faketg.client import FakeDialer
from faketg.people import channel_posts, stored_photo
from faketg.state import Account, Channel
from ferryman.config import Settings
from ferryman.engine.ops.watch_admin import NewWatch, add_watch, check_now
from ferryman.engine.runner import Engine
from ferryman.engine.watch.check import Found
from ferryman.errors import FerrymanError
from ferryman.model import Batch, JobState
from ferryman.resources import Shared
from ferryman.samples import make_photo
from ferryman.sources.listers.builtin import default_listers
from ferryman.sources.listers.telegram_chat import parse_chat
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files
from tests.support.telegram_helpers import log_in, tg_settings
from tests.support.waiting import eventually

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here


@dataclass
class World:
    server: FakeTelegram
    me: Account
    poster: Account
    news: Channel  # public, @newsroom: read without joining
    family: Channel  # private, me is a member
    secret: Channel  # private, me is not a member
    settings: Settings
    tmp: Path
    seed: int = 0

    def photo(self) -> tuple[bytes, str]:
        self.seed += 1
        data = make_photo(self.tmp / "made" / f"{self.seed}.jpg", self.seed).read_bytes()
        return data, hashlib.sha256(data).hexdigest()

    def post(self, channel: Channel, caption: str = "") -> tuple[int, str]:
        data, sha = self.photo()
        media = stored_photo(self.server, self.poster, data)
        [message] = channel_posts(self.server, self.poster, channel, [(caption, media)])
        return message.id, sha

    def album(self, channel: Channel, count: int, caption: str) -> tuple[list[int], list[str]]:
        made = [self.photo() for _ in range(count)]
        posts = [
            (caption if i == 0 else "", stored_photo(self.server, self.poster, data))
            for i, (data, _) in enumerate(made)
        ]
        sent = channel_posts(self.server, self.poster, channel, posts, album=True)
        return [m.id for m in sent], [sha for _, sha in made]

    def text(self, channel: Channel, words: str = "just words") -> int:
        [message] = channel_posts(self.server, self.poster, channel, [(words, None)])
        return message.id


@contextlib.asynccontextmanager
async def world_at(tmp_path: Path) -> AsyncIterator[World]:
    server = FakeTelegram()
    me = server.add_user("Ann", username="ann_phone")
    poster = server.add_user("Poster", username="poster")
    news = server.add_channel("News", username="newsroom", admins=[poster])
    family = server.add_channel("Family", members=[me], admins=[poster])
    secret = server.add_channel("Secret", admins=[poster])
    settings = tg_settings(tmp_path, retry={"base_seconds": 0.05})
    await log_in(settings, server, me)
    yield World(server, me, poster, news, family, secret, settings, tmp_path)


def _delivered(settings: Settings) -> list[dict[str, str]]:
    return library_files(settings.library)


async def _watch(store: Store, source: str, since: str, dest: str = "library:") -> int:
    kind = "telegram"
    watch = await store.add_watch(
        kind=kind, source=source, dest=dest, every_seconds=0.2, since=since, next_check_at=0.0
    )
    return watch.id


async def _check(store: Store, world: World, watch_id: int) -> Found:
    """One look, as ``watch check`` takes it, through a connection to the fake (an
    engine's shared resources, as the web's check would pass them)."""
    shared = Shared(world.settings, FakeDialer(world.server))
    try:
        found = await check_now(store, world.settings, watch_id, owner="test", shared=shared)
        assert found is not None
        return found
    finally:
        await shared.close()


def _history_pages(world: World) -> int:
    return sum(1 for _, name in world.server.log if name == "GetHistoryRequest")


def test_chat_spellings_name_one_channel() -> None:
    """The spellings the project takes for Telegram chats elsewhere name the watched
    chat; a private chat, an invite link or a message-less name are no channel watch."""
    named = {
        "https://t.me/Newsroom",
        "t.me/newsroom",
        "https://t.me/s/newsroom",
        "https://t.me/newsroom/57",
        "telegram:@newsroom",
        "telegram:newsroom",
        "tg://resolve?domain=newsroom",
    }
    assert {str(parse_chat(s)) for s in named} == {"tg:newsroom/0"}
    by_id = {"https://t.me/c/1234567", "t.me/c/1234567/55", "telegram:-1001234567"}
    assert {str(parse_chat(s)) for s in by_id} == {"tg:c/1234567/0"}
    for other in (
        "telegram:me",
        "telegram:-12345",
        "https://t.me/+AbCdEf",
        "https://example.org/x",
    ):
        assert parse_chat(other) is None, other
    listers = default_listers()
    assert listers.get("telegram").describe("telegram:-1001234567") == "https://t.me/c/1234567"


async def test_watch_add_takes_a_channel_link_and_needs_a_login(
    store: Store, tmp_path: Path
) -> None:
    """`watch add https://t.me/NAME` is a telegram watch, chosen offline (nothing asks
    whether it is a feed); without a login it is refused and nothing is recorded."""
    async with world_at(tmp_path) as world:
        logged_in = len(world.server.log)
        watch, shown = await add_watch(
            store, world.settings, NewWatch(source="https://t.me/newsroom", to="library:")
        )
        assert (watch.kind, shown) == ("telegram", "https://t.me/newsroom")
        assert len(world.server.log) == logged_in  # chosen by its form: no request went out
        with pytest.raises(FerrymanError) as output:  # not handed to yt-dlp as a page
            await add_watch(
                store,
                world.settings,
                NewWatch(source="https://t.me/newsroom", to="library:", audio="mp3"),
            )
        assert output.value.code == "link.output_for_file"
    bare = tg_settings(tmp_path / "bare")
    with pytest.raises(FerrymanError) as refused:
        await add_watch(store, bare, NewWatch(source="telegram:@newsroom", to="library:"))
    assert refused.value.code == "telegram.not_logged_in"
    assert [w.id for w in await store.list_watches()] == [watch.id]


async def test_new_posts_while_an_engine_runs_are_delivered_once_albums_whole(
    store: Store, tmp_path: Path
) -> None:
    """A running engine checks the channel every 0.2 s; what was there before (`--since
    now`) is not taken; each new post with a file is in one job (a look's posts one job),
    delivered once; the album's three photos are one input and stay together at the
    destination; a text post is left out."""
    async with world_at(tmp_path) as world:
        world.post(world.news, "old photo")
        world.text(world.news, "old words")
        watch_id = await _watch(store, "https://t.me/newsroom", "now")
        engine = Engine(store, world.settings, dialer=FakeDialer(world.server))
        running = asyncio.create_task(engine.run())
        try:
            await eventually(lambda: _primed(store, watch_id), "the first look")
            _, single = world.post(world.news, "a sunset")
            album_ids, album_shas = world.album(world.news, 3, "the trip")
            world.text(world.news, "see you")
            _, late = world.post(world.news, "a late one")
            await eventually(lambda: _all_done(store, 5, world), "five files done", within=60)
            checks = (await store.get_watch(watch_id)).last_check_at or 0.0
            await eventually(lambda: _checked_after(store, watch_id, checks + 0.5), "more looks")
        finally:
            engine.stop()
            await asyncio.wait_for(running, 30)
            await engine.ctx.resources.close()
        jobs = await store.list_jobs()
        assert 1 <= len(jobs) <= 3 and all(j.state is JobState.DONE for j in jobs)
        inputs = [item.uri for j in jobs for item in Batch.parse(j.source).items]
        assert f"tg:newsroom/{','.join(map(str, album_ids))}" in inputs and len(inputs) == 3
        files = _delivered(world.settings)
        assert sorted(f["disk_sha256"] for f in files) == sorted([single, late, *album_shas])
        in_album = [f for f in files if f["disk_sha256"] in album_shas]
        assert len({f["album_dir"] for f in in_album}) == 1  # kept together, one album
        seen = await store.watch_seen_rows(watch_id)
        assert sum(1 for _, job in seen if job is not None) == 3
        assert {job for _, job in seen if job is not None} == {j.id for j in jobs}


async def _primed(store: Store, watch_id: int) -> bool:
    return (await store.get_watch(watch_id)).primed


async def _all_done(store: Store, files: int, world: World) -> bool:
    jobs = await store.list_jobs()
    done = jobs and all(j.state is JobState.DONE for j in jobs)
    return bool(done) and len(_delivered(world.settings)) == files


async def _checked_after(store: Store, watch_id: int, at: float) -> bool:
    return ((await store.get_watch(watch_id)).last_check_at or 0.0) > at


async def test_a_restart_catches_up_reading_on_from_the_last_message_seen(
    store: Store, tmp_path: Path
) -> None:
    """Posts made while no engine ran are found at the next start, once each: the look
    reads on from the highest message seen (one history page, though the channel holds
    more than a page), and what was seen before is not made again."""
    async with world_at(tmp_path) as world:
        for n in range(120):  # a chatty channel: more than one page of history
            world.text(world.family, f"chatter {n}")
        _, first = world.post(world.family, "first")
        watch_id = await _watch(store, f"telegram:-100{world.family.id}", "all")
        pages = _history_pages(world)
        found = await _check(store, world, watch_id)
        assert [e.title for e, _ in found.made] == ["first"]
        assert _history_pages(world) - pages == 3  # 100, 21, and the empty page that ends it
        _, second = world.post(world.family, "second")
        album_ids, album_shas = world.album(world.family, 2, "pair")
        world.text(world.family, "bye")
        before = _history_pages(world)
        found = await _check(store, world, watch_id)
        assert _history_pages(world) - before == 2  # the 4 new ones and the empty end page
        assert [e.title for e, _ in found.made] == ["second", "pair"]
        assert [why for _, why in found.skipped] == ["a post without a file"]
        made = found.made[1][0]
        assert made.input == f"tg:c/{world.family.id}/{album_ids[0]},{album_ids[1]}"
        again = await _check(store, world, watch_id)
        assert again.made == [] and again.listed == 0  # the text post moved the cursor
        engine = Engine(store, world.settings, dialer=FakeDialer(world.server))
        try:
            await asyncio.wait_for(engine.run(until_idle=True), 120)
        finally:
            await engine.ctx.resources.close()
        shas = sorted(f["disk_sha256"] for f in _delivered(world.settings))
        assert shas == sorted([first, second, *album_shas])


async def test_since_now_takes_only_new_posts_and_n_back_fills(
    store: Store, tmp_path: Path
) -> None:
    """On a channel with history: `--since now` takes nothing at its first look, then
    what comes; `--since 2` the two newest posts with files (an album counts as one);
    `--since all` each post with a file."""
    async with world_at(tmp_path) as world:
        world.post(world.news, "oldest")
        world.album(world.news, 2, "old pair")
        world.text(world.news, "chatter")
        world.post(world.news, "newest")
        world.text(world.news, "last words")
        now = await _watch(store, "https://t.me/newsroom", "now")
        two = await _watch(store, "telegram:@newsroom", "2")
        every = await _watch(store, "t.me/s/newsroom", "all")
        assert (await _check(store, world, now)).made == []
        two_made = (await _check(store, world, two)).made
        assert [e.title for e, _ in two_made] == ["old pair", "newest"]
        all_made = (await _check(store, world, every)).made
        assert [e.title for e, _ in all_made] == ["oldest", "old pair", "newest"]
        world.post(world.news, "fresh")
        for watch_id in (now, two, every):
            assert [e.title for e, _ in (await _check(store, world, watch_id)).made] == ["fresh"]


async def test_two_watches_of_one_channel_spelled_by_name_and_by_id_share_its_jobs(
    store: Store, tmp_path: Path
) -> None:
    """``telegram:@newsroom`` and ``telegram:-100ID`` (or ``t.me/c/ID``) are one chat:
    each post is in one job to one destination, whichever watch looks first (a look's
    posts are one job); a watch to another destination makes its own."""
    async with world_at(tmp_path) as world:
        world.post(world.news, "first")
        world.album(world.news, 2, "pair")
        by_name = await _watch(store, "telegram:@newsroom", "all")
        by_id = await _watch(store, f"telegram:-100{world.news.id}", "all")
        elsewhere = await _watch(store, f"https://t.me/c/{world.news.id}", "all", "link:")
        named = (await _check(store, world, by_name)).made
        numbered = (await _check(store, world, by_id)).made
        assert [e.title for e, _ in named] == [e.title for e, _ in numbered] == ["first", "pair"]
        ids = [job for _, job in named]
        assert [job for _, job in numbered] == ids and len(set(ids)) == 1
        world.post(world.news, "fresh")  # new to both: the later look finds its job
        [(_, fresh)] = (await _check(store, world, by_id)).made
        [(_, again)] = (await _check(store, world, by_name)).made
        assert fresh == again and fresh not in ids
        assert len(await store.list_jobs()) == 2
        other = (await _check(store, world, elsewhere)).made
        assert len(other) == 3 and len({job for _, job in other} - {*ids, fresh}) == 1
        assert len(await store.list_jobs()) == 3


async def test_a_private_channel_the_account_cannot_read_is_the_watchs_error(
    store: Store, tmp_path: Path
) -> None:
    async with world_at(tmp_path) as world:
        world.post(world.secret, "hidden")
        watch_id = await _watch(store, f"https://t.me/c/{world.secret.id}", "all")
        found = await _check(store, world, watch_id)
        assert found.error is not None and found.error.code == "source.auth"
        assert (await store.get_watch(watch_id)).failures == 1
        assert await store.list_jobs() == []


async def test_an_album_to_a_telegram_chat_stays_one_album(store: Store, tmp_path: Path) -> None:
    """To `telegram:me`: the album's photos and the post after it, found at one look,
    arrive in Saved Messages as one album (one job), the album's photos together."""
    async with world_at(tmp_path) as world:
        watch_id = await _watch(store, "https://t.me/newsroom", "all", dest="telegram:me")
        _ids, shas = world.album(world.news, 3, "the trip")
        _, alone = world.post(world.news, "alone")
        assert len((await _check(store, world, watch_id)).made) == 2
        engine = Engine(store, world.settings, dialer=FakeDialer(world.server))
        try:
            await asyncio.wait_for(engine.run(until_idle=True), 120)
        finally:
            await engine.ctx.resources.close()
        [album] = world.server.albums(world.me)
        sent = [m.media.file.sha256 for m in album if m.media]
        assert sorted(sent[:3]) == sorted(shas) and sent[3:] == [alone]


async def test_a_bot_session_cannot_watch_a_chat(store: Store, tmp_path: Path) -> None:
    """A bot sees no chat's history: the watch says so with its own code, not Telegram's."""
    async with world_at(tmp_path) as world:
        bot = world.server.add_user("ferryman", username="ferrybot", bot=True)
        world.news.admins.add(bot.id)
        world.news.members.add(bot.id)
        await log_in(world.settings, world.server, bot)
        world.post(world.news, "hello")
        watch_id = await _watch(store, "https://t.me/newsroom", "all")
        found = await _check(store, world, watch_id)
        assert found.error is not None and found.error.code == "watch.needs_user"
        assert "as a bot" in found.error.message
        assert await store.list_jobs() == []


async def test_a_long_backlog_is_caught_up_over_looks_without_cutting_an_album(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A look reads at most MAX_MESSAGES (5 here) from where the last one stopped; one
    that ends inside an album reads on to the album's end, so it stays one job."""
    from ferryman.sources.listers import telegram_chat

    monkeypatch.setattr(telegram_chat, "MAX_MESSAGES", 5)
    async with world_at(tmp_path) as world:
        for n in range(3):
            world.text(world.news, f"hello {n}")
        world.album(world.news, 4, "four")  # messages 4-7: the first look stops at 5
        for n in range(6):
            world.post(world.news, f"photo {n}")
        watch_id = await _watch(store, "https://t.me/newsroom", "all")
        looks = []
        for _ in range(4):
            looks.append([e.title for e, _ in (await _check(store, world, watch_id)).made])
        assert looks == [
            ["four"],
            ["photo 0", "photo 1", "photo 2", "photo 3", "photo 4"],
            ["photo 5"],
            [],
        ]
        jobs = await store.list_jobs()
        inputs = [item.uri for j in jobs for item in Batch.parse(j.source).items]
        assert "tg:newsroom/4,5,6,7" in inputs and len(inputs) == 7 and len(jobs) == 3
