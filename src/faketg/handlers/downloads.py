"""Downloads: ``upload.getFile`` for stored photos and documents, and fetching messages
again by id (``messages.getMessages``), which is how a client renews a stale reference.

Rules enforced (core.telegram.org/api/files#downloading-files): ``offset`` divisible by
4 KiB, ``limit`` divisible by 4 KiB and dividing 1 MiB, and one request never crosses a
1 MiB boundary (``LIMIT_INVALID`` / ``OFFSET_INVALID``); with ``precise`` 1 KiB
multiples up to 1 MiB are allowed, still within one 1 MiB block. A reference that is not
the media's current one answers ``FILE_REFERENCE_EXPIRED``. Past the end, bytes are
empty; a short answer marks the last part. A file kept on another data centre answers
``FILE_MIGRATE_X``; one put on the CDN, asked with ``cdn_supported``, a redirect (``dcs``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from telethon.tl import functions, types

from faketg.dcs import redirect
from faketg.sender import RpcFault
from faketg.state import StoredFile, StoredMedia, StoredMessage
from faketg.tl import entities_for, message_tl, resolve_peer

if TYPE_CHECKING:
    from faketg.server import Call, FakeTelegram

MIB = 1024 * 1024


def check_window(offset: int, limit: int, *, precise: bool) -> None:
    """The offset/limit rules of ``upload.getFile``."""
    unit = 1024 if precise else 4096
    if offset < 0 or offset % unit:
        raise RpcFault(400, "OFFSET_INVALID")
    if limit <= 0 or limit % unit or limit > MIB or (not precise and MIB % limit):
        raise RpcFault(400, "LIMIT_INVALID")
    if offset // MIB != (offset + limit - 1) // MIB:
        raise RpcFault(400, "LIMIT_INVALID")


def _media_for(server: FakeTelegram, location: Any) -> tuple[StoredMedia, StoredFile]:
    """The media a location names and which of its files, checking hash and reference."""
    if isinstance(location, types.InputDocumentFileLocation):
        kind = "document"
    elif isinstance(location, types.InputPhotoFileLocation):
        kind = "photo"
    else:
        raise RpcFault(400, "LOCATION_INVALID")
    media = server.media.get(location.id)
    if media is None or media.kind != kind or media.access_hash != location.access_hash:
        raise RpcFault(400, "LOCATION_INVALID")
    if location.file_reference != media.file_reference:
        raise RpcFault(400, "FILE_REFERENCE_EXPIRED")
    size = location.thumb_size or ""
    if kind == "photo":
        if size not in {s.type for s in media.tl.sizes}:
            raise RpcFault(400, "LOCATION_INVALID")
        return media, media.file  # the fake keeps one size of a photo: the full one
    if size:
        if media.thumb is None:
            raise RpcFault(400, "LOCATION_INVALID")
        return media, media.thumb
    return media, media.file


async def get_file(server: FakeTelegram, call: Call, req: Any) -> Any:
    call.me()
    check_window(req.offset, req.limit, precise=bool(req.precise))
    media, file = _media_for(server, req.location)
    if media.dc_id != call.dc:  # kept on another DC: the client goes there (``dcs``)
        server.dcs.migrated += 1
        raise RpcFault(303, f"FILE_MIGRATE_{media.dc_id}")
    if len(file.data) != file.size:  # kept as size and hash only (``keep_part_bytes`` off)
        raise RpcFault(400, "FAKE_FILE_BYTES_NOT_KEPT")
    if req.cdn_supported and media.id in server.dcs.cdn_media and file is media.file:
        return redirect(server, media, file.data)
    chunk = file.data[req.offset : req.offset + req.limit]
    return types.upload.File(
        type=types.storage.FilePartial(), mtime=int(server.clock()), bytes=chunk
    )


def expire_reference(media: StoredMedia) -> bytes:
    """Give ``media`` a new reference (the old one answers ``FILE_REFERENCE_EXPIRED``)."""
    media.file_reference = os.urandom(8)
    media.tl.file_reference = media.file_reference
    return media.file_reference


def _pick(
    server: FakeTelegram, messages: list[StoredMessage], ids: list[Any]
) -> tuple[list[Any], list[StoredMessage]]:
    """The messages ``ids`` name, as TL (a missing one comes back empty), and those found."""
    by_id = {m.id: m for m in messages}
    out: list[Any] = []
    found: list[StoredMessage] = []
    for ref in ids:
        if not isinstance(ref, types.InputMessageID):
            raise RpcFault(400, "MESSAGE_IDS_EMPTY")
        msg = by_id.get(ref.id)
        if msg is None:
            out.append(types.MessageEmpty(id=ref.id, peer_id=None))
        else:
            out.append(message_tl(server, msg))
            found.append(msg)
    return out, found


async def get_messages(server: FakeTelegram, call: Call, req: Any) -> Any:
    """Messages of the caller's private chats by id (missing ones come back empty)."""
    me = call.me()
    out, found = _pick(server, server.box("user", me.id).messages, req.id)
    peers = [p for msg in found for p in (msg.peer, ("user", msg.from_id))]
    users, chats = entities_for(server, peers, me)
    return types.messages.Messages(messages=out, topics=[], chats=chats, users=users)


async def get_channel_messages(server: FakeTelegram, call: Call, req: Any) -> Any:
    me = call.me()
    peer = resolve_peer(server, call, _as_peer(req.channel))
    box = server.box("channel", peer[1])
    out, _found = _pick(server, box.messages, req.id)
    users, chats = entities_for(server, [peer], me)
    return types.messages.ChannelMessages(
        pts=box.pts, count=len(out), messages=out, topics=[], chats=chats, users=users
    )


def _as_peer(channel: Any) -> Any:
    if isinstance(channel, types.InputChannel):
        return types.InputPeerChannel(channel.channel_id, channel.access_hash)
    raise RpcFault(400, "CHANNEL_INVALID")


HANDLERS: dict[type, Any] = {
    functions.upload.GetFileRequest: get_file,
    functions.messages.GetMessagesRequest: get_messages,
    functions.channels.GetMessagesRequest: get_channel_messages,
}
