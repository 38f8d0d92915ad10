"""A chat watch with a pool of named accounts alone (each logged in with `ferryman telegram
login --as NAME`, no unnamed login): it needed an unnamed session of its own, refused
"no Telegram session yet" though a person's account was logged in. The chat is read
through the pool's first person's account (the real Telethon client against the fake);
with bots alone, refused when added, saying a bot cannot read a chat's history."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.engine.ops.watch_admin import NewWatch, add_watch
from ferryman.errors import FerrymanError
from ferryman.store import Store
from ferryman.telegram.account import account_file
from ferryman.telegram.accounts import session_of
from tests.support.contract import memory_store
from tests.support.telegram_pool import log_in_as
from tests.watch.test_watch_telegram import World, _check, world_at

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here


def _no_unnamed_login(world: World) -> None:
    own = session_of(world.settings, world.settings.telegram.session)
    own.unlink()
    account_file(own).unlink(missing_ok=True)


async def _bots(world: World, *names: str) -> None:
    for name in names:
        bot = world.server.add_user(name, username=f"{name}_bot", bot=True)
        world.news.admins.add(bot.id)
        await log_in_as(world.settings, world.server, bot, name)


async def test_a_pool_of_named_accounts_alone_reads_a_chat_through_its_person(
    store: Store, tmp_path: Path
) -> None:
    async with world_at(tmp_path) as world:
        _no_unnamed_login(world)
        await _bots(world, "bot1")  # first by name: a bot is passed over for reading
        await log_in_as(world.settings, world.server, world.me, "zed")
        world.post(world.news, "a sunset")
        asked = NewWatch(source="https://t.me/newsroom", to="library:", since="all")
        watch, _ = await add_watch(store, world.settings, asked)
        await store.set_watch_paused(watch.id, False)  # due now
        mark = len(world.server.log)
        found = await _check(store, world, watch.id)
        assert found.error is None and len(found.made) == 1, found
        readers = {who for who, name in world.server.log[mark:] if name == "GetHistoryRequest"}
        assert readers == {world.me.id}, world.server.log[mark:]


async def test_bots_alone_cannot_watch_a_chat_and_are_told_so_when_it_is_added(
    store: Store, tmp_path: Path
) -> None:
    async with world_at(tmp_path) as world:
        _no_unnamed_login(world)
        asked = NewWatch(source="https://t.me/newsroom", to="library:")
        with pytest.raises(FerrymanError) as nobody:
            await add_watch(store, world.settings, asked)
        assert nobody.value.code == "telegram.not_logged_in"
        await _bots(world, "bot1", "bot2")
        with pytest.raises(FerrymanError) as bots:
            await add_watch(store, world.settings, asked)
        assert bots.value.code == "watch.needs_user", bots.value
        said = bots.value.message
        assert "as a bot only (bot1, bot2)" in said and "cannot read a chat's history" in said
        assert "nothing was added" in said
        step = bots.value.next_step
        assert "ferryman telegram login --as NAME" in step and "add the watch again" in step
        assert await store.list_watches() == []
