"""A job's index in its chat (``telegram.index``): one message listing every file that
went, each as a link to its message (``t.me/c/…``), edited in place as albums arrive,
continued in further messages past Telegram's length, the first pinned where the
account may. With a topic per folder (``/topics``), each topic has its own index.

Exactly once, as albums are: an album's lines are recorded (``index-album:<id>``) before
the index is written, each page's message is sent with a ``random_id`` claimed in the
store first (``index-page:<topic>:<n>``: a repeat after a kill names the same message),
and the text a page was last given is recorded after Telegram took it; the index is
rewritten from the records, so a page left stale by a kill is made right by the repeat
of the album the kill interrupted (the sink writes the index before the album is
recorded delivered), and by every album after. Only a page's sender may edit it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from telethon import errors as tg
from telethon.tl import functions, types

from ferryman.errors import FerrymanError
from ferryman.model import SinkRecord
from ferryman.sinks.base import SinkState
from ferryman.sinks.telegram_state import PlannedSend, new_random_id
from ferryman.telegram.errors import TelegramWait, from_telethon
from ferryman.telegram.outgoing import Outgoing

log = logging.getLogger(__name__)

PAGE_CHARS = 4000  # Telegram's 4096 for a text message, with room for the header
_ALBUM = "index-album:"
_PAGE = "index-page:"
INDEX_MODES = ("off", "topics", "always")


@dataclass(frozen=True, slots=True)
class Line:
    """One delivered file of the index: its album's number, its topic, its message."""

    seq: int
    slot: int
    topic: int | None
    name: str
    message_id: int


def link(channel_id: int, topic: int | None, message_id: int) -> str:
    """A message's link as Telegram clients open it (a member of a private chat too)."""
    if topic:
        return f"https://t.me/c/{channel_id}/{topic}/{message_id}"
    return f"https://t.me/c/{channel_id}/{message_id}"


def pages(title: str, lines: Sequence[Line], channel_id: int) -> list[str]:
    """The index's texts: a header, then a file a line in album order, cut into pages of
    at most ``PAGE_CHARS`` (a line never split); the pages after the first say so."""
    count = len(lines)
    header = f"{title} — {count} file{'s' if count != 1 else ''}"
    body = [
        f"{line.name} — {link(channel_id, line.topic, line.message_id)}"
        for line in sorted(lines, key=lambda x: (x.seq, x.slot))
    ]
    out: list[list[str]] = [[]]
    size = len(header)
    for text in body:
        text = text if len(text) < PAGE_CHARS - 80 else text[: PAGE_CHARS - 81] + "…"
        if out[-1] and size + 1 + len(text) > PAGE_CHARS:
            out.append([])
            size = len(header) + 12
        out[-1].append(text)
        size += 1 + len(text)
    first = "\n".join([header, *out[0]])
    rest = [
        "\n".join([f"{header} ({n} of {len(out)})", *page])
        for n, page in enumerate(out[1:], start=2)
    ]
    return [first, *rest]


def album_record(album_id: int, lines: Sequence[Line]) -> SinkRecord:
    value = {
        "lines": [[x.seq, x.slot, x.topic, x.name, x.message_id] for x in lines],
    }
    return SinkRecord(f"{_ALBUM}{album_id}", value, album_id)


def recorded_lines(records: Sequence[SinkRecord]) -> list[Line]:
    return [
        Line(int(seq), int(slot), topic, str(name), int(message_id))
        for r in records
        if r.key.startswith(_ALBUM)
        for seq, slot, topic, name, message_id in r.value["lines"]
    ]


# What the index asks of the sink: a member's client by account name (None: the own).
ClientOf = Callable[[str | None], Any]


