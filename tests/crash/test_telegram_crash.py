"""SIGKILL the engine mid-delivery to Telegram: every file still arrives exactly once.

The engine runs in a child process (``tests.support.telegram_child``) and reaches the fake
Telegram here over TCP (``faketg.remote``), so the fake keeps everything it was asked
while the child dies at a chosen request: a hook in the fake sends the SIGKILL right
after the request was handled, before its answer leaves. The evidence is the chat as a
person sees it, the fake's request log, and the Telegram sink's send records.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from telethon import errors as tg_errors
from telethon.tl import functions, types

from faketg import FakeTelegram
from faketg.remote import RemoteDialer, RemoteSender, RemoteTelegram, serve
from faketg.server import Call
from faketg.state import StoredMessage
from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.model import ItemState, JobState
from ferryman.samples import make_zip
from ferryman.store import Store
from ferryman.telegram.client import make_client
from tests.support.engine_helpers import leftovers
from tests.support.forked import AsyncProcess
from tests.support.telegram_child import spawn_child
from tests.support.telegram_helpers import log_in, tg_settings
from tests.support.waiting import child_ends, eventually

PHOTOS = 12  # two albums: ten and two
CHILD_LIMIT = 30.0  # seconds one child run may take


class World:
    """The fake (listening on TCP), an account with a channel, and one queued job."""

    dest = "telegram:@dest"  # the job's

    def __init__(self, tmp_path: Path) -> None:
        self.server = FakeTelegram()
        self.me = self.server.add_user("Ann", username="ann", phone="+1555")
        self.channel = self.server.add_channel("Dest", username="dest", admins=[self.me])
        self.settings: Settings = tg_settings(tmp_path)
        self.tmp = tmp_path
        self.remote: RemoteTelegram | None = None
        self.runs = 0
        self.job_id = 0
        self.inputs: dict[str, str] = {}  # file name -> sha256

    async def start(self, photos: int = PHOTOS) -> None:
        await log_in(self.settings, self.server, self.me)
        folder = self.tmp / "in"
        folder.mkdir()
        entries = []
        for i in range(photos):
            path = folder / f"p{i:02d}.jpg"
            Image.new("RGB", (64, 48), (i * 20 % 255, 90, 160)).save(path, quality=90)
            entries.append((path.name, path))
            self.inputs[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        archive = make_zip(self.tmp / "photos.zip", entries)
        store = await Store.open(self.settings.database)
        try:
            job = await intake.add_source(store, archive, dest=self.dest)
        finally:
            await store.close()
        self.job_id = job.id
        self.remote = await serve(self.server)

    async def spawn(self) -> AsyncProcess:
        assert self.remote is not None
        self.runs += 1
        log = self.tmp / f"child-{self.runs}.log"
        return await spawn_child(self.settings.data_dir, self.remote.port, log)

    def child_log(self) -> str:
        return (self.tmp / f"child-{self.runs}.log").read_text(errors="replace")

    async def finish(self) -> None:
        """A run without kills, to the end."""
        proc = await self.spawn()
        code = await child_ends(proc, CHILD_LIMIT, "the child run ended")
        assert code == 0, self.child_log()

    async def close(self) -> None:
        if self.remote is not None:
            await self.remote.close()

    def chat(self) -> list[StoredMessage]:
        return self.server.chat(self.channel)

    def sends(self) -> list[dict[str, Any]]:
        """The Telegram sink's send records (``sink_records``): album_id, slot,
        item_id, random_id, state, message_id, by album and slot."""
        with sqlite3.connect(self.settings.data_dir / "ferryman.db") as conn:
            rows = conn.execute(
                "SELECT album_id, value FROM sink_records"
                " WHERE sink = 'telegram' AND key LIKE 'send:%'"
            ).fetchall()
        fields = ("slot", "item_id", "random_id", "state", "message_id")
        found = [
            {"album_id": album_id} | {f: json.loads(value)[f] for f in fields}
            for album_id, value in rows
        ]
        return sorted(found, key=lambda r: (r["album_id"], r["slot"]))

    def evidence(self) -> str:
        chat = [(m.id, m.random_id, m.media and m.media.file.name) for m in self.chat()]
        return f"chat={chat}\nsends={[tuple(r.values()) for r in self.sends()]}\n{self.child_log()}"

    async def assert_every_photo_once(self) -> None:
        chat = self.chat()
        names = sorted(m.media.file.name for m in chat if m.media is not None)
        assert names == sorted(self.inputs), self.evidence()  # each photo exactly once
        for m in chat:
            assert m.media is not None
            assert m.media.file.sha256 == self.inputs[m.media.file.name]
        # The store names exactly the messages in the chat, each under its random_id.
        rows = self.sends()
        assert {(r["random_id"], r["message_id"]) for r in rows} == {
            (m.random_id, m.id) for m in chat
        }, self.evidence()
        assert {r["state"] for r in rows} == {"sent"}
        store = await Store.open(self.settings.database)
        try:
            assert (await store.get_job(self.job_id)).state is JobState.DONE
            items = await store.job_items(self.job_id)
            assert len(items) == len(self.inputs)
            assert {it.state for it in items} == {ItemState.DELIVERED}
        finally:
            await store.close()
        assert leftovers(self.settings.work_dir) == []


class Killer:
    """An ``after_handle`` hook: SIGKILL the child once ``when(request)`` says so.

    It also drops every connection at that instant, so nothing the child had sent
    but the fake had not yet read arrives after the kill.
    """

    def __init__(self, server: FakeTelegram, when: Callable[[Any], bool]) -> None:
        self.server = server
        self.when = when
        self.proc: AsyncProcess | None = None
        self.fired = False
        self.killed_at: list[str] = []  # the request each kill followed

    def __call__(self, call: Call, request: Any, result: Any) -> None:
        if self.fired or self.proc is None or not self.when(request):
            return
        self.fired = True
        self.killed_at.append(type(request).__name__)
        os.kill(self.proc.pid, signal.SIGKILL)
        self.server.drop_all()

    async def attempt(self, world: World) -> bool:
        """One child run: True if this kill ended it, False if it finished first."""
        self.fired = False
        world.server.after_handle.append(self)
        try:
            self.proc = await world.spawn()
            code = await child_ends(self.proc, CHILD_LIMIT, "the child run ended")
        finally:
            world.server.after_handle.remove(self)
        if self.fired:
            assert code == -signal.SIGKILL
            return True
        assert code == 0, world.child_log()
        return False

    async def run(self, world: World) -> None:
        """One child run that must end by this kill."""
        assert await self.attempt(world), "the run ended before the kill"


def nth(kind: type, n: int) -> Callable[[Any], bool]:
    """True at the n-th request of this kind (counted from when the hook was made)."""
    seen = [0]

    def when(request: Any) -> bool:
        if not isinstance(request, kind):
            return False
        seen[0] += 1
        return seen[0] == n

    return when


def after_requests(n: int) -> Callable[[Any], bool]:
    """True at the n-th request of any kind."""
    return nth(object, n)


# ------------------------------------------------------------------ transport


async def test_the_tcp_transport_carries_answers_errors_drops_and_keys(tmp_path: Path) -> None:
    server = FakeTelegram()
    me = server.add_user("Ann", username="ann")
    remote = await serve(server)
    settings = tg_settings(tmp_path)
    await log_in(settings, server, me)
    dialer = RemoteDialer("127.0.0.1", remote.port)
    client = make_client(settings, dialer)
    try:
        await client.connect()
        assert isinstance(client._sender, RemoteSender)
        assert (await client.get_me()).id == me.id  # the account, known by the key sent
        await client.send_message("me", "over tcp")
        assert [m.text for m in server.chat(me)] == ["over tcp"]

        server.inject(functions.users.GetUsersRequest, "FLOOD_WAIT_7")
        with pytest.raises(tg_errors.FloodWaitError) as waited:
            await client(functions.users.GetUsersRequest([types.InputUserSelf()]))
        assert waited.value.seconds == 7

        extra = await dialer.open_sender(client)  # a second connection, same account
        got = await extra.send(functions.users.GetUsersRequest([types.InputUserSelf()]))
        assert got[0].id == me.id
        assert len(server.connections_of(me.id)) == 2

        server.inject(functions.users.GetUsersRequest, drop=True)
        with pytest.raises(ConnectionError):
            await extra.send(functions.users.GetUsersRequest([types.InputUserSelf()]))
        assert not extra.is_connected()
        await eventually(  # the fake sees it go, too
            lambda: len(server.connections_of(me.id)) == 1, "the fake dropping the connection"
        )

        fresh = RemoteSender("127.0.0.1", remote.port)  # no key yet: the server makes one
        await fresh.connect()
        assert fresh.auth_key.key is not None and len(fresh.auth_key.key) == 256
        assert server.account_of(server.senders[max(server.senders)]) is None
        await fresh.disconnect()
    finally:
        await client.disconnect()
        await remote.close()
    await eventually(lambda: server.senders == {}, "every connection gone from the fake")


# ------------------------------------------------------------------ crashes


@pytest.mark.slow
async def test_sigkill_between_send_multi_media_and_its_record_sends_each_photo_once(
    tmp_path: Path,
) -> None:
    w = World(tmp_path)
    await w.start()
    albums: list[list[int]] = []  # random_ids of every sendMultiMedia, in order
    uploaded: list[str] = []  # the file behind every uploadMedia, in order

    def record(call: Call, request: Any, result: Any) -> None:
        if isinstance(request, functions.messages.SendMultiMediaRequest):
            albums.append([m.random_id for m in request.multi_media])
        if isinstance(request, functions.messages.UploadMediaRequest):
            uploaded.append(request.media.file.name)

    w.server.after_handle.append(record)
    try:
        # Telegram posts the first album; the engine dies before it hears back.
        await Killer(w.server, nth(functions.messages.SendMultiMediaRequest, 1)).run(w)
        posted = w.chat()
        assert len(albums) == 1 and len(posted) == len(albums[0]) < PHOTOS, w.evidence()
        unrecorded = {r["random_id"]: r for r in w.sends()}
        for m in posted:  # the random_ids were stored first; the answer never was
            assert unrecorded[m.random_id]["state"] == "pending", w.evidence()
            assert unrecorded[m.random_id]["message_id"] is None
        first_ids = {m.random_id: m.id for m in posted}
        uploaded.clear()

        await w.finish()
    finally:
        await w.close()

    await w.assert_every_photo_once()
    # The album was sent again under the same random_ids, and Telegram answered with
    # the first send's messages: those are the ids the store now holds.
    repeats = [a for a in albums if set(a) == set(first_ids)]
    assert len(repeats) == 2, albums
    stored = {r["random_id"]: r["message_id"] for r in w.sends()}
    assert {rid: stored[rid] for rid in first_ids} == first_ids
    assert sum(1 for _a, name in w.server.log if name == "SendMultiMediaRequest") == len(albums)
    # Nothing of the posted album was uploaded again for the repeat.
    assert not {m.media.file.name for m in posted if m.media} & set(uploaded)


@pytest.mark.slow
async def test_sigkill_during_uploads_delivers_each_photo_once(tmp_path: Path) -> None:
    w = World(tmp_path)
    await w.start()
    try:
        await Killer(w.server, nth(functions.upload.SaveFilePartRequest, 5)).run(w)
        assert len(w.chat()) < PHOTOS, w.evidence()
        assert w.server.stats.requests["SaveFilePartRequest"] == 5
        await w.finish()
    finally:
        await w.close()
    await w.assert_every_photo_once()


@pytest.mark.slow
async def test_sigkill_at_random_requests_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    w = World(tmp_path)
    await w.start(photos=40)  # four albums: ~90 requests, about six of them per start
    rng = random.Random(20261121)
    killer = Killer(w.server, lambda _request: False)
    try:
        for _ in range(10):
            killer.when = after_requests(rng.randint(4, 24))
            if not await killer.attempt(w):
                break  # it finished before the kill came
        kills = killer.killed_at
        assert len(kills) >= 6, f"only {len(kills)} kills landed while work remained: {kills}"
        await w.finish()
    finally:
        await w.close()
    await w.assert_every_photo_once()
