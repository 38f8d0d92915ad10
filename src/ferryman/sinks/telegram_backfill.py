"""Link records for files a job sent to Telegram before they were kept (before 2026-11-29).

The Telegram sink keeps what a link needs of each document as it sends it
(``sinks/telegram_files``); albums sent before that have their send records only: the
message id Telegram made for each file, and the account that sent it. That is enough to
read the message back (``messages.getMessages`` / ``channels.getMessages`` by id, through
that account: a private chat's ids are its own) and keep the document it carries as the
sink would have. Sound because a file is recorded only when its message still holds what
was sent: a document named as the sink named that file, of the item's size when it went
whole, made no later than its message (a media edit uploads a newer one). A message
deleted, or edited to another file, gets no link; nothing is guessed. Done once per job
(``MARK``), when its links are asked for (``web/core``), and only for sends with no
record yet; a job's photos (Telegram recompresses them) are never asked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ferryman.model import Item, Job, MediaKind, Plan, SinkRecord
from ferryman.naming import delivered_name
from ferryman.sinks.base import SinkState
from ferryman.sinks.telegram_files import PREFIX, file_records, joined_name
from ferryman.sinks.telegram_state import PlannedSend, send_of
from ferryman.sinks.telegram_target import telegram_target
from ferryman.telegram.accounts import AccountPool

log = logging.getLogger(__name__)

MARK = "files:backfilled"  # the job's sends were read back once: not asked again


def chat_of(dest: str) -> str | None:
    """The chat a ``telegram:`` job went to, as the sink keeps it in its records; None
    for another destination (``link:telegram``'s files were always recorded)."""
    scheme, _, target = dest.partition(":")
    if scheme != "telegram":
        return None
    return str(telegram_target(target).chat)


def unrecorded(records: Sequence[SinkRecord]) -> bool:
    """Whether the job has a send that went with no link record (cheap: no items read),
    and was not read back before (``MARK``)."""
    keys = {r.key for r in records}
    if MARK in keys:
        return False
    return any(
        r.key.startswith("send:")
        and r.value.get("state") == "sent"
        and f"{PREFIX}{r.value['item_id']}:{r.value['part']}" not in keys
        for r in records
    )


def wanted(records: Sequence[SinkRecord], items: Sequence[Item], job_id: int) -> list[PlannedSend]:
    """The job's sends that went, to a message of its own, with no link record: each a
    file that may be a document (not an item sent as a photo). None once ``MARK``ed."""
    keys = {r.key for r in records}
    if MARK in keys:
        return []
    kinds = {i.id: i for i in items}
    found = []
    for r in records:
        if not r.key.startswith("send:"):
            continue
        send = send_of(job_id, r)
        item = kinds.get(send.item_id)
        if send.state != "sent" or send.message_id is None or item is None:
            continue
        if item.kind is MediaKind.PHOTO and item.plan is not Plan.DOCUMENT:
            continue  # a photo: recompressed by Telegram, no link
        if f"{PREFIX}{send.item_id}:{send.part}" not in keys:
            found.append(send)
    return found


async def backfill(
    state: SinkState,
    job: Job,
    chat: str,
    records: Sequence[SinkRecord],
    items: Sequence[Item],
    pool: AccountPool,
) -> int:
    """Read back the job's sent files that have no link record (``wanted``) from their
    messages in ``chat`` (the job's, as its destination names it), through the account
    that sent each; keep a record for each that still holds its file. Marked done
    (``MARK``) once the job ended and every account could be asked (one not logged in
    now: asked again next time). Returns the records kept."""
    sends = wanted(records, items, job.id)
    by_item = {i.id: i for i in items}
    by_account: dict[str | None, list[PlannedSend]] = {}
    for send in sends:
        by_account.setdefault(send.account, []).append(send)
    kept: list[SinkRecord] = []
    whole = job.state.terminal
    if by_account:
        pool.refresh()
    for account, mine in by_account.items():
        member = pool.member(account)
        if member is None:
            log.info("job %d: account %s is not logged in: its files wait", job.id, account)
            whole = False
            continue
        kept += await _read_back(await member.hub.client(), chat, account, mine, by_item)
    marks = [SinkRecord(MARK, {"files": len(kept)})] if whole else []
    if kept or marks:
        await state.put(job.id, [*kept, *marks])
    return len(kept)


async def _read_back(
    client: Any, chat: str, account: str | None, sends: list[PlannedSend], items: dict[int, Item]
) -> list[SinkRecord]:
    from telethon.tl import types  # lazy: start-up (the web's, which calls this)

    target: Any = int(chat) if chat.lstrip("-").isdigit() else chat
    entity = await client.get_input_entity(target)
    messages = await client.get_messages(entity, ids=[s.message_id for s in sends])
    documents: dict[int, Any] = {}
    sent = []
    for send, message in zip(sends, messages, strict=True):
        item = items[send.item_id]
        name = delivered_name(item, send.part + 1 if item.parts else None)
        document = _document(message, types)
        if document is None or not _holds(document, message, item, name, types):
            log.info("job %d: message %s no longer holds %s", item.job_id, send.message_id, name)
            continue
        assert send.message_id is not None
        documents[send.message_id] = document
        sent.append((item.id, send.part, send.message_id, name, joined_name(item)))
    channel = isinstance(entity, types.InputPeerChannel)
    return file_records(sent, documents, chat=chat, channel=channel, account=account)


def _document(message: Any, types: Any) -> Any:
    media = getattr(message, "media", None)
    document = getattr(media, "document", None)
    return document if isinstance(document, types.Document) else None


def _holds(document: Any, message: Any, item: Item, name: str, types: Any) -> bool:
    """Whether the message's document is the file the sink sent there: its name, its
    size when the item went whole, and made no later than the message (an edit that
    replaced the media uploaded a newer document)."""
    names = [
        a.file_name for a in document.attributes if isinstance(a, types.DocumentAttributeFilename)
    ]
    if names != [name]:
        return False
    if not item.parts and item.size and int(document.size) != item.size:
        return False
    made, posted = getattr(document, "date", None), getattr(message, "date", None)
    return made is None or posted is None or made <= posted
