"""The chat's destination choices offer a forum group with a topic per folder (issue 82,
item 1): ``/settings`` lists the forum groups the account is in (a user account reads
its dialogs; Telegram lists no bot's, so a bot's person types ``-100…/topics``), and a
file sent afterwards goes there, each top folder to a topic of its own. The real
Telethon client against the fake Telegram; what people see read back from its boxes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from faketg.handlers.bots import button_data
from ferryman.model import JobState
from ferryman.samples import make_photo_set, make_zip
from ferryman.store import Store
from tests.support.telegram_helpers import log_in
from tests.telegram.test_chat_buttons import choose, is_bot, message_with
from tests.telegram.test_telegram_frontdoor import World, job_in, make_world, reply_to, serving


@pytest.fixture(params=["bot", "user"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    """The chat served by a bot, or by a user account."""
    w = make_world(tmp_path)
    if request.param == "user":
        w.bot = w.server.add_user("Ferry", username="ferryperson")
    w.store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        yield w
    finally:
        await w.store.close()


def _two_days(tmp: Path) -> Path:
    """A trip of two folders, a photo each."""
    photos = make_photo_set(tmp / "trip-src", 2)
    return make_zip(tmp / "trip.zip", [(f"Day {n}/{p.name}", p) for n, p in enumerate(photos, 1)])


async def test_settings_offers_each_forum_group_with_a_topic_per_folder(world: World) -> None:
    forum = world.server.add_channel("Trips", forum=True, broadcast=False, admins=[world.bot])
    world.server.add_channel("News", admins=[world.bot])  # a channel, no forum: not offered
    dest = f"-100{forum.id}/topics"
    await log_in(world.settings, world.server, world.bot)  # the albums go as this account
    async with serving(world):
        world.send(world.alice, "/settings")
        shown = await message_with(world, world.alice, data=b"s:1:link", text="link mp3 192")
        if is_bot(world):  # no dialogs for a bot: the typed form, as the text says
            assert not any(d.startswith(b"t:") for d in button_data(shown))
            assert "-100…/topics: a topic per folder" in shown.text
            said = await reply_to(world, world.alice, f"/settings to {dest}")
        else:
            found = re.search(r"(\d+) to Trips, a topic per folder", shown.text)
            assert found is not None, shown.text
            assert "News" not in shown.text
            said = await choose(world, world.alice, shown, b"", found.group(1))
        assert said.startswith(f"to = {dest}: where your files"), said
        assert await world.store.user_settings(world.alice.id) == {"to": dest}
        if not is_bot(world):  # the choice is marked where it was made
            shown = await message_with(world, world.alice, text="✓ to Trips, a topic per folder")
        world.send(world.alice, file=_two_days(world.tmp).read_bytes(), name="trip.zip")
        job = await job_in(world, JobState.DONE)
    assert job.dest == f"telegram:{dest}"
    titles = set(world.server.channels[forum.id].topic_titles.values())
    assert titles == {"Day 1", "Day 2"}


async def test_a_person_is_offered_only_the_forum_groups_they_are_in(world: World) -> None:
    """A person's ``/settings`` lists the forum groups their linked account is a member
    of, not every one the server's account is in (those are refused as ``to`` anyway:
    listing them named the server's groups to anyone linked); unlinked, none."""
    if is_bot(world):
        pytest.skip("a bot lists no dialogs: no forum group is offered to anyone")
    from ferryman.web.accounts.passwords import hash_password

    add = world.server.add_channel
    add("Ours", forum=True, broadcast=False, members=[world.mallory], admins=[world.bot])
    add("Staff", forum=True, broadcast=False, admins=[world.bot, world.alice])
    add("Gone", forum=True, broadcast=False, admins=[world.bot])
    await log_in(world.settings, world.server, world.bot)
    mal = await world.store.add_user("mal", hash_password("mal's password"))
    await world.store.update_user(mal.id, tg_user_id=world.mallory.id)
    async with serving(world):
        world.send(world.mallory, "/settings")
        shown = await message_with(world, world.mallory, text="link mp3 192")
        assert "to Ours, a topic per folder" in shown.text, shown.text
        assert "Staff" not in shown.text and "Gone" not in shown.text, shown.text
        world.send(world.alice, "/settings")  # the owner, an administrator: every one
        owner = await message_with(world, world.alice, text="link mp3 192")
        for title in ("Ours", "Staff", "Gone"):
            assert f"to {title}, a topic per folder" in owner.text, owner.text