class JobIndex:
    """A job's index pages, through the sink's ``SinkState``."""

    def __init__(self, state: SinkState) -> None:
        self.state = state

    async def record_album(
        self,
        album_id: int,
        seq: int,
        sent: Sequence[PlannedSend],
        files: Mapping[tuple[int, int], Outgoing],
        topic_of: Callable[[Outgoing], int | None],
    ) -> None:
        """The album's sent files as lines of its job's index (a repeat writes the same)."""
        lines = [
            Line(seq, s.slot, topic_of(f), f.name, s.message_id)
            for s in sent
            if (f := files.get((s.item_id, s.part))) is not None and s.message_id is not None
        ]
        if lines:
            await self.state.put(sent[0].job_id, [album_record(album_id, lines)])

    async def write(
        self,
        job_id: int,
        title: str,
        peer: Any,
        account: str | None,
        client_of: ClientOf,
    ) -> None:
        """Every topic's pages made to match the job's recorded lines: sent where new
        (by ``account``, the album's), edited where their text changed (by their sender).
        A wait Telegram asks for is raised (the album is tried again after it); any
        other refusal (a page the user deleted) is logged, leaves that topic's index as
        it is and the other topics' written, and the album stands (the index is
        cosmetic)."""
        channel_id = getattr(peer, "channel_id", None)
        if channel_id is None:
            return  # no links to a private chat's messages
        records = await self.state.records(job_id)
        by_topic: dict[int | None, list[Line]] = {}
        for line in recorded_lines(records):
            by_topic.setdefault(line.topic, []).append(line)
        kept = {r.key: r for r in records if r.key.startswith(_PAGE)}
        for topic, lines in sorted(by_topic.items(), key=lambda kv: kv[0] or 0):
            texts = pages(title, lines, channel_id)
            for n, text in enumerate(texts):
                key = f"{_PAGE}{topic or 0}:{n}"
                try:
                    await self._page(
                        job_id, key, kept.get(key), text, peer, topic, account, client_of
                    )
                except TelegramWait:
                    raise
                except FerrymanError as exc:  # this topic's: the others are still written
                    log.warning("job %s: its index not written: %s", job_id, exc.message)
                    break

    async def _page(
        self,
        job_id: int,
        key: str,
        record: SinkRecord | None,
        text: str,
        peer: Any,
        topic: int | None,
        account: str | None,
        client_of: ClientOf,
    ) -> None:
        if record is not None and record.value.get("message_id"):
            if record.value.get("text") == text:
                return
            client = await _client(client_of, record.value.get("account"))
            await _edit(client, peer, int(record.value["message_id"]), text)
            await self.state.put(job_id, [SinkRecord(key, {**record.value, "text": text})])
            return
        claimed = (
            await self.state.claim(
                job_id, [SinkRecord(key, {"random_id": new_random_id(), "account": account})]
            )
        )[0]
        sender = claimed.value.get("account")
        client = await _client(client_of, sender)
        message_id = await _send(client, peer, text, int(claimed.value["random_id"]), topic)
        value = {**claimed.value, "message_id": message_id, "text": text}
        await self.state.put(job_id, [SinkRecord(key, value)])
        if key.endswith(":0"):
            await _pin(client, peer, message_id)


async def _client(client_of: ClientOf, account: str | None) -> Any:
    client = await client_of(account)
    if client is None:
        raise FerrymanError("telegram.not_logged_in", f"the index's account {account} left")
    return client


async def _send(client: Any, peer: Any, text: str, random_id: int, topic: int | None) -> int:
    reply_to = types.InputReplyToMessage(reply_to_msg_id=topic, top_msg_id=topic) if topic else None
    try:
        result = await client(
            functions.messages.SendMessageRequest(
                peer=peer, message=text, random_id=random_id, no_webpage=True, reply_to=reply_to
            )
        )
    except Exception as exc:
        raise from_telethon(exc) from exc
    for update in getattr(result, "updates", []):
        if isinstance(update, types.UpdateMessageID) and update.random_id == random_id:
            return int(update.id)
    made = getattr(result, "id", None)  # UpdateShortSentMessage
    if isinstance(made, int):
        return made
    raise FerrymanError("telegram.server", "Telegram's answer named no index message")


async def _edit(client: Any, peer: Any, message_id: int, text: str) -> None:
    try:
        await client(
            functions.messages.EditMessageRequest(
                peer=peer, id=message_id, message=text, no_webpage=True
            )
        )
    except tg.MessageNotModifiedError:
        return  # a repeat after a kill: it already says this
    except Exception as exc:
        raise from_telethon(exc) from exc


async def _pin(client: Any, peer: Any, message_id: int) -> None:
    """Pinned quietly where the account may; where it may not, left unpinned."""
    try:
        await client(
            functions.messages.UpdatePinnedMessageRequest(peer=peer, id=message_id, silent=True)
        )
    except Exception as exc:
        err = from_telethon(exc)
        if isinstance(err, TelegramWait):
            raise err from exc
        log.info("the index %s was not pinned: %s", message_id, err.message)


__all__ = ["INDEX_MODES", "JobIndex", "Line", "album_record", "link", "pages"]
