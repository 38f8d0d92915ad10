"""Choices in the chat (issue 48: buttons, choose files, the command menu), with the
real Telethon client against the fake, for a bot session (inline buttons pressed by a
person: ``messages.getBotCallbackAnswer`` → ``updateBotCallbackQuery`` → the bot's
``setBotCallbackAnswer``) and a user session (no buttons: numbered options answered
by a reply). What people see is read back from the fake's message boxes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telethon.tl import functions, types

from faketg.client import logged_in_client
from faketg.handlers.bots import button_data
from faketg.people import press
from faketg.state import Account, StoredMessage
from ferryman.engine.plumbing.chosen import HOLD
from ferryman.engine.plumbing.events import AlbumFailed
from ferryman.frontdoors.telegram.help import MENU
from ferryman.frontdoors.telegram.user_settings import CHOICES
from ferryman.model import Job, JobState
from ferryman.samples import make_photo_set, make_zip
from ferryman.sources import telegram_link
from ferryman.sources.telegram_link import TelegramLinkSource
from ferryman.store import Store
from tests.archive.test_archive_engine import needs_7zz, seven, zip_with_password
from tests.support.engine_helpers import library_files, sha256
from tests.support.waiting import eventually
from tests.telegram.test_telegram_frontdoor import (
    World,
    job_in,
    make_world,
    photo_zip,
    reply_to,
    serving,
)


@pytest.fixture(params=["bot", "user"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    """The chat served by a bot, or by a user account (the seed's case)."""
    w = make_world(tmp_path)
    if request.param == "user":
        w.bot = w.server.add_user("Ferry", username="ferryperson")
    w.store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        yield w
    finally:
        await w.store.close()


def exists(path: str) -> bool:
    return Path(path).exists()


async def held_unread(w: World) -> Job:
    """The archive's one job: downloaded, held for the choice, nothing of it read."""
    (job,) = await w.store.list_jobs()
    assert job.paused and job.wait_reason == HOLD, job
    assert await w.store.job_items(job.id) == []  # nothing is read while choosing
    return job


def is_bot(w: World) -> bool:
    return w.bot.bot


async def message_with(w: World, person: Account, *, data: bytes = b"", text: str = "") -> Any:
    """The account's newest message to ``person`` offering ``data`` (bot) or whose
    text holds ``text``."""

    async def found() -> StoredMessage | None:
        for m in reversed(w.said(person)):
            if data and any(data in d for d in button_data(m)):
                return m
            if text and text in m.text:
                return m
        return None

    return await eventually(found, f"a message offering {data!r} / saying {text!r}")


async def choose(w: World, person: Account, message: StoredMessage, data: bytes, n: str) -> str:
    """Pick an option: press its button (bot), or reply its number (user account).
    Returns what the account said back (the toast, or the reply)."""
    if is_bot(w):
        answer = await press(w.server, person, w.bot, message.id, data)
        return str(answer.message)
    before = len(w.said(person))
    w.send(person, n, reply_to=message.id)

    async def answered() -> str | None:
        said = w.said(person)
        return said[before].text if len(said) > before else None

    return await eventually(answered, f"an answer to {n!r}")


def shown_files(w: World, message: StoredMessage) -> str:
    """The files a list shows: a bot's file buttons' labels, a user account's text."""
    if not is_bot(w):
        return message.text
    markup = message.reply_markup
    labels = [b.text for row in markup.rows for b in row.buttons]
    return "\n".join(label for label in labels if label[:1] in "·✓")


def row_of(message: StoredMessage, prefix: str) -> str:
    """The inbox row in a button's data (``a:ROW:…``, ``c:ROW:…``)."""
    data = next(d.decode() for d in button_data(message) if d.decode().startswith(prefix))
    return data.split(":")[1]


# --- the command menu and /help -----------------------------------------------------------


async def test_the_bot_registers_its_menu_and_help_shows_an_example_each(world: World) -> None:
    async with serving(world):
        said = await reply_to(world, world.alice, "/help")
    for command in MENU:
        assert f"/{command.name}  {command.description}" in said
        assert f"e.g. {command.example}" in said
    if not is_bot(world):  # a user account has no menu: /help is its menu
        assert "SetBotCommandsRequest" not in world.server.stats.requests
        assert "reply with the number" in said
        return
    reader = await logged_in_client(world.server, world.bot)
    try:
        scope = types.BotCommandScopeDefault()
        menu = await reader(functions.bots.GetBotCommandsRequest(scope, ""))
    finally:
        await reader.disconnect()
    assert [(c.command, c.description) for c in menu] == [(c.name, c.description) for c in MENU]


# --- /settings -------------------------------------------------------------------------


async def test_settings_offers_each_choices_values_and_a_choice_sets_it(world: World) -> None:
    """A bot's /settings has a button per usual value (a user account: numbered options);
    one chosen sets it as ``/settings link 720p`` would, and the message shows it."""
    async with serving(world):
        world.send(world.alice, "/settings")
        shown = await message_with(world, world.alice, data=b"s:1:link", text="7 link mp3 192")
        assert "link = 1080p (default)" in shown.text
        if is_bot(world):
            assert button_data(shown) == [
                f"s:{i}:{choice.key}".encode()
                for choice in CHOICES
                for i in range(len(choice.options))
            ]
            assert b"s:2:link" in button_data(shown)
        answer = await choose(world, world.alice, shown, b"s:1:link", "6")
        assert answer.startswith("link = 720p: what a link to a video becomes"), answer
        assert await world.store.user_settings(world.alice.id) == {"link": "720p"}

        async def edited() -> StoredMessage | None:  # the same message, shown anew
            now = next(m for m in world.said(world.alice) if m.id == shown.id)
            return now if "link = 720p: what a link" in now.text else None

        again = await eventually(edited, "the settings shown as they are now")
        if is_bot(world):
            labels = [b.text for row in again.reply_markup.rows for b in row.buttons]
            assert "✓ link 720p" in labels and "link 1080p" in labels
        else:
            assert "6 ✓ link 720p" in again.text
        # the same press as a typed command would be: back to the default by words
        assert (await reply_to(world, world.alice, "/settings link default")).startswith(
            "link is back to the default"
        )
        assert await world.store.user_settings(world.alice.id) == {}


# --- a job's controls -------------------------------------------------------------------


@pytest.mark.slow
async def test_a_jobs_status_message_offers_cancel_then_retry_and_report(world: World) -> None:
    blocker = world.tmp / "not-a-folder"
    blocker.write_text("a file where the library should be: every delivery fails")
    async with serving(world) as engine:
        failed = asyncio.Event()
        engine.bus.subscribe(lambda e: failed.set() if isinstance(e, AlbumFailed) else None)
        zipped = photo_zip(world.tmp, count=2)
        world.send(world.alice, f"to: library:{blocker}", file=zipped.read_bytes(), name="a.zip")
        await asyncio.wait_for(failed.wait(), 10)
        (job,) = await world.store.list_jobs()
        status = await message_with(
            world, world.alice, data=f"j:{job.id}:cancel".encode(), text="1 Cancel · 2 Report"
        )
        answer = await choose(world, world.alice, status, f"j:{job.id}:cancel".encode(), "1")
        assert answer.startswith(f"job {job.id} (a) cancelled"), answer
        assert (await world.store.get_job(job.id)).state is JobState.CANCELLED
        # Ended: the same message now offers Retry and Report.
        status = await message_with(
            world, world.alice, data=f"j:{job.id}:retry".encode(), text="1 Retry · 2 Report"
        )
        assert f"j:{job.id}:cancel".encode() not in button_data(status)
        before = len(world.said(world.alice))
        await choose(world, world.alice, status, f"j:{job.id}:report".encode(), "2")
        report = await message_with(world, world.alice, text=f"job {job.id} a: cancelled")
        assert report.reply_to == status.id and len(world.said(world.alice)) > before


@pytest.mark.slow
@needs_7zz
async def test_a_password_wait_prompts_and_a_reply_to_the_prompt_unlocks(world: World) -> None:
    photos = make_photo_set(world.tmp / "src", 4)
    locked = zip_with_password(world.tmp / "locked.zip", photos[:2], photos[2:], "s3cret")
    async with serving(world):
        world.send(world.alice, file=locked.read_bytes(), name="locked.zip")
        waiting = await job_in(world, JobState.NEEDS_PASSWORD)
        status = await message_with(
            world,
            world.alice,
            data=f"j:{waiting.id}:pass".encode(),
            text="1 Enter password · 2 Cancel",
        )
        await choose(world, world.alice, status, f"j:{waiting.id}:pass".encode(), "1")
        prompt = await message_with(world, world.alice, text="reply to this message with the")
        if is_bot(world):  # the app opens the reply by itself
            assert isinstance(prompt.reply_markup, types.ReplyKeyboardForceReply)
        answer = await reply_to_message(world, world.alice, prompt, "s3cret")
        assert answer.startswith(f"job {waiting.id}: password added"), answer
        # A user account's prompt is said once: no second message saying it again.
        said = [m.text for m in world.said(world.alice)]
        assert not any("reply to my message" in text for text in said), said
        done = await job_in(world, JobState.DONE, waiting.id)
    assert done.passwords == ("s3cret",)
    delivered = sorted(f["disk_sha256"] for f in library_files(world.settings.library))
    assert delivered == sorted(sha256(p) for p in photos)


async def reply_to_message(w: World, person: Account, message: StoredMessage, text: str) -> str:
    before = len(w.said(person))
    w.send(person, text, reply_to=message.id)

    async def answered() -> str | None:
        said = w.said(person)
        return said[before].text if len(said) > before else None

    return await eventually(answered, f"an answer to {text!r}")


# --- choose files -----------------------------------------------------------------------


def folders_zip(tmp: Path) -> tuple[Path, dict[str, Path]]:
    """Twelve photos: seven in ``trip/day1``, five in ``trip/day2``."""
    photos = make_photo_set(tmp / "src-folders", 12)
    entries = {f"trip/day1/{p.name}": p for p in photos[:7]}
    entries |= {f"trip/day2/{p.name}": p for p in photos[7:]}
    return make_zip(tmp / "trip.zip", list(entries.items())), entries


async def test_choose_files_lists_by_folder_in_pages_and_delivers_only_those(
    world: World,
) -> None:
    zipped, entries = folders_zip(world.tmp)
    names = sorted(entries)  # as listed: by folder, then name
    async with serving(world):
        world.send(world.alice, "choose", file=zipped.read_bytes(), name="trip.zip")
        listing = await message_with(world, world.alice, text="trip.zip: 12 files, page 1 of 2")
        assert listing.text.index("trip/day1/") < listing.text.index("trip/day2/")
        files = shown_files(world, listing)  # a bot's buttons, a user account's lines
        assert "10. photo_000009.jpg" in files and "11." not in files
        assert f"1. {Path(names[0]).name}" in files and "kB" in files
        await held_unread(world)
        if is_bot(world):
            assert "photo_" not in listing.text  # listed once: as buttons
            assert "trip/day1/ 1-7" in listing.text and "trip/day2/ 8-10" in listing.text
            row = row_of(listing, "c:")
            assert len([d for d in button_data(listing) if b":t" in d]) == 10  # a page
            for data in (f"c:{row}:t0", f"c:{row}:t2", f"c:{row}:p1"):
                await press(world.server, world.alice, world.bot, listing.id, data.encode())
            listing = await message_with(world, world.alice, text="page 2 of 2")
            assert "trip/day2/" in listing.text and "2 chosen" in listing.text
            files = shown_files(world, listing)
            assert "12. photo_000011.jpg" in files and "trip/day1/" not in listing.text
            await press(world.server, world.alice, world.bot, listing.id, f"c:{row}:t11".encode())
            answer = await press(
                world.server, world.alice, world.bot, listing.id, f"c:{row}:go".encode()
            )
            said = str(answer.message)
        else:
            world.send(world.alice, "1 3 12", reply_to=listing.id)
            said = await eventually(
                lambda: next((t for t in world.texts(world.alice) if t.endswith(": 3 files")), ""),
                "the answer to the numbers",
            )
        assert said.endswith(": 3 files"), said
        job = await job_in(world, JobState.DONE)
        told = await message_with(world, world.alice, text="3 files chosen")
        assert f"job {job.id}; 9 left alone" in told.text
        report = await reply_to(world, world.alice, f"/report {job.id}")
    chosen = [names[0], names[2], names[11]]
    delivered = sorted(f["disk_sha256"] for f in library_files(world.settings.library))
    assert delivered == sorted(sha256(entries[n]) for n in chosen)
    assert "skipped 9: not chosen" in report


async def test_choose_files_lists_only_media_and_all_takes_every_one(world: World) -> None:
    """The list offered files that would not be delivered (a readme, a .bin: documents
    are off by default), and had no way to take every file but one by one."""
    photos = make_photo_set(world.tmp / "src-mixed", 3)
    entries = [(f"trip/{p.name}", p) for p in photos]
    (world.tmp / "readme.txt").write_text("the trip\n")
    (world.tmp / "data.bin").write_bytes(bytes(range(256)))
    entries += [("trip/readme.txt", world.tmp / "readme.txt"), ("data.bin", world.tmp / "data.bin")]
    zipped = make_zip(world.tmp / "mixed.zip", entries)
    async with serving(world):
        world.send(world.alice, "choose", file=zipped.read_bytes(), name="mixed.zip")
        listing = await message_with(world, world.alice, text="mixed.zip: 3 files, page 1 of 1")
        files = shown_files(world, listing)
        assert "readme" not in files and "data.bin" not in files
        assert all(p.name in files for p in photos)
        if is_bot(world):
            row = row_of(listing, "c:")
            assert {f"c:{row}:all".encode(), f"c:{row}:none".encode()} <= set(button_data(listing))
            for data in (f"c:{row}:none", f"c:{row}:all", f"c:{row}:go"):
                await press(world.server, world.alice, world.bot, listing.id, data.encode())
        else:
            await reply_to_message(world, world.alice, listing, "all")
        job = await job_in(world, JobState.DONE)
    assert job.state is JobState.DONE
    delivered = sorted(f["disk_sha256"] for f in library_files(world.settings.library))
    assert delivered == sorted(sha256(p) for p in photos)


@pytest.mark.slow
@needs_7zz
async def test_choose_files_of_a_locked_archive_then_its_password(world: World) -> None:
    photos = make_photo_set(world.tmp / "src", 4)
    locked = zip_with_password(world.tmp / "locked.zip", photos[:2], photos[2:], "s3cret")
    async with serving(world):
        world.send(world.alice, "choose", file=locked.read_bytes(), name="locked.zip")
        listing = await message_with(world, world.alice, text="locked.zip: 4 files")
        files = [line for line in shown_files(world, listing).splitlines() if ". " in line]
        listed = [line.split(". ", 1)[1].split()[0] for line in files[:4]]
        wanted = {listed[0], listed[3]}  # whichever two, one of them locked
        if is_bot(world):
            row = row_of(listing, "c:")
            for data in (f"c:{row}:t0", f"c:{row}:t3", f"c:{row}:go"):
                await press(world.server, world.alice, world.bot, listing.id, data.encode())
        else:
            await reply_to_message(world, world.alice, listing, "1 4")
        waiting = await job_in(world, JobState.NEEDS_PASSWORD)
        assert (await reply_to(world, world.alice, "/pass s3cret")).startswith(
            f"job {waiting.id}: password added"
        )
        await job_in(world, JobState.DONE, waiting.id)
    delivered = sorted(f["disk_sha256"] for f in library_files(world.settings.library))
    assert delivered == sorted(sha256(p) for p in photos if p.name in wanted)
    assert any(p.name in wanted for p in photos[2:])  # a locked one among them


async def test_choose_files_asked_while_the_archive_downloads(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No caption: everything would come (nothing waits for a choice), but "Choose
    files" pressed before the archive is read turns it into a list."""
    gate = asyncio.Event()
    original = telegram_link._remote

    async def held(client: Any, ref: Any) -> Any:  # the engine's fetch waits at its start
        await gate.wait()
        return await original(client, ref)

    monkeypatch.setattr(telegram_link, "_remote", held)
    zipped, entries = folders_zip(world.tmp)
    async with serving(world):
        world.send(world.alice, file=zipped.read_bytes(), name="trip.zip")
        status = await message_with(world, world.alice, data=b":choose", text="2 Choose files")
        row = row_of(status, "a:") if is_bot(world) else "0"
        said = await choose(world, world.alice, status, f"a:{row}:choose".encode(), "2")
        assert "you choose the files once it is downloaded" in said
        gate.set()
        listing = await message_with(world, world.alice, text="trip.zip: 12 files")
        await held_unread(world)
        if is_bot(world):
            row = row_of(listing, "c:")
            for data in (f"c:{row}:t1", f"c:{row}:go"):
                await press(world.server, world.alice, world.bot, listing.id, data.encode())
        else:
            await reply_to_message(world, world.alice, listing, "2")
        await job_in(world, JobState.DONE)
    (delivered,) = library_files(world.settings.library)
    assert delivered["disk_sha256"] == sha256(entries[sorted(entries)[1]])


async def test_what_a_status_message_is_asked_while_an_edit_is_on_its_way_still_shows(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list is asked for while the message's "downloading 100%" edit is on its way
    (with the archive's choices): "downloaded; choose its files" comes after, without
    them (it was lost, or kept the choices: both seen in the demo)."""
    from ferryman.frontdoors.telegram.chat import Chat

    downloaded, editing, release = asyncio.Event(), asyncio.Event(), asyncio.Event()
    fetch, call = TelegramLinkSource.fetch, Chat._call

    async def held(self: TelegramLinkSource, uri: str, plan: Any) -> Any:
        got = await fetch(self, uri, plan)
        await downloaded.wait()  # downloaded, its progress asked for; not held yet
        return got

    async def slow_call(self: Chat, request: Any) -> Any:
        if "downloading 100%" in (getattr(request, "message", None) or ""):
            editing.set()
            await release.wait()
        return await call(self, request)

    monkeypatch.setattr(TelegramLinkSource, "fetch", held)
    monkeypatch.setattr(Chat, "_call", slow_call)
    zipped, _entries = folders_zip(world.tmp)
    async with serving(world):
        world.send(world.alice, "choose", file=zipped.read_bytes(), name="trip.zip")
        await asyncio.wait_for(editing.wait(), 10)
        downloaded.set()
        await message_with(world, world.alice, text="trip.zip: 12 files")  # asked meanwhile
        release.set()
        done = await message_with(world, world.alice, text="trip.zip: downloaded; choose its")
        job = await held_unread(world)
    assert done.text == "trip.zip: downloaded; choose its files"  # no numbered choices
    assert done.history[-1].startswith(f"job {job.id} trip: downloading 100%")
    assert done.reply_markup is None and button_data(done) == []


# --- a link in another form -------------------------------------------------------------


@pytest.mark.slow
async def test_a_link_to_a_video_is_offered_in_other_forms(world: World) -> None:
    from tests.support.httpserve import serving as http_serving
    from tests.support.mediaserve import write_media

    clip = write_media(world.tmp / "clip.mp4", size=(320, 180), audio=True, seconds=1.0)
    with http_serving() as web:
        web.add("/clip.mp4", clip.read_bytes(), content_type="video/mp4")
        async with serving(world):
            world.send(world.alice, web.url("/clip.mp4"))
            first = await job_in(world, JobState.DONE)
            status = await message_with(
                world, world.alice, data=f"l:{first.id}:mp3".encode(), text="4 Audio MP3"
            )
            said = await choose(world, world.alice, status, f"l:{first.id}:mp3".encode(), "4")
            if not is_bot(world):  # the reply comes after the new job's status message
                said = (await message_with(world, world.alice, text="of the same link")).text
            assert said.startswith("job ") and said.endswith(": mp3 of the same link"), said
            second = said.split(":")[0]  # "job N"

            async def its_own() -> StoredMessage | None:  # a status message, under the one pressed
                mine = [m for m in world.said(world.alice) if m.reply_to == status.id]
                return next((m for m in mine if m.text.startswith(f"{second} clip")), None)

            await eventually(its_own, f"the status message of {second}")
            jobs = await world.store.list_jobs()
    assert len(jobs) == 2 and jobs[0].state is JobState.DONE  # what it delivered stays
    assert jobs[1].source.startswith("media:mp3") and web.url("/clip.mp4") in jobs[1].source


async def test_a_link_to_a_file_that_is_not_media_offers_no_other_forms(world: World) -> None:
    """A person whose link setting sends every link to the media source (``link 720p``)
    sent a link to a ``.bin``: its status message offered Video 1080p / Audio MP3 of a
    file with no video or sound in it."""
    from tests.support.httpserve import serving as http_serving

    with http_serving() as web:
        web.add("/backup.bin", os.urandom(4096), content_type="application/octet-stream")
        async with serving(world):
            assert "link = 720p" in await reply_to(world, world.alice, "/settings link 720p")
            world.send(world.alice, web.url("/backup.bin"))
            (job,) = await eventually(lambda: _ended(world), "the link's job ended")
            assert job.source.startswith("media:")  # the media source took it
            status = await message_with(
                world, world.alice, data=f"j:{job.id}:report".encode(), text="Report"
            )
    assert not any(d.startswith(b"l:") for d in button_data(status))
    assert "Audio MP3" not in status.text and "Video 1080p" not in status.text


async def _ended(world: World) -> list[Job] | None:
    jobs = await world.store.list_jobs()
    return jobs if jobs and all(j.state.terminal for j in jobs) else None


async def test_a_list_being_chosen_from_comes_back_after_a_restart(world: World) -> None:
    zipped, entries = folders_zip(world.tmp)
    async with serving(world):
        world.send(world.alice, "choose", file=zipped.read_bytes(), name="trip.zip")
        listing = await message_with(world, world.alice, text="trip.zip: 12 files")
        if is_bot(world):
            row = row_of(listing, "c:")
            await press(world.server, world.alice, world.bot, listing.id, f"c:{row}:t4".encode())
            await message_with(world, world.alice, text="; 1 chosen")
    async with serving(world):  # ferryman stopped while the person chose

        async def listed_again() -> StoredMessage | None:
            lists = [m for m in world.said(world.alice) if "trip.zip: 12 files" in m.text]
            return lists[-1] if len(lists) == 2 else None

        again = await eventually(listed_again, "the list shown again")
        await held_unread(world)
        if is_bot(world):
            assert "; 1 chosen" in again.text  # the tick kept
            await press(world.server, world.alice, world.bot, again.id, f"c:{row}:go".encode())
        else:
            await reply_to_message(world, world.alice, again, "5")
        await job_in(world, JobState.DONE)
    (delivered,) = library_files(world.settings.library)
    assert delivered["disk_sha256"] == sha256(entries[sorted(entries)[4]])


@pytest.mark.parametrize(
    ("text", "picked"),
    [
        ("1 3 5-7", {0, 2, 4, 5, 6}),
        ("2,4", {1, 3}),
        ("11 12", {10}),  # past the list: ignored
        ("next", None),
        ("1 a", None),
        ("", None),
    ],
)
def test_a_user_accounts_numbers_pick_files(text: str, picked: set[int] | None) -> None:
    from ferryman.frontdoors.telegram.choose import numbers

    assert numbers(text, 11) == picked


async def test_a_list_dropped_deletes_the_download_and_leaves_no_job(world: World) -> None:
    zipped, _entries = folders_zip(world.tmp)
    async with serving(world):
        world.send(world.alice, "choose", file=zipped.read_bytes(), name="trip.zip")
        listing = await message_with(world, world.alice, text="trip.zip: 12 files")
        (row,) = await world.store.inbox_rows()
        job = await held_unread(world)
        fetched = await world.store.fetched(job.id)
        assert fetched is not None and fetched.path is not None and exists(fetched.path)
        if is_bot(world):
            data = f"c:{row.id}:x".encode()
            await press(world.server, world.alice, world.bot, listing.id, data)
        else:
            await reply_to_message(world, world.alice, listing, "drop")
        await message_with(world, world.alice, text="trip.zip: dropped; the download is deleted")
        assert not exists(str(Path(fetched.path).parent))
        (row,) = await world.store.inbox_rows()
        assert (row.state, row.error_code, row.job_id) == ("failed", "job.cancelled", None)
    async with serving(world):  # not listed again after a restart
        assert "no jobs yet" in await reply_to(world, world.alice, "/status")
    assert await world.store.list_jobs() == []
    assert not [m for m in world.said(world.alice) if m.text.count("trip.zip: 12 files")][1:]


async def test_a_person_presses_a_button_in_their_own_app(tmp_path: Path) -> None:
    """The press as a person's app makes it: ``messages.getBotCallbackAnswer`` from
    their own (real Telethon) client, answered with the bot's toast."""
    w = make_world(tmp_path)
    w.store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    app = await logged_in_client(w.server, w.alice)
    try:
        async with serving(w):
            w.send(w.alice, file=photo_zip(w.tmp).read_bytes(), name="trip.zip")
            job = await job_in(w, JobState.DONE)
            status = await message_with(w, w.alice, data=f"j:{job.id}:report".encode())
            assert status.twin is not None  # the same message in Alice's own chat
            bot = types.InputPeerUser(w.bot.id, w.bot.access_hash)
            request = functions.messages.GetBotCallbackAnswerRequest(
                bot, status.twin, data=f"j:{job.id}:report".encode()
            )
            answer = await app(request)
            assert answer.message == f"job {job.id}: the report is below"
            await message_with(w, w.alice, text=f"job {job.id} trip: done")
    finally:
        await app.disconnect()
        await w.store.close()


@needs_7zz
async def test_an_archive_whose_names_are_locked_comes_whole_instead_of_a_list(
    world: World,
) -> None:
    photos = make_photo_set(world.tmp / "src", 2)
    locked = world.tmp / "hidden.7z"
    seven("a", "-pK3y", "-mhe=on", locked, *[p.name for p in photos], cwd=photos[0].parent)
    async with serving(world):
        world.send(world.alice, "choose", file=locked.read_bytes(), name="hidden.7z")
        told = await message_with(world, world.alice, text="its files cannot be listed")
        assert "archive.password_required" in told.text and "everything comes instead" in told.text
        waiting = await job_in(world, JobState.NEEDS_PASSWORD)
        assert f"as job {waiting.id}" in told.text
        await reply_to(world, world.alice, "/pass K3y")
        await job_in(world, JobState.DONE, waiting.id)
    delivered = sorted(f["disk_sha256"] for f in library_files(world.settings.library))
    assert delivered == sorted(sha256(p) for p in photos)
