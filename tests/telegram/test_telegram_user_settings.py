"""Each chat user's own settings (``/settings``), against the fake Telegram with the real
Telethon client: shown with their defaults, changed with ``/settings KEY VALUE``, kept
in the store, and applied to that person's files, links and watches only (a caption
still wins)."""

from __future__ import annotations

from typing import Any

from ferryman.frontdoors.telegram.user_settings import CHOICES
from ferryman.links.profile import from_caption
from ferryman.model import JobState
from tests.support.httpserve import serving as http_serving
from tests.support.telegram_helpers import log_in
from tests.support.waiting import eventually
from tests.telegram.test_telegram_frontdoor import (
    World,
    job_in,
    photo_zip,
    reply_to,
    serving,
    serving_as_installed,
)


async def test_settings_are_shown_changed_and_kept_per_person(world: World) -> None:
    async with serving(world):
        shown = await reply_to(world, world.alice, "/settings")
        assert shown.startswith("your settings:\nto = the library folder (default): ")
        assert "link = 1080p (default): what a link to a video becomes" in shown
        assert "album_size = 10" in shown  # ferryman's own settings follow
        changed = await reply_to(world, world.alice, "/settings link mp3 192")
        assert changed.startswith("link = mp3 192: what a link to a video becomes")
        assert "to = here" in await reply_to(world, world.alice, "/settings to here")
        refused = await reply_to(world, world.alice, "/settings link louder")
        assert refused.startswith("config.invalid: 'louder' is not a link output")
        refused = await reply_to(world, world.alice, "/settings to @x")
        assert refused.startswith("sink.unknown")
        assert "link = 1080p (default)" in await reply_to(world, world.bob, "/settings")
    assert await world.store.user_settings(world.alice.id) == {"link": "mp3 192", "to": "here"}
    assert await world.store.user_settings(world.bob.id) == {}
    async with serving(world):  # kept across a restart; "default" forgets one
        assert "link = mp3 192:" in await reply_to(world, world.alice, "/settings")
        await reply_to(world, world.alice, "/settings link default")
    assert await world.store.user_settings(world.alice.id) == {"to": "here"}
    assert [c.key for c in CHOICES] == ["to", "link", "send", "caption", "thumbnail"]


async def test_a_persons_settings_apply_to_their_files_links_and_watches(world: World) -> None:
    from tests.watch.test_watch_feed import serve_feed

    await log_in(world.settings, world.server, world.bot)  # the albums go as the bot
    async with serving_as_installed(world):
        await reply_to(world, world.alice, "/settings to here")
        await reply_to(world, world.alice, "/settings link mp3 192")
        world.send(world.alice, file=photo_zip(world.tmp).read_bytes(), name="mine.zip")
        world.send(world.bob, file=photo_zip(world.tmp, "bobs.zip", seed=9).read_bytes(),
                   name="bobs.zip")  # fmt: skip
        world.send(world.alice, "https://example.invalid/v/clip.mp4")
        world.send(world.alice, "to: library: https://example.invalid/v/other.mp4 720p")

        async def four() -> list[Any] | None:
            jobs = await world.store.list_jobs()
            return jobs if len(jobs) == 4 else None

        jobs = await eventually(four, "four jobs")

        async def watches() -> list[Any] | None:
            return await world.store.list_watches() or None

        with http_serving() as feed:
            serve_feed(feed, world.tmp, ["ep1"])
            world.send(world.alice, f"/watch {feed.url('/feed.xml')}")
            # The feed served until the watch is stored (the command reads it first): the
            # chat's next message may be a job's status, not the command's answer.
            (watch,) = await eventually(watches, "Alice's watch stored")
        mine = next(j.id for j in jobs if j.name == "mine")
        await job_in(world, JobState.DONE, mine)  # into this chat, as an album

        async def album() -> bool:
            return any(m.grouped_id for m in world.server.chat(world.alice, world.bot))

        await eventually(album, "mine.zip's album in Alice's chat")
    by_name = {j.name: j for j in await world.store.list_jobs()}
    assert by_name["mine"].dest == f"telegram:{world.alice.id}"  # this chat
    assert by_name["bobs"].dest == "library:"  # Bob changed nothing
    assert _token("mp3 192") in by_name["clip"].source
    assert by_name["clip"].dest == f"telegram:{world.alice.id}"
    assert by_name["other"].dest == "library:"  # the caption wins, for both
    assert _token("720p") in by_name["other"].source
    assert watch.dest == f"telegram:{world.alice.id}"


def _token(caption: str) -> str:
    profile = from_caption(caption)
    assert profile is not None
    return f":{profile.token()}:"
