"""A forum topic per folder (``telegram:-100…/topics``): each top folder of a job's input
goes to a topic of its own, named after it; the files at the input's top go to one named
after the job.

A topic is made exactly once, across kills and restarts, and reused when the same
folder comes again (another job, another data folder): before making one, the forum is
searched for an open topic of that exact title; making it sends a ``random_id`` claimed
in the store first (``SinkState.claim``: the first writer wins), so a repeat after a
crash repeats the same request, which Telegram answers with the first one's topic. The
topic's id is recorded before any album goes to it. Telegram knows a ``random_id`` per
account, so only the account that claimed it makes the topic; another account of the
pool meeting a claim not yet made waits for it (the album is retried).
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from typing import Any

from telethon import errors as tg
from telethon.tl import functions, types

from ferryman.errors import FerrymanError
from ferryman.model import SinkRecord
from ferryman.naming import uncounted
from ferryman.sinks.base import SinkState
from ferryman.sinks.layout import input_folders
from ferryman.sinks.telegram_state import new_random_id
from ferryman.telegram.errors import from_telethon

log = logging.getLogger(__name__)

TITLE_MAX = 128  # Telegram's longest topic title
SEARCH_LIMIT = 100  # topics asked for per page of a search (Telegram's most)
SEARCH_PAGES = 100  # pages followed at most: 10,000 topics sharing a title's words
_KEY = "topic:"


def folder_title(source_path: str, job_name: str) -> str:
    """The topic a file goes to: its input's top folder, or the job's name (without the
    count a second job of the same name gets) for a file at the top (a flat input is one
    topic). A first folder named as the job is not a topic of its own: a zipped folder
    (``Holiday.zip`` holding ``Holiday/``, the job then named "Holiday") gets a topic per
    folder inside it, as the library's layout drops it (``layout.input_folders``). Cut to
    Telegram's 128 characters as its apps cut a title (TDLib's ``clean_name``): NFC,
    without the spaces around it, so the title ferryman looks for in a later job is the
    one Telegram kept."""
    parts = source_path.replace("\\", "/").strip("/").split("/")[:-1]
    folders = input_folders(source_path, job_name) if parts else ""
    first = folders.split("/")[0] if folders else ""
    top = uncounted(job_name)  # "trip (2)", the same tree again: its files go to "trip"
    title = first.strip() or top.strip() or "ferryman"
    return _cut(unicodedata.normalize("NFC", title))


def _cut(title: str) -> str:
    """At most ``TITLE_MAX`` characters, not ending inside a character a reader sees as
    one (a combining accent, an emoji's joiner, skin tone or presentation selector after
    the cut would be lost, leaving half a letter or half a family emoji), nor on a space."""
    if len(title) <= TITLE_MAX:
        return title
    end = TITLE_MAX
    while end > 1 and (_joins(title[end]) or title[end - 1] == _ZWJ):
        end -= 1
    return title[:end].rstrip() or title[:TITLE_MAX]


_ZWJ = "\u200d"


def _joins(char: str) -> bool:
    """Whether ``char`` belongs to the character before it."""
    return (
        char == _ZWJ
        or unicodedata.combining(char) != 0
        or "\ufe00" <= char <= "\ufe0f"
        or "\U0001f3fb" <= char <= "\U0001f3ff"
        or "\U000e0020" <= char <= "\U000e007f"
    )


class ForumTopics:
    """A job's topics in one forum, through the sink's ``SinkState``."""

    def __init__(self, state: SinkState) -> None:
        self.state = state

    async def topic_for(
        self, client: Any, peer: Any, job_id: int, title: str, account: str | None
    ) -> int:
        """The topic's id (its first message's), found, or made once and recorded."""
        key = _KEY + title
        record = await self._record(job_id, key)
        if record is not None and record.value.get("id"):
            return int(record.value["id"])
        found = await _search(client, peer, title)
        if found is not None:
            await self._made(job_id, key, record, found, account)
            return found
        claimed = (
            await self.state.claim(
                job_id, [SinkRecord(key, {"random_id": new_random_id(), "account": account})]
            )
        )[0]
        if claimed.value.get("id"):
            return int(claimed.value["id"])
        if claimed.value.get("account") != account:
            raise FerrymanError(
                "telegram.server",
                f"the topic '{title}' is being made through another account; tried again soon",
            )
        made = await _create(client, peer, title, int(claimed.value["random_id"]))
        if made is None:  # the same random_id again while the first was being made
            made = await _search(client, peer, title)
        if made is None:
            raise FerrymanError("telegram.server", f"Telegram made no topic '{title}'")
        await self._made(job_id, key, claimed, made, account)
        log.info("job %s: forum topic '%s' is %s", job_id, title, made)
        return made

    async def recorded(self, job_id: int) -> dict[str, int]:
        """The job's topics made or found so far: title → id."""
        return {
            r.key.removeprefix(_KEY): int(r.value["id"])
            for r in await self.state.records(job_id)
            if r.key.startswith(_KEY) and r.value.get("id")
        }

    async def forget(self, job_id: int, topic: int, account: str | None) -> bool:
        """The user deleted ``topic`` (Telegram answered a post to it ``TOPIC_DELETED``):
        its folder's record gets a new ``random_id`` and no id, so the next album makes
        the topic again, once (the old id would replay the deleted one). Whether a record
        named it."""
        gone = [
            r
            for r in await self.state.records(job_id)
            if r.key.startswith(_KEY) and r.value.get("id") == topic
        ]
        fresh = {"random_id": new_random_id(), "account": account, "gone": topic}
        await self.state.put(job_id, [SinkRecord(r.key, fresh) for r in gone])
        for r in gone:
            log.warning("job %s: forum topic '%s' (%s) was deleted", job_id, r.key[6:], topic)
        return bool(gone)

    async def gone(self, job_id: int) -> set[int]:
        """The job's topics the user deleted: no index is written there any more."""
        return {
            int(r.value["gone"])
            for r in await self.state.records(job_id)
            if r.key.startswith(_KEY) and r.value.get("gone")
        }

    async def _record(self, job_id: int, key: str) -> SinkRecord | None:
        return next((r for r in await self.state.records(job_id) if r.key == key), None)

    async def _made(
        self, job_id: int, key: str, record: SinkRecord | None, topic: int, account: str | None
    ) -> None:
        value: dict[str, Any] = dict(record.value) if record is not None else {"account": account}
        value["id"] = topic
        await self.state.put(job_id, [SinkRecord(key, value)])


