"""A pool of accounts delivers one job together, through the real client and the fake.

Each account logged in with its own session (``login --as NAME``): the job's albums
spread over the accounts that may post in the channel, arrive in the job's order and
once each; an account that may not post there, or that Telegram flood-waits mid-job,
gives way to the others; a file over a free account's limit goes whole through the
Premium account of the pool.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from telethon.errors import FilePartsInvalidError
from telethon.tl import functions
from typer.testing import CliRunner

from faketg.accounts import cap_mbit, flood_account
from faketg.client import FakeDialer
from faketg.server import Call
from faketg.state import Account as FakeAccount
from ferryman.engine.ops import intake
from ferryman.frontdoors.cli.root import app
from ferryman.frontdoors.cli.telegram import Wiring, telegram_app
from ferryman.model import ItemState, JobState
from ferryman.resources import Shared
from ferryman.sinks.builtin import default_sinks
from ferryman.telegram.account import PART_BYTES, forget
from ferryman.telegram.accounts import (
    AccountPool,
    account_names,
    read_figures,
    session_of,
    with_session,
)
from ferryman.telegram.login import connect, disconnect, whoami
from ferryman.web.metrics import account_lines
from tests.support.telegram_pool import log_in_as, senders, spread_to
from tests.telegram.test_telegram_sink import World, telegram_state


class Pool(World):
    """Ann (a user, the own session) and two bots, all admins of the channel @dest."""

    def __init__(self, tmp_path: Path, **settings: Any) -> None:
        super().__init__(tmp_path, **settings)
        self.bot1 = self.server.add_user("Bot1", username="one_bot", bot=True)
        self.bot2 = self.server.add_user("Bot2", username="two_bot", bot=True)
        self.channel.admins |= {self.bot1.id, self.bot2.id}
        self.channel.members |= {self.bot1.id, self.bot2.id}

    async def log_in_all(self) -> None:
        await log_in_as(self.settings, self.server, self.me)
        await log_in_as(self.settings, self.server, self.bot1, "bot1")
        await log_in_as(self.settings, self.server, self.bot2, "bot2")

    def spread_to(self, to: FakeAccount) -> AbstractAsyncContextManager[None]:
        """Albums held from the pool's other accounts until ``to`` took one
        (``tests.support.telegram_pool.spread_to``)."""
        others = [a for a in (self.me, self.bot1, self.bot2) if a is not to]
        return spread_to(self.server, to, others)


def expected(count: int) -> list[str]:
    return [f"p{i:02d}.jpg" for i in range(count)]


async def test_the_pool_is_the_own_session_then_each_login_by_name(tmp_path: Path) -> None:
    w = Pool(tmp_path)
    await w.log_in_all()
    assert account_names(w.settings) == ["ferryman", "bot1", "bot2"]
    pool = AccountPool(Shared(w.settings))
    assert [(m.name, m.bot, m.own) for m in pool.members] == [
        ("ferryman", False, True),
        ("bot1", True, False),
        ("bot2", True, False),
    ]
    assert [m.scope("account") for m in pool.members] == [
        "account",
        "account@bot1",
        "account@bot2",
    ]


async def test_a_user_and_two_bots_deliver_one_jobs_albums_in_order_once(tmp_path: Path) -> None:
    w = Pool(tmp_path)
    await w.log_in_all()
    for account in (w.me, w.bot1, w.bot2):
        cap_mbit(w.server, account, 8)  # each account capped: they add up
    store = await w.store()
    try:
        job = await intake.add_source(store, w.photo_zip(50), dest="telegram:@dest")
        async with w.spread_to(w.bot1):
            await w.run(store)
        assert (await store.get_job(job.id)).state is JobState.DONE
        items = await store.job_items(job.id)
        assert {it.state for it in items} == {ItemState.DELIVERED}
        records = await store_sends(store, job.id)
    finally:
        await store.close()
    chat = [m for m in w.server.chat(w.channel) if m.media is not None]
    assert [m.media.file.name for m in chat] == expected(50)  # once each, in order
    posters = set(senders(chat))
    assert len(posters) >= 2, posters  # spread over the pool
    assert posters <= {w.me.id, w.bot1.id, w.bot2.id}
    # Each album's messages come from the account its records name.
    ids = {"ferryman": w.me.id, "bot1": w.bot1.id, "bot2": w.bot2.id}
    by_message = {m.id: m.from_id for m in chat}
    for r in records:
        assert by_message[r["message_id"]] == ids[r["account"] or "ferryman"]


async def test_an_account_that_may_not_post_gives_way(tmp_path: Path) -> None:
    w = Pool(tmp_path)
    w.channel.admins.discard(w.bot2.id)  # a member of the channel, not an admin
    await w.log_in_all()
    store = await w.store()
    try:
        job = await intake.add_source(store, w.photo_zip(30), dest="telegram:@dest")
        await w.run(store)
        assert (await store.get_job(job.id)).state is JobState.DONE
    finally:
        await store.close()
    chat = [m for m in w.server.chat(w.channel) if m.media is not None]
    assert [m.media.file.name for m in chat] == expected(30)
    assert w.bot2.id not in senders(chat)
    # Its rights were read from the channel: it sent nothing there, not even an upload.
    assert not [name for who, name in w.server.log if who == w.bot2.id and "Send" in name]


async def test_an_account_flood_waited_mid_job_gives_way_to_the_others(tmp_path: Path) -> None:
    w = Pool(tmp_path)
    await w.log_in_all()
    flooded: list[int] = []

    def flood_after_first_album(call: Call, request: Any, _result: Any) -> None:
        if isinstance(request, functions.messages.SendMultiMediaRequest) and not flooded:
            account = call.me()
            flooded.append(account.id)
            flood_account(w.server, account, 300)  # the rest of the job: the others

    w.server.after_handle.append(flood_after_first_album)
    store = await w.store()
    began = time.monotonic()
    try:
        job = await intake.add_source(store, w.photo_zip(60), dest="telegram:@dest")
        await w.run(store, limit=100)  # far below the 300 s wait
        assert (await store.get_job(job.id)).state is JobState.DONE
        waits = telegram_state(store)
        names = {w.me.id: "account", w.bot1.id: "account@bot1", w.bot2.id: "account@bot2"}
        assert await waits.wait_until([names[flooded[0]]]) > time.time() + 200
    finally:
        await store.close()
    assert time.monotonic() - began < 100
    chat = [m for m in w.server.chat(w.channel) if m.media is not None]
    assert [m.media.file.name for m in chat] == expected(60)  # in order, once each
    later = senders(chat)[10:]
    assert flooded[0] not in later  # it posted nothing after its wait began
    refused = [n for who, n in w.server.log if who == flooded[0]]
    assert refused, "the flooded account was asked nothing"


# Telegram's limits as the fake's client configuration tells them: 12 MiB without Premium
# (24 parts of 512 KiB), 24 with it. The rule is the same at 2,000 MiB (4,000 parts), where
# the bytes alone cost 25 CPU-s; the limits are Telegram's to say (``telegram/app_config``).
FREE_PARTS, PREMIUM_PARTS = 24, 48
OVER_FREE = FREE_PARTS * PART_BYTES + 1  # a part more, and a big file (over 10 MiB)


async def told_limits(settings: Any, server: Any, name: str | None = None) -> None:
    """As a login's end or a delivery's connection: the product asks who the session is,
    and Telegram's client configuration with it (what it keeps beside the session)."""
    named = with_session(settings, name) if name else settings
    client = await connect(named, FakeDialer(server))
    try:
        await whoami(client)
    finally:
        await disconnect(client)


