"""A person's Telegram places: a chat user linked (``/link``) to an ordinary account may
send only to their own Telegram account, a group their linked account is in, or a
channel it may post in; never ``me`` (the server account's Saved Messages), another's
private chat, a group they are not in or a channel they only read. The same check again
as each album goes: a membership that ended since the job was taken fails the job with
``account.dest_forbidden`` and nothing reaches the chat; a retry once they are back
delivers it. An administrator is not asked. Through the real Telethon client against
the fake Telegram (its ``channels.getParticipant``), a real engine and SQLite store."""

from __future__ import annotations

from typing import Any

from faketg.state import Channel
from ferryman.engine.ops import intake
from ferryman.engine.ops.who import of_user
from ferryman.model import JobState
from ferryman.store.accounts.sql import User
from ferryman.web.accounts.passwords import hash_password
from tests.support.httpserve import serving as http_serving
from tests.support.telegram_helpers import log_in
from tests.support.waiting import eventually
from tests.telegram.test_telegram_frontdoor import World, photo_zip, reply_to, serving


async def _mal(world: World) -> User:
    """``mal``, an ordinary account Mallory's chat is linked to; the server's account
    logged in (its session file) to send."""
    await log_in(world.settings, world.server, world.bot)
    mal = await world.store.add_user("mal", hash_password("mal's password"))
    await world.store.update_user(mal.id, tg_user_id=world.mallory.id)
    found = await world.store.user(mal.id)
    assert found is not None
    return found


def _groups(world: World) -> dict[str, Channel]:
    """Chats the server's account is in; Mallory in some of them, as each says."""
    add, bot, mallory = world.server.add_channel, world.bot, world.mallory
    return {
        "family": add(
            "Family", username="family", broadcast=False, members=[mallory], admins=[bot]
        ),
        "work": add("Work", username="workchat", broadcast=False, admins=[bot]),
        "news": add("News", username="newsroom", members=[mallory], admins=[bot]),
        "mine": add("Mal's", username="malchan", admins=[bot, mallory]),
    }


def _media(world: World, chat: Channel) -> int:
    return sum(1 for m in world.server.chat(chat) if m.media is not None)


async def _done(world: World, count: int) -> list[Any]:
    async def ended() -> list[Any] | None:
        jobs = await world.store.list_jobs()
        over = [j for j in jobs if j.state in (JobState.DONE, JobState.FAILED)]
        return jobs if len(jobs) >= count and len(over) == len(jobs) else None

    return await eventually(ended, f"{count} jobs ended")


async def test_a_person_sends_to_their_own_chats_only_and_an_admin_anywhere(
    world: World,
) -> None:
    await _mal(world)
    chats = _groups(world)
    zipped = photo_zip(world.tmp)
    with http_serving() as files:
        files.add("/trip.zip", zipped.read_bytes(), content_type="application/zip")
        link = files.url("/trip.zip")
        async with serving(world):
            for where in ("me", "@workchat", "@newsroom", "@alice", f"{world.alice.id}"):
                said = await reply_to(world, world.mallory, f"{link} to: {where}")
                assert said.startswith("not taken"), (where, said)
                assert "account.dest_forbidden" in said, (where, said)
            said = await reply_to(world, world.mallory, f"{link} to: me")
            assert "Saved Messages" in said and "@yourname" in said, said  # the next step
            for command in (
                "/settings to me",
                "/settings to @workchat",
                f"/watch {link} to @workchat",
            ):
                said = await reply_to(world, world.mallory, command)
                assert said.startswith("account.dest_forbidden"), (command, said)
            assert await world.store.list_jobs() == []  # nothing refused was recorded
            for where in ("@family", "@malchan", "@mallory"):
                said = await reply_to(world, world.mallory, f"{link} force to: {where}")
                assert not said.startswith("not taken"), (where, said)
            said = await reply_to(world, world.mallory, "/settings to @family")
            assert said.startswith("to = @family"), said
            said = await reply_to(world, world.alice, f"{link} force to: @workchat")  # the owner
            assert not said.startswith("not taken"), said
            jobs = await _done(world, 4)
    assert {j.state for j in jobs} == {JobState.DONE}, [(j.dest, j.error_code) for j in jobs]
    assert _media(world, chats["family"]) == 2 and _media(world, chats["mine"]) == 2
    assert _media(world, chats["work"]) == 2  # the administrator's
    assert _media(world, chats["news"]) == 0
    to_her = [m for m in world.server.chat(world.bot, viewer=world.mallory) if m.media]
    assert len(to_her) == 2  # her own private chat with the server's account
    assert not [m for m in world.server.chat(world.bot) if m.media]  # its Saved Messages


async def test_a_membership_ended_since_fails_the_job_at_delivery_and_a_retry_delivers(
    world: World,
) -> None:
    mal = await _mal(world)
    family = _groups(world)["family"]
    family.members.discard(world.mallory.id)
    family.banned.add(world.mallory.id)  # removed after the job was taken
    zipped = photo_zip(world.tmp)
    job = await intake.add_source(
        world.store, zipped, dest="telegram:@family", who=of_user(mal), settings=world.settings
    )
    assert job.account == mal.id
    async with serving(world):
        await reply_to(world, world.mallory, "/status")  # the account has met her

        async def failed() -> Any:
            found = await world.store.get_job(job.id)
            return found if found.state is JobState.FAILED else None

        ended = await eventually(failed, "the job failed at delivery")
        assert ended.error_code == "account.dest_forbidden", ended.error_message
        assert _media(world, family) == 0  # nothing reached the chat
        family.banned.discard(world.mallory.id)
        family.members.add(world.mallory.id)
        said = await reply_to(world, world.mallory, f"/retry {job.id}")
        assert said == f"job {job.id} queued again", said

        async def delivered() -> Any:
            found = await world.store.get_job(job.id)
            return found if found.state is JobState.DONE else None

        await eventually(delivered, "the retried job delivered")
    assert _media(world, family) == 2