async def _search(client: Any, peer: Any, title: str) -> int | None:
    """An open topic of exactly this title (the oldest, if several), or None. A search
    answers 100 topics at most, newest first, and its ``q`` matches every title holding
    the words ("Summer" finds "Summer 2019" too): the pages are followed to the end, so
    the folder's topic is found however many newer ones share its words."""
    ids: list[int] = []
    offset: tuple[Any, int, int] = (None, 0, 0)
    for _page in range(SEARCH_PAGES):
        try:
            found = await client(
                functions.messages.GetForumTopicsRequest(
                    peer=peer,
                    offset_date=offset[0],
                    offset_id=offset[1],
                    offset_topic=offset[2],
                    limit=SEARCH_LIMIT,
                    q=title,
                )
            )
        except Exception as exc:
            raise _topic_error(exc) from exc
        topics = [t for t in getattr(found, "topics", []) if isinstance(t, types.ForumTopic)]
        ids += [t.id for t in topics if t.title == title and not t.closed]
        if len(topics) < SEARCH_LIMIT or (topics[-1].id >= offset[2] and offset[2]):
            break  # the last page (or a server that does not move on)
        last = topics[-1]
        offset = (last.date, int(last.top_message), int(last.id))
    return min(ids) if ids else None


async def _create(client: Any, peer: Any, title: str, random_id: int) -> int | None:
    """The new topic's id; None when Telegram is still making it from the same
    ``random_id`` (a repeat of a request that has not been answered yet)."""
    for attempt in range(4):
        try:
            result = await client(
                functions.messages.CreateForumTopicRequest(
                    peer=peer, title=title, random_id=random_id
                )
            )
        except tg.RandomIdDuplicateError:
            await asyncio.sleep(0.25 * 2**attempt)
            continue
        except Exception as exc:
            raise _topic_error(exc) from exc
        return _topic_id(result)
    return None


def _topic_id(result: Any) -> int:
    """The topic-created service message's id: the topic's."""
    for update in getattr(result, "updates", []):
        message = getattr(update, "message", None)
        if isinstance(message, types.MessageService) and isinstance(
            message.action, types.MessageActionTopicCreate
        ):
            return int(message.id)
    for update in getattr(result, "updates", []):
        if isinstance(update, types.UpdateMessageID):
            return int(update.id)
    raise FerrymanError("telegram.server", "Telegram's answer named no new topic")


def _topic_error(exc: BaseException) -> FerrymanError:
    """Not a forum, or no right to make topics there: the destination's fault."""
    if isinstance(exc, tg.ChannelForumMissingError):
        return FerrymanError(
            "telegram.peer_invalid", "the chat is not a forum: /topics needs a forum group"
        )
    return from_telethon(exc)


__all__ = ["ForumTopics", "folder_title"]
