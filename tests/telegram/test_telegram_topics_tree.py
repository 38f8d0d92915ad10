"""``telegram:-100…/topics`` against the trees and forums users have: a forum already
full of topics, titles Telegram would trim, names in every script.

The real Telethon client against the fake Telegram; real zips of real JPEGs.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from telethon.tl import functions

from faketg.people import person_deletes_message, person_deletes_topic, person_makes_topic
from ferryman.engine.ops import intake
from ferryman.model import JobState
from ferryman.samples import make_zip
from tests.support.clock import ManualClock
from tests.support.waiting import eventually
from tests.telegram.test_telegram_sink import World, telegram_state


def _tree(root: Path, names: list[str]) -> list[tuple[str, Path]]:
    """Small photos at ``names`` (paths inside the archive), each of its own colour."""
    found = []
    for i, name in enumerate(names):
        path = root / f"{i:03d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (96, 64), (i * 37 % 255, 80, 150)).save(path, quality=90)
        found.append((name, path))
    return found


def _made(w: World) -> int:
    return sum(1 for _a, n in w.server.log if n == "CreateForumTopicRequest")


async def test_a_folders_topic_is_found_among_more_topics_than_one_search_answers(
    tmp_path: Path,
) -> None:
    """The forum's "Summer" topic is the oldest of 150 whose titles hold "Summer" (a
    search answers 100 at most, newest first): a later job's Summer folder goes to it,
    no second "Summer" is made."""
    w = await World.logged_in(tmp_path)
    owner = w.server.add_user("Bob", username="bobby", phone="+1556")
    forum = w.server.add_channel("Trips", forum=True, broadcast=False, admins=[owner, w.me])
    summer = person_makes_topic(w.server, owner, forum, "Summer")
    for n in range(150):
        person_makes_topic(w.server, owner, forum, f"Summer {2000 + n}")
    archive = make_zip(tmp_path / "trip.zip", _tree(tmp_path / "in", ["Summer/a.jpg"]))
    store = await w.store()
    job = await intake.add_source(store, archive, dest=f"telegram:-100{forum.id}/topics")
    await w.run(store)

    assert (await store.get_job(job.id)).state is JobState.DONE
    assert _made(w) == 0
    assert list(forum.topic_titles.values()).count("Summer") == 1
    media = [m for m in w.server.chat(forum) if m.media is not None]
    assert [m.topic_id for m in media] == [summer]
    await store.close()


async def test_a_long_folder_name_cut_at_a_space_is_the_same_topic_in_the_next_job(
    tmp_path: Path,
) -> None:
    """A name longer than a title's 128 characters whose cut falls at a space: the title
    Telegram keeps has no trailing space, and the next job of the same tree finds it."""
    name = "A" * 127 + " Summer in the mountains"
    w = await World.logged_in(tmp_path)
    forum = w.server.add_channel("Trips", forum=True, broadcast=False, admins=[w.me])
    store = await w.store()
    for n in range(2):
        zipped = make_zip(tmp_path / f"t{n}.zip", _tree(tmp_path / f"in{n}", [f"{name}/a.jpg"]))
        job = await intake.add_source(store, zipped, dest=f"telegram:-100{forum.id}/topics")
        await w.run(store)
        assert (await store.get_job(job.id)).state is JobState.DONE

    assert list(forum.topic_titles.values()) == ["A" * 127]
    assert _made(w) == 1
    media = [m for m in w.server.chat(forum) if m.media is not None]
    assert len(media) == 2 and {m.topic_id for m in media} == set(forum.topic_titles)
    await store.close()


async def test_a_topic_deleted_while_its_folder_is_delivered_is_made_again(
    tmp_path: Path,
) -> None:
    """The user deletes the "Day 1" topic (and the album already in it) while the
    folder's next album is on its way: Telegram answers that send TOPIC_DELETED. The
    album goes to a new "Day 1" topic, made once, and the job ends; the other topic's
    index is still written."""
    w = await World.logged_in(tmp_path, album_size=1)
    forum = w.server.add_channel("Trips", forum=True, broadcast=False, admins=[w.me])
    names = ["Day 1/a.jpg", "Day 2/b.jpg", "Day 1/c.jpg"]
    archive = make_zip(tmp_path / "trip.zip", _tree(tmp_path / "in", names))
    sends: list[object] = []
    held = w.server.hold(
        functions.messages.SendMediaRequest,
        match=lambda r: sends.append(r) is None and len(sends) == 3,
    )
    store = await w.store()
    job = await intake.add_source(store, archive, dest=f"telegram:-100{forum.id}/topics")
    running = asyncio.create_task(w.run(store))

    async def waiting() -> bool:
        return held.waiting == 1

    await eventually(waiting, "the third album's send held")
    day1 = next(i for i, t in forum.topic_titles.items() if t == "Day 1")
    person_deletes_topic(w.server, forum, day1)
    held.release()
    await running

    ended = await store.get_job(job.id)
    assert ended.state is JobState.DONE, ended.error_code
    assert sorted(forum.topic_titles.values()) == ["Day 1", "Day 2"]
    assert _made(w) == 3  # Day 1, Day 2, Day 1 again
    again = next(i for i, t in forum.topic_titles.items() if t == "Day 1")
    chat = w.server.chat(forum)
    media = [m for m in chat if m.media is not None]
    day2 = next(i for i, t in forum.topic_titles.items() if t == "Day 2")
    assert sorted(m.topic_id for m in media) == sorted([again, day2])  # c once, b once
    indexes = [m for m in chat if m.media is None and m.action is None]
    assert sorted(m.topic_id for m in indexes) == sorted(forum.topics)
    await store.close()


async def test_a_flood_wait_on_making_a_topic_holds_the_album_and_makes_it_once_after(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)
    forum = w.server.add_channel("Trips", forum=True, broadcast=False, admins=[w.me])
    clock = ManualClock(start=1_000_000.0)  # the engine's, the store's and Telegram's
    w.server.clock = clock.now
    w.server.inject(functions.messages.CreateForumTopicRequest, "FLOOD_WAIT_300")
    archive = make_zip(tmp_path / "trip.zip", _tree(tmp_path / "in", ["Day 1/a.jpg", "b.jpg"]))
    store = await w.store(clock=clock.now)
    job = await intake.add_source(store, archive, dest=f"telegram:-100{forum.id}/topics")

    await w.run_until_told_to_wait(store, clock)
    waits = await telegram_state(store).wait_until(["account"])
    assert waits == pytest.approx(clock.now() + 300)
    assert forum.topic_titles == {}
    assert [m for m in w.server.chat(forum) if m.media is not None] == []

    clock.set_wall(clock.now() + 301)
    await w.run(store)
    assert (await store.get_job(job.id)).state is JobState.DONE
    assert sorted(forum.topic_titles.values()) == ["Day 1", "trip"]
    assert _made(w) == 3  # the one refused, then each topic once
    media = [m for m in w.server.chat(forum) if m.media is not None]
    assert sorted(m.topic_id for m in media) == sorted(forum.topic_titles)
    await store.close()


async def test_a_group_that_is_not_a_forum_fails_the_job_with_a_code_and_posts_nothing(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)
    group = w.server.add_channel("Plain", broadcast=False, admins=[w.me])
    archive = make_zip(tmp_path / "trip.zip", _tree(tmp_path / "in", ["Day 1/a.jpg"]))
    store = await w.store()
    job = await intake.add_source(store, archive, dest=f"telegram:-100{group.id}/topics")
    await w.run(store)

    ended = await store.get_job(job.id)
    assert ended.state is JobState.FAILED
    assert ended.error_code == "telegram.peer_invalid"
    assert w.server.chat(group) == []
    await store.close()


def _zip_tree(tmp_path: Path, files: list[str], empty: list[str]) -> Path:
    """The tree as folders on disk, zipped by Info-ZIP's ``zip -r`` (empty folders kept,
    names as the disk has them: a macOS NFD name stays NFD)."""
    root = tmp_path / "tree"
    for name, path in _tree(tmp_path / "jpg", files):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        path.rename(root / name)
    for folder in empty:
        (root / folder).mkdir(parents=True)
    return _zip(root, tmp_path / "tree.zip", ".")


def _zip(root: Path, out: Path, what: str) -> Path:
    """``what`` (under ``root``) zipped by Info-ZIP's ``zip -r`` into ``out``."""
    subprocess.run(["zip", "-qr", str(out), what], cwd=root, check=True)
    return out


