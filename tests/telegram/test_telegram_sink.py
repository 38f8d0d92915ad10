"""The Telegram sink through the whole engine, against the fake Telegram with the real client.

Assertions read the chat as a person would see it: every item once, in albums of at most
ten, documents apart, each video with its duration, size and thumbnail.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from telethon.tl import functions, types

from faketg import FakeTelegram
from faketg.client import FakeDialer
from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.engine.plumbing.workarea import job_work_dir
from ferryman.engine.runner import Engine
from ferryman.media.probe import probe
from ferryman.model import ItemState, JobState
from ferryman.samples import make_zip
from ferryman.sinks.telegram_state import TelegramState
from ferryman.store import Store
from tests.media.test_media_probe_plan import write_video
from tests.support.clock import ManualClock, engine_idle
from tests.support.engine_helpers import leftovers
from tests.support.telegram_helpers import log_in, media_kind, tg_settings, video_attribute
from tests.support.waiting import eventually


class World:
    def __init__(self, tmp_path: Path, **settings: Any) -> None:
        self.server = FakeTelegram()
        self.me = self.server.add_user("Ann", username="ann", phone="+1555")
        self.channel = self.server.add_channel("Dest", username="dest", admins=[self.me])
        self.settings: Settings = tg_settings(tmp_path, **settings)
        self.tmp = tmp_path

    @classmethod
    async def logged_in(cls, tmp_path: Path, **settings: Any) -> World:
        """A world whose user ``Ann`` has logged ferryman in."""
        world = cls(tmp_path, **settings)
        await log_in(world.settings, world.server, world.me)
        return world

    def photo_zip(self, n: int) -> Path:
        """A zip of ``n`` small photos, p00.jpg…"""
        return make_zip(self.tmp / "in.zip", photos(self.tmp / "in", n))

    async def store(self, clock: Any = None) -> Store:
        if clock is None:
            return await Store.open(self.settings.database)
        return await Store.open(self.settings.database, clock=clock)

    def engine(self, store: Store, clock: ManualClock | None = None) -> Engine:
        if clock is None:
            return Engine(store, self.settings, dialer=FakeDialer(self.server))
        return Engine(store, self.settings, dialer=FakeDialer(self.server), clock=clock)

    async def run(self, store: Store, limit: float = 120) -> None:
        await asyncio.wait_for(self.engine(store).run(until_idle=True), limit)

    async def run_until_told_to_wait(self, store: Store, clock: ManualClock) -> None:
        """Run the engine on ``clock`` until an account-wide wait is stored and every
        worker is back at its wait on the clock, and stop it: what still ran then (an
        album's other uploads, a send) has shown itself (no window waited out)."""
        engine = self.engine(store, clock)
        task = asyncio.create_task(engine.run())

        async def told() -> bool:
            return await telegram_state(store).wait_until(["account"]) > 0

        await eventually(told, "an account-wide wait stored")
        await engine_idle(clock, self.settings)
        engine.stop()
        await task


def telegram_state(store: Store) -> TelegramState:
    """What the Telegram sink keeps, read as the sink reads it."""
    return TelegramState(store.sink_state("telegram"))


def photos(root: Path, n: int, size: tuple[int, int] = (320, 240)) -> list[tuple[str, Path]]:
    root.mkdir(parents=True, exist_ok=True)
    found = []
    for i in range(n):
        path = root / f"p{i:02d}.jpg"
        Image.new("RGB", size, (i * 20 % 255, 90, 160)).save(path, quality=90)
        found.append((path.name, path))
    return found


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_an_archive_arrives_as_albums_once_with_video_attributes_and_thumbnails(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)
    inputs = photos(tmp_path / "in", 11)
    inputs.append(("clip.mp4", write_video(tmp_path / "in" / "clip.mp4", faststart=True)))
    inputs.append(("late.mp4", write_video(tmp_path / "in" / "late.mp4")))  # remuxed
    strip = tmp_path / "in" / "strip.png"
    Image.new("RGB", (3000, 100), (200, 30, 30)).save(strip)  # 30:1 goes as a document
    inputs.append(("strip.png", strip))
    archive = make_zip(tmp_path / "media.zip", inputs)
    store = await w.store()
    job = await intake.add_source(store, archive, dest="telegram:@dest")
    await w.run(store)

    items = await store.job_items(job.id)
    assert {it.state for it in items} == {ItemState.DELIVERED}, [
        (it.source_path, it.state, it.error_message) for it in items
    ]
    chat = w.server.chat(w.channel)
    assert len(chat) == len(inputs)  # every item exactly once
    albums = w.server.albums(w.channel)
    assert all(len(a) <= 10 for a in albums)
    kinds = [[media_kind(m) for m in a] for a in albums]
    assert sorted(k for a in kinds for k in a) == sorted(
        ["photo"] * 11 + ["video"] * 2 + ["document"]
    )
    for album in kinds:  # documents never share an album with photos and videos
        assert "document" not in album or set(album) == {"document"}
    # Each album's caption rides on its first message only.
    for album in albums:
        assert album[0].text.startswith("media")
        assert all(m.text == "" for m in album[1:])
    # Photos arrive byte for byte; videos with true attributes and a thumbnail.
    sources = {name: path for name, path in inputs}
    by_name = {}
    for m in chat:
        names = [
            a.file_name
            for a in m.media.attributes
            if isinstance(a, types.DocumentAttributeFilename)
        ]
        by_name[names[0] if names else m.media.file.name] = m
    for name in ("p00.jpg", "p10.jpg"):
        assert by_name[name].media.file.sha256 == sha(sources[name].read_bytes())
    for name in ("clip.mp4", "late.mp4"):
        msg = by_name[name]
        attr = video_attribute(msg)
        src = probe(sources[name])
        assert src.duration is not None
        assert abs(attr.duration - src.duration) < 0.1
        assert (attr.w, attr.h) == (src.width, src.height)
        assert attr.supports_streaming
        assert msg.media.thumb is not None, f"{name} arrived without a thumbnail"
    # The message ids are stored per item.
    for it in items:
        assert len(await telegram_state(store).messages(it.job_id, it.id)) == 1
    assert leftovers(w.settings.work_dir) == []
    await store.close()


@pytest.mark.slow
async def test_an_albums_upload_reports_delivering_with_its_own_bytes_and_speed(
    tmp_path: Path,
) -> None:
    """The deliver stage's progress comes from the uploader's parts (issue 35, point
    9): each album says its bytes sent rising to its size, with a speed once known."""
    from ferryman.engine.plumbing.events import AlbumDelivered, AlbumSending, Event

    w = await World.logged_in(tmp_path)
    inputs = photos(tmp_path / "in", 3)
    clip = write_video(tmp_path / "in" / "clip.mp4", faststart=True, seconds=3.0)
    archive = make_zip(tmp_path / "media.zip", [*inputs, ("clip.mp4", clip)])
    store = await w.store()
    job = await intake.add_source(store, archive, dest="telegram:@dest")
    engine = w.engine(store)
    heard: list[Event] = []
    engine.bus.subscribe(heard.append)
    await asyncio.wait_for(engine.run(until_idle=True), 120)
    sends = [e for e in heard if isinstance(e, AlbumSending) and e.job_id == job.id]
    delivered = [e for e in heard if isinstance(e, AlbumDelivered) and e.job_id == job.id]
    assert delivered and sends
    for album in {e.album for e in delivered}:
        mine = [e for e in sends if e.album == album]
        assert mine, f"album {album} said nothing while it went"
        assert [e.done for e in mine] == sorted(e.done for e in mine)
        assert mine[-1].done == mine[-1].total > clip.stat().st_size // 2
        assert mine[-1].eta is None  # all sent: no '0 s left' for the job as a whole


async def test_a_lost_answer_to_send_multi_media_does_not_send_the_album_twice(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)
    archive = w.photo_zip(4)
    # Telegram posts the album, then the connection drops before the answer arrives.
    w.server.inject(functions.messages.SendMultiMediaRequest, drop=True, after=True)
    store = await w.store()
    job = await intake.add_source(store, archive, dest="telegram:me")
    await w.run(store)

    chat = w.server.chat(w.me)
    assert len(chat) == 4, "the album was posted twice"
    sends = [r for r in w.server.log if r[1] == "SendMultiMediaRequest"]
    assert len(sends) == 2  # the repeat happened, and was answered with the first messages
    assert {it.state for it in await store.job_items(job.id)} == {ItemState.DELIVERED}
    saved = {m.id for m in chat}
    for it in await store.job_items(job.id):
        assert set(await telegram_state(store).messages(it.job_id, it.id)) <= saved
    uploads = w.server.stats.requests.get("SaveFilePartRequest", 0)
    assert uploads == 4  # nothing was uploaded again for the repeat
    await store.close()


async def test_random_id_duplicate_waits_and_repeats(tmp_path: Path) -> None:
    w = await World.logged_in(tmp_path)
    archive = w.photo_zip(3)
    w.server.inject(functions.messages.SendMultiMediaRequest, "RANDOM_ID_DUPLICATE")
    store = await w.store()
    await intake.add_source(store, archive, dest="telegram:me")
    await w.run(store)
    assert len(w.server.chat(w.me)) == 3
    await store.close()


async def test_expired_references_are_uploaded_again_under_the_same_random_ids(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)
    archive = w.photo_zip(3)
    w.server.inject(functions.messages.SendMultiMediaRequest, "FILE_REFERENCE_EXPIRED")
    store = await w.store()
    job = await intake.add_source(store, archive, dest="telegram:me")
    await w.run(store)
    chat = w.server.chat(w.me)
    assert len(chat) == 3
    assert w.server.stats.requests["SaveFilePartRequest"] == 6  # each file uploaded twice
    random_ids = {m.random_id for m in chat}
    records = await store.sink_state("telegram").records(job.id)
    stored = {r.value["random_id"] for r in records if r.key.startswith("send:")}
    assert random_ids == stored
    await store.close()


async def test_a_photo_telegram_refuses_goes_as_a_document_and_the_album_goes_on(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)
    archive = w.photo_zip(4)

    def the_third_photo(req: Any) -> bool:
        media = req.media
        return isinstance(media, types.InputMediaUploadedPhoto) and media.file.name == "p02.jpg"

    w.server.inject(
        functions.messages.UploadMediaRequest, "PHOTO_INVALID_DIMENSIONS", match=the_third_photo
    )
    store = await w.store()
    job = await intake.add_source(store, archive, dest="telegram:me")
    await w.run(store)
    chat = w.server.chat(w.me)
    assert sorted(media_kind(m) for m in chat) == ["document", "photo", "photo", "photo"]
    album = [m for m in chat if m.grouped_id is not None]
    assert len(album) == 3  # the other three still travel together
    assert {it.state for it in await store.job_items(job.id)} == {ItemState.DELIVERED}
    assert w.server.stats.requests["SaveFilePartRequest"] == 4  # the fallback reused the upload
    await store.close()


async def test_a_file_refused_in_every_form_is_quarantined_and_the_rest_delivered(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)
    archive = w.photo_zip(3)

    def p01(req: Any) -> bool:
        media = req.media
        return hasattr(media, "file") and media.file.name == "p01.jpg"

    w.server.inject(functions.messages.UploadMediaRequest, "MEDIA_INVALID", match=p01, times=2)
    store = await w.store()
    recorded = store.album_delivered

    async def ended_and_cleared() -> bool:
        ended = (await store.get_job(job.id)).state.terminal
        return ended and not job_work_dir(w.settings, job.id).exists()

    async def then_housekeeping(*args: Any, **kwargs: Any) -> Any:
        # Once the album is recorded the job may end and its work folder go at once:
        # the step goes on only once the housekeeper has done both.
        chained = await recorded(*args, **kwargs)
        await eventually(ended_and_cleared, "the job ended, its work folder removed")
        return chained

    store.album_delivered = then_housekeeping  # type: ignore[method-assign]
    job = await intake.add_source(store, archive, dest="telegram:me")
    await w.run(store)
    assert (await store.get_job(job.id)).state is JobState.DONE
    assert len(w.server.chat(w.me)) == 2
    states = {Path(it.source_path).name: it.state for it in await store.job_items(job.id)}
    assert states == {
        "p00.jpg": ItemState.DELIVERED,
        "p01.jpg": ItemState.QUARANTINED,
        "p02.jpg": ItemState.DELIVERED,
    }
    kept = sorted(w.settings.quarantine_dir.rglob("p01.jpg*"))
    assert [p.name for p in kept] == ["p01.jpg", "p01.jpg.reason.txt"]
    assert kept[0].read_bytes() == (tmp_path / "in" / "p01.jpg").read_bytes()
    await store.close()


async def test_an_album_refused_in_every_file_is_kept_whole_in_quarantine(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)
    archive = w.photo_zip(2)
    w.server.inject(functions.messages.UploadMediaRequest, "PHOTO_INVALID", times=4)
    store = await w.store()
    job = await intake.add_source(store, archive, dest="telegram:me")
    await w.run(store)
    assert w.server.chat(w.me) == []
    ended = await store.get_job(job.id)  # nothing delivered: failed, with its items' code
    assert (ended.state, ended.error_code) == (JobState.FAILED, "telegram.media_rejected")
    items = await store.job_items(job.id)
    assert {it.state for it in items} == {ItemState.QUARANTINED}
    assert {it.error_code for it in items} == {"telegram.media_rejected"}
    for name in ("p00.jpg", "p01.jpg"):
        kept = [p for p in w.settings.quarantine_dir.rglob(name) if p.is_file()]
        assert [p.read_bytes() for p in kept] == [(tmp_path / "in" / name).read_bytes()]
    assert leftovers(w.settings.work_dir) == []
    await store.close()


async def test_a_flood_wait_of_300_s_survives_a_restart_without_a_request_before_it_ends(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)
    archive = w.photo_zip(2)
    clock = ManualClock(start=1_000_000.0)  # the engine's, the store's and Telegram's
    w.server.clock = clock.now
    w.server.inject(functions.messages.SendMultiMediaRequest, "FLOOD_WAIT_300")
    store = await w.store(clock=clock.now)
    job = await intake.add_source(store, archive, dest="telegram:me")

    await w.run_until_told_to_wait(store, clock)
    assert await telegram_state(store).wait_until(["account"]) == pytest.approx(clock.now() + 300)
    seen = len(w.server.log)

    # A restart 299 s later, with a second job whose album is ready at once: nothing
    # reaches Telegram (not even a connection) while the account's wait lasts: the
    # engine idle on its clock, moved on through the wait's last 0.9 s, idle again.
    clock.set_wall(clock.now() + 299)
    other = make_zip(tmp_path / "other.zip", photos(tmp_path / "other", 2))
    second = await intake.add_source(store, other, dest="telegram:me")
    engine = w.engine(store, clock)
    task = asyncio.create_task(engine.run())

    async def grouped() -> bool:
        return any(it.state is ItemState.GROUPED for it in await store.job_items(second.id))

    await eventually(grouped, "the second job's album sealed")
    await engine_idle(clock, w.settings)
    await clock.advance(0.9)
    await engine_idle(clock, w.settings)
    engine.stop()
    await task
    assert len(w.server.log) == seen, w.server.log[seen:]
    assert w.server.chat(w.me) == []

    clock.set_wall(clock.now() + 1.1)  # the wait is over (the rest: a real clock's)
    await w.run(store)
    assert len(w.server.chat(w.me)) == 4
    assert (await store.get_job(job.id)).state is JobState.DONE
    await store.close()


async def test_an_album_refused_for_one_file_goes_again_without_it_and_uploads_nothing_twice(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)
    archive = w.photo_zip(4)
    w.server.inject(functions.messages.SendMultiMediaRequest, "MEDIA_INVALID")
    # Asked alone, the first reference is the one Telegram refuses.
    w.server.inject(
        functions.messages.UploadMediaRequest,
        "MEDIA_INVALID",
        match=lambda req: isinstance(req.media, types.InputMediaPhoto),
    )
    store = await w.store()
    job = await intake.add_source(store, archive, dest="telegram:me")
    await w.run(store)
    chat = w.server.chat(w.me)
    assert len(chat) == 3 and len({m.grouped_id for m in chat}) == 1
    states = sorted(it.state.value for it in await store.job_items(job.id))
    assert states == ["delivered", "delivered", "delivered", "quarantined"]
    assert w.server.stats.requests["SaveFilePartRequest"] == 4
    await store.close()


async def test_forum_topic_and_caption_limit(tmp_path: Path) -> None:
    w = await World.logged_in(
        tmp_path, caption_template="{job_name} " + "x" * 990 + " {album}/{albums}"
    )
    forum = w.server.add_channel("Forum", forum=True, broadcast=False, admins=[w.me])
    forum.topics.add(7)
    archive = make_zip(tmp_path / ("n" * 100 + ".zip"), photos(tmp_path / "in", 2))
    store = await w.store()
    await intake.add_source(store, archive, dest=f"telegram:-100{forum.id}/topic/7")
    await w.run(store)
    chat = w.server.chat(forum)
    assert len(chat) == 2
    assert {m.topic_id for m in chat} == {7}
    assert len(chat[0].text) == 1024 and chat[0].text.endswith("…")
    await store.close()


async def test_a_flood_wait_while_files_are_prepared_stops_the_album_before_any_send(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)
    archive = w.photo_zip(6)
    clock = ManualClock(start=2_000_000.0)  # the engine's, the store's and Telegram's
    w.server.clock = clock.now
    w.server.inject(functions.messages.UploadMediaRequest, "FLOOD_WAIT_120", skip=2)
    store = await w.store(clock=clock.now)
    job = await intake.add_source(store, archive, dest="telegram:me")
    await w.run_until_told_to_wait(store, clock)  # what still ran would have sent
    assert await telegram_state(store).wait_until(["account"]) == pytest.approx(clock.now() + 120)
    assert "SendMultiMediaRequest" not in {name for _acc, name in w.server.log}
    assert w.server.chat(w.me) == []

    clock.set_wall(clock.now() + 121)
    await w.run(store)
    chat = w.server.chat(w.me)
    assert len(chat) == 6 and len({m.grouped_id for m in chat}) == 1
    assert (await store.get_job(job.id)).state is JobState.DONE
    await store.close()


async def test_captions_sent_before_the_number_of_albums_was_known_are_made_final(
    tmp_path: Path,
) -> None:
    """Reading waits after ten files (``backlog_items``) until the first album is sent,
    so it goes out while the job's number of albums is open: "in — 1/1+". It stayed so
    in the chat; the job's end edits it to the final "in — 1/2", once."""
    w = await World.logged_in(tmp_path, backlog_items=10)
    store = await w.store()
    try:
        job = await intake.add_source(store, w.photo_zip(12), dest="telegram:me")
        await w.run(store)
        assert (await store.get_job(job.id)).state is JobState.DONE
        left = await telegram_state(store).captions_open(job.id)
    finally:
        await store.close()
    albums = w.server.albums(w.me)
    assert [a[0].text for a in albums] == ["in — 1/2", "in — 2/2"]
    first = albums[0][0]
    assert first.history == ["in — 1/1+"] and first.edits == 1  # sent open, edited once
    assert left == {}


async def test_captions_made_final_at_a_jobs_end_are_edited_side_by_side(
    tmp_path: Path,
) -> None:
    """A job whose albums went out while its number was open ends with several captions
    to edit: they go at once (a round trip for all, not one per album), each once."""
    w = await World.logged_in(tmp_path, backlog_items=10)
    edit = functions.messages.EditMessageRequest
    handler = w.server.handlers[edit]
    in_flight, most = [0], [0]
    together = asyncio.Event()

    def still_open() -> int:
        return sum(album[0].text.endswith("+") for album in w.server.albums(w.me))

    async def held_edit(server: FakeTelegram, call: Any, req: Any) -> Any:
        # Each edit is held until every open caption's is under way: side by side they
        # all get there, one after the other the first waits in vain (no pace that made
        # them overlap by chance). None is applied before: the open count holds still.
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        try:
            if in_flight[0] >= still_open():
                together.set()
            await asyncio.wait_for(together.wait(), 10)
            return await handler(server, call, req)
        finally:
            in_flight[0] -= 1

    w.server.handlers[edit] = held_edit
    store = await w.store()
    try:
        job = await intake.add_source(store, w.photo_zip(40), dest="telegram:me")
        await w.run(store)
        assert (await store.get_job(job.id)).state is JobState.DONE
    finally:
        await store.close()
    albums = w.server.albums(w.me)
    assert [a[0].text for a in albums] == [f"in — {i}/4" for i in range(1, 5)]
    edited = [a[0] for a in albums if a[0].edits]
    assert len(edited) >= 2 and all(m.edits == 1 for m in edited)
    assert most[0] == len(edited)  # every edit under way at once


async def test_a_chats_slow_mode_wait_holds_its_albums_whether_its_peer_was_looked_up_or_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stored slow-mode wait (scope ``peer:ID``) holds the chat's albums: read with the
    account's wait by an account that looked the chat up before (``Member.peers``: one
    read before an album's send, not two), after the lookup by one that had not."""
    from ferryman.sinks.telegram import TelegramSink
    from ferryman.telegram.errors import TelegramWait

    w = await World.logged_in(tmp_path)
    dest, scope = f"telegram:-100{w.channel.id}", f"peer:{w.channel.id}"
    send = functions.messages.SendMultiMediaRequest
    handler = w.server.handlers[send]
    store = await w.store()
    state = telegram_state(store)
    held: list[tuple[str, ...]] = []  # the scopes of each read that found a wait
    plain = TelegramSink._honour_waits

    async def honour(self: TelegramSink, *scopes: str) -> None:
        try:
            await plain(self, *scopes)
        except TelegramWait:
            held.append(scopes)
            raise

    async def slowed_after(server: FakeTelegram, call: Any, req: Any) -> Any:
        # The first album goes, and Telegram's slow mode then holds the chat an hour.
        await state.wait_set(scope, state.state.now() + 3600, "telegram.slowmode_wait")
        return await handler(server, call, req)

    async def until_held() -> None:
        engine = w.engine(store)
        task = asyncio.create_task(engine.run())
        try:
            await eventually(lambda: held, "the second job's album held")
        finally:
            engine.stop()
            await task

    monkeypatch.setattr(TelegramSink, "_honour_waits", honour)
    w.server.handlers[send] = slowed_after
    try:
        first = await intake.add_source(store, w.photo_zip(2), dest=dest)
        later = make_zip(tmp_path / "later.zip", photos(tmp_path / "later", 2))
        second = await intake.add_source(store, later, dest=dest)
        await until_held()
        assert held == [("account", scope)]  # known: read with the account's
        assert (await store.get_job(first.id)).state is JobState.DONE
        assert ItemState.DELIVERED not in {it.state for it in await store.job_items(second.id)}
        # Another chat, slowed before any album: a new engine looks it up, then reads it.
        other = w.server.add_channel("Other", username="other", admins=[w.me])
        slowed = f"peer:{other.id}"
        await state.wait_set(slowed, state.state.now() + 3600, "telegram.slowmode_wait")
        third = make_zip(tmp_path / "third.zip", photos(tmp_path / "third", 2))
        await intake.add_source(store, third, dest=f"telegram:-100{other.id}")
        held.clear()
        await until_held()
        assert held == [(slowed,)]
        assert len(w.server.albums(w.channel)) == 1 and w.server.albums(other) == []
        assert w.server.stats.requests["SendMultiMediaRequest"] == 1
    finally:
        await store.close()
