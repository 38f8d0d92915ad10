"""What a link to a file that went to Telegram needs, kept as the Telegram sink delivers it.

One record ``file:<item>:<part>`` per document Telegram made of an album's file (videos,
audio and documents: photos are recompressed by Telegram, so their bytes are not the
delivered file's and get no link): the chat as the job named it, whether it is a channel
(whose messages every member sees by the same id), the message, the account that sent it,
and the document (id, access hash, file reference, data centre, size, name, type). A link
is served from Telegram's storage with these (``web/telegram_links``): the sending
account asks with the reference kept here; the pool's other accounts, in a channel, fetch
the message by its id for a reference of their own. Written with the album's sends, in
the same transaction (``TelegramState.sent``); removed with the job.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ferryman.model import Item, Plan, SinkRecord
from ferryman.naming import delivered_name
from ferryman.sinks.base import SinkRegistry, SinkState

PREFIX = "file:"


@dataclass(frozen=True, slots=True)
class TelegramFile:
    """One document in a message, as a link serves it."""

    job_id: int
    item_id: int
    part: int
    parts: int  # how many messages the item became (a split video: several)
    name: str
    size: int
    mime: str
    chat: str  # the job's target chat, as each account resolves it
    channel: bool  # a channel's (or supergroup's) message: the same id for every member
    message_id: int
    account: str | None  # the account that sent it (None: the own session)
    document_id: int
    access_hash: int
    file_reference: bytes
    dc_id: int
    joined: str | None = None  # a piece of a file cut by bytes: that file's name

    @property
    def path(self) -> str:
        """What a signed link names (``web/signing.Grant.path``)."""
        return f"tg:{self.item_id}:{self.part}"

    def location(self, file_reference: bytes | None = None) -> Any:
        from telethon.tl import types  # lazy: start-up (the web's, which lists these)

        return types.InputDocumentFileLocation(
            self.document_id,
            self.access_hash,
            self.file_reference if file_reference is None else file_reference,
            "",
        )


def in_telegram(dest: str, sinks: SinkRegistry) -> bool:
    """Whether a job's files went to Telegram (its kind keeps the Telegram sink's
    records: ``telegram:``, and the download links kept there): its links are read
    from Telegram."""
    return sinks.records_of(dest) == "telegram"


def kind_of_mime(mime: str) -> str:
    """How the page shows a file of this type: video, audio, photo or other."""
    head = mime.partition("/")[0]
    return {"video": "video", "audio": "audio", "image": "photo"}.get(head, "other")


def documents_of(result: Any) -> dict[int, Any]:
    """Message id → the ``Document`` it carries, from a send's answer (``Updates``)."""
    from telethon.tl import types  # lazy: start-up (the web's, which lists these)

    found: dict[int, Any] = {}
    for update in getattr(result, "updates", []):
        message: Any = getattr(update, "message", None)
        media = getattr(message, "media", None)
        if isinstance(media, types.MessageMediaDocument) and isinstance(
            media.document, types.Document
        ):
            found[int(message.id)] = media.document
    return found


def joined_name(item: Item) -> str | None:
    """The whole file's name when ``item``'s files are pieces of it cut by bytes (a
    document over the size limit: ``engine/read/prepare.cut_bytes``), else None."""
    if item.plan is Plan.DOCUMENT and len(item.parts) > 1:
        return delivered_name(item, None)
    return None


def file_records(
    sent: Sequence[tuple[int, int, int, str, str | None]],
    documents: Mapping[int, Any],
    *,
    chat: str,
    channel: bool,
    account: str | None,
) -> list[SinkRecord]:
    """``sent``: (item, part, message id, name, the whole's name if it is a piece) of each
    file just sent; a record for each whose message carries a document."""
    records = []
    for item_id, part, message_id, name, whole in sent:
        doc = documents.get(message_id)
        if doc is None:
            continue
        value = {
            "chat": chat,
            "channel": channel,
            "message_id": message_id,
            "account": account,
            "name": name,
            "size": int(doc.size),
            "mime": str(doc.mime_type or "application/octet-stream"),
            "document_id": int(doc.id),
            "access_hash": int(doc.access_hash),
            "file_reference": base64.b64encode(bytes(doc.file_reference)).decode(),
            "dc_id": int(doc.dc_id),
        }
        if whole is not None:
            value["joined"] = whole  # a piece: one link serves the pieces as this file
        records.append(SinkRecord(f"{PREFIX}{item_id}:{part}", value, None, item_id))
    return records


async def telegram_files(state: SinkState, job_id: int) -> list[TelegramFile]:
    """The job's files kept in Telegram, in item then part order."""
    found = [r for r in await state.records(job_id) if r.key.startswith(PREFIX)]
    keyed = []
    for r in found:
        item, _, part = r.key[len(PREFIX) :].partition(":")
        keyed.append((int(item), int(part), r.value))
    keyed.sort(key=lambda k: (k[0], k[1]))
    parts: dict[int, int] = {}
    for number, _part, _value in keyed:
        parts[number] = parts.get(number, 0) + 1
    return [_file(job_id, i, p, parts[i], v) for i, p, v in keyed]


@dataclass(frozen=True, slots=True)
class TelegramLink:
    """What one link serves: a file kept in Telegram (``tg:ITEM:PART``), or a file cut
    by bytes into pieces, each a message, served joined as the one file (``tg:ITEM``)."""

    path: str
    name: str
    size: int
    mime: str
    pieces: tuple[TelegramFile, ...]


def links_of(files: Sequence[TelegramFile]) -> list[TelegramLink]:
    """A link for each file, the pieces of one cut by bytes joined into one (in order,
    and only when every piece is kept: else each is its own link)."""
    found: list[TelegramLink] = []
    by_item: dict[int, list[TelegramFile]] = {}
    for f in files:
        by_item.setdefault(f.item_id, []).append(f)
    for item_id, kept in by_item.items():
        whole = kept[0].joined
        complete = [f.part for f in kept] == list(range(kept[0].parts)) and len(kept) > 1
        if whole is not None and complete and all(f.joined == whole for f in kept):
            mime = mimetypes.guess_type(whole)[0] or kept[0].mime
            size = sum(f.size for f in kept)
            found.append(TelegramLink(f"tg:{item_id}", whole, size, mime, tuple(kept)))
            continue
        found += [TelegramLink(f.path, f.name, f.size, f.mime, (f,)) for f in kept]
    return found


async def telegram_links(state: SinkState, job_id: int) -> list[TelegramLink]:
    """The job's links to files kept in Telegram, in item then part order."""
    return links_of(await telegram_files(state, job_id))


async def telegram_link(state: SinkState, job_id: int, path: str) -> TelegramLink | None:
    """The file a link's ``tg:ITEM:PART`` (or a joined file's ``tg:ITEM``) names, if kept."""
    if not path.startswith("tg:"):
        return None
    return next((f for f in await telegram_links(state, job_id) if f.path == path), None)


def _file(job_id: int, item: int, part: int, parts: int, v: Mapping[str, Any]) -> TelegramFile:
    account = v.get("account")
    return TelegramFile(
        job_id,
        item,
        part,
        parts,
        str(v["name"]),
        int(v["size"]),
        str(v["mime"]),
        str(v["chat"]),
        bool(v["channel"]),
        int(v["message_id"]),
        None if account is None else str(account),
        int(v["document_id"]),
        int(v["access_hash"]),
        base64.b64decode(str(v["file_reference"])),
        int(v["dc_id"]),
        None if v.get("joined") is None else str(v["joined"]),
    )
