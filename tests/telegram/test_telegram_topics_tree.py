"""``telegram:-100…/topics`` against the trees and forums users have: a forum already
full of topics, titles Telegram would trim, names in every script.

The real Telethon client against the fake Telegram; real zips of real JPEGs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from PIL import Image
from telethon.tl import functions

from faketg.people import person_deletes_topic, person_makes_topic
from ferryman.engine.ops import intake
from ferryman.model import JobState
from ferryman.samples import make_zip
from tests.support.waiting import eventually
from tests.telegram.test_telegram_sink import World


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
