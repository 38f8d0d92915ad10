"""SIGKILL the engine as it makes a forum's topics and the job's index
(``telegram:-100…/topics``): every topic made once, every photo sent once into its
folder's topic, and each topic's index one message that ends listing every file.

As ``test_telegram_crash``: the engine runs in a child reaching the fake over TCP; a
hook in the fake kills it right after the chosen request was handled, before its
answer leaves.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from telethon.tl import functions

from faketg.people import person_deletes_topic
from faketg.remote import serve
from ferryman.engine.ops import intake
from ferryman.model import ItemState, JobState
from ferryman.samples import make_zip
from ferryman.store import Store
from tests.crash.test_telegram_crash import Killer, World, nth
from tests.support.telegram_helpers import log_in

FOLDERS = {"Day 1": 12, "Day 2": 3, "": 2}  # folder -> photos ("": at the top); two albums


class ForumWorld(World):
    """A forum group the account administers, and one job of a folder tree to it."""

    async def start(self, photos: int = 0) -> None:
        await log_in(self.settings, self.server, self.me)
        self.forum = self.server.add_channel("Trips", forum=True, broadcast=False, admins=[self.me])
        entries = []
        for folder, count in FOLDERS.items():
            for i in range(count):
                path = self.tmp / "in" / (folder or "top") / f"p{i:02d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                colour = (len(entries) * 23 % 255, 90, 160)
                Image.new("RGB", (64, 48), colour).save(path, quality=90)
                entries.append((f"{folder}/{path.name}" if folder else path.name, path))
                self.inputs[entries[-1][0]] = hashlib.sha256(path.read_bytes()).hexdigest()
        archive = make_zip(self.tmp / "trip.zip", entries)
        store = await Store.open(self.settings.database)
        try:
            dest = f"telegram:-100{self.forum.id}/topics"
            self.job_id = (await intake.add_source(store, archive, dest=dest)).id
        finally:
            await store.close()
        self.remote = await serve(self.server)

    async def assert_whole(self) -> None:
        chat = self.server.chat(self.forum)
        titles = sorted(self.forum.topic_titles.values())
        assert titles == ["Day 1", "Day 2", "trip"], self.evidence()  # each made once
        topic = {title: i for i, title in self.forum.topic_titles.items()}
        media = [m for m in chat if m.media is not None]
        assert len(media) == len(self.inputs), self.evidence()
        by_hash = {m.media.file.sha256: m for m in media if m.media is not None}
        for name, digest in self.inputs.items():  # each photo once, in its folder's topic
            folder = name.split("/")[0] if "/" in name else "trip"
            assert by_hash[digest].topic_id == topic[folder], name
        indexes = [m for m in chat if m.media is None and m.action is None]
        assert sorted(m.topic_id for m in indexes) == sorted(topic.values()), self.evidence()
        for index in indexes:  # one a topic, listing every file of the topic
            linked = set(re.findall(r"https://t\.me/c/\S+", index.text))
            assert linked == {
                f"https://t.me/c/{self.forum.id}/{index.topic_id}/{m.id}"
                for m in media
                if m.topic_id == index.topic_id
            }, index.text
        store = await Store.open(self.settings.database)
        try:
            assert (await store.get_job(self.job_id)).state is JobState.DONE
            items = await store.job_items(self.job_id)
            assert {it.state for it in items} == {ItemState.DELIVERED}
        finally:
            await store.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("request_kind", "n"),
    [
        (functions.messages.CreateForumTopicRequest, 1),
        (functions.messages.CreateForumTopicRequest, 2),
        (functions.messages.SendMessageRequest, 1),  # an index made
        (functions.messages.EditMessageRequest, 1),  # an index edited
        (functions.messages.SendMultiMediaRequest, 2),
    ],
    ids=["topic-1", "topic-2", "index-made", "index-edited", "album-2"],
)
async def test_sigkill_while_topics_and_indexes_are_made_leaves_each_once(
    tmp_path: Path, request_kind: type, n: int
) -> None:
    w = ForumWorld(tmp_path)
    await w.start()
    try:
        await Killer(w.server, nth(request_kind, n)).run(w)
        await w.finish()
        await w.assert_whole()
    finally:
        await w.close()


class DeletesDay1:
    """An ``after_handle`` hook: the user deletes the "Day 1" topic (and the first
    album in it) right after that album was sent, as from their app."""

    def __init__(self, w: ForumWorld) -> None:
        self.w = w
        self.done = False

    def __call__(self, call: Any, request: Any, result: Any) -> None:
        if self.done or not isinstance(request, functions.messages.SendMultiMediaRequest):
            return
        self.done = True
        forum = self.w.forum
        day1 = next(i for i, t in forum.topic_titles.items() if t == "Day 1")
        person_deletes_topic(self.w.server, forum, day1)


@pytest.mark.slow
async def test_sigkill_as_a_deleted_topic_is_made_again_leaves_it_made_once(
    tmp_path: Path,
) -> None:
    """The user deletes "Day 1" after its first album; the next album is answered
    TOPIC_DELETED, and the engine is killed right after it made "Day 1" again (the
    answer lost). The restart finds that topic: it is made once, the rest of the job
    goes once into the topics that exist, and the deleted album is not sent again."""
    w = ForumWorld(tmp_path)
    await w.start()
    deletes = DeletesDay1(w)
    w.server.after_handle.append(deletes)
    try:
        await Killer(w.server, nth(functions.messages.CreateForumTopicRequest, 4)).run(w)
        await w.finish()
        assert deletes.done
        forum = w.forum
        assert sorted(forum.topic_titles.values()) == ["Day 1", "Day 2", "trip"], w.evidence()
        made = [n for _a, n in w.server.log if n == "CreateForumTopicRequest"]
        assert len(made) == 4  # Day 1, Day 2, trip, Day 1 again: none twice
        topic = {title: i for i, title in forum.topic_titles.items()}
        media = [m for m in w.server.chat(forum) if m.media is not None]
        assert len(media) == 17 - 10, w.evidence()  # the first album went with its topic
        by_hash = {m.media.file.sha256: m for m in media if m.media is not None}
        assert len(by_hash) == len(media)  # none twice
        for m in media:
            name = next(n for n, d in w.inputs.items() if d == m.media.file.sha256)
            assert m.topic_id == topic[name.split("/")[0] if "/" in name else "trip"], name
        store = await Store.open(w.settings.database)
        try:
            assert (await store.get_job(w.job_id)).state is JobState.DONE
        finally:
            await store.close()
    finally:
        await w.close()