async def test_a_file_over_a_free_accounts_limit_goes_whole_through_premium(
    tmp_path: Path,
) -> None:
    w = World(tmp_path, send_documents=True)
    w.server.upload_parts, w.server.upload_parts_premium = FREE_PARTS, PREMIUM_PARTS
    rich = w.server.add_user("Rich", username="rich", premium=True)
    w.channel.admins.add(rich.id)
    w.channel.members.add(rich.id)
    await log_in_as(w.settings, w.server, w.me)  # the own session: no Premium
    await log_in_as(w.settings, w.server, rich, "rich")
    await told_limits(w.settings, w.server)
    await told_limits(w.settings, w.server, "rich")
    told = default_sinks().policy(w.settings, "telegram:@dest")
    assert told.max_file_bytes == PREMIUM_PARTS * PART_BYTES  # the pool's Premium limit
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "backup.bin").write_bytes(os.urandom(OVER_FREE))
    store = await w.store()
    try:
        job = await intake.add_source(store, folder, dest="telegram:@dest")
        await w.run(store, limit=300)
        items = await store.job_items(job.id)
        assert [(it.state, it.parts) for it in items] == [(ItemState.DELIVERED, [])]
    finally:
        await store.close()
    chat = [m for m in w.server.chat(w.channel) if m.media is not None]
    assert len(chat) == 1  # whole, not split
    assert chat[0].from_id == rich.id
    assert chat[0].media.file.size == OVER_FREE
    assert chat[0].media.file.data == (folder / "backup.bin").read_bytes()
    assert await first_part_of(w.settings, w.server, "rich") is True  # its 25 parts are fine
    with pytest.raises(FilePartsInvalidError):  # the own account may not
        await first_part_of(w.settings, w.server)


