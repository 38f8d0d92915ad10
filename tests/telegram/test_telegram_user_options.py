"""A chat user's ``send``, ``caption`` and ``thumbnail`` settings, against the fake
Telegram with the real Telethon client: kept per person, carried by their jobs and
watches as the destination's options, and honoured when their files arrive."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from faketg.people import stored_photo
from ferryman.model import JobState
from tests.support.httpserve import serving as http_serving
from tests.support.telegram_helpers import log_in, media_kind
from tests.support.waiting import eventually
from tests.telegram.test_telegram_frontdoor import (
    World,
    job_in,
    photo_zip,
    reply_to,
    serving_as_installed,
)


def _jpeg(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, "JPEG", quality=90)
    return out.getvalue()


async def _answer_starting(world: World, start: str) -> str:
    async def said() -> str | None:
        return next((t for t in world.texts(world.alice) if t.startswith(start)), None)

    return await eventually(said, f"an answer starting {start!r}")


@pytest.mark.slow
async def test_send_caption_and_thumbnail_go_with_a_persons_jobs_and_watches(
    world: World,
) -> None:
    from tests.watch.test_watch_feed import serve_feed

    await log_in(world.settings, world.server, world.bot)  # the albums go as the bot
    async with serving_as_installed(world):
        await reply_to(world, world.alice, "/settings to here")
        said = await reply_to(world, world.alice, "/settings send documents")
        assert said.startswith("send = documents: ")
        said = await reply_to(world, world.alice, "/settings send files")
        assert said.startswith("config.invalid: send is media or documents")
        said = await reply_to(world, world.alice, "/settings caption {nope}")
        assert said.startswith("config.invalid: ") and "{job_name}" in said
        said = await reply_to(world, world.alice, "/settings caption {job_name.__class__.__mro__}")
        assert said.startswith("config.invalid: ") and "plain name" in said  # set, refused
        said = await reply_to(world, world.alice, "/settings thumbnail")
        assert said.startswith("config.invalid: send /settings thumbnail as a reply to a photo")
        await reply_to(world, world.alice, "/settings caption [{album}] {job_name}")
        photo = world.send(
            world.alice, media=stored_photo(world.server, world.alice, _jpeg((640, 480)))
        )
        world.send(world.alice, "/settings thumbnail", reply_to=photo.id)
        said = await _answer_starting(world, "thumbnail = ")
        kept = world.settings.data_dir / "thumbnails" / f"{world.alice.id}.jpg"
        assert said.startswith(f"thumbnail = {kept}: ")
        # Or the photo carries the command as its caption: then it is no job of its own.
        jobs_before = len(await world.store.list_jobs())
        other = _jpeg((320, 240))
        world.send(
            world.alice,
            "/settings thumbnail",
            media=stored_photo(world.server, world.alice, other),
        )

        async def taken() -> bool:
            return sum(t.startswith("thumbnail = ") for t in world.texts(world.alice)) == 2

        await eventually(taken, "the captioned photo's answer")
        assert kept.read_bytes() == other  # the new picture, not the one replied to before
        assert len(await world.store.list_jobs()) == jobs_before  # not made a job
        world.send(world.alice, file=photo_zip(world.tmp).read_bytes(), name="mine.zip")
        world.send(world.bob, file=photo_zip(world.tmp, "bobs.zip", seed=9).read_bytes(),
                   name="bobs.zip")  # fmt: skip

        async def mine() -> Any:
            jobs = {j.name: j for j in await world.store.list_jobs()}
            return jobs if {"mine", "bobs"} <= set(jobs) else None

        jobs = await eventually(mine, "Alice's and Bob's jobs")
        with http_serving() as feed:
            serve_feed(feed, world.tmp, ["ep1"])
            # Its answer, not the next message: the jobs' status messages come meanwhile.
            world.send(world.alice, f"/watch {feed.url('/feed.xml')}")

            async def watched() -> list[Any] | None:
                return await world.store.list_watches() or None

            await eventually(watched, "Alice's watch")
        await job_in(world, JobState.DONE, jobs["mine"].id)

        async def documents() -> list[Any] | None:
            chat = world.server.chat(world.alice, world.bot)
            found = [m for m in chat if m.media is not None and m.grouped_id]
            return found if len(found) == 2 else None

        arrived = await eventually(documents, "mine.zip's album in Alice's chat")
    dest = jobs["mine"].dest
    assert dest.startswith(f"telegram:{world.alice.id}?as=documents&caption=")
    assert dest.endswith(f"&thumb={kept}")
    assert jobs["bobs"].dest == "library:"  # Bob changed nothing
    (watch,) = await world.store.list_watches()
    assert watch.dest == dest  # a /watch carries the same options
    assert [media_kind(m) for m in arrived] == ["document", "document"]
    assert arrived[0].text == "[1] mine"
    assert all(m.media.thumb is not None for m in arrived)
    async with serving_as_installed(world):  # "default" forgets the picture's setting
        await reply_to(world, world.alice, "/settings thumbnail default")
    assert "thumbnail" not in await world.store.user_settings(world.alice.id)
