"""``telegram:-100…/topics``: a forum topic per top folder of the input, made once.

The real Telethon client against the fake Telegram, which makes topics as Telegram does
(a service message whose id is the topic's; a ``random_id`` repeated answers with the
first topic; a search by title).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from telethon.tl import functions

from ferryman.engine.ops import intake
from ferryman.errors import FerrymanError
from ferryman.model import ItemState, JobState
from ferryman.samples import make_zip
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
    ],
)
def test_a_files_topic_is_its_top_folder(path: str, title: str) -> None:
    assert folder_title(path, "job") == title
