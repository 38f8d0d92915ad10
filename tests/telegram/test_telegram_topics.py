"""``telegram:-100…/topics``: a forum topic per top folder of the input, made once.

The real Telethon client against the fake Telegram, which makes topics as Telegram does
(a service message whose id is the topic's; a ``random_id`` repeated answers with the
first topic; a search by title).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image
from telethon.tl import functions

from faketg.state import StoredMessage
from ferryman.engine.ops import intake
from ferryman.errors import FerrymanError
from ferryman.model import ItemState, JobState
from ferryman.samples import make_zip
from ferryman.sinks.telegram_index import Line, pages
from ferryman.sinks.telegram_target import telegram_target
from ferryman.sinks.telegram_topics import folder_title
from tests.telegram.test_telegram_sink import World


def _tree(root: Path, names: list[str]) -> list[tuple[str, Path]]:
    """Small photos at ``names`` (paths inside the archive), each of its own colour."""
    found = []
    for i, name in enumerate(names):
        path = root / f"{i:02d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (160, 120), (i * 37 % 255, 80, 150)).save(path, quality=90)
        found.append((name, path))
    return found


TREE = [
    "Day 1/a.jpg",
    "Day 1/b.jpg",
    "Day 1/c.jpg",
    "Day 2/d.jpg",
    "Day 2/sub/e.jpg",
    "cover.jpg",
]


def _forum_world(w: World) -> int:
    forum = w.server.add_channel("Trips", forum=True, broadcast=False, admins=[w.me])
    return forum.id


def _topics(w: World, forum_id: int) -> dict[str, int]:
    return {title: i for i, title in w.server.channels[forum_id].topic_titles.items()}


async def test_each_top_folder_gets_its_own_topic_and_files_at_the_top_one_named_after_the_job(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)
    forum_id = _forum_world(w)
    archive = make_zip(tmp_path / "trip.zip", _tree(tmp_path / "in", TREE))
    store = await w.store()
    job = await intake.add_source(store, archive, dest=f"telegram:-100{forum_id}/topics")
    await w.run(store)

    assert (await store.get_job(job.id)).state is JobState.DONE
    assert {it.state for it in await store.job_items(job.id)} == {ItemState.DELIVERED}
    topics = _topics(w, forum_id)
    assert set(topics) == {"Day 1", "Day 2", "trip"}
    chat = [m for m in w.server.chat(w.server.channels[forum_id]) if m.media is not None]
    by_topic: dict[int | None, int] = {}
    for m in chat:
        by_topic[m.topic_id] = by_topic.get(m.topic_id, 0) + 1
    assert by_topic == {topics["Day 1"]: 3, topics["Day 2"]: 2, topics["trip"]: 1}
    await store.close()


async def test_the_same_folder_in_a_later_job_goes_to_the_topic_made_before(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)
    forum_id = _forum_world(w)
    store = await w.store()
    first = make_zip(tmp_path / "one.zip", _tree(tmp_path / "a", ["Day 1/a.jpg"]))
    await intake.add_source(store, first, dest=f"telegram:-100{forum_id}/topics")
    await w.run(store)
    second = make_zip(tmp_path / "two.zip", _tree(tmp_path / "b", ["Day 1/z.jpg", "Day 3/y.jpg"]))
    await intake.add_source(store, second, dest=f"telegram:-100{forum_id}/topics")
    await w.run(store)

    topics = _topics(w, forum_id)
    assert sorted(topics) == ["Day 1", "Day 3"]  # Day 1 not made twice
    made = [n for _a, n in w.server.log if n == "CreateForumTopicRequest"]
    assert len(made) == 2
    chat = [m for m in w.server.chat(w.server.channels[forum_id]) if m.media is not None]
    assert sorted(m.topic_id for m in chat) == sorted([topics["Day 1"]] * 2 + [topics["Day 3"]])
    await store.close()


async def test_a_topic_whose_answer_was_lost_is_not_made_again(tmp_path: Path) -> None:
    """Telegram made the topic, but its answer never came (the link dropped, or the
    process was killed right after): the retry finds it, no second topic is made, and
    the album goes to it once."""
    w = await World.logged_in(tmp_path)
    forum_id = _forum_world(w)
    w.server.inject(functions.messages.CreateForumTopicRequest, "RPC_CALL_FAIL", after=True)
    archive = make_zip(tmp_path / "trip.zip", _tree(tmp_path / "in", ["Day 1/a.jpg"]))
    store = await w.store()
    job = await intake.add_source(store, archive, dest=f"telegram:-100{forum_id}/topics")
    await w.run(store)

    assert (await store.get_job(job.id)).state is JobState.DONE
    assert list(_topics(w, forum_id)) == ["Day 1"]
    chat = [m for m in w.server.chat(w.server.channels[forum_id]) if m.media is not None]
    assert [m.topic_id for m in chat] == [_topics(w, forum_id)["Day 1"]]
    await store.close()


async def test_a_forum_where_the_account_may_not_make_topics_fails_the_job_with_a_code(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)
    owner = w.server.add_user("Bob", username="bobby", phone="+1556")
    forum = w.server.add_channel(
        "Trips", forum=True, broadcast=False, admins=[owner], members=[w.me]
    )
    archive = make_zip(tmp_path / "trip.zip", _tree(tmp_path / "in", ["Day 1/a.jpg"]))
    store = await w.store()
    job = await intake.add_source(store, archive, dest=f"telegram:-100{forum.id}/topics")
    await w.run(store)

    ended = await store.get_job(job.id)
    assert ended.state is JobState.FAILED
    assert ended.error_code == "telegram.write_forbidden"
    assert forum.topic_titles == {}
    await store.close()


def test_topics_are_written_after_a_forum_chat_and_never_for_saved_messages() -> None:
    assert telegram_target("-1001234/topics").by_folder
    assert not telegram_target("-1001234/topic/7").by_folder
    with pytest.raises(FerrymanError, match="Saved Messages has no forum topics"):
        telegram_target("me/topics")
    with pytest.raises(FerrymanError, match="/topics for a topic per folder"):
        telegram_target("-1001234/topicz")


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("Day 1/a.jpg", "Day 1"),
        ("Day 1/sub/b.jpg", "Day 1"),
        ("a.jpg", "job"),
        ("/lead/x.jpg", "lead"),
        ("win\\dir\\x.jpg", "win"),
        ("x" * 200 + "/a.jpg", "x" * 128),
        ("x" * 127 + " y/a.jpg", "x" * 127),  # not ending on the space Telegram drops
        ("Cafe\u0301/a.jpg", "Caf\u00e9"),  # macOS's NFD, as Linux and Windows write it
        ("x" * 126 + "\U0001f468\u200d\U0001f469\u200d\U0001f467/a.jpg", "x" * 126),
        ("x" * 127 + "\U0001f44d\U0001f3fd/a.jpg", "x" * 127),  # not a thumb without its tone
        ("\u05d7\u05d5\u05e4\u05e9\u05d4 2024/a.jpg", "\u05d7\u05d5\u05e4\u05e9\u05d4 2024"),
    ],
)
def test_a_files_topic_is_its_top_folder(path: str, title: str) -> None:
    assert folder_title(path, "job") == title


def test_the_top_files_of_the_same_tree_again_go_to_the_first_jobs_topic() -> None:
    """The second job of ``trip.zip`` is called "trip (2)": its top files go to "trip"."""
    assert folder_title("a.jpg", "trip (2)") == folder_title("a.jpg", "trip") == "trip"
    assert folder_title("Day 1/a.jpg", "trip (2)") == "Day 1"


def _index_messages(w: World, forum_id: int) -> list[StoredMessage]:
    chat = w.server.chat(w.server.channels[forum_id])
    return [m for m in chat if m.media is None and m.action is None]


def _linked(text: str) -> set[str]:
    return set(re.findall(r"https://t\.me/c/\S+", text))


async def test_each_topic_has_an_index_of_links_to_every_file_edited_as_albums_arrive(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path, album_size=2)
    forum_id = _forum_world(w)
    archive = make_zip(tmp_path / "trip.zip", _tree(tmp_path / "in", TREE))
    store = await w.store()
    await intake.add_source(store, archive, dest=f"telegram:-100{forum_id}/topics")
    await w.run(store)

    topics = _topics(w, forum_id)
    forum = w.server.channels[forum_id]
    media = [m for m in w.server.chat(forum) if m.media is not None]
    indexes = _index_messages(w, forum_id)
    assert sorted(m.topic_id for m in indexes) == sorted(topics.values())  # one per topic
    for index in indexes:
        wanted = {
            f"https://t.me/c/{forum_id}/{index.topic_id}/{m.id}"
            for m in media
            if m.topic_id == index.topic_id
        }
        assert _linked(index.text) == wanted
    day1 = next(m for m in indexes if m.topic_id == topics["Day 1"])
    assert day1.text.startswith("trip — 3 files")
    assert day1.edits >= 1  # its 3 files came in two albums of at most two
    assert {m.id for m in indexes} <= forum.pinned
    await store.close()


async def test_a_long_index_goes_on_in_further_messages_within_telegrams_length(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path, telegram={"index": "always"})
    channel = w.server.add_channel("Big", admins=[w.me])
    names = [f"{'a-rather-long-file-name-' * 3}{i:03d}.jpg" for i in range(60)]
    archive = make_zip(tmp_path / "many.zip", _tree(tmp_path / "in", names))
    store = await w.store()
    await intake.add_source(store, archive, dest=f"telegram:-100{channel.id}")
    await w.run(store)

    chat = w.server.chat(channel)
    media = [m for m in chat if m.media is not None]
    pages = [m for m in chat if m.media is None]
    assert len(media) == 60
    assert len(pages) == 2 and all(len(p.text) <= 4096 for p in pages)
    assert set().union(*(_linked(p.text) for p in pages)) == {
        f"https://t.me/c/{channel.id}/{m.id}" for m in media
    }
    assert "(2 of 2)" in pages[1].text
    await store.close()


async def test_no_index_in_a_plain_chat_unless_asked(tmp_path: Path) -> None:
    w = await World.logged_in(tmp_path)
    store = await w.store()
    await intake.add_source(store, w.photo_zip(3), dest="telegram:@dest")
    await w.run(store)
    assert all(m.media is not None for m in w.server.chat(w.channel))
    await store.close()


async def test_an_index_whose_answer_was_lost_is_sent_once(tmp_path: Path) -> None:
    w = await World.logged_in(tmp_path)
    forum_id = _forum_world(w)
    w.server.inject(functions.messages.SendMessageRequest, "RPC_CALL_FAIL", after=True)
    w.server.inject(functions.messages.EditMessageRequest, "RPC_CALL_FAIL", after=True)
    archive = make_zip(tmp_path / "trip.zip", _tree(tmp_path / "in", ["Day 1/a.jpg", "b.jpg"]))
    store = await w.store()
    job = await intake.add_source(store, archive, dest=f"telegram:-100{forum_id}/topics")
    await w.run(store)

    assert (await store.get_job(job.id)).state is JobState.DONE
    indexes = _index_messages(w, forum_id)
    assert len(indexes) == 2  # one a topic, none twice
    media = [m for m in w.server.chat(w.server.channels[forum_id]) if m.media is not None]
    assert set().union(*(_linked(m.text) for m in indexes)) == {
        f"https://t.me/c/{forum_id}/{m.topic_id}/{m.id}" for m in media
    }
    await store.close()


def test_index_pages_keep_every_line_whole_and_under_the_length() -> None:
    lines = [Line(i // 10, i % 10, 5, f"{'x' * (i % 97)}{i}.jpg", 1000 + i) for i in range(400)]
    texts = pages("job", lines, 123)
    assert all(len(t) <= 4096 for t in texts)
    shown = [ln for t in texts for ln in t.splitlines()[1:]]
    assert len(shown) == 400
    assert shown[0].endswith("https://t.me/c/123/5/1000")