TREE = [
    "2023/Summer/Alps/day1/morning/a.jpg",  # five folders deep
    "2023/Summer/b.jpg",
    "2024/Summer/c.jpg",  # the same name in another parent
    "Beach/d.jpg",
    "beach/e.jpg",  # differs only by case
    "Cafe\u0301/f.jpg",  # NFD, as macOS writes it
    "\U0001f3d6\ufe0f Vacances/g.jpg",
    "\u05d7\u05d5\u05e4\u05e9\u05d4/h.jpg",  # Hebrew, right to left
    "One/i.jpg",
    "root.jpg",
]


async def test_a_whole_tree_goes_to_a_topic_per_top_folder_and_a_second_run_reuses_them(
    tmp_path: Path,
) -> None:
    big = [f"Big/{n:03d}.jpg" for n in range(250)]
    archive = _zip_tree(tmp_path, TREE + big, ["Empty", "2023/Nothing/here"])
    w = await World.logged_in(tmp_path)
    forum = w.server.add_channel("Trips", forum=True, broadcast=False, admins=[w.me])
    store = await w.store()
    later = tmp_path / "later" / "tree.zip"  # the same tree zipped again, another day
    later.parent.mkdir()
    shutil.copy(archive, later)
    for zipped in (archive, later):
        job = await intake.add_source(store, zipped, dest=f"telegram:-100{forum.id}/topics")
        await w.run(store, limit=300)
        assert (await store.get_job(job.id)).state is JobState.DONE

    titles = {
        "2023": 2,
        "2024": 1,
        "Beach": 1,
        "beach": 1,
        "Caf\u00e9": 1,
        "\U0001f3d6\ufe0f Vacances": 1,
        "\u05d7\u05d5\u05e4\u05e9\u05d4": 1,
        "One": 1,
        "Big": 250,
        "tree": 1,
    }
    assert sorted(forum.topic_titles.values()) == sorted(titles)  # each once, none twice
    assert _made(w) == len(titles)
    by_id = {i: t for i, t in forum.topic_titles.items()}
    chat = w.server.chat(forum)
    media = [m for m in chat if m.media is not None]
    counts: dict[str, int] = {}
    for m in media:
        counts[by_id[m.topic_id]] = counts.get(by_id[m.topic_id], 0) + 1
    assert counts == {t: 2 * n for t, n in titles.items()}  # two jobs, each file each time
    indexes = [m for m in chat if m.media is None and m.action is None]
    assert all(len(m.text) <= 4096 for m in indexes)
    big_pages = [m for m in indexes if by_id[m.topic_id] == "Big"]
    assert len(big_pages) >= 2 * 3  # each job's 250 lines over three pages at least
    linked = set().union(*(re.findall(r"https://t\.me/c/\S+", m.text) for m in indexes))
    assert linked == {f"https://t.me/c/{forum.id}/{m.topic_id}/{m.id}" for m in media}
    await store.close()