async def test_a_file_kept_whole_for_a_premium_account_that_left_says_so(
    tmp_path: Path,
) -> None:
    """The job was added while a Premium account was in the pool; it logged out before
    the job was read: no account left may send the file, which is kept in quarantine
    saying its size and the limit, while the rest of the input goes."""
    w = World(tmp_path, send_documents=True)
    w.server.upload_parts, w.server.upload_parts_premium = FREE_PARTS, PREMIUM_PARTS
    rich = w.server.add_user("Rich", username="rich", premium=True)
    w.channel.admins.add(rich.id)
    w.channel.members.add(rich.id)
    await log_in_as(w.settings, w.server, w.me)
    await log_in_as(w.settings, w.server, rich, "rich")
    for name in (None, "rich"):
        await told_limits(w.settings, w.server, name)
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "backup.bin").write_bytes(os.urandom(OVER_FREE))
    (folder / "notes.txt").write_bytes(b"small")
    store = await w.store()
    try:
        job = await intake.add_source(store, folder, dest="telegram:@dest")
        forget(session_of(w.settings, "rich"))  # as `telegram logout --as rich` leaves it
        session_of(w.settings, "rich").unlink()
        await w.run(store, limit=300)
        items = {Path(it.source_path).name: it for it in await store.job_items(job.id)}
    finally:
        await store.close()
    big = items["backup.bin"]
    assert (big.state, big.error_code) == (ItemState.QUARANTINED, "media.over_limit")
    assert big.error_message == (
        f"{OVER_FREE:,} bytes (12.0 MiB), over the destination's limit of"
        f" {OVER_FREE - 1:,} bytes (12.0 MiB) as a file"
    )
    assert items["notes.txt"].state is ItemState.DELIVERED
    chat = [m for m in w.server.chat(w.channel) if m.media is not None]
    assert [m.media.file.size for m in chat] == [5]


async def first_part_of(settings: Any, server: Any, name: str | None = None) -> bool:
    """The first of 25 parts of a big file, as the account ``name`` sends it."""
    named = with_session(settings, name) if name else settings
    client = await connect(named, FakeDialer(server))
    try:
        part = functions.upload.SaveBigFilePartRequest(1, 0, FREE_PARTS + 1, bytes(PART_BYTES))
        return bool(await client(part))
    finally:
        await disconnect(client)


async def store_sends(store: Any, job_id: int) -> list[dict[str, Any]]:
    """The send records of a job: message id and account, as the sink keeps them."""
    found = await store.sink_state("telegram").records(job_id)
    return [
        {"message_id": r.value["message_id"], "account": r.value.get("account")}
        for r in found
        if r.key.startswith("send:")
    ]


def test_login_as_a_name_adds_an_account_and_whoami_lists_each(tmp_path: Path) -> None:
    w = Pool(tmp_path)
    w.me.phone = "+15550001"
    w.bot1.bot_token = "11:one"
    wiring = Wiring(w.settings, FakeDialer(w.server))
    runner = CliRunner()
    done = runner.invoke(telegram_app, ["login"], input="+15550001\n12345\n", obj=wiring)
    assert done.exit_code == 0, done.output
    done = runner.invoke(
        telegram_app, ["login", "--as", "bot1", "--bot"], input="11:one\n", obj=wiring
    )
    assert done.exit_code == 0, done.output
    assert "logged in --as bot1 as Bot1 (@one_bot)" in done.output
    assert (w.settings.telegram_dir / "bot1.session").exists()
    assert account_names(w.settings) == ["ferryman", "bot1"]

    done = runner.invoke(telegram_app, ["whoami", "--json"], obj=wiring)
    assert done.exit_code == 0, done.output
    rows = json.loads(done.output)
    assert [(r["account"], r["id"], r["bot"]) for r in rows] == [
        ("ferryman", w.me.id, False),
        ("bot1", w.bot1.id, True),
    ]
    assert [(r["file_limit_bytes"], r["caption_limit"]) for r in rows] == [
        (2000 * 2**20, 1024),
        (2000 * 2**20, 1024),
    ]
    done = runner.invoke(telegram_app, ["login", "--as", "../x"], obj=wiring)
    assert done.exit_code != 0 and "config.invalid" in done.output

    done = runner.invoke(telegram_app, ["logout", "--as", "bot1"], obj=wiring)
    assert done.exit_code == 0 and "logged out" in done.output
    assert account_names(w.settings) == ["ferryman"]


async def test_each_accounts_figures_reach_status_and_metrics(tmp_path: Path) -> None:
    w = Pool(tmp_path)
    await w.log_in_all()
    store = await w.store()
    try:
        await intake.add_source(store, w.photo_zip(30), dest="telegram:@dest")
        await w.run(store)
    finally:
        await store.close()
    figures = read_figures(w.settings)
    assert set(figures) == {"ferryman", "bot1", "bot2"}
    assert sum(f["albums"] for f in figures.values()) == 3
    assert all(f["bytes"] > 0 for f in figures.values() if f["albums"])
    text = account_lines(figures)
    assert 'ferryman_telegram_account_albums{account="bot1"}' in text
    done = CliRunner().invoke(
        app, ["--data-dir", str(w.settings.data_dir), "-v", "status"], env=_env(w)
    )
    assert done.exit_code == 0, done.output
    assert "Telegram accounts" in done.output
    assert "bot2:" in done.output and "albums" in done.output


def _env(w: World) -> dict[str, str]:
    return {"FERRYMAN_TELEGRAM__API_ID": "1", "FERRYMAN_TELEGRAM__API_HASH": "fakehash"}
