"""A person's Telegram places through the API, asked of Telegram as the chat's are
(``ops/who.own_place``): a job, a watch or a default to ``telegram:me`` (the server
account's Saved Messages), to another's private chat or to a group the person's linked
Telegram account is not in is refused with ``account.dest_forbidden`` and a next step in
the page's words; their own account and a group they are in are taken. An administrator
is not asked. The real app over a store with accounts (httpx over ASGI), its Telegram
client the real Telethon one against the fake Telegram (``channels.getParticipant``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from faketg import FakeTelegram
from faketg.client import FakeDialer
from ferryman.config import Settings
from ferryman.engine.plumbing.events import EventBus
from ferryman.resources import Shared
from ferryman.store.memory.store import MemoryStore
from ferryman.telegram.client import make_client
from ferryman.web.server import web_app
from tests.support.telegram_helpers import log_in, tg_settings
from tests.web.test_web_accounts import API, _client, _code, _people, _signed_in


async def _met(settings: Settings, server: FakeTelegram, username: str) -> None:
    """The server's account has met ``username`` (as it has a person who sent it
    ``/link``): its session knows them."""
    client = make_client(settings, FakeDialer(server))
    await client.connect()
    try:
        await client.get_input_entity(username)
        client.session.save()
    finally:
        await client.disconnect()


def _job(chat: str) -> dict[str, Any]:
    return {"source": "https://example.com/a.zip", "deliver": {"to": "telegram", "chat": chat}}


def _refused(answer: httpx.Response) -> str:
    assert answer.status_code == 403 and _code(answer) == "account.dest_forbidden", answer.text
    step = str(answer.json()["error"]["next"])
    assert "Saved Messages" in step and "ferryman" not in step, step
    return step


async def test_a_persons_telegram_places_through_the_api(tmp_path: Path) -> None:
    settings = tg_settings(tmp_path)
    server = FakeTelegram()
    own = server.add_user("Server", username="serveracct")
    ann_tg = server.add_user("Ann", username="anntg")
    server.add_user("Bob", username="bobtg")
    server.add_channel("Family", username="family", broadcast=False, members=[ann_tg, own])
    server.add_channel("Work", username="workchat", broadcast=False, members=[own])
    await log_in(settings, server, own)
    await _met(settings, server, "anntg")
    store = MemoryStore()
    await _people(store)
    ann = await store.user_named("ann")
    assert ann is not None
    await store.update_user(ann.id, tg_user_id=ann_tg.id)
    shared = Shared(settings, FakeDialer(server))
    try:
        async with web_app(settings, store, EventBus(), lambda: True, shared=shared) as served:
            async with _client(served) as page:
                await _signed_in(page, "ann")
                # A user's id written as a channel's (-100…) and a channel id no chat
                # the server sees has: not Telegram's rejection, no place of hers.
                unseen = (f"-100{ann_tg.id}", "-1009999999999", f"-{ann_tg.id}")
                for chat in ("me", "@workchat", "@bobtg", "@serveracct", *unseen):
                    _refused(await page.post(f"{API}/jobs", json=_job(chat)))
                watch = {"source": "https://example.com/feed.xml", "to": "telegram:@workchat"}
                _refused(await page.post(f"{API}/watches", json=watch))
                default = await page.put(f"{API}/me/settings", json={"dest": "telegram:me"})
                _refused(default)
                assert await store.list_jobs() == []
                for chat in ("@family", "@anntg"):
                    made = await page.post(f"{API}/jobs", json=_job(chat))
                    assert made.status_code == 202, (chat, made.text)
            async with _client(served) as admin:
                await _signed_in(admin, "root")
                made = await admin.post(f"{API}/jobs", json=_job("@workchat"))
                assert made.status_code == 202, made.text
        dests = sorted(j.dest for j in await store.list_jobs())
        assert dests == ["telegram:@anntg", "telegram:@family", "telegram:@workchat"]
    finally:
        await shared.close()
        await store.close()


async def test_a_persons_telegram_chat_defaults_to_their_own_account(tmp_path: Path) -> None:
    """A job, a watch or a default to ``telegram`` naming no chat goes to the person's
    own linked Telegram account, never ``me`` (taken for an administrator); the page's
    chat starts there, and a person with none linked reads how to link one instead of a
    chat every choice of which is refused."""
    settings = tg_settings(tmp_path)
    server = FakeTelegram()
    own = server.add_user("Server", username="serveracct")
    ann_tg = server.add_user("Ann", username="anntg")
    await log_in(settings, server, own)
    await _met(settings, server, "anntg")
    store = MemoryStore()
    await _people(store)
    ann = await store.user_named("ann")
    assert ann is not None
    await store.update_user(ann.id, tg_user_id=ann_tg.id)
    shared = Shared(settings, FakeDialer(server))
    bare = {"source": "https://example.com/a.zip", "deliver": {"to": "telegram"}}
    try:
        async with web_app(settings, store, EventBus(), lambda: True, shared=shared) as served:
            async with _client(served) as page:
                await _signed_in(page, "ann")
                shown = (await page.get("/")).text
                assert f'value="{ann_tg.id}"' in shown and 'value="me"' not in shown
                assert f"{ann_tg.id} is your own Telegram account" in shown
                made = await page.post(f"{API}/jobs", json=bare)
                assert made.status_code == 202, made.text
                watch = {
                    "source": "https://example.com/feed.xml",
                    "to": "telegram:",
                    "kind": "feed",
                }
                watched = await page.post(f"{API}/watches", json=watch)
                assert watched.status_code == 201, watched.text
                assert watched.json()["dest"] == f"telegram:{ann_tg.id}", watched.text
                default = await page.put(f"{API}/me/settings", json={"dest": "telegram:"})
                assert default.status_code == 200, default.text
                plain = {"source": "https://example.com/b.zip"}  # her default: telegram:
                made = await page.post(f"{API}/jobs", json=plain)
                assert made.status_code == 202, made.text
            async with _client(served) as bob:
                await _signed_in(bob, "bob")  # linked no Telegram account
                shown = (await bob.get("/")).text
                assert 'id="telegram-unlinked"' in shown and "/link CODE" in shown
                assert 'value="telegram"' not in shown and 'id="chat"' not in shown
                assert 'value="link-telegram"' in shown  # kept in Telegram: anyone's
                refused = await bob.post(f"{API}/jobs", json=bare)
                assert _code(refused) == "account.dest_forbidden", refused.text
            async with _client(served) as admin:
                await _signed_in(admin, "root")
                assert 'id="chat" name="chat" type="text" value="me"' in (await admin.get("/")).text
                made = await admin.post(f"{API}/jobs", json=bare)
                assert made.status_code == 202, made.text
        dests = sorted(j.dest for j in await store.list_jobs())
        assert dests == sorted([f"telegram:{ann_tg.id}"] * 2 + ["telegram:me"]), dests
    finally:
        await shared.close()
        await store.close()