async def test_two_jobs_of_the_same_tree_at_once_share_each_folders_topic(
    tmp_path: Path,
) -> None:
    """The same tree added twice before the engine runs (two copies, another day's
    export): the jobs go side by side, yet each folder has one topic."""
    w = await World.logged_in(tmp_path, album_size=1)
    forum = w.server.add_channel("Trips", forum=True, broadcast=False, admins=[w.me])
    names = ["Day 1/a.jpg", "Day 2/b.jpg", "Day 3/c.jpg", "d.jpg"]
    store = await w.store()
    jobs = []
    for n in range(2):
        zipped = make_zip(tmp_path / f"c{n}" / "trip.zip", _tree(tmp_path / f"in{n}", names))
        jobs.append(await intake.add_source(store, zipped, dest=f"telegram:-100{forum.id}/topics"))
    await w.run(store)

    for job in jobs:
        assert (await store.get_job(job.id)).state is JobState.DONE
    assert sorted(forum.topic_titles.values()) == ["Day 1", "Day 2", "Day 3", "trip"]
    media = [m for m in w.server.chat(forum) if m.media is not None]
    assert len(media) == 8 and {m.topic_id for m in media} == set(forum.topic_titles)
    await store.close()


async def test_an_index_message_the_user_deleted_leaves_the_other_topics_indexes_written(
    tmp_path: Path,
) -> None:
    """The user deletes topic A's index while the job runs: A's index can no longer be
    edited, but B's, written after it, still lists every one of B's files."""
    w = await World.logged_in(tmp_path, album_size=1)
    forum = w.server.add_channel("Trips", forum=True, broadcast=False, admins=[w.me])
    names = ["A/1.jpg", "B/2.jpg", "A/3.jpg", "B/4.jpg"]
    archive = make_zip(tmp_path / "trip.zip", _tree(tmp_path / "in", names))
    sends: list[object] = []
    held = w.server.hold(
        functions.messages.SendMediaRequest,
        match=lambda r: sends.append(r) is None and len(sends) == 3,
    )
    store = await w.store()
    job = await intake.add_source(store, archive, dest=f"telegram:-100{forum.id}/topics")
    running = asyncio.create_task(w.run(store))

    async def waiting() -> bool:
        return held.waiting == 1

    await eventually(waiting, "the third album's send held")
    topic_a = next(i for i, t in forum.topic_titles.items() if t == "A")
    chat = w.server.chat(forum)
    index_a = next(
        m for m in chat if m.media is None and m.action is None and m.topic_id == topic_a
    )
    person_deletes_message(w.server, forum, index_a.id)
    held.release()
    await running

    assert (await store.get_job(job.id)).state is JobState.DONE
    topic_b = next(i for i, t in forum.topic_titles.items() if t == "B")
    chat = w.server.chat(forum)
    in_b = {m.id for m in chat if m.media is not None and m.topic_id == topic_b}
    index_b = [m for m in chat if m.media is None and m.action is None and m.topic_id == topic_b]
    assert len(index_b) == 1 and len(in_b) == 2
    linked = set(re.findall(r"https://t\.me/c/\S+", index_b[0].text))
    assert linked == {f"https://t.me/c/{forum.id}/{topic_b}/{i}" for i in in_b}
    await store.close()


