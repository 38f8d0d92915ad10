"""A person's Telegram places, asked of Telegram sparingly and shown to them only.

- A job of many albums to a group of a person's asks Telegram whether they are still a
  member once a ``MEMBERSHIP_SECONDS`` (the engine's clock), not twice an album; a
  membership that ended is noticed once that time is past: the next job fails with
  ``account.dest_forbidden`` and nothing reaches the group.
- ``/settings`` offers a person only the forum groups their linked Telegram account is
  in (never the names of the operator's other groups), nor ``to me``; an
  administrator is offered every forum group and ``me``.

The real Telethon client against the fake Telegram (its ``channels.getParticipant``), a
real engine and SQLite store; what people see read back from the fake's boxes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from faketg.state import Channel
from ferryman.engine.ops import intake
from ferryman.engine.ops.who import of_user
from ferryman.frontdoors.telegram.user_settings import FORUMS_CHECKED
from ferryman.model import JobState
from ferryman.sinks import telegram_people
from ferryman.sinks.telegram_people import MEMBERSHIP_SECONDS, Memberships
from ferryman.store import Store
from ferryman.store.accounts.sql import User
from ferryman.web.accounts.passwords import hash_password
from tests.support.clock import ManualClock, driven
from tests.support.telegram_helpers import log_in
from tests.telegram.test_chat_buttons import message_with
from tests.telegram.test_telegram_frontdoor import (
    World,
    make_world,
    photo_zip,
    reply_to,
    serving,
)

ASKS = ("GetParticipantRequest", "GetChannelsRequest")  # one membership check: both
ALBUMS = 12


async def _mal(world: World) -> User:
    """``mal``, an ordinary account Mallory's Telegram account is linked to."""
    await log_in(world.settings, world.server, world.bot)
    mal = await world.store.add_user("mal", hash_password("mal's password"))
    await world.store.update_user(mal.id, tg_user_id=world.mallory.id)
    found = await world.store.user(mal.id)
    assert found is not None
    return found


def _asked(world: World) -> int:
    return sum(world.server.stats.requests.get(name, 0) for name in ASKS)


def _media(world: World, chat: Channel) -> int:
    return sum(1 for m in world.server.chat(chat) if m.media is not None)


async def test_a_yes_is_believed_for_its_time_on_the_clock() -> None:
    clock = ManualClock()
    known = Memberships(clock)
    assert not known.knows("@Family", 7)
    known.remember("@Family", 7)
    assert known.knows("@family", 7) and not known.knows("@family", 8)
    await clock.advance(MEMBERSHIP_SECONDS - 0.5)
    assert known.knows("@family", 7)
    await clock.advance(0.5)
    assert not known.knows("@family", 7)  # asked again from now on


async def test_a_job_of_many_albums_asks_the_membership_once_a_while_and_notices_it_ended(
    world_on_clock: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, clock = world_on_clock, world_on_clock.clock
    assert clock is not None
    world.settings = world.settings.model_copy(update={"album_size": 1})  # a photo an album
    mal = await _mal(world)
    family = world.server.add_channel(
        "Family", username="family", broadcast=False, members=[world.mallory], admins=[world.bot]
    )
    figures: list[int] = []
    async with serving(world):

        async def delivered(kept: float) -> Any:
            monkeypatch.setattr(telegram_people, "MEMBERSHIP_SECONDS", kept)
            zipped = photo_zip(world.tmp, f"trip{len(figures)}.zip", ALBUMS, seed=len(figures))
            before = _asked(world)
            job = await intake.add_source(
                world.store,
                zipped,
                dest="telegram:@family",
                who=of_user(mal),
                settings=world.settings,
            )

            async def ended() -> Any:
                found = await world.store.get_job(job.id)
                return found if found.state.terminal else None

            found = await driven(clock, world.settings, ended, f"job {job.id} ended")
            figures.append(_asked(world) - before)
            return found

        cached = await delivered(MEMBERSHIP_SECONDS)  # nothing known yet: asked once
        assert cached.state is JobState.DONE, cached.error_message
        uncached = await delivered(0.0)  # as before: asked again at every album
        assert uncached.state is JobState.DONE, uncached.error_message
        assert _media(world, family) == 2 * ALBUMS
        family.members.discard(world.mallory.id)
        family.banned.add(world.mallory.id)  # she is removed; her yes is still young
        await clock.advance(MEMBERSHIP_SECONDS)
        gone = await delivered(MEMBERSHIP_SECONDS)
    assert gone.state is JobState.FAILED and gone.error_code == "account.dest_forbidden"
    assert _media(world, family) == 2 * ALBUMS  # nothing more reached the group
    cached_asks, uncached_asks, _ = figures
    print(f"membership requests, {ALBUMS} albums: {uncached_asks} uncached, {cached_asks} cached")
    assert uncached_asks >= 2 * ALBUMS, figures
    assert cached_asks == len(ASKS), figures  # one check (two requests) for all 12


@pytest.fixture
async def served_by_user(tmp_path: Path) -> AsyncIterator[World]:
    """The chat served by a user account (it reads its dialogs: a bot lists none)."""
    w = make_world(tmp_path)
    w.bot = w.server.add_user("Ferry", username="ferryperson")
    w.store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        yield w
    finally:
        await w.store.close()


async def test_settings_offers_a_person_only_their_forum_groups(served_by_user: World) -> None:
    world = served_by_user
    await _mal(world)
    add, mallory, own = world.server.add_channel, world.mallory, world.bot
    add("Family Trips", forum=True, broadcast=False, members=[mallory], admins=[own])
    add("Operator Secret", forum=True, broadcast=False, admins=[own])  # hers to see never
    for n in range(FORUMS_CHECKED + 2):  # more forum groups than one listing asks about
        add(f"Other {n}", forum=True, broadcast=False, admins=[own])
    async with serving(world):
        before = world.server.stats.requests.get("GetParticipantRequest", 0)
        world.send(mallory, "/settings")
        hers = await message_with(world, mallory, text="link mp3 192")
        asked = world.server.stats.requests.get("GetParticipantRequest", 0) - before
        again = await reply_to(world, mallory, "/settings")  # within the minute: kept
        asked_again = world.server.stats.requests.get("GetParticipantRequest", 0) - before
        world.send(world.alice, "/settings")  # the machine's own user: an administrator
        admins = await message_with(world, world.alice, text="link mp3 192")
    assert "to Family Trips, a topic per folder" in hers.text, hers.text
    assert "Operator Secret" not in hers.text and "Other" not in hers.text, hers.text
    assert "to me" not in hers.text and "to here" in hers.text, hers.text
    assert 0 < asked <= FORUMS_CHECKED, asked  # bounded, whatever the operator is in
    assert asked_again == asked, (asked, asked_again)  # nothing asked again
    assert "to Family Trips, a topic per folder" in again, again
    assert "to Operator Secret, a topic per folder" in admins.text, admins.text
    assert "to me" in admins.text, admins.text