async def test_a_member_who_may_not_make_topics_posts_into_the_topics_an_admin_made(
    tmp_path: Path,
) -> None:
    """Only admins make topics here, and the admin made "Day 1" beforehand: a member's
    job of that folder goes into it, and makes nothing."""
    w = await World.logged_in(tmp_path)
    owner = w.server.add_user("Bob", username="bobby", phone="+1556")
    forum = w.server.add_channel(
        "Trips", forum=True, broadcast=False, admins=[owner], members=[w.me]
    )
    day1 = person_makes_topic(w.server, owner, forum, "Day 1")
    archive = make_zip(tmp_path / "trip.zip", _tree(tmp_path / "in", ["Day 1/a.jpg"]))
    store = await w.store()
    job = await intake.add_source(store, archive, dest=f"telegram:-100{forum.id}/topics")
    await w.run(store)

    assert (await store.get_job(job.id)).state is JobState.DONE
    assert _made(w) == 0
    media = [m for m in w.server.chat(forum) if m.media is not None]
    assert [m.topic_id for m in media] == [day1]
    await store.close()


async def test_a_zipped_folder_gets_a_topic_per_folder_inside_it(tmp_path: Path) -> None:
    """ "Compress" on a folder (Finder, Explorer, ``zip -r Holiday.zip Holiday``) makes a
    zip whose every file lies in that one folder, and the job is named after it: the
    topics are the folders inside it (its own files go to the job's topic), not one
    topic for the whole tree."""
    root = tmp_path / "disk"
    names = ["Holiday 2024/Day 1/a.jpg", "Holiday 2024/Day 2/b.jpg", "Holiday 2024/c.jpg"]
    for name, path in _tree(tmp_path / "jpg", names):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        path.rename(root / name)
    archive = _zip(root, tmp_path / "Holiday 2024.zip", "Holiday 2024")
    w = await World.logged_in(tmp_path)
    forum = w.server.add_channel("Trips", forum=True, broadcast=False, admins=[w.me])
    store = await w.store()
    job = await intake.add_source(store, archive, dest=f"telegram:-100{forum.id}/topics")
    await w.run(store)

    assert (await store.get_job(job.id)).name == "Holiday 2024"
    assert sorted(forum.topic_titles.values()) == ["Day 1", "Day 2", "Holiday 2024"]
    media = [m for m in w.server.chat(forum) if m.media is not None]
    assert len(media) == 3 and {m.topic_id for m in media} == set(forum.topic_titles)
    await store.close()
